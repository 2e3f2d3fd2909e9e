// Stage 2 of the test guest: the btrfs disk (label `flipper`) as protocol/STORE.md lays it out, and
// the kernel and initramfs to boot it. Base 1.0 is the stage-1 rootfs with flipper-boot installed by
// `dpkg -i` of its amd64 package (built by soc-bridge/package.ts, as `npm run package` does) and the
// test units; base 1.1 is a snapshot of it with one file changed. Profiles carry a marker file in
// their upper. Rebuilt when an input changes (the rootfs recipe, the package's bytes, this recipe).
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import {
  GUEST_DEFAULTS,
  HEALTH_UNIT,
  QUICK_INIT,
  QUICK_SCRIPT,
  REPORT_SCRIPT,
  REPORT_UNIT,
  TEST_ACTIONS,
} from "./guest-files";
import { ensureRootfs, LINUX_BUILD_DIR, REPO_ROOT, recordBuildTime, rootfsHash, ROOTFS_TAR } from "./rootfs";
import { buildPackages } from "../../soc-bridge/package";
import { sh, shStream, Undo, withLock } from "./run";

/** The built image's files (renamed into place whole; rigs hard-link what they boot). */
export const IMAGE_DIR = join(LINUX_BUILD_DIR, "image");
export const DISK_IMAGE = join(IMAGE_DIR, "disk.img");
export const KERNEL = join(IMAGE_DIR, "vmlinuz");
export const INITRD = join(IMAGE_DIR, "initrd.img");
const DISK_HASH = join(IMAGE_DIR, "disk.hash");
const IMAGE_RECIPE_VERSION = 4;

export interface TestProfile {
  id: string;
  name: string;
  base: string;
  /** Extra files in the upper (path relative to / -> content). */
  files?: Record<string, string>;
}

/** The profiles on the test disk; each upper holds /etc/flipper-marker-<id>. */
export const TEST_PROFILES: TestProfile[] = [
  { id: "main", name: "Main", base: "1.0" },
  { id: "work", name: "Work", base: "1.1" },
  { id: "lab", name: "Lab", base: "1.1" },
  // Its health check fails (see guest-files.ts): never marked good.
  { id: "broken", name: "Broken", base: "1.1", files: { "etc/flipper-test-unhealthy": "yes\n" } },
];
export const TEST_BASES = ["1.0", "1.1"];
export const DATA_FILE = "owner-notes.txt";

/** Where the image's own amd64 package is built (apart from build/deb, which the package tests use). */
const DEB_DIR = join(LINUX_BUILD_DIR, "deb");

