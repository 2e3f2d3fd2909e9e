// The simulator's real Linux: after the real boot.scr gave its bootargs, the test image's Debian
// boots under QEMU with U-Boot's flipper.* options and keeps running until the next power-off. Its
// second serial port is the SoC end of the simulation's MCU UART, so the guest's packaged
// flipper-boot.service is the bridge while it runs and flipper-boot-mark-good.service marks the boot
// good; FlipCTL's commands run the real `flipper-boot` inside it through qemu-guest-agent's
// guest-exec on a virtio-serial port.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { GuestAgent } from "./guest-agent";
import { listProfilesScript, writeProfileListing } from "./guest-store";
import { chooseAccel, FIXED_CMDLINE, type GuestFiles, guestMachineArgs, makeGuestFiles } from "./guest";
import { ensureImage, profileJson, TEST_PROFILES } from "./image";
import { LINUX_BUILD_DIR } from "./rootfs";

/** The test image's profiles as profile.json objects (the host store mirrors them before the first boot). */
export function testImageProfiles(): Array<Record<string, unknown>> {
  return TEST_PROFILES.map((p) => JSON.parse(profileJson(p)) as Record<string, unknown>);
}

/** `flipper.profile=a flipper.base=1.0 loglevel=4` -> `flipper.profile=a flipper.base=1.0`. */
export function flipperOptions(bootargs: string): string {
  return bootargs
    .split(" ")
    .filter((t) => t.startsWith("flipper."))
    .join(" ");
}

export interface CommandResult {
  argv: string[];
  exitCode: number;
  output: string;
}

/** What the guest's report unit printed (`fbreport: key=value`), the last value of each key. */
export type GuestReport = Record<string, string>;

export type BootOutcome = "good" | "failed" | "error";

export interface LiveGuestOptions {
  files: GuestFiles;
  /** The flipper.* options U-Boot produced. */
  flipperOptions: string;
  /** The SoC end of the MCU's UART (a tty: the simulation's socat pty). */
  mcuTty: string;
  /** Folder for the guest agent's socket. */
  dir: string;
  onLine: (line: string) => void;
}

/** QEMUs of live guests: killed when this process exits, however it exits. */
const liveQemus = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of liveQemus) c.kill("SIGKILL");
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One running guest: its console, its boot report, commands through the guest agent, power-off. */
export class LiveGuest {
  readonly report: GuestReport = {};
  /** Every `booted` line of the report (/run/flipper/booted). */
  readonly booted: Record<string, string> = {};
  readonly flipperLines: string[] = [];
  readonly t0 = Date.now();
  exited = false;
  exitCode: number | null = null;
  private child: ChildProcess;
  private agent: GuestAgent;
  private reportDone = false;
  private waiters: Array<() => void> = [];
  private stderr = "";

