// biome-ignore-all lint/suspicious/noTemplateCurlyInString: U-Boot script text uses ${var} on purpose
// Low-level pieces of the U-Boot harness: a FAT/GPT "USB stick" image builder and a QEMU session
// that boots Debian's i.MX6 SABRE Lite U-Boot, stops the autoboot and types commands at the prompt.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const UBOOT_BUILD_DIR = join(REPO_ROOT, "build", "uboot");
/** U-Boot 2023.01 for the SABRE Lite without its i.MX header (made by uboot-script/setup.sh). */
export const UBOOT_BIN = join(UBOOT_BUILD_DIR, "u-boot-dtb.bin");

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
  const dir = makeTempDir("flipper-mkimage-");
  try {
    writeFileSync(join(dir, "in.cmd"), text);
    tool("mkimage", [
      "-A",
      arch,
      "-O",
      "linux",
      "-T",
      "script",
      "-C",
      "none",
      "-d",
      join(dir, "in.cmd"),
      join(dir, "out.scr"),
    ]);
    return readFileSync(join(dir, "out.scr"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Compiles device-tree source with dtc (`-@` so labels become __symbols__ / fixups). */
export function compileDts(source: string): Buffer {
  const dir = makeTempDir("flipper-dtc-");
  try {
    writeFileSync(join(dir, "in.dts"), source);
    tool(findTool("dtc"), [
      "-@",
      "-q",
      "-I",
      "dts",
      "-O",
      "dtb",
      "-o",
      join(dir, "out.dtb"),
      join(dir, "in.dts"),
    ]);
    return readFileSync(join(dir, "out.dtb"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const PART_SECTORS = 2048; // 1 MiB per FAT partition
const FIRST_LBA = 2048;

/**
 * A GPT disk image with one FAT partition per tree (partition N = trees[N-1]), written to `path`.
 * U-Boot sees them as usb 0:1, 0:2, ...
 */
export function buildDiskImage(path: string, trees: FileTree[]): void {
  const work = makeTempDir("flipper-disk-");
  try {
    const totalSectors = FIRST_LBA + trees.length * PART_SECTORS + 2048;
    writeFileSync(path, Buffer.alloc(0));
    execFileSync("truncate", ["-s", String(totalSectors * 512), path]);
    let layout = "label: gpt\n";
    for (let i = 0; i < trees.length; i++) {
      layout +=
        "start=" +
        (FIRST_LBA + i * PART_SECTORS) +
        ", size=" +
        PART_SECTORS +
        ", type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n";
    }
    tool(findTool("sfdisk"), ["-q", path], layout);
    for (let i = 0; i < trees.length; i++) {
      const part = join(work, "p" + i + ".img");
      tool(findTool("mkfs.vfat"), ["-C", part, String((PART_SECTORS * 512) / 1024)]);
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
        "seek=" + (FIRST_LBA + i * PART_SECTORS),
        "conv=notrunc",
        "status=none",
      ]);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface QemuOptions {
  /** GPT image attached as a USB stick (usb 0). */
  diskImage: string;
  /** 7-bit address of the emulated EEPROM on i2c bus 0, or null for no target at all. */
  eepromAddress: number | null;
  /** Initial EEPROM content (padded to 4 KiB). */
  eeprom?: Buffer;
  /** Directory for the EEPROM file; deleted by the caller. */
  workDir: string;
  /** Milliseconds to wait for the prompt after start. */
  bootTimeoutMs?: number;
  /** Echo the console to stderr as it arrives (debugging). */
  echo?: boolean;
}

const PROMPT = "\n=> ";
const EEPROM_SIZE = 4096;

/** A running QEMU with U-Boot stopped at its prompt. Always call close(). */
export class QemuUboot {
  private proc: ChildProcess | null = null;
  private buffer = "";
  /** Everything the console printed, CR stripped. */
  transcript = "";
  private waiter: (() => void) | null = null;
  private exited = false;
  private onExit = () => this.close();

  async start(o: QemuOptions): Promise<number> {
    if (!existsSync(UBOOT_BIN)) {
      throw new Error("missing " + UBOOT_BIN + ": run `sh uboot-script/setup.sh` first");
    }
    const t0 = Date.now();
    const args = [
      "-M",
      "sabrelite",
      "-smp",
      "1",
      "-m",
      "1G",
      "-display",
      "none",
      "-monitor",
      "none",
      "-serial",
      "null",
      "-serial",
      "stdio",
      "-no-reboot",
      "-device",
      "loader,file=" + UBOOT_BIN + ",addr=0x17800000,cpu-num=0",
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
    process.on("exit", this.onExit);
    const proc = spawn("qemu-system-arm", args, { stdio: ["pipe", "pipe", "pipe"] });
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

  private waitFor(done: (buffer: string) => boolean, timeoutMs: number, what: string): Promise<void> {
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
        }
      };
      this.waiter = check;
      check();
    });
  }

  /** Types one command line and returns what it printed (without the echo and the prompt). */
  async run(command: string, timeoutMs = 60000): Promise<string> {
    if (!this.proc || this.exited) throw new Error("QEMU is not running");
    if (/[\r\n]/.test(command)) throw new Error("command must be a single line");
    this.buffer = "";
    this.proc.stdin!.write(command + "\r");
    await this.waitFor((b) => b.endsWith(PROMPT), timeoutMs, "the prompt after `" + command + "`");
    let out = this.buffer.slice(0, this.buffer.length - PROMPT.length + 1);
    const nl = out.indexOf("\n");
    out = nl >= 0 ? out.slice(nl + 1) : "";
    this.buffer = "";
    return out;
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
