// Flash: everything survives power cycles; a power cut during any write (between writes or in the
// middle of one) never loses the previous state; nothing is written when nothing changes; the
// DeviceScript settings limits hold (13-character keys, 200-byte values) with 32 profiles.
import test from "ava";
import {
  DefaultMode,
  encodeListBegin,
  encodeListCommit,
  encodeMarkGood,
  encodeMenuOptions,
  encodePutProfile,
  encodeSetDefault,
  encodeSetNext,
  listCrc,
  MessageType,
  Result,
  ShowMenu,
} from "../protocol/messages";
import { BlockAction } from "../protocol/register-block";
import { PROFILE_ID_MAX, type ProfileRecord } from "../protocol/profile";
import { FLASH_KEY_MAX, FLASH_VALUE_MAX, storeKeys } from "../mcu/core/records";
import { Store } from "../mcu/core/store";
import { MemoryFlash } from "../mcu/node/flash";
import { makeMcu, profile, profiles, type TestLink } from "./helpers/mcu";
import type { NodeMcu } from "../mcu/node/mcu";

function clone(f: MemoryFlash): MemoryFlash {
  const c = new MemoryFlash();
  for (const k of f.keys()) c.data.set(k, f.read(k)!);
  return c;
}

/** LIST_COMMIT of the generation the MCU holds, with its count and list CRC: a retry. */
function commitAgain(link: TestLink, list: ProfileRecord[], generation: number) {
  return link.send(
    MessageType.LIST_COMMIT,
    encodeListCommit({ generation, count: list.length, listCrc: listCrc(list) }),
  );
}

/** What a fresh MCU loads, per record group (each group is written atomically). */
function snapshot(f: MemoryFlash): string[] {
  const l = new Store().load(f);
  return [JSON.stringify(l.list), JSON.stringify(l.config), JSON.stringify(l.run)];
}
const GROUPS = ["list", "config", "run"];

/** A profile whose record takes the most bytes the protocol allows. */
function bigProfile(i: number): ProfileRecord {
  const id = ("x" + String(i).padStart(2, "0")).padEnd(PROFILE_ID_MAX, "z");
  return profile(id, {
    name: "N".repeat(46) + String(i).padStart(2, "0"),
    base: "1234.1234.1",
    origin: "o".padEnd(PROFILE_ID_MAX, "q"),
    created: 0xffffffff,
    lastUsed: 0xffffffff,
    flags: 3,
  });
}

async function populated() {
  const m = await makeMcu();
  m.link.pushList(profiles(20), 5);
  m.link.send(MessageType.SET_DEFAULT, encodeSetDefault({ mode: DefaultMode.FIXED, id: "p03" }));
  m.mcu.powerOn([]);
  const r = m.link.send(
    MessageType.MARK_GOOD,
    encodeMarkGood({ sequence: m.mcu.selection().sequence, id: "" }),
  );
  if (r.result !== Result.OK) throw new Error(r.message);
  m.link.send(
    MessageType.SET_OPTIONS,
    encodeMenuOptions({ timeoutSeconds: 0, showMenu: ShowMenu.ON_KEY, maxTries: 5 }),
  );
  m.mcu.powerOn(["ok"]);
  return m;
}

