// A QEMU U-Boot console for the simulator: like uboot-script/qemu.ts's QemuUboot (same machine,
// same U-Boot binary, same options), plus a responder that can answer prompts printed while a
// command runs. The simulator uses it to serve U-Boot's PENDING polls live: boot.scr's
// flipper_poll_hook runs `mm.l`, U-Boot asks for each word of the block ("10900000: 4c534246 ? ")
// and the responder types the MCU's current register block, word by word.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UBOOT_BIN } from "../uboot-script/qemu";

const PROMPT = "\n=> ";
const EEPROM_SIZE = 4096;

export interface ConsoleOptions {
  diskImage: string;
  /** 7-bit I2C address of the emulated target on bus 0, or null for none. */
  eepromAddress: number | null;
  workDir: string;
  bootTimeoutMs?: number;
}

/** Given the output since the command was typed, returns text to type now (or null). */
export type Responder = (sinceCommand: string) => string | null;

export class QemuConsole {
  private proc: ChildProcess | null = null;
  private buffer = "";
  private waiter: (() => void) | null = null;
  private exited = false;
  private onExit = () => this.close();

  async start(o: ConsoleOptions): Promise<number> {
    if (!existsSync(UBOOT_BIN))
      throw new Error("missing " + UBOOT_BIN + ": run `sh uboot-script/setup.sh` first");
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
      const eeFile = join(o.workDir, "eeprom.bin");
      writeFileSync(eeFile, Buffer.alloc(EEPROM_SIZE));
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
      this.buffer += chunk.replace(/\r/g, "");
      if (this.waiter) this.waiter();
    });
    proc.stderr!.on("data", () => {});
    proc.on("exit", () => {
      this.exited = true;
      if (this.waiter) this.waiter();
    });
    proc.stdin!.on("error", () => {});
    const timeout = o.bootTimeoutMs ?? 90000;
    await this.waitFor((b) => b.indexOf("Hit any key to stop autoboot") >= 0, timeout, "the autoboot prompt");
    proc.stdin!.write(" ");
    await this.waitFor((b) => b.endsWith(PROMPT), timeout, "the U-Boot prompt");
    this.buffer = "";
    return Date.now() - t0;
  }

  private waitFor(
    done: (b: string) => boolean,
    timeoutMs: number,
    what: string,
    responder?: Responder,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(
          new Error(
            "timed out after " +
              timeoutMs +
              " ms waiting for " +
              what +
              "; console tail:\n" +
              this.buffer.slice(-1500),
          ),
        );
      }, timeoutMs);
      let answered = 0;
      const check = () => {
        if (done(this.buffer)) {
          clearTimeout(timer);
          this.waiter = null;
          resolve();
        } else if (this.exited) {
          clearTimeout(timer);
          this.waiter = null;
          reject(
            new Error(
              "QEMU exited while waiting for " + what + "; console tail:\n" + this.buffer.slice(-1500),
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

  /** Types one command line; returns what it printed (without the echo and the final prompt). */
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

  close(): void {
    process.removeListener("exit", this.onExit);
    if (this.proc && !this.exited) {
      try {
        this.proc.kill("SIGKILL");
      } catch {
        // gone already
      }
    }
    this.proc = null;
  }
}
