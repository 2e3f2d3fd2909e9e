// Profile store figures on a real btrfs (loop device): `profile clone` time and bytes used for
// uppers of 10, 1,000 and 10,000 files as a ratio to `cp -a` of the same upper (the seed promises
// "instant, costs ~nothing"); `base receive` against raw `btrfs receive` of the same stream (a real
// Debian base; goal <= 1.1x); `profile check` between two real bases (Debian bookworm and trixie
// minbase). Needs root, loop devices, btrfs-progs and mmdebstrap (bases cached under build/).
// Run alone: npx tsx bench/store.ts
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { receiveBase } from "../soc-bridge/store/base-receive";
import { checkProfile } from "../soc-bridge/store/profile-check";
import { cloneProfile } from "../soc-bridge/store/profiles";
import { makeBtrfs, makeProfile, seedStore } from "../test/helpers/btrfs";
import { debianBaseTarball, MINBASE } from "../sim/linux/debian";

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 << 20,
  });
}

/** Bytes the filesystem uses (data and metadata), after a commit. */
function used(mnt: string): number {
  sh("btrfs", ["filesystem", "sync", mnt]);
  const m = /^\s*Used:\s+(\d+)/m.exec(sh("btrfs", ["filesystem", "usage", "-b", mnt]));
  if (!m) throw new Error("btrfs filesystem usage printed no Used: line");
  return Number(m[1]);
}

const ms = (t0: number) => performance.now() - t0;
const fmtMs = (x: number) => (x < 10 ? x.toFixed(1) : Math.round(x).toString()) + " ms";
const fmtBytes = (b: number) =>
  b < 1 << 20 ? (b / 1024).toFixed(0) + " KiB" : (b / (1 << 20)).toFixed(1) + " MiB";
const ctxOf = (store: string) => ({
  store,
  booted: path.join(store, ".none"),
  cmdline: path.join(store, ".none"),
});

/** `n` files of 4 KiB (random, so nothing compresses or dedupes) in an upper tree 3 levels deep. */
function fillUpper(upper: string, n: number): number {
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const dir = path.join(upper, "usr/lib/d" + (i % 50), "e" + (Math.floor(i / 50) % 20));
    mkdirSync(dir, { recursive: true });
    const data = randomBytes(4096);
    writeFileSync(path.join(dir, "f" + i), data);
    bytes += data.length;
  }
  return bytes;
}

async function cloneFigures(rows: Array<[string, string]>): Promise<void> {
  const fs = makeBtrfs(1024);
  try {
    seedStore(fs.mnt, ["1.0"], []);
    for (const n of [10, 1000, 10000]) {
      const src = "src" + n;
      makeProfile(fs.mnt, { id: src, base: "1.0" });
      const upper = path.join(fs.mnt, "@profiles", src, "upper");
      const data = fillUpper(upper, n);
      let u0 = used(fs.mnt);
      let t0 = performance.now();
      await cloneProfile(ctxOf(fs.mnt), src, "clone" + n);
      const tClone = ms(t0);
      const bClone = used(fs.mnt) - u0;
      const cps: Array<[string, number, number]> = [];
      for (const [label, extra] of [
        ["cp -a", [] as string[]],
        ["cp -a --reflink=never", ["--reflink=never"]],
      ] as const) {
        const dst = path.join(fs.mnt, "cp-" + n + "-" + extra.length);
        u0 = used(fs.mnt);
        t0 = performance.now();
        sh("cp", ["-a", ...extra, upper, dst]);
        sh("sync", ["-f", dst]);
        cps.push([label, ms(t0), used(fs.mnt) - u0]);
      }
      rows.push([
        "clone, " + n + " files (" + fmtBytes(data) + ")",
        fmtMs(tClone) + ", " + fmtBytes(bClone) + " used",
      ]);
      for (const [label, t, b] of cps) {
        rows.push([
          "  " + label + " of the same upper",
          fmtMs(t) +
            ", " +
            fmtBytes(b) +
            " used (clone: " +
            (tClone / t).toFixed(2) +
            "x the time, " +
            (b > 0 ? (bClone / b).toFixed(3) + "x the bytes)" : "the copy allocated nothing new yet)"),
        ]);
      }
    }
  } finally {
    fs.cleanup();
  }
}

