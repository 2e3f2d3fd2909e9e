// The whole boot chain on one board, the i.MX6 SABRE Lite under qemu-system-arm (TCG): Debian's U-Boot
// reads the MCU's register block from an at24c at 0x69 and runs the packaged boot.scr, which boots
// Debian's armmp kernel with an initramfs built by Debian's initramfs-tools in an armhf root where
// the armhf flipper-boot package is installed (so its initramfs hook is the one inside), onto a
// USB stick whose second partition is the btrfs profile store.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { type ChrootRecipe, cachedChroot, overlayOverRoot, runTimed } from "../../sim/linux/debian";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
/** The slow steps (minutes under qemu-user) run asynchronously, so the test runner stays responsive. */
const SLOW_MS = 30 * 60_000;

export const ARMHF_ROOT: ChrootRecipe = {
  name: "trixie-armhf-initramfs",
  suite: "trixie",
  arch: "armhf",
  include: [
    "linux-image-armmp",
    "initramfs-tools",
    "btrfs-progs",
    "busybox-static",
    "zstd",
    "nodejs",
    "libubootenv-tool",
    "init-system-helpers",
  ],
};

/**
 * Modules the initramfs loads (MODULES=list keeps it small enough for U-Boot to read from an emulated
 * USB stick in seconds): the i.MX6 USB host (ChipIdea, with the GPIO driver its VBUS regulator needs), mass storage, btrfs and overlay (the hook adds
 * the last two itself as well).
 */
export const ARM_MODULES = [
  "gpio_mxc",
  "phy_mxs_usb",
  "usbmisc_imx",
  "ci_hdrc_imx",
  "usb_storage",
  "uas",
  "sd_mod",
  "btrfs",
  "overlay",
];

export interface ArmBootFiles {
  kver: string;
  vmlinuz: string;
  initrd: string;
  dtb: string;
  /** busybox-static for the test base */
  busybox: string;
}

function sh(cmd: string, args: string[], timeoutMs = 15 * 60_000): string {
  return execFileSync(cmd, args, { encoding: "utf8", timeout: timeoutMs, stdio: ["ignore", "pipe", "pipe"] });
}

/** Hook files inside a .deb (what decides the initramfs besides the kernel and ARM_MODULES). */
function hookDigest(deb: string): string {
  const x = mkdtempSync(path.join(os.tmpdir(), "fb-hookdigest-"));
  try {
    sh("dpkg-deb", ["-x", deb, x]);
    const h = createHash("sha256");
    const base = path.join(x, "usr/share/initramfs-tools");
    const walk = (d: string) => {
      if (!existsSync(d)) return;
      for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else h.update(path.relative(base, p) + "\0").update(readFileSync(p));
      }
    };
    walk(base);
    return h.digest("hex");
  } finally {
    rmSync(x, { recursive: true, force: true });
  }
}

/**
 * Kernel, initramfs and DTB for the board, cached under build/arm-chain/<key>/ where the key covers the
 * armhf root's recipe, the package's initramfs files and ARM_MODULES. The package is installed with
 * dpkg into an overlay over the cached root (its maintainer scripts run under qemu-user), and
 * mkinitramfs runs there.
 */
