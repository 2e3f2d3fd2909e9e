// biome-ignore-all lint/suspicious/noTemplateCurlyInString: U-Boot commands use ${var} on purpose
// The generated boot.scr's overlay and arm64 paths in real U-Boot 2023.01 (uboot-script/setup-overlay.sh),
// on the arm64 QEMU `virt` board (qemu-system-aarch64), closer to the RK3576 than the SABRE Lite:
// - `virt64-overlay`: Debian's qemu_arm64 configuration plus CONFIG_OF_LIBFDT_OVERLAY, built from Debian's
//   source: `fdt apply` really applies an overlay; a failing one is undone from the backup copy (libfdt
//   erases the base's magic on failure), so later overlays still apply and the boot continues.
// - `virt64`: Debian's packaged qemu_arm64 binary, unmodified: no `fdt apply` (failure path only); and
//   `virt64-2025`, Debian 13's packaged 2025.01 build of the same board (no `fdt apply` either).
// On each, `booti` really runs into a tiny test Image, and the DTB it was handed is read back.
// The board has no I2C, so every case is the MCU-absent path: saved env -> fragment -> overlays.
import test from "ava";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runUbootBatch, type UbootCase, type UbootResult, UbootSession } from "../uboot-script/harness";
import { TEST_OVERLAY_BAD_DTS, TEST_OVERLAY_OK_DTS } from "../uboot-script/sample-dts";
import { BOARDS, compileDts, makeTempDir, tool, type UbootBoard } from "../uboot-script/qemu";

const SAVED = { flipper_profile: "desktop", flipper_base: "1.2" };
const ARGS = "flipper.profile=desktop flipper.base=1.2 quiet";
const good = compileDts(TEST_OVERLAY_OK_DTS);
const bad = compileDts(TEST_OVERLAY_BAD_DTS);
const frag = (overlays: string) => ({ desktop: "flipper_kopts=quiet\nflipper_overlays=" + overlays + "\n" });
const PRINT = "fdt addr ${fdt_addr_r}; fdt print /flipper-test";
const ABSENT = "flipper: i2c bus 0 not available, using saved env profile desktop base 1.2";
const NOBOOT = "flipper: not booting (flipper_noboot=1): booti 0x40400000 0x44000000:11 0x4a000000";

/** `fdt print /flipper-test` output after the overlay applied / with the base DTB untouched. */
const node = (applied: boolean) =>
  "Working FDT set to 4a000000\nflipper-test {\n" +
  (applied ? '\tflipper-overlay = "applied";\n\tstatus = "okay";\n' : '\tstatus = "disabled";\n') +
  "\tphandle = <0x00000001>;\n};\n";
const SYMBOL = 'ftest = "/flipper-test"\n';

/** Fails (never skips) when a board's U-Boot has not been built, naming the file and the fix. */
function needBoard(board: UbootBoard): void {
  const bin = BOARDS[board].binary;
  if (!existsSync(bin)) throw new Error("missing " + bin + ": run `sh uboot-script/setup.sh`");
}

interface Expect {
  c: UbootCase;
  bootargs: string | null;
  lines: string[];
  after?: string[];
  console?: string[];
}

/** The saved profile `desktop`, its fragment listing `overlays`, both test overlays on the partition. */
function savedWithOverlays(overlays: string, after: string[]): UbootCase {
  return {
    block: null,
    savedEnv: SAVED,
    fullBoot: true,
    fragments: frag(overlays),
    overlays: { good, bad },
    after,
  };
}

