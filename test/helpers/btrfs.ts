// Real btrfs filesystems for tests: an image file, mkfs.btrfs, a loop device, a mount on a unique
// folder; a seeded store (bases, profiles, @data); a listing of the whole tree to prove that a
// refused command changed nothing. Teardown always unmounts, detaches and removes.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";

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

/** A fresh btrfs of `sizeMb` (at least 110 MB, mkfs.btrfs's minimum without --mixed). */
export function makeBtrfs(sizeMb = 128, label = "flipper"): BtrfsFs {
  requireBtrfs();
  const dir = mkdtempSync(path.join(os.tmpdir(), "fb-btrfs-"));
  const image = path.join(dir, "disk.img");
  const mnt = path.join(dir, "top");
  mkdirSync(mnt);
  let loop = "";
  let mounted = false;
  const cleanup = () => {
    if (mounted) {
      try {
        sh("umount", [mnt]);
      } catch {
        sh("umount", ["-l", mnt]);
      }
      mounted = false;
    }
    if (loop) {
      try {
        sh("losetup", ["-d", loop]);
      } catch {}
      loop = "";
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    sh("truncate", ["-s", sizeMb + "M", image]);
    sh("mkfs.btrfs", ["-q", ...(sizeMb < 110 ? ["--mixed"] : []), "-L", label, image]);
    loop = sh("losetup", ["-f", "--show", image]).trim();
    sh("mount", ["-t", "btrfs", "-o", "subvolid=5", loop, mnt]);
    mounted = true;
  } catch (e) {
    cleanup();
    throw e;
  }
  return {
    mnt,
    image,
    get loop() {
      return loop;
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

/** A read-only base: a tiny root with /etc/machine-id "uninitialized" and /etc/os-release. */
export function makeBase(mnt: string, ver: string): void {
  mkdirSync(path.join(mnt, "@base"), { recursive: true });
  const p = path.join(mnt, "@base", ver);
  sh("btrfs", ["subvolume", "create", p]);
  mkdirSync(path.join(p, "etc"));
  writeFileSync(path.join(p, "etc", "machine-id"), "uninitialized\n");
  writeFileSync(path.join(p, "etc", "os-release"), 'PRETTY_NAME="Flipper OS base ' + ver + '"\n');
  sh("btrfs", ["property", "set", "-ts", p, "ro", "true"]);
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
 * Every entry under the top level with its kind and a content hash, plus which entries are
 * subvolumes and which read-only: equal listings mean nothing changed. The lock file is left out.
 */
export function treeListing(mnt: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = path.join(mnt, rel);
    for (const name of readdirSync(abs).sort()) {
      const r = rel ? rel + "/" + name : name;
      if (r === ".flipper-lock") continue;
      const st = lstatSync(path.join(mnt, r));
      if (st.isSymbolicLink()) out.push(r + " -> link");
      else if (st.isDirectory()) {
        out.push(r + "/" + (st.ino === 256 ? " subvolume" : ""));
        walk(r);
      } else {
        out.push(
          r +
            " " +
            createHash("sha256")
              .update(readFileSync(path.join(mnt, r)))
              .digest("hex")
              .slice(0, 16),
        );
      }
    }
  };
  walk("");
  const sv = subvolumes(mnt);
  for (const r of sv.readonly) out.push("ro " + r);
  return out;
}
