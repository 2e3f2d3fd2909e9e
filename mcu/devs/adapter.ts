// The DeviceScript device adapter: everything between BootCore (mcu/core/) and the DeviceScript
// runtime. Keys arrive as Button roles, flash is the settings service, the UART is a Serial role,
// the screen is a @devicescript/graphics Image, and the I2C register block is published through a
// stand-in channel (see README.md and ../NATIVE.md for the native service the RP2350 needs).
import {
  actionReport,
  type Button,
  Fiber,
  millis,
  type Packet,
  type Serial,
  suspend,
} from "@devicescript/core";
import { Image } from "@devicescript/graphics";
import { settings } from "@devicescript/settings";
import type { BootSelection } from "../../protocol/register-block";
import { type Canvas, SCREEN_H, SCREEN_W } from "../core/canvas";
import { BootCore, type CoreHost } from "../core/core";
import { drawPart } from "../core/render";
import { KEY_COUNT, Key } from "../core/keys";
import { storeKeys } from "../core/records";
import type { FlashReader } from "../core/store";

/** Core tick period while idle (the core wants 10..50 ms). */
const TICK_MS = 20;
/** Power key (Key3) held this long: the SoC's power-on, or its power-off while it is on (any screen). */
const POWER_HOLD_MS = 1000;
/** Largest Jacdac serial packet payload used (the Jacdac limit is 236 bytes). */
const SERIAL_CHUNK = 200;
/** Received UART bytes are handed to the core this many at a time. */
const UART_FEED = 32;
/** Serial "received" report: the report with the code of the send command (0x80). */
const SERIAL_RECEIVED = 0x80;

/** Lowercase hex of a byte array, two digits per byte (natively: no string garbage per byte). */
function hexBytes(b: number[]): string {
  return Buffer.from(b).toString("hex");
}

function bufferToBytes(buf: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < buf.length; i++) out.push(buf[i]);
  return out;
}

function bytesToBuffer(b: number[], start: number, end: number): Buffer {
  const buf = Buffer.alloc(end - start);
  for (let i = start; i < end; i++) buf[i - start] = b[i] & 0xff;
  return buf;
}

/**
 * The stored records, preloaded (DeviceScript reads are asynchronous, the core's are not). Values stay
 * Buffers (1 byte a byte; a number[] costs 8 bytes an element on the VM heap) and the whole object
 * is dropped after BootCore.load(): the core keeps its state in RAM and only writes afterwards.
 */
class PreloadedFlash implements FlashReader {
  keys: string[] = [];
  values: Buffer[] = [];
  read(key: string): number[] | null {
    const i = this.keys.indexOf(key);
    return i >= 0 ? bufferToBytes(this.values[i]) : null;
  }
  put(key: string, value: Buffer): void {
    this.keys.push(key);
    this.values.push(value);
  }
}

/** Reads one setting as raw bytes (the settings package's readSetting parses JSON; we store binary). */
async function readRaw(key: string): Promise<Buffer | null> {
  const pkt = await actionReport(
    settings,
    "get",
    async () => {
      await settings.get(key);
    },
    (p: Packet) => p.decode()[0] === key,
  );
  const buf: Buffer = pkt.decode()[1];
  if (buf === undefined || buf === null || buf.length === 0) return null;
  return buf;
}

/** Loads every key the core may read into RAM. */
async function loadFlash(): Promise<PreloadedFlash> {
  const f = new PreloadedFlash();
  for (const key of storeKeys()) {
    const v = await readRaw(key);
    if (v !== null) f.put(key, v);
  }
  return f;
}

/** Screen rows per band: the frame is drawn as SCREEN_H / BAND_H bands of one reused Image. */
export const BAND_H = 16;

