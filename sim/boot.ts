// One boot of the simulated SoC: the MCU's register block -> U-Boot (the real boot.scr under QEMU)
// -> the Linux stage -> the bridge syncing the result. Timed per stage for the page's bar.
import type { Daemon } from "../soc-bridge/daemon";
import {
  actionName,
  BlockStatus,
  type BootSelection,
  decodeBlock,
  reasonName,
  statusName,
} from "../protocol/register-block";
import type { LinuxOutcome, LinuxStage } from "./linux-stage";
import type { SimMcu } from "./mcu";
import type { SavedEnv } from "./saved-env";
import type { BootRecord, LogLine, PowerState } from "./types";
import type { SimUboot } from "./uboot";

/** What a boot reads and changes of the simulation. */
export interface BootHost {
  readonly mcu: SimMcu | null;
  readonly bridge: Daemon | null;
  readonly uboot: SimUboot;
  readonly bootDir: string;
  readonly env: SavedEnv;
  readonly linux: LinuxStage;
  power: PowerState;
  readonly boots: BootRecord[];
  /** Consumes a scripted failure for a boot of `profile` (true: this boot fails). */
  takeFailure(profile: string | null): boolean;
  log(source: LogLine["source"], line: string): void;
  emit(event: "state" | "boot", ...args: unknown[]): boolean;
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

/** `boot desktop (default, try 1/3, seq 4)` */
export function describeSelection(sel: BootSelection): string {
  return (
    actionName(sel.action) +
    " " +
    (sel.profileId || "(no profile)") +
    " (" +
    reasonName(sel.reason) +
    ", try " +
    sel.tryNumber +
    "/" +
    sel.maxTries +
    ", seq " +
    sel.sequence +
    ")"
  );
}

/** EMPTY, PENDING or FINAL, as the log spells a block's status. */
function statusWord(status: number): string {
  return statusName(status).toUpperCase();
}

/**
 * Runs one boot from power-on time `powerT0`. `live`: U-Boot starts with the SoC and polls the
 * PENDING block while the menu is open; otherwise it gets the block as it is now.
 */
export async function runBoot(
  sim: BootHost,
  selIn: BootSelection | null,
  live: boolean,
  powerT0: number,
): Promise<BootRecord> {
  const decisionMs = Date.now() - powerT0;
  if (!live) sim.power = "booting";
  sim.emit("state");
  const block = sim.mcu ? sim.mcu.registerBlock().slice() : null;
  let sel = block ? (decodeBlock(block).selection ?? selIn) : null;
  if (live && block) {
    sim.log("sim", "U-Boot starts with the SoC; it polls the PENDING block while the menu is open");
  } else if (sel && sel.status === BlockStatus.FINAL) {
    sim.log("mcu", "FINAL: " + describeSelection(sel));
  } else if (block) {
    sim.log("mcu", "no choice: the block is " + (sel ? statusWord(sel.status) : "invalid"));
  }
  const savedEnv = await sim.env.read();
  const t1 = Date.now();
  const mcu = sim.mcu;
  const u = await sim.uboot.boot({
    block,
    savedEnv,
    bootDir: sim.bootDir,
    liveBlock: live && mcu ? () => mcu.registerBlock() : undefined,
  });
  const ubootMs = Date.now() - t1;
  if (live) {
    sim.power = "booting";
    const now = sim.mcu ? decodeBlock(sim.mcu.registerBlock()).selection : null;
    if (now) sel = now;
    sim.log(
      "uboot",
      u.polls +
        " PENDING polls served; the block is " +
        (now ? statusWord(now.status) : "gone") +
        (now && now.status === BlockStatus.FINAL ? ": " + describeSelection(now) : ""),
    );
  }
  for (const l of u.flipperLines) sim.log("uboot", l);
  sim.log("uboot", "bootargs=" + (u.bootargs ?? "(unset)") + " (" + u.ms + " ms)");
  const args = parseBootargs(u.bootargs ?? "");
  const t2 = Date.now();
  const profile = args["flipper.profile"] ?? null;
  const action = args["flipper.action"] ?? (profile ? "boot" : null);
  let out: LinuxOutcome;
  if (u.bootargs === null || (!profile && !action)) {
    const message = "no flipper.profile or flipper.action on the command line: nothing to boot";
    out = { linux: "none", message, console: [message] };
  } else {
    const scriptedFailure = sim.takeFailure(profile);
    out = await sim.linux.boot({ bootargs: u.bootargs, profile, action: action ?? "boot", scriptedFailure });
  }
  for (const l of out.console) sim.log("linux", l);
  const linuxMs = Date.now() - t2;
  const t3 = Date.now();
  if (sim.bridge && sim.mcu && out.linux !== "failed") {
    await sim.bridge.whenSynced(20000).catch((e) => sim.log("sim", (e as Error).message));
  }
  const syncMs = Date.now() - t3;
  const rec: BootRecord = {
    n: sim.boots.length + 1,
    selection: sel,
    blockHex: block ? Buffer.from(block).toString("hex") : null,
    savedEnv,
    bootargs: u.bootargs,
    flipperLines: u.flipperLines,
    console: u.console,
    profile,
    action,
    linux: out.linux,
    linuxMessage: out.message,
    stages: { decisionMs, ubootMs, linuxMs, syncMs, totalMs: Date.now() - powerT0 },
    uboot: { coldStartMs: u.coldStartMs, diskMs: u.diskMs, ms: u.ms, polls: u.polls },
  };
  sim.boots.push(rec);
  sim.power = out.linux === "failed" || out.linux === "none" ? "failed" : "running";
  sim.emit("boot", rec);
  sim.emit("state");
  return rec;
}