test("list, default, one-shot, options, tries and last good survive a power cycle", async (t) => {
  const { mcu, link, flash } = await populated();
  link.send(MessageType.SET_NEXT, encodeSetNext({ action: BlockAction.RECOVERY, id: "p07" }));
  // Two boots of p04 that never report success.
  link.send(MessageType.SET_DEFAULT, encodeSetDefault({ mode: DefaultMode.FIXED, id: "p04" }));
  mcu.powerOn([]); // consumes the one-shot (p07)
  link.send(MessageType.SET_NEXT, encodeSetNext({ action: BlockAction.RECOVERY, id: "p08" }));
  const before = link.state();
  const m2 = await makeMcu(clone(flash));
  const after = m2.link.state();
  t.is(after.generation, 5);
  t.is(after.profileCount, 20);
  t.is(after.defaultId, "p04");
  t.is(after.nextId, "p08");
  t.is(after.nextAction, BlockAction.RECOVERY);
  t.deepEqual(after.options, { timeoutSeconds: 0, showMenu: ShowMenu.ON_KEY, maxTries: 5 });
  t.is(after.lastGoodId, before.lastGoodId);
  t.is(after.lastGoodId, "p03");
  t.deepEqual(m2.mcu.profiles(), mcu.profiles());
  // p04 is tried twice without success: the count survives (>= 2 is exact in flash).
  link.send(MessageType.SET_NEXT, encodeSetNext({ action: 0, id: "" }));
  mcu.powerOn([]);
  mcu.powerOn([]);
  const m3 = await makeMcu(clone(flash));
  t.deepEqual(m3.link.state().tries, [{ id: "p04", tries: 2, failed: 0 }]);
});

/** prep runs uncut; run is the one step during which the power is cut. */
type Op = {
  name: string;
  prep?: (link: TestLink, mcu: NodeMcu) => void;
  run: (link: TestLink, mcu: NodeMcu) => void;
};

const OPS: Op[] = [
  { name: "replace the list", run: (link) => void link.pushList(profiles(32).reverse(), 9) },
  { name: "shrink the list", run: (link) => void link.pushList(profiles(3), 9) },
  {
    name: "put a profile",
    run: (link) =>
      void link.send(
        MessageType.PUT_PROFILE,
        encodePutProfile({ baseGeneration: 5, newGeneration: 6, record: profile("newbie") }),
      ),
  },
  {
    name: "set the default",
    run: (link) =>
      void link.send(MessageType.SET_DEFAULT, encodeSetDefault({ mode: DefaultMode.LAST_USED, id: "" })),
  },
  {
    name: "boot (tries, sequence, one-shot)",
    prep: (link) =>
      void link.send(MessageType.SET_NEXT, encodeSetNext({ action: BlockAction.BOOT, id: "p09" })),
    run: (_link, mcu) => void mcu.powerOn([]),
  },
  {
    name: "mark good after a failed profile",
    prep: (_link, mcu) => {
      for (let i = 0; i < 6; i++) mcu.powerOn([]);
    },
    run: (link, mcu) =>
      void link.send(MessageType.MARK_GOOD, encodeMarkGood({ sequence: mcu.selection().sequence, id: "" })),
  },
];

for (const op of OPS) {
  test(`a power cut at any point while we ${op.name} keeps the old or the new state`, async (t) => {
    const base = await populated();
    const fresh = async () => {
      const m = await makeMcu(clone(base.flash));
      m.mcu.powerOn(["ok"]);
      op.prep?.(m.link, m.mcu);
      return m;
    };
    // The whole operation, uncut: how many writes, and the resulting state.
    const full = await fresh();
    const s0 = snapshot(full.flash);
    const w0 = full.flash.writeCount;
    op.run(full.link, full.mcu);
    const writes = full.flash.writeCount - w0;
    const s1 = snapshot(full.flash);
    t.notDeepEqual(s1, s0, "the operation changes the stored state");
    t.true(writes > 0);
    let cuts = 0;
    for (let n = 0; n <= writes; n++) {
      for (const torn of [false, true]) {
        const m = await fresh();
        t.deepEqual(snapshot(m.flash), s0);
        m.flash.cutAfter(n, torn);
        op.run(m.link, m.mcu);
        // Each group (list, config, run record) is either entirely old or entirely new.
        const s = snapshot(m.flash);
        for (let g = 0; g < 3; g++) {
          t.true(
            s[g] === s0[g] || s[g] === s1[g],
            `cut after ${n} of ${writes} writes (torn ${torn}): the ${GROUPS[g]} is neither old nor new`,
          );
        }
        if (n === 0) t.deepEqual(s, s0);
        if (n === writes && !torn) t.deepEqual(s, s1);
        // The MCU restarts on what survived and can carry on writing.
        const again = await makeMcu(clone(m.flash));
        again.mcu.powerOn(["ok"]);
        again.link.send(
          MessageType.SET_OPTIONS,
          encodeMenuOptions({ timeoutSeconds: 9, showMenu: 0, maxTries: 2 }),
        );
        const st = new Store().load(again.flash);
        t.is(st.config.timeoutSeconds, 9);
        t.deepEqual(st.list, JSON.parse(s[0]));
        cuts++;
      }
    }
    t.is(cuts, 2 * (writes + 1));
  });
}

