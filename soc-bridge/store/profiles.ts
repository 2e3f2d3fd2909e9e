// The profile commands on the btrfs store (protocol/STORE.md): create, clone, rename, delete, reset,
// snapshot, snapshots, undo, unstage, and the leftovers check the daemon runs at start. Each runs in
// a session (session.ts) and builds its change in a work folder whose one rename or exchange is the
// commit point; the running profile's reset and undo are staged for the initramfs (staged.ts).
import { promises as fsp } from "node:fs";
import path from "node:path";
import { describeText } from "../../protocol/bytes";
import {
  assertTopLevel,
  createSubvolume,
  exchange,
  fsError,
  renameInto,
  snapshotSubvolume,
  writeAtomic,
} from "./btrfs";
import { StoreError } from "./errors";
import { emptyFolder, ensureDir, exists, type Json } from "./files";
import {
  checkId,
  checkName,
  checkNote,
  checkStamp,
  checkVersion,
  isoNow,
  PROFILE_JSON,
  SNAPSHOT_JSON,
  storePaths,
} from "./layout";
import { assertBase, assertNoProfile, loadProfile, profileRootId, runningProfile } from "./lookup";
import { afterCommit, crashPoint, inWork, type StoreContext, withSession } from "./session";
import { listSnapshots, placeSnapshot, type SnapshotInfo, takeSnapshot } from "./snapshots";
import { listStaged, type StagedChange, writeStaged } from "./staged";

// What the command table, the CLI, the daemon and the simulator take from here beside the commands.
export type { SnapshotInfo } from "./snapshots";
export type { StoreContext } from "./session";
export { listStaged, type StagedChange } from "./staged";

/** A new profile subvolume at `dst`: empty upper/ and work/, and `json` as profile.json. */
async function buildEmpty(dst: string, json: Json): Promise<void> {
  await createSubvolume(dst);
  try {
    await fsp.mkdir(path.join(dst, "upper"), 0o755);
    await fsp.mkdir(path.join(dst, "work"), 0o755);
  } catch (e) {
    throw fsError(e, "creating upper/ and work/ in " + dst);
  }
  await writeAtomic(path.join(dst, PROFILE_JSON), JSON.stringify(json, null, 2) + "\n");
}

export async function createProfile(ctx: StoreContext, id: string, name: string, base: string) {
  checkId(id);
  checkName(name);
  checkVersion(base);
  return withSession(ctx, async (s) => {
    await assertNoProfile(s.P, id);
    await assertBase(s.P, base);
    const json: Json = { id, name, base, created: isoNow(s.now), lastUsed: null, origin: null };
    await inWork(s, "create", id, null, async (w) => {
      await buildEmpty(w.new, json);
      crashPoint("create:built");
      await ensureDir(s.P.profiles);
      await renameInto(w.new, s.P.profile(id));
    });
    return { id, name, base, created: json.created as string };
  });
}

export async function cloneProfile(ctx: StoreContext, src: string, id: string, name?: string) {
  checkId(src, "source id");
  checkId(id);
  if (name !== undefined) checkName(name);
  return withSession(ctx, async (s) => {
    const srcJson = await loadProfile(s.P, src);
    await assertNoProfile(s.P, id);
    const json: Json = {
      ...srcJson,
      id,
      name: name ?? srcJson.name,
      created: isoNow(s.now),
      lastUsed: null,
      origin: src,
    };
    await inWork(s, "clone", id, null, async (w) => {
      await snapshotSubvolume(s.P.profile(src), w.new);
      crashPoint("clone:snapshotted");
      await resetIdentity(w.new);
      await emptyFolder(path.join(w.new, "work"));
      await writeAtomic(path.join(w.new, PROFILE_JSON), JSON.stringify(json, null, 2) + "\n");
      crashPoint("clone:built");
      await ensureDir(s.P.profiles);
      await renameInto(w.new, s.P.profile(id));
    });
    return {
      id,
      name: json.name as string,
      base: json.base as string,
      origin: src,
      created: json.created as string,
    };
  });
}

/**
 * A clone must not share its origin's machine id: write `uninitialized` the way systemd's first
 * boot expects (it then writes a new id), and drop D-Bus's copy when it is a file of its own.
 */
async function resetIdentity(dir: string): Promise<void> {
  const mid = path.join(dir, "upper", "etc", "machine-id");
  const st = await fsp.lstat(mid).catch(() => null);
  if (st?.isFile() || st?.isSymbolicLink()) {
    await fsp.rm(mid, { force: true });
    await writeAtomic(mid, "uninitialized\n");
  }
  const dbus = path.join(dir, "upper", "var", "lib", "dbus", "machine-id");
  const dst = await fsp.lstat(dbus).catch(() => null);
  if (dst?.isFile()) await fsp.rm(dbus, { force: true });
}

export async function renameProfile(ctx: StoreContext, id: string, name: string) {
  checkId(id);
  checkName(name);
  return withSession(ctx, async (s) => {
    const json = await loadProfile(s.P, id);
    const old = String(json.name);
    // profile.json is replaced whole by a rename inside the profile: no work folder needed.
    await writeAtomic(
      path.join(s.P.profile(id), PROFILE_JSON),
      JSON.stringify({ ...json, name }, null, 2) + "\n",
    );
    return { id, name, previous: old };
  });
}

