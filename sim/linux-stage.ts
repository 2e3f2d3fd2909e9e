// The Linux stage of a power-on: what runs after U-Boot chose the bootargs. `LinuxStage` is what
// the boot (sim/boot.ts) needs from any Linux; `StandinLinux` is the quick stand-in the simulator
// uses: it bumps the profile's lastUsed as the booted system would and marks the boot good through
// the bridge daemon, unless the scenario scripted a failure.
import type { Daemon } from "../soc-bridge/daemon";
import { type FlipCtl, nowSeconds } from "./flipctl";

/** What U-Boot handed to Linux (the stage runs only when there is a profile or an action). */
export interface LinuxBootRequest {
  bootargs: string;
  /** flipper.profile, or null (recovery without a profile). */
  profile: string | null;
  /** flipper.action, "boot" when only a profile was given. */
  action: string;
  /** The scenario or the page asked for this boot to fail (no mark-good). */
  scriptedFailure: boolean;
}

/** "good" (marked good), "failed" (no mark-good), "none" (no profile to run) or "error". */
export type LinuxResult = "good" | "failed" | "none" | "error";

export interface LinuxOutcome {
  linux: LinuxResult;
  /** One line saying what happened (BootRecord.linuxMessage). */
  message: string;
  /** Console lines to show in the Linux log, in order (the message comes last). */
  console: string[];
}

export interface LinuxStage {
  /** Shown on the page and in the log ("stand-in", ...). */
  readonly name: string;
  /** Boots the system U-Boot chose; resolves when it is up and marked good, or failed. */
  boot(req: LinuxBootRequest): Promise<LinuxOutcome>;
  /** The SoC powers off (or cycles): stop what runs. */
  powerOff(): Promise<void>;
  close(): Promise<void>;
}

/** What a Linux stage reaches of the simulation (given to `SimulationOptions.linuxStage`). */
export interface LinuxHost {
  flipctl: FlipCtl;
  bridge(): Daemon | null;
  mcuPresent(): boolean;
}

export class StandinLinux implements LinuxStage {
  readonly name = "stand-in";

  constructor(private host: LinuxHost) {}

  async boot(req: LinuxBootRequest): Promise<LinuxOutcome> {
    const what = "Linux " + (req.profile ?? "recovery");
    if (req.scriptedFailure) {
      const message = what + " failed to boot (simulated): no mark-good";
      return { linux: "failed", message, console: [message] };
    }
    const console: string[] = [];
    if (req.profile && req.action !== "recovery") {
      const bumpError = await this.bumpLastUsed(req.profile);
      if (bumpError) console.push(bumpError);
    }
    const bridge = this.host.bridge();
    let linux: LinuxResult = "good";
    let message: string;
    if (bridge && this.host.mcuPresent()) {
      try {
        const r = await bridge.markGood(req.profile);
        message = what + " up; mark-good: " + r.message;
      } catch (e) {
        linux = "error";
        message = what + " up; mark-good failed: " + (e as Error).message;
      }
    } else {
      message =
        what + " up; no mark-good (" + (this.host.mcuPresent() ? "bridge not running" : "no MCU") + ")";
    }
    console.push(message);
    return { linux, message, console };
  }

  async powerOff(): Promise<void> {}

  async close(): Promise<void> {}

  /** The booted system's lastUsed: now, and always later than the one before. */
  private async bumpLastUsed(id: string): Promise<string | null> {
    try {
      const p = await this.host.flipctl.readProfile(id);
      const prev = typeof p.lastUsed === "number" ? p.lastUsed : 0;
      await this.host.flipctl.writeProfile({ ...p, lastUsed: Math.max(nowSeconds(), prev + 1) });
      return null;
    } catch (e) {
      return "cannot update lastUsed of " + id + ": " + (e as Error).message;
    }
  }
}
