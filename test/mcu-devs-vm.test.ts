// Acceptance test of the DeviceScript program (mcu/devs/main.ts) in the real DeviceScript VM with
// simulated hardware from jacdac-ts: a profile list is pushed over the simulated UART, keys held at
// power-on open the menu, keys pick a profile, and the register block (published by the program as
// `REG <hex>` lines, the simulation's stand-in for the I2C target service) and the EVENT_BOOT report
// on the UART are checked. The VM's TCP port is fixed (8082), so this file runs serially under a lock.
import test from "ava";
import { encodeFrame, FrameKind } from "../protocol/frame";
import {
  decodeBootReport,
  decodeHelloResponse,
  decodeState,
  encodeHelloRequest,
  encodeMarkGood,
  encodeListBegin,
  encodeListCommit,
  encodeListItem,
  listCrc,
  MessageType,
  packListItems,
  Result,
} from "../protocol/messages";
import type { ProfileRecord } from "../protocol/profile";
import { BlockAction, BlockFlag, BlockReason, BlockStatus, decodeBlock } from "../protocol/register-block";
import { BootCore } from "../mcu/core/core";
import { Key } from "../mcu/core/keys";
import { MCU_MAX_PAYLOAD } from "../mcu/core/link";
import { Framebuffer } from "../mcu/node/framebuffer";
import { realisticProfiles } from "../bench/protocol";
import { acquireVmLock } from "../mcu/vm/lock";
import { VmRig } from "../mcu/vm/rig";

const PROFILES: ProfileRecord[] = [
  {
    id: "desktop",
    name: "Desktop",
    base: "1.2.3",
    origin: "",
    flags: 0,
    created: 1760000000,
    lastUsed: 1763000000,
  },
  {
    id: "pentest",
    name: "Pentest lab",
    base: "1.2.3",
    origin: "desktop",
    flags: 0,
    created: 1761000000,
    lastUsed: 0,
  },
  { id: "kiosk", name: "Kiosk", base: "1.3", origin: "", flags: 2, created: 1762000000, lastUsed: 0 },
];

/** The test's time limit while it waits for the machine's one VM port (other VM tests may hold it). */
const LOCK_WAIT_MS = 2_400_000;

function blocks(rig: VmRig, from = 0) {
  const out = [];
  for (let i = from; i < rig.lines.length; i++) {
    const m = /^REG ([0-9a-f]{128})$/.exec(rig.lines[i].text);
    if (m) out.push(decodeBlock([...Buffer.from(m[1], "hex")]));
  }
  return out;
}