/**
 * The core's Canvas on one horizontal band of the screen, a DeviceScript Image of 256 x BAND_H at
 * 4 bits a pixel (gray 0..63 becomes the color index gray >> 2). A whole 256x144 4-bit frame would
 * take 18 KB of the VM's 64 KB heap, which then runs out during a list commit. A 16-row band takes
 * 2 KB (48 rows: 6 KB, and a 32-profile commit sometimes ran out of memory); each band goes to the
 * panel (natively: a windowed QSPI write) before the next is drawn. Nine bands cost about twice
 * the draw time of three (bench/mcu-vm.ts).
 */
class BandCanvas implements Canvas {
  width = SCREEN_W;
  height = SCREEN_H;
  img: Image;
  top = 0;
  /** Collect the strings drawn (only on the first band, so each is reported once). */
  collect = true;
  texts: string[] = [];
  constructor(img: Image) {
    this.img = img;
  }
  fillRect(x: number, y: number, w: number, h: number, gray: number): void {
    const y0 = y - this.top;
    if (y0 >= BAND_H || y0 + h <= 0) return;
    this.img.fillRect(x, y0, w, h, gray >> 2);
  }
  text(_x: number, _y: number, t: string, _font: number): void {
    if (this.collect) this.texts.push(t);
  }
}

export interface AdapterOptions {
  /** One Button per Key code (index = Key value). */
  buttons: Button[];
  uart: Serial;
  /** Log every register block change as `REG <128 hex digits>` (the simulation's I2C stand-in). */
  logRegister: boolean;
  /** Log each finished frame as `FRAME ...` with its timing. */
  logFrames: boolean;
  /** Log each key edge as `KEY <code> down|up <ms>`. */
  logKeys: boolean;
  /**
   * Sees every band once it is drawn (test and simulation entries: band-observers.ts); null in the
   * real program, which then carries none of that code.
   */
  bands: BandObserver | null;
}

/** Looks at each band of a frame after it is drawn, before the next band reuses the Image. */
export interface BandObserver {
  /** Band `top` (BAND_H rows, fewer at the bottom) of frame `frame` is in `img`. */
  band(img: Image, frame: number, top: number): Promise<void>;
  /** Frame `frame` is complete (after its FRAME line). */
  frameDone(frame: number): void;
}

/** Runs BootCore on DeviceScript: owns the pump fiber, the queues and the I/O. */
export class DevsMcu implements CoreHost {
  core: BootCore;
  opts: AdapterOptions;
  image: Image;
  canvas: BandCanvas;
  down: boolean[] = [];
  powerDownAt = -1;
  powerHandled = false;
  socOn = false;
  txQueue: number[][] = [];
  lastBlock: number[] = [];
  sleeping = false;
  /** Set by every input; the pump runs another step at once when input arrived during one. */
  kicked = false;
  wakeFiber: Fiber | null = null;
  /** millis() of the latest key edge not yet shown on a frame (-1 = none): key-to-frame latency. */
  inputAt = -1;
  frames = 0;
  flashWrites = 0;
  lastFrameMs = -1;
  lastLatencyMs = -1;
  /** Roles bound at the last check (-1: not checked yet). */
  bound = -1;

  constructor(opts: AdapterOptions) {
    this.opts = opts;
    const instance = Math.floor(Math.random() * 0x7fffffff) >>> 0;
    // autoWork false: the core's background work (loading, list checks, CRCs) runs in bounded
    // work() steps that the pump interleaves with awaits (the VM's step budget).
    this.core = new BootCore(this, { instance: instance, autoWork: false });
    this.image = Image.alloc(SCREEN_W, BAND_H, 4);
    this.canvas = new BandCanvas(this.image);
    for (let i = 0; i < KEY_COUNT; i++) this.down.push(false);
  }

  // ---- CoreHost ---------------------------------------------------------------------------

  send(bytes: number[]): void {
    this.txQueue.push(bytes);
    this.wake();
  }

  final(sel: BootSelection): void {
    console.log("FINAL " + sel.profileId + " seq " + sel.sequence);
  }

