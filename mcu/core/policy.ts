// The boot policy: what boots when nobody intervenes. Pure functions over the MCU's boot state.
//  - A one-shot (SET_NEXT from Linux) wins once, then the default applies again.
//  - The default is a fixed profile or the last profile whose boot was marked good.
//  - Every FINAL choice counts a try; MARK_GOOD clears it. A profile whose tries reach maxTries
//    without success is marked failed, and the default falls back to the last good profile
//    (or the first profile that has not failed, or base-system recovery).
//  - A default that no longer exists (deleted) falls back the same way.
import { BlockAction, BlockFlag, BlockReason } from "../../protocol/register-block";
import { DefaultMode } from "../../protocol/messages";
import { ProfileFlag, type ProfileRecord } from "../../protocol/profile";
import type { BootConfig } from "./records";

/** Try bookkeeping for one profile: RAM count, the count last written to flash, the failed mark. */
export interface TryState {
  id: string;
  /** Tries since the last good boot (exact while the MCU runs). */
  tries: number;
  /** The value in flash (an upper bound the MCU keeps to avoid a write on every good boot). */
  stored: number;
  failed: boolean;
}

export interface BootState {
  profiles: ProfileRecord[];
  config: BootConfig;
  lastGoodId: string;
  tries: TryState[];
}

/** What boots: the fields of a BootSelection that policy decides. */
export interface Choice {
  id: string;
  action: number;
  reason: number;
  flags: number;
  /** True when there is no profile at all (the block says EMPTY until someone chooses). */
  empty: boolean;
}

export function findProfile(s: BootState, id: string): number {
  if (id === "") return -1;
  for (let i = 0; i < s.profiles.length; i++) if (s.profiles[i].id === id) return i;
  return -1;
}

export function findTries(s: BootState, id: string): TryState | null {
  for (const t of s.tries) if (t.id === id) return t;
  return null;
}

export function isFailed(s: BootState, id: string): boolean {
  const t = findTries(s, id);
  return t !== null && t.failed;
}

/** Marks every profile whose tries reached the limit as failed; true when something changed. */
export function expireTries(s: BootState): boolean {
  let changed = false;
  for (const t of s.tries) {
    if (!t.failed && t.tries >= s.config.maxTries) {
      t.failed = true;
      changed = true;
    }
  }
  return changed;
}

function profileFlags(s: BootState, id: string): number {
  const i = findProfile(s, id);
  return i >= 0 && (s.profiles[i].flags & ProfileFlag.HIDDEN) !== 0 ? BlockFlag.HIDDEN : 0;
}

function choice(s: BootState, id: string, action: number, reason: number, flags: number): Choice {
  return { id: id, action: action, reason: reason, flags: flags | profileFlags(s, id), empty: false };
}

/** The first profile that has not failed, visible ones first; "" when every profile failed. */
function firstUsable(s: BootState): string {
  for (const p of s.profiles) if ((p.flags & ProfileFlag.HIDDEN) === 0 && !isFailed(s, p.id)) return p.id;
  for (const p of s.profiles) if (!isFailed(s, p.id)) return p.id;
  return "";
}

function firstVisible(s: BootState): string {
  for (const p of s.profiles) if ((p.flags & ProfileFlag.HIDDEN) === 0) return p.id;
  return s.profiles[0].id;
}

/** The profile the default setting names ("" when it names nothing usable yet). */
function configuredDefault(s: BootState): string {
  return s.config.defaultMode === DefaultMode.FIXED ? s.config.defaultId : s.lastGoodId;
}

/** What boots if the owner does nothing (call expireTries first). */
export function decide(s: BootState): Choice {
  if (s.profiles.length === 0) {
    return { id: "", action: BlockAction.RECOVERY, reason: BlockReason.DEFAULT, flags: 0, empty: true };
  }
  const next = s.config.nextId;
  if (next !== "" && findProfile(s, next) >= 0) {
    return choice(s, next, s.config.nextAction, BlockReason.ONE_SHOT, BlockFlag.ONE_SHOT);
  }
  const fixed = s.config.defaultMode === DefaultMode.FIXED;
  let want = configuredDefault(s);
  const reason = fixed ? BlockReason.DEFAULT : BlockReason.LAST_USED;
  if (want === "") {
    // Never configured, or no good boot yet: the first visible profile is the natural default.
    want = firstVisible(s);
    if (!isFailed(s, want)) return choice(s, want, BlockAction.BOOT, BlockReason.DEFAULT, 0);
  } else if (findProfile(s, want) >= 0 && !isFailed(s, want)) {
    return choice(s, want, BlockAction.BOOT, reason, 0);
  }
  // The default is gone or failed: fall back.
  const good = s.lastGoodId;
  if (good !== "" && good !== want && findProfile(s, good) >= 0 && !isFailed(s, good)) {
    return choice(s, good, BlockAction.BOOT, BlockReason.FALLBACK, BlockFlag.FALLBACK);
  }
  const first = firstUsable(s);
  if (first !== "") return choice(s, first, BlockAction.BOOT, BlockReason.FALLBACK, BlockFlag.FALLBACK);
  return {
    id: "",
    action: BlockAction.RECOVERY,
    reason: BlockReason.FALLBACK,
    flags: BlockFlag.FALLBACK,
    empty: false,
  };
}
