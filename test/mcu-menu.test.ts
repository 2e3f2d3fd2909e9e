// The menu: Up/Down on short press and repeat with wrap-around, OK boots, long OK opens actions,
// Right opens details, Back closes, the recovery entry, hidden profiles behind a key combo, the
// reset confirmation hold, protected profiles.
import test from "ava";
import { MessageType, Result } from "../protocol/messages";
import { ProfileFlag } from "../protocol/profile";
import { BlockAction, BlockFlag, BlockReason, BlockStatus } from "../protocol/register-block";
import { Screen } from "../mcu/core/view";
import { makeMcu, profile } from "./helpers/mcu";

const LIST = [
  profile("alpha", { name: "Alpha", base: "1.0", created: 1700000000, lastUsed: 1763000000 }),
  profile("bravo", { name: "Bravo", origin: "alpha", flags: ProfileFlag.PROTECTED }),
  profile("secret", { name: "Secret", flags: ProfileFlag.HIDDEN }),
  profile("charlie", { name: "Charlie" }),
];

async function menu() {
  const m = await makeMcu();
  m.link.pushList(LIST, 1);
  m.mcu.powerOn(["ok"]);
  m.mcu.keyUp("ok");
  return m;
}

function selectedId(m: Awaited<ReturnType<typeof makeMcu>>): string {
  return m.mcu.core.menuEntries()[m.mcu.core.menuCursor()];
}

test("the list shows visible profiles and a recovery entry last; hidden ones are not there", async (t) => {
  const { mcu } = await menu();
  t.deepEqual(mcu.core.menuEntries(), ["alpha", "bravo", "charlie", ""]);
  const text = mcu.screenText();
  t.is(text[0], "Boot profile");
  t.true(text[1].startsWith("Alpha 1.0 2025-11-13"));
  t.true(text[2].startsWith("Bravo 1.2.3 never"));
  t.true(text[4].startsWith("Recovery"));
  t.false(text.some((l) => l.includes("Secret")));
});

test("Up/Down move on short press and wrap around at both ends", async (t) => {
  const m = await menu();
  t.is(selectedId(m), "alpha");
  await m.mcu.press("up");
  t.is(selectedId(m), "", "wrapped to the recovery entry");
  await m.mcu.press("down");
  t.is(selectedId(m), "alpha", "wrapped back to the top");
  await m.mcu.press("down");
  await m.mcu.press("down");
  t.is(selectedId(m), "charlie");
});

test("holding Down repeats every 150 ms after the 300 ms long press", async (t) => {
  const m = await menu();
  m.mcu.keyDown("down");
  m.mcu.advance(299);
  t.is(selectedId(m), "alpha", "nothing on press or long");
  m.mcu.advance(151); // 450 ms: first repeat
  t.is(selectedId(m), "bravo");
  m.mcu.advance(150); // 600 ms
  t.is(selectedId(m), "charlie");
  m.mcu.keyUp("down");
  t.is(selectedId(m), "charlie", "no short after a long press");
});

test("OK boots the selected profile; the recovery entry boots base-system recovery", async (t) => {
  let m = await menu();
  await m.mcu.press("down");
  await m.mcu.press("ok");
  let s = m.mcu.selection();
  t.is(s.status, BlockStatus.FINAL);
  t.is(s.profileId, "bravo");
  t.is(s.action, BlockAction.BOOT);
  t.is(m.mcu.screenName(), "booting");
  t.deepEqual(m.mcu.screenText().slice(1, 3), ["Booting", "Bravo"]);
  // Keys after the choice do nothing.
  await m.mcu.press("down");
  await m.mcu.press("ok");
  t.is(m.mcu.selection().sequence, s.sequence);

  m = await menu();
  await m.mcu.press("up");
  await m.mcu.press("ok");
  s = m.mcu.selection();
  t.is(s.action, BlockAction.RECOVERY);
  t.is(s.profileId, "");
  t.is(s.reason, BlockReason.USER);
});

test("Right shows details (id, base, created, origin, tries); Back and Left close them", async (t) => {
  const m = await menu();
  await m.mcu.press("down");
  await m.mcu.press("right");
  t.is(m.mcu.screenName(), "details");
  const text = m.mcu.screenText();
  t.is(text[0], "Bravo");
  t.true(text.includes("Id bravo"));
  t.true(text.includes("Base 1.2.3"));
  t.true(text.includes("Created 2023-11-14") || text.includes("Created 2025-10-09"));
  t.true(text.includes("Origin alpha"));
  t.true(text.includes("Tries 0 of 3"));
  t.true(text.includes("Flags protected"));
  await m.mcu.press("down");
  t.is(m.mcu.screenText()[0], "Charlie", "Up/Down browse the neighbours' details");
  await m.mcu.press("back");
  t.is(m.mcu.screenName(), "list");
  await m.mcu.press("right");
  await m.mcu.press("left");
  t.is(m.mcu.screenName(), "list");
  t.is(selectedId(m), "charlie");
  await m.mcu.press("down"); // the recovery entry has no details
  await m.mcu.press("right");
  t.is(m.mcu.screenName(), "list");
});

test("long OK opens the actions; Back closes them", async (t) => {
  const m = await menu();
  await m.mcu.press("ok", 350);
  t.is(m.mcu.screenName(), "actions");
  t.is(m.mcu.selection().status, BlockStatus.PENDING, "long OK does not boot");
  const text = m.mcu.screenText();
  t.is(text[0], "Alpha");
  t.deepEqual(
    text.slice(1, 5).map((l) => l.split(" is default")[0]),
    ["Boot once", "Make default", "Reset profile", "Recovery mode"],
  );
  await m.mcu.press("back");
  t.is(m.mcu.screenName(), "list");
});

