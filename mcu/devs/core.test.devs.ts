import { describe, test } from "@devicescript/test";
import { encodeFrame, FrameKind } from "../../protocol/frame";
import {
  DefaultMode,
  decodeBootReport,
  encodeDeleteProfile,
  encodeListBegin,
  encodeListCommit,
  encodeListItem,
  encodeMarkGood,
  encodePutProfile,
  encodeSetDefault,
  encodeSetNext,
  listCrc,
  MessageType,
  Result,
  ShowMenu,
} from "../../protocol/messages";
import type { ProfileRecord } from "../../protocol/profile";
import { BlockAction, BlockFlag, BlockReason, BlockStatus } from "../../protocol/register-block";
import { Key } from "../core/keys";
import { check, KvFlash } from "../core/devs-kit";
import type { FlashWrite } from "../core/store";
import { Mcu, rec, turn, withList } from "./core-rig";

describe("boot policy", () => {
  test("zero-wait: no key, no timeout boots the default at once (FINAL)", async () => {
    const m = await withList();
    const b = await m.powerOn([]);
    check("zero-wait FINAL", b.status === BlockStatus.FINAL);
    check("zero-wait boots the first profile", b.profileId === "desktop" && b.action === BlockAction.BOOT);
    check("zero-wait reason DEFAULT", b.reason === BlockReason.DEFAULT);
    check("zero-wait try 1", b.tryNumber === 1 && b.sequence > 0);
    const ev = m.host.last;
    check(
      "EVENT_BOOT sent",
      ev !== null && ev.type === MessageType.EVENT_BOOT && ev.kind === FrameKind.EVENT,
    );
    const rep = decodeBootReport(ev === null ? [] : ev.payload);
    check(
      "EVENT_BOOT matches the block",
      rep.value !== null && rep.value.id === "desktop" && rep.value.sequence === b.sequence,
    );
  });

  test("menu with a countdown: PENDING, then FINAL when it runs out", async () => {
    const m = await withList();
    check("options accepted", (await m.options(2, ShowMenu.ALWAYS, 3)) === Result.OK);
    let b = await m.powerOn([]);
    check("countdown PENDING", b.status === BlockStatus.PENDING && b.profileId === "desktop");
    check("countdown screen list", m.core.screenName() === "list");
    b = await m.tick(1000);
    check("still PENDING after 1 s", b.status === BlockStatus.PENDING);
    b = await m.tick(1100);
    check("FINAL after 2.1 s", b.status === BlockStatus.FINAL && b.profileId === "desktop");
    check("countdown reason DEFAULT", b.reason === BlockReason.DEFAULT);
  });

  test("keys: held key opens the menu, Down + OK picks another profile", async () => {
    const m = await withList();
    let b = await m.powerOn([Key.OK]);
    check("held key PENDING", b.status === BlockStatus.PENDING);
    await m.keyUp(Key.OK);
    b = m.block();
    check("release of the held key does nothing", b.status === BlockStatus.PENDING);
    await m.keyPress(Key.DOWN);
    await m.keyPress(Key.OK);
    b = m.block();
    check("user pick FINAL", b.status === BlockStatus.FINAL && b.profileId === "pentest");
    check("user pick reason USER", b.reason === BlockReason.USER);
    check("user pick flag USER_CHOSEN", (b.flags & BlockFlag.USER_CHOSEN) !== 0);
  });

  test("one-shot boots once, then the default applies again", async () => {
    const m = await withList();
    check(
      "SET_NEXT accepted",
      (await m.result(MessageType.SET_NEXT, encodeSetNext({ action: BlockAction.BOOT, id: "pentest" }))) ===
        Result.OK,
    );
    let b = await m.powerOn([]);
    check("one-shot boots pentest", b.status === BlockStatus.FINAL && b.profileId === "pentest");
    check(
      "one-shot reason and flag",
      b.reason === BlockReason.ONE_SHOT && (b.flags & BlockFlag.ONE_SHOT) !== 0,
    );
    check("one-shot consumed", m.core.state().nextId === "");
    b = await m.powerOn([]);
    check("next boot is the default", b.profileId === "desktop" && b.reason === BlockReason.DEFAULT);
  });

  test("tries: maxTries boots without mark-good mark the profile failed; fallback to the last good", async () => {
    const m = await withList();
    check("options maxTries 2", (await m.options(0, ShowMenu.ON_KEY, 2)) === Result.OK);
    let b = await m.powerOn([]);
    check("desktop boots", b.profileId === "desktop");
    check("mark-good desktop", (await m.markGood(b)) === Result.OK);
    check("last good is desktop", m.core.state().lastGoodId === "desktop");
    check(
      "default fixed pentest",
      (await m.result(
        MessageType.SET_DEFAULT,
        encodeSetDefault({ mode: DefaultMode.FIXED, id: "pentest" }),
      )) === Result.OK,
    );
    b = await m.powerOn([]);
    check("pentest try 1", b.profileId === "pentest" && b.tryNumber === 1);
    b = await m.powerOn([]);
    check("pentest try 2", b.profileId === "pentest" && b.tryNumber === 2);
    b = await m.powerOn([]);
    check("falls back to desktop", b.profileId === "desktop" && b.reason === BlockReason.FALLBACK);
    check("fallback flag", (b.flags & BlockFlag.FALLBACK) !== 0);
    const st = m.core.state();
    let failed = false;
    for (const t of st.tries) if (t.id === "pentest" && t.failed === 1) failed = true;
    check("state says pentest failed", failed);
    // The failed mark survives a restart (it is in flash).
    const again = new Mcu(m.flash, 2);
    b = await again.powerOn([]);
    check("after restart still falls back", b.profileId === "desktop" && b.reason === BlockReason.FALLBACK);
  });

  test("mark-good clears the tries", async () => {
    const m = await withList();
    check("options maxTries 2", (await m.options(0, ShowMenu.ON_KEY, 2)) === Result.OK);
    let b = await m.powerOn([]);
    check("try 1", b.tryNumber === 1);
    check("mark-good", (await m.markGood(b)) === Result.OK);
    check("no tries left in state", m.core.state().tries.length === 0);
    b = await m.powerOn([]);
    check("next boot is try 1 again", b.profileId === "desktop" && b.tryNumber === 1);
    check("mark-good again", (await m.markGood(b)) === Result.OK);
    b = await m.powerOn([]);
    check("and again try 1 (never failed)", b.profileId === "desktop" && b.tryNumber === 1);
    check(
      "stale mark-good refused",
      (await m.result(MessageType.MARK_GOOD, encodeMarkGood({ sequence: b.sequence - 1, id: "desktop" }))) ===
        Result.STALE,
    );
  });

  test("last-used default: the last profile marked good boots next", async () => {
    const m = await withList();
    check(
      "default last-used",
      (await m.result(MessageType.SET_DEFAULT, encodeSetDefault({ mode: DefaultMode.LAST_USED, id: "" }))) ===
        Result.OK,
    );
    let b = await m.powerOn([Key.OK]);
    await m.keyUp(Key.OK);
    await m.keyPress(Key.DOWN);
    await m.keyPress(Key.OK);
    b = m.block();
    check("picked pentest", b.profileId === "pentest" && b.status === BlockStatus.FINAL);
    check("mark-good pentest", (await m.markGood(b)) === Result.OK);
    b = await m.powerOn([]);
    check("last used boots pentest", b.profileId === "pentest" && b.reason === BlockReason.LAST_USED);
  });

  test("deleted default falls back", async () => {
    const m = await withList();
    check(
      "default fixed kiosk",
      (await m.result(
        MessageType.SET_DEFAULT,
        encodeSetDefault({ mode: DefaultMode.FIXED, id: "kiosk" }),
      )) === Result.OK,
    );
    let b = await m.powerOn([]);
    check("kiosk boots", b.profileId === "kiosk" && b.reason === BlockReason.DEFAULT);
    check(
      "delete kiosk",
      (await m.result(
        MessageType.DELETE_PROFILE,
        encodeDeleteProfile({ baseGeneration: 7, newGeneration: 8, id: "kiosk" }),
      )) === Result.OK,
    );
    check("list has 2", m.core.profiles().length === 2 && m.core.generation() === 8);
    b = await m.powerOn([]);
    check("falls back from the deleted default", b.profileId !== "kiosk" && b.profileId !== "");
    check("fallback reason", b.reason === BlockReason.FALLBACK);
  });
});

