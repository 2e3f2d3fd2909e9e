// biome-ignore-all lint/suspicious/noTemplateCurlyInString: U-Boot script text uses ${var} on purpose
// Runs boot.scr in a real U-Boot (by default Debian 12's 2023.01 for the i.MX6 SABRE Lite under
// qemu-system-arm; SessionOptions.board picks another build, e.g. Debian 13's 2025.01 "sabrelite-2025")
// against an emulated MCU (QEMU's at24c EEPROM at 0x69 on i2c bus 0 holding the register block).
// Many cases share one QEMU boot: between cases the block is rewritten with U-Boot's own `i2c write`.
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BLOCK_LENGTH, BLOCK_REGISTER, MCU_I2C_ADDRESS } from "../protocol/register-block";
import { generateBootCmd } from "./generate";
import { TEST_BASE_DTS } from "./sample-dts";
import { scriptVariables } from "./script-layout";
import {
  BOARDS,
  buildDiskImage,
  compileDts,
  type FileTree,
  makeTempDir,
  mkimageScript,
  QemuUboot,
  type UbootBoard,
} from "./qemu";
import { hex } from "../protocol/bytes";

export interface UbootCase {
  /** Label for reports. */
  name?: string;
  /**
   * Bytes published at the block register (normally encodeBlock(...)); null = no device answers at the
   * MCU's address (the case runs in a QEMU without the emulated target). Undefined = 64 zero bytes.
   */
  block?: number[] | null;
  /** Written over the block by `flipper_poll_hook` after the first PENDING poll (PENDING -> FINAL). */
  laterBlock?: number[];
  /** Saved environment (flipper_profile, flipper_base, ...), imported before the script runs. */
  savedEnv?: Record<string, string>;
  /** Other environment variables, e.g. the script's settings (flipper_i2c_bus ...). */
  env?: Record<string, string>;
  /** bootargs the board already set before boot.scr runs. */
  presetBootargs?: string;
  /** Profile id -> fragment text, written to flipper/<id>.env on the case's boot partition. */
  fragments?: Record<string, string>;
  /** Overlay name -> .dtbo, written to flipper/overlays/<name>.dtbo. */
  overlays?: Record<string, Buffer>;
  /** Any other files for the boot partition (path -> content). */
  bootFiles?: FileTree;
  /**
   * Run the whole script (DTB, overlays, kernel, initramfs) but stop before booti (flipper_noboot=1).
   * A test DTB with symbols, a dummy kernel and initramfs are added to the boot partition.
   * Default false: only the bootargs-deciding section runs (flipper_select_only=1).
   */
  fullBoot?: boolean;
  /** Commands typed at the prompt after the script (their output goes to afterOutput). */
  after?: string[];
  /**
   * With fullBoot: really run the boot command (no flipper_noboot) and return once this text appears
   * on the console (e.g. a test kernel's banner after booti). The case must be its session's last one;
   * bootargs is then null (nothing is printed after the jump).
   */
  bootUntil?: string;
  /** Script text to run for this case instead of the session's script. */
  scriptText?: string;
}

export interface UbootResult {
  name: string;
  /** Final bootargs, or null when unset. */
  bootargs: string | null;
  /** Every console line the script printed that starts with `flipper:`. */
  flipperLines: string[];
  /** What the script printed (between the start of the script and its end). */
  console: string;
  afterOutput: string[];
  /** Wall time of the case's command (setup + script), ms. */
  ms: number;
}

export interface SessionOptions {
  /** Whether the emulated MCU answers at 0x69 (false: no I2C target at all). */
  mcuPresent?: boolean;
  /** Script text to run instead of the generated boot.cmd (benchmarks, experiments). */
  scriptText?: string;
  /** Echo the console to stderr. */
  echo?: boolean;
  /** Board (default "sabrelite"; the virt64 boards have no I2C target: MCU-absent cases only). */
  board?: UbootBoard;
  /** QEMU boards: open the QEMU monitor (UbootSession.monitor()). */
  monitor?: boolean;
}

// Harness buffers, from the board's BOARDS[board].harnessRam (sabrelite: 0x10700000 ... 0x10b00000).
const H_CASE = 0;
const H_ENV = 0x100000;
const H_BLOCK = 0x200000;
const H_LATER = 0x300000;
const H_SCRIPT = 0x400000;
const h = (n: number) => hex(n, 1);

function binaryEnv(vars: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const k of Object.keys(vars)) parts.push(Buffer.from(k + "=" + vars[k] + "\0", "latin1"));
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function caseTree(c: UbootCase, fdtfile: string): FileTree | null {
  const t: FileTree = {};
  for (const id of Object.keys(c.fragments ?? {})) t["flipper/" + id + ".env"] = c.fragments![id];
  for (const n of Object.keys(c.overlays ?? {})) t["flipper/overlays/" + n + ".dtbo"] = c.overlays![n];
  if (c.fullBoot) {
    t[fdtfile] = compileDts(TEST_BASE_DTS);
    t["Image"] = Buffer.from("not a kernel\n");
    t["initrd.img"] = Buffer.from("not an initramfs\n");
  }
  Object.assign(t, c.bootFiles ?? {});
  return Object.keys(t).length > 0 ? t : null;
}

