// What the page and the scenarios see of the store and the bridge (plain JSON).
import { ProfileFlag } from "../protocol/profile";
import type { DaemonStatus } from "../soc-bridge/daemon";
import { readStore } from "../soc-bridge/profile-store";
import type { Simulation } from "./engine";

/** The store's valid profiles as the page lists them, and the bridge's messages for the others. */
export async function storeView(storeDir: string) {
  const store = await readStore(storeDir);
  const profiles = store.profiles.map((p) => ({
    id: p.record.id,
    name: p.record.name,
    base: p.record.base,
    origin: p.record.origin,
    hidden: (p.record.flags & ProfileFlag.HIDDEN) !== 0,
    protected: (p.record.flags & ProfileFlag.PROTECTED) !== 0,
    lastUsed: p.record.lastUsed,
    created: p.record.created,
    kernelOptions: p.kernelOptions,
    overlays: p.overlays,
  }));
  return { profiles, skipped: store.skipped.map((s) => s.message) };
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

/** The simulation's whole state as plain JSON (Simulation.snapshot). */
export async function simulationView(sim: Simulation) {
  // With the real Linux booted, the store lives in the guest: the table shows it as last read.
  const mirror = sim.real?.storeMirror ?? null;
  const store = await storeView(mirror ?? sim.storeDir);
  return {
    power: sim.power,
    ubootAt: sim.ubootAt,
    mcuKind: sim.mcuKind,
    mcuAbsent: sim.mcuAbsent,
    failNext: sim.failNext,
    screen: sim.mcu ? sim.mcu.screenName() : null,
    profiles: store.profiles,
    skipped: store.skipped,
    mcu: await sim.mcuState(),
    bridge: sim.bridge ? bridgeView(sim.bridge.status()) : null,
    lastBoot: sim.lastBoot(),
    dir: sim.dir,
    store: mirror
      ? {
          kind: "guest",
          why: "the real Linux's btrfs store, read after its boot and after each FlipCTL command",
        }
      : { kind: sim.flipctl.store.kind, why: sim.flipctl.store.why },
    linux: sim.linux.name,
    realLinux: sim.real ? sim.real.view() : null,
  };
}
