// Boot policy: power-on behaviour, default (fixed / last used), one-shot, boot counting with
// fallback to the last good profile, deleted defaults, and flash wear on repeated good boots.
import test from "ava";
import {
  decodeBootReport,
  DefaultMode,
  encodeMarkGood,
  encodeMenuOptions,
  encodeSetDefault,
  encodeSetNext,
  encodeDeleteProfile,
  MessageType,
  Result,
  ShowMenu,
} from "../protocol/messages";
import { BlockAction, BlockFlag, BlockReason, BlockStatus, decodeBlock } from "../protocol/register-block";
import { MemoryFlash } from "../mcu/node/flash";
import type { NodeMcu } from "../mcu/node/mcu";
import { makeMcu, profile, type TestLink } from "./helpers/mcu";

const LIST = [profile("alpha"), profile("bravo"), profile("charlie")];

async function setup(opts: { timeout?: number; show?: number; maxTries?: number } = {}) {
  const m = await makeMcu();
  m.link.pushList(LIST, 1);
  const r = m.link.send(
    MessageType.SET_OPTIONS,
    encodeMenuOptions({
      timeoutSeconds: opts.timeout ?? 0,
      showMenu: opts.show ?? ShowMenu.ON_KEY,
      maxTries: opts.maxTries ?? 3,
    }),
  );
  if (r.result !== Result.OK) throw new Error(r.message);
  return m;
}

function block(mcu: NodeMcu) {
  const d = decodeBlock(mcu.registerBlock());
  if (!d.ok || !d.selection) throw new Error(d.detail);
  return d.selection;
}

function markGood(link: TestLink, mcu: NodeMcu, id = "") {
  return link.send(MessageType.MARK_GOOD, encodeMarkGood({ sequence: mcu.selection().sequence, id }));
}

test("no key held and timeout 0: the choice is FINAL at once (zero-wait boot)", async (t) => {
  const { mcu, link } = await setup();
  const finals: number[] = [];
  mcu.on("final", (s) => finals.push(s.sequence));
  mcu.powerOn([]);
  const s = block(mcu);
  t.is(s.status, BlockStatus.FINAL);
  t.is(s.profileId, "alpha");
  t.is(s.base, "1.2.3");
  t.is(s.action, BlockAction.BOOT);
  t.is(s.reason, BlockReason.DEFAULT);
  t.is(s.tryNumber, 1);
  t.is(mcu.screenName(), "booting");
  await Promise.resolve();
  t.deepEqual(finals, [s.sequence]);
  const ev = link.events.filter((e) => e.type === MessageType.EVENT_BOOT);
  t.is(ev.length, 1);
  t.is(decodeBootReport(ev[0].payload).value?.id, "alpha");
});

test("a key held at power-on always opens the menu, PENDING until the owner picks", async (t) => {
  const { mcu } = await setup();
  mcu.powerOn(["ok"]);
  t.is(block(mcu).status, BlockStatus.PENDING);
  t.is(block(mcu).profileId, "alpha", "PENDING carries the tentative choice");
  mcu.keyUp("ok");
  mcu.advance(30_000);
  t.is(block(mcu).status, BlockStatus.PENDING, "no countdown when the owner is there");
  t.is(mcu.screenName(), "list");
  await mcu.press("down");
  await mcu.press("ok");
  t.is(block(mcu).status, BlockStatus.FINAL);
  t.is(block(mcu).profileId, "bravo");
  t.is(block(mcu).reason, BlockReason.USER);
  t.is(block(mcu).flags & BlockFlag.USER_CHOSEN, BlockFlag.USER_CHOSEN);
});

test("timeout > 0: the menu counts down, then boots the default", async (t) => {
  const { mcu } = await setup({ timeout: 3 });
  mcu.powerOn([]);
  t.is(block(mcu).status, BlockStatus.PENDING);
  t.true(mcu.screenText()[0].endsWith("3s"));
  mcu.advance(2990);
  t.is(block(mcu).status, BlockStatus.PENDING);
  mcu.advance(20);
  t.is(block(mcu).status, BlockStatus.FINAL);
  t.is(block(mcu).profileId, "alpha");
});

test("any key stops the countdown", async (t) => {
  const { mcu } = await setup({ timeout: 2 });
  mcu.powerOn([]);
  mcu.advance(1000);
  await mcu.press("down");
  mcu.advance(10_000);
  t.is(block(mcu).status, BlockStatus.PENDING);
  t.false(mcu.screenText().some((l) => l.includes("Booting")));
});