/** The amd64 package built by the same code as `npm run package`, or null before the first build. */
export function debPackage(): string | null {
  if (!fs.existsSync(DEB_DIR)) return null;
  const debs = fs
    .readdirSync(DEB_DIR)
    .filter((f) => /^flipper-boot_.*_amd64\.deb$/.test(f))
    .map((f) => join(DEB_DIR, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  return debs[0] ?? null;
}

function hashInputs(): string {
  const h = createHash("sha256");
  h.update(`${rootfsHash()} v${IMAGE_RECIPE_VERSION}\n`);
  h.update(JSON.stringify({ TEST_PROFILES, TEST_BASES }));
  // The guest files as this process runs them, and this recipe; the package carries the rest.
  h.update(
    JSON.stringify({ GUEST_DEFAULTS, HEALTH_UNIT, QUICK_SCRIPT, REPORT_SCRIPT, REPORT_UNIT, TEST_ACTIONS }),
  );
  h.update(fs.readFileSync(join(REPO_ROOT, "sim/linux/image.ts")));
  const deb = debPackage();
  h.update(deb ? fs.readFileSync(deb) : "no package");
  return h.digest("hex").slice(0, 16);
}

export function imageFresh(): boolean {
  return (
    fs.existsSync(DISK_IMAGE) &&
    fs.existsSync(KERNEL) &&
    fs.existsSync(INITRD) &&
    fs.existsSync(DISK_HASH) &&
    fs.readFileSync(DISK_HASH, "utf8").trim() === hashInputs()
  );
}

function write(path: string, text: string, mode = 0o644): void {
  fs.mkdirSync(join(path, ".."), { recursive: true });
  fs.writeFileSync(path, text);
  fs.chmodSync(path, mode);
}

/** profile.json as protocol/PROTOCOL.md describes it; sortKey keeps the menu in TEST_PROFILES order. */
export function profileJson(p: TestProfile): string {
  const sortKey = String(TEST_PROFILES.indexOf(p));
  return `${JSON.stringify({ id: p.id, name: p.name, base: p.base, created: "2026-01-01T00:00:00Z", sortKey }, null, 2)}\n`;
}

function enable(root: string, unit: string, target: string): void {
  const dir = join(root, "etc/systemd/system", `${target}.wants`);
  fs.mkdirSync(dir, { recursive: true });
  sh("ln", ["-sf", `/etc/systemd/system/${unit}`, join(dir, unit)]);
}

/** Builds build/linux/{disk.img,vmlinuz,initrd.img} when missing or stale. */
export async function ensureImage(progress: (line: string) => void = () => {}): Promise<void> {
  fs.mkdirSync(LINUX_BUILD_DIR, { recursive: true });
  await withLock(
    join(LINUX_BUILD_DIR, ".lock"),
    async () => {
      await ensureRootfs(progress);
      // The package is rebuilt every time (seconds; reproducible bytes): the image follows its content.
      fs.rmSync(DEB_DIR, { recursive: true, force: true });
      // A fixed date: the package's bytes then change with its content only, not with every commit.
      const epoch = process.env.SOURCE_DATE_EPOCH;
      process.env.SOURCE_DATE_EPOCH = "1764547200";
      try {
        await buildPackages({ arches: ["amd64"], outDir: DEB_DIR, log: (l) => progress(`image: ${l}`) });
      } finally {
        if (epoch === undefined) delete process.env.SOURCE_DATE_EPOCH;
        else process.env.SOURCE_DATE_EPOCH = epoch;
      }
      if (!imageFresh()) await buildImage(progress);
    },
    (pid) => progress(`image: waiting for process ${pid}, which is building the image`),
  );
}

async function buildImage(progress: (line: string) => void): Promise<void> {
  const hash = hashInputs();
  const t0 = Date.now();
  // Beside the build folder (same filesystem: the results are renamed into place).
  fs.mkdirSync(LINUX_BUILD_DIR, { recursive: true });
  const work = fs.mkdtempSync(join(LINUX_BUILD_DIR, ".work-"));
  const undo = new Undo();
  const img = join(work, "disk.img");
  try {
    sh("truncate", ["-s", "6G", img]);
    sh("mkfs.btrfs", ["-q", "-L", "flipper", img]);
    const loop = sh("losetup", ["-f", "--show", img]).trim();
    undo.push("losetup -d", () => sh("losetup", ["-d", loop]));
    const top = join(work, "top");
    fs.mkdirSync(top);
    sh("mount", ["-t", "btrfs", loop, top]);
    undo.push("umount top", () => sh("umount", [top]));
    for (const d of ["@base", "@profiles", "@snapshots", "@staged"]) fs.mkdirSync(join(top, d));
    const b0 = join(top, "@base", "1.0");
    sh("btrfs", ["subvolume", "create", b0]);
    progress("image: unpacking the rootfs into @base/1.0");
    sh("tar", ["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", ROOTFS_TAR, "-C", b0]);

    // flipper-boot, the way the device gets it.
    const chrootMounts = new Undo();
    const chrootErrors: string[] = [];
    try {
      for (const [type, dir] of [
        ["proc", "proc"],
        ["sysfs", "sys"],
        ["devtmpfs", "dev"],
      ]) {
        sh("mount", ["-t", type, type, join(b0, dir)]);
        chrootMounts.push(`umount ${dir}`, () => sh("umount", ["-l", join(b0, dir)]));
      }
      const deb = debPackage();
      if (!deb) throw new Error(`no flipper-boot_*_amd64.deb in ${DEB_DIR}`);
      progress(`image: dpkg -i ${deb.slice(REPO_ROOT.length + 1)} in @base/1.0`);
      fs.copyFileSync(deb, join(b0, "tmp/flipper-boot.deb"));
      sh("chroot", [b0, "dpkg", "-i", "/tmp/flipper-boot.deb"]);
      fs.rmSync(join(b0, "tmp/flipper-boot.deb"));
      write(join(b0, "etc/default/flipper-boot"), GUEST_DEFAULTS);
      write(join(b0, "etc/systemd/system/flipper-test-health.service"), HEALTH_UNIT);
      write(join(b0, "etc/systemd/system/flipper-test-report.service"), REPORT_UNIT);
      write(join(b0, "usr/local/sbin/flipper-test-report"), REPORT_SCRIPT, 0o755);
      write(join(b0, QUICK_INIT.slice(1)), QUICK_SCRIPT, 0o755);
      for (const [name, text] of Object.entries(TEST_ACTIONS)) {
        write(join(b0, "usr/local/lib/flipper-test", name), text, 0o755);
      }
      enable(b0, "flipper-test-health.service", "boot-complete.target");
      enable(b0, "flipper-test-health.service", "multi-user.target");
      enable(b0, "flipper-test-report.service", "multi-user.target");
      // A small initramfs (what the test VM needs; the hook adds btrfs and overlay): it unpacks and
      // starts much faster under TCG than MODULES=most.
      write(join(b0, "etc/initramfs-tools/conf.d/flipper-test"), "MODULES=list\n");
      write(join(b0, "etc/initramfs-tools/modules"), "virtio_pci\nvirtio_blk\n");
      // Timers a test boot never needs (they only add work to every boot under emulation).
      for (const t of ["apt-daily", "apt-daily-upgrade", "dpkg-db-backup", "fstrim", "e2scrub_all"]) {
        sh("ln", ["-sf", "/dev/null", join(b0, "etc/systemd/system", `${t}.timer`)]);
      }
      // No network in the test VM.
      for (const u of [
        "systemd-networkd.service",
        "systemd-networkd.socket",
        "systemd-networkd-wait-online.service",
      ]) {
        sh("ln", ["-sf", "/dev/null", join(b0, "etc/systemd/system", u)]);
      }
      write(join(b0, "etc/hostname"), "flipper\n");
      write(join(b0, "etc/machine-id"), "uninitialized\n");
      write(join(b0, "etc/flipper-base-version"), "1.0\n");
      fs.rmSync(join(b0, "var/lib/dbus/machine-id"), { force: true });
      progress("image: update-initramfs in @base/1.0 (about a minute)");
      await shStream("nice", ["chroot", b0, "update-initramfs", "-u", "-k", "all"], (l) => {
        if (/^(update-initramfs|W:|E:)/.test(l)) progress(`image: ${l}`);
      });
      const initrdList = sh("chroot", [b0, "lsinitramfs", "/initrd.img"]);
      for (const need of [
        "scripts/local-bottom/flipper-boot",
        "scripts/flipper-boot-lifecycle",
        "usr/bin/btrfs",
        "usr/bin/rm",
        "overlay.ko",
      ]) {
        if (!initrdList.includes(need)) throw new Error(`the initramfs lacks ${need}: the hook did not run`);
      }
    } finally {
      chrootErrors.push(...chrootMounts.run());
    }
    if (chrootErrors.length > 0) throw new Error(`cleaning up the chroot: ${chrootErrors.join("; ")}`);
    const boot = join(b0, "boot");
    const kernels = fs.readdirSync(boot).filter((f) => f.startsWith("vmlinuz-"));
    if (kernels.length !== 1)
      throw new Error(`expected one kernel in the rootfs, found ${kernels.join(", ")}`);
    const kver = kernels[0].slice("vmlinuz-".length);
    fs.copyFileSync(join(boot, kernels[0]), join(work, "vmlinuz"));
    fs.copyFileSync(join(boot, `initrd.img-${kver}`), join(work, "initrd.img"));

    // Base 1.1: the same system, one file changed.
    const b1 = join(top, "@base", "1.1");
    sh("btrfs", ["subvolume", "snapshot", b0, b1]);
    write(join(b1, "etc/flipper-base-version"), "1.1\n");
    for (const b of [b0, b1]) sh("btrfs", ["property", "set", "-ts", b, "ro", "true"]);

    for (const p of TEST_PROFILES) {
      const dir = join(top, "@profiles", p.id);
      sh("btrfs", ["subvolume", "create", dir]);
      fs.mkdirSync(join(dir, "upper", "etc"), { recursive: true });
      fs.mkdirSync(join(dir, "work"));
      write(join(dir, "profile.json"), profileJson(p));
      write(join(dir, "upper/etc", `flipper-marker-${p.id}`), `${p.id}\n`);
      for (const [f, text] of Object.entries(p.files ?? {})) write(join(dir, "upper", f), text);
    }
    sh("btrfs", ["subvolume", "create", join(top, "@data")]);
    write(join(top, "@data", DATA_FILE), "the owner's files, the same in every profile\n");
    const errs = undo.run();
    if (errs.length > 0) throw new Error(`cleaning up: ${errs.join("; ")}`);
    fs.mkdirSync(IMAGE_DIR, { recursive: true });
    fs.renameSync(join(work, "vmlinuz"), KERNEL);
    fs.renameSync(join(work, "initrd.img"), INITRD);
    fs.renameSync(img, DISK_IMAGE);
    fs.writeFileSync(DISK_HASH, `${hash}\n`);
    recordBuildTime("image", Date.now() - t0);
    progress(`image: disk, kernel and initramfs built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    const errs = undo.run();
    fs.rmSync(work, { recursive: true, force: true });
    if (errs.length > 0) progress(`image: cleanup: ${errs.join("; ")}`);
  }
}