// ---- overlays that apply (qemu_arm64 + CONFIG_OF_LIBFDT_OVERLAY) ---------------------------------------
const OVERLAY: Record<string, Expect> = {
  "arm64 with overlays: an overlay that applies, one that does not, one missing": {
    c: savedWithOverlays("good bad missing", [PRINT, "fdt print /__symbols__ ftest"]),
    bootargs: ARGS,
    lines: [
      ABSENT,
      "flipper: overlay good applied",
      "flipper: overlay bad failed to apply, skipped",
      "flipper: overlay missing missing, skipped",
      NOBOOT,
    ],
    after: [node(true), SYMBOL],
    console: ["failed on fdt_overlay_apply(): FDT_ERR_NOTFOUND"],
  },
  "arm64 with overlays: a failing overlay first, then one that applies to the restored base": {
    c: savedWithOverlays("bad good", [PRINT]),
    bootargs: ARGS,
    lines: [ABSENT, "flipper: overlay bad failed to apply, skipped", "flipper: overlay good applied", NOBOOT],
    after: [node(true)],
  },
  "arm64 with overlays: only a failing overlay: base DTB intact, boot continues": {
    c: savedWithOverlays("bad", [PRINT, "fdt print /__symbols__ ftest"]),
    bootargs: ARGS,
    lines: [ABSENT, "flipper: overlay bad failed to apply, skipped", NOBOOT],
    after: [node(false), SYMBOL],
  },
  "arm64 with overlays: saved profile without a fragment: no overlays, base DTB untouched": {
    c: {
      block: null,
      savedEnv: { flipper_profile: "work", flipper_base: "2.0" },
      fullBoot: true,
      after: [PRINT],
    },
    bootargs: "flipper.profile=work flipper.base=2.0",
    lines: ["flipper: i2c bus 0 not available, using saved env profile work base 2.0", NOBOOT],
    after: [node(false)],
  },
};

// ---- Debian's packaged qemu_arm64, unmodified ----------------------------------------------------------
const STOCK: Record<string, Expect> = {
  "arm64 (Debian's binary): full flow to the booti line with the board's addresses; no fdt apply there": {
    c: savedWithOverlays("good bad", [PRINT, "printenv kernel_addr_r ramdisk_addr_r fdt_addr_r"]),
    bootargs: ARGS,
    lines: [
      ABSENT,
      // Debian's qemu_arm64 has no CONFIG_OF_LIBFDT_OVERLAY: `fdt apply` is an unknown subcommand.
      "flipper: overlay good failed to apply, skipped",
      "flipper: overlay bad failed to apply, skipped",
      NOBOOT,
    ],
    after: [node(false), "kernel_addr_r=0x40400000\nramdisk_addr_r=0x44000000\nfdt_addr_r=0x4a000000\n"],
  },
};

function register(cases: Record<string, Expect>, board: UbootBoard, titlePrefix = ""): void {
  const names = Object.keys(cases);
  let results: Promise<UbootResult[]> | null = null;
  const all = () => {
    needBoard(board);
    if (!results)
      results = runUbootBatch(
        names.map((n) => ({ ...cases[n].c, name: n })),
        { board },
      );
    return results;
  };
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    test(titlePrefix + name, async (t) => {
      const r = (await all())[i];
      const e = cases[name];
      t.is(r.bootargs, e.bootargs, r.console);
      t.deepEqual(r.flipperLines, e.lines, r.console);
      if (e.after) t.deepEqual(r.afterOutput, e.after);
      for (const s of e.console ?? []) t.true(r.console.includes(s), s + "\n---\n" + r.console);
    });
  }
}

register(OVERLAY, "virt64-overlay");
register(STOCK, "virt64");
register(STOCK, "virt64-2025", "U-Boot 2025.01: ");

// ---- booti for real -------------------------------------------------------------------------------------
const KERNEL_BANNER = "flipper-test-image: entered";

/**
 * A minimal arm64 Linux Image (the header booti checks: magic "ARM\x64" at 0x38, text_offset 0,
 * image_size, flags bit 3 = placeable anywhere) whose code writes KERNEL_BANNER to the virt board's
 * PL011 UART (0x09000000) and then spins. Seeing the banner proves booti jumped to kernel_addr_r.
 */
function testImage(): Buffer {
  const code: number[] = [0xd2a12001]; // movz x1, #0x0900, lsl #16
  for (const ch of Buffer.from(KERNEL_BANNER + "\r\n", "latin1")) {
    code.push(0x52800002 | (ch << 5)); // movz w2, #ch
    code.push(0xb9000022); // str w2, [x1]
  }
  code.push(0x14000000); // b .
  const img = Buffer.alloc(0x40 + code.length * 4);
  img.writeUInt32LE(0x14000010, 0); // code0: b +0x40
  img.writeBigUInt64LE(0n, 8); // text_offset
  img.writeBigUInt64LE(BigInt(img.length), 16); // image_size
  img.writeBigUInt64LE(8n, 24); // flags: LE, any 2 MiB aligned base
  img.writeUInt32LE(0x644d5241, 0x38); // magic "ARM\x64"
  code.forEach((w, i) => {
    img.writeUInt32LE(w, 0x40 + i * 4);
  });
  return img;
}

