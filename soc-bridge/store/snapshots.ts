// Snapshots of a profile (protocol/STORE.md, "snapshot.json"): listing them, preparing one in a work
// folder (a writable snapshot with snapshot.json) and placing it read-only at
// @snapshots/<id>/<stamp>. The commands that take them are in profiles.ts, rebase.ts and apt.ts.
import { promises as fsp } from "node:fs";
import path from "node:path";
import { snapshotSubvolume, writeAtomic } from "./btrfs";
import { emptyFolder, ensureDir, type Json, readJson } from "./files";
import {
  checkStamp,
  compareStamps,
  freshStamp,
  isoNow,
  SNAPSHOT_JSON,
  type StorePaths,
  storePaths,
} from "./layout";
import type { Session, StoreContext } from "./session";

export type SnapshotReason = "manual" | "apt" | "reset" | "undo" | "delete" | "rebase";

export interface SnapshotInfo {
  id: string;
  stamp: string;
  reason: string;
  created: string;
  base: string;
  name: string;
  note?: string;
  auto: boolean;
}

/** The profile's snapshots with a readable snapshot.json, oldest first. */
export async function listSnapshots(ctx: StoreContext, id: string): Promise<SnapshotInfo[]> {
  const P = storePaths(ctx.store);
  const names = await fsp.readdir(P.snapshots(id)).catch(() => [] as string[]);
  const out: SnapshotInfo[] = [];
  for (const stamp of names) {
    try {
      checkStamp(stamp);
    } catch {
      continue;
    }
    const j = await readJson(path.join(P.snapshot(id, stamp), SNAPSHOT_JSON), "snapshot.json").catch(
      () => null,
    );
    if (!j) continue;
    out.push({
      id,
      stamp,
      reason: String(j.reason ?? ""),
      created: String(j.created ?? ""),
      base: String(j.base ?? ""),
      name: String(j.name ?? ""),
      ...(typeof j.note === "string" ? { note: j.note } : {}),
      auto: j.auto === true,
    });
  }
  return out.sort((a, b) => compareStamps(a.stamp, b.stamp));
}

/** A writable snapshot of @profiles/<id> prepared at `dst` with snapshot.json; placeSnapshot publishes it. */
export async function takeSnapshot(
  s: Session,
  id: string,
  json: Json,
  dst: string,
  reason: SnapshotReason,
  extra: { note?: string; auto?: boolean } = {},
): Promise<SnapshotInfo> {
  const taken = (await fsp.readdir(s.P.snapshots(id)).catch(() => [] as string[])).filter(
    (n) => !n.startsWith("."),
  );
  const stamp = freshStamp(s.now, taken);
  await snapshotSubvolume(s.P.profile(id), dst);
  const info: SnapshotInfo = {
    id,
    stamp,
    reason,
    created: isoNow(s.now),
    base: String(json.base),
    name: String(json.name),
    ...(extra.note !== undefined ? { note: extra.note } : {}),
    auto: extra.auto === true,
  };
  // The overlay's workdir holds nothing worth keeping and may hold a live overlay's internals.
  await emptyFolder(path.join(dst, "work"));
  await writeAtomic(path.join(dst, SNAPSHOT_JSON), JSON.stringify(info, null, 2) + "\n");
  return info;
}

/**
 * Puts the snapshot built at `from` into @snapshots/<id>/<stamp> as a read-only snapshot of it.
 * Not a rename: btrfs refuses to move a read-only subvolume to another folder (EROFS: its `..`
 * would change), and one moved writable and made read-only after would be seen writable. A
 * snapshot appears atomically, is read-only from birth and costs nothing (copy on write).
 */
export async function placeSnapshot(
  P: StorePaths,
  from: string,
  info: { id: string; stamp: string },
): Promise<void> {
  await ensureDir(P.snapshots(info.id));
  await snapshotSubvolume(from, P.snapshot(info.id, info.stamp), true);
}
