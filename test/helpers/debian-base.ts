// A minimal real Debian root filesystem (mmdebstrap), built once per recipe and cached as a tarball
// under build/debian-base/. Used as a real `@base/<ver>` by the store tests and benchmarks (apt and
// dpkg inside an overlay of it, `profile check` between two real bases).
import { execFile } from "node:child_process";
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
  writeSync,
} from "node:fs";
import path from "node:path";
import { aptMirrors } from "../../sim/linux/mirror";
import { promisify } from "node:util";

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

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const suite = process.argv[2] ?? SHIPPED_SUITE;
  const t0 = performance.now();
  const f = await debianBaseTarball({ ...MINBASE, suite }, (l) => console.error(l));
  console.log(f + " (" + Math.round((performance.now() - t0) / 1000) + " s)");
}
