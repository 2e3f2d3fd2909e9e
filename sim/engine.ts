// The simulation: the real MCU core, the real bridge daemon over a real pseudo-terminal pair
// (socat), the real boot.scr in a real U-Boot (QEMU), and a Linux stage that marks boots good.
//
//   [web page / scenario] --> Simulation
//      MCU (NodeMcu or VmMcu: mcu.ts) <-- pty pair (socat: pty.ts) --> bridge daemon (startDaemon)
//            | register block (64 bytes)                          | store/@profiles, boot/flipper/*.env,
//            v                                                    v fw_setenv on env.bin (saved-env.ts)
//      U-Boot in QEMU (SimUboot): i2c write the block, source boot.scr  <-- saved env, boot partition
//            | bootargs + flipper: lines                                   (boot.ts: runBoot)
//            v
//      LinuxStage (linux-stage.ts; StandinLinux: bumps lastUsed, mark-good through the daemon)
//   FlipCTL (flipctl.ts) changes the store as the owner would on Linux.
import type { ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Frame, FrameDecoder, MAX_WIRE_FRAME } from "../protocol/frame";
import { messageName } from "../protocol/messages";
import { BlockStatus, type BootSelection } from "../protocol/register-block";
import { type Daemon, type DaemonStatus, startDaemon } from "../soc-bridge/daemon";
import { readStore } from "../soc-bridge/profile-store";
import { runBoot } from "./boot";
import { EXAMPLE_PROFILES, type ProfileJson, prepareBootPartition } from "./example";
import type { FlipCtl } from "./flipctl";
import { type RealLinux, testImageProfiles } from "./linux/live";
import { chooseLinux } from "./linux-choice";
import { type GuestFlipCtl, REAL_NO_FAIL } from "./linux/live-flipctl";
import type { LinuxStage } from "./linux-stage";
import {
  blankPng,
  makeMcu,
  mcuHoldsStore,
  mcuState,
  mcuStored,
  pressKey,
  type SimMcu,
  screenBits,
} from "./mcu";
import { startSocat } from "./pty";
import { SavedEnv } from "./saved-env";
import { openStore } from "./store";
import type { BootRecord, LogLine, PowerState, SimulationOptions } from "./types";
import { SimUboot } from "./uboot";
import { VmMcu } from "./mcu-vm";
import { simulationView } from "./views";
import { UART_BAUD } from "../protocol/frame";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One simulated Flipper One (MCU + SoC) on the desk. Always close() it. */
export class Simulation extends EventEmitter {
  readonly dir: string;
  readonly storeDir: string;
  readonly bootDir: string;
  /** The saved U-Boot environment (fw_printenv / fw_setenv on a real env image). */
  readonly env: SavedEnv;
  /** The profile manager on Linux: what the page's FlipCTL panel and the store steps do. */
  readonly flipctl: FlipCtl;
  /** What runs after U-Boot: the stand-in by default. */
  linux: LinuxStage;
  /** The real Linux (option linux: "real"; also this.linux), else null. */
  readonly real: RealLinux | null;
  private ownsDir: boolean;
  private socat: ChildProcess | null = null;
  private ptyMcu: string;
  private ptySoc: string;
  mcu: SimMcu | null = null;
  bridge: Daemon | null = null;
  readonly uboot: SimUboot;
  private ownsUboot: boolean;
  power: PowerState = "off";
  ubootAt: "final" | "power-on";
  mcuAbsent = false;
  readonly mcuKind: "node" | "vm";
  /** Boots that will fail (no mark-good) before the next good one. */
  failNext = 0;
  /** Profiles that always fail to boot (until cleared). */
  failingProfiles = new Set<string>();
  boots: BootRecord[] = [];
  logs: LogLine[] = [];
  private cycle = 0;
  private flow: Promise<BootRecord> | null = null;
  private flowCycle = -1;
  private powerT0 = 0;
  private t0 = Date.now();
  private pixels: Uint8Array = new Uint8Array(256 * 144);
  private restartArm: { type: number; nth: number; seen: number; done: () => void } | null = null;
  mcuRestarts = 0;
  private closed = false;

  constructor(private o: SimulationOptions = {}) {
    super();
    this.ownsDir = !o.dir;
    this.dir = o.dir ? resolve(o.dir) : mkdtempSync(join(tmpdir(), "flipper-sim-"));
    this.storeDir = o.storeDir ? resolve(o.storeDir) : join(this.dir, "store");
    this.bootDir = join(this.dir, "boot");
    this.env = new SavedEnv(this.dir);
    this.mcuKind = o.mcu === "vm" ? "vm" : "node";
    const choice = chooseLinux(this, o, () => this.ptySoc);
    this.real = choice.real;
    this.flipctl = choice.flipctl;
    this.linux = choice.linux;
    this.ptyMcu = join(this.dir, "pty-mcu");
    this.ptySoc = join(this.dir, "pty-soc");
    this.ownsUboot = !o.uboot;
    this.ubootAt = o.ubootAt ?? "final";
    this.uboot = o.uboot ?? new SimUboot();
  }

