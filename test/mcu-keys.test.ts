// Key timing as the Flipper Zero input service does it: short on release before 300 ms, long at
// 300 ms, repeat every 150 ms after long; keys held at power-on are ignored until released.
import test from "ava";
import { InputType, Key, KeyInput, keyByName, LONG_PRESS_MS, REPEAT_MS } from "../mcu/core/keys";

function types(k: KeyInput): string[] {
  return k.drain().map((e) => ["press", "release", "short", "long", "repeat"][e.type]);
}

test("a quick press gives press, short, release", (t) => {
  const k = new KeyInput();
  k.keyDown(Key.OK, 1000);
  k.update(1100);
  k.keyUp(Key.OK, 1299);
  t.deepEqual(types(k), ["press", "short", "release"]);
});

test("holding 300 ms gives long and no short; repeats every 150 ms after that", (t) => {
  const k = new KeyInput();
  k.keyDown(Key.DOWN, 0);
  k.update(299);
  t.deepEqual(types(k), ["press"]);
  k.update(300);
  t.deepEqual(types(k), ["long"]);
  k.update(449);
  t.deepEqual(types(k), []);
  k.update(450);
  t.deepEqual(types(k), ["repeat"]);
  k.update(600);
  k.update(750);
  t.deepEqual(types(k), ["repeat", "repeat"]);
  k.keyUp(Key.DOWN, 800);
  t.deepEqual(types(k), ["release"]);
});

test("long is detected at release even without a tick in between", (t) => {
  const k = new KeyInput();
  k.keyDown(Key.OK, 0);
  k.keyUp(Key.OK, LONG_PRESS_MS + 10);
  const ev = k.drain();
  t.deepEqual(
    ev.map((e) => e.type),
    [InputType.PRESS, InputType.LONG, InputType.RELEASE],
  );
  t.is(ev[1].at, LONG_PRESS_MS, "long is timed at 300 ms, not when noticed");
});

test("a stalled clock does not replay a burst of repeats", (t) => {
  const k = new KeyInput();
  k.keyDown(Key.UP, 0);
  k.update(10_000);
  const ev = k.drain();
  t.true(ev.filter((e) => e.type === InputType.REPEAT).length <= 4);
  k.update(10_000 + REPEAT_MS);
  t.deepEqual(types(k), ["repeat"]);
});

test("keys held at power-on are ignored until released, then work normally", (t) => {
  const k = new KeyInput();
  k.reset([Key.OK], 0);
  k.update(1000);
  k.keyUp(Key.OK, 1200);
  t.deepEqual(types(k), [], "no long, short or release from the power-on hold");
  k.keyDown(Key.OK, 1300);
  k.keyUp(Key.OK, 1350);
  t.deepEqual(types(k), ["press", "short", "release"]);
});

test("keys are independent; bad key codes and double downs are ignored", (t) => {
  const k = new KeyInput();
  k.keyDown(Key.LEFT, 0);
  k.keyDown(Key.LEFT, 10);
  k.keyDown(99, 10);
  k.keyUp(-1, 10);
  k.keyDown(Key.UP, 100);
  k.keyUp(Key.UP, 150);
  t.true(k.isDown(Key.LEFT));
  t.is(k.heldFor(Key.LEFT, 250), 250);
  t.deepEqual(types(k), ["press", "press", "short", "release"]);
});

test("key names map to codes", (t) => {
  t.is(keyByName("ok"), Key.OK);
  t.is(keyByName("power"), Key.KEY3);
  t.is(keyByName("key3"), Key.KEY3);
  t.is(keyByName("ptt"), Key.PTT);
  t.is(keyByName("nope"), -1);
});
