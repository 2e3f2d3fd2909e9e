// Stage 1 of the test guest: a minimal Debian trixie amd64 root filesystem (systemd, a kernel,
// initramfs-tools, btrfs-progs, Node 20 from Debian) built with mmdebstrap from the machine's own
// apt mirror, kept as a tarball under build/linux/ and rebuilt only when its recipe changes.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { aptMirrors } from "./mirror";
import { shStream } from "./run";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const LINUX_BUILD_DIR = join(REPO_ROOT, "build", "linux");

/**
 * trixie: Flipper OS's release, and its nodejs (20.19) runs the bundled bridge (serialport 13 needs
 * node >= 20; bookworm has 18).
 */
export const SUITE = "trixie";
export const PACKAGES = [
  "systemd-sysv",
  "udev",
  "kmod",
  "linux-image-amd64",
  "initramfs-tools",
  "zstd",
  "btrfs-progs",
  "nodejs",
  // flipper-boot's own dependency (fw_setenv), so `dpkg -i` of the package resolves offline
  "libubootenv-tool",
  // the simulator's FlipCTL panel runs flipper-boot commands in the live guest through guest-exec
  "qemu-guest-agent",
];

export interface RootfsRecipe {
  suite: string;
  packages: string[];
  sources: string[];
}

export function rootfsRecipe(): RootfsRecipe {
  const m = aptMirrors();
  const sources = [`deb ${m.main} ${SUITE} main`, `deb ${m.main} ${SUITE}-updates main`];
  if (m.security) sources.push(`deb ${m.security} ${SUITE}-security main`);
  return { suite: SUITE, packages: PACKAGES, sources };
}

/** The recipe's hash: the mirror is part of it only by its suites, so another mirror reuses the cache. */
export function rootfsHash(r: RootfsRecipe = rootfsRecipe()): string {
  const suites = r.sources.map((s) => s.split(" ").slice(2).join(" "));
  return createHash("sha256")
    .update(JSON.stringify({ suite: r.suite, packages: r.packages, suites, v: 1 }))
    .digest("hex")
    .slice(0, 16);
}

export const ROOTFS_TAR = join(LINUX_BUILD_DIR, "rootfs.tar");
const ROOTFS_HASH = join(LINUX_BUILD_DIR, "rootfs.hash");

export function rootfsFresh(): boolean {
  return (
    existsSync(ROOTFS_TAR) &&
    existsSync(ROOTFS_HASH) &&
    readFileSync(ROOTFS_HASH, "utf8").trim() === rootfsHash()
  );
}

/** Builds build/linux/rootfs.tar when missing or stale; returns its path. */
export async function ensureRootfs(progress: (line: string) => void = () => {}): Promise<string> {
  if (rootfsFresh()) return ROOTFS_TAR;
  const recipe = rootfsRecipe();
  const hash = rootfsHash(recipe);
  mkdirSync(LINUX_BUILD_DIR, { recursive: true });
  const tmp = `${ROOTFS_TAR}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  progress(
    `rootfs: mmdebstrap ${recipe.suite} (${recipe.packages.join(", ")}) from ${recipe.sources[0]} ...`,
  );
  const t0 = Date.now();
  try {
    await shStream(
      "nice",
      [
        "mmdebstrap",
        "--mode=root",
        "--variant=minbase",
        "--format=tar",
        `--include=${recipe.packages.join(",")}`,
        recipe.suite,
        tmp,
        ...recipe.sources,
      ],
      (line) => {
        if (/^I: |^E: |^W: /.test(line)) progress(`rootfs: ${line}`);
      },
    );
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  renameSync(tmp, ROOTFS_TAR);
  writeFileSync(ROOTFS_HASH, `${hash}\n`);
  recordBuildTime("rootfs", Date.now() - t0);
  progress(`rootfs: built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return ROOTFS_TAR;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureRootfs((l) => console.error(l)).then(
    (p) => console.log(p),
    (e) => {
      console.error(`rootfs: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}

const TIMES = join(LINUX_BUILD_DIR, "build-times.json");

/** Remembers how long a build stage took (bench/linux.ts reports it). */
export function recordBuildTime(stage: string, ms: number): void {
  const t = buildTimes();
  t[stage] = ms;
  writeFileSync(TIMES, `${JSON.stringify(t)}\n`);
}

export function buildTimes(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(TIMES, "utf8")) as Record<string, number>;
  } catch {
    return {};
  }
}