test("show-menu ALWAYS with timeout 0 waits for the owner", async (t) => {
  const { mcu } = await setup({ show: ShowMenu.ALWAYS });
  mcu.powerOn([]);
  mcu.advance(5000);
  t.is(block(mcu).status, BlockStatus.PENDING);
});

test("fixed default boots that profile with reason DEFAULT", async (t) => {
  const { mcu, link } = await setup();
  t.is(
    link.send(MessageType.SET_DEFAULT, encodeSetDefault({ mode: DefaultMode.FIXED, id: "charlie" })).result,
    Result.OK,
  );
  mcu.powerOn([]);
  t.is(block(mcu).profileId, "charlie");
  t.is(block(mcu).reason, BlockReason.DEFAULT);
  const st = link.state();
  t.is(st.defaultMode, DefaultMode.FIXED);
  t.is(st.defaultId, "charlie");
});

test("last-used default: the profile of the last boot marked good", async (t) => {
  const { mcu, link } = await setup();
  mcu.powerOn(["ok"]);
  mcu.keyUp("ok");
  await mcu.press("down");
  await mcu.press("down");
  await mcu.press("ok");
  t.is(block(mcu).profileId, "charlie");
  t.is(markGood(link, mcu).result, Result.OK);
  t.is(link.state().lastGoodId, "charlie");
  mcu.powerOn([]);
  t.is(block(mcu).profileId, "charlie");
  t.is(block(mcu).reason, BlockReason.LAST_USED);
});

test("one-shot boots once, then the default applies again", async (t) => {
  const { mcu, link } = await setup();
  t.is(
    link.send(MessageType.SET_NEXT, encodeSetNext({ action: BlockAction.BOOT, id: "bravo" })).result,
    Result.OK,
  );
  t.is(link.state().nextId, "bravo");
  mcu.powerOn([]);
  t.is(block(mcu).profileId, "bravo");
  t.is(block(mcu).reason, BlockReason.ONE_SHOT);
  t.is(block(mcu).flags & BlockFlag.ONE_SHOT, BlockFlag.ONE_SHOT);
  t.is(markGood(link, mcu).result, Result.OK);
  t.is(link.state().lastGoodId, "", "a one-shot boot does not become the last-used default");
  t.is(link.state().nextId, "");
  mcu.powerOn([]);
  t.is(block(mcu).profileId, "alpha");
});

test("one-shot with another action (recovery) and clearing it with an empty id", async (t) => {
  const { mcu, link } = await setup();
  link.send(MessageType.SET_NEXT, encodeSetNext({ action: BlockAction.RECOVERY, id: "charlie" }));
  link.send(MessageType.SET_NEXT, encodeSetNext({ action: 0, id: "" }));
  mcu.powerOn([]);
  t.is(block(mcu).profileId, "alpha");
  link.send(MessageType.SET_NEXT, encodeSetNext({ action: BlockAction.RECOVERY, id: "charlie" }));
  mcu.powerOn([]);
  t.is(block(mcu).action, BlockAction.RECOVERY);
  t.is(block(mcu).profileId, "charlie");
});

test("N tries without success mark the profile failed and fall back to the last good one", async (t) => {
  const { mcu, link } = await setup();
  // bravo boots fine once: it is the last good profile.
  link.send(MessageType.SET_NEXT, encodeSetNext({ action: BlockAction.BOOT, id: "bravo" }));
  mcu.powerOn([]);
  // A one-shot good boot does not change last-used, so confirm a regular boot of bravo too.
  markGood(link, mcu);
  mcu.powerOn(["ok"]);
  mcu.keyUp("ok");
  await mcu.press("down");
  await mcu.press("ok");
  markGood(link, mcu);
  t.is(link.state().lastGoodId, "bravo");
  link.send(MessageType.SET_DEFAULT, encodeSetDefault({ mode: DefaultMode.FIXED, id: "alpha" }));
  for (let i = 1; i <= 3; i++) {
    mcu.powerOn([]);
    t.is(block(mcu).profileId, "alpha");
    t.is(block(mcu).tryNumber, i);
    // ...and Linux never reports success.
  }
  mcu.powerOn([]);
  t.is(block(mcu).profileId, "bravo", "falls back after 3 failed tries");
  t.is(block(mcu).reason, BlockReason.FALLBACK);
  t.is(block(mcu).flags & BlockFlag.FALLBACK, BlockFlag.FALLBACK);
  const st = link.state();
  t.deepEqual(
    st.tries.find((x) => x.id === "alpha"),
    { id: "alpha", tries: 3, failed: 1 },
  );
  markGood(link, mcu);
  // The menu says so.
  mcu.powerOn(["ok"]);
  t.true(mcu.screenText().some((l) => l.startsWith("Alpha") && l.includes("FAILED")));
  // The owner boots it anyway and it works: the failure is cleared.
  mcu.keyUp("ok");
  let guard = 0;
  while (mcu.core.menuEntries()[mcu.core.menuCursor()] !== "alpha" && guard++ < 5) await mcu.press("down");
  await mcu.press("ok");
  t.is(block(mcu).profileId, "alpha");
  t.is(block(mcu).tryNumber, 4);
  markGood(link, mcu);
  t.is(link.state().tries.length, 0);
  mcu.powerOn([]);
  t.is(block(mcu).profileId, "alpha");
  t.is(block(mcu).reason, BlockReason.DEFAULT);
});