test("nothing is written when nothing changes", async (t) => {
  const { link, flash } = await populated();
  const list = profiles(20);
  const w = flash.writeCount;
  // A retry of the commit that made the held generation is OK; a whole transfer at that
  // generation is a replay and is refused (generations only move forward). Neither writes.
  t.is(commitAgain(link, list, 5).result, Result.OK, "the held generation's commit again");
  t.is(link.pushList(list, 5).result, Result.OLD_GENERATION, "the held generation replayed whole");
  link.send(MessageType.SET_DEFAULT, encodeSetDefault({ mode: DefaultMode.FIXED, id: "p03" }));
  link.send(
    MessageType.SET_OPTIONS,
    encodeMenuOptions({ timeoutSeconds: 0, showMenu: ShowMenu.ON_KEY, maxTries: 5 }),
  );
  link.send(MessageType.SET_NEXT, encodeSetNext({ action: 0, id: "" }));
  link.state();
  t.is(flash.writeCount, w);
});

test("a new list with one changed profile rewrites only what differs in the other bank", async (t) => {
  const { link, flash } = await makeMcu();
  const list = profiles(32);
  link.pushList(list, 1);
  link.pushList(list, 2); // both banks now hold the same records
  const w = flash.writeCount;
  const changed = list.slice();
  changed[7] = { ...changed[7], name: "Renamed" };
  t.is(link.pushList(changed, 3).result, Result.OK);
  t.is(flash.writeCount - w, 2, "one record and the bank header");
});

test("32 profiles of the largest size fit the settings limits; the 33rd gets NO_SPACE", async (t) => {
  const { mcu, link, flash } = await makeMcu();
  const big: ProfileRecord[] = [];
  for (let i = 0; i < 32; i++) big.push(bigProfile(i));
  t.is(link.pushList(big, 1).result, Result.OK);
  for (const k of flash.keys()) {
    t.true(k.length <= FLASH_KEY_MAX);
    t.true(flash.read(k)!.length <= FLASH_VALUE_MAX, `${k} is ${flash.read(k)!.length} bytes`);
  }
  for (const k of storeKeys()) t.true(k.length <= FLASH_KEY_MAX);
  let r = link.send(MessageType.LIST_BEGIN, encodeListBegin({ generation: 2, count: 33 }));
  t.is(r.result, Result.NO_SPACE);
  t.regex(r.message, /33.*at most 32/);
  r = link.send(
    MessageType.PUT_PROFILE,
    encodePutProfile({ baseGeneration: 1, newGeneration: 2, record: profile("one-more") }),
  );
  t.is(r.result, Result.NO_SPACE);
  t.is(mcu.profiles().length, 32);
  const m2 = await makeMcu(clone(flash));
  t.deepEqual(m2.mcu.profiles(), big);
});

test("copies alternate between A and B with increasing sequence numbers", async (t) => {
  const { link, flash } = await makeMcu();
  const keys: string[] = [];
  const orig = flash.write.bind(flash);
  flash.write = (k, v) => {
    keys.push(k);
    orig(k, v);
  };
  for (let i = 1; i <= 4; i++) {
    link.send(MessageType.SET_OPTIONS, encodeMenuOptions({ timeoutSeconds: i, showMenu: 0, maxTries: 3 }));
  }
  t.deepEqual(keys, ["cfga", "cfgb", "cfga", "cfgb"]);
});

