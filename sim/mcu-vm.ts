// `--mcu vm`: the compiled DeviceScript program in the real DeviceScript VM (`devs run --tcp`)
// instead of the Node adapter, through the VM rig (mcu/vm/: jacdac-ts ButtonServers for the
// keys and a Serial server for the UART). It runs mcu/devs/sim.devs.ts: main.ts with its frames
// mirrored as `PIX` lines, so the screen here is the program's own pixels (4-bit gray).
// This adapter joins the rig's serial server to the simulator's pty and reads what the program
// prints: `REG <hex>` (the register block, the stand-in for the I2C target), `FRAME n <screen> ...
// text a|b|c` (the screen's name and text; the rig attaches the frame's pixels), `POWER on|off`.
// Limits: one VM per machine (fixed TCP port 8082, a lock file); power-on is the power key held
// 1 s as on the device; the program powers the SoC off only from the booting screen, so a power
// cycle with the menu open restarts the VM (flash kept).
import { EventEmitter } from "node:events";
import type { SerialPort } from "serialport";
import { Key, LONG_PRESS_MS } from "../mcu/core/keys";
import { storeKeys } from "../mcu/core/records";
import { type LoadedState, Store } from "../mcu/core/store";
import { MemoryFlash } from "../mcu/node/flash";
import { Framebuffer } from "../mcu/node/framebuffer";
import { openUartPort, toKey } from "../mcu/node/mcu";
import { BlockStatus, type BootSelection, decodeBlock } from "../protocol/register-block";
import { compiled } from "../mcu/vm/bytecode";
import { acquireVmLock } from "../mcu/vm/lock";
import { VmRig } from "../mcu/vm/rig";

/** The program's entry in the simulator. */
export const VM_PROGRAM = "mcu/devs/sim.devs.ts";
/** Bits a pixel of the VM's screen (DeviceScript's Image: 4-bit indices, gray 0..63 >> 2). */
export const VM_SCREEN_BITS = 4;

/** The gray level (0..63) shown for a 4-bit index: 0, 4, ... spread to 0..63 (15 -> 63). */
export function grayOfIndex(index: number): number {
  return Math.round((index * 63) / 15);
}

export class VmMcu extends EventEmitter {
  private rig: VmRig | null = null;
  private release: (() => void) | null = null;
  private port: SerialPort | null = null;
  private timer: NodeJS.Timeout | null = null;
  private seen = 0;
  private sent = 0;
  private block: number[] = new Array(64).fill(0);
  private lastFinalSeq = -1;
  private screen = "off";
  /** The program's SoC power state, from its `POWER on|off` lines. */
  private socOn = false;
  private texts: string[] = [];
  private fb = new Framebuffer();
  private keys: Promise<void> = Promise.resolve();
  private toVm: Promise<void> = Promise.resolve();

  /**
   * `workdir`: where the VM runs and keeps its settings flash (kept after stop(), so removing and
   * inserting the MCU, or a `--dir` simulation, keeps the flash); default a temp folder.
   */
  constructor(private o: { serialPath: string; baudRate?: number; workdir?: string }) {
    super();
  }