  log(source: LogLine["source"], line: string): void {
    const l: LogLine = { t: Date.now() - this.t0, source, line };
    this.logs.push(l);
    if (this.logs.length > 2000) this.logs.splice(0, this.logs.length - 2000);
    this.emit("log", l);
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  async start(): Promise<void> {
    const profiles =
      this.o.profiles ?? (this.real ? (testImageProfiles() as ProfileJson[]) : EXAMPLE_PROFILES);
    // With the real Linux the host store only mirrors the image's profiles until its first boot.
    const store = openStore(
      this.real ? "folder" : (this.o.storeKind ?? "folder"),
      this.dir,
      this.storeDir,
      profiles.map((p) => String(p.base)),
      this.o.storeDir !== undefined,
    );
    this.flipctl.store = store;
    this.log(
      "sim",
      "profile store: " + (store.kind === "btrfs" ? "a btrfs image" : "folders (" + store.why + ")"),
    );
    mkdirSync(join(this.storeDir, "@profiles"), { recursive: true });
    mkdirSync(join(this.bootDir, "flipper", "overlays"), { recursive: true });
    const existing = await readStore(this.storeDir);
    if (existing.profiles.length === 0 && existing.skipped.length === 0) {
      for (const p of profiles)
        await (this.real ? this.flipctl.writeProfile(p) : this.flipctl.createProfile(p));
    }
    prepareBootPartition(this.bootDir);
    this.env.prepare();
    for (const f of [this.ptyMcu, this.ptySoc]) rmSync(f, { force: true });
    this.socat = await startSocat(this.ptyMcu, this.ptySoc);
    this.socat.on("exit", () => {
      if (!this.closed) this.log("sim", "socat exited");
    });
    await this.startMcu();
    if (this.o.bridge !== false) {
      await this.startBridge();
      if (this.o.waitSync !== false) await this.bridge!.whenSynced(60000);
    }
    // The real Linux's image builds in the background (progress in the log); a power-on waits for it.
    if (this.real) void this.real.prepare().catch(() => {});
    this.log("sim", "simulation ready in " + this.dir);
  }

  private onFrame = (fb: { pixels: Uint8Array }) => {
    this.pixels = Uint8Array.from(fb.pixels);
    this.emit("frame", this.pixels);
  };

  private onFinal = (sel: BootSelection) => {
    if (this.power === "menu") this.beginBoot(sel);
  };

  private async startMcu(): Promise<void> {
    const mcu = makeMcu(this.mcuKind, this.ptyMcu, this.dir);
    mcu.on("frame", this.onFrame);
    mcu.on("final", this.onFinal);
    const dec = new FrameDecoder(MAX_WIRE_FRAME);
    mcu.on("uart-rx", (bytes: number[]) => {
      dec.push(
        bytes,
        (f: Frame) => this.onMcuRx(f),
        () => {},
      );
    });
    await mcu.start();
    this.mcu = mcu;
    this.mcuAbsent = false;
  }

  private onMcuRx(f: Frame): void {
    const arm = this.restartArm;
    if (!arm || f.type !== arm.type) return;
    arm.seen++;
    if (arm.seen === arm.nth) {
      this.restartArm = null;
      this.log("sim", "MCU restart while it receives " + messageName(f.type) + " #" + arm.nth);
      this.restartMcu().then(arm.done, arm.done);
    }
  }

  async startBridge(): Promise<void> {
    if (this.bridge) return;
    if (this.real?.guest) throw new Error("the real Linux runs: its flipper-boot.service is the bridge");
    this.bridge = await startDaemon({
      port: this.ptySoc,
      baud: UART_BAUD,
      store: this.storeDir,
      bootDir: this.bootDir,
      fwSetenv: "fw_setenv",
      fwEnvConfig: this.env.config,
      stateDir: join(this.dir, "bridge-state"),
      socket: null,
      debounceMs: this.o.debounceMs ?? 100,
      log: (line) => this.log("bridge", line.replace(/^flipper-boot: /, "")),
    });
    this.bridge.on("link", () => this.emit("state"));
    this.bridge.on("synced", () => this.emit("state"));
    this.bridge.on("boot", () => this.emit("state"));
    this.bridge.on("default-changed", () => this.emit("state"));
    this.log("sim", "bridge started on " + this.ptySoc);
    this.emit("state");
  }

  async killBridge(): Promise<void> {
    const b = this.bridge;
    this.bridge = null;
    if (b) {
      await b.stop();
      this.log("sim", "bridge stopped");
    }
    this.emit("state");
  }

  async restartMcu(): Promise<void> {
    if (!this.mcu) throw new Error("the MCU is absent");
    this.mcuRestarts++;
    await this.mcu.restart();
    this.log("mcu", "MCU restarted (RAM lost, flash kept)");
    if (this.power === "menu") this.power = "off";
    this.emit("state");
  }

  /** Restarts the MCU when it has received the nth frame of `type` (e.g. LIST_ITEM) from the bridge. */
  armMcuRestart(type: number, nth: number): Promise<void> {
    return new Promise((done) => {
      this.restartArm = { type, nth, seen: 0, done };
    });
  }

  /** The MCU absent (unplugged / dead): U-Boot finds no I2C target, the bridge no answer. */
  async setMcuAbsent(absent: boolean): Promise<void> {
    if (absent === this.mcuAbsent) return;
    if (absent) {
      const m = this.mcu;
      this.mcu = null;
      this.mcuAbsent = true;
      if (m) {
        m.removeListener("frame", this.onFrame);
        m.removeListener("final", this.onFinal);
        await m.stop();
      }
      this.pixels = new Uint8Array(256 * 144);
      this.emit("frame", this.pixels);
      this.log("sim", "MCU removed");
    } else {
      await this.startMcu();
      this.log("sim", "MCU back");
    }
    this.emit("state");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.real?.stop().catch(() => {});
    if (this.flow) await Promise.race([this.flow.catch(() => {}), sleep(30000)]);
    if (this.bridge) await this.bridge.stop().catch(() => {});
    this.bridge = null;
    if (this.mcu) await this.mcu.stop().catch(() => {});
    this.mcu = null;
    if (this.socat && this.socat.exitCode === null) this.socat.kill("SIGKILL");
    await this.linux.close().catch(() => {});
    if (this.ownsUboot) this.uboot.close();
    // Unmount before the folder goes: removing through the mount would walk the store.
    this.flipctl.store.close();
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }

  // ---- the device -----------------------------------------------------------------------------

  screenPixels(): Uint8Array {
    return this.pixels;
  }

  screenText(): string[] {
    return this.mcu ? this.mcu.screenText() : [];
  }

  screenPng(): Buffer {
    return this.mcu ? this.mcu.screenPng() : blankPng();
  }

  /** Bits a pixel the MCU draws: 6 (NodeMcu, gray 0..63) or 4 (the DeviceScript program's Image). */
  screenBits(): number {
    return screenBits(this.o.mcu ?? "node");
  }

  /** SoC power-on with `held` keys down (names like "ok" or Key codes). Power-cycles when on. */
  async powerOn(held: Array<string | number> = [], release = true): Promise<void> {
    if (this.power !== "off") await this.powerOff();
    this.cycle++;
    this.powerT0 = Date.now();
    this.power = "menu";
    this.log("sim", "power on" + (held.length ? " holding " + held.join("+") : ""));
    if (!this.mcu) {
      this.beginBoot(null);
      return;
    }
    await this.mcu.powerOn(held);
    // The keys were held while the power came on; the owner lets go of them now.
    if (release) for (const k of held) await this.mcu.keyUp(k);
    const sel = this.mcu.selection();
    if (sel.status !== BlockStatus.PENDING) this.beginBoot(sel);
    else if (this.ubootAt === "power-on") this.beginBoot(sel, true);
    this.emit("state");
  }

  async powerOff(): Promise<void> {
    // The real Linux goes down first: a boot still waiting for it ends as "error" at once.
    await this.real?.stop();
    if (this.flow) await this.flow.catch(() => {});
    this.flow = null;
    await this.linux.powerOff();
    await this.mcu?.powerOff();
    this.power = "off";
    this.log("sim", "power off");
    this.emit("state");
  }

  keyDown(key: string): void {
    void this.mcu?.keyDown(key);
  }

  keyUp(key: string): void {
    void this.mcu?.keyUp(key);
  }

  /** Presses a key (see pressKey: under LONG_PRESS_MS a short press, from it on held `ms`). */
  async press(key: string, ms = 60): Promise<void> {
    if (!this.mcu) throw new Error("the MCU is absent");
    await pressKey(this.mcu, key, ms);
  }

  /** The boot under way (or the last one of this power cycle); rejects when none was started. */
  async waitBoot(timeoutMs = 180000): Promise<BootRecord> {
    const t0 = Date.now();
    while (!this.flow || this.flowCycle !== this.cycle) {
      if (this.power === "off") throw new Error("the device is off: power it on first");
      if (Date.now() - t0 > timeoutMs) {
        throw new Error("no boot started within " + timeoutMs + " ms (the menu is still open)");
      }
      await sleep(20);
    }
    return this.flow;
  }

  /** True once U-Boot was started in this power cycle (its result may still be on the way). */
  bootStarted(): boolean {
    return this.flow !== null && this.flowCycle === this.cycle;
  }

  /**
   * Resolves true once U-Boot starts in this power cycle (at once if it did), false after
   * `timeoutMs` without a boot or when the power goes off. (A pick in the menu becomes a boot only
   * when the MCU has published its FINAL block, a while after the key.)
   */
  waitBootStart(timeoutMs: number): Promise<boolean> {
    if (this.bootStarted()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer);
        this.removeListener("state", check);
        resolve(v);
      };
      const check = () => {
        if (this.bootStarted()) done(true);
        else if (this.power === "off") done(false);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.on("state", check);
    });
  }

  lastBoot(): BootRecord | null {
    return this.boots.length > 0 ? this.boots[this.boots.length - 1] : null;
  }

  private beginBoot(sel: BootSelection | null, live = false): void {
    if (this.flow && this.flowCycle === this.cycle) return;
    this.flowCycle = this.cycle;
    this.flow = runBoot(this, sel, live, this.powerT0);
    this.flow.catch((e) => this.log("sim", "boot failed: " + (e as Error).message));
    // Now bootStarted() is true (runBoot's own first "state" came before this.flow was set).
    this.emit("state");
  }

  /** The saved environment's `flipper_*` variables (the real fw_printenv). */
  savedEnv(): Promise<Record<string, string>> {
    return this.env.read();
  }

  /** Writes the saved environment with the real fw_setenv (as Linux would; "" deletes a variable). */
  async fwSetenv(vars: Record<string, string>): Promise<void> {
    await this.env.write(vars);
    this.log(
      "sim",
      "fw_setenv " +
        Object.keys(vars)
          .map((k) => k + "=" + JSON.stringify(vars[k]))
          .join(" "),
    );
  }

  /** Consumes a scripted failure for a boot of `profile`: the next failNext boots, failing profiles. */
  takeFailure(profile: string | null): boolean {
    if (this.failNext > 0) {
      this.failNext--;
      return true;
    }
    return profile !== null && this.failingProfiles.has(profile);
  }

  // ---- the real Linux (linux: "real", sim/linux/live.ts) --------------------------------------------

  /** Default, next and menu options as flipper-boot commands in the guest (after the first boot). */
  private async guestCommand(what: string, a: Record<string, unknown>): Promise<void> {
    await (this.flipctl as GuestFlipCtl).command(what, a);
  }

  private needBridge(): Daemon {
    if (!this.bridge) throw new Error("the bridge is not running");
    return this.bridge;
  }

  async setDefault(target: string): Promise<void> {
    if (this.real && !this.bridge) return this.guestCommand("setDefault", { target });
    await this.needBridge().setDefault(target);
    this.emit("state");
  }

  async setNext(id: string, action = "boot"): Promise<void> {
    if (this.real && !this.bridge) return this.guestCommand("setNext", { id, action });
    if (id === "") await this.needBridge().clearNext();
    else await this.needBridge().setNext(id, action);
    this.emit("state");
  }

  async setOptions(o: { timeoutSeconds?: number; showMenu?: number; maxTries?: number }): Promise<void> {
    if (this.real && !this.bridge) return this.guestCommand("setOptions", o);
    await this.needBridge().setOptions(o);
    this.emit("state");
  }

  failNextBoot(count = 1): void {
    if (this.real) throw new Error(REAL_NO_FAIL);
    this.failNext += count;
    this.log("sim", "the next " + (this.failNext === 1 ? "boot" : this.failNext + " boots") + " will fail");
    this.emit("state");
  }

  async waitSynced(timeoutMs = 30000): Promise<DaemonStatus> {
    return this.needBridge().whenSynced(timeoutMs);
  }

  /**
   * After a store change: waits until the MCU holds exactly the store's valid profiles (the bridge
   * noticed the change and synced it), then until the bridge is idle. Needs the bridge and the MCU.
   */
  async settled(timeoutMs = 30000): Promise<void> {
    const bridge = this.needBridge();
    await mcuHoldsStore(() => this.mcu, bridge, this.storeDir, timeoutMs);
  }

  // ---- views ------------------------------------------------------------------------------------

  /** The MCU's state (GET_STATE's answer): from the Node MCU directly, from the VM through the bridge. */
  async mcuState() {
    if (this.real && !this.bridge && this.mcu instanceof VmMcu) {
      return (await this.real.mcuStatus()) as Awaited<ReturnType<typeof mcuState>>;
    }
    return mcuState(this.mcu, this.bridge);
  }

  /** What a fresh MCU would load from its flash now (the stored state, not the RAM state). */
  mcuStored() {
    return mcuStored(this.mcu);
  }

  /** The whole state as plain JSON (the page, the scenarios). */
  snapshot() {
    return simulationView(this);
  }
}
