// The simulation: the real MCU core, the real bridge daemon over a real pseudo-terminal pair
// (socat), the real boot.scr in a real U-Boot (QEMU), and a simulated Linux that marks boots good.
//
//   [web page / scenario] --> Simulation
//      MCU core (NodeMcu or LocalMcu) <-- pty pair (socat) --> bridge daemon (startDaemon)
//            | register block (64 bytes)                          | store/@profiles, boot/flipper/*.env,
//            v                                                    v fw_setenv on env.bin
//      U-Boot in QEMU: i2c write the block, source boot.scr  <-- saved env (fw_printenv), boot partition
//            | bootargs + flipper: lines
//            v
//      simulated Linux: bumps lastUsed in profile.json, mark-good through the daemon
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, promises as fsp, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PNG } from "pngjs";
import { type Frame, FrameDecoder, MAX_WIRE_FRAME } from "../protocol/frame";
import { messageName } from "../protocol/messages";
import { sameProfile } from "../protocol/profile";
import {
  ACTION_NAMES,
  BlockStatus,
  type BootSelection,
  decodeBlock,
  REASON_NAMES,
} from "../protocol/register-block";
import { type Daemon, type DaemonStatus, startDaemon } from "../soc-bridge/daemon";
import { describeState } from "../soc-bridge/ops";
import { readStore, records } from "../soc-bridge/profile-store";
import { TEST_BASE_DTS, TEST_FDTFILE, TEST_OVERLAY_OK_DTS } from "../uboot-script/harness";
import { compileDts } from "../uboot-script/qemu";
import { NodeMcu } from "../mcu/node/mcu";
import { VM_SCREEN_BITS, VmMcu } from "./mcu-vm";
import { btrfsMissing, btrfsStore, folderStore, type SimStore } from "./store";
import { LONG_PRESS_MS } from "../mcu/core/keys";
import { SimUboot, type UbootBootResult } from "./uboot";

/** A profile as FlipCTL writes it into <store>/@profiles/<id>/profile.json (schema: protocol/PROTOCOL.md). */
export interface ProfileJson {
  id: string;
  name: string;
  base: string;
  origin?: string | null;
  hidden?: boolean;
  protected?: boolean;
  created?: string | number | null;
  lastUsed?: string | number | null;
  kernelOptions?: string;
  overlays?: string[];
  sortKey?: string;
  [k: string]: unknown;
}

export const EXAMPLE_PROFILES: ProfileJson[] = [
  {
    id: "desktop",
    name: "Desktop",
    base: "1.2",
    created: "2026-09-01T10:00:00Z",
    lastUsed: "2026-11-20T18:30:00Z",
    kernelOptions: "quiet splash",
    sortKey: "1",
  },
  {
    id: "pentest",
    name: "Pentest",
    base: "1.2",
    origin: "desktop",
    created: "2026-10-02T09:00:00Z",
    lastUsed: "2026-11-18T21:05:00Z",
    kernelOptions: "loglevel=4 usbcore.autosuspend=-1",
    overlays: ["wifi-monitor"],
    sortKey: "2",
  },
  {
    id: "router",
    name: "Router",
    base: "1.1",
    created: "2026-08-15T12:00:00Z",
    lastUsed: "2026-11-02T07:45:00Z",
    kernelOptions: "quiet net.ifnames=0",
    overlays: ["uart4-pins"],
    sortKey: "3",
    protected: true,
  },
  {
    id: "kiosk",
    name: "Kiosk",
    base: "1.2",
    origin: "desktop",
    created: "2026-11-01T08:00:00Z",
    lastUsed: null,
    kernelOptions: "quiet consoleblank=0",
    sortKey: "4",
  },
];

/** Overlays the example boot partition carries (compiled from the harness's test overlay). */
export const EXAMPLE_OVERLAYS = ["wifi-monitor", "uart4-pins"];

