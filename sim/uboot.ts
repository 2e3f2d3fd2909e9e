// biome-ignore-all lint/suspicious/noTemplateCurlyInString: U-Boot command text uses ${var} on purpose
// The simulator's U-Boot: ONE real U-Boot (Debian's 2023.01 for the SABRE Lite under QEMU, from
// uboot-script/qemu.ts) kept at its prompt and reused for every simulated power-on.
//
// Per boot: the FAT boot partition (the bridge's boot/ folder + the real boot.scr) is rewritten in
// place on the USB stick image (U-Boot's block cache is switched off, so it reads the new bytes); the
// saved environment and the 64-byte register block reach U-Boot as bytes typed with `mw.l`; the block
// goes into the emulated I2C target at 0x69 with U-Boot's own `i2c write`; then `source boot.scr` runs
// exactly as the board's distro boot would. An absent MCU is a second QEMU without the I2C target.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { BLOCK_REGISTER, MCU_I2C_ADDRESS } from "../protocol/register-block";
import { CONFIG_VARS, generateBootCmd, internalVars, SAVED_VARS } from "../uboot-script/generate";
import {
  buildDiskImage,
  type FileTree,
  makeTempDir,
  mkimageScript,
  QemuUboot,
  type Responder,
} from "../uboot-script/qemu";
import { hex as hexDigits } from "../protocol/bytes";

export interface UbootBootInput {
  /** 64 bytes at the MCU's register 0x0600; null = no MCU answers on I2C. */
  block: number[] | null;
  /** The saved U-Boot environment (what fw_setenv wrote), e.g. flipper_profile / flipper_base. */
  savedEnv: Record<string, string>;
  /** The FAT boot partition's folder (flipper/<id>.env fragments, overlays, kernel, DTB). */
  bootDir: string;
  /**
   * The MCU's block right now. When given, boot.scr's PENDING polls are served live: its
   * flipper_poll_hook asks for the block with `mm.l` and gets this, then `i2c write`s it to 0x69.
   */
  liveBlock?: () => number[];
}

export interface UbootBootResult {
  bootargs: string | null;
  flipperLines: string[];
  /** The console of the whole boot (commands typed + what U-Boot printed). */
  console: string;
  /** What boot.scr printed. */
  scriptOutput: string;
  ms: number;
  /** Part of ms spent starting QEMU (0 when a session was reused). */
  coldStartMs: number;
  /** Part of ms spent rewriting the boot partition (0 when unchanged). */
  diskMs: number;
  /** PENDING polls served live (with liveBlock). */
  polls: number;
}

const A_ENV = 0x10800000;
const A_BLOCK = 0x10900000;
const A_SCRIPT = 0x10b00000;
/** A number as U-Boot reads it (hex, no prefix). */
const hex = (n: number) => hexDigits(n, 1);

/** Every file under `dir` (relative path -> content), skipping dotfiles (atomic-write leftovers). */
export function readTree(dir: string): FileTree {
  const out: FileTree = {};
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith(".")) continue;
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out[relative(dir, p)] = readFileSync(p);
    }
  };
  walk(dir);
  return out;
}

function treeKey(t: FileTree): string {
  return JSON.stringify(Object.keys(t).map((k) => [k, Buffer.from(t[k]).toString("base64")]));
}

/** `mw.l` commands that put `bytes` (padded to 4) at `addr`, split into console lines of <= 360 chars. */
export function memWriteLines(addr: number, bytes: Buffer): string[] {
  const padded = Buffer.alloc(Math.ceil(bytes.length / 4) * 4);
  bytes.copy(padded);
  const lines: string[] = [];
  let cur: string[] = [];
  for (let i = 0; i < padded.length; i += 4) {
    cur.push("mw.l " + hex(addr + i) + " " + hex(padded.readUInt32LE(i)));
    if (cur.join("; ").length > 330) {
      lines.push(cur.join("; "));
      cur = [];
    }
  }
  if (cur.length > 0) lines.push(cur.join("; "));
  return lines;
}

class Session {
  q = new QemuUboot();
  work = makeTempDir("flipper-sim-uboot-");
  img = join(this.work, "stick.img");
  key = "";
  constructor(readonly present: boolean) {}