test("max tries is configurable", async (t) => {
  const { mcu } = await setup({ maxTries: 1 });
  mcu.powerOn([]);
  t.is(block(mcu).profileId, "alpha");
  mcu.powerOn([]);
  t.is(block(mcu).profileId, "bravo", "one failed try is enough");
  t.is(block(mcu).reason, BlockReason.FALLBACK);
});

test("a default that is deleted falls back to the last good profile", async (t) => {
  const { mcu, link } = await setup();
  mcu.powerOn(["ok"]);
  mcu.keyUp("ok");
  await mcu.press("up"); // wraps to the recovery entry
  await mcu.press("up"); // charlie
  await mcu.press("ok");
  t.is(block(mcu).profileId, "charlie");
  markGood(link, mcu);
  link.send(MessageType.SET_DEFAULT, encodeSetDefault({ mode: DefaultMode.FIXED, id: "bravo" }));
  const g = link.state().generation;
  const r = link.send(
    MessageType.DELETE_PROFILE,
    encodeDeleteProfile({ baseGeneration: g, newGeneration: g + 1, id: "bravo" }),
  );
  t.is(r.result, Result.OK);
  mcu.powerOn([]);
  t.is(block(mcu).profileId, "charlie");
  t.is(block(mcu).reason, BlockReason.FALLBACK);
});

test("every profile failed: base-system recovery", async (t) => {
  const { mcu, link } = await setup({ maxTries: 1 });
  link.pushList([profile("solo")], 2);
  mcu.powerOn([]);
  mcu.powerOn([]);
  t.is(block(mcu).action, BlockAction.RECOVERY);
  t.is(block(mcu).profileId, "");
});

test("no profiles: the block says EMPTY (U-Boot's own default) and the menu offers recovery", async (t) => {
  const { mcu } = await makeMcu();
  mcu.powerOn([]);
  t.is(block(mcu).status, BlockStatus.EMPTY);
  mcu.powerOn(["back"]);
  t.is(mcu.screenName(), "list");
  t.deepEqual(mcu.screenText().slice(1, 4), [
    "Recovery base system",
    "No profiles yet",
    "Flipper OS sends them once it runs",
  ]);
  mcu.keyUp("back");
  await mcu.press("ok");
  t.is(block(mcu).status, BlockStatus.FINAL);
  t.is(block(mcu).action, BlockAction.RECOVERY);
  t.is(block(mcu).profileId, "");
});

test("MARK_GOOD: a stale sequence is refused, the wrong id is invalid, a retry is fine", async (t) => {
  const { mcu, link } = await setup();
  mcu.powerOn([]);
  const seq = mcu.selection().sequence;
  let r = link.send(MessageType.MARK_GOOD, encodeMarkGood({ sequence: seq - 1, id: "" }));
  t.is(r.result, Result.STALE);
  t.regex(r.message, /sequence .* is stale/);
  r = link.send(MessageType.MARK_GOOD, encodeMarkGood({ sequence: seq, id: "bravo" }));
  t.is(r.result, Result.INVALID);
  t.regex(r.message, /"bravo".*"alpha"/);
  t.is(link.send(MessageType.MARK_GOOD, encodeMarkGood({ sequence: seq, id: "alpha" })).result, Result.OK);
  t.is(link.send(MessageType.MARK_GOOD, encodeMarkGood({ sequence: seq, id: "alpha" })).result, Result.OK);
  t.is(link.state().lastBoot.good, 1);
});

