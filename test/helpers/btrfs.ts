// Real btrfs filesystems for tests and benchmarks: an image file, mkfs.btrfs, a loop device, a mount
// on a unique folder; a seeded store (bases, profiles, @data) and a context for calling the store
// code in-process. Teardown always unmounts, detaches and removes.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type MountedImage, makeBase, mountImage } from "../../sim/store";

export interface BtrfsFs {
  /** The mount point: the btrfs top level (subvolid 5). */
  mnt: string;
  image: string;
  loop: string;
  /** Unmounts, detaches the loop device and removes the folder; safe to call twice. */
  cleanup(): void;
}

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Throws one error naming everything missing for real btrfs tests (never a skip). */
export function requireBtrfs(): void {
  const missing: string[] = [];
  if (process.getuid && process.getuid() !== 0) missing.push("root (loop devices and mounts)");
  for (const tool of ["mkfs.btrfs", "btrfs", "losetup", "mount", "umount", "perl"]) {
    try {
      sh("sh", ["-c", "command -v " + tool]);
    } catch {
      missing.push(
        tool + (tool === "perl" ? " (perl-base)" : tool.includes("btrfs") ? " (btrfs-progs)" : ""),
      );
    }
  }
  if (!existsSync("/dev/loop-control")) missing.push("/dev/loop-control (the loop driver)");
  const fss = existsSync("/proc/filesystems") ? readFileSync("/proc/filesystems", "utf8") : "";
  if (!/\bbtrfs\b/.test(fss)) missing.push("btrfs in the running kernel (/proc/filesystems)");
  if (missing.length) throw new Error("real btrfs tests need: " + missing.join(", "));
}

// The simulator's btrfs store mounts its image and makes its bases the same way.
export { makeBase, mountImage };

/** A fresh btrfs of `sizeMb` (below 110 MB, mkfs.btrfs's minimum, it is made with --mixed). */
export function makeBtrfs(sizeMb = 128, label = "flipper"): BtrfsFs {
  requireBtrfs();
  const dir = mkdtempSync(path.join(os.tmpdir(), "fb-btrfs-"));
  const image = path.join(dir, "disk.img");
  const mnt = path.join(dir, "top");
  mkdirSync(mnt);
  let mount: MountedImage | null = null;
  const cleanup = () => {
    mount?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    sh("truncate", ["-s", sizeMb + "M", image]);
    sh("mkfs.btrfs", ["-q", ...(sizeMb < 110 ? ["--mixed"] : []), "-L", label, image]);
    mount = mountImage(image, mnt);
  } catch (e) {
    cleanup();
    throw e;
  }
  return {
    mnt,
    image,
    get loop() {
      return mount?.loop ?? "";
    },
    cleanup,
  };
}

export interface SeedProfile {
  id: string;
  name?: string;
  base: string;
  /** Files in upper/, path -> content. */
  files?: Record<string, string>;
  extra?: Record<string, unknown>;
}

/** A profile made the way an installer would (not by the code under test). */
export function makeProfile(mnt: string, p: SeedProfile): void {
  mkdirSync(path.join(mnt, "@profiles"), { recursive: true });
  const dir = path.join(mnt, "@profiles", p.id);
  sh("btrfs", ["subvolume", "create", dir]);
  mkdirSync(path.join(dir, "upper"));
  mkdirSync(path.join(dir, "work"));
  for (const [f, content] of Object.entries(p.files ?? {})) {
    mkdirSync(path.dirname(path.join(dir, "upper", f)), { recursive: true });
    writeFileSync(path.join(dir, "upper", f), content);
  }
  const json = {
    id: p.id,
    name: p.name ?? "Profile " + p.id,
    base: p.base,
    created: "2026-01-01T00:00:00Z",
    lastUsed: null,
    origin: null,
    ...p.extra,
  };
  writeFileSync(path.join(dir, "profile.json"), JSON.stringify(json, null, 2) + "\n");
}

/** A store with bases, profiles, @data and the empty folders STORE.md names. */
export function seedStore(mnt: string, bases: string[], profiles: SeedProfile[]): void {
  for (const b of bases) makeBase(mnt, b);
  for (const p of profiles) makeProfile(mnt, p);
  mkdirSync(path.join(mnt, "@profiles"), { recursive: true });
  mkdirSync(path.join(mnt, "@snapshots"), { recursive: true });
  mkdirSync(path.join(mnt, "@staged"), { recursive: true });
  if (!existsSync(path.join(mnt, "@data"))) sh("btrfs", ["subvolume", "create", path.join(mnt, "@data")]);
}

/** A real btrfs with a seeded store, torn down by t.teardown. */
export function btrfsStore(
  t: { teardown(fn: () => void): void },
  bases: string[] = ["1.0", "1.2"],
  profiles: SeedProfile[] = [],
  sizeMb = 128,
): BtrfsFs {
  const fs = makeBtrfs(sizeMb);
  t.teardown(() => fs.cleanup());
  seedStore(fs.mnt, bases, profiles);
  return fs;
}

/** Subvolume paths (relative to the top) and which of them are read-only. */
export function subvolumes(mnt: string): { all: string[]; readonly: string[] } {
  const parse = (out: string) =>
    out
      .split("\n")
      .map((l) => /\bpath (.*)$/.exec(l)?.[1])
      .filter((x): x is string => !!x)
      .map((p) => p.replace(/^<FS_TREE>\//, ""))
      .sort();
  return {
    all: parse(sh("btrfs", ["subvolume", "list", mnt])),
    readonly: parse(sh("btrfs", ["subvolume", "list", "-r", mnt])),
  };
}

/**
 * A booted file (STORE.md, "What booted") beside the store, naming `running` ("" = a recovery boot):
 * the store code reads the running profile from it. Returns its path.
 */
export function writeBooted(store: string, running: string, base = ""): string {
  const file = path.join(path.dirname(store), "booted");
  writeFileSync(
    file,
    "profile=" + running + "\nbase=" + base + "\naction=" + (running ? "boot" : "recovery") + "\n",
  );
  return file;
}

/** A store context on `store` (what the store code takes); `running` writes a booted file naming it. */
export function storeAt(
  store: string,
  running: string | null = null,
): { store: string; booted: string; cmdline: string } {
  const none = path.join(store, ".no-such-file");
  return { store, booted: running === null ? none : writeBooted(store, running), cmdline: none };
}