export interface SimulationOptions {
  /** Folder for store/, boot/, flash and env; default a new temporary folder (removed by close()). */
  dir?: string;
  /** Profiles written at start when the store is empty; default EXAMPLE_PROFILES ([] = none). */
  profiles?: ProfileJson[];
  /** Use this folder as the store (the btrfs top level holding @profiles) instead of <dir>/store. */
  storeDir?: string;
  /** Start the bridge daemon at start (default true). */
  bridge?: boolean;
  /** A U-Boot runner to share between simulations (not closed by close()). */
  uboot?: SimUboot;
  /** Wait for the first sync at start (default true when the bridge starts). */
  waitSync?: boolean;
  /**
   * When U-Boot starts: "final" (default: when the MCU's choice is FINAL, as if the MCU powered the
   * SoC then) or "power-on" (with the SoC: boot.scr polls the PENDING block live while the menu is
   * open, and gives up after its timeout like the real script).
   */
  ubootAt?: "final" | "power-on";
  /** "node" (default): mcu/node's NodeMcu; "vm": the compiled DeviceScript program in the VM. */
  mcu?: "node" | "vm";
  /** Bridge debounce (ms) for store changes. */
  debounceMs?: number;
  /**
   * The profile store: "folder" (default: plain folders of profile.json), "btrfs" (a real btrfs image
   * in the simulation folder, FlipCTL through the lifecycle commands; fails when it cannot be
   * mounted) or "auto" (btrfs when this machine can mount it, else the folder). Ignored with storeDir.
   */
  storeKind?: "auto" | "btrfs" | "folder";
}

export interface LogLine {
  t: number;
  source: "bridge" | "sim" | "mcu" | "linux" | "uboot";
  line: string;
}

export interface BootStages {
  /** Power-on until the MCU's choice was FINAL (menu time, or ~0 for zero-wait). */
  decisionMs: number;
  /** The block handed to U-Boot until bootargs (includes a cold QEMU start when one was needed). */
  ubootMs: number;
  /** Simulated Linux: lastUsed bump + mark-good through the bridge. */
  linuxMs: number;
  /** The bridge syncing the result (lastUsed delta, state) until in sync. */
  syncMs: number;
  totalMs: number;
}

export interface BootRecord {
  n: number;
  selection: BootSelection | null;
  /** The block as hex, or null when the MCU was absent. */
  blockHex: string | null;
  savedEnv: Record<string, string>;
  bootargs: string | null;
  flipperLines: string[];
  console: string;
  profile: string | null;
  action: string | null;
  /** "good" (marked good), "failed" (simulated failure), "none" (no profile to run) or "error". */
  linux: "good" | "failed" | "none" | "error";
  linuxMessage: string;
  stages: BootStages;
  uboot: { coldStartMs: number; diskMs: number; ms: number; polls: number };
}

/** The MCU behind the pty: the Node adapter, or the DeviceScript program in the VM. */
export type SimMcu = NodeMcu | VmMcu;

export type PowerState = "off" | "menu" | "booting" | "running" | "failed";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** socat processes still running: killed when this process exits, however it exits. */
const liveSocats = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of liveSocats) if (p.exitCode === null) p.kill("SIGKILL");
});