  // ---- start ------------------------------------------------------------------------------

  /** Loads flash, subscribes to keys and the UART, announces itself, then runs the pump forever. */
  async run(): Promise<void> {
    const stored = await loadFlash();
    this.core.beginLoad(stored);
    await this.work();
    console.log("LOAD " + this.core.loadReport());
    this.subscribeKeys();
    this.subscribeUart();
    this.core.start(millis());
    this.publishBlock();
    console.log("READY profiles " + this.core.profiles().length + " gen " + this.core.generation());
    await this.pump();
  }

  private subscribeKeys(): void {
    for (let k = 0; k < this.opts.buttons.length; k++) subscribeKey(this, k);
  }

  /**
   * Logs `BOUND n of m` when the number of bound roles changes (checked every pump step; in the
   * simulation the keys and UART are jacdac-ts servers that appear after start). Polls `isBound`
   * rather than subscribing to binding(): 14 binding registers cost enough heap to make a full
   * 32-profile list replacement run out of memory.
   */
  private checkBindings(): void {
    let n = this.opts.uart.isBound ? 1 : 0;
    for (const b of this.opts.buttons) if (b.isBound) n++;
    if (n === this.bound) return;
    this.bound = n;
    console.log("BOUND " + n + " of " + (this.opts.buttons.length + 1));
  }

  private subscribeUart(): void {
    subscribeUart(this);
  }

  onKey(key: number, isDown: boolean): void {
    const now = millis();
    if (this.down[key] === isDown) return;
    this.down[key] = isDown;
    if (this.opts.logKeys) console.log("KEY " + key + (isDown ? " down " : " up ") + now);
    if (key === Key.KEY3) {
      this.powerDownAt = isDown ? now : -1;
      this.powerHandled = false;
    }
    this.inputAt = now;
    if (isDown) this.core.keyDown(key, now);
    else this.core.keyUp(key, now);
    this.wake();
  }

  /** Wakes the pump if it is idle (never resumes it out of another await). */
  wake(): void {
    this.kicked = true;
    if (this.sleeping && this.wakeFiber !== null && this.wakeFiber.suspended) {
      this.sleeping = false;
      this.wakeFiber.resume(0);
    }
  }

  // ---- the pump -----------------------------------------------------------------------------

  private checkPower(now: number): void {
    if (this.powerDownAt < 0 || this.powerHandled || now - this.powerDownAt < POWER_HOLD_MS) return;
    this.powerHandled = true;
    if (!this.socOn) {
      const held: number[] = [];
      for (let k = 0; k < KEY_COUNT; k++) if (this.down[k] && k !== Key.KEY3) held.push(k);
      this.socOn = true;
      this.inputAt = now;
      this.core.powerOn(held, now);
      console.log("POWER on held " + held.length + " screen " + this.core.screenName());
    } else {
      // From any screen: with the menu open the SoC waits in U-Boot for a PENDING block.
      this.socOn = false;
      this.core.powerOff(now);
      console.log("POWER off");
    }
  }

  /** The register block changed: publish it (natively: fill the back buffer and swap). */
  publishBlock(): void {
    const b = this.core.registerBlock();
    if (b === this.lastBlock) return;
    this.lastBlock = b;
    if (this.opts.logRegister) console.log("REG " + hexBytes(b));
  }

  private async sendTx(): Promise<void> {
    while (this.txQueue.length > 0) {
      const bytes = this.txQueue.shift();
      if (bytes === undefined) break;
      for (let at = 0; at < bytes.length; at += SERIAL_CHUNK) {
        const end = at + SERIAL_CHUNK < bytes.length ? at + SERIAL_CHUNK : bytes.length;
        await this.opts.uart.send(bytesToBuffer(bytes, at, end));
      }
    }
  }

  /** Runs the core's background work to the end, one bounded step per VM turn. */
  private async work(): Promise<void> {
    while (this.core.work()) await suspend(0);
  }

