// Simulator figures for `npm run bench`: start-up, one full simulated power-on to bootargs (the
// first with a cold QEMU, then warm ones) split by stage, and the simulator's memory; then the
// same with the compiled program in the DeviceScript VM (`--mcu vm`), and what mirroring its frames costs.
//   npx tsx bench/sim.ts
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { compiled } from "../mcu/vm/bytecode";
import { Simulation } from "../sim/engine";
import type { BootRecord } from "../sim/types";
import { VM_PROGRAM, type VmMcu } from "../sim/mcu-vm";

const WARM_RUNS = 5;
const VM_WARM_RUNS = 3;

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Resident memory (kB) of this process's children by command name (QEMU, socat). */
function childrenRss(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const status = readFileSync("/proc/" + pid + "/status", "utf8");
      const ppid = /^PPid:\s+(\d+)/m.exec(status);
      if (!ppid || Number(ppid[1]) !== process.pid) continue;
      const name = /^Name:\s+(.*)$/m.exec(status)![1];
      const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
      out[name] = (out[name] ?? 0) + (rss ? Number(rss[1]) : 0);
    } catch {
      // gone
    }
  }
  return out;
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(1) + " MB";
const ms = (n: number) => n + " ms";

function stageRows(label: string, b: BootRecord): Array<[string, string]> {
  const s = b.stages;
  return [
    [label + ": power-on to mark-good", ms(s.totalMs)],
    [label + ":   zero-wait decision", ms(s.decisionMs)],
    [
      label + ":   U-Boot to bootargs",
      ms(s.ubootMs) + (b.uboot.coldStartMs ? " (QEMU cold start " + b.uboot.coldStartMs + " ms)" : ""),
    ],
    [label + ":   Linux mark-good", ms(s.linuxMs)],
    [label + ":   bridge sync", ms(s.syncMs)],
  ];
}

export async function bench(): Promise<Array<[string, string]>> {
  const rows: Array<[string, string]> = [];
  const t0 = Date.now();
  const sim = new Simulation();
  try {
    await sim.start();
    rows.push(["sim start (socat, MCU, bridge, first sync)", ms(Date.now() - t0)]);
    await sim.powerOn([]);
    const cold = await sim.waitBoot();
    if (!cold.bootargs?.includes("flipper.profile=")) throw new Error("unexpected bootargs " + cold.bootargs);
    rows.push(...stageRows("sim cold power-on", cold));
    const warm: BootRecord[] = [];
    for (let i = 0; i < WARM_RUNS; i++) {
      await sim.powerOn([]);
      warm.push(await sim.waitBoot());
    }
    const pick = (f: (b: BootRecord) => number) => median(warm.map(f));
    const s = {
      total: pick((b) => b.stages.totalMs),
      decision: pick((b) => b.stages.decisionMs),
      uboot: pick((b) => b.stages.ubootMs),
      linux: pick((b) => b.stages.linuxMs),
      sync: pick((b) => b.stages.syncMs),
    };
    const label = "sim warm power-on (median of " + WARM_RUNS + ")";
    rows.push(
      [label + ": power-on to mark-good", ms(s.total)],
      [label + ":   zero-wait decision", ms(s.decision)],
      [label + ":   U-Boot to bootargs", ms(s.uboot)],
      [label + ":   Linux mark-good", ms(s.linux)],
      [label + ":   bridge sync", ms(s.sync)],
    );
    // A menu boot: power on holding OK, Down, OK (key timing is real time).
    await sim.powerOn(["ok"]);
    await sim.press("down");
    await sim.press("ok");
    const menu = await sim.waitBoot();
    rows.push(["sim menu power-on (hold OK, Down, OK)", ms(menu.stages.totalMs)]);
    const mem = process.memoryUsage();
    rows.push(["sim memory: Node RSS (MCU, bridge, engine)", mb(mem.rss)]);
    rows.push(["sim memory: Node heap used", mb(mem.heapUsed)]);
    const kids = childrenRss();
    for (const name of Object.keys(kids).sort())
      rows.push(["sim memory: " + name + " RSS", mb(kids[name] * 1024)]);
  } finally {
    await sim.close();
  }
  rows.push(...(await benchVm()));
  return rows;
}

/** The same flow with the compiled program in the DeviceScript VM (`--mcu vm`). */
async function benchVm(): Promise<Array<[string, string]>> {
  const rows: Array<[string, string]> = [];
  const tc = Date.now();
  await compiled(VM_PROGRAM);
  rows.push(["sim --mcu vm: devs build of the program (once a process)", ms(Date.now() - tc)]);
  const t0 = Date.now();
  const sim = new Simulation({ mcu: "vm" });
  try {
    await sim.start();
    rows.push(["sim --mcu vm: start (VM, bridge, first sync)", ms(Date.now() - t0)]);
    await sim.powerOn([]);
    await sim.waitBoot();
    const warm: BootRecord[] = [];
    for (let i = 0; i < VM_WARM_RUNS; i++) {
      await sim.powerOn([]);
      warm.push(await sim.waitBoot());
    }
    rows.push([
      "sim --mcu vm: warm power-on to mark-good (median of " + VM_WARM_RUNS + ")",
      ms(median(warm.map((b) => b.stages.totalMs))) +
        " (decision " +
        ms(median(warm.map((b) => b.stages.decisionMs))) +
        ", incl. the 1 s power key hold)",
    ]);
    await sim.powerOn(["ok"]);
    await sim.press("down");
    await sim.press("ok");
    const menu = await sim.waitBoot();
    rows.push(["sim --mcu vm: menu power-on (hold OK, Down, OK)", ms(menu.stages.totalMs)]);
    const vm = sim.mcu as VmMcu;
    const st = vm.frameStats();
    rows.push([
      "sim --mcu vm: frame draw with PIX lines (VM ms, " + st.renderMs.length + " frames)",
      "median " + median(st.renderMs) + ", max " + Math.max(...st.renderMs),
    ]);
    rows.push([
      "sim --mcu vm: PIX text a frame",
      (st.mirrorChars / st.renderMs.length / 1024).toFixed(1) + " KB",
    ]);
  } finally {
    await sim.close();
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [label, value] of await bench()) console.log(label.padEnd(56) + " " + value);
}
