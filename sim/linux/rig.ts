// One power-on of the whole chain with a real Linux: the MCU (NodeMcu running mcu/core, or the
// compiled mcu/devs program in the real DeviceScript VM) decides and publishes its register block, the real boot.scr runs in real U-Boot (uboot-script's SABRE Lite
// harness) against that block, its flipper.* options go onto the x86_64 guest's kernel command line,
// and the guest boots through the initramfs hook; the guest's second serial port is a host pty to
// the same MCU, so the packaged flipper-boot.service syncs it and flipper-boot-mark-good.service
// marks the boot good on it.
import { EventEmitter } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SerialPort } from "serialport";
import { MemoryFlash } from "../../mcu/node/flash";
import { type ByteStream, NodeMcu } from "../../mcu/node/mcu";
import type { ProfileRecord } from "../../protocol/profile";
import type { McuState } from "../../protocol/messages";
import { type BootSelection, BlockStatus, decodeBlock } from "../../protocol/register-block";
import { type Daemon, startDaemon } from "../../soc-bridge/daemon";
import type { Transport } from "../../soc-bridge/link";
import { runUboot } from "../../uboot-script/harness";
import { bootGuest, type GuestFiles, type GuestResult, makeGuestFiles } from "./guest";
import { ensureImage, profileJson, TEST_PROFILES } from "./image";
import { LINUX_BUILD_DIR } from "./rootfs";
import { ptyPair } from "./run";

