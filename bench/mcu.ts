// bench/mcu.ts: the MCU core in Node: flash bytes with 32 profiles, flash writes per boot (wear),
// key-to-frame time, full-frame render time, and the cost of a 32-profile list sync.
// Run alone: npx tsx bench/mcu.ts   (the VM figures are in bench/mcu-vm.ts)
import { PROFILE_ID_MAX, type ProfileRecord } from "../protocol/profile";
import {
  encodeListBegin,
  encodeListCommit,
  encodeListItem,
  encodeMarkGood,
  listCrc,
  MessageType,
} from "../protocol/messages";
import { encodeFrame, FrameKind } from "../protocol/frame";
import { BootCore } from "../mcu/core/core";
import { Key } from "../mcu/core/keys";
import { MemoryFlash } from "../mcu/node/flash";
import { Framebuffer } from "../mcu/node/framebuffer";

function big(i: number): ProfileRecord {
  const n = String(i).padStart(2, "0");
  return {
    id: ("x" + n).padEnd(PROFILE_ID_MAX, "z"),
    name: ("Profile " + n + " ").padEnd(48, "n"),
    base: "1234.1234.1",
    flags: 0,
    created: 1760000000,
    lastUsed: 1763000000,
    origin: "o".padEnd(PROFILE_ID_MAX, "q"),
  };
}

function typical(i: number): ProfileRecord {
  return {
    id: `profile-${i}`,
    name: `Profile number ${i}`,
    base: "1.4.2",
    flags: 0,
    created: 1760000000,
    lastUsed: 1763000000,
    origin: i > 0 ? "profile-0" : "",
  };
}

function frame(type: number, seq: number, payload: number[]): number[] {
  return encodeFrame({ type, seq, kind: FrameKind.REQUEST, result: 0, payload });
}

