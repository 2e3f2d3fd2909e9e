// The two seams of the core: what it needs from its adapter (CoreHost), and what the boot machine
// tells the menu (MachineEvents).
import type { Bytes } from "../../protocol/bytes";
import type { BootSelection } from "../../protocol/register-block";

/** How the core reaches the outside world (the adapter implements it). */
export interface CoreHost {
  /** Bytes for the UART (whole frames). */
  send(bytes: Bytes): void;
  /** A choice became FINAL (U-Boot may boot it now). */
  final(sel: BootSelection): void;
}

/** What the machine tells the menu. */
export interface MachineEvents {
  /** Profiles, config or tries changed (loaded, synced, set): rebuild the entries, republish. */
  changed(): void;
  /** A choice became FINAL and is published; called before EVENT_BOOT goes out and host.final. */
  booting(): void;
}