test.serial(
  "the program in the VM: list over UART, keys pick a profile, block and boot report; power-off, zero-wait boot, mark-good, reset keeps flash",
  async (t) => {
    t.timeout(LOCK_WAIT_MS);
    const release = await acquireVmLock();
    t.timeout(600_000);
    const rig = new VmRig();
    try {
      await rig.start("mcu/devs/main.ts");
      await rig.waitLine(/^BOUND 14 of 14$/, 120_000);
      // EVENT_HELLO at start: an empty MCU (generation 0).
      const hello = await rig.waitFrame((f) => f.type === MessageType.EVENT_HELLO, 60_000, "EVENT_HELLO");
      t.is(hello.kind, FrameKind.EVENT);
      const h = decodeHelloResponse(hello.payload);
      t.is(h.error, "");
      t.is(h.value?.generation, 0);
      t.is(h.value?.maxProfiles, 32);
      // The first block is EMPTY.
      const first = blocks(rig);
      t.true(first.length >= 1, rig.log());
      t.is(first[0].selection?.status, BlockStatus.EMPTY);

      // Push the list: LIST_BEGIN, LIST_ITEM x3, LIST_COMMIT, each answered OK.
      let r = await rig.request(
        MessageType.LIST_BEGIN,
        encodeListBegin({ generation: 9, count: PROFILES.length }),
      );
      t.is(r.result, Result.OK);
      for (let i = 0; i < PROFILES.length; i++) {
        r = await rig.request(
          MessageType.LIST_ITEM,
          encodeListItem({ generation: 9, index: i, record: PROFILES[i] }),
        );
        t.is(r.result, Result.OK, `item ${i}`);
      }
      r = await rig.request(
        MessageType.LIST_COMMIT,
        encodeListCommit({ generation: 9, count: PROFILES.length, listCrc: listCrc(PROFILES) }),
      );
      t.is(r.result, Result.OK, Buffer.from(r.payload).toString());

      // Power on with OK held (the power key, Key3, held 1 s): the menu opens, the block goes PENDING.
      const mark = rig.lines.length;
      await rig.keyDown(Key.OK);
      await rig.keyDown(Key.KEY3);
      await rig.waitLine(/^POWER on held 1 screen list$/, 60_000, mark);
      await rig.waitFor(
        () => (blocks(rig, mark).some((b) => b.selection?.status === BlockStatus.PENDING) ? true : null),
        60_000,
        "a PENDING block",
      );
      const pending = blocks(rig, mark).find((b) => b.selection?.status === BlockStatus.PENDING);
      t.is(pending?.selection?.profileId, "desktop"); // the natural default: first profile
      await rig.keyUp(Key.KEY3);
      await rig.keyUp(Key.OK);
      t.is(rig.frames().filter((f) => f.type === MessageType.EVENT_BOOT).length, 0, "nothing FINAL yet");

      // Down once, then OK: "pentest" boots, chosen by the user.
      const before = rig.lines.length;
      await rig.press(Key.DOWN);
      await rig.waitLine(/^KEY 1 up/, 60_000, before);
      await rig.press(Key.OK);
      await rig.waitLine(/^FINAL pentest /, 60_000, before);
      const fin = await rig.waitFor(
        () => blocks(rig, before).find((b) => b.selection?.status === BlockStatus.FINAL) ?? null,
        60_000,
        "a FINAL block",
      );
      t.true(fin.ok, fin.detail);
      const sel = fin.selection;
      t.is(sel?.status, BlockStatus.FINAL);
      t.is(sel?.action, BlockAction.BOOT);
      t.is(sel?.profileId, "pentest");
      t.is(sel?.base, "1.2.3");
      t.is(sel?.reason, BlockReason.USER);
      t.is((sel?.flags ?? 0) & BlockFlag.USER_CHOSEN, BlockFlag.USER_CHOSEN);
      t.is(sel?.tryNumber, 1);

      // The boot report on the UART says the same.
      const ev = await rig.waitFrame((f) => f.type === MessageType.EVENT_BOOT, 60_000, "EVENT_BOOT");
      t.is(ev.kind, FrameKind.EVENT);
      const rep = decodeBootReport(ev.payload);
      t.is(rep.error, "");
      t.is(rep.value?.id, "pentest");
      t.is(rep.value?.reason, BlockReason.USER);
      t.is(rep.value?.action, BlockAction.BOOT);
      t.is(rep.value?.sequence, sel?.sequence);
      t.is(rep.value?.tryNumber, 1);
      // The booting screen was drawn.
      await rig.waitLine(/^FRAME \d+ booting .*Pentest lab/, 60_000, before);

      // Power off (Key3 held 1 s once booted): the block goes back to EMPTY.
      let at = rig.lines.length;
      await rig.keyDown(Key.KEY3);
      await rig.waitLine(/^POWER off$/, 60_000, at);
      await rig.keyUp(Key.KEY3);
      const off = await rig.waitFor(() => blocks(rig, at).pop() ?? null, 60_000, "a block after power-off");
      t.is(off.selection?.status, BlockStatus.EMPTY);

      // Power on with no other key: zero-wait, the default (not the last user pick) boots at once.
      at = rig.lines.length;
      const bootsBefore = rig.frames().filter((f) => f.type === MessageType.EVENT_BOOT).length;
      await rig.keyDown(Key.KEY3);
      await rig.waitLine(/^POWER on held 0 screen booting$/, 60_000, at);
      await rig.keyUp(Key.KEY3);
      const zero = await rig.waitFor(
        () => blocks(rig, at).find((b) => b.selection?.status === BlockStatus.FINAL) ?? null,
        60_000,
        "a zero-wait FINAL block",
      );
      t.is(zero.selection?.profileId, "desktop");
      t.is(zero.selection?.reason, BlockReason.DEFAULT);
      t.is(zero.selection?.sequence, (sel?.sequence ?? 0) + 1);
      await rig.waitFor(
        () =>
          rig.frames().filter((f) => f.type === MessageType.EVENT_BOOT).length > bootsBefore ? true : null,
        60_000,
        "a second EVENT_BOOT",
      );
      // Linux marks the boot good; bad requests are refused and change nothing.
      r = await rig.request(
        MessageType.MARK_GOOD,
        encodeMarkGood({ sequence: zero.selection?.sequence ?? 0, id: "desktop" }),
      );
      t.is(r.result, Result.OK, Buffer.from(r.payload).toString());
      r = await rig.request(0x7e, []);
      t.is(r.result, Result.UNSUPPORTED);
      r = await rig.request(
        MessageType.LIST_ITEM,
        encodeListItem({ generation: 10, index: 0, record: PROFILES[0] }),
      );
      t.is(r.result, Result.OUT_OF_ORDER);

      // The MCU resets (VM killed and started again on the same settings flash): list and last good stay.
      at = rig.lines.length;
      const rxBefore = rig.frames().length;
      await rig.restartVm();
      const ready = await rig.waitLine(/^READY /, 60_000, at);
      t.is(ready, "READY profiles 3 gen 9");
      await rig.waitLine(/^BOUND 14 of 14$/, 120_000, at);
      const hello2 = await rig.waitFor(
        () =>
          rig
            .frames()
            .slice(rxBefore)
            .find((f) => f.type === MessageType.EVENT_HELLO) ?? null,
        60_000,
        "EVENT_HELLO after the restart",
      );
      t.is(decodeHelloResponse(hello2.payload).value?.generation, 9);
      r = await rig.request(MessageType.GET_STATE, []);
      t.is(r.result, Result.OK);
      const st = decodeState(r.payload);
      t.is(st.error, "");
      t.is(st.value?.profileCount, 3);
      t.is(st.value?.lastGoodId, "desktop");
    } finally {
      await rig.stop();
      release();
    }
  },
);