  async start(tree: FileTree): Promise<number> {
    buildDiskImage(this.img, [tree]);
    this.key = treeKey(tree);
    const t0 = Date.now();
    await this.q.start({
      diskImage: this.img,
      eepromAddress: this.present ? MCU_I2C_ADDRESS : null,
      workDir: this.work,
    });
    // No block cache: the partition is rewritten under U-Boot between boots.
    await this.q.run("blkcache configure 0 0");
    return Date.now() - t0;
  }

  /** Rewrites the stick in place when the partition's files changed; returns the ms spent. */
  update(tree: FileTree): number {
    const key = treeKey(tree);
    if (key === this.key) return 0;
    const t0 = Date.now();
    const next = this.img + ".next";
    buildDiskImage(next, [tree]);
    execFileSync("dd", ["if=" + next, "of=" + this.img, "conv=notrunc", "status=none"]);
    rmSync(next, { force: true });
    this.key = key;
    return Date.now() - t0;
  }

  close(): void {
    this.q.close();
    rmSync(this.work, { recursive: true, force: true });
  }
}

/** The simulator's U-Boot runner (one QEMU per MCU-present/absent, started on first use). */
export class SimUboot {
  private sessions: { present: Session | null; absent: Session | null } = { present: null, absent: null };
  private starting: { present: Promise<number> | null; absent: Promise<number> | null } = {
    present: null,
    absent: null,
  };
  /** Sessions whose QEMU is still booting (closed at once by close()). */
  private booting: { present: Session | null; absent: Session | null } = { present: null, absent: null };
  private queue: Promise<unknown> = Promise.resolve();
  readonly scriptText: string;
  private scriptImage: Buffer;
  private clearVars: string[];
  /** Board environment set before boot.scr runs (what distro boot sets). */
  boardEnv: Record<string, string> = {
    devtype: "usb",
    devnum: "0",
    distro_bootpart: "1",
    flipper_noboot: "1",
  };

  constructor(scriptText = generateBootCmd()) {
    this.scriptText = scriptText;
    this.scriptImage = mkimageScript(scriptText);
    this.clearVars = [
      "bootargs",
      ...Object.keys(CONFIG_VARS),
      ...SAVED_VARS,
      "flipper_kopts",
      "flipper_overlays",
      ...internalVars(scriptText),
    ];
  }

  /** The partition's files: the boot folder plus the real boot.scr at its root. */
  private tree(bootDir: string): FileTree {
    const t = readTree(bootDir);
    t["boot.scr"] = this.scriptImage;
    return t;
  }

  /** Starts the QEMU for `present` ahead of time (optional: boot() starts it when needed). */
  async warm(present: boolean, bootDir: string): Promise<void> {
    await this.session(present, bootDir);
  }

  private async session(present: boolean, bootDir: string): Promise<{ s: Session; coldMs: number }> {
    const k = present ? "present" : "absent";
    const have = this.sessions[k];
    if (have) return { s: have, coldMs: 0 };
    if (!this.starting[k]) {
      const s = new Session(present);
      this.booting[k] = s;
      this.starting[k] = s.start(this.tree(bootDir)).then(
        (ms) => {
          this.booting[k] = null;
          if (this.closed) {
            s.close();
            throw new Error("the U-Boot runner was closed");
          }
          this.sessions[k] = s;
          return ms;
        },
        (e) => {
          this.booting[k] = null;
          s.close();
          this.starting[k] = null;
          throw e;
        },
      );
    }
    const ms = await this.starting[k]!;
    return { s: this.sessions[k]!, coldMs: ms };
  }

  /** One boot: the real boot.scr against `input`. Boots are serialised. */
  boot(input: UbootBootInput): Promise<UbootBootResult> {
    const run = this.queue.then(() => this.bootNow(input));
    this.queue = run.catch(() => {});
    return run;
  }

