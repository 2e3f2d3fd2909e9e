// The daemon's settings (with their defaults) and the status it reports.
import type { BootReport } from "../protocol/messages";
import type { Fallback } from "./boot-files";
import type { McuLink, Transport } from "./link";
import type { LinkState, SyncState } from "./link-state";
import { UART_BAUD } from "../protocol/frame";
import { openSerial } from "./serial";
import { DEFAULT_BOOTED } from "./store/layout";
import type { SyncInfo } from "./sync";

export interface DaemonOptions {
  /** Serial device of the MCU interconnect UART. */
  port: string;
  baud?: number;
  /** btrfs top level holding @profiles/<id>/profile.json. */
  store: string;
  /** FAT boot partition root; null = write no fragments. */
  bootDir?: string | null;
  /** fw_setenv command; null = never touch the U-Boot environment. */
  fwSetenv?: string | null;
  fwEnvConfig?: string | null;
  /** Folder for state.json (what was last written to the U-Boot env); null = memory only. */
  stateDir?: string | null;
  /** Control socket path; null = none. */
  socket?: string | null;
  socketGroup?: string | number | null;
  /**
   * Quiet window after an in-place write to a profile.json (ms, default 10): the writer's close is
   * not visible to fs.watch, so the store is read once its writes stopped this long. Renames (atomic
   * writers, new and removed folders) are read at once.
   */
  debounceMs?: number;
  /**
   * A profile.json found half-written (empty, cut short, not JSON yet, changed while read) or a new
   * entry that is not a profile yet is given this long (ms, default 1000) from its last change to
   * become whole before it is skipped; until then the MCU keeps that profile as it was.
   */
  settleMs?: number;
  timeoutMs?: number;
  tries?: number;
  backoffMaxMs?: number;
  verbose?: boolean;
  log?: (line: string) => void;
  /** Opens the transport (default: the serial port). Tests and the simulator may pass their own. */
  openTransport?: () => Promise<Transport>;
  /** What the initramfs booted (store commands refuse or stage changes to the running profile). */
  booted?: string;
  cmdline?: string;
}

export interface DaemonStatus {
  link: LinkState;
  linkError: string;
  /** Where the daemon is in its lifecycle (README.md, "Link states"). */
  state: SyncState;
  port: string;
  mcu: { version: number; instance: number; maxProfiles: number; maxPayload: number } | null;
  generation: number;
  inSync: boolean;
  profiles: number;
  skipped: string[];
  /** profile.json files (or new entries) caught mid-write: held as they were, looked at again soon. */
  pending: string[];
  error: string;
  lastSync: SyncInfo | null;
  lastBoot: BootReport | null;
  fallback: Fallback | null;
  stats: McuLink["stats"] | null;
}

export type ResolvedOptions = Required<Omit<DaemonOptions, "openTransport" | "log">> & {
  openTransport: () => Promise<Transport>;
};

export function resolveOptions(options: DaemonOptions): ResolvedOptions {
  const baud = options.baud ?? UART_BAUD;
  return {
    port: options.port,
    baud,
    store: options.store,
    bootDir: options.bootDir ?? null,
    fwSetenv: options.fwSetenv ?? null,
    fwEnvConfig: options.fwEnvConfig ?? null,
    stateDir: options.stateDir ?? null,
    socket: options.socket ?? null,
    socketGroup: options.socketGroup ?? null,
    debounceMs: options.debounceMs ?? 10,
    settleMs: options.settleMs ?? 1000,
    timeoutMs: options.timeoutMs ?? 250,
    tries: options.tries ?? 4,
    backoffMaxMs: options.backoffMaxMs ?? 5000,
    verbose: options.verbose ?? false,
    booted: options.booted ?? DEFAULT_BOOTED,
    cmdline: options.cmdline ?? "/proc/cmdline",
    openTransport: options.openTransport ?? (() => openSerial(options.port, baud)),
  };
}
