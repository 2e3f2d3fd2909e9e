// NodeMcu: runs the MCU core in Node with a clock, a flash (memory or file), a framebuffer and a
// byte stream (a serial port such as a socat pty, any duplex, or nothing). Used by the tests, the
// simulator and the Linux-bridge tests; `cli.ts` runs one on a pty for a person.
import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import type { McuState } from "../../protocol/messages";
import type { ProfileRecord } from "../../protocol/profile";
import type { BootSelection } from "../../protocol/register-block";
import { BootCore } from "../core/core";
import { Key, KEY_COUNT, keyByName } from "../core/keys";
import { type LoadedState, Store } from "../core/store";
import { FileFlash, MemoryFlash } from "./flash";
import { Framebuffer } from "./framebuffer";
import { UART_BAUD } from "../../protocol/frame";

/** Anything the MCU can talk through: write() out, 'data' events in. */
export interface ByteStream {
  write(data: Buffer | Uint8Array): unknown;
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  off?(event: "data", listener: (chunk: Buffer) => void): unknown;
}

export interface NodeMcuOptions {
  /** Serial device to open with the `serialport` package (e.g. a socat pty). */
  serialPath?: string;
  /** Baud rate for serialPath (default UART_BAUD; a pty ignores it). */
  baudRate?: number;
  /** Or an already open stream. */
  stream?: ByteStream;
  /** Flash in a JSON file (created on first write). */
  flashFile?: string;
  /** Or a flash object (default: a new MemoryFlash). */
  flash?: MemoryFlash;
  /** "real" (default): performance.now() and a tick timer; "manual": time moves only with advance(). */
  clock?: "real" | "manual";
  /** Tick period with the real clock (default 20 ms). */
  tickMs?: number;
  /** Fixed instance number for HELLO (default random per start/restart). */
  instance?: number;
}

export type KeyLike = number | string;

/** A key code from a Key value or a name ("up", "ok", "power", "key3", ...). */
export function toKey(k: KeyLike): number {
  const code = typeof k === "number" ? k : keyByName(k.toLowerCase());
  if (!(code >= 0 && code < KEY_COUNT)) {
    throw new RangeError(`key ${JSON.stringify(k)} is invalid: use a Key value 0..12 or a name like "ok"`);
  }
  return code;
}

export interface NodeMcuEvents {
  final: [BootSelection];
  frame: [Framebuffer];
  "uart-tx": [number[]];
  "uart-rx": [number[]];
  "flash-write": [string, number[] | null];
  restart: [number];
}

