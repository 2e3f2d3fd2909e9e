// The DeviceScript program in its VM: bytecode size of mcu/devs/main.ts, VM heap used with 32
// profiles, and the time from a key event to the new frame being ready (the VM's own clock).
// Heap method: the VM exposes no heap statistics, so mcu/devs/heap.ts allocates 512-byte buffers until
// the 64 KB heap is exhausted; used = free heap of an empty program - free heap of the program with 32
// profiles and the menu open (both within 512 bytes). Latency: the program logs, for each frame, the
// VM milliseconds from the latest key edge to the frame being drawn (all its bands).
// Runs the VM with jacdac-ts on 127.0.0.1:8082 under the same lock as test/mcu-devs-vm.test.ts.
import { pathToFileURL } from "node:url";
import {
  encodeListBegin,
  encodeListCommit,
  encodeListItem,
  listCrc,
  MessageType,
  Result,
} from "../protocol/messages";
import { Key } from "../mcu/core/keys";
import { bytecodeBytes, devsBuild, devsRunTest } from "../test/helpers/devs";
import { acquireVmLock } from "../mcu/vm/lock";
import { VmRig } from "../mcu/vm/rig";
import { realisticProfiles } from "./protocol";

const PRESSES = 12;

function lastFree(lines: string[]): number {
  const free = lines.filter((l) => l.startsWith("HEAPFREE ")).pop();
  return free ? Number(free.slice(9)) : Number.NaN;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function bench(): Promise<Array<[string, string]>> {
  const rows: Array<[string, string]> = [];
  const build = await devsBuild("mcu/devs/main.ts");
  rows.push(["bytecode of mcu/devs/main.ts (devs build)", `${bytecodeBytes(build.output)} bytes`]);

  const base = await devsRunTest("mcu/devs/heap-baseline.devs.ts", 120_000);
  const free0 = lastFree(base.logs);
  rows.push(["VM heap free in an empty program", `${free0} bytes`]);

  const release = await acquireVmLock();
  const rig = new VmRig();
  try {
    await rig.start("mcu/devs/bench.devs.ts");
    await rig.waitLine(/^BOUND 14 of 14$/, 120_000);
    const profiles = realisticProfiles(32);
    const t0 = performance.now();
    let r = await rig.request(MessageType.LIST_BEGIN, encodeListBegin({ generation: 1, count: 32 }));
    for (let i = 0; i < 32 && r.result === Result.OK; i++) {
      r = await rig.request(
        MessageType.LIST_ITEM,
        encodeListItem({ generation: 1, index: i, record: profiles[i] }),
      );
    }
    if (r.result === Result.OK) {
      r = await rig.request(
        MessageType.LIST_COMMIT,
        encodeListCommit({ generation: 1, count: 32, listCrc: listCrc(profiles) }),
      );
    }
    if (r.result !== Result.OK)
      throw new Error(`32-profile list refused: ${Buffer.from(r.payload).toString()}`);
    rows.push([
      "32-profile list over the simulated UART (wall clock)",
      `${Math.round(performance.now() - t0)} ms`,
    ]);

    // Menu open with 32 profiles: power on (Key3 held 1 s) with OK held.
    let mark = rig.lines.length;
    await rig.keyDown(Key.OK);
    await rig.keyDown(Key.KEY3);
    await rig.waitLine(/^FRAME \d+ list /, 60_000, mark);
    await rig.keyUp(Key.KEY3);
    await rig.keyUp(Key.OK);
    const latencies: number[] = [];
    const renders: number[] = [];
    for (let i = 0; i < PRESSES; i++) {
      mark = rig.lines.length;
      await rig.press(Key.DOWN);
      const line = await rig.waitLine(/^FRAME \d+ list render \d+ latency \d+/, 60_000, mark);
      const m = /render (\d+) latency (\d+)/.exec(line);
      if (m) {
        renders.push(Number(m[1]));
        latencies.push(Number(m[2]));
      }
    }
    rows.push([
      `key event to frame ready, menu of 32 (VM ms, ${PRESSES} presses)`,
      `median ${median(latencies)}, max ${Math.max(...latencies)}`,
    ]);
    rows.push([
      "frame draw time (9 bands of 256x16, VM ms)",
      `median ${median(renders)}, max ${Math.max(...renders)}`,
    ]);

    mark = rig.lines.length;
    // Raw events: the probe's OutOfMemory restarts the program before it prints the key's Up.
    await rig.sendDown(Key.PTT);
    await rig.sendUp(Key.PTT);
    await rig.waitLine(/OutOfMemory|PANIC/, 120_000, mark);
    const free32 = lastFree(rig.lines.slice(mark).map((l) => l.text));
    rows.push(["VM heap free, 32 profiles, menu open", `${free32} bytes`]);
    rows.push(["VM heap used by the program with 32 profiles", `${free0 - free32} bytes (of a 64 KB heap)`]);

    // The probe's OutOfMemory restarts the program: it must load the 32 profiles back from flash.
    const ready = await rig.waitLine(/^READY /, 120_000, mark);
    rows.push(["program restart with 32 profiles in flash", ready.replace(/^READY /, "")]);
    await rig.waitLine(/^BOUND 14 of 14$/, 120_000, mark);
    // Replacing a full list stages 32 new records next to the 32 held: does it fit the heap?
    mark = rig.lines.length;
    const next = profiles.map((p) => ({ ...p, lastUsed: p.lastUsed + 1 }));
    let result = "OK";
    try {
      let q = await rig.request(
        MessageType.LIST_BEGIN,
        encodeListBegin({ generation: 2, count: 32 }),
        30_000,
      );
      for (let i = 0; i < 32 && q.result === Result.OK; i++) {
        q = await rig.request(
          MessageType.LIST_ITEM,
          encodeListItem({ generation: 2, index: i, record: next[i] }),
          30_000,
        );
      }
      if (q.result === Result.OK) {
        q = await rig.request(
          MessageType.LIST_COMMIT,
          encodeListCommit({ generation: 2, count: 32, listCrc: listCrc(next) }),
          30_000,
        );
      }
      if (q.result !== Result.OK) result = `refused (${q.result})`;
    } catch {
      const oom = rig.lines.slice(mark).some((l) => /OutOfMemory/.test(l.text));
      result = oom ? "no: OutOfMemory, the program restarts with the old list" : "no answer";
    }
    rows.push(["replace a 32-profile list with another 32 (64 KB heap)", result]);
  } finally {
    await rig.stop();
    release();
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [k, v] of await bench()) console.log(`${k.padEnd(60)} ${v}`);
  process.exit(0);
}
