// The filesystem underneath the store: btrfs-progs (subvolumes, snapshots, the read-only
// property), the top-level check, atomic file writes, rename and exchange, and turning what
// the kernel and the tools say into StoreErrors (ENOSPC -> no-space, not btrfs -> not-btrfs).
import { execFile } from "node:child_process";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { StoreError } from "./errors";

const BTRFS_SUPER_MAGIC = 0x9123683e;
/** Inode number of every btrfs subvolume's root directory (BTRFS_FIRST_FREE_OBJECTID). */
const SUBVOL_INO = 256;
/** The top level's subvolume id (BTRFS_FS_TREE_OBJECTID). */
const TOP_LEVEL_ID = 5;

const FREE_HINT = " (free space first, e.g. by deleting old snapshots or purging profiles)";
const NO_SPACE = /No space left on device|ENOSPC|Disk quota exceeded/i;
const NOT_BTRFS = /not a btrfs|Not a Btrfs|Inappropriate ioctl|ENOTTY/i;

/** A StoreError for what a tool or the kernel said, or null when it is none of the known kinds. */
export function classify(text: string, what: string): StoreError | null {
  if (NO_SPACE.test(text))
    return new StoreError("no-space", "the filesystem is full: " + what + " failed" + FREE_HINT);
  if (NOT_BTRFS.test(text)) {
    return new StoreError("not-btrfs", what + " failed: the store is not a btrfs filesystem");
  }
  return null;
}

/** Rethrows a Node fs error as a StoreError where it is one of the known kinds. */
export function fsError(e: unknown, what: string): Error {
  if (e instanceof StoreError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err.code === "ENOSPC" || err.code === "EDQUOT") {
    return new StoreError("no-space", "the filesystem is full: " + what + " failed" + FREE_HINT);
  }
  return new Error(what + " failed: " + err.message);
}

function exec(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: "utf8", maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
        const text = missing
          ? cmd + " is not installed (install btrfs-progs / perl-base)"
          : (stderr || err.message).trim();
        reject(Object.assign(new Error(text), { missing }));
      } else resolve(stdout);
    });
  });
}

/** Runs `btrfs ARGS`; failures become StoreErrors where classifiable, else one plain Error. */
export async function btrfs(args: string[], what: string): Promise<string> {
  try {
    return await exec("btrfs", args);
  } catch (e) {
    const msg = (e as Error).message;
    throw classify(msg, what) ?? new Error(what + " failed: " + msg);
  }
}

/**
 * Throws `not-btrfs` unless `store` is the top level (subvolid 5) of a mounted btrfs filesystem
 * (a plain folder, a missing path or a subvolume mounted on its own are refused).
 */
export async function assertTopLevel(store: string): Promise<void> {
  const rule = "must be the top level (subvolid=5) of a mounted btrfs filesystem";
  let fsType: number;
  let ino: number;
  try {
    fsType = (await fsp.statfs(store)).type;
    ino = (await fsp.stat(store)).ino;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "EACCES" || code === "EPERM"
        ? "(permission denied: run as root, or through the daemon's socket)"
        : "(" + code + ")";
    throw new StoreError(
      "not-btrfs",
      "store " + JSON.stringify(store) + " cannot be read " + why + ": " + rule,
    );
  }
  if (fsType !== BTRFS_SUPER_MAGIC) {
    throw new StoreError("not-btrfs", "store " + JSON.stringify(store) + " is not on btrfs: " + rule);
  }
  if (ino !== SUBVOL_INO || (await rootId(store)) !== TOP_LEVEL_ID) {
    throw new StoreError(
      "not-btrfs",
      "store " + JSON.stringify(store) + " is btrfs but not its top level: " + rule,
    );
  }
}

/** The id of the subvolume holding `p`. */
export async function rootId(p: string): Promise<number> {
  return Number((await btrfs(["inspect-internal", "rootid", p], "reading the subvolume id of " + p)).trim());
}

/** True when `p` is the root of a subvolume (not a plain folder, not a symlink). */
export async function isSubvolume(p: string): Promise<boolean> {
  const st = await fsp.lstat(p).catch(() => null);
  return st !== null && st.isDirectory() && st.ino === SUBVOL_INO;
}