test("garbage in flash loads as defaults without crashing, and is replaced on the next write", async (t) => {
  const flash = new MemoryFlash();
  for (const k of storeKeys()) flash.data.set(k, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  flash.data.set("cfga", []);
  flash.data.set("p00a", [0xff, 0xff]);
  const { mcu, link } = await makeMcu(flash);
  t.is(mcu.profiles().length, 0);
  t.is(link.state().options.maxTries, 3);
  t.is(link.pushList(profiles(2), 1).result, Result.OK);
  const m2 = await makeMcu(clone(flash));
  t.is(m2.mcu.profiles().length, 2);
});

test("the flash adapter enforces the VM's limits", (t) => {
  const f = new MemoryFlash();
  t.throws(() => f.write("fourteen-chars", [1]), { message: /1 to 13 characters/ });
  t.throws(() => f.write("k", new Array(201).fill(0)), { message: /201 bytes: at most 200/ });
});

test("loading step by step (the VM path) gives what loading at once gives, one record per step", async (t) => {
  const { link, flash } = await populated();
  link.pushList(profiles(32), 6);
  const whole = new Store().load(flash);
  const s = new Store();
  s.beginLoad(flash);
  let steps = 0;
  while (s.loadStep(flash)) steps++;
  t.deepEqual(s.result(), whole);
  t.true(steps >= 32, `${steps} steps`);
  const { BootCore } = await import("../mcu/core/core");
  const core = new BootCore({ send: () => {}, final: () => {} }, { instance: 1, autoWork: false });
  core.beginLoad(flash);
  t.true(core.isLoading());
  while (core.work()) {
    // steps
  }
  t.false(core.isLoading());
  t.is(core.profiles().length, 32);
  t.is(core.generation(), 6);
});

test("the run record stays within 200 bytes at its worst: 32 failed profiles with the longest ids", async (t) => {
  const { mcu, link, flash } = await makeMcu();
  const big: ProfileRecord[] = [];
  for (let i = 0; i < 32; i++) big.push({ ...bigProfile(i), flags: 0 });
  link.pushList(big, 1);
  link.send(MessageType.SET_OPTIONS, encodeMenuOptions({ timeoutSeconds: 0, showMenu: 0, maxTries: 1 }));
  // Boot each profile once from the menu without success: every one fails.
  for (let i = 0; i < 32; i++) {
    mcu.powerOn(["ok"]);
    mcu.keyUp("ok");
    for (let k = 0; k < 40 && mcu.core.menuEntries()[mcu.core.menuCursor()] !== big[i].id; k++)
      await mcu.press("down");
    await mcu.press("ok");
    t.is(mcu.selection().profileId, big[i].id);
  }
  mcu.powerOn([]);
  t.is(mcu.state().tries.filter((x) => x.failed === 1).length, 32);
  for (const k of ["runa", "runb", "cfga", "cfgb"]) {
    const v = flash.read(k);
    if (v) t.true(v.length <= FLASH_VALUE_MAX, `${k} is ${v.length} bytes`);
  }
  const again = await makeMcu(clone(flash));
  t.is(again.mcu.state().tries.filter((x) => x.failed === 1).length, 32);
});

test("a list made by PUT, its held generation's commit retried, writes nothing", async (t) => {
  const { link, flash } = await makeMcu();
  link.pushList(profiles(3), 1);
  const list = [...profiles(3), profile("newbie")];
  link.send(
    MessageType.PUT_PROFILE,
    encodePutProfile({ baseGeneration: 1, newGeneration: 2, record: profile("newbie") }),
  );
  const again = await makeMcu(clone(flash)); // its CRC is computed after loading, in the background
  const w = again.flash.writeCount;
  t.is(commitAgain(again.link, list, 2).result, Result.OK);
  t.is(again.link.pushList(list, 2).result, Result.OLD_GENERATION);
  t.is(again.flash.writeCount, w);
});