  /**
   * Writes what the core asks for, in order, one awaited write at a time; the core encodes each
   * record only when it is taken (a whole list as number[] at once would not fit the heap).
   */
  private async writeFlash(): Promise<void> {
    let w = this.core.takeWrite();
    while (w !== null) {
      if (w.value === null) await settings.delete(w.key);
      else await settings.set(w.key, bytesToBuffer(w.value, 0, w.value.length));
      this.flashWrites++;
      w = this.core.takeWrite();
    }
  }

  /** Draws the frame part by part, yielding in between (the VM's step limit between awaits). */
  private async render(): Promise<void> {
    if (!this.core.needsRender()) return;
    const start = millis();
    const input = this.inputAt;
    this.inputAt = -1;
    // One snapshot of the screen for every band, so a state change mid-frame cannot tear it.
    const view = this.core.takeFrame();
    const cv = this.canvas;
    cv.texts = [];
    const bands = this.opts.bands;
    for (let top = 0; top < SCREEN_H; top += BAND_H) {
      cv.top = top;
      cv.collect = top === 0;
      this.image.fill(0);
      let part = 0;
      while (drawPart(cv, view, part++)) await suspend(0);
      await suspend(0);
      if (bands !== null) await bands.band(this.image, this.frames + 1, top);
      // Here a display service takes the band (natively: QSPI DMA to rows top..top+BAND_H-1).
    }
    const end = millis();
    this.frames++;
    this.lastFrameMs = end - start;
    this.lastLatencyMs = input >= 0 ? end - input : -1;
    if (this.opts.logFrames) {
      console.log(
        "FRAME " +
          this.frames +
          " " +
          this.core.screenName() +
          " render " +
          this.lastFrameMs +
          " latency " +
          this.lastLatencyMs +
          " text " +
          this.canvas.texts.join("|"),
      );
    }
    if (bands !== null) bands.frameDone(this.frames);
  }

  async step(): Promise<void> {
    const now = millis();
    this.checkBindings();
    this.checkPower(now);
    this.core.tick(now);
    await this.work();
    this.publishBlock();
    await this.sendTx();
    await this.writeFlash();
    this.publishBlock();
    await this.render();
  }

  private async pump(): Promise<void> {
    this.wakeFiber = Fiber.self();
    while (true) {
      this.kicked = false;
      await this.step();
      // Input that arrived while the step awaited is handled at once, not after a tick.
      if (this.kicked || this.txQueue.length > 0 || this.core.needsRender()) continue;
      this.sleeping = true;
      await suspend(TICK_MS);
      this.sleeping = false;
    }
  }
}

// Subscriptions live in plain functions that capture the adapter as a parameter: DeviceScript
// rejects `this` inside arrow functions, closures over loop variables are broken in 2.16, and
// biome's fixes turn `const self = this` aliases back into `this`.

function subscribeKey(m: DevsMcu, key: number): void {
  m.opts.buttons[key].down.subscribe(() => {
    m.onKey(key, true);
  });
  m.opts.buttons[key].up.subscribe(() => {
    m.onKey(key, false);
  });
}

function subscribeUart(m: DevsMcu): void {
  m.opts.uart.report().subscribe((pkt: Packet) => {
    if (!pkt.isReport || (pkt.serviceCommand & 0xfff) !== SERIAL_RECEIVED) return;
    // Fed in small pieces: a number[] costs 8 bytes an element on the VM heap, and the peak of a
    // full-list commit is within a few KB of the 64 KB heap (the core accepts any chunking).
    const p = pkt.payload;
    const now = millis();
    for (let at = 0; at < p.length; at += UART_FEED) {
      const end = at + UART_FEED < p.length ? at + UART_FEED : p.length;
      const bytes: number[] = [];
      for (let i = at; i < end; i++) bytes.push(p[i]);
      m.core.uartReceive(bytes, now);
    }
    m.wake();
  });
}
