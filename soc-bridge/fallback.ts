// The saved fallback U-Boot boots when the MCU does not answer: flipper_profile and flipper_base,
// set to the MCU's fixed default if it exists, else the last good profile, else the first profile;
// written with fw_setenv only when it changed (remembered in the state file).
import { DefaultMode, type McuState } from "../protocol/messages";
import type { ProfileRecord } from "../protocol/profile";
import { type Fallback, setFallback } from "./boot-files";
import { loadStateFile, saveStateFile } from "./state-file";

/** The fallback for the MCU's state and list, or null for an empty list. */
function chooseFallback(st: McuState, list: ProfileRecord[]): Fallback | null {
  const find = (id: string) => list.find((r) => r.id === id);
  const p =
    (st.defaultMode === DefaultMode.FIXED ? find(st.defaultId) : undefined) ??
    find(st.lastGoodId) ??
    (st.lastBoot.good ? find(st.lastBoot.id) : undefined) ??
    list[0];
  return p ? { profile: p.id, base: p.base } : null;
}

export interface FallbackOptions {
  /** fw_setenv command; null = never touch the U-Boot environment. */
  fwSetenv: string | null;
  fwEnvConfig: string | null;
  stateDir: string | null;
}

/** The fallback as last written (from the state file at start). */
export class SavedFallback {
  current: Fallback | null = null;

  constructor(
    private readonly o: FallbackOptions,
    private readonly say: (line: string) => void,
  ) {}

  async load(): Promise<void> {
    this.current = (await loadStateFile(this.o.stateDir)).fallback;
  }

  /** Writes the fallback for `st` and `list` when it changed; false when writing it failed. */
  async update(st: McuState, list: ProfileRecord[]): Promise<boolean> {
    if (!this.o.fwSetenv) return true;
    const fb = chooseFallback(st, list);
    if (!fb) return true;
    if (this.current && this.current.profile === fb.profile && this.current.base === fb.base) return true;
    try {
      await setFallback({ command: this.o.fwSetenv, config: this.o.fwEnvConfig }, fb);
      this.current = fb;
      await saveStateFile(this.o.stateDir, { fallback: fb });
      this.say("U-Boot fallback set to " + fb.profile + " (base " + fb.base + ")");
      return true;
    } catch (e) {
      this.say((e as Error).message);
      return false;
    }
  }
}
