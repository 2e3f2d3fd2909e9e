// The apt hook's store side (`flipper-boot profile apt-snapshot`, run by soc-bridge/apt/apt-snapshot
// from apt's DPkg::Pre-Invoke): a snapshot of the running profile (reason apt, auto) before dpkg
// changes anything, then only the newest N automatic snapshots are kept (manual, reset, undo,
// delete and rebase snapshots are never pruned).
import { deleteSubvolume } from "./btrfs";
import { StoreError } from "./errors";
import { NOTE_MAX } from "./layout";
import { runningProfile } from "./lookup";
import { snapshotProfile } from "./profiles";
import { type StoreContext, withSession } from "./session";
import { listSnapshots } from "./snapshots";

export const APT_KEEP_DEFAULT = 5;
export const APT_KEEP_MAX = 100;
export const KEEP_RULE = "must be a whole number from 1 to " + APT_KEEP_MAX;

export interface AptSnapshotResult {
  /** The running profile, or null when none runs (then nothing was done). */
  id: string | null;
  snapshot: string | null;
  /** Automatic snapshots removed because more than `keep` were left. */
  pruned: string[];
  keep: number;
  /** Why nothing was done, when nothing was. */
  skipped?: string;
  cleaned: string[];
}

export function parseKeep(value: unknown): number {
  const n =
    typeof value === "number"
      ? value
      : typeof value === "string" && /^\d{1,3}$/.test(value)
        ? Number(value)
        : NaN;
  if (!Number.isInteger(n) || n < 1 || n > APT_KEEP_MAX) {
    throw new StoreError(
      "invalid",
      "--keep " +
        (typeof value === "string" ? JSON.stringify(value) : String(value)) +
        " is invalid: " +
        KEEP_RULE,
    );
  }
  return n;
}

/** apt's command line as a snapshot note: control characters become spaces, at most NOTE_MAX chars. */
function aptNote(text: string): string {
  return text
    .replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ")
    .trim()
    .slice(0, NOTE_MAX);
}

export async function aptSnapshot(
  ctx: StoreContext,
  opts: { keep?: number; note?: string } = {},
): Promise<AptSnapshotResult> {
  const keep = opts.keep === undefined ? APT_KEEP_DEFAULT : parseKeep(opts.keep);
  const id = await runningProfile(ctx);
  if (id === null) {
    return {
      id: null,
      snapshot: null,
      pruned: [],
      keep,
      skipped: "no profile is running (a recovery boot, or not booted by flipper-boot): nothing to snapshot",
      cleaned: [],
    };
  }
  const note = opts.note === undefined ? undefined : aptNote(opts.note);
  const snap = await snapshotProfile(ctx, id, { auto: true, ...(note ? { note } : {}) });
  const pruned = await withSession(ctx, async (s) => {
    const autos = (await listSnapshots(ctx, id)).filter((x) => x.auto);
    const out: string[] = [];
    for (const old of autos.slice(0, Math.max(0, autos.length - keep))) {
      await deleteSubvolume(s.P.snapshot(id, old.stamp));
      out.push(old.stamp);
    }
    return { out };
  });
  return {
    id,
    snapshot: snap.snapshot.stamp,
    pruned: pruned.out,
    keep,
    cleaned: [...snap.cleaned, ...pruned.cleaned],
  };
}