test.serial(
  "the program holds 32 profiles in the 64 KB VM heap: a full list, then a full replacement, then the menu",
  async (t) => {
    t.timeout(LOCK_WAIT_MS);
    const release = await acquireVmLock();
    t.timeout(600_000);
    const rig = new VmRig();
    try {
      await rig.start("mcu/devs/main.ts");
      await rig.waitLine(/^BOUND 14 of 14$/, 120_000);
      // As the bridge sends it: HELLO negotiates the MCU's payload size, LIST_ITEMs are packed to that.
      const hello = await rig.request(
        MessageType.HELLO,
        encodeHelloRequest({ minVersion: 2, maxVersion: 2, maxPayload: 1024, capabilities: 0x1f }),
      );
      t.is(hello.result, Result.OK);
      const maxPayload = decodeHelloResponse(hello.payload).value?.maxPayload ?? 0;
      t.is(maxPayload, MCU_MAX_PAYLOAD);
      const push = async (generation: number, list: ProfileRecord[]) => {
        let r = await rig.request(
          MessageType.LIST_BEGIN,
          encodeListBegin({ generation, count: list.length }),
        );
        for (const item of packListItems(generation, list, maxPayload)) {
          if (r.result !== Result.OK) break;
          r = await rig.request(MessageType.LIST_ITEM, item);
        }
        if (r.result !== Result.OK) return r.result;
        r = await rig.request(
          MessageType.LIST_COMMIT,
          encodeListCommit({ generation, count: list.length, listCrc: listCrc(list) }),
        );
        return r.result;
      };
      const first = realisticProfiles(32);
      t.is(await push(1, first), Result.OK);
      const second = first.map((p, i) => ({
        ...p,
        name: `${p.name.slice(0, 40)} v2`,
        lastUsed: 1_765_000_000 + i,
      }));
      t.is(await push(2, second), Result.OK);
      const at = rig.lines.length;
      await rig.keyDown(Key.OK);
      await rig.keyDown(Key.KEY3);
      const frame = await rig.waitLine(/^FRAME \d+ list /, 60_000, at);
      t.true(frame.includes(second[0].name), frame);
      await rig.keyUp(Key.KEY3);
      await rig.keyUp(Key.OK);
      const crashes = rig.lines.filter((l) => /OutOfMemory|PANIC|InfiniteLoop/.test(l.text));
      t.deepEqual(crashes, [], rig.log());
      const readies = rig.lines.filter((l) => l.text.startsWith("READY"));
      t.is(readies.length, 1, "the program never restarted");
      const st = await rig.request(MessageType.GET_STATE, []);
      t.is(decodeState(st.payload).value?.profileCount, 32);
      t.is(decodeState(st.payload).value?.generation, 2);
      // Power off with the menu open: the block goes back to EMPTY.
      const off = rig.lines.length;
      await rig.keyDown(Key.KEY3);
      await rig.waitLine(/^POWER off$/, 60_000, off);
      await rig.keyUp(Key.KEY3);
      const empty = await rig.waitFor(
        () => blocks(rig, off).pop() ?? null,
        60_000,
        "a block after power-off",
      );
      t.is(empty.selection?.status, BlockStatus.EMPTY);
    } finally {
      await rig.stop();
      release();
    }
  },
);

