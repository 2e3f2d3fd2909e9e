// soc-bridge figures, against the real MCU endpoint (mcu/node NodeMcu) over socat ptys:
// full sync of 32 profiles (wire bytes, time, ratio to the wire time at the configured baud),
// a one-profile change (bytes sent, latency from the file write to the MCU's acknowledgement),
// daemon idle CPU over 10 s and RSS (the bundled daemon as a child process), and CLI cold start
// against `node -e 0`. Run alone: npx tsx bench/bridge.ts
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { DEFAULT_BAUD } from "../soc-bridge/serial";
import { type Daemon, type SyncInfo, startDaemon } from "../soc-bridge/daemon";
import { profileJson, tempDirs, waitUntil, writeProfile } from "../test/helpers/bridge-env";
import { realMcuOnPty } from "../test/helpers/mcu-endpoint";

const ROOT = path.resolve(import.meta.dirname, "..");
const BUNDLE = path.join(ROOT, "build", "bench", "flipper-boot.mjs");
const NAMES = [
  "Desktop",
  "Pentest lab",
  "Router (OpenWrt style)",
  "Kiosk",
  "Work laptop replacement",
  "SDR receiver",
  "Retro gaming",
  "Clean base",
];

function profileFor(i: number, hidden = false) {
  const id = "profile-" + String(i).padStart(2, "0");
  return profileJson(id, {
    name: NAMES[i % NAMES.length] + " " + (i + 1),
    base: "1.4." + (i % 3),
    created: "2026-01-" + String((i % 28) + 1).padStart(2, "0") + "T10:00:00Z",
    lastUsed: 1767000000 + i * 3600,
    origin: i > 0 ? "profile-00" : null,
    hidden,
    kernelOptions: "quiet loglevel=3",
    overlays: i % 4 === 0 ? ["spi-lcd"] : [],
  });
}

function writeProfiles(store: string, n: number): void {
  for (let i = 0; i < n; i++) writeProfile(store, "profile-" + String(i).padStart(2, "0"), profileFor(i));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const wireMs = (bytes: number, baud: number) => (bytes * 10 * 1000) / baud; // 8N1: 10 bits a byte

function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    execFile(cmd, args, (e) => (e && e.code !== 0 ? reject(e) : resolve(performance.now() - t0)));
  });
}

function procStat(pid: number): { cpuMs: number; rssKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuMs: (ticks * 1000) / 100, rssKb: rss }; // USER_HZ is 100 on Linux
}

async function fullSyncs(
  rounds: number,
): Promise<{ full: SyncInfo[]; verified: SyncInfo[]; flashWrites: number[] }> {
  const out: SyncInfo[] = [];
  const verified: SyncInfo[] = [];
  const flashWrites: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const dirs = tempDirs("fb-bench-");
    const end = await realMcuOnPty(); // an empty MCU: the sync is a real transfer
    writeProfiles(dirs.store, 32);
    const infos: SyncInfo[] = [];
    const d = await startDaemon({ port: end.port, store: dirs.store, socket: null, log: () => {} });
    d.on("synced", (s: SyncInfo) => infos.push(s));
    try {
      await d.whenSynced();
      if (infos[0]?.kind !== "full" || end.profiles().length !== 32)
        throw new Error("the sync was not a full transfer");
      out.push(infos[0]);
      await d.stop();
      // A daemon restart with the MCU already in sync: read back, nothing written.
      const writesBefore = end.flash.writeCount;
      const again: SyncInfo[] = [];
      const d2 = await startDaemon({ port: end.port, store: dirs.store, socket: null, log: () => {} });
      d2.on("synced", (x: SyncInfo) => again.push(x));
      await d2.whenSynced();
      await d2.stop();
      if (again[0]?.kind !== "verified") throw new Error("the restart was not a read-back");
      verified.push(again[0]);
      flashWrites.push(end.flash.writeCount - writesBefore);
    } finally {
      await d.stop();
      await end.close();
      dirs.cleanup();
    }
  }
  return { full: out, verified, flashWrites };
}

async function oneChange(rounds: number, debounceMs: number) {
  const dirs = tempDirs("fb-bench-");
  const end = await realMcuOnPty();
  writeProfiles(dirs.store, 32);
  const d: Daemon = await startDaemon({
    port: end.port,
    store: dirs.store,
    socket: null,
    debounceMs,
    log: () => {},
  });
  const lat: number[] = [];
  const sent: number[] = [];
  const total: number[] = [];
  try {
    await d.whenSynced();
    for (let r = 0; r < rounds; r++) {
      const before = d.status().stats!.bytesOut;
      const done = new Promise<SyncInfo>((resolve) => d.once("synced", resolve));
      const t0 = performance.now();
      writeProfile(dirs.store, "profile-07", profileFor(7, r % 2 === 0));
      const info = await done;
      lat.push(performance.now() - t0);
      if (info.kind !== "delta") throw new Error("expected a delta, got " + info.kind);
      sent.push(d.status().stats!.bytesOut - before);
      total.push(info.bytes);
      await waitUntil(
        () => end.profiles().find((p) => p.id === "profile-07")?.flags === (r % 2 === 0 ? 1 : 0),
        "the change on the MCU",
      );
    }
  } finally {
    await d.stop();
    await end.close();
    dirs.cleanup();
  }
  return { latency: median(lat), sent: median(sent), total: median(total) };
}