/** The MCU's UART: re-plugged into each boot's pty (the SoC side exists only while it runs). */
export class SwitchableUart extends EventEmitter implements ByteStream {
  private port: SerialPort | null = null;
  write(data: Buffer | Uint8Array): boolean {
    this.port?.write(Buffer.from(data));
    return true;
  }
  async attach(path: string): Promise<void> {
    const { SerialPort } = await import("serialport");
    const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.on("data", (b: Buffer) => this.emit("data", b));
    port.on("error", () => {});
    this.port = port;
  }
  async detach(): Promise<void> {
    const port = this.port;
    this.port = null;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}

/** A Transport for the bridge daemon straight into a NodeMcu (host-side seeding, no serial line). */
function directTransport(uart: SwitchableUart): Transport {
  let onData: ((c: Uint8Array) => void) | null = null;
  const fromMcu = (b: Buffer) => onData?.(new Uint8Array(b));
  const orig = uart.write.bind(uart);
  uart.write = (d: Buffer | Uint8Array) => {
    fromMcu(Buffer.from(d));
    return orig(d);
  };
  return {
    write: async (d: Uint8Array) => {
      setImmediate(() => uart.emit("data", Buffer.from(d)));
    },
    onData: (cb) => {
      onData = cb;
    },
    onClose: () => {},
    close: async () => {
      uart.write = orig;
      onData = null;
    },
  };
}

/**
 * What the rig needs of an MCU, so it can run either the Node adapter (NodeMcu, mcu/core in this
 * process) or the compiled DeviceScript program in the real VM (VmMcu). Both talk to the guest
 * through the rig's SwitchableUart.
 */
export interface RigMcu {
  readonly kind: "node" | "vm";
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Power key with `held` keys down (they stay down until keyUp). */
  powerOn(held: string[]): Promise<void>;
  keyUp(key: string): Promise<void>;
  press(key: string, ms: number): Promise<void>;
  powerOff(): Promise<void>;
  registerBlock(): number[];
  /** Calls `cb` on the next FINAL block. */
  onceFinal(cb: (sel: BootSelection) => void): void;
  /** The MCU's state as the bridge reads it (GET_STATE). */
  state(): Promise<McuState>;
  /** The menu's rows (profiles shown) and the cursor; null where the MCU does not expose it. */
  menuView(): { profiles: ProfileRecord[]; selected: number } | null;
}

/** mcu/core in this process (NodeMcu), its UART the rig's SwitchableUart. */
export class NodeRigMcu implements RigMcu {
  readonly kind = "node" as const;
  readonly flash = new MemoryFlash();
  readonly mcu: NodeMcu;
  constructor(uart: SwitchableUart) {
    this.mcu = new NodeMcu({ stream: uart, flash: this.flash });
  }
  start = () => this.mcu.start();
  stop = () => this.mcu.stop();
  async powerOn(held: string[]): Promise<void> {
    this.mcu.powerOn(held);
  }
  async keyUp(key: string): Promise<void> {
    this.mcu.keyUp(key);
  }
  press = (key: string, ms: number) => this.mcu.press(key, ms);
  async powerOff(): Promise<void> {
    this.mcu.powerOff();
  }
  registerBlock = () => this.mcu.registerBlock();
  onceFinal(cb: (sel: BootSelection) => void): void {
    this.mcu.once("final", cb);
  }
  async state(): Promise<McuState> {
    return this.mcu.state();
  }
  menuView() {
    return { profiles: this.mcu.profiles(), selected: this.mcu.core.menuCursor() };
  }
}

/**
 * The compiled mcu/devs program in the real DeviceScript VM (sim/mcu-vm.ts). The VM speaks on one
 * end of a socat pty pair; the rig relays the other end to and from its SwitchableUart, so the
 * host-side bridge and each boot's guest reach it as they reach NodeMcu. Its state comes over that
 * UART (GET_STATE through a bridge daemon), as Linux would read it.
 */
export class VmRigMcu implements RigMcu {
  readonly kind = "vm" as const;
  private vm: import("../mcu-vm").VmMcu | null = null;
  private relay: SerialPort | null = null;
  private pair: { close: () => Promise<void> } | null = null;
  constructor(
    private readonly uart: SwitchableUart,
    private readonly dir: string,
    private readonly readState: () => Promise<McuState>,
  ) {}
  private get m(): import("../mcu-vm").VmMcu {
    if (!this.vm) throw new Error("the DeviceScript VM is not running");
    return this.vm;
  }
  async start(): Promise<void> {
    const { VmMcu } = await import("../mcu-vm");
    const { SerialPort } = await import("serialport");
    const a = join(this.dir, "mcu-vm.pty");
    const b = join(this.dir, "mcu-relay.pty");
    this.pair = await ptyPair(a, b);
    const relay = new SerialPort({ path: b, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => relay.open((e) => (e ? reject(e) : resolve())));
    relay.on("data", (d: Buffer) => this.uart.write(d));
    relay.on("error", () => {});
    this.uart.on("data", (d: Buffer) => relay.write(d));
    this.relay = relay;
    this.vm = new VmMcu({ serialPath: a, workdir: join(this.dir, "mcu-vm") });
    await this.vm.start();
  }
  async stop(): Promise<void> {
    const vm = this.vm;
    this.vm = null;
    try {
      await vm?.stop();
    } finally {
      const r = this.relay;
      this.relay = null;
      if (r?.isOpen) await new Promise<void>((resolve) => r.close(() => resolve()));
      await this.pair?.close();
      this.pair = null;
    }
  }
  async powerOn(held: string[]): Promise<void> {
    await this.m.powerOn(held);
  }
  keyUp = (key: string) => this.m.keyUp(key);
  press = (key: string, ms: number) => this.m.press(key, ms);
  powerOff = () => this.m.powerOff();
  registerBlock = () => this.m.registerBlock();
  onceFinal(cb: (sel: BootSelection) => void): void {
    this.m.once("final", cb);
  }
  state = () => this.readState();
  menuView() {
    return null;
  }
}

export interface MenuStep {
  key: string;
  /** Hold time in ms (0 = short press). */
  ms?: number;
}

export interface PowerOnOptions {
  /** Keys held at power-on (released at once); any key opens the menu. */
  held?: string[];
  /** Menu steps after power-on (see menuTo()). */
  menu?: MenuStep[];
  /** Open the menu (OK held at power-on), move to this row (a profile's name, or "recovery") and boot it. */
  pick?: string;
  /** With pick: a long-OK action on that row instead of OK. */
  pickAction?: "reset" | "recovery";
  /** Skip the MCU and U-Boot: boot the guest with these flipper.* options as they are. */
  cmdline?: string;
  /** Skip the MCU's decision: U-Boot reads this 64-byte block. */
  block?: number[];
  /** More kernel options for this boot (fbtest.run=...). */
  extra?: string;
  /**
   * The quick test boot (guest.ts): the initramfs, then a report and power-off without systemd,
   * the bridge or mark-good. For cases about the initramfs alone.
   */
  quick?: boolean;
  /** Log each console line. */
  onLine?: (line: string) => void;
  verbose?: boolean;
}

export interface PowerOnResult {
  selection: BootSelection | null;
  /** U-Boot's bootargs and flipper: lines (null when the command line was given). */
  uboot: { bootargs: string | null; flipperLines: string[]; ms: number } | null;
  /** The flipper.* options the guest got. */
  flipperOptions: string;
  guest: GuestResult;
  /** The MCU's state after the guest powered off. */
  mcuState: McuState;
  /** Milliseconds: menu (power-on to FINAL), U-Boot, guest (QEMU start to power-off). */
  times: { menuMs: number; ubootMs: number; guestMs: number };
}

export interface RigOptions {
  log?: (line: string) => void;
  /** Guest timeout per boot (default 15 min). */
  timeoutMs?: number;
  /** The MCU: "node" (NodeMcu, mcu/core in this process; the default) or "vm" (the DeviceScript VM). */
  mcu?: "node" | "vm";
}

/** The MCU, its flash and one guest disk (a qcow2 overlay) that lives as long as the rig. */
export class LinuxRig {
  readonly dir: string;
  readonly files: GuestFiles;
  readonly uart = new SwitchableUart();
  /** The MCU behind the one face the rig uses (NodeMcu or the DeviceScript VM). */
  readonly device: RigMcu;
  private readonly o: RigOptions;

