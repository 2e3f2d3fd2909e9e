// The simulation's options and the records it keeps and sends to the page.
import type { BootSelection } from "../protocol/register-block";
import type { ProfileJson } from "./example";
import type { LinuxHost, LinuxResult, LinuxStage } from "./linux-stage";
import type { SimUboot } from "./uboot";

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
  /** Makes the Linux stage (what runs after U-Boot); default the stand-in, StandinLinux. */
  linuxStage?: (host: LinuxHost) => LinuxStage;
  /**
   * "real": the test image's Debian under QEMU is the Linux stage (sim/linux/live.ts; overrides
   * linuxStage), the store starts as that image's profiles, FlipCTL runs flipper-boot in the guest.
   */
  linux?: "standin" | "real";
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
  /** The Linux stage: up and marked good (the stand-in: lastUsed bump + mark-good through the bridge). */
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
  /** What the Linux stage did: good (marked good), failed, none (no profile to run) or error. */
  linux: LinuxResult;
  linuxMessage: string;
  stages: BootStages;
  uboot: { coldStartMs: number; diskMs: number; ms: number; polls: number };
}

export type PowerState = "off" | "menu" | "booting" | "running" | "failed";
