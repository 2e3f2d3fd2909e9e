// The Debian roots the tests and benchmarks build with mmdebstrap from the machine's own apt mirror
// (mirror.ts), each cached under build/ and rebuilt when its recipe changes; the test guest's own
// root is rootfs.ts. Here:
// - a minimal base as a tarball under build/debian-base/ (debianBaseTarball): a real `@base/<ver>`
//   for the store tests and benchmarks (apt and dpkg inside an overlay of it, `profile check`);
// - roots as folders under build/chroots/<name>-<recipe hash>/ (cachedChroot), for any architecture:
//   foreign ones run their maintainer scripts through qemu-user-static and binfmt_misc (registered
//   here when missing); the package test and the ARM chain use them.
import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { aptMirrors } from "./mirror";

const run = promisify(execFile);

export const BASE_CACHE = path.resolve(import.meta.dirname, "../../build/debian-base");

export interface BaseRecipe {
  suite: string;
  variant: "minbase" | "essential";
  include: string[];
}

/** The suite the project ships (the guest and the package target it). */
export const SHIPPED_SUITE = "trixie";

/** What a base needs beside minbase for flipper-boot's store commands to run in it. */
export const MINBASE: BaseRecipe = {
  suite: SHIPPED_SUITE,
  variant: "minbase",
  include: ["btrfs-progs", "attr"],
};

/** The Debian mirror of this machine's apt sources (sim/linux/mirror.ts reads them for every builder). */
export function debianMirror(): string {
  return aptMirrors().main;
}

function recipeKey(r: BaseRecipe): string {
  const text = JSON.stringify({ suite: r.suite, variant: r.variant, include: [...r.include].sort(), v: 1 });
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}

/** Path of the cached tarball for `recipe`, building it first when missing (minutes; logged). */
export async function debianBaseTarball(
  recipe: BaseRecipe = MINBASE,
  log = (_l: string) => {},
): Promise<string> {
  mkdirSync(BASE_CACHE, { recursive: true });
  const out = path.join(BASE_CACHE, `${recipe.variant}-${recipe.suite}-${recipeKey(recipe)}.tar`);
  if (existsSync(out)) return out;
  for (const tool of ["mmdebstrap"]) {
    try {
      await run("sh", ["-c", "command -v " + tool]);
    } catch {
      throw new Error(tool + " is missing: apt-get install --no-install-recommends mmdebstrap");
    }
  }
  // One builder at a time per recipe: a second process waits for the first one's tarball.
  const lock = out + ".lock";
  for (;;) {
    try {
      const fd = openSync(lock, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch {
      if (existsSync(out)) return out;
      // A builder that was killed leaves its lock: take it over when its process is gone.
      const pid = Number(readFileSync(lock, "utf8").trim() || "0");
      let alive = pid > 0;
      try {
        if (alive) process.kill(pid, 0);
      } catch {
        alive = false;
      }
      if (!alive) rmSync(lock, { force: true });
      else await new Promise((r) => setTimeout(r, 2000));
    }
  }
  try {
    if (existsSync(out)) return out;
    const tmp = out + ".part.tar";
    rmSync(tmp, { force: true });
    const t0 = performance.now();
    const args = ["--quiet", "--variant=" + recipe.variant];
    if (recipe.include.length > 0) args.push("--include=" + recipe.include.join(","));
    args.push(recipe.suite, tmp, debianMirror());
    log("building a Debian " + recipe.suite + " " + recipe.variant + " base with mmdebstrap (minutes)");
    await run("nice", ["mmdebstrap", ...args], { maxBuffer: 64 * 1024 * 1024 });
    renameSync(tmp, out);
    // The same variant and suite built from an older recipe is not used again.
    const prefix = recipe.variant + "-" + recipe.suite + "-";
    for (const f of readdirSync(BASE_CACHE)) {
      if (f.startsWith(prefix) && f.endsWith(".tar") && f !== path.basename(out))
        rmSync(path.join(BASE_CACHE, f));
    }
    log("built " + path.basename(out) + " in " + Math.round((performance.now() - t0) / 1000) + " s");
    return out;
  } finally {
    rmSync(lock, { force: true });
  }
}

// --- roots as folders, any architecture ---

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const RECIPE_VERSION = 1;

export interface ChrootRecipe {
  /** short name, part of the cache folder's name */
  name: string;
  suite: string;
  /** Debian architecture: amd64, arm64, armhf */
  arch: string;
  variant?: "minbase" | "essential" | "apt";
  include: string[];
  /** mmdebstrap --customize-hook commands ("$1" is the root) */
  customize?: string[];
}

const QEMU_USER: Record<string, string> = { armhf: "arm", armel: "arm", arm64: "aarch64" };

/** binfmt_misc mounted and qemu-user-static registered for `arch` (a no-op for the host's arch). */
export function ensureBinfmt(arch: string): void {
  const host = execFileSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).trim();
  if (arch === host) return;
  const q = QEMU_USER[arch];
  if (!q) throw new Error("no qemu-user mapping for architecture " + arch);
  if (!existsSync("/usr/bin/qemu-" + q + "-static")) {
    throw new Error("qemu-" + q + "-static missing: apt-get install qemu-user-static binfmt-support");
  }
  const bm = "/proc/sys/fs/binfmt_misc";
  if (!existsSync(bm + "/status")) {
    execFileSync("mount", ["-t", "binfmt_misc", "binfmt_misc", bm]);
  }
  if (!existsSync(bm + "/qemu-" + q)) {
    execFileSync("update-binfmts", ["--enable", "qemu-" + q]);
  }
  if (!existsSync(bm + "/qemu-" + q)) {
    throw new Error("binfmt_misc has no qemu-" + q + " entry after update-binfmts --enable qemu-" + q);
  }
}

function recipeHash(r: ChrootRecipe): string {
  const data = JSON.stringify({ RECIPE_VERSION, ...r, include: [...r.include].sort() });
  return createHash("sha256").update(data).digest("hex").slice(0, 12);
}

/** A command's stdout and stderr, asynchronously (minutes under qemu-user); its stderr's end on failure. */
export function runTimed(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err)
        reject(
          new Error(cmd + " " + args.join(" ") + " failed: " + err.message + "\n" + stderr.slice(-4000)),
        );
      else resolve(stdout + stderr);
    });
  });
}