async function receiveFigures(rows: Array<[string, string]>, tarball: string): Promise<void> {
  // The stream: a real Debian base made read-only on a scratch btrfs and sent to a file.
  const src = makeBtrfs(1024, "source");
  const dir = mkdtempSync(path.join(os.tmpdir(), "fb-bench-stream-"));
  const dst = makeBtrfs(2048);
  try {
    const sub = path.join(src.mnt, "2.0");
    sh("btrfs", ["subvolume", "create", sub]);
    sh("tar", ["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", tarball, "-C", sub]);
    sh("btrfs", ["property", "set", "-ts", sub, "ro", "true"]);
    const stream = path.join(dir, "base.stream");
    sh("btrfs", ["send", "-q", "-f", stream, sub]);
    const size = Number(sh("stat", ["-c", "%s", stream]).trim());
    seedStore(dst.mnt, [], []);
    // Durable against durable: `base receive` returns with the base on disk (publishing it is a
    // snapshot, which commits a transaction), so raw `btrfs receive` is timed with the
    // `btrfs filesystem sync` that puts its data there too. Between rounds (untimed) the cleaner
    // finishes with deleted subvolumes (commit=5 so it need not wait for the default 30 s).
    sh("mount", ["-o", "remount,commit=5", dst.mnt]);
    const raw: number[] = [];
    const ours: number[] = [];
    const settle = () => {
      sh("btrfs", ["filesystem", "sync", dst.mnt]);
      sh("btrfs", ["subvolume", "sync", dst.mnt]);
    };
    // Alternate the two, five rounds each, so the machine's load falls on both alike.
    for (let i = 0; i < 5; i++) {
      const into = path.join(dst.mnt, "raw");
      mkdirSync(into);
      settle();
      let t0 = performance.now();
      sh("btrfs", ["receive", "-e", "-f", stream, into]);
      sh("btrfs", ["filesystem", "sync", dst.mnt]);
      raw.push(ms(t0));
      sh("btrfs", ["subvolume", "delete", path.join(into, "2.0")]);
      rmSync(into, { recursive: true });
      settle();
      t0 = performance.now();
      await receiveBase(ctxOf(dst.mnt), stream);
      sh("btrfs", ["filesystem", "sync", dst.mnt]);
      ours.push(ms(t0));
      sh("btrfs", ["subvolume", "delete", path.join(dst.mnt, "@base", "2.0")]);
    }
    const median = (l: number[]) => [...l].sort((x, y) => x - y)[l.length >> 1];
    const fig = (l: number[]) => fmtMs(median(l)) + " (all: " + l.map(fmtMs).join(", ") + ")";
    rows.push(["base receive stream (Debian " + MINBASE.suite + " minbase)", fmtBytes(size)]);
    rows.push(["raw btrfs receive + filesystem sync (median of 5)", fig(raw)]);
    rows.push(["base receive + filesystem sync (median of 5)", fig(ours)]);
    rows.push([
      "base receive / raw btrfs receive (goal <= 1.1x)",
      (median(ours) / median(raw)).toFixed(2) +
        "x median, " +
        (Math.min(...ours) / Math.min(...raw)).toFixed(2) +
        "x best",
    ]);
  } finally {
    dst.cleanup();
    src.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function checkFigures(rows: Array<[string, string]>, older: string, newer: string): Promise<void> {
  const fs = makeBtrfs(2048);
  try {
    for (const [ver, tar] of [
      ["1.0", older],
      ["2.0", newer],
    ]) {
      const sub = path.join(fs.mnt, "@base", ver);
      mkdirSync(path.dirname(sub), { recursive: true });
      sh("btrfs", ["subvolume", "create", sub]);
      sh("tar", ["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", tar, "-C", sub]);
      sh("btrfs", ["property", "set", "-ts", sub, "ro", "true"]);
    }
    // A profile as a year of use leaves it: every file under /etc edited, a few libraries
    // replaced, its own files, and a dpkg status with one package upgraded and one added.
    makeProfile(fs.mnt, { id: "used", base: "1.0" });
    const upper = path.join(fs.mnt, "@profiles/used/upper");
    const base = path.join(fs.mnt, "@base/1.0");
    sh("cp", ["-a", path.join(base, "etc"), path.join(upper, "etc")]);
    mkdirSync(path.join(upper, "usr/lib/x86_64-linux-gnu"), { recursive: true });
    for (const lib of ["libz.so.1", "libcrypt.so.1"]) {
      try {
        sh("cp", [
          "-aL",
          path.join(base, "usr/lib/x86_64-linux-gnu", lib),
          path.join(upper, "usr/lib/x86_64-linux-gnu"),
        ]);
      } catch {}
    }
    fillUpper(upper, 2000);
    mkdirSync(path.join(upper, "var/lib/dpkg"), { recursive: true });
    const status = execFileSync("cat", [path.join(base, "var/lib/dpkg/status")], { encoding: "utf8" });
    writeFileSync(
      path.join(upper, "var/lib/dpkg/status"),
      status.replace(/(Package: zlib1g\n(?:.+\n)*?Version: )(.+)/, "$1$2+local1") +
        "\nPackage: my-tool\nStatus: install ok installed\nArchitecture: all\nVersion: 1.0\nDescription: x\n",
    );
    const files = Number(sh("sh", ["-c", "find '" + upper + "' | wc -l"]).trim());
    const times: number[] = [];
    let report: Awaited<ReturnType<typeof checkProfile>> | null = null;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      report = await checkProfile(ctxOf(fs.mnt), "used", "2.0");
      times.push(ms(t0));
    }
    rows.push([
      "profile check, bookworm -> trixie minbase, upper of " + files + " entries",
      fmtMs(Math.min(...times)) + " best of 3 (" + times.map(fmtMs).join(", ") + ")",
    ]);
    rows.push([
      "  conflicts found",
      (report?.files.length ?? 0) + " files, " + (report?.packages.length ?? 0) + " packages",
    ]);
  } finally {
    fs.cleanup();
  }
}

export async function bench(): Promise<Array<[string, string]>> {
  const rows: Array<[string, string]> = [];
  const t0 = performance.now();
  const trixie = await debianBaseTarball(MINBASE);
  const bookworm = await debianBaseTarball({ ...MINBASE, suite: "bookworm" });
  rows.push(["Debian bases ready (cached; mmdebstrap when the recipe changed)", fmtMs(ms(t0))]);
  await cloneFigures(rows);
  await receiveFigures(rows, trixie);
  await checkFigures(rows, bookworm, trixie);
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  for (const [label, value] of await bench()) console.log(label.padEnd(64) + " " + value);
}