describe("link", () => {
  test("list transfer: staged, replaced whole at commit; a restart mid-transfer keeps the old list", async () => {
    const m = await withList();
    check("gen 7 held", m.core.generation() === 7 && m.core.profiles().length === 3);
    const next = [rec("work", "Work", 0), rec("games", "Games", 0)];
    check(
      "begin gen 8",
      (await m.result(MessageType.LIST_BEGIN, encodeListBegin({ generation: 8, count: 2 }))) === Result.OK,
    );
    check(
      "item 0",
      (await m.result(
        MessageType.LIST_ITEM,
        encodeListItem({ generation: 8, index: 0, record: next[0] }),
      )) === Result.OK,
    );
    check("old list visible mid-transfer", m.core.generation() === 7 && m.core.profiles().length === 3);
    // The MCU restarts here: RAM lost, flash kept.
    const r = new Mcu(m.flash, 3);
    check("restart keeps gen 7", r.core.generation() === 7 && r.core.profiles().length === 3);
    check(
      "item after restart is out of order",
      (await r.result(
        MessageType.LIST_ITEM,
        encodeListItem({ generation: 8, index: 1, record: next[1] }),
      )) === Result.OUT_OF_ORDER,
    );
    check(
      "commit with a wrong crc refused",
      (await r.result(
        MessageType.LIST_COMMIT,
        encodeListCommit({ generation: 8, count: 2, listCrc: 1234 }),
      )) !== Result.OK,
    );
    check("still gen 7", r.core.generation() === 7);
    check("full transfer", (await r.pushList(8, next)) === Result.OK);
    check("gen 8 replaced whole", r.core.generation() === 8 && r.core.profiles().length === 2);
    check("first is work", r.core.profiles()[0].id === "work");
    const again = new Mcu(r.flash, 4);
    check(
      "gen 8 survives a restart",
      again.core.generation() === 8 && again.core.profiles()[1].id === "games",
    );
  });

  test("bad frames get INVALID / UNSUPPORTED and change nothing", async () => {
    const m = await withList();
    const before = m.flash.writes;
    check(
      "invalid id INVALID",
      (await m.result(MessageType.LIST_BEGIN, encodeListBegin({ generation: 9, count: 1 }))) === Result.OK,
    );
    const bad = rec("Bad Id", "Bad", 0);
    const r = await m.request(
      MessageType.LIST_ITEM,
      encodeListItem({ generation: 9, index: 0, record: bad }),
    );
    check("item with a bad id INVALID", r.result === Result.INVALID);
    check("error text names the id", r.payload.length > 10);
    check("unknown type UNSUPPORTED", (await m.result(0x7e, [])) === Result.UNSUPPORTED);
    check("maxTries 0 INVALID", (await m.options(0, ShowMenu.ON_KEY, 0)) === Result.INVALID);
    check("truncated payload INVALID", (await m.result(MessageType.SET_DEFAULT, [0])) === Result.INVALID);
    check(
      "default to an unknown id NOT_FOUND",
      (await m.result(
        MessageType.SET_DEFAULT,
        encodeSetDefault({ mode: DefaultMode.FIXED, id: "nobody" }),
      )) === Result.NOT_FOUND,
    );
    await turn();
    const sent = m.host.frames.length;
    m.core.uartReceive([1, 2, 3, 4, 5, 6, 7, 0, 0xff, 0xfe, 0], m.now);
    m.sync();
    check("garbage gets no answer", m.host.frames.length === sent);
    check("list unchanged", m.core.generation() === 7 && m.core.profiles().length === 3);
    check("options unchanged", m.core.state().options.maxTries === 3);
    check("nothing written", m.flash.writes === before);
  });

  test("NO_SPACE beyond 32 profiles", async () => {
    const m = new Mcu(new KvFlash(), 5);
    check(
      "begin with 33 NO_SPACE",
      (await m.result(MessageType.LIST_BEGIN, encodeListBegin({ generation: 1, count: 33 }))) ===
        Result.NO_SPACE,
    );
    const list: ProfileRecord[] = [];
    for (let i = 0; i < 32; i++)
      list.push({ id: "p" + i, name: "P" + i, base: "1.0", origin: "", flags: 0, created: 0, lastUsed: 0 });
    check("32 profiles fit", (await m.pushList(2, list)) === Result.OK);
    check("32 held", m.core.profiles().length === 32);
    check(
      "the 33rd NO_SPACE",
      (await m.result(
        MessageType.PUT_PROFILE,
        encodePutProfile({ baseGeneration: 2, newGeneration: 3, record: rec("extra", "Extra", 0) }),
      )) === Result.NO_SPACE,
    );
    check("still 32 at gen 2", m.core.profiles().length === 32 && m.core.generation() === 2);
  });
});