async function childDaemon(): Promise<Array<[string, string]>> {
  const dirs = tempDirs("fb-bench-");
  const end = await realMcuOnPty();
  writeProfiles(dirs.store, 32);
  let child: ChildProcess | null = null;
  const rows: Array<[string, string]> = [];
  try {
    child = spawn(
      process.execPath,
      [
        BUNDLE,
        "daemon",
        "--port",
        end.port,
        "--store",
        dirs.store,
        "--socket",
        dirs.socket,
        "--boot-dir",
        dirs.boot,
        "--state-dir",
        dirs.state,
      ],
      { stdio: ["ignore", "ignore", "ignore"] },
    );
    await waitUntil(() => end.profiles().length === 32, "the child daemon's sync", 60000);
    await new Promise((r) => setTimeout(r, 3000)); // let start-up GC settle
    const a = procStat(child.pid!);
    await new Promise((r) => setTimeout(r, 10000));
    const b = procStat(child.pid!);
    const cpu = b.cpuMs - a.cpuMs;
    rows.push([
      "daemon idle CPU over 10 s (32 profiles, watching)",
      `${cpu.toFixed(0)} ms (${((cpu / 10000) * 100).toFixed(2)} %)`,
    ]);
    rows.push(["daemon RSS (bundled, idle, 32 profiles)", `${(b.rssKb / 1024).toFixed(1)} MiB`]);
    // CLI cold start: node -e 0 vs the bundled CLI (startup only, and a status through the daemon).
    const base: number[] = [];
    const help: number[] = [];
    const status: number[] = [];
    for (let i = 0; i < 10; i++) {
      base.push(await run(process.execPath, ["-e", "0"]));
      help.push(await run(process.execPath, [BUNDLE, "--help"]));
      status.push(await run(process.execPath, [BUNDLE, "status", "--json", "--socket", dirs.socket]));
    }
    const b0 = median(base);
    rows.push(["node -e 0 (median of 10)", `${b0.toFixed(0)} ms`]);
    rows.push([
      "CLI cold start: flipper-boot --help",
      `${median(help).toFixed(0)} ms (${(median(help) / b0).toFixed(2)}x node -e 0)`,
    ]);
    rows.push([
      "CLI cold start: flipper-boot status --json via daemon",
      `${median(status).toFixed(0)} ms (${(median(status) / b0).toFixed(2)}x node -e 0)`,
    ]);
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    await end.close();
    dirs.cleanup();
  }
  return rows;
}

export async function bench(): Promise<Array<[string, string]>> {
  await new Promise<void>((resolve, reject) =>
    execFile(process.execPath, ["--import=tsx", "soc-bridge/build.ts", BUNDLE], { cwd: ROOT }, (e) =>
      e ? reject(e) : resolve(),
    ),
  );
  const rows: Array<[string, string]> = [];
  const baud = DEFAULT_BAUD;
  const both = await fullSyncs(5);
  const fs = both.full;
  const ms = median(fs.map((s) => s.ms));
  const bytes = median(fs.map((s) => s.bytes));
  const wire = wireMs(bytes, baud);
  rows.push(["full sync, 32 profiles over a pty: wire bytes (both ways)", `${bytes} B`]);
  rows.push(["full sync, 32 profiles: time (median of 5)", `${ms} ms`]);
  rows.push([
    `full sync: wire time at ${baud} baud (8N1)`,
    `${wire.toFixed(2)} ms (time/wire ${(ms / wire).toFixed(1)}x; a pty does not pace)`,
  ]);
  const vms = median(both.verified.map((s) => s.ms));
  const vbytes = median(both.verified.map((s) => s.bytes));
  rows.push([
    "daemon start, MCU already in sync: read-back of 32",
    `${vms} ms, ${vbytes} B (wire ${wireMs(vbytes, baud).toFixed(1)} ms), ${Math.max(...both.flashWrites)} MCU flash writes`,
  ]);
  const c = await oneChange(7, 150);
  rows.push(["one-profile change: bytes sent (PUT_PROFILE frame)", `${c.sent} B (${c.total} B both ways)`]);
  rows.push(["one-profile change: file write -> MCU ack (debounce 150 ms)", `${c.latency.toFixed(0)} ms`]);
  const c0 = await oneChange(7, 0);
  rows.push(["one-profile change: file write -> MCU ack (debounce 0)", `${c0.latency.toFixed(1)} ms`]);
  rows.push(...(await childDaemon()));
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [k, v] of await bench()) console.log(`${k.padEnd(60)} ${v}`);
}