  private constructor(o: RigOptions) {
    this.o = o;
    // Beside the cache (same filesystem: the image is hard-linked, not copied).
    this.dir = mkdtempSync(join(LINUX_BUILD_DIR, "rig-"));
    this.files = makeGuestFiles(this.dir);
    this.device =
      o.mcu === "vm"
        ? new VmRigMcu(this.uart, this.dir, async () => {
            let s: McuState | null = null;
            await this.bridge(async (d) => {
              s = await d.mcuState();
            });
            if (!s) throw new Error("the bridge read no state from the VM");
            return s;
          })
        : new NodeRigMcu(this.uart);
  }

  /** The Node MCU (mcu/core); a rig running the DeviceScript VM has none (use `device`). */
  get mcu(): NodeMcu {
    if (!(this.device instanceof NodeRigMcu)) {
      throw new Error("this rig runs the DeviceScript VM: it has no NodeMcu (use rig.device)");
    }
    return this.device.mcu;
  }

  /** The Node MCU's flash (see `mcu`). */
  get flash(): MemoryFlash {
    if (this.device instanceof NodeRigMcu) return this.device.flash;
    throw new Error("this rig runs the DeviceScript VM: its flash is the VM's (use rig.device)");
  }

  /** Builds what is missing, makes the disk overlay and starts the MCU. */
  static async create(o: RigOptions = {}): Promise<LinuxRig> {
    await ensureImage((l) => o.log?.(l));
    const rig = new LinuxRig(o);
    try {
      await rig.device.start();
    } catch (e) {
      await rig.close().catch(() => {});
      throw e;
    }
    return rig;
  }

  /**
   * Runs the real bridge daemon on the host, straight into the MCU (no serial line), with a store
   * holding the test disk's profile.json files: the MCU then holds the list as if Linux had synced.
   * `fn` gets the daemon for more (setDefault, setNext, setOptions) while the SoC is off.
   */
  async bridge(fn?: (d: Daemon) => Promise<void>): Promise<void> {
    const store = mkdtempSync(join(tmpdir(), "flipper-seed-"));
    try {
      for (const p of TEST_PROFILES) {
        mkdirSync(join(store, "@profiles", p.id), { recursive: true });
        writeFileSync(join(store, "@profiles", p.id, "profile.json"), profileJson(p));
      }
      const d = await startDaemon({
        port: "(direct)",
        store,
        socket: null,
        openTransport: async () => directTransport(this.uart),
        log: (l) => this.o.log?.(`host bridge: ${l}`),
      });
      try {
        await d.whenSynced();
        if (fn) await fn(d);
      } finally {
        await d.stop();
      }
    } finally {
      rmSync(store, { recursive: true, force: true });
    }
  }

  /** The list on the MCU, and optionally menu options. */
  async seed(options?: { maxTries?: number; timeoutSeconds?: number }): Promise<void> {
    await this.bridge(async (d) => {
      if (options) await d.setOptions(options);
    });
  }

  /** Presses keys in the open menu, waiting between them as a person would. */
  async menu(steps: MenuStep[]): Promise<void> {
    for (const s of steps) {
      await this.device.press(s.key, s.ms ?? 0);
      await new Promise((r) => setTimeout(r, 60));
    }
  }

