// Debian root filesystems made with mmdebstrap, cached under build/chroots/<name>-<recipe hash>/ and
// rebuilt when the recipe (suite, arch, variant, packages, commands, this file's version) changes.
// The mirror is the one the machine's apt sources use. Foreign architectures run their maintainer
// scripts through qemu-user-static and binfmt_misc (registered here when missing).
import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { aptMirrors } from "../../sim/linux/mirror";

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

/** The Debian mirror of this machine's apt sources (sim/linux/mirror.ts reads them for every builder). */
export function debianMirror(): string {
  return aptMirrors().main;
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

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
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
    await run("nice", ["mmdebstrap", ...args], timeoutMs);
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