describe("flash", () => {
  test("A/B: a power cut after any write, or a torn write, reloads the old or the new state", async () => {
    const m = await withList();
    const base = m.flash.clone();
    // A change that needs several writes: a new list (records, then the header).
    const next = [rec("work", "Work", 0), rec("games", "Games", 0), rec("lab", "Lab", 1)];
    await turn();
    const mm = new Mcu(base.clone(), 6);
    check("same start", mm.core.generation() === 7);
    // Capture the writes instead of applying them.
    const writes: FlashWrite[] = [];
    let r = await mm.result(MessageType.LIST_BEGIN, encodeListBegin({ generation: 8, count: 3 }));
    for (let i = 0; i < 3; i++) {
      await turn();
      r = await mm.result(
        MessageType.LIST_ITEM,
        encodeListItem({ generation: 8, index: i, record: next[i] }),
      );
    }
    await turn();
    mm.seq++;
    mm.core.uartReceive(
      encodeFrame({
        type: MessageType.LIST_COMMIT,
        seq: mm.seq,
        kind: FrameKind.REQUEST,
        result: 0,
        payload: encodeListCommit({ generation: 8, count: 3, listCrc: listCrc(next) }),
      }),
      mm.now,
    );
    const ws = mm.core.takeWrites();
    for (const w of ws) writes.push(w);
    check(
      "commit answered OK",
      r === Result.OK && mm.host.last !== null && mm.host.last.result === Result.OK,
    );
    check("the change takes several writes", writes.length >= 2);
    for (let n = 0; n <= writes.length; n++) {
      for (let torn = 0; torn < 2; torn++) {
        if (torn === 1 && n === writes.length) continue;
        await turn();
        const f = base.clone();
        for (let i = 0; i < n; i++) f.write(writes[i]);
        const w = n < writes.length ? writes[n] : null;
        if (torn === 1 && w !== null && w.value !== null) {
          // Half of the value landed.
          const half: number[] = [];
          for (let i = 0; i < w.value.length >> 1; i++) half.push(w.value[i]);
          f.write({ key: w.key, value: half });
        }
        await turn();
        const c = new Mcu(f, 10 + n);
        const g = c.core.generation();
        const count = c.core.profiles().length;
        const ok =
          (g === 7 && count === 3 && c.core.profiles()[0].id === "desktop") ||
          (g === 8 && count === 3 && c.core.profiles()[0].id === "work");
        check("cut after " + n + " writes" + (torn === 1 ? " + torn" : "") + ": gen " + g, ok);
        if (n === writes.length) check("all writes: the new list", g === 8);
      }
    }
  });
});