  /** Steps that move the menu's cursor from where it is to the row titled `title` (or Recovery). */
  menuTo(title: string | "recovery"): MenuStep[] {
    const cursor = this.view().selected;
    const all = this.rowTitles();
    const want = title === "recovery" ? all.length - 1 : all.indexOf(title);
    if (want < 0) throw new Error(`no menu row "${title}" (rows: ${all.join(", ")})`);
    const steps: MenuStep[] = [];
    for (let i = cursor; i < want; i++) steps.push({ key: "down" });
    for (let i = cursor; i > want; i--) steps.push({ key: "up" });
    return steps;
  }

  /** Steps from the open list to booting `title` (with a long-OK action: reset or recovery mode). */
  pickSteps(title: string, action?: "reset" | "recovery"): MenuStep[] {
    const steps = this.menuTo(title);
    // The actions screen lists: Boot once, Make default, Reset profile, Recovery mode.
    if (action === "reset") {
      steps.push(
        { key: "ok", ms: 600 },
        { key: "down" },
        { key: "down" },
        { key: "ok" },
        { key: "ok", ms: 1800 },
      );
    } else if (action === "recovery") {
      steps.push({ key: "ok", ms: 600 }, { key: "up" }, { key: "ok" });
    } else {
      steps.push({ key: "ok" });
    }
    return steps;
  }

  private view(): { profiles: ProfileRecord[]; selected: number } {
    const v = this.device.menuView();
    if (!v)
      throw new Error(
        `menu picks need the MCU's menu state, which the ${this.device.kind} MCU does not expose`,
      );
    return v;
  }

  /** The menu's row titles in order (the recovery entry last). */
  rowTitles(): string[] {
    const names = this.view()
      .profiles.filter((p) => (p.flags & 1) === 0)
      .map((p) => p.name);
    return [...names, "recovery"];
  }

  private waitFinal(timeoutMs: number): Promise<BootSelection> {
    const now = decodeBlock(this.device.registerBlock()).selection;
    if (now && now.status === BlockStatus.FINAL) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the MCU made no FINAL choice in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.device.onceFinal((sel) => {
        clearTimeout(timer);
        resolve(sel);
      });
    });
  }

  /** Power-on to power-off: MCU menu, U-Boot, the guest until its report unit powers it off. */
  async powerOn(o: PowerOnOptions = {}): Promise<PowerOnResult> {
    const log = this.o.log ?? (() => {});
    let selection: BootSelection | null = null;
    let uboot: PowerOnResult["uboot"] = null;
    let flipperOptions = o.cmdline ?? "";
    const t0 = Date.now();
    let menuMs = 0;
    let ubootMs = 0;
    if (o.cmdline === undefined) {
      let block = o.block;
      if (!block) {
        const held = o.held ?? (o.pick ? ["ok"] : []);
        await this.device.powerOn(held);
        for (const k of held) await this.device.keyUp(k);
        if (o.menu) await this.menu(o.menu);
        if (o.pick) await this.menu(this.pickSteps(o.pick, o.pickAction));
        selection = await this.waitFinal(30_000);
        menuMs = Date.now() - t0;
        block = this.device.registerBlock();
      }
      const t1 = Date.now();
      const u = await runUboot({ block });
      ubootMs = Date.now() - t1;
      uboot = { bootargs: u.bootargs, flipperLines: u.flipperLines, ms: ubootMs };
      for (const l of u.flipperLines) log(`uboot: ${l}`);
      flipperOptions = (u.bootargs ?? "")
        .split(" ")
        .filter((t) => t.startsWith("flipper."))
        .join(" ");
      log(`uboot: bootargs=${u.bootargs ?? "(unset)"}`);
    }
    const guest = await bootGuest({
      files: this.files,
      cmdline: `${flipperOptions} fbtest.poweroff ${o.extra ?? ""}`.trim(),
      onMcuPty: (p) => this.uart.attach(p),
      onLine: o.onLine,
      timeoutMs: this.o.timeoutMs,
      verbose: o.verbose,
      quick: o.quick,
    });
    await this.uart.detach();
    if (!o.block && o.cmdline === undefined) await this.device.powerOff();
    return {
      selection,
      uboot,
      flipperOptions,
      guest,
      mcuState: await this.device.state(),
      times: { menuMs, ubootMs, guestMs: guest.ms },
    };
  }

  async close(): Promise<void> {
    await this.uart.detach();
    await this.device.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
