// biome-ignore-all lint/suspicious/noTemplateCurlyInString: U-Boot script text uses ${var} on purpose
// Low-level pieces of the U-Boot harness: a FAT/GPT "USB stick" image builder and a QEMU session
// that boots one of Debian's U-Boot builds (BOARDS), stops the autoboot and types commands at the prompt.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createConnection } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const UBOOT_BUILD_DIR = join(REPO_ROOT, "build", "uboot");
/** Debian 12's U-Boot 2023.01 for the SABRE Lite without its i.MX header (made by uboot-script/setup.sh). */
export const UBOOT_BIN = join(UBOOT_BUILD_DIR, "u-boot-dtb.bin");
/** Debian 13's U-Boot 2025.01 for the same board, the same way (made by uboot-script/setup.sh). */
export const UBOOT_2025_BIN = join(UBOOT_BUILD_DIR, "sabrelite-2025.01", "u-boot-dtb.bin");
/** Debian's u-boot-qemu 2023.01, qemu_arm64 build (made by uboot-script/setup-overlay.sh). */
export const UBOOT_QEMU_ARM64_BIN = join(UBOOT_BUILD_DIR, "qemu_arm64", "u-boot.bin");
/**
 * The same qemu_arm64 board built from Debian's source package with Debian's .config for it plus
 * CONFIG_OF_LIBFDT_OVERLAY=y (made by uboot-script/setup-overlay.sh).
 */
export const UBOOT_QEMU_ARM64_OVERLAY_BIN = join(UBOOT_BUILD_DIR, "qemu_arm64-overlay", "u-boot.bin");
/** Debian 13's u-boot-qemu 2025.01, qemu_arm64 build (made by uboot-script/setup.sh). */
export const UBOOT_QEMU_ARM64_2025_BIN = join(UBOOT_BUILD_DIR, "qemu_arm64-2025.01", "u-boot.bin");

/**
 * Where the harness runs U-Boot (a board is one U-Boot build on one emulated machine):
 * - `sabrelite` (default): Debian 12's u-boot-imx 2023.01 under qemu-system-arm -M sabrelite; I2C (at24c at
 *   the MCU's address), USB stick; no `fdt apply` (no CONFIG_OF_LIBFDT_OVERLAY).
 * - `sabrelite-2025`: Debian 13's u-boot-imx 2025.01 on the same machine, the same way: a newer hush,
 *   `setexpr` and `env import`, closer to the device's own 2026.01.
 * - `virt64`: Debian's u-boot-qemu 2023.01 (qemu_arm64) under qemu-system-aarch64 -M virt; arm64, booti,
 *   virtio disk; no I2C at all (the MCU-absent path) and no `fdt apply` either.
 * - `virt64-2025`: Debian 13's u-boot-qemu 2025.01 (qemu_arm64) on the same machine; no `fdt apply` either.
 * - `virt64-overlay`: the 2023.01 board and configuration built from Debian's source with
 *   CONFIG_OF_LIBFDT_OVERLAY=y: `fdt apply` works.
 */
export type UbootBoard = "sabrelite" | "sabrelite-2025" | "virt64" | "virt64-2025" | "virt64-overlay";

/** The SABRE Lite builds (with I2C): the boot.scr suite runs on each. */
export const SABRELITE_BOARDS: UbootBoard[] = ["sabrelite", "sabrelite-2025"];

export interface BoardInfo {
  /** U-Boot binary the board runs (missing = run setup). */
  binary: string;
  /** U-Boot version of the binary (Debian's package version without its revision). */
  version: string;
  /** `load` interface of the harness disk (partition N of the image is `<devtype> 0:N`). */
  devtype: string;
  /** mkimage -A value for script images. */
  arch: string;
  /** Whether an I2C target (the emulated MCU) can be attached. */
  i2c: boolean;
  /** Free DRAM for the harness's own buffers (5 MiB from here). */
  harnessRam: number;
  /** Variables the board's own environment lacks that the script's full flow needs. */
  env: Record<string, string>;
  /** Name of the test DTB on the boot partition (= the board's ${fdtfile}). */
  fdtfile: string;
}

/** A SABRE Lite build: USB stick, the MCU on I2C, DRAM from 0x10000000. */
function sabrelite(binary: string, version: string): BoardInfo {
  return {
    binary,
    version,
    devtype: "usb",
    arch: "arm",
    i2c: true,
    harnessRam: 0x10700000,
    env: {},
    fdtfile: "imx6q-sabrelite.dtb",
  };
}

/**
 * A qemu_arm64 build on `-M virt`: virtio disk, no I2C. Its environment has kernel_addr_r=0x40400000,
 * ramdisk_addr_r=0x44000000 and fdt_addr=0x40000000 (QEMU's own DTB) but neither fdt_addr_r nor
 * fdtfile: the harness sets them.
 */