/** One QEMU boot that runs many cases. */
export class UbootSession {
  private q = new QemuUboot();
  private work = "";
  private cases: UbootCase[] = [];
  private partOf: number[] = [];
  private opts: SessionOptions;
  /** Milliseconds from QEMU start to the U-Boot prompt. */
  bootMs = 0;

  constructor(opts: SessionOptions = {}) {
    this.opts = opts;
  }

  /** Builds the USB stick for `cases` (all known up front) and boots U-Boot to its prompt. */
  async start(cases: UbootCase[]): Promise<void> {
    this.cases = cases;
    const board = BOARDS[this.opts.board ?? "sabrelite"];
    const present = this.opts.mcuPresent !== false;
    if (present && !board.i2c) {
      throw new Error("board " + (this.opts.board ?? "") + " has no I2C target: MCU-absent cases only");
    }
    cases.forEach((c, i) => {
      if (c.bootUntil !== undefined && i !== cases.length - 1) {
        throw new Error("case " + i + ": bootUntil must be the session's last case");
      }
    });
    this.work = makeTempDir("flipper-uboot-");
    const dev = board.devtype;
    const at = (off: number) => h(board.harnessRam + off);
    const script = this.opts.scriptText ?? generateBootCmd();
    const harness: FileTree = { "h/boot.scr": mkimageScript(script, board.arch) };
    const trees: FileTree[] = [harness];
    const keys = new Map<string, number>();
    // fl_cc: the benchmark's command counter (command-count.ts).
    const clear = ["bootargs", "fl_cc", ...scriptVariables(script)];
    cases.forEach((c, i) => {
      const tree = caseTree(c, board.fdtfile);
      let part = 1;
      if (tree) {
        const key = JSON.stringify(
          Object.entries(tree).map(([k, v]) => [k, Buffer.from(v).toString("base64")]),
        );
        if (!keys.has(key)) {
          trees.push(tree);
          keys.set(key, trees.length);
        }
        part = keys.get(key)!;
      }
      this.partOf.push(part);
      const vars: Record<string, string> = {
        devtype: dev,
        devnum: "0",
        distro_bootpart: part.toString(16),
        ...board.env,
        ...(c.fullBoot
          ? c.bootUntil !== undefined
            ? {}
            : { flipper_noboot: "1" }
          : { flipper_select_only: "1" }),
        ...(c.savedEnv ?? {}),
        ...(c.env ?? {}),
      };
      if (c.presetBootargs !== undefined) vars.bootargs = c.presetBootargs;
      const lines: string[] = [];
      for (let k = 0; k < clear.length; k += 12)
        lines.push("env delete -f " + clear.slice(k, k + 12).join(" "));
      const env = binaryEnv(vars);
      harness["h/c" + i + ".env"] = env;
      lines.push(
        "load " +
          dev +
          " 0:1 " +
          at(H_ENV) +
          " h/c" +
          i +
          ".env; env import -b " +
          at(H_ENV) +
          " " +
          h(env.length),
      );
      if (present) {
        const block = Buffer.from(c.block ?? new Array(BLOCK_LENGTH).fill(0));
        harness["h/c" + i + ".blk"] = block;
        lines.push("i2c dev 0");
        lines.push("load " + dev + " 0:1 " + at(H_BLOCK) + " h/c" + i + ".blk");
        lines.push(
          "i2c write " +
            at(H_BLOCK) +
            " " +
            h(MCU_I2C_ADDRESS) +
            " " +
            h(BLOCK_REGISTER) +
            ".2 " +
            h(block.length) +
            " -s",
        );
        if (c.laterBlock) {
          const later = Buffer.from(c.laterBlock);
          harness["h/c" + i + ".later"] = later;
          lines.push("load " + dev + " 0:1 " + at(H_LATER) + " h/c" + i + ".later");
          lines.push(
            "setenv flipper_poll_hook 'i2c dev 0; i2c write " +
              at(H_LATER) +
              " " +
              h(MCU_I2C_ADDRESS) +
              " " +
              h(BLOCK_REGISTER) +
              ".2 " +
              h(later.length) +
              " -s'",
          );
        }
      }
      let scr = "h/boot.scr";
      if (c.scriptText !== undefined) {
        scr = "h/c" + i + ".boot.scr";
        harness[scr] = mkimageScript(c.scriptText, board.arch);
      }
      lines.push("load " + dev + " 0:1 " + at(H_SCRIPT) + " " + scr);
      lines.push("echo @@SCRIPT-BEGIN@@");
      lines.push("source " + at(H_SCRIPT));
      lines.push("echo @@SCRIPT-END@@");
      lines.push("printenv bootargs");
      harness["h/c" + i + ".scr"] = mkimageScript(lines.join("\n") + "\n", board.arch);
    });
    const img = join(this.work, "stick.img");
    buildDiskImage(img, trees);
    this.bootMs = await this.q.start({
      board: this.opts.board,
      monitor: this.opts.monitor,
      diskImage: img,
      eepromAddress: present ? MCU_I2C_ADDRESS : null,
      workDir: this.work,
      echo: this.opts.echo,
    });
  }

