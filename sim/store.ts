// The simulation's profile store on a real btrfs image (when it can mount one: root, loop devices,
// btrfs in the kernel), so FlipCTL creates, clones, resets and deletes through the real lifecycle
// commands (soc-bridge/store, the same table the CLI and the daemon's socket run). Otherwise the
// store is a plain folder and FlipCTL writes profile.json files, and the page says which.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import "../soc-bridge/store/base-commands";
import { runStoreCommand } from "../soc-bridge/store/commands";
import type { StoreContext } from "../soc-bridge/store/profiles";

export type StoreKind = "btrfs" | "folder";

export interface SimStore {
  kind: StoreKind;
  /** Why the store is a folder (what was missing), or "" on btrfs. */
  why: string;
  /** Runs one lifecycle command (btrfs only). */
  run(cmd: string, args: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Unmounts and detaches (btrfs); safe to call twice. */
  close(): void;
}

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** What the machine lacks for a btrfs image, or "" when it has everything. */
export function btrfsMissing(): string {
  const missing: string[] = [];
  if (process.getuid && process.getuid() !== 0) missing.push("root");
  if (!existsSync("/dev/loop-control")) missing.push("loop devices");
  const fss = existsSync("/proc/filesystems") ? readFileSync("/proc/filesystems", "utf8") : "";
  if (!/\bbtrfs\b/.test(fss)) missing.push("btrfs in the kernel");
  for (const tool of ["mkfs.btrfs", "btrfs", "losetup"]) {
    try {
      sh("sh", ["-c", "command -v " + tool]);
    } catch {
      missing.push(tool);
    }
  }
  return missing.join(", ");
}

export function folderStore(why: string): SimStore {
  return {
    kind: "folder",
    why,
    run: async () => {
      throw new Error("the profile store is a plain folder (" + why + "): lifecycle commands need btrfs");
    },
    close: () => {},
  };
}

/**
 * A small read-only base at `<top>/@base/<ver>`: what `profile check` and the overlay would see of
 * a Debian root (/etc/machine-id "uninitialized", /etc/os-release).
 */
export function makeBase(
  top: string,
  ver: string,
  prettyName = "Flipper OS (simulated base " + ver + ")",
): void {
  mkdirSync(join(top, "@base"), { recursive: true });
  const p = join(top, "@base", ver);
  sh("btrfs", ["subvolume", "create", p]);
  mkdirSync(join(p, "etc"));
  writeFileSync(join(p, "etc", "machine-id"), "uninitialized\n");
  writeFileSync(join(p, "etc", "os-release"), 'PRETTY_NAME="' + prettyName + '"\n');
  sh("btrfs", ["property", "set", "-ts", p, "ro", "true"]);
}

export interface MountedImage {
  loop: string;
  /** Unmounts (lazily when busy) and detaches the loop device; safe to call twice. */
  close(): void;
}

/**
 * Mounts the btrfs image `image` at `mountAt` (its top level, subvolid 5) through a loop device.
 * On failure nothing stays attached or mounted.
 */
export function mountImage(image: string, mountAt: string): MountedImage {
  let loop = "";
  let mounted = false;
  const close = () => {
    if (mounted) {
      try {
        sh("umount", [mountAt]);
      } catch {
        sh("umount", ["-l", mountAt]);
      }
      mounted = false;
    }
    if (loop) {
      try {
        sh("losetup", ["-d", loop]);
      } catch {}
      loop = "";
    }
  };
  try {
    mkdirSync(mountAt, { recursive: true });
    loop = sh("losetup", ["-f", "--show", image]).trim();
    sh("mount", ["-t", "btrfs", "-o", "subvolid=5", loop, mountAt]);
    mounted = true;
  } catch (e) {
    close();
    throw e;
  }
  return { loop, close };
}

/**
 * Mounts (creating it when missing) `<dir>/store.img` as btrfs at `mountAt`, with the folders
 * STORE.md names and the bases `bases`. The image stays in `dir` (a kept --dir keeps its profiles).
 */
export function btrfsStore(dir: string, mountAt: string, bases: string[]): SimStore {
  const image = join(dir, "store.img");
  const fresh = !existsSync(image);
  let mount: MountedImage | null = null;
  try {
    if (fresh) {
      sh("truncate", ["-s", "512M", image]);
      sh("mkfs.btrfs", ["-q", "-L", "flipper", image]);
    }
    mount = mountImage(image, mountAt);
    for (const d of ["@base", "@profiles", "@snapshots", "@staged"])
      mkdirSync(join(mountAt, d), { recursive: true });
    if (!existsSync(join(mountAt, "@data"))) sh("btrfs", ["subvolume", "create", join(mountAt, "@data")]);
    for (const b of bases) if (!existsSync(join(mountAt, "@base", b))) makeBase(mountAt, b);
  } catch (e) {
    mount?.close();
    if (fresh) rmSync(image, { force: true });
    throw e;
  }
  const mounted = mount;
  // Nothing runs on the store's side of the simulation (its Linux is simulated, no overlay is
  // mounted): no booted file, no kernel command line.
  const none = join(dir, "no-booted-file");
  const ctx: StoreContext = { store: mountAt, booted: none, cmdline: none };
  return {
    kind: "btrfs",
    why: "",
    run: async (cmd, args) => (await runStoreCommand(cmd, args, ctx)) as Record<string, unknown>,
    close: () => mounted.close(),
  };
}

/**
 * The store a simulation asked for: "folder" (or a --store folder given), "btrfs" (throws when it
 * cannot be mounted) or "auto" (btrfs when this machine can mount it, else the folder, saying why).
 * `bases` are the base versions the profiles name (1.1 and 1.2 are always made).
 */
export function openStore(
  kind: "auto" | "btrfs" | "folder",
  dir: string,
  storeDir: string,
  bases: string[],
  storeDirGiven = false,
): SimStore {
  if (storeDirGiven) return folderStore("--store names a folder");
  if (kind === "folder") return folderStore("the folder store was chosen");
  const missing = btrfsMissing();
  if (missing) {
    if (kind === "btrfs") throw new Error("a btrfs store needs: " + missing);
    return folderStore("a btrfs image needs " + missing);
  }
  const wanted = [...new Set(["1.1", "1.2", ...bases])];
  try {
    return btrfsStore(
      dir,
      storeDir,
      wanted.filter((b) => /^\d{1,4}(\.\d{1,4}){1,3}$/.test(b)),
    );
  } catch (e) {
    if (kind === "btrfs") throw e;
    return folderStore("the btrfs image could not be mounted: " + (e as Error).message.split("\n")[0]);
  }
}