function virt64(binary: string, version: string): BoardInfo {
  const fdtfile = "flipper-virt-test.dtb";
  return {
    binary,
    version,
    devtype: "virtio",
    arch: "arm64",
    i2c: false,
    harnessRam: 0x48700000,
    env: { fdt_addr_r: "0x4a000000", fdtfile },
    fdtfile,
  };
}

export const BOARDS: Record<UbootBoard, BoardInfo> = {
  sabrelite: sabrelite(UBOOT_BIN, "2023.01"),
  "sabrelite-2025": sabrelite(UBOOT_2025_BIN, "2025.01"),
  virt64: virt64(UBOOT_QEMU_ARM64_BIN, "2023.01"),
  "virt64-2025": virt64(UBOOT_QEMU_ARM64_2025_BIN, "2025.01"),
  "virt64-overlay": virt64(UBOOT_QEMU_ARM64_OVERLAY_BIN, "2023.01"),
};

/** A file tree: path relative to a partition's root -> content. */
export type FileTree = Record<string, string | Buffer>;

export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs a tool, throwing with its stderr on failure. */
export function tool(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { input: input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
}

function findTool(name: string): string {
  for (const dir of ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  return name;
}

/** Wraps a U-Boot command text into a legacy script image (what `source` runs), via Debian's mkimage. */
export function mkimageScript(text: string, arch = "arm"): Buffer {
  return throughFiles("flipper-mkimage-", text, "in.cmd", "out.scr", (input, output) =>
    tool("mkimage", ["-A", arch, "-O", "linux", "-T", "script", "-C", "none", "-d", input, output]),
  );
}

/** Compiles device-tree source with dtc (`-@` so labels become __symbols__ / fixups). */
export function compileDts(source: string): Buffer {
  return throughFiles("flipper-dtc-", source, "in.dts", "out.dtb", (input, output) =>
    tool(findTool("dtc"), ["-@", "-q", "-I", "dts", "-O", "dtb", "-o", output, input]),
  );
}

/** Writes `text` to a file in a fresh temporary folder, runs `convert`, returns the file it wrote. */
function throughFiles(
  prefix: string,
  text: string,
  inName: string,
  outName: string,
  convert: (input: string, output: string) => void,
): Buffer {
  const dir = makeTempDir(prefix);
  try {
    writeFileSync(join(dir, inName), text);
    convert(join(dir, inName), join(dir, outName));
    return readFileSync(join(dir, outName));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MIB_SECTORS = 2048;
const FIRST_LBA = 2048;

/** Sectors for a FAT partition holding `tree`: at least 1 MiB, whole MiBs, room for 4 KiB clusters. */
function partitionSectors(tree: FileTree): number {
  let bytes = 256 * 1024;
  for (const name of Object.keys(tree)) bytes += Math.ceil(Buffer.byteLength(tree[name]) / 4096 + 1) * 4096;
  return Math.max(1, Math.ceil(bytes / (1024 * 1024))) * MIB_SECTORS;
}

/**
 * A GPT disk image with one FAT partition per tree (partition N = trees[N-1]), written to `path`.
 * U-Boot sees them as usb 0:1, 0:2, ... Each partition is 1 MiB unless its files need more.
 */
export function buildDiskImage(path: string, trees: FileTree[]): void {
  const work = makeTempDir("flipper-disk-");
  try {
    const sizes = trees.map(partitionSectors);
    const starts: number[] = [];
    let next = FIRST_LBA;
    for (const size of sizes) {
      starts.push(next);
      next += size;
    }
    const totalSectors = next + 2048;
    writeFileSync(path, Buffer.alloc(0));
    execFileSync("truncate", ["-s", String(totalSectors * 512), path]);
    let layout = "label: gpt\n";
    for (let i = 0; i < trees.length; i++) {
      layout += "start=" + starts[i] + ", size=" + sizes[i] + ", type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n";
    }
    tool(findTool("sfdisk"), ["-q", path], layout);
    for (let i = 0; i < trees.length; i++) {
      const part = join(work, "p" + i + ".img");
      tool(findTool("mkfs.vfat"), ["-C", part, String((sizes[i] * 512) / 1024)]);
      const src = join(work, "t" + i);
      mkdirSync(src);
      const names = Object.keys(trees[i]);
      for (const name of names) {
        const file = join(src, name);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, trees[i][name]);
      }
      if (names.length > 0) {
        const tops = new Set(names.map((n) => n.split("/")[0]));
        tool("mcopy", ["-i", part, "-s", "-Q", ...[...tops].map((t) => join(src, t)), "::/"]);
      }
      execFileSync("dd", [
        "if=" + part,
        "of=" + path,
        "bs=512",
        "seek=" + starts[i],
        "conv=notrunc",
        "status=none",
      ]);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface QemuOptions {
  /** Board to run (default sabrelite). */
  board?: UbootBoard;
  /** GPT image attached as a USB stick (usb 0; virtio 0 on the virt64 boards). */
  diskImage: string;
  /** 7-bit address of the emulated EEPROM on i2c bus 0, or null for no target at all (sabrelite only). */
  eepromAddress: number | null;
  /** Initial EEPROM content (padded to 4 KiB). */
  eeprom?: Buffer;
  /** Directory for the EEPROM file; deleted by the caller. */
  workDir: string;
  /** Milliseconds to wait for the prompt after start. */
  bootTimeoutMs?: number;
  /** Echo the console to stderr as it arrives (debugging). */
  echo?: boolean;
  /** QEMU boards: open the QEMU monitor on a unix socket in workDir (see monitor()). */
  monitor?: boolean;
}

const PROMPT = "\n=> ";
const EEPROM_SIZE = 4096;

/**
 * Answers prompts a command prints while it runs (e.g. `mm.l` asking for each word): given the
 * output since the command was typed, returns text to type now, or null.
 */
export type Responder = (sinceCommand: string) => string | null;

/** A running QEMU with U-Boot stopped at its prompt. Always call close(). */
export class QemuUboot {
  private proc: ChildProcess | null = null;
  private buffer = "";
  /** Everything the console printed, CR stripped. */
  transcript = "";
  private waiter: (() => void) | null = null;
  private exited = false;
  private monitorPath = "";
  private onExit = () => this.close();

  async start(o: QemuOptions): Promise<number> {
    const board = o.board ?? "sabrelite";
    const info = BOARDS[board];
    if (!existsSync(info.binary)) {
      throw new Error("missing " + info.binary + ": run `sh uboot-script/setup.sh` first");
    }
    if (o.eepromAddress !== null && !info.i2c) {
      throw new Error("board " + board + " has no I2C target: use eepromAddress null (MCU absent)");
    }
    const t0 = Date.now();
    this.monitorPath = o.monitor ? join(o.workDir, "monitor.sock") : "";
    const mon = o.monitor ? "unix:" + this.monitorPath + ",server=on,wait=off" : "none";
    let cmd = "qemu-system-arm";
    let args = [
      "-M",
      "sabrelite",
      "-smp",
      "1",
      "-m",
      "1G",
      "-display",
      "none",
      "-monitor",
      mon,
      "-serial",
      "null",
      "-serial",
      "stdio",
      "-no-reboot",
      "-device",
      "loader,file=" + info.binary + ",addr=0x17800000,cpu-num=0",
      "-drive",
      "if=none,id=stick,file=" + o.diskImage + ",format=raw",
      "-device",
      "usb-storage,bus=usb-bus.0,drive=stick",
    ];
    if (o.eepromAddress !== null) {
      const ee = Buffer.alloc(EEPROM_SIZE);
      if (o.eeprom) o.eeprom.copy(ee, 0, 0, Math.min(o.eeprom.length, EEPROM_SIZE));
      const eeFile = join(o.workDir, "eeprom.bin");
      writeFileSync(eeFile, ee);
      args.push("-drive", "if=none,id=ee,file=" + eeFile + ",format=raw");
      args.push(
        "-device",
        "at24c-eeprom,bus=i2c-bus.0,address=0x" +
          o.eepromAddress.toString(16) +
          ",drive=ee,rom-size=" +
          EEPROM_SIZE,
      );
    }
    if (info.arch === "arm64") {
      cmd = "qemu-system-aarch64";
      args = [
        ...["-M", "virt", "-cpu", "cortex-a57", "-smp", "1", "-m", "1G", "-display", "none"],
        ...["-monitor", mon, "-serial", "stdio", "-no-reboot", "-nic", "none", "-bios", info.binary],
        ...["-drive", "if=none,id=stick,file=" + o.diskImage + ",format=raw"],
        ...["-device", "virtio-blk-device,drive=stick"],
      ];
    }
    process.on("exit", this.onExit);
    const proc = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.proc = proc;
    proc.stdout!.setEncoding("latin1");
    proc.stdout!.on("data", (chunk: string) => {
      const text = chunk.replace(/\r/g, "");
      this.buffer += text;
      this.transcript += text;
      if (o.echo) process.stderr.write(text);
      if (this.waiter) this.waiter();
    });
    proc.stderr!.setEncoding("utf8");
    proc.stderr!.on("data", (chunk: string) => {
      this.transcript += chunk;
    });
    proc.on("exit", () => {
      this.exited = true;
      if (this.waiter) this.waiter();
    });
    proc.stdin!.on("error", () => {});
    const timeout = o.bootTimeoutMs ?? 90000;
    await this.waitFor((b) => b.indexOf("Hit any key to stop autoboot") >= 0, timeout, "autoboot prompt");
    proc.stdin!.write(" ");
    await this.waitFor((b) => b.endsWith(PROMPT), timeout, "U-Boot prompt");
    this.buffer = "";
    return Date.now() - t0;
  }

  private waitFor(
    done: (buffer: string) => boolean,
    timeoutMs: number,
    what: string,
    responder?: Responder,
  ): Promise<void> {
    return new Promise((resolveWait, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(
          new Error(
            "timed out after " +
              timeoutMs +
              " ms waiting for " +
              what +
              "; console tail:\n" +
              this.buffer.slice(-2000),
          ),
        );
      }, timeoutMs);
      let answered = 0;
      const check = () => {
        if (done(this.buffer)) {
          clearTimeout(timer);
          this.waiter = null;
          resolveWait();
        } else if (this.exited) {
          clearTimeout(timer);
          this.waiter = null;
          reject(
            new Error(
              "QEMU exited while waiting for " + what + "; console tail:\n" + this.buffer.slice(-2000),
            ),
          );
        } else if (responder && this.buffer.length > answered) {
          const reply = responder(this.buffer);
          if (reply !== null) {
            answered = this.buffer.length;
            this.proc!.stdin!.write(reply);
          }
        }
      };
      this.waiter = check;
      check();
    });
  }

  /**
   * Types one command line and returns what it printed (without the echo and the prompt); a
   * responder answers whatever the command asks for on the console while it runs.
   */
  async run(command: string, timeoutMs = 60000, responder?: Responder): Promise<string> {
    if (!this.proc || this.exited) throw new Error("QEMU is not running");
    if (/[\r\n]/.test(command)) throw new Error("command must be a single line");
    this.buffer = "";
    this.proc.stdin!.write(command + "\r");
    await this.waitFor((b) => b.endsWith(PROMPT), timeoutMs, "the prompt after `" + command + "`", responder);
    let out = this.buffer.slice(0, this.buffer.length - PROMPT.length + 1);
    const nl = out.indexOf("\n");
    out = nl >= 0 ? out.slice(nl + 1) : "";
    this.buffer = "";
    return out;
  }

  /**
   * Types a command that does not come back to the prompt (booti into a test kernel) and returns the
   * console output once `marker` appears. The session is unusable afterwards: close() it.
   */
  async runUntil(command: string, marker: string, timeoutMs = 60000): Promise<string> {
    if (!this.proc || this.exited) throw new Error("QEMU is not running");
    if (/[\r\n]/.test(command)) throw new Error("command must be a single line");
    this.buffer = "";
    this.proc.stdin!.write(command + "\r");
    await this.waitFor((b) => b.indexOf(marker) >= 0, timeoutMs, "`" + marker + "` after `" + command + "`");
    const out = this.buffer;
    const nl = out.indexOf("\n");
    this.buffer = "";
    return nl >= 0 ? out.slice(nl + 1) : "";
  }

  /**
   * Runs one QEMU monitor command (started with `monitor: true`), e.g. `pmemsave ADDR SIZE FILE` to read
   * guest RAM after U-Boot has handed over to a kernel. Returns what the monitor printed.
   */
  monitor(command: string, timeoutMs = 30000): Promise<string> {
    if (!this.monitorPath) return Promise.reject(new Error("QEMU was started without monitor: true"));
    return new Promise((resolveMon, reject) => {
      const sock = createConnection(this.monitorPath);
      let text = "";
      let sent = false;
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error("QEMU monitor: no answer to `" + command + "`: " + text));
      }, timeoutMs);
      sock.setEncoding("latin1");
      sock.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      sock.on("data", (chunk: string) => {
        text += chunk;
        if (!text.endsWith("(qemu) ")) return;
        if (!sent) {
          sent = true;
          text = "";
          sock.write(command + "\n");
        } else {
          clearTimeout(timer);
          sock.end();
          // Drop the monitor's line-editing redraws (ESC [ K, ESC [ D) and the echoed command line.
          const clean = text.replace(/\r/g, "").replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
          const nl = clean.indexOf("\n");
          resolveMon((nl >= 0 ? clean.slice(nl + 1) : clean).replace(/\(qemu\) $/, ""));
        }
      });
    });
  }

  close(): void {
    process.removeListener("exit", this.onExit);
    if (this.proc && !this.exited) {
      try {
        this.proc.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    this.proc = null;
  }
}