// The script's own `run fl_boot` jumps into testImage(); then the QEMU monitor dumps the DTB U-Boot handed
// to the "kernel", which must carry the script's bootargs, the initramfs U-Boot loaded (the
// `${ramdisk_addr_r}:${filesize}` argument: 17 bytes) and, where `fdt apply` exists, the overlay.
for (const board of ["virt64-overlay", "virt64", "virt64-2025"] as const) {
  const withOverlay = board === "virt64-overlay";
  const title =
    (withOverlay
      ? "arm64 with overlays"
      : board === "virt64-2025"
        ? "U-Boot 2025.01: arm64 (Debian's binary)"
        : "arm64 (Debian's binary)") +
    ": booti really starts a test Image with the script's bootargs, initramfs and DTB";
  test(title, async (t) => {
    needBoard(board);
    const s = new UbootSession({ board, mcuPresent: false, monitor: true });
    t.teardown(() => s.close());
    const dir = makeTempDir("flipper-overlay-test-");
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    await s.start([
      {
        block: null,
        savedEnv: SAVED,
        fullBoot: true,
        fragments: frag("bad good"),
        overlays: { good, bad },
        bootFiles: { Image: testImage() },
        bootUntil: KERNEL_BANNER,
      },
    ]);
    const r = await s.runCase(0);
    t.deepEqual(
      r.flipperLines,
      [
        ABSENT,
        "flipper: overlay bad failed to apply, skipped",
        "flipper: overlay good " + (withOverlay ? "applied" : "failed to apply, skipped"),
      ],
      r.console,
    );
    for (const line of [
      "## Flattened Device Tree blob at 4a000000",
      "   Booting using the fdt blob at 0x4a000000",
      "Starting kernel ...",
    ]) {
      t.true(r.console.includes(line + "\n"), line + "\n---\n" + r.console);
    }
    t.true(r.console.indexOf(KERNEL_BANNER) > r.console.indexOf("Starting kernel ..."), r.console);
    const rd = /Loading Ramdisk to ([0-9a-f]+), end ([0-9a-f]+) \.\.\. OK/.exec(r.console);
    t.truthy(rd, r.console);
    t.is(Number.parseInt(rd![2], 16) - Number.parseInt(rd![1], 16), "not an initramfs\n".length);
    // Where the DTB went (booti relocates it): the last "Working FDT set to" before the kernel starts.
    const fdts = [...r.console.matchAll(/Working FDT set to ([0-9a-f]+)/g)];
    t.true(fdts.length > 0, r.console);
    const raw = join(dir, "dtb.raw");
    const mon = await s.monitor("pmemsave 0x" + fdts[fdts.length - 1][1] + ' 0x20000 "' + raw + '"');
    t.true(existsSync(raw), mon);
    const blob = readFileSync(raw);
    t.is(blob.readUInt32BE(0), 0xd00dfeed);
    const dtb = join(dir, "handed.dtb");
    tool("sh", ["-c", 'head -c "$1" "$2" > "$3"', "sh", String(blob.readUInt32BE(4)), raw, dtb]);
    const dts = tool("dtc", ["-q", "-I", "dtb", "-O", "dts", dtb]);
    t.true(dts.includes('bootargs = "' + ARGS + '";'), dts);
    t.true(dts.includes('compatible = "flipper,test";'), dts);
    t.is(dts.includes('flipper-overlay = "applied";'), withOverlay, dts);
    t.is(dts.includes('status = "okay";'), withOverlay, dts);
    // fdtget, not the dts text: dtc shows a value whose bytes look printable as a string.
    const start = tool("fdtget", ["-t", "x", dtb, "/chosen", "linux,initrd-start"]).trim().split(" ");
    t.is(Number.parseInt(start[start.length - 1], 16), Number.parseInt(rd![1], 16), dts);
  });
}