export async function armBootFiles(deb: string, log: (l: string) => void = () => {}): Promise<ArmBootFiles> {
  const lower = await cachedChroot(ARMHF_ROOT);
  const key = createHash("sha256")
    .update(path.basename(lower) + "\0" + hookDigest(deb) + "\0" + ARM_MODULES.join(","))
    .digest("hex")
    .slice(0, 16);
  const dir = path.join(ROOT, "build", "arm-chain", key);
  const done = path.join(dir, "files.json");
  if (existsSync(done)) return JSON.parse(readFileSync(done, "utf8")) as ArmBootFiles;

  const kvers = readdirSync(path.join(lower, "lib/modules"));
  if (kvers.length !== 1) throw new Error("expected one kernel in the armhf root, found " + kvers.join(", "));
  const kver = kvers[0]!;
  const o = mkdtempSync(path.join(os.tmpdir(), "fb-armroot-"));
  let overlay: ReturnType<typeof overlayOverRoot> | null = null;
  let procMounted = false;
  try {
    overlay = overlayOverRoot(lower, o);
    const root = overlay.root;
    sh("mount", ["-t", "proc", "proc", path.join(root, "proc")]);
    procMounted = true;
    // The package's trigger would rebuild the stock initramfs (MODULES=most, minutes under qemu-user):
    // this build makes its own below.
    writeFileSync(
      path.join(root, "etc/initramfs-tools/update-initramfs.conf"),
      "update_initramfs=no\nbackup_initramfs=no\n",
    );
    copyFileSync(deb, path.join(root, "tmp/flipper-boot.deb"));
    const t0 = Date.now();
    log(await runTimed("chroot", [root, "dpkg", "-i", "/tmp/flipper-boot.deb"], SLOW_MS));
    log("dpkg -i (armhf, qemu-user): " + (Date.now() - t0) + " ms");
    const conf = path.join(root, "etc/initramfs-tools/initramfs.conf");
    writeFileSync(
      conf,
      readFileSync(conf, "utf8")
        .replace(/^MODULES=.*$/m, "MODULES=list")
        .replace(/^COMPRESS=.*$/m, "COMPRESS=zstd"),
    );
    writeFileSync(path.join(root, "etc/initramfs-tools/modules"), ARM_MODULES.join("\n") + "\n");
    const t1 = Date.now();
    log(await runTimed("chroot", [root, "mkinitramfs", "-o", "/tmp/initrd.img", kver], SLOW_MS));
    log("mkinitramfs (armhf, qemu-user): " + (Date.now() - t1) + " ms");

    const tmp = dir + ".tmp-" + process.pid;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const files: ArmBootFiles = {
      kver,
      vmlinuz: path.join(dir, "vmlinuz"),
      initrd: path.join(dir, "initrd.img"),
      dtb: path.join(dir, "imx6q-sabrelite.dtb"),
      busybox: path.join(dir, "busybox"),
    };
    copyFileSync(path.join(root, "boot/vmlinuz-" + kver), path.join(tmp, "vmlinuz"));
    copyFileSync(path.join(root, "tmp/initrd.img"), path.join(tmp, "initrd.img"));
    copyFileSync(
      path.join(root, "usr/lib/linux-image-" + kver, "imx6q-sabrelite.dtb"),
      path.join(tmp, "imx6q-sabrelite.dtb"),
    );
    const bb = ["usr/bin/busybox", "bin/busybox"].map((p) => path.join(root, p)).find((p) => existsSync(p));
    if (!bb) throw new Error("busybox-static's busybox missing in the armhf root");
    copyFileSync(bb, path.join(tmp, "busybox"));
    chmodSync(path.join(tmp, "busybox"), 0o755);
    writeFileSync(path.join(tmp, "files.json"), JSON.stringify(files, null, 2) + "\n");
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    // Builds for an older hook or module list are dead weight.
    for (const f of readdirSync(path.dirname(dir))) {
      if (f !== key && /^[0-9a-f]{16}$/.test(f))
        rmSync(path.join(path.dirname(dir), f), { recursive: true, force: true });
    }
    return files;
  } finally {
    if (procMounted && overlay) {
      try {
        sh("umount", [path.join(overlay.root, "proc")]);
      } catch {
        sh("umount", ["-l", path.join(overlay.root, "proc")]);
      }
    }
    overlay?.unmount();
    rmSync(o, { recursive: true, force: true });
  }
}

export interface StoreProfile {
  id: string;
  base: string;
  /** files in the profile's upper (path -> content) */
  upper: Record<string, string>;
}

/**
 * The base's /sbin/init: prints what the test looks for on the console, then powers off. The marker
 * lives only in the profile's upper, so reading it proves the overlay; /run/flipper/booted is what
 * the initramfs wrote.
 */
export const TEST_INIT = `#!/bin/busybox sh
export PATH=/bin
# /proc, /sys, /dev and /run come mounted from the initramfs (init-bottom moves them here).
echo "flipper-arm: marker=$(/bin/busybox cat /etc/flipper-marker 2>&1)"
echo "flipper-arm: root=$(/bin/busybox grep ' / ' /proc/mounts | /bin/busybox tail -n 1)"
echo "flipper-arm: home=$(/bin/busybox cat /home/owner-file 2>&1)"
echo "flipper-arm: booted=$(/bin/busybox tr '\\n' ' ' < /run/flipper/booted 2>&1)"
echo "flipper-arm: top=$(/bin/busybox ls /run/flipper/top 2>&1 | /bin/busybox tr '\\n' ' ')"
echo "flipper-arm: end"
/bin/busybox sync
/bin/busybox poweroff -f
`;

const MiB = 1024 * 1024;

/**
 * A GPT USB stick: partition 1 FAT (the boot partition: kernel, initramfs, DTB, boot.scr), partition 2
 * the btrfs profile store (label flipper): @base/<ver> read-only with busybox and TEST_INIT, one
 * subvolume per profile under @profiles with upper/ work/ profile.json, @data, @snapshots.
 */