  constructor(private o: LiveGuestOptions) {
    const { accel } = chooseAccel();
    const qga = join(o.dir, "qga.sock");
    const cmdline = `${FIXED_CMDLINE} quiet ${o.flipperOptions}`.trim();
    const args = [
      ...guestMachineArgs(accel, o.files, cmdline),
      // ttyS1: the MCU's UART, the same pty the host's stand-in bridge uses when no guest runs.
      "-chardev",
      `serial,id=mcu,path=${o.mcuTty}`,
      "-serial",
      "chardev:mcu",
      "-chardev",
      `socket,id=qga,path=${qga},server=on,wait=off`,
      "-device",
      "virtio-serial",
      "-device",
      "virtserialport,chardev=qga,name=org.qemu.guest_agent.0",
    ];
    this.child = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "pipe", "pipe"] });
    liveQemus.add(this.child);
    let partial = "";
    // Decoded as a stream: a character split between two reads stays whole.
    this.child.stdout?.setEncoding("utf8");
    this.child.stdout?.on("data", (text: string) => {
      partial += text;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) this.onLine(l);
    });
    this.child.stderr?.on("data", (b: Buffer) => {
      this.stderr += b.toString("utf8");
    });
    this.child.on("error", (e) => {
      this.stderr += `qemu-system-x86_64 could not start: ${e.message} (install qemu-system-x86)`;
    });
    this.child.on("close", (code) => {
      liveQemus.delete(this.child);
      if (partial) this.onLine(partial);
      this.exited = true;
      this.exitCode = code;
      this.agent.close();
      this.wake();
    });
    this.agent = new GuestAgent(qga);
  }

  private onLine(raw: string): void {
    // systemd's colours (CSI with ":" too), OSC sequences and other control characters go.
    const line = raw
      .replace(/\x1b\[[0-9;:?!]*[A-Za-z]/g, "")
      .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)?/g, "")
      .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
    const r = /fbreport: ([a-z0-9-]+)=(.*)$/.exec(line);
    if (r) {
      this.report[r[1]] = r[2];
      if (r[1] === "booted") {
        const i = r[2].indexOf("=");
        if (i > 0) this.booted[r[2].slice(0, i)] = r[2].slice(i + 1);
      }
      if (r[1] === "end") {
        this.reportDone = true;
        this.wake();
      }
    } else {
      const f = /(flipper: .*)$/.exec(line);
      if (f) this.flipperLines.push(f[1]);
    }
    if (line.trim() !== "") this.o.onLine(line);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** What QEMU said on stderr, its last lines. */
  qemuErrors(): string {
    return this.stderr.trim().split("\n").slice(-3).join(" ");
  }

  /** Resolves when the report unit finished (after mark-good ran or was skipped) or QEMU exited. */
  async waitReport(timeoutMs: number): Promise<"report" | "exited" | "timeout"> {
    const t0 = Date.now();
    while (!this.reportDone && !this.exited) {
      const left = timeoutMs - (Date.now() - t0);
      if (left <= 0) return "timeout";
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
    return this.reportDone ? "report" : "exited";
  }

  /** True when the guest's systemd ran flipper-boot-mark-good.service to success. */
  markedGood(): boolean {
    return this.report["mark-good"] === "success active";
  }

  /** `flipper-boot ARGS` in the guest with its /etc/default/flipper-boot settings, as FlipCTL runs it. */
  async flipperBoot(args: string[], timeoutMs = 180_000): Promise<CommandResult> {
    if (this.exited) throw new Error("the guest is not running");
    const script = 'set -a; . /etc/default/flipper-boot; set +a; exec flipper-boot "$@"';
    const r = await this.agent.exec("/bin/sh", ["-c", script, "flipper-boot", ...args], timeoutMs);
    return { argv: ["flipper-boot", ...args], exitCode: r.exitCode, output: r.output };
  }

  /** A shell command in the guest (no /etc/default settings), its exit status and output. */
  async shell(script: string, timeoutMs = 60_000): Promise<{ exitCode: number; output: string }> {
    if (this.exited) throw new Error("the guest is not running");
    return this.agent.exec("/bin/sh", ["-c", script], timeoutMs);
  }

  /**
   * Clean power-off through the guest agent (systemd shuts down, btrfs commits), QEMU killed when it
   * has not exited within `timeoutMs`.
   */
  async stop(timeoutMs = 90_000): Promise<"clean" | "killed"> {
    if (this.exited) return "clean";
    try {
      await this.agent.shutdown(Math.min(timeoutMs, 20_000));
    } catch {
      // No agent answer (still booting, or hung): killed below.
    }
    const t0 = Date.now();
    while (!this.exited && Date.now() - t0 < timeoutMs) {
      await new Promise<void>((r) => {
        const timer = setTimeout(r, 1000);
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
    if (this.exited) return "clean";
    this.child.kill("SIGKILL");
    while (!this.exited) await sleep(20);
    return "killed";
  }
}

/** What the simulation reports about its real Linux (the page's Linux pane, scenario expectations). */
export interface RealLinuxView {
  kind: "real";
  /** "building", "ready", "booting", "running", "stopping", "off" or "error: ...". */
  state: string;
  booted: Record<string, string>;
  markers: string[];
  markedGood: boolean | null;
  report: GuestReport;
  lastCommand: CommandResult | null;
}

export interface RealLinuxHost {
  log(source: "linux" | "sim", line: string): void;
  emit(event: "state"): boolean;
  /** The SoC end of the MCU's UART (a tty path). */
  mcuTty(): string;
  /** Before the guest starts: the host's stand-in bridge lets go of the MCU's UART. */
  beforeBoot(): Promise<void>;
  /** Whether the MCU holds this boot of `profile` as marked good (null: it cannot tell). */
  mcuMarkedGood(profile: string | null): Promise<boolean | null>;
}

/** What U-Boot handed to Linux (the simulation's boot passes it to its Linux stage). */
export interface RealBootRequest {
  bootargs: string;
  profile: string | null;
  action: string;
  /** A failure scripted for the stand-in: the real Linux fails only by itself. */
  scriptedFailure: boolean;
}

/**
 * The simulation's real Linux: the image (built on first use), one qcow2 overlay disk for the
 * simulation's life, and at most one running guest.
 */
export class RealLinux {
  readonly name = "real";
  state = "off";
  guest: LiveGuest | null = null;
  lastCommand: CommandResult | null = null;
  /**
   * The guest's store as last read (a folder laid out like it, see guest-store.ts), or null before
   * the first boot: then the host's store is the one to show.
   */
  storeMirror: string | null = null;
  private mirrorTurn = 0;
  private files: GuestFiles | null = null;
  private dir: string | null = null;
  private building: Promise<void> | null = null;

  constructor(private host: RealLinuxHost) {}

  /** Builds the image when missing or stale (progress lines go to the log); later calls share it. */
  prepare(): Promise<void> {
    if (!this.building) {
      this.state = "building";
      this.building = ensureImage((l) => this.host.log("linux", l)).then(
        () => {
          this.dir = mkdtempSync(join(LINUX_BUILD_DIR, "sim-"));
          this.files = makeGuestFiles(this.dir);
          this.state = "off";
          this.host.log("linux", `real Linux ready (${chooseAccel().accel}); disk overlay in ${this.dir}`);
          this.host.emit("state");
        },
        (e: Error) => {
          this.state = `error: ${e.message}`;
          this.host.log("linux", `the real Linux image could not be built: ${e.message}`);
          this.host.emit("state");
          throw e;
        },
      );
      this.building.catch(() => {});
    }
    return this.building;
  }

  /** The simulation's Linux stage: one boot, its outcome and one line saying what happened. */
  async boot(req: RealBootRequest): Promise<{ linux: BootOutcome; message: string; console: string[] }> {
    if (req.scriptedFailure) {
      this.host.log("sim", "a scripted failure does not apply to the real Linux: it boots as it is");
    }
    const r = await this.bootGuest(req.bootargs);
    // The guest's console went to the log line by line already; the outcome comes last.
    return { linux: r.outcome, message: r.message, console: [r.message] };
  }

  /** The SoC powers off or cycles: the guest goes down. */
  powerOff(): Promise<void> {
    return this.stop();
  }

  /**
   * Boots the guest with U-Boot's bootargs and waits for its report: "good" when its systemd marked
   * the boot good and the MCU agrees, "failed" when it came up unmarked, "error" when it never
   * reported (QEMU died, or no report in `timeoutMs`). The guest keeps running either way.
   */
  async bootGuest(
    bootargs: string,
    timeoutMs = 12 * 60_000,
  ): Promise<{ outcome: BootOutcome; message: string }> {
    await this.stop();
    await this.prepare();
    await this.host.beforeBoot();
    const files = this.files as GuestFiles;
    const opts = flipperOptions(bootargs);
    this.state = "booting";
    this.host.emit("state");
    this.host.log("linux", `QEMU boots the test image with ${opts}`);
    const g = new LiveGuest({
      files,
      flipperOptions: opts,
      mcuTty: this.host.mcuTty(),
      dir: this.dir as string,
      onLine: (l) => this.host.log("linux", l),
    });
    this.guest = g;
    const how = await g.waitReport(timeoutMs);
    const secs = ((Date.now() - g.t0) / 1000).toFixed(1);
    if (how !== "report") {
      this.state = how === "exited" ? "off" : "running";
      this.host.emit("state");
      return {
        outcome: "error",
        message:
          how === "exited"
            ? `the guest stopped after ${secs} s without a report (exit ${g.exitCode}${g.qemuErrors() ? `: ${g.qemuErrors()}` : ""})`
            : `the guest gave no report in ${timeoutMs / 1000} s`,
      };
    }
    this.state = "running";
    await this.refreshStore();
    this.host.emit("state");
    const profile = g.booted.profile || null;
    const what = `${g.booted.profile || "recovery"} (base ${g.booted.base ?? "?"}, action ${g.booted.action ?? "?"})`;
    const mcu = await this.host.mcuMarkedGood(profile);
    const systemd = g.markedGood();
    const facts = `boot-complete.target ${g.report["boot-complete"] ?? "?"}, mark-good ${g.report["mark-good"] ?? "?"}, MCU ${mcu === null ? "unknown" : mcu ? "marked good" : "not marked good"}`;
    if (systemd && mcu !== false) {
      return { outcome: "good", message: `Linux ${what} up in ${secs} s; ${facts}` };
    }
    return { outcome: "failed", message: `Linux ${what} up in ${secs} s but not marked good: ${facts}` };
  }

  /** FlipCTL: `flipper-boot ARGS` in the running guest; its output goes to the log. */
  async run(args: string[]): Promise<CommandResult> {
    const g = this.guest;
    if (!g || g.exited || this.state !== "running") {
      throw new Error(
        `no real Linux is running (${this.state}): power on and wait for the boot, then run flipper-boot ${args.join(" ")}`,
      );
    }
    this.host.log("linux", `$ flipper-boot ${args.join(" ")}`);
    const r = await g.flipperBoot(args);
    for (const l of r.output.split("\n")) if (l.trim()) this.host.log("linux", l);
    if (r.exitCode !== 0) this.host.log("linux", `(exit ${r.exitCode})`);
    this.lastCommand = r;
    await this.refreshStore();
    this.host.emit("state");
    return r;
  }

  /**
   * Reads the running guest's @profiles into a fresh mirror folder (two take turns, so a reader of
   * the previous one is not cut off); the previous mirror stays when the guest cannot be read.
   */
  async refreshStore(): Promise<void> {
    const g = this.guest;
    if (!g || g.exited || !this.dir) return;
    try {
      const r = await g.shell(listProfilesScript());
      if (r.exitCode !== 0)
        throw new Error(`the listing exited ${r.exitCode} (no store at /run/flipper/top?)`);
      this.mirrorTurn = 1 - this.mirrorTurn;
      const dir = join(this.dir, `guest-store-${this.mirrorTurn}`);
      writeProfileListing(r.output, dir);
      this.storeMirror = dir;
    } catch (e) {
      this.host.log("linux", `the guest's profile store could not be read: ${(e as Error).message}`);
    }
  }

  /**
   * The MCU's state as the guest's bridge reads it (`flipper-boot status --json`, the `mcu` part), or
   * null when no guest runs or it cannot tell: for an MCU the host cannot read directly (the VM).
   */
  async mcuStatus(): Promise<Record<string, unknown> | null> {
    const g = this.guest;
    if (!g || g.exited || this.state !== "running") return null;
    try {
      const r = await g.flipperBoot(["status", "--json"]);
      if (r.exitCode !== 0) {
        this.host.log("linux", `flipper-boot status --json: exit ${r.exitCode}: ${r.output.trim()}`);
        return null;
      }
      // One JSON object on stdout: { ok, command, result: { daemon, mcu } }.
      const j = JSON.parse(r.output.slice(r.output.indexOf("{"))) as {
        result?: { mcu?: Record<string, unknown> | null };
      };
      return j.result?.mcu ?? null;
    } catch (e) {
      this.host.log("linux", `the MCU's state through the guest: ${(e as Error).message}`);
      return null;
    }
  }

  /** Like run(), but a non-zero exit is an error carrying the command's output. */
  async runOk(args: string[]): Promise<CommandResult> {
    const r = await this.run(args);
    if (r.exitCode !== 0) {
      throw new Error(`flipper-boot ${args.join(" ")} failed (exit ${r.exitCode}): ${r.output.trim()}`);
    }
    return r;
  }

  /** Powers the guest off (clean when the agent answers, else killed). */
  async stop(): Promise<void> {
    const g = this.guest;
    if (!g) return;
    if (!g.exited) {
      this.state = "stopping";
      this.host.emit("state");
      const how = await g.stop();
      this.host.log(
        "linux",
        how === "clean" ? "the guest powered off" : "the guest was killed (no clean power-off)",
      );
    }
    this.guest = null;
    this.state = "off";
    this.host.emit("state");
  }

  view(): RealLinuxView {
    const g = this.guest;
    return {
      kind: "real",
      state: this.state,
      booted: g ? { ...g.booted } : {},
      markers: g ? (g.report.markers ?? "").split(" ").filter((m) => m !== "") : [],
      markedGood: g && g.report.end ? g.markedGood() : null,
      report: g ? { ...g.report } : {},
      lastCommand: this.lastCommand,
    };
  }

  async close(): Promise<void> {
    await this.stop().catch(() => {});
    await this.building?.catch(() => {});
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
    this.storeMirror = null;
  }
}