export async function createSubvolume(p: string): Promise<void> {
  await btrfs(["subvolume", "create", p], "creating subvolume " + p);
}

/** A snapshot of subvolume `src` at `dst` (writable unless `readonly`). */
export async function snapshotSubvolume(src: string, dst: string, readonly = false): Promise<void> {
  await btrfs(
    ["subvolume", "snapshot", ...(readonly ? ["-r"] : []), src, dst],
    "snapshotting " + src + " to " + dst,
  );
}

export async function deleteSubvolume(p: string): Promise<void> {
  await btrfs(["subvolume", "delete", p], "deleting subvolume " + p);
}

export async function isReadonly(p: string): Promise<boolean> {
  return /ro=true/.test(await btrfs(["property", "get", "-ts", p, "ro"], "reading ro of " + p));
}

/** Removes `p` whatever it is: a subvolume (read-only or not), a folder tree or a file. */
export async function removeAny(p: string): Promise<void> {
  const st = await fsp.lstat(p).catch(() => null);
  if (st === null) return;
  if (st.isDirectory() && st.ino === SUBVOL_INO) {
    // A subvolume goes whole (the store never nests subvolumes inside one).
    await deleteSubvolume(p);
    return;
  }
  if (st.isDirectory()) {
    // A work folder may hold subvolumes (a snapshot being built): those need `subvolume delete`.
    for (const name of await fsp.readdir(p)) await removeAny(path.join(p, name));
    await fsp.rmdir(p);
    return;
  }
  await fsp.rm(p, { force: true });
}

/** Writes `file` whole or not at all: a temporary file beside it, fsync, rename, fsync of the folder. */
export async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = path.join(path.dirname(file), "." + path.basename(file) + ".tmp-" + process.pid);
  try {
    const h = await fsp.open(tmp, "w", 0o644);
    try {
      await h.writeFile(text);
      await h.sync();
    } finally {
      await h.close();
    }
    await fsp.rename(tmp, file);
    await syncDir(path.dirname(file));
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw fsError(e, "writing " + file);
  }
}

export async function syncDir(dir: string): Promise<void> {
  const h = await fsp.open(dir, "r");
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** One rename(2); the target must not exist (checked by the caller under the lock). */
export async function renameInto(from: string, to: string): Promise<void> {
  try {
    await fsp.rename(from, to);
  } catch (e) {
    throw fsError(e, "renaming " + from + " to " + to);
  }
}

// renameat2(2) syscall numbers per Node architecture (the generic table for arm64 and riscv64).
const RENAMEAT2: Record<string, number> = {
  x64: 316,
  ia32: 353,
  arm: 382,
  arm64: 276,
  riscv64: 276,
  ppc64: 357,
  s390x: 347,
  loong64: 276,
};
const AT_FDCWD = -100;
const RENAME_EXCHANGE = 2;

/**
 * Swaps `a` and `b` in one renameat2(RENAME_EXCHANGE): a reader sees either the old or the new
 * entry at each name, never none. Node has no binding for it and util-linux's `exch` is newer than
 * Debian 12's, so this goes through perl's syscall() (perl-base is Essential on Debian: always
 * there, no compiler, no native addon to ship per architecture) with the per-architecture number.
 */
export async function exchange(a: string, b: string): Promise<void> {
  const nr = RENAMEAT2[process.arch];
  if (nr === undefined) throw new Error("renameat2 syscall number unknown for architecture " + process.arch);
  const script = `syscall(${nr}, ${AT_FDCWD}, $ARGV[0], ${AT_FDCWD}, $ARGV[1], ${RENAME_EXCHANGE}) == 0 or die "$!\\n"`;
  try {
    await exec("perl", ["-e", script, a, b]);
  } catch (e) {
    const msg = (e as Error).message;
    throw (
      classify(msg, "exchanging " + a + " and " + b) ??
      new Error("exchanging " + a + " and " + b + " failed: " + msg)
    );
  }
}