/** Runs socat with two linked ptys; resolves once both links exist. */
async function startSocat(a: string, b: string): Promise<ChildProcess> {
  const p = spawn("socat", ["-d", "-d", "pty,raw,echo=0,link=" + a, "pty,raw,echo=0,link=" + b], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  liveSocats.add(p);
  p.on("exit", () => liveSocats.delete(p));
  let err = "";
  p.stderr!.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const t0 = Date.now();
  while (!(existsSync(a) && existsSync(b) && err.indexOf("starting data transfer loop") >= 0)) {
    if (p.exitCode !== null) throw new Error("socat exited: " + err);
    if (Date.now() - t0 > 10000) {
      p.kill("SIGKILL");
      throw new Error("socat did not create the ptys in 10 s: " + err);
    }
    await sleep(10);
  }
  return p;
}

/** One simulated Flipper One (MCU + SoC) on the desk. Always close() it. */
export class Simulation extends EventEmitter {
  readonly dir: string;
  readonly storeDir: string;
  readonly bootDir: string;
  readonly flashFile: string;
  readonly envFile: string;
  readonly envConfig: string;
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
  /** Where FlipCTL's changes go: the lifecycle commands on btrfs, or profile.json files in folders. */
  store: SimStore = folderStore("not started");

  constructor(private o: SimulationOptions = {}) {
    super();
    this.ownsDir = !o.dir;
    this.dir = o.dir ? resolve(o.dir) : mkdtempSync(join(tmpdir(), "flipper-sim-"));
    this.storeDir = o.storeDir ? resolve(o.storeDir) : join(this.dir, "store");
    this.bootDir = join(this.dir, "boot");
    this.flashFile = join(this.dir, "mcu-flash.json");
    this.envFile = join(this.dir, "uboot-env.bin");
    this.envConfig = join(this.dir, "fw_env.config");
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
    this.store = this.openStore();
    this.log(
      "sim",
      "profile store: " +
        (this.store.kind === "btrfs" ? "a btrfs image" : "folders (" + this.store.why + ")"),
    );
    mkdirSync(join(this.storeDir, "@profiles"), { recursive: true });
    mkdirSync(join(this.bootDir, "flipper", "overlays"), { recursive: true });
    const existing = await readStore(this.storeDir);
    if (existing.profiles.length === 0 && existing.skipped.length === 0) {
      for (const p of this.o.profiles ?? EXAMPLE_PROFILES) await this.createProfile(p);
    }
    this.prepareBootPartition();
    this.prepareEnv();
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
    this.log("sim", "simulation ready in " + this.dir);
  }

  private openStore(): SimStore {
    const kind = this.o.storeDir ? "folder" : (this.o.storeKind ?? "folder");
    if (kind === "folder")
      return folderStore(this.o.storeDir ? "--store names a folder" : "the folder store was chosen");
    const missing = btrfsMissing();
    if (missing) {
      if (kind === "btrfs") throw new Error("a btrfs store needs: " + missing);
      return folderStore("a btrfs image needs " + missing);
    }
    const bases = [
      ...new Set(["1.1", "1.2", ...(this.o.profiles ?? EXAMPLE_PROFILES).map((p) => String(p.base))]),
    ];
    try {
      return btrfsStore(
        this.dir,
        this.storeDir,
        bases.filter((b) => /^\d{1,4}(\.\d{1,4}){1,3}$/.test(b)),
      );
    } catch (e) {
      if (kind === "btrfs") throw e;
      return folderStore("the btrfs image could not be mounted: " + (e as Error).message.split("\n")[0]);
    }
  }

  /** The FAT boot partition's static files: a DTB with symbols, a kernel and initramfs stand-in, overlays. */
  private prepareBootPartition(): void {
    const dtb = join(this.bootDir, TEST_FDTFILE);
    if (!existsSync(dtb)) writeFileSync(dtb, compileDts(TEST_BASE_DTS));
    const img = join(this.bootDir, "Image");
    if (!existsSync(img)) writeFileSync(img, "flipper-sim: a stand-in kernel (U-Boot stops before booti)\n");
    const rd = join(this.bootDir, "initrd.img");
    if (!existsSync(rd)) writeFileSync(rd, "flipper-sim: a stand-in initramfs\n");
    let ovl: Buffer | null = null;
    for (const name of EXAMPLE_OVERLAYS) {
      const f = join(this.bootDir, "flipper", "overlays", name + ".dtbo");
      if (existsSync(f)) continue;
      ovl = ovl ?? compileDts(TEST_OVERLAY_OK_DTS);
      writeFileSync(f, ovl);
    }
  }

  /** The saved U-Boot environment: a real env image that fw_setenv/fw_printenv (libubootenv) edit. */
  private prepareEnv(): void {
    writeFileSync(this.envConfig, this.envFile + " 0x0 0x4000\n");
    if (existsSync(this.envFile)) return;
    const txt = join(this.dir, "uboot-env.txt");
    writeFileSync(txt, "bootdelay=3\n");
    execFileSync("mkenvimage", ["-s", "0x4000", "-o", this.envFile, txt]);
    rmSync(txt, { force: true });
  }

  private onFrame = (fb: { pixels: Uint8Array }) => {
    this.pixels = Uint8Array.from(fb.pixels);
    this.emit("frame", this.pixels);
  };

  private onFinal = (sel: BootSelection) => {
    if (this.power === "menu") this.beginBoot(sel);
  };

  private async startMcu(): Promise<void> {
    const mcu: SimMcu =
      this.o.mcu === "vm"
        ? new VmMcu({ serialPath: this.ptyMcu, baudRate: 1500000, workdir: join(this.dir, "mcu-vm") })
        : new NodeMcu({ serialPath: this.ptyMcu, baudRate: 1500000, flashFile: this.flashFile });
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
    this.bridge = await startDaemon({
      port: this.ptySoc,
      baud: 1500000,
      store: this.storeDir,
      bootDir: this.bootDir,
      fwSetenv: "fw_setenv",
      fwEnvConfig: this.envConfig,
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
    if (this.flow) await Promise.race([this.flow.catch(() => {}), sleep(30000)]);
    if (this.bridge) await this.bridge.stop().catch(() => {});
    this.bridge = null;
    if (this.mcu) await this.mcu.stop().catch(() => {});
    this.mcu = null;
    if (this.socat && this.socat.exitCode === null) this.socat.kill("SIGKILL");
    if (this.ownsUboot) this.uboot.close();
    // Unmount before the folder goes: removing through the mount would walk the store.
    this.store.close();
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
    if (this.mcu) return this.mcu.screenPng();
    return blankPng();
  }

  /** Bits a pixel the MCU draws: 6 (NodeMcu, gray 0..63) or 4 (the DeviceScript program's Image). */
  screenBits(): number {
    return this.o.mcu === "vm" ? VM_SCREEN_BITS : 6;
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
    if (this.flow) await this.flow.catch(() => {});
    this.flow = null;
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

  /**
   * Presses a key. Under the core's LONG_PRESS_MS `ms` only says "short": down and up go at once, so
   * a stalled event loop cannot stretch the press into a long one (a 60 ms Back held 300 ms does
   * nothing); from LONG_PRESS_MS on the key is held `ms`.
   */
  async press(key: string, ms = 60): Promise<void> {
    if (!this.mcu) throw new Error("the MCU is absent");
    if (this.mcu instanceof VmMcu) {
      // Timed against the program's own key lines (see VmMcu.press).
      await this.mcu.press(key, ms);
      return;
    }
    this.mcu.keyDown(key);
    if (ms >= LONG_PRESS_MS) await sleep(ms);
    this.mcu.keyUp(key);
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
    this.flow = this.runBoot(sel, live);
    this.flow.catch((e) => this.log("sim", "boot failed: " + (e as Error).message));
    // Now bootStarted() is true (runBoot's own first "state" came before this.flow was set).
    this.emit("state");
  }

  /** Reads the saved environment with the real fw_printenv. */
  async savedEnv(): Promise<Record<string, string>> {
    const out = await new Promise<string>((res, rej) =>
      execFile("fw_printenv", ["-c", this.envConfig], (e, stdout, stderr) =>
        e ? rej(new Error("fw_printenv failed: " + stderr)) : res(stdout),
      ),
    );
    const env: Record<string, string> = {};
    for (const line of out.split("\n")) {
      const i = line.indexOf("=");
      if (i > 0 && line.startsWith("flipper_")) env[line.slice(0, i)] = line.slice(i + 1);
    }
    return env;
  }

  /** Writes the saved environment with the real fw_setenv (as Linux would; "" deletes a variable). */
  async fwSetenv(vars: Record<string, string>): Promise<void> {
    const script = join(this.dir, "fw-setenv.txt");
    writeFileSync(
      script,
      Object.keys(vars)
        .map((k) => k + (vars[k] === "" ? "" : "=" + vars[k]))
        .join("\n") + "\n",
    );
    await new Promise<void>((res, rej) =>
      execFile("fw_setenv", ["-c", this.envConfig, "-s", script], (e, _o, stderr) =>
        e ? rej(new Error("fw_setenv failed: " + stderr)) : res(),
      ),
    );
    this.log(
      "sim",
      "fw_setenv " +
        Object.keys(vars)
          .map((k) => k + "=" + JSON.stringify(vars[k]))
          .join(" "),
    );
  }

  private describeSelection(sel: BootSelection): string {
    return (
      ACTION_NAMES[sel.action] +
      " " +
      (sel.profileId || "(no profile)") +
      " (" +
      REASON_NAMES[sel.reason] +
      ", try " +
      sel.tryNumber +
      "/" +
      sel.maxTries +
      ", seq " +
      sel.sequence +
      ")"
    );
  }

  private async runBoot(selIn: BootSelection | null, live = false): Promise<BootRecord> {
    const decisionMs = Date.now() - this.powerT0;
    if (!live) this.power = "booting";
    this.emit("state");
    const block = this.mcu ? this.mcu.registerBlock().slice() : null;
    let sel = block ? (decodeBlock(block).selection ?? selIn) : null;
    if (live && block) {
      this.log("sim", "U-Boot starts with the SoC; it polls the PENDING block while the menu is open");
    } else if (sel && sel.status === BlockStatus.FINAL) {
      this.log("mcu", "FINAL: " + this.describeSelection(sel));
    } else if (block) {
      this.log(
        "mcu",
        "no choice: the block is " + (sel ? ["EMPTY", "PENDING", "FINAL"][sel.status] : "invalid"),
      );
    }
    const savedEnv = await this.savedEnv();
    const t1 = Date.now();
    const mcu = this.mcu;
    const u: UbootBootResult = await this.uboot.boot({
      block,
      savedEnv,
      bootDir: this.bootDir,
      liveBlock: live && mcu ? () => mcu.registerBlock() : undefined,
    });
    const ubootMs = Date.now() - t1;
    if (live) {
      this.power = "booting";
      const now = this.mcu ? decodeBlock(this.mcu.registerBlock()).selection : null;
      if (now) sel = now;
      this.log(
        "uboot",
        u.polls +
          " PENDING polls served; the block is " +
          (now ? ["EMPTY", "PENDING", "FINAL"][now.status] : "gone") +
          (now && now.status === BlockStatus.FINAL ? ": " + this.describeSelection(now) : ""),
      );
    }
    for (const l of u.flipperLines) this.log("uboot", l);
    this.log("uboot", "bootargs=" + (u.bootargs ?? "(unset)") + " (" + u.ms + " ms)");
    const args = parseBootargs(u.bootargs ?? "");
    const t2 = Date.now();
    let linux: BootRecord["linux"] = "none";
    let linuxMessage = "";
    const profile = args["flipper.profile"] ?? null;
    const action = args["flipper.action"] ?? (profile ? "boot" : null);
    if (u.bootargs === null || (!profile && !action)) {
      linuxMessage = "no flipper.profile or flipper.action on the command line: nothing to boot";
    } else if (this.failNext > 0 || (profile !== null && this.failingProfiles.has(profile))) {
      if (this.failNext > 0) this.failNext--;
      linux = "failed";
      linuxMessage = "Linux " + (profile ?? "recovery") + " failed to boot (simulated): no mark-good";
    } else {
      linux = "good";
      if (profile && action !== "recovery") await this.bumpLastUsed(profile);
      if (this.bridge && this.mcu) {
        try {
          const r = await this.bridge.markGood(profile);
          linuxMessage = "Linux " + (profile ?? "recovery") + " up; mark-good: " + r.message;
        } catch (e) {
          linux = "error";
          linuxMessage =
            "Linux " + (profile ?? "recovery") + " up; mark-good failed: " + (e as Error).message;
        }
      } else {
        linuxMessage =
          "Linux " +
          (profile ?? "recovery") +
          " up; no mark-good (" +
          (this.mcu ? "bridge not running" : "no MCU") +
          ")";
      }
    }
    this.log("linux", linuxMessage);
    const linuxMs = Date.now() - t2;
    const t3 = Date.now();
    if (this.bridge && this.mcu && linux !== "failed") {
      await this.bridge.whenSynced(20000).catch((e) => this.log("sim", (e as Error).message));
    }
    const syncMs = Date.now() - t3;
    const rec: BootRecord = {
      n: this.boots.length + 1,
      selection: sel,
      blockHex: block ? Buffer.from(block).toString("hex") : null,
      savedEnv,
      bootargs: u.bootargs,
      flipperLines: u.flipperLines,
      console: u.console,
      profile,
      action,
      linux,
      linuxMessage,
      stages: { decisionMs, ubootMs, linuxMs, syncMs, totalMs: Date.now() - this.powerT0 },
      uboot: { coldStartMs: u.coldStartMs, diskMs: u.diskMs, ms: u.ms, polls: u.polls },
    };
    this.boots.push(rec);
    this.power = linux === "failed" || linux === "none" ? "failed" : "running";
    this.emit("boot", rec);
    this.emit("state");
    return rec;
  }

  // ---- FlipCTL: the profile store on Linux -----------------------------------------------------

  profileFile(id: string): string {
    return join(this.storeDir, "@profiles", id, "profile.json");
  }

  /** Writes a profile.json (folder = p.id, any text allowed: the bridge decides what is valid). */
  async writeProfile(p: ProfileJson): Promise<void> {
    if (typeof p.id !== "string" || p.id === "" || p.id.indexOf("/") >= 0 || p.id === "." || p.id === "..") {
      throw new Error("profile id " + JSON.stringify(p.id) + " cannot be a folder name");
    }
    await this.writeProfileText(p.id, JSON.stringify(p, null, 2) + "\n");
  }

  async writeProfileText(folder: string, text: string): Promise<void> {
    const dir = join(this.storeDir, "@profiles", folder);
    await fsp.mkdir(dir, { recursive: true });
    const tmp = join(dir, ".profile.json.tmp");
    await fsp.writeFile(tmp, text);
    await fsp.rename(tmp, join(dir, "profile.json"));
    this.log("sim", "FlipCTL: wrote @profiles/" + folder + "/profile.json");
    this.emit("state");
  }

  async readProfile(id: string): Promise<ProfileJson> {
    const text = await fsp.readFile(this.profileFile(id), "utf8").catch(() => {
      throw new Error('no profile "' + id + '" in the store');
    });
    return JSON.parse(text) as ProfileJson;
  }

  async editProfile(id: string, change: Partial<ProfileJson>): Promise<void> {
    const p = await this.readProfile(id);
    await this.writeProfile({ ...p, ...change, id });
  }

  /** A new profile: `profile create` on btrfs (then its other fields), else a profile.json. */
  async createProfile(p: ProfileJson): Promise<void> {
    if (this.store.kind !== "btrfs") return this.writeProfile(p);
    await this.lifecycle("profile-create", { id: p.id, name: p.name, base: p.base });
    const extra = Object.keys(p).filter((k) => !["id", "name", "base", "created"].includes(k));
    if (extra.length) await this.writeProfile({ ...(await this.readProfile(p.id)), ...p });
  }

  /** One lifecycle command on the btrfs store (what `flipper-boot profile ...` runs), logged. */
  async lifecycle(cmd: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    const r = await this.store.run(cmd, args);
    this.log("sim", "FlipCTL: " + cmd.replace("-", " ") + " " + JSON.stringify(args) + " done");
    for (const l of (r.cleaned as string[] | undefined) ?? []) this.log("sim", "FlipCTL: cleaned up: " + l);
    this.emit("state");
    return r;
  }

  /** `profile reset`: the profile back to its bare base (btrfs only; a snapshot keeps what it held). */
  async resetProfile(id: string): Promise<void> {
    if (this.store.kind !== "btrfs") {
      throw new Error(
        "reset needs the btrfs store (" + this.store.why + "): a folder profile has no upper to reset",
      );
    }
    await this.lifecycle("profile-reset", { id });
  }

  async deleteProfile(id: string): Promise<void> {
    if (this.store.kind === "btrfs") {
      await this.lifecycle("profile-delete", { id });
      return;
    }
    const dir = join(this.storeDir, "@profiles", id);
    if (!existsSync(dir)) throw new Error('no profile "' + id + '" in the store');
    await fsp.rm(dir, { recursive: true, force: true });
    this.log("sim", "FlipCTL: deleted @profiles/" + id);
    this.emit("state");
  }

  async cloneProfile(from: string, id: string, name?: string): Promise<void> {
    const p = await this.readProfile(from);
    if (this.store.kind === "btrfs") {
      await this.lifecycle("profile-clone", { source: from, id, name: name || p.name + " copy" });
      return;
    }
    if (existsSync(join(this.storeDir, "@profiles", id)))
      throw new Error('profile "' + id + '" already exists');
    await this.writeProfile({
      ...p,
      id,
      name: name ?? p.name + " copy",
      origin: from,
      created: nowSeconds(),
      lastUsed: null,
      protected: false,
      sortKey: typeof p.sortKey === "string" ? p.sortKey + "~" : undefined,
    });
  }

  async renameProfile(id: string, name: string): Promise<void> {
    if (this.store.kind === "btrfs") {
      await this.lifecycle("profile-rename", { id, name });
      return;
    }
    await this.editProfile(id, { name });
  }

  async hideProfile(id: string, hidden = true): Promise<void> {
    await this.editProfile(id, { hidden });
  }

  private async bumpLastUsed(id: string): Promise<void> {
    try {
      const p = await this.readProfile(id);
      const prev = typeof p.lastUsed === "number" ? p.lastUsed : 0;
      await this.writeProfile({ ...p, lastUsed: Math.max(nowSeconds(), prev + 1) });
    } catch (e) {
      this.log("linux", "cannot update lastUsed of " + id + ": " + (e as Error).message);
    }
  }

  private needBridge(): Daemon {
    if (!this.bridge) throw new Error("the bridge is not running");
    return this.bridge;
  }

  async setDefault(target: string): Promise<void> {
    await this.needBridge().setDefault(target);
    this.emit("state");
  }

  async setNext(id: string, action = "boot"): Promise<void> {
    if (id === "") await this.needBridge().clearNext();
    else await this.needBridge().setNext(id, action);
    this.emit("state");
  }

  async setOptions(o: { timeoutSeconds?: number; showMenu?: number; maxTries?: number }): Promise<void> {
    await this.needBridge().setOptions(o);
    this.emit("state");
  }

  failNextBoot(count = 1): void {
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
    const t0 = Date.now();
    for (;;) {
      const want = records((await readStore(this.storeDir)).profiles);
      // The VM's list is read back over the link (GET_PROFILE through the bridge), once it is idle.
      const have =
        this.mcu instanceof VmMcu
          ? await bridge
              .whenSynced(Math.max(1000, timeoutMs - (Date.now() - t0)))
              .then(() => bridge.listMcu())
              .then((l) => l.records)
          : this.mcu
            ? this.mcu.profiles()
            : [];
      if (want.length === have.length && want.every((r, i) => sameProfile(r, have[i]))) break;
      if (Date.now() - t0 > timeoutMs) {
        throw new Error(
          "the MCU does not hold the store's profiles after " +
            timeoutMs +
            " ms: store " +
            JSON.stringify(want.map((r) => r.id)) +
            ", MCU " +
            JSON.stringify(have.map((r) => r.id)),
        );
      }
      await sleep(this.mcu instanceof VmMcu ? 250 : 25);
    }
    await bridge.whenSynced(Math.max(1000, timeoutMs - (Date.now() - t0)));
  }

  // ---- views ------------------------------------------------------------------------------------

  /** The MCU's state (GET_STATE's answer): from the Node MCU directly, from the VM through the bridge. */
  async mcuState(): Promise<ReturnType<typeof describeState> | null> {
    if (!this.mcu) return null;
    try {
      if (this.mcu instanceof NodeMcu) return describeState(this.mcu.state());
      return this.bridge ? describeState(await this.bridge.mcuState()) : null;
    } catch {
      return null;
    }
  }

  /**
   * What a fresh MCU would load from its flash now (the stored state, not the RAM state): NodeMcu's
   * flash file, or the VM program's settings read over Jacdac.
   */
  async mcuStored() {
    if (!this.mcu) return null;
    const l = this.mcu instanceof NodeMcu ? this.mcu.stored() : await this.mcu.stored();
    const c = l.config;
    return {
      generation: l.list.generation,
      profiles: l.list.records.map((r) => r.id),
      default: c.defaultMode === 1 ? "last-used" : c.defaultId,
      next:
        c.nextId === "" ? null : { id: c.nextId, action: ACTION_NAMES[c.nextAction] ?? String(c.nextAction) },
      options: {
        timeoutSeconds: c.timeoutSeconds,
        show: c.showMenu === 1 ? "always" : "on-key",
        maxTries: c.maxTries,
      },
      lastGood: l.run.lastGoodId === "" ? null : l.run.lastGoodId,
      failed: l.run.tries.filter((t) => t.failed).length,
      report: l.report,
    };
  }

  async snapshot() {
    const store = await readStore(this.storeDir);
    const profiles = [];
    for (const p of store.profiles) {
      profiles.push({
        id: p.record.id,
        name: p.record.name,
        base: p.record.base,
        origin: p.record.origin,
        hidden: (p.record.flags & 1) !== 0,
        protected: (p.record.flags & 2) !== 0,
        lastUsed: p.record.lastUsed,
        created: p.record.created,
        kernelOptions: p.kernelOptions,
        overlays: p.overlays,
      });
    }
    return {
      power: this.power,
      ubootAt: this.ubootAt,
      mcuKind: this.o.mcu === "vm" ? "vm" : "node",
      mcuAbsent: this.mcuAbsent,
      failNext: this.failNext,
      screen: this.mcu ? this.mcu.screenName() : null,
      profiles,
      skipped: store.skipped.map((s) => s.message),
      mcu: await this.mcuState(),
      bridge: this.bridge ? bridgeView(this.bridge.status()) : null,
      lastBoot: this.lastBoot(),
      dir: this.dir,
      store: { kind: this.store.kind, why: this.store.why },
    };
  }
}

export function bridgeView(s: DaemonStatus) {
  return {
    link: s.link,
    linkError: s.linkError,
    generation: s.generation,
    inSync: s.inSync,
    profiles: s.profiles,
    skipped: s.skipped,
    error: s.error,
    lastSync: s.lastSync,
    fallback: s.fallback,
    mcuInstance: s.mcu ? s.mcu.instance : null,
  };
}

/** `a b=c flipper.profile=x` -> { a: "", b: "c", "flipper.profile": "x" } (last one wins). */
export function parseBootargs(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tok of args.split(" ")) {
    if (tok === "") continue;
    const i = tok.indexOf("=");
    if (i < 0) out[tok] = "";
    else out[tok.slice(0, i)] = tok.slice(i + 1);
  }
  return out;
}

let blank: Buffer | null = null;
function blankPng(): Buffer {
  if (!blank) {
    // A black 256x144 grayscale PNG (the screen of an absent MCU).
    const png = new PNG({ width: 256, height: 144, colorType: 0, inputColorType: 0 });
    blank = PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  }
  return blank;
}
