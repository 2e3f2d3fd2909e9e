// What the page and the scenarios see of the store and the bridge (plain JSON).
import { ProfileFlag } from "../protocol/profile";
import type { DaemonStatus } from "../soc-bridge/daemon";
import { readStore } from "../soc-bridge/profile-store";

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