/** The adapter's frame hash over gray indices (gray >> 2), row by row, from a Node Framebuffer. */
function nodeHash(fb: Framebuffer): string {
  let h = 0;
  for (let i = 0; i < fb.pixels.length; i++) h = (h * 31 + (fb.pixels[i] >> 2)) >>> 0;
  return h.toString(16).padStart(8, "0");
}

test.serial("the VM draws the same pixels as the Node Framebuffer (menu, then after Down)", async (t) => {
  t.timeout(LOCK_WAIT_MS);
  // The same inputs in Node.
  const core = new BootCore({ send() {}, final() {} }, { instance: 1 });
  core.load({ read: () => null });
  let seq = 0;
  const req = (type: number, payload: number[]) =>
    core.uartReceive(encodeFrame({ type, seq: ++seq, kind: FrameKind.REQUEST, result: 0, payload }), 0);
  req(MessageType.LIST_BEGIN, encodeListBegin({ generation: 9, count: PROFILES.length }));
  for (let index = 0; index < PROFILES.length; index++) {
    req(MessageType.LIST_ITEM, encodeListItem({ generation: 9, index, record: PROFILES[index] }));
  }
  req(
    MessageType.LIST_COMMIT,
    encodeListCommit({ generation: 9, count: PROFILES.length, listCrc: listCrc(PROFILES) }),
  );
  core.powerOn([Key.OK], 1000);
  const fb = new Framebuffer();
  core.render(fb);
  const menu = nodeHash(fb);
  core.keyUp(Key.OK, 1100);
  core.keyDown(Key.DOWN, 1200);
  core.keyUp(Key.DOWN, 1210);
  core.render(fb);
  const down = nodeHash(fb);
  t.not(menu, down);

  const release = await acquireVmLock();
  t.timeout(600_000);
  const rig = new VmRig();
  try {
    await rig.start("mcu/devs/pixels.devs.ts");
    await rig.waitLine(/^BOUND 14 of 14$/, 120_000);
    let r = await rig.request(
      MessageType.LIST_BEGIN,
      encodeListBegin({ generation: 9, count: PROFILES.length }),
    );
    for (let i = 0; i < PROFILES.length; i++) {
      r = await rig.request(
        MessageType.LIST_ITEM,
        encodeListItem({ generation: 9, index: i, record: PROFILES[i] }),
      );
    }
    r = await rig.request(
      MessageType.LIST_COMMIT,
      encodeListCommit({ generation: 9, count: PROFILES.length, listCrc: listCrc(PROFILES) }),
    );
    t.is(r.result, Result.OK);
    let at = rig.lines.length;
    await rig.keyDown(Key.OK);
    await rig.keyDown(Key.KEY3);
    const f1 = /^FRAME (\d+) list /.exec(await rig.waitLine(/^FRAME \d+ list /, 60_000, at));
    const h1 = await rig.waitLine(new RegExp(`^FRAMEHASH ${f1?.[1]} `), 60_000, at);
    t.is(h1.split(" ")[2], menu, "the menu frame");
    await rig.keyUp(Key.KEY3);
    await rig.keyUp(Key.OK);
    at = rig.lines.length;
    await rig.press(Key.DOWN);
    // Frames drawn after the press may still show the old selection (one whose snapshot was taken
    // before the key was handled, or a redraw): wait for the frame that has the Node's pixels, up to
    // the first list frame started after the program printed the key's Up (a wrong one fails then).
    const hashes = () =>
      rig.lines
        .slice(at)
        .filter((l) => l.text.startsWith("FRAMEHASH "))
        .map((l) => l.text.split(" ")[2]);
    await rig.waitFor(
      () => {
        if (hashes().includes(down)) return true;
        const up = rig.lines.findIndex((l, i) => i >= at && /^KEY 1 up/.test(l.text));
        if (up < 0) return null;
        // The frame after the next FRAME line following the Up (that one may have started before it).
        const frames = rig.lines.slice(up).filter((l) => l.text.startsWith("FRAMEHASH "));
        return frames.length >= 2 ? false : null;
      },
      60_000,
      "the frame after Down",
    );
    t.true(hashes().includes(down), `VM hashes ${hashes().join(", ")}; Node ${down}`);
  } finally {
    await rig.stop();
    release();
  }
});
