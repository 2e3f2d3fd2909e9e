// The whole chain on one board (SABRE Lite under qemu-system-arm, TCG): the MCU's register block on
// I2C -> Debian's U-Boot runs the armhf package's boot.scr -> Debian's armmp kernel with an initramfs
// that initramfs-tools built with the package's hook -> the chosen profile's overlay over its base on a
// btrfs store, seen from the profile's own /sbin/init on the console.
// First run: the armhf root (mmdebstrap under qemu-user) and the initramfs are built and cached under
// build/ (minutes); later runs boot only (about a minute).
import test from "ava";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { BlockAction, BlockStatus, encodeBlock } from "../protocol/register-block";
import { buildPackages } from "../soc-bridge/package";
import { BOARDS, QemuUboot } from "../uboot-script/qemu";
import { armBootFiles, buildArmStick } from "./helpers/arm-chain";

const ROOT = path.resolve(import.meta.dirname, "..");
const TMP = mkdtempSync(path.join(os.tmpdir(), "fb-arm-"));
test.after.always(() => rmSync(TMP, { recursive: true, force: true }));

const BOOTARGS =
  "console=ttymxc1,115200 root=LABEL=flipper rootflags=subvolid=5 rootwait rootdelay=120 panic=-1";
const SCRIPT_ADDR = "0x10800000";
const EEPROM_BLOCK_OFFSET = 0x600; // the MCU's register 0x0600, 16-bit addressing

function eepromWith(block: number[]): Buffer {
  const ee = Buffer.alloc(4096);
  Buffer.from(block).copy(ee, EEPROM_BLOCK_OFFSET);
  return ee;
}

test("SABRE Lite: the MCU's choice reaches the profile's overlay through U-Boot, the armmp kernel and the hook", async (t) => {
  t.timeout(90 * 60_000, "first run: an armhf root and an initramfs built under qemu-user, then a TCG boot");
  for (const tool of ["qemu-system-arm", "mmdebstrap", "mkfs.btrfs", "mkfs.vfat", "mcopy", "sfdisk"]) {
    t.notThrows(() => execFileSync("sh", ["-c", "command -v " + tool]), "missing tool: " + tool);
  }
  if (!existsSync(BOARDS.sabrelite.binary)) {
    t.fail("missing " + BOARDS.sabrelite.binary + ": run `sh uboot-script/setup.sh` (Debian's u-boot-imx)");
    return;
  }
  if (!existsSync(path.join(ROOT, "soc-bridge", "initramfs"))) {
    t.fail("soc-bridge/initramfs/ (the initramfs hook) is missing: the chain needs it");
    return;
  }
  const [pkg] = await buildPackages({ arches: ["armhf"], outDir: path.join(TMP, "deb"), log: () => {} });
  const log: string[] = [];
  const files = await armBootFiles(pkg!.file, (l) => log.push(l));
  t.log("kernel " + files.kver + ", initramfs " + (readFileSync(files.initrd).length >> 10) + " KiB");

  const x = path.join(TMP, "x");
  execFileSync("dpkg-deb", ["-x", pkg!.file, x]);
  const stick = path.join(TMP, "stick.img");
  buildArmStick(
    stick,
    {
      "boot.scr": readFileSync(path.join(x, "usr/share/flipper-boot/boot.scr")),
      vmlinuz: readFileSync(files.vmlinuz),
      "initrd.img": readFileSync(files.initrd),
      "imx6q-sabrelite.dtb": readFileSync(files.dtb),
    },
    files.busybox,
    ["1.0"],
    [
      { id: "work", base: "1.0", upper: { "etc/flipper-marker": "profile work\n" } },
      { id: "play", base: "1.0", upper: { "etc/flipper-marker": "profile play\n" } },
    ],
  );

  const block = encodeBlock({
    status: BlockStatus.FINAL,
    action: BlockAction.BOOT,
    reason: 1,
    flags: 0,
    tryNumber: 1,
    maxTries: 3,
    sequence: 7,
    profileId: "play",
    base: "1.0",
  });
  const q = new QemuUboot();
  t.teardown(() => q.close());
  const t0 = Date.now();
  await q.start({
    diskImage: stick,
    eepromAddress: 0x69,
    eeprom: eepromWith(block),
    workDir: TMP,
    bootTimeoutMs: 180_000,
  });
  const ubootMs = Date.now() - t0;
  // What the device's saved environment holds for this board (the script's defaults are arm64's).
  await q.run("usb start", 120_000);
  for (const cmd of [
    'setenv bootargs "' + BOOTARGS + '"',
    "setenv flipper_kernel vmlinuz",
    "setenv flipper_initrd initrd.img",
    "setenv flipper_bootcmd bootz",
    "setenv flipper_devtype usb",
    "setenv flipper_devpart 0:1",
  ]) {
    await q.run(cmd);
  }
  await q.run("load usb 0:1 " + SCRIPT_ADDR + " boot.scr", 60_000);
  let out = "";
  try {
    out = await q.runUntil("source " + SCRIPT_ADDR, "flipper-arm: end", 900_000);
  } catch (e) {
    t.log(q.transcript.slice(-6000));
    throw e;
  }
  const totalMs = Date.now() - t0;
  t.log("U-Boot prompt after " + ubootMs + " ms; profile's init done after " + totalMs + " ms");

  t.log(
    out
      .split("\n")
      .filter((l) => /^(flipper: |flipper-arm: )/.test(l))
      .join("\n"),
  );
  t.regex(out, /flipper: booting profile play base 1\.0/);
  t.regex(out, /Kernel command line: .*flipper\.profile=play flipper\.base=1\.0/);
  const line = (k: string) => out.match(new RegExp("^flipper-arm: " + k + "=(.*)$", "m"))?.[1] ?? "";
  t.is(line("marker"), "profile play", "the marker from play's upper, seen through the overlay");
  t.regex(line("root"), /^overlay \/ overlay /);
  t.is(line("home"), "the owner's file");
  t.regex(line("booted"), /profile=play/);
  t.regex(line("booted"), /base=1\.0/);
  t.regex(line("top"), /@profiles/);
});
