// soc-bridge figures, against the real MCU endpoint (mcu/node NodeMcu) over socat ptys:
// full sync of 32 profiles (wire bytes, time, ratio to the wire time at the configured baud),
// a one-profile change (bytes sent; latency from the writer closing the file to the MCU's
// acknowledgement, for an atomic rename and for an in-place write), a burst of changes, the idle
// daemon's CPU time and wakeups over 60 s and its RSS (the bundled daemon as a child process), and
// CLI cold start against `node -e 0`. Run alone: npx tsx bench/bridge.ts
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { UART_BAUD } from "../protocol/frame";
import { type Daemon, type SyncInfo, startDaemon } from "../soc-bridge/daemon";
import { profileJson, tempDirs, waitUntil, writeProfile } from "../test/helpers/bridge-env";
import { realMcuOnPty } from "../test/helpers/mcu-endpoint";
import { PROFILE_NAMES } from "./protocol";

const ROOT = path.resolve(import.meta.dirname, "..");
const QUIET_MS = 10000;
const SETTLE_MAX_MS = 90000;
const IDLE_MS = 60000;
const BUNDLE = path.join(ROOT, "build", "bench", "flipper-boot.mjs");

function profileFor(i: number, hidden = false) {
  const id = "profile-" + String(i).padStart(2, "0");
  return profileJson(id, {
    name: PROFILE_NAMES[i % PROFILE_NAMES.length] + " " + (i + 1),
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

/** CPU time, RSS and wakeups (voluntary context switches, summed over all of its threads). */
function procStat(pid: number): { cpuMs: number; rssKb: number; wakeups: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  let wakeups = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${task}/status`, "utf8");
      wakeups += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return { cpuMs: (ticks * 1000) / 100, rssKb: rss, wakeups }; // USER_HZ is 100 on Linux
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

/** profile-07 as one in-place write (open with truncation, one write, close), like `echo > file`. */
function writeInPlace(store: string, hidden: boolean): void {
  const fd = openSync(path.join(store, "@profiles", "profile-07", "profile.json"), "w");
  try {
    writeSync(fd, JSON.stringify(profileFor(7, hidden), null, 2));
  } finally {
    closeSync(fd);
  }
}

/** One profile changed `rounds` times: latency from the writer's close (or rename) to the MCU's ack. */
async function oneChange(rounds: number, how: "rename" | "in-place") {
  const dirs = tempDirs("fb-bench-");
  const end = await realMcuOnPty();
  writeProfiles(dirs.store, 32);
  const d: Daemon = await startDaemon({ port: end.port, store: dirs.store, socket: null, log: () => {} });
  const lat: number[] = [];
  const sent: number[] = [];
  const total: number[] = [];
  try {
    await d.whenSynced();
    for (let r = 0; r < rounds; r++) {
      const before = d.status().stats!.bytesOut;
      const done = new Promise<SyncInfo>((resolve) => d.once("synced", resolve));
      const hidden = r % 2 === 0;
      let t0: number;
      if (how === "rename") {
        writeProfile(dirs.store, "profile-07", profileFor(7, hidden)); // temp file, then rename
        t0 = performance.now();
      } else {
        writeInPlace(dirs.store, hidden);
        t0 = performance.now();
      }
      const info = await done;
      lat.push(performance.now() - t0);
      if (info.kind !== "delta") throw new Error("expected a delta, got " + info.kind);
      sent.push(d.status().stats!.bytesOut - before);
      total.push(info.bytes);
      await waitUntil(
        () => end.profiles().find((p) => p.id === "profile-07")?.flags === (hidden ? 1 : 0),
        "the change on the MCU",
      );
      await d.whenSynced();
    }
  } finally {
    await d.stop();
    await end.close();
    dirs.cleanup();
  }
  return { latency: median(lat), max: Math.max(...lat), sent: median(sent), total: median(total) };
}

/** Every one of 32 profiles rewritten at once (atomic renames): how many syncs, and when the last lands. */
async function burst() {
  const dirs = tempDirs("fb-bench-");
  const end = await realMcuOnPty();
  writeProfiles(dirs.store, 32);
  const d: Daemon = await startDaemon({ port: end.port, store: dirs.store, socket: null, log: () => {} });
  try {
    await d.whenSynced();
    const syncs: SyncInfo[] = [];
    d.on("synced", (s: SyncInfo) => syncs.push(s));
    for (let i = 0; i < 32; i++)
      writeProfile(dirs.store, "profile-" + String(i).padStart(2, "0"), profileFor(i, true));
    const t0 = performance.now();
    await waitUntil(() => end.profiles().every((p) => p.flags === 1), "the burst on the MCU", 60000);
    const ms = performance.now() - t0;
    await d.whenSynced();
    return { syncs: syncs.length, kinds: syncs.map((s) => s.kind).join(", "), ms };
  } finally {
    await d.stop();
    await end.close();
    dirs.cleanup();
  }
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
    // Start-up work ends with V8's memory reducer (a few GCs some seconds after the last
    // allocation burst, later on a loaded machine): the idle window starts once the daemon has
    // not woken for QUIET_MS (or after SETTLE_MAX_MS).
    const settleStart = performance.now();
    let last = procStat(child.pid!).wakeups;
    let quietSince = performance.now();
    while (performance.now() - quietSince < QUIET_MS && performance.now() - settleStart < SETTLE_MAX_MS) {
      await new Promise((r) => setTimeout(r, 1000));
      const w = procStat(child.pid!).wakeups;
      if (w !== last) quietSince = performance.now();
      last = w;
    }
    const settledAfter = (performance.now() - settleStart) / 1000;
    const a = procStat(child.pid!);
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const b = procStat(child.pid!);
    const cpu = b.cpuMs - a.cpuMs;
    const s = IDLE_MS / 1000;
    rows.push([
      `daemon idle CPU over ${s} s (32 profiles, watching)`,
      `${cpu.toFixed(0)} ms (${((cpu / IDLE_MS) * 100).toFixed(2)} %)`,
    ]);
    rows.push([
      `daemon idle wakeups over ${s} s (voluntary context switches, all threads)`,
      `${b.wakeups - a.wakeups} (window opened ${settledAfter.toFixed(0)} s after the sync)`,
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
  const baud = UART_BAUD;
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
  const c = await oneChange(15, "rename");
  rows.push(["one-profile change: bytes sent (PUT_PROFILE frame)", `${c.sent} B (${c.total} B both ways)`]);
  rows.push([
    "one-profile change, atomic rename: rename -> MCU ack (median, max of 15)",
    `${c.latency.toFixed(1)} ms, ${c.max.toFixed(1)} ms`,
  ]);
  const ip = await oneChange(15, "in-place");
  rows.push([
    "one-profile change, in-place write: close -> MCU ack (median, max of 15)",
    `${ip.latency.toFixed(1)} ms, ${ip.max.toFixed(1)} ms`,
  ]);
  const bu = await burst();
  rows.push([
    "burst: 32 profiles rewritten at once -> all on the MCU",
    `${bu.ms.toFixed(0)} ms, ${bu.syncs} syncs (${bu.kinds})`,
  ]);
  rows.push(...(await childDaemon()));
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [k, v] of await bench()) console.log(`${k.padEnd(60)} ${v}`);
}