  /** Runs case number `i` of the list given to start(). */
  async runCase(i: number): Promise<UbootResult> {
    const c = this.cases[i];
    const board = BOARDS[this.opts.board ?? "sabrelite"];
    const at = h(board.harnessRam + H_CASE);
    const t0 = Date.now();
    const command = "load " + board.devtype + " 0:1 " + at + " h/c" + i + ".scr; source " + at;
    const out =
      c.bootUntil !== undefined
        ? await this.q.runUntil(command, c.bootUntil, 120000)
        : await this.q.run(command, 120000);
    const ms = Date.now() - t0;
    const b = out.indexOf("@@SCRIPT-BEGIN@@\n");
    const e = out.indexOf("@@SCRIPT-END@@\n");
    const scriptOut = b >= 0 ? out.slice(b + 17, e > b ? e : out.length) : out;
    const tail = e >= 0 ? out.slice(e + 15) : "";
    const m = /^bootargs=(.*)$/m.exec(tail);
    const afterOutput: string[] = [];
    if (c.bootUntil === undefined) for (const cmd of c.after ?? []) afterOutput.push(await this.q.run(cmd));
    return {
      name: c.name ?? "case " + i,
      bootargs: m ? m[1] : null,
      flipperLines: scriptOut.split("\n").filter((l) => l.startsWith("flipper:")),
      console: scriptOut,
      afterOutput,
      ms,
    };
  }

  /** Types a command at the prompt. */
  command(text: string): Promise<string> {
    return this.q.run(text);
  }

  /** A QEMU monitor command (session started with `monitor: true`), e.g. pmemsave after booti. */
  monitor(text: string): Promise<string> {
    return this.q.monitor(text);
  }

  close(): void {
    this.q.close();
    if (this.work) rmSync(this.work, { recursive: true, force: true });
  }
}

/**
 * Runs cases in as few QEMU boots as possible (one with the MCU present, one without, in parallel) and
 * returns one promise per case, settled as soon as that case has run (so a long list reports progress).
 * A failed boot rejects the promises of its group's remaining cases.
 */
export function runUbootStream(cases: UbootCase[], opts: SessionOptions = {}): Promise<UbootResult>[] {
  const settle: Array<{ resolve: (r: UbootResult) => void; reject: (e: unknown) => void }> = [];
  const promises = cases.map(
    (_c, i) =>
      new Promise<UbootResult>((resolve, reject) => {
        settle[i] = { resolve, reject };
      }),
  );
  // A case nobody awaits (a filtered test) must not become an unhandled rejection.
  for (const p of promises) p.catch(() => {});
  const groups = [
    { present: true, idx: cases.map((c, i) => (c.block === null ? -1 : i)).filter((i) => i >= 0) },
    { present: false, idx: cases.map((c, i) => (c.block === null ? i : -1)).filter((i) => i >= 0) },
  ].filter((g) => g.idx.length > 0);
  for (const g of groups) {
    const s = new UbootSession({ ...opts, mcuPresent: g.present });
    let k = 0;
    (async () => {
      try {
        await s.start(g.idx.map((i) => cases[i]));
        for (; k < g.idx.length; k++) settle[g.idx[k]].resolve(await s.runCase(k));
      } catch (e) {
        for (; k < g.idx.length; k++) settle[g.idx[k]].reject(e);
      } finally {
        s.close();
      }
    })();
  }
  return promises;
}

/**
 * runUbootStream on `board`, started by the first call: a test file declares its cases up front and
 * each test awaits its own (`result(i)`). A missing U-Boot build rejects every case with its file's
 * name and the setup command.
 */
export function lazyUbootStream(cases: UbootCase[], board: UbootBoard): (i: number) => Promise<UbootResult> {
  const info = BOARDS[board];
  let results: Promise<UbootResult>[] | null = null;
  return (i) => {
    if (!existsSync(info.binary)) {
      return Promise.reject(
        new Error(
          "missing " + info.binary + " (U-Boot " + info.version + "): run `sh uboot-script/setup.sh`",
        ),
      );
    }
    if (!results) results = runUbootStream(cases, { board });
    return results[i];
  };
}

/** Runs cases in as few QEMU boots as possible (one with the MCU present, one without), in parallel. */
export async function runUbootBatch(cases: UbootCase[], opts: SessionOptions = {}): Promise<UbootResult[]> {
  return Promise.all(runUbootStream(cases, opts));
}

/** Runs one case in its own QEMU boot. */
export async function runUboot(c: UbootCase, opts: SessionOptions = {}): Promise<UbootResult> {
  return (await runUbootBatch([c], opts))[0];
}