/** A core on a memory flash with `list` committed over the link; returns it and the flash. */
function withList(list: ProfileRecord[]) {
  const flash = new MemoryFlash();
  const core = new BootCore({ send() {}, final() {} }, { instance: 1 });
  core.load(flash);
  let seq = 0;
  const rx = (type: number, payload: number[]) => {
    core.uartReceive(frame(type, ++seq & 0xff, payload), 0);
    flash.writeAll(core.takeWrites());
  };
  rx(MessageType.LIST_BEGIN, encodeListBegin({ generation: 1, count: list.length }));
  for (let index = 0; index < list.length; index++) {
    rx(MessageType.LIST_ITEM, encodeListItem({ generation: 1, index, record: list[index] }));
  }
  rx(
    MessageType.LIST_COMMIT,
    encodeListCommit({ generation: 1, count: list.length, listCrc: listCrc(list) }),
  );
  return { core, flash, rx };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function us(ms: number): string {
  return `${(ms * 1000).toFixed(1)} µs`;
}

export async function bench(): Promise<Array<[string, string]>> {
  const rows: Array<[string, string]> = [];

  // Flash use with 32 profiles (both banks hold a list after two syncs: the worst case).
  for (const [label, make] of [
    ["largest", big],
    ["typical", typical],
  ] as const) {
    const list = Array.from({ length: 32 }, (_, i) => make(i));
    const { flash, rx } = withList(list);
    rx(MessageType.LIST_BEGIN, encodeListBegin({ generation: 2, count: 32 }));
    for (let index = 0; index < list.length; index++) {
      rx(MessageType.LIST_ITEM, encodeListItem({ generation: 2, index, record: list[index] }));
    }
    rx(MessageType.LIST_COMMIT, encodeListCommit({ generation: 2, count: 32, listCrc: listCrc(list) }));
    let maxValue = 0;
    for (const k of flash.keys()) maxValue = Math.max(maxValue, flash.read(k)!.length);
    rows.push([
      `flash used, 32 ${label} profiles (keys + values, both banks)`,
      `${flash.bytesUsed()} B in ${flash.keys().length} records (largest value ${maxValue} B)`,
    ]);
  }

  // Wear: writes per boot when the same good profile boots again and again.
  {
    const { core, flash, rx } = withList(Array.from({ length: 8 }, (_, i) => typical(i)));
    const boot = () => {
      core.powerOn([], 0);
      flash.writeAll(core.takeWrites());
      rx(MessageType.MARK_GOOD, encodeMarkGood({ sequence: core.selection().sequence, id: "" }));
    };
    let w = flash.writeCount;
    boot();
    const first = flash.writeCount - w;
    w = flash.writeCount;
    const n = 1000;
    for (let i = 0; i < n; i++) boot();
    rows.push([
      "flash writes per good boot of the same profile",
      `first boot ${first}, then ${((flash.writeCount - w) / n).toFixed(3)} per boot (${flash.writeCount - w} in ${n}; the boot sequence is reserved 256 at a time)`,
    ]);
    // A boot of a profile that never reports success: one write per try.
    core.powerOn([Key.OK], 0);
    core.keyUp(Key.OK, 1);
    core.keyDown(Key.DOWN, 2);
    core.keyUp(Key.DOWN, 3);
    flash.writeAll(core.takeWrites());
    w = flash.writeCount;
    core.keyDown(Key.OK, 4);
    core.keyUp(Key.OK, 5);
    flash.writeAll(core.takeWrites());
    rows.push(["flash writes for a boot that counts a new try", `${flash.writeCount - w}`]);
  }

  // Full-frame render (a list of 32 with a scrollbar), Node framebuffer.
  {
    const { core } = withList(Array.from({ length: 32 }, (_, i) => big(i)));
    core.powerOn([Key.OK], 0);
    const fb = new Framebuffer();
    const times: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t0 = performance.now();
      core.render(fb);
      times.push(performance.now() - t0);
    }
    const calls = fb.fillCalls / 300;
    rows.push([
      "full-frame render, Node (median of 300)",
      `${us(median(times))} (${calls} fillRect calls a frame)`,
    ]);

    // Key to frame: keyDown+keyUp (a short press moves the selection) until the new frame is drawn.
    const k2f: number[] = [];
    let now = 10;
    for (let i = 0; i < 300; i++) {
      const t0 = performance.now();
      core.keyDown(Key.DOWN, now);
      core.keyUp(Key.DOWN, now + 1);
      if (core.needsRender()) core.render(fb);
      k2f.push(performance.now() - t0);
      now += 10;
    }
    rows.push(["key event to new frame ready, Node (median of 300)", us(median(k2f))]);
  }

  // Redraws during a 5 s countdown ticked every 20 ms (only when the seconds or the bar's pixels change).
  {
    const { core, rx } = withList(Array.from({ length: 8 }, (_, i) => typical(i)));
    rx(MessageType.SET_OPTIONS, [5, 0, 3]);
    core.powerOn([], 0);
    const fb = new Framebuffer();
    let frames = 0;
    for (let now = 0; now <= 5200; now += 20) {
      core.tick(now);
      if (core.needsRender()) {
        core.render(fb);
        frames++;
      }
    }
    rows.push([
      "frames drawn during a 5 s countdown (ticks every 20 ms)",
      `${frames} of ${5200 / 20 + 1} ticks`,
    ]);
  }

  // A full sync of 32 largest profiles, MCU side only (decode, validate, stage, commit, flash).
  {
    const list = Array.from({ length: 32 }, (_, i) => big(i));
    const times: number[] = [];
    for (let r = 0; r < 20; r++) {
      const t0 = performance.now();
      withList(list);
      times.push(performance.now() - t0);
    }
    rows.push([
      "32-profile list sync handled by the core, Node (median of 20)",
      `${median(times).toFixed(2)} ms`,
    ]);
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [label, value] of await bench()) console.log(`${label.padEnd(64)} ${value}`);
}