test("boot sequence increases on every FINAL choice, also across MCU restarts", async (t) => {
  const { mcu } = await setup();
  const seqs: number[] = [];
  for (let i = 0; i < 3; i++) {
    mcu.powerOn([]);
    seqs.push(mcu.selection().sequence);
  }
  await mcu.restart();
  mcu.powerOn([]);
  seqs.push(mcu.selection().sequence);
  for (let i = 1; i < seqs.length; i++) t.true(seqs[i] > seqs[i - 1], `${seqs}`);
});

test("wear: booting the same good profile again and again writes nothing after the first boot", async (t) => {
  const { mcu, link, flash } = await setup();
  mcu.powerOn([]);
  markGood(link, mcu);
  const before = flash.writeCount;
  for (let i = 0; i < 50; i++) {
    mcu.powerOn([]);
    t.is(markGood(link, mcu).result, Result.OK);
  }
  t.is(flash.writeCount - before, 0);
  t.is(block(mcu).tryNumber, 1);
});

test("a crash loop is still counted across an MCU restart (tries are in flash)", async (t) => {
  const flash = new MemoryFlash();
  const { mcu, link } = await makeMcu(flash);
  link.pushList(LIST, 1);
  mcu.powerOn([]);
  link.send(MessageType.MARK_GOOD, encodeMarkGood({ sequence: mcu.selection().sequence, id: "" }));
  link.send(MessageType.SET_DEFAULT, encodeSetDefault({ mode: DefaultMode.FIXED, id: "bravo" }));
  const tries: string[] = [];
  for (let i = 0; i < 4; i++) {
    mcu.powerOn([]);
    tries.push(`${mcu.selection().profileId}:${mcu.selection().tryNumber}`);
    if (i % 2 === 1) await mcu.restart(); // the MCU itself resets too, every other boot
  }
  // bravo gets its 3 tries although the MCU restarted in between, then the MCU falls back to
  // alpha, the last good profile.
  t.deepEqual(tries, ["bravo:1", "bravo:2", "bravo:3", "alpha:1"]);
});

test("no profiles and a countdown: when it runs out the block says EMPTY, not recovery", async (t) => {
  const { mcu, link } = await makeMcu();
  link.send(
    MessageType.SET_OPTIONS,
    encodeMenuOptions({ timeoutSeconds: 1, showMenu: ShowMenu.ON_KEY, maxTries: 3 }),
  );
  mcu.powerOn([]);
  t.is(block(mcu).status, BlockStatus.PENDING);
  mcu.advance(1100);
  t.is(block(mcu).status, BlockStatus.EMPTY);
  t.is(mcu.screenName(), "booting");
  t.true(mcu.screenText().includes("No profiles: the base system starts"));
});

test("MARK_GOOD after an MCU restart names the profile; a profile deleted since its boot is fine", async (t) => {
  const { mcu, link } = await setup();
  mcu.powerOn([]);
  const seq = mcu.selection().sequence;
  await mcu.restart();
  let r = link.send(MessageType.MARK_GOOD, encodeMarkGood({ sequence: seq, id: "" }));
  t.is(r.result, Result.INVALID);
  t.regex(r.message, /MCU restarted, name the profile/);
  r = link.send(MessageType.MARK_GOOD, encodeMarkGood({ sequence: seq, id: "nobody" }));
  t.is(r.result, Result.NOT_FOUND);
  t.is(link.send(MessageType.MARK_GOOD, encodeMarkGood({ sequence: seq, id: "alpha" })).result, Result.OK);
  t.is(link.state().lastGoodId, "alpha");
  // Boot bravo, delete it, then report success: OK, nothing to count.
  link.send(MessageType.SET_DEFAULT, encodeSetDefault({ mode: DefaultMode.FIXED, id: "bravo" }));
  mcu.powerOn([]);
  const g = link.state().generation;
  link.send(
    MessageType.DELETE_PROFILE,
    encodeDeleteProfile({ baseGeneration: g, newGeneration: g + 1, id: "bravo" }),
  );
  t.is(markGood(link, mcu).result, Result.OK);
  t.is(link.state().lastBoot.good, 1);
  t.is(link.state().lastGoodId, "alpha");
});
