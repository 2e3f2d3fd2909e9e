// Bringing the MCU's list in line with the store: the boot fragments first (a profile on the menu
// always has its fragment), the MCU's limit, then deltas when they keep the menu order, else a
// whole-list sync (verified by the list CRC, else transferred). The daemon keeps a ListSync across
// changes; the CLI's direct mode runs one whole sync through the same steps.
import path from "node:path";
import { decimal } from "../protocol/bytes";
import { MAX_PROFILES, type ProfileRecord } from "../protocol/profile";
import { writeFragments } from "./boot-files";
import { BridgeError } from "./errors";
import type { McuLink } from "./link";
import { applyDeltas, isStale, planDeltas, syncWholeList } from "./ops";
import {
  compareProfiles,
  readStoreSettled,
  records,
  type StoredProfile,
  type StoreSnapshot,
} from "./profile-store";

export interface SyncInfo {
  kind: "full" | "delta" | "verified";
  generation: number;
  count: number;
  ms: number;
  /** Wire bytes sent + received during the sync. */
  bytes: number;
}

/**
 * Writes `<bootDir>/flipper/*.env` for `profiles` and logs what happened: errors always, warnings
 * not in `seen` (returns the warnings now, for the next call), a line when anything was written.
 */
export async function writeBootFragments(
  bootDir: string,
  profiles: StoredProfile[],
  say: (line: string) => void,
  seen: ReadonlySet<string> = new Set(),
): Promise<Set<string>> {
  const r = await writeFragments(bootDir, profiles);
  for (const e of r.errors) say(e);
  const now = new Set(r.warnings);
  for (const w of now) if (!seen.has(w)) say(w);
  if (r.written.length || r.removed.length) {
    say("boot fragments: " + r.written.length + " written, " + r.removed.length + " removed");
  }
  return now;
}

/** The store's records, or a `limit` error when the MCU cannot hold them all (it keeps its list). */
export function recordsWithinLimit(
  profiles: StoredProfile[],
  mcuMaxProfiles: number | undefined,
  generation: number | null,
): ProfileRecord[] {
  const limit = Math.min(MAX_PROFILES, mcuMaxProfiles ?? MAX_PROFILES);
  const want = records(profiles);
  if (want.length > limit) {
    throw new BridgeError(
      "limit",
      "too many profiles: " +
        want.length +
        " valid profiles on disk, the MCU holds at most " +
        limit +
        (generation === null
          ? ""
          : "; the MCU keeps its list (generation " + generation + ") until some are removed"),
    );
  }
  return want;
}

/**
 * A store read with its files caught mid-write (settling) replaced by the profiles as they were last
 * read whole (`held`): a half-written file never reaches the MCU as a skip followed by a delete.
 */
export function holdSettling(snap: StoreSnapshot, held: StoredProfile[]): StoredProfile[] {
  const byFolder = new Map<string, StoredProfile>();
  for (const p of held) byFolder.set(folderOf(p), p);
  const profiles = snap.profiles.slice();
  for (const s of snap.settling) {
    const old = byFolder.get(s.folder);
    if (old) profiles.push(old);
  }
  if (profiles.length !== snap.profiles.length) profiles.sort(compareProfiles);
  return profiles;
}

/** The folder name under @profiles a stored profile was read from. */
export function folderOf(p: StoredProfile): string {
  return path.basename(path.dirname(p.file));
}

/** The log line for a finished sync. */
export function syncLine(info: SyncInfo): string {
  const what =
    info.kind === "verified"
      ? "MCU already holds the " + info.count + " profiles"
      : info.kind === "full"
        ? "synced " + info.count + " profiles"
        : "sent changes, " + info.count + " profiles";
  return what + " (generation " + decimal(info.generation) + ") in " + info.ms + " ms";
}

/** Runs `work` on `link` and measures it as a SyncInfo of `count` records. */
async function measured(
  link: McuLink,
  count: number,
  work: () => Promise<{ kind: SyncInfo["kind"]; generation: number }>,
): Promise<SyncInfo> {
  const t0 = performance.now();
  const b0 = link.stats.bytesIn + link.stats.bytesOut;
  const { kind, generation } = await work();
  return {
    kind,
    generation,
    count,
    ms: Math.round(performance.now() - t0),
    bytes: link.stats.bytesIn + link.stats.bytesOut - b0,
  };
}

/** What the bridge knows of the MCU's list between syncs (the daemon keeps one). */
export class ListSync {
  /** The list the MCU holds, as last sent or verified; null = not known (a full sync is due). */
  mcuList: ProfileRecord[] | null = null;
  generation = 0;
  /** A full sync is due (start, MCU restart, generation mismatch). */
  needFull = true;

  constructor(private readonly say: (line: string) => void) {}

  /**
   * Brings the MCU's list to `want`: deltas when they keep the order (a STALE answer falls back to a
   * full sync), else a whole sync; `forced` always syncs whole. Null when nothing had to change.
   */
  async sync(link: McuLink, want: ProfileRecord[], forced: boolean): Promise<SyncInfo | null> {
    try {
      for (let round = 0; round < 3; round++) {
        if (this.needFull || this.mcuList === null || forced) {
          const info = await measured(link, want.length, () => syncWholeList(link, want));
          this.generation = info.generation;
          this.mcuList = want;
          this.needFull = false;
          return info;
        }
        const ops = planDeltas(this.mcuList, want);
        if (ops === null) {
          this.needFull = true;
          continue;
        }
        if (ops.length === 0) return null;
        try {
          return await measured(link, want.length, async () => {
            this.generation = await applyDeltas(link, ops, this.generation);
            this.mcuList = want;
            return { kind: "delta", generation: this.generation };
          });
        } catch (e) {
          if (!isStale(e)) throw e;
          this.say("MCU list is not at generation " + this.generation + "; full sync");
          this.needFull = true;
        }
      }
    } catch (e) {
      if (isStale(e)) this.needFull = true;
      throw e;
    }
    throw new BridgeError("failed", "could not bring the MCU's list in line after 3 rounds");
  }
}

/**
 * One whole sync for the CLI's direct mode (no daemon): the store read once its files caught
 * mid-write have settled, the fragments, the limit, then the list verified or transferred.
 */
export async function syncStoreOnce(
  link: McuLink,
  o: { store: string; bootDir: string | null; say: (line: string) => void },
): Promise<SyncInfo & { skipped: string[] }> {
  const snap = await readStoreSettled(o.store);
  if (snap.error) throw new BridgeError("store", snap.error);
  for (const s of snap.skipped) o.say(s.message);
  if (o.bootDir) await writeBootFragments(o.bootDir, snap.profiles, o.say);
  const want = recordsWithinLimit(snap.profiles, link.peer?.maxProfiles, null);
  const info = await measured(link, want.length, () => syncWholeList(link, want));
  return { ...info, skipped: snap.skipped.map((s) => s.message) };
}