export function buildArmStick(
  file: string,
  boot: Record<string, string | Buffer>,
  busybox: string,
  bases: string[],
  profiles: StoreProfile[],
): void {
  const work = mkdtempSync(path.join(os.tmpdir(), "fb-armstick-"));
  let loop = "";
  let mounted = "";
  try {
    const fatMiB = 64;
    const btrfsMiB = 320;
    const fatStart = 2048;
    const btrfsStart = fatStart + (fatMiB * MiB) / 512;
    execFileSync("truncate", ["-s", String(btrfsStart * 512 + btrfsMiB * MiB + MiB), file]);
    execFileSync("sfdisk", ["-q", file], {
      input:
        "label: gpt\n" +
        "start=" +
        fatStart +
        ", size=" +
        (fatMiB * MiB) / 512 +
        ", type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n" +
        "start=" +
        btrfsStart +
        ", size=" +
        (btrfsMiB * MiB) / 512 +
        ", type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n",
    });
    const fat = path.join(work, "fat.img");
    execFileSync("mkfs.vfat", ["-C", fat, String(fatMiB * 1024)], { stdio: "ignore" });
    const src = path.join(work, "boot");
    for (const [name, data] of Object.entries(boot)) {
      mkdirSync(path.dirname(path.join(src, name)), { recursive: true });
      writeFileSync(path.join(src, name), data);
    }
    const tops = [...new Set(Object.keys(boot).map((n) => n.split("/")[0]!))];
    execFileSync("mcopy", ["-i", fat, "-s", "-Q", ...tops.map((t) => path.join(src, t)), "::/"]);
    execFileSync("dd", [
      "if=" + fat,
      "of=" + file,
      "bs=1M",
      "seek=" + fatStart * 512,
      "oflag=seek_bytes",
      "conv=notrunc,sparse",
      "status=none",
    ]);

    const img = path.join(work, "btrfs.img");
    execFileSync("truncate", ["-s", String(btrfsMiB * MiB), img]);
    execFileSync("mkfs.btrfs", ["-q", "-L", "flipper", img]);
    loop = sh("losetup", ["-f", "--show", img]).trim();
    mounted = path.join(work, "top");
    mkdirSync(mounted);
    sh("mount", [loop, mounted]);
    const sub = (p: string) => sh("btrfs", ["-q", "subvolume", "create", path.join(mounted, p)]);
    for (const d of ["@base", "@profiles", "@snapshots", "@staged"]) mkdirSync(path.join(mounted, d));
    sub("@data");
    writeFileSync(path.join(mounted, "@data/owner-file"), "the owner's file\n");
    for (const ver of bases) {
      sub("@base/" + ver);
      const b = path.join(mounted, "@base", ver);
      for (const d of ["bin", "sbin", "etc", "proc", "sys", "dev", "run", "tmp", "home", "root", "usr"]) {
        mkdirSync(path.join(b, d));
      }
      copyFileSync(busybox, path.join(b, "bin/busybox"));
      chmodSync(path.join(b, "bin/busybox"), 0o755);
      writeFileSync(path.join(b, "sbin/init"), TEST_INIT);
      chmodSync(path.join(b, "sbin/init"), 0o755);
      writeFileSync(path.join(b, "etc/machine-id"), "uninitialized\n");
      writeFileSync(path.join(b, "etc/flipper-marker"), "base " + ver + " (no profile upper)\n");
      sh("btrfs", ["property", "set", "-ts", b, "ro", "true"]);
    }
    for (const p of profiles) {
      sub("@profiles/" + p.id);
      const d = path.join(mounted, "@profiles", p.id);
      mkdirSync(path.join(d, "upper"));
      mkdirSync(path.join(d, "work"));
      writeFileSync(
        path.join(d, "profile.json"),
        JSON.stringify({ id: p.id, name: p.id, base: p.base }, null, 2) + "\n",
      );
      for (const [f, c] of Object.entries(p.upper)) {
        mkdirSync(path.dirname(path.join(d, "upper", f)), { recursive: true });
        writeFileSync(path.join(d, "upper", f), c);
      }
    }
    sh("umount", [mounted]);
    mounted = "";
    sh("losetup", ["-d", loop]);
    loop = "";
    execFileSync("dd", [
      "if=" + img,
      "of=" + file,
      "bs=1M",
      "seek=" + btrfsStart * 512,
      "oflag=seek_bytes",
      "conv=notrunc,sparse",
      "status=none",
    ]);
  } finally {
    if (mounted) sh("umount", [mounted]);
    if (loop) sh("losetup", ["-d", loop]);
    rmSync(work, { recursive: true, force: true });
  }
}