  private async bootNow(input: UbootBootInput): Promise<UbootBootResult> {
    const t0 = Date.now();
    const present = input.block !== null;
    const { s, coldMs } = await this.session(present, input.bootDir);
    const diskMs = s.update(this.tree(input.bootDir));
    const lines: string[] = [];
    for (let k = 0; k < this.clearVars.length; k += 12) {
      lines.push("env delete -f " + this.clearVars.slice(k, k + 12).join(" "));
    }
    lines.push(
      Object.keys(this.boardEnv)
        .map((k) => "setenv " + k + " " + this.boardEnv[k])
        .join("; "),
    );
    // The saved environment as `key=value` text, imported like U-Boot loads its saved env at start.
    const names = Object.keys(input.savedEnv).filter((k) => /^[A-Za-z0-9_]+$/.test(k));
    if (names.length > 0) {
      const text = Buffer.from(
        names.map((k) => k + "=" + input.savedEnv[k].replace(/[\n\0]/g, "")).join("\n") + "\n",
        "utf8",
      );
      lines.push(...memWriteLines(A_ENV, text));
      lines.push("env import -t " + hex(A_ENV) + " " + hex(text.length) + " " + names.join(" "));
    }
    // The block from RAM to the I2C target, as the MCU would publish it.
    const i2cWriteBlock =
      "i2c dev 0; i2c write " +
      hex(A_BLOCK) +
      " " +
      hex(MCU_I2C_ADDRESS) +
      " " +
      hex(BLOCK_REGISTER) +
      ".2 " +
      hex(input.block ? input.block.length : 0) +
      " -s";
    if (input.block) {
      lines.push(...memWriteLines(A_BLOCK, Buffer.from(input.block)));
      lines.push(i2cWriteBlock);
    }
    let responder: Responder | undefined;
    let polls = 0;
    if (input.block && input.liveBlock) {
      const live = input.liveBlock;
      lines.push("setenv flipper_poll_hook 'mm.l " + hex(A_BLOCK) + "; " + i2cWriteBlock + "'");
      // At mm's first prompt, type the whole block (16 words) and "." at once: one consistent copy,
      // as the MCU publishes it (the console input waits in QEMU until U-Boot reads it).
      const first = hex(A_BLOCK) + ": ";
      responder = (out: string) => {
        const at = out.lastIndexOf("\n") + 1;
        const tail = out.slice(at);
        if (!tail.startsWith(first) || !/ \? $/.test(tail)) return null;
        polls++;
        const b = Buffer.from(live());
        let text = "";
        for (let i = 0; i < b.length; i += 4) text += hex(b.readUInt32LE(i)) + "\r";
        return text + ".\r";
      };
    }
    lines.push("load usb 0:1 " + hex(A_SCRIPT) + " boot.scr");
    lines.push("echo @@SCRIPT-BEGIN@@; source " + hex(A_SCRIPT) + "; echo @@SCRIPT-END@@; printenv bootargs");
    let consoleText = "";
    let last = "";
    try {
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        last = await s.q.run(line, 120000, i === lines.length - 1 ? responder : undefined);
        consoleText += "=> " + line + "\n" + last;
      }
    } catch (e) {
      // A dead or stuck QEMU: drop the session, the next boot starts a new one.
      const k = present ? "present" : "absent";
      if (this.sessions[k] === s) {
        this.sessions[k] = null;
        this.starting[k] = null;
      }
      s.close();
      throw e;
    }
    const b = last.indexOf("@@SCRIPT-BEGIN@@\n");
    const e = last.indexOf("@@SCRIPT-END@@\n");
    const scriptOutput = b >= 0 && e > b ? last.slice(b + 17, e) : last;
    const tail = e >= 0 ? last.slice(e + 15) : "";
    const m = /^bootargs=(.*)$/m.exec(tail);
    return {
      bootargs: m ? m[1] : null,
      flipperLines: scriptOutput.split("\n").filter((l) => l.startsWith("flipper:")),
      console: consoleText,
      scriptOutput,
      ms: Date.now() - t0,
      coldStartMs: coldMs,
      diskMs,
      polls,
    };
  }

  private closed = false;

  close(): void {
    this.closed = true;
    for (const k of ["present", "absent"] as const) {
      this.sessions[k]?.close();
      this.sessions[k] = null;
      // A QEMU still booting is killed now (its start then fails, which nobody awaits any more).
      this.booting[k]?.close();
      this.booting[k] = null;
      this.starting[k]?.catch(() => {});
    }
  }
}