/** Opens the MCU's end of a UART (a pty or a real port) raw at `baud`. */
export async function openUartPort(
  path: string,
  baud: number = UART_BAUD,
): Promise<import("serialport").SerialPort> {
  const { SerialPort } = await import("serialport");
  const port = new SerialPort({ path: path, baudRate: baud, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  return port;
}

export class NodeMcu extends EventEmitter<NodeMcuEvents> {
  readonly opts: NodeMcuOptions;
  flash: MemoryFlash;
  fb = new Framebuffer();
  core!: BootCore;
  /** This start's instance number (HELLO; new on every restart). */
  instance = 0;
  private stream: ByteStream | null = null;
  private port: import("serialport").SerialPort | null = null;
  private timer: NodeJS.Timeout | null = null;
  private manualNow = 0;
  private t0 = performance.now();
  private onData = (chunk: Buffer) => {
    const bytes = [...chunk];
    this.emit("uart-rx", bytes);
    this.core.uartReceive(bytes, this.now());
    this.flush();
  };
  /** Every BootSelection that became FINAL since start (newest last). */
  finals: BootSelection[] = [];
  started = false;

  constructor(opts: NodeMcuOptions = {}) {
    super();
    this.opts = opts;
    this.flash = opts.flash ?? (opts.flashFile ? new FileFlash(opts.flashFile) : new MemoryFlash());
    this.makeCore();
  }

  /** Milliseconds on the MCU clock. */
  now(): number {
    return this.opts.clock === "manual" ? this.manualNow : performance.now() - this.t0;
  }

  private makeCore(): void {
    const instance = this.opts.instance ?? randomBytes(4).readUInt32LE(0);
    this.instance = instance;
    this.core = new BootCore(
      {
        send: (bytes: number[]) => {
          this.emit("uart-tx", bytes);
          this.stream?.write(Buffer.from(bytes));
        },
        final: (sel: BootSelection) => {
          this.finals.push(sel);
          // Emitted after the current call returns its flash writes (see flush()).
          queueMicrotask(() => this.emit("final", sel));
        },
      },
      { instance },
    );
    this.core.load(this.flash);
  }

  /** Opens the stream, sends EVENT_HELLO and starts ticking. */
  async start(): Promise<void> {
    if (this.started) return;
    if (this.opts.serialPath) {
      const port = await openUartPort(this.opts.serialPath, this.opts.baudRate);
      this.port = port;
      this.stream = port;
    } else if (this.opts.stream) {
      this.stream = this.opts.stream;
    }
    this.stream?.on("data", this.onData);
    this.started = true;
    this.core.start(this.now());
    this.flush();
    if (this.opts.clock !== "manual") {
      this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 20);
      this.timer.unref?.();
    }
  }

  /** Stops the timer and closes the port (the flash stays as it is). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.stream?.off) this.stream.off("data", this.onData);
    const port = this.port;
    this.port = null;
    this.stream = null;
    this.started = false;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  /** Simulated MCU reset: RAM state (menu, try counts in RAM, staged transfers) is lost, flash is kept. */
  async restart(): Promise<void> {
    const stream = this.stream;
    if (stream?.off) stream.off("data", this.onData);
    this.makeCore();
    this.emit("restart", this.instance);
    if (this.started) {
      stream?.on("data", this.onData);
      this.core.start(this.now());
      this.flush();
    }
  }

  tick(): void {
    this.core.tick(this.now());
    this.flush();
  }

  /** Manual clock: moves time forward by `ms`, ticking every 10 ms on the way. */
  advance(ms: number): void {
    if (this.opts.clock !== "manual") throw new Error("advance() needs clock: 'manual'");
    const end = this.manualNow + ms;
    while (this.manualNow < end) {
      this.manualNow = Math.min(end, this.manualNow + 10);
      this.tick();
    }
  }

  /** SoC power-on with `held` keys down. */
  powerOn(held: KeyLike[] = []): BootSelection {
    this.core.powerOn(held.map(toKey), this.now());
    this.flush();
    return this.core.selection();
  }

  powerOff(): void {
    this.core.powerOff(this.now());
    this.flush();
  }

  keyDown(k: KeyLike): void {
    this.core.keyDown(toKey(k), this.now());
    this.flush();
  }

  keyUp(k: KeyLike): void {
    this.core.keyUp(toKey(k), this.now());
    this.flush();
  }

  /** A press: down and up (holdMs 0 = a short press at once; 600 = a long press, waited for or advanced). */
  async press(k: KeyLike, holdMs = 0): Promise<void> {
    this.keyDown(k);
    if (holdMs > 0) {
      if (this.opts.clock === "manual") this.advance(holdMs);
      else await new Promise((r) => setTimeout(r, holdMs));
    }
    this.keyUp(k);
  }

  /** Feeds UART bytes as if they arrived on the link. */
  uartReceive(bytes: number[] | Buffer): void {
    this.onData(Buffer.from(bytes));
  }

  registerBlock(): number[] {
    return this.core.registerBlock().slice();
  }

  selection(): BootSelection {
    return { ...this.core.selection() };
  }

  state(): McuState {
    return this.core.state();
  }

  profiles(): ProfileRecord[] {
    return this.core.profiles().slice();
  }

  screenName(): string {
    return this.core.screenName();
  }

  /** What a fresh MCU would load from the flash now (list, config, run record, load report). */
  stored(): LoadedState {
    return new Store().load(this.flash);
  }

  /** The current frame (rendered if anything changed). */
  frame(): Framebuffer {
    this.core.render(this.fb);
    return this.fb;
  }

  screenPng(scale = 1): Buffer {
    return this.frame().toPng(scale);
  }

  screenText(): string[] {
    return this.frame().lines();
  }

  /** Writes pending flash records in order and emits a frame when the screen changed. */
  private flush(): void {
    while (this.core.work()) {
      // background work in bounded steps (the VM interleaves awaits; Node just runs it all)
    }
    for (const w of this.core.takeWrites()) {
      this.flash.write(w.key, w.value);
      this.emit("flash-write", w.key, w.value);
    }
    if (this.core.needsRender() && this.listenerCount("frame") > 0) {
      this.core.render(this.fb);
      this.emit("frame", this.fb);
    }
  }
}

export { Key };