test("actions: boot once is a one-shot user boot; recovery mode boots the profile in recovery", async (t) => {
  let m = await menu();
  await m.mcu.press("ok", 350);
  await m.mcu.press("ok");
  let s = m.mcu.selection();
  t.is(s.profileId, "alpha");
  t.is(s.reason, BlockReason.ONE_SHOT);
  t.is(s.flags & (BlockFlag.ONE_SHOT | BlockFlag.USER_CHOSEN), BlockFlag.ONE_SHOT | BlockFlag.USER_CHOSEN);

  m = await menu();
  await m.mcu.press("down");
  await m.mcu.press("ok", 350);
  await m.mcu.press("up"); // wraps to "Recovery mode"
  await m.mcu.press("ok");
  s = m.mcu.selection();
  t.is(s.profileId, "bravo");
  t.is(s.action, BlockAction.RECOVERY);
});

test("reset asks for a 1.5 s OK hold; letting go early cancels; Back returns", async (t) => {
  const m = await menu();
  await m.mcu.press("down");
  await m.mcu.press("down"); // charlie
  await m.mcu.press("ok", 350);
  await m.mcu.press("down");
  await m.mcu.press("down");
  await m.mcu.press("ok");
  t.is(m.mcu.screenName(), "confirm");
  t.true(m.mcu.screenText().includes("Reset Charlie?"));
  await m.mcu.press("ok", 1000);
  t.is(m.mcu.selection().status, BlockStatus.PENDING, "released after 1 s: nothing happens");
  await m.mcu.press("back");
  t.is(m.mcu.screenName(), "actions");
  await m.mcu.press("ok");
  t.is(m.mcu.screenName(), "confirm");
  m.mcu.keyDown("ok");
  m.mcu.advance(800);
  t.true(m.mcu.screenText().includes("Keep holding OK..."));
  m.mcu.advance(750);
  const s = m.mcu.selection();
  t.is(s.status, BlockStatus.FINAL);
  t.is(s.action, BlockAction.RESET);
  t.is(s.profileId, "charlie");
});

test("a protected profile cannot be reset from the menu: a popup says so", async (t) => {
  const m = await menu();
  await m.mcu.press("down"); // bravo (protected)
  await m.mcu.press("ok", 350);
  await m.mcu.press("down");
  await m.mcu.press("down");
  await m.mcu.press("ok");
  t.is(m.mcu.screenName(), "actions");
  t.true(m.mcu.screenText().some((l) => l.includes("Protected: cannot be reset")));
  m.mcu.advance(2000);
  t.false(
    m.mcu.screenText().some((l) => l.includes("Protected")),
    "the popup goes away",
  );
});

test("hidden profiles appear with the Left+Up combo, and at power-on with Left+Up held", async (t) => {
  const m = await menu();
  m.mcu.keyDown("left");
  m.mcu.keyDown("up");
  m.mcu.keyUp("up");
  m.mcu.keyUp("left");
  t.deepEqual(m.mcu.core.menuEntries(), ["alpha", "bravo", "secret", "charlie", ""]);
  t.is(selectedId(m), "alpha", "the combo does not move the selection");
  t.true(m.mcu.screenText().some((l) => l.startsWith("Secret")));
  t.true(m.mcu.screenText()[0].endsWith("+hidden"));
  m.mcu.keyDown("left");
  m.mcu.keyDown("up");
  m.mcu.keyUp("up");
  m.mcu.keyUp("left");
  t.deepEqual(m.mcu.core.menuEntries(), ["alpha", "bravo", "charlie", ""]);

  m.mcu.powerOn(["left", "up"]);
  t.deepEqual(m.mcu.core.menuEntries(), ["alpha", "bravo", "secret", "charlie", ""]);
  m.mcu.keyUp("left");
  m.mcu.keyUp("up");
  await m.mcu.press("down");
  await m.mcu.press("down");
  await m.mcu.press("ok");
  t.is(m.mcu.selection().profileId, "secret");
  t.is(m.mcu.selection().flags & BlockFlag.HIDDEN, BlockFlag.HIDDEN);
});

test("a list that arrives while the menu is open replaces it whole; the selection follows its id", async (t) => {
  const m = await menu();
  await m.mcu.press("down");
  await m.mcu.press("down");
  t.is(selectedId(m), "charlie");
  const r = m.link.pushList([profile("zulu"), profile("charlie"), profile("alpha")], 2);
  t.is(r.result, Result.OK);
  t.is(selectedId(m), "charlie");
  t.deepEqual(m.mcu.core.menuEntries(), ["zulu", "charlie", "alpha", ""]);
  t.true(m.mcu.screenText()[1].startsWith("Zulu"));
  t.is(m.link.state().generation, 2);
  t.is(m.link.send(MessageType.GET_STATE, []).result, Result.OK);
});

test("the default is marked, a failed profile says FAILED", async (t) => {
  const m = await makeMcu();
  m.link.pushList(LIST, 1);
  for (let i = 0; i < 3; i++) m.mcu.powerOn([]);
  m.mcu.powerOn(["ok"]);
  const v = m.mcu.core.view();
  if (v.kind !== Screen.LIST) return t.fail(`the list is open, not ${m.mcu.core.screenName()}`);
  t.true(v.rows[0].failed);
  t.true(
    m.mcu.screenText().some((l) => l.includes("FAILED")),
    "the row says FAILED",
  );
  t.true(v.rows[1].isDefault, "bravo is the fallback default now");
  t.false(v.rows[2].isDefault);
});