  async start(): Promise<void> {
    // Compiled before taking the machine's one VM port: other VM users need not wait for it.
    await compiled(VM_PROGRAM);
    this.release = await acquireVmLock();
    process.on("exit", this.onExit);
    try {
      this.rig = new VmRig();
      await this.rig.start(VM_PROGRAM, 120000, this.o.workdir);
      await this.rig.waitLine(/^BOUND 14 of 14$/, 120000);
      const port = await openUartPort(this.o.serialPath, this.o.baudRate);
      this.port = port;
      port.on("data", (chunk: Buffer) => {
        const bytes = [...chunk];
        this.emit("uart-rx", bytes);
        const rig = this.rig;
        if (rig) this.toVm = this.toVm.then(() => rig.serial.write(bytes)).catch(() => {});
      });
      this.rig.serial.onData(() => this.forward());
      this.forward();
      this.timer = setInterval(() => this.scan(), 20);
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Bytes the program sent on its UART since last time -> the pty. */
  private forward(): void {
    const r = this.rig?.serial.received;
    if (!r || !this.port || r.length <= this.sent) return;
    const out = r.slice(this.sent);
    this.sent = r.length;
    this.emit("uart-tx", out);
    this.port.write(Buffer.from(out));
  }

  /**
   * Reads the program's new lines. Re-entrant: listeners of the events emitted here may call back
   * (the engine's "final" listener starts a boot, which reads registerBlock()), so each line is
   * consumed before it is handled and the events go out only after the loop. (The loop used to
   * advance its index after handling a line; a nested scan then made it skip the next line, e.g.
   * the FRAME saying "booting", and the next power cycle found the screen "off", did not power
   * off, and held the power key down waiting for a power-on that had turned the SoC off instead.)
   */
  private scan(): void {
    const rig = this.rig;
    if (!rig) return;
    const finals: BootSelection[] = [];
    let frame: Uint8Array | null = null;
    while (this.seen < rig.lines.length) {
      const line = rig.lines[this.seen++];
      const t = line.text;
      let m = /^REG ([0-9a-f]{128})$/.exec(t);
      if (m) {
        this.block = [...Buffer.from(m[1], "hex")];
        const sel = decodeBlock(this.block).selection;
        if (sel && sel.status === BlockStatus.FINAL && sel.sequence !== this.lastFinalSeq) {
          this.lastFinalSeq = sel.sequence;
          finals.push(sel);
        }
        continue;
      }
      m = /^FRAME \d+ (\S+) render .* text (.*)$/.exec(t);
      if (m) {
        this.screen = m[1];
        this.texts = m[2] === "" ? [] : m[2].split("|");
        // A frame whose pixel lines did not all arrive keeps the previous picture.
        if (line.pixels) frame = line.pixels;
        continue;
      }
      m = /^POWER (on|off)(?: held \d+ screen (\S+))?/.exec(t);
      if (m) {
        this.socOn = m[1] === "on";
        // The screen right after the decision (its FRAME line follows once drawn).
        this.screen = m[1] === "off" ? "off" : (m[2] ?? this.screen);
      }
    }
    if (frame) this.show(frame);
    for (const sel of finals) this.emit("final", sel);
  }

  /** The program's latest frame (4-bit indices) on the framebuffer, as gray levels. */
  private show(indices: Uint8Array): void {
    const px = this.fb.pixels;
    for (let i = 0; i < px.length; i++) px[i] = grayOfIndex(indices[i]);
    this.emit("frame", this.fb);
  }

  private waitLine(re: RegExp, from: number, timeoutMs = 60000): Promise<string> {
    return this.rig!.waitLine(re, timeoutMs, from);
  }

  /** Power key held 1 s with `held` keys down, as on the device. */
  async powerOn(held: Array<number | string>): Promise<BootSelection> {
    const rig = this.rig!;
    await this.keys;
    const at = rig.lines.length;
    for (const k of held) await rig.keyDown(toKey(k));
    await rig.keyDown(Key.KEY3);
    await this.waitLine(/^POWER on /, at);
    await this.releasePower();
    // The block published after the power-on decision (not one printed before it).
    await rig.waitFor(
      () => {
        let on = -1;
        for (let i = at; i < rig.lines.length; i++) {
          if (on < 0 && rig.lines[i].text.startsWith("POWER on ")) on = i;
          else if (on >= 0 && rig.lines[i].text.startsWith("REG ")) return true;
        }
        return null;
      },
      60000,
      "the block after power-on",
    );
    this.scan();
    return this.selection();
  }

  /** Releases the power key; done once the program printed it (see VmRig.confirmKey). */
  private async releasePower(): Promise<void> {
    await this.rig!.keyUp(Key.KEY3);
  }

  async powerOff(): Promise<void> {
    const rig = this.rig;
    if (!rig) return;
    await this.keys;
    this.scan();
    if (!this.socOn) {
      // Already off (as the program says): nothing to do.
    } else if (this.screen === "booting") {
      const at = rig.lines.length;
      await rig.keyDown(Key.KEY3);
      await this.waitLine(/^POWER off$/, at);
      await this.releasePower();
    } else {
      // The program powers off only from the booting screen: cut the MCU's power instead.
      await this.restart();
    }
    this.screen = "off";
  }

  /** Waits until the program drew a frame of `screen` after its latest POWER line. */
  async waitFrameOf(screen: string, timeoutMs = 60000): Promise<void> {
    const rig = this.rig;
    if (!rig) throw new Error("the VM is not running");
    let from = 0;
    for (let i = rig.lines.length - 1; i >= 0; i--) {
      if (rig.lines[i].text.startsWith("POWER ")) {
        from = i;
        break;
      }
    }
    await this.waitLine(new RegExp("^FRAME \\d+ " + screen + " "), from, timeoutMs);
  }

  /**
   * Presses a key for `ms`; done once the program printed the Up. A long press (LONG_PRESS_MS or
   * more) is held from the moment the program printed its Down, so a loaded machine cannot make it
   * short; a short one sends Down and Up at once, so no lag can make it long (an Up/Down held
   * 300-450 ms does not move the selection).
   */
  press(k: number | string, ms: number): Promise<void> {
    const c = toKey(k);
    const run = async () => {
      const rig = this.rig;
      if (!rig) throw new Error("the VM is not running");
      if (ms >= LONG_PRESS_MS) await rig.longPress(c, ms);
      else await rig.press(c);
    };
    const p = this.keys.then(run);
    this.keys = p.catch(() => {});
    return p;
  }

  /** Key down, done once the program printed it (the event is sent again if it was missed). */
  keyDown(k: number | string): Promise<void> {
    const c = toKey(k);
    this.keys = this.keys.then(() => this.rig?.keyDown(c)).catch(() => {});
    return this.keys;
  }

  /** Key up, done once the program printed it (the event is sent again if it was missed). */
  keyUp(k: number | string): Promise<void> {
    const c = toKey(k);
    this.keys = this.keys.then(() => this.rig?.keyUp(c)).catch(() => {});
    return this.keys;
  }

  async restart(): Promise<void> {
    const rig = this.rig;
    if (!rig) return;
    const at = rig.lines.length;
    await rig.restartVm();
    await this.waitLine(/^BOUND 14 of 14$/, at, 120000);
    this.scan();
    this.socOn = false;
    this.screen = "off";
    this.texts = [];
  }

  /**
   * What a fresh MCU would load from the program's flash now (the VM's settings, read record by
   * record over Jacdac), like NodeMcu.stored().
   */
  async stored(): Promise<LoadedState> {
    const rig = this.rig;
    if (!rig) throw new Error("the VM is not running");
    const flash = new MemoryFlash();
    for (const key of storeKeys()) {
      const v = await rig.readSetting(key);
      if (v !== null) flash.write(key, v);
    }
    return new Store().load(flash);
  }

  /** Figures for the benchmark: each frame's draw time (VM ms) and the `PIX` text read so far. */
  frameStats(): { renderMs: number[]; mirrorChars: number } {
    const rig = this.rig;
    if (!rig) return { renderMs: [], mirrorChars: 0 };
    const renderMs: number[] = [];
    for (const l of rig.lines) {
      const m = /^FRAME \d+ \S+ render (\d+) /.exec(l.text);
      if (m) renderMs.push(Number(m[1]));
    }
    return { renderMs, mirrorChars: rig.mirrorChars };
  }

  registerBlock(): number[] {
    this.scan();
    return this.block.slice();
  }

  selection(): BootSelection {
    const sel = decodeBlock(this.registerBlock()).selection;
    if (!sel) throw new Error("the VM published an invalid block");
    return sel;
  }

  screenName(): string {
    this.scan();
    return this.screen;
  }

  screenText(): string[] {
    this.scan();
    return this.texts.slice();
  }

  screenPng(): Buffer {
    return this.fb.toPng();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const p = this.port;
    this.port = null;
    if (p?.isOpen) await new Promise<void>((r) => p.close(() => r()));
    const rig = this.rig;
    this.rig = null;
    try {
      // The rig's stop waits for its TCP hub to close; do not let that hold the lock forever.
      if (rig) await Promise.race([rig.stop().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
    } finally {
      if (this.release) this.release();
      this.release = null;
      process.removeListener("exit", this.onExit);
    }
  }

  /** Releases the machine-wide VM lock even when the process exits without stop(). */
  private onExit = () => {
    if (this.release) this.release();
  };
}
