// Keys and key timing, as the Flipper Zero input service does it: from raw down/up the core derives
// PRESS, RELEASE, SHORT (released before 300 ms), LONG (held 300 ms) and REPEAT (every 150 ms after LONG).

/** The 13 keys of the Flipper One (numbers are stable: adapters and the simulator use them). */
export const Key = {
  UP: 0,
  DOWN: 1,
  LEFT: 2,
  RIGHT: 3,
  OK: 4,
  BACK: 5,
  KEY1: 6,
  KEY2: 7,
  /** Key3 is the power key. */
  KEY3: 8,
  KEY4: 9,
  KEY5: 10,
  APPSWITCH: 11,
  PTT: 12,
} as const;
export const KEY_COUNT = 13;
export const KEY_NAMES = [
  "up",
  "down",
  "left",
  "right",
  "ok",
  "back",
  "key1",
  "key2",
  "power",
  "key4",
  "key5",
  "appswitch",
  "ptt",
];

/** The key code for a name from KEY_NAMES (also "key3" for power), or -1. */
export function keyByName(name: string): number {
  for (let i = 0; i < KEY_NAMES.length; i++) if (KEY_NAMES[i] === name) return i;
  if (name === "key3") return Key.KEY3;
  return -1;
}

export const InputType = { PRESS: 0, RELEASE: 1, SHORT: 2, LONG: 3, REPEAT: 4 } as const;

export const LONG_PRESS_MS = 300;
export const REPEAT_MS = 150;

export interface InputEvent {
  key: number;
  type: number;
  /** When it happened (the timing instant, not when it was noticed). */
  at: number;
}

/** Derives input events from raw key edges; events queue in `events` until drained. */
export class KeyInput {
  down: boolean[] = [];
  downAt: number[] = [];
  longSent: boolean[] = [];
  nextRepeat: number[] = [];
  /** Keys held at power-on: their events are swallowed until they are released. */
  ignored: boolean[] = [];
  events: InputEvent[] = [];

  constructor() {
    for (let i = 0; i < KEY_COUNT; i++) {
      this.down.push(false);
      this.downAt.push(0);
      this.longSent.push(false);
      this.nextRepeat.push(0);
      this.ignored.push(false);
    }
  }

  private emit(key: number, type: number, at: number): void {
    if (!this.ignored[key]) this.events.push({ key: key, type: type, at: at });
  }

  /** Forgets every key state; keys in `held` are treated as down and ignored until released. */
  reset(held: number[], now: number): void {
    for (let i = 0; i < KEY_COUNT; i++) {
      this.down[i] = false;
      this.longSent[i] = false;
      this.ignored[i] = false;
    }
    for (const k of held) {
      if (k >= 0 && k < KEY_COUNT) {
        this.down[k] = true;
        this.downAt[k] = now;
        this.ignored[k] = true;
      }
    }
    this.events = [];
  }

  keyDown(key: number, now: number): void {
    if (!(key >= 0 && key < KEY_COUNT) || this.down[key]) return;
    this.update(now);
    this.down[key] = true;
    this.downAt[key] = now;
    this.longSent[key] = false;
    this.ignored[key] = false;
    this.emit(key, InputType.PRESS, now);
  }

  keyUp(key: number, now: number): void {
    if (!(key >= 0 && key < KEY_COUNT) || !this.down[key]) return;
    this.update(now);
    this.down[key] = false;
    if (!this.longSent[key]) this.emit(key, InputType.SHORT, now);
    this.emit(key, InputType.RELEASE, now);
    this.ignored[key] = false;
  }

  /** Emits LONG and REPEAT events that are due at `now` (at most a few per key per call). */
  update(now: number): void {
    for (let k = 0; k < KEY_COUNT; k++) {
      if (!this.down[k]) continue;
      if (!this.longSent[k]) {
        if (now - this.downAt[k] < LONG_PRESS_MS) continue;
        this.longSent[k] = true;
        this.emit(k, InputType.LONG, this.downAt[k] + LONG_PRESS_MS);
        this.nextRepeat[k] = this.downAt[k] + LONG_PRESS_MS + REPEAT_MS;
      }
      let n = 0;
      while (now >= this.nextRepeat[k] && n < 4) {
        this.emit(k, InputType.REPEAT, this.nextRepeat[k]);
        this.nextRepeat[k] += REPEAT_MS;
        n++;
      }
      // A stalled clock must not replay a burst of repeats later.
      if (now >= this.nextRepeat[k]) this.nextRepeat[k] = now + REPEAT_MS;
    }
  }

  isDown(key: number): boolean {
    return key >= 0 && key < KEY_COUNT && this.down[key];
  }

  /** Milliseconds `key` has been held at `now`, or -1 when it is up. */
  heldFor(key: number, now: number): number {
    return this.isDown(key) ? now - this.downAt[key] : -1;
  }

  /** The queued events, emptying the queue. */
  drain(): InputEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }
}