/** Where `recipe`'s root lives (built or not). */
/**
 * A writable root over the cached root `lower`: an overlay whose upper, work and merged folders are
 * made in `dir`, so what a test installs there never reaches the cache. `unmount()` is safe twice.
 */
export function overlayOverRoot(lower: string, dir: string): { root: string; unmount(): void } {
  const root = path.join(dir, "merged");
  for (const d of ["upper", "work", "merged"]) mkdirSync(path.join(dir, d), { recursive: true });
  const opts = `lowerdir=${lower},upperdir=${path.join(dir, "upper")},workdir=${path.join(dir, "work")}`;
  execFileSync("mount", ["-t", "overlay", "-o", opts, "overlay", root]);
  let mounted = true;
  return {
    root,
    unmount() {
      if (!mounted) return;
      try {
        execFileSync("umount", [root]);
      } catch {
        execFileSync("umount", ["-l", root]);
      }
      mounted = false;
    },
  };
}

export function chrootDir(recipe: ChrootRecipe): string {
  return path.join(ROOT, "build", "chroots", recipe.name + "-" + recipeHash(recipe));
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/**
 * The root filesystem for `recipe`, built on first use (minutes) and reused afterwards. Several test
 * processes may ask at once: one builds (holding a lock folder), the others wait for it.
 */
export async function cachedChroot(recipe: ChrootRecipe, timeoutMs = 30 * 60_000): Promise<string> {
  const dir = chrootDir(recipe);
  const base = path.dirname(dir);
  const done = path.join(dir, ".flipper-recipe.json");
  if (existsSync(done)) return dir;
  mkdirSync(base, { recursive: true });
  const lock = dir + ".lock";
  const t0 = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another process is building it; a lock older than the timeout is from a crashed build.
      if (existsSync(done)) return dir;
      try {
        if (Date.now() - statSync(lock).mtimeMs > timeoutMs) rmSync(lock, { recursive: true, force: true });
      } catch {}
      if (Date.now() - t0 > timeoutMs) throw new Error("timed out waiting for another build of " + dir);
      await sleep(2000);
    }
  }
  try {
    if (existsSync(done)) return dir;
    ensureBinfmt(recipe.arch);
    const tmp = dir + ".tmp";
    rmSync(tmp, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    const args = [
      "--mode=root",
      "--variant=" + (recipe.variant ?? "minbase"),
      "--arch=" + recipe.arch,
      "--include=" + recipe.include.join(","),
      ...(recipe.customize ?? []).map((c) => "--customize-hook=" + c),
      recipe.suite,
      tmp,
      debianMirror(),
    ];
    await runTimed("nice", ["mmdebstrap", ...args], timeoutMs);
    writeFileSync(path.join(tmp, ".flipper-recipe.json"), JSON.stringify(recipe, null, 2) + "\n");
    renameSync(tmp, dir);
    // Older builds of the same name (an earlier recipe) are dead weight.
    for (const f of readdirSync(base)) {
      const old = path.join(base, f);
      if (
        f.startsWith(recipe.name + "-") &&
        old !== dir &&
        !f.endsWith(".lock") &&
        !f.endsWith(".tmp") &&
        !existsSync(old + ".lock")
      ) {
        rmSync(old, { recursive: true, force: true });
      }
    }
    return dir;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const suite = process.argv[2] ?? SHIPPED_SUITE;
  const t0 = performance.now();
  const f = await debianBaseTarball({ ...MINBASE, suite }, (l) => console.error(l));
  console.log(f + " (" + Math.round((performance.now() - t0) / 1000) + " s)");
}