export async function deleteProfile(ctx: StoreContext, id: string, purge: boolean) {
  checkId(id);
  return withSession(ctx, async (s) => {
    const json = await loadProfile(s.P, id);
    const running = await runningProfile(ctx);
    if (running === id) {
      throw new StoreError(
        "running",
        "profile " +
          describeText(id) +
          " is the running profile: it cannot be deleted under its live overlay (boot another profile first)",
      );
    }
    const before = await profileRootId(s.P, id);
    const snap = await inWork(s, "delete", id, before, async (w) => {
      let info: SnapshotInfo | null = null;
      if (!purge) {
        info = await takeSnapshot(s, id, json, w.snap, "delete");
        crashPoint("delete:snapshotted");
      }
      await renameInto(s.P.profile(id), w.old);
      try {
        crashPoint("delete:moved-out");
        if (info) await placeSnapshot(s.P, w.snap, info);
        crashPoint("delete:snapshot-placed");
      } catch (e) {
        afterCommit(e);
      }
      return info;
    });
    const unstaged = await fsp
      .rm(s.P.staged(id))
      .then(() => true)
      .catch(() => false);
    return { id, purged: purge, snapshot: snap ? snap.stamp : null, unstaged };
  });
}

export async function resetProfile(ctx: StoreContext, id: string) {
  checkId(id);
  return withSession(ctx, async (s) => {
    const json = await loadProfile(s.P, id);
    if ((await runningProfile(ctx)) === id) {
      const staged = await writeStaged(s, id, "reset");
      return { id, staged, snapshot: null as string | null };
    }
    const before = await profileRootId(s.P, id);
    const info = await inWork(s, "reset", id, before, async (w) => {
      const info = await takeSnapshot(s, id, json, w.snap, "reset");
      crashPoint("reset:snapshotted");
      await buildEmpty(w.new, json);
      crashPoint("reset:built");
      await exchange(w.new, s.P.profile(id));
      try {
        crashPoint("reset:exchanged");
        await placeSnapshot(s.P, w.snap, info);
        crashPoint("reset:snapshot-placed");
      } catch (e) {
        afterCommit(e);
      }
      return info;
    });
    return { id, staged: null as StagedChange | null, snapshot: info.stamp };
  });
}

export async function snapshotProfile(
  ctx: StoreContext,
  id: string,
  opts: { auto?: boolean; note?: string } = {},
) {
  checkId(id);
  if (opts.note !== undefined) checkNote(opts.note);
  return withSession(ctx, async (s) => {
    const json = await loadProfile(s.P, id);
    const info = await inWork(s, "snapshot", id, null, async (w) => {
      const info = await takeSnapshot(s, id, json, w.snap, opts.auto ? "apt" : "manual", opts);
      crashPoint("snapshot:built");
      await placeSnapshot(s.P, w.snap, info);
      return info;
    });
    return { snapshot: info };
  });
}

export async function profileSnapshots(ctx: StoreContext, id: string) {
  checkId(id);
  await assertTopLevel(ctx.store);
  const P = storePaths(ctx.store);
  const list = await listSnapshots(ctx, id);
  if (list.length === 0 && !(await exists(P.profile(id)))) {
    throw new StoreError("no-profile", "no profile " + describeText(id) + " and no snapshots of one");
  }
  return { id, snapshots: list };
}

export async function undoProfile(ctx: StoreContext, id: string, to?: string) {
  checkId(id);
  if (to !== undefined) checkStamp(to, "--to");
  return withSession(ctx, async (s) => {
    const json = await loadProfile(s.P, id);
    const list = await listSnapshots(ctx, id);
    const target = to === undefined ? list[list.length - 1] : list.find((x) => x.stamp === to);
    if (!target) {
      throw new StoreError(
        "no-snapshot",
        to === undefined
          ? "profile " + describeText(id) + " has no snapshots to undo to"
          : "no snapshot " +
              describeText(to) +
              " of profile " +
              describeText(id) +
              ": --to must name one of its snapshots (" +
              (list.map((x) => x.stamp).join(", ") || "none") +
              ")",
      );
    }
    await assertBase(s.P, target.base);
    if ((await runningProfile(ctx)) === id) {
      const staged = await writeStaged(s, id, "undo", target.stamp);
      return { id, to: target.stamp, base: target.base, staged, snapshot: null as string | null };
    }
    const before = await profileRootId(s.P, id);
    const info = await inWork(s, "undo", id, before, async (w) => {
      const info = await takeSnapshot(s, id, json, w.snap, "undo");
      crashPoint("undo:snapshotted");
      await snapshotSubvolume(s.P.snapshot(id, target.stamp), w.new);
      await fsp.rm(path.join(w.new, SNAPSHOT_JSON), { force: true });
      await emptyFolder(path.join(w.new, "work"));
      // The metadata stays the profile's own (its name may have changed since); the base is the
      // one the restored upper was made on.
      await writeAtomic(
        path.join(w.new, PROFILE_JSON),
        JSON.stringify({ ...json, base: target.base }, null, 2) + "\n",
      );
      crashPoint("undo:built");
      await exchange(w.new, s.P.profile(id));
      try {
        crashPoint("undo:exchanged");
        await placeSnapshot(s.P, w.snap, info);
      } catch (e) {
        afterCommit(e);
      }
      return info;
    });
    return {
      id,
      to: target.stamp,
      base: target.base,
      staged: null as StagedChange | null,
      snapshot: info.stamp,
    };
  });
}

export async function unstageProfile(ctx: StoreContext, id: string) {
  checkId(id);
  return withSession(ctx, async (s) => {
    const staged = (await listStaged(ctx.store)).find((x) => x.id === id && !x.invalid) ?? null;
    if (staged) {
      try {
        await fsp.rm(s.P.staged(id));
      } catch (e) {
        throw fsError(e, "removing " + s.P.staged(id));
      }
    }
    return { id, removed: staged };
  });
}

/** `.flipper-tmp/` leftovers dealt with under the lock (the daemon's start calls this). */
export async function cleanLeftovers(ctx: StoreContext) {
  return withSession(ctx, async () => ({}));
}
