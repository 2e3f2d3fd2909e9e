// Bases (protocol/STORE.md, "Bases: received, checked, collected"): which profiles, snapshots and
// staged undos use each base (`base list`), and removing the unused ones (`base gc`, `base remove`),
// never the newest (recovery boots it). Receiving is base-receive.ts; moving a profile to another
// base is profile-check.ts and rebase.ts.
import { promises as fsp } from "node:fs";
import path from "node:path";
import { describeText } from "../../protocol/bytes";
import { readStore } from "../profile-store";
import { assertTopLevel, deleteSubvolume, isReadonly, isSubvolume } from "./btrfs";
import { StoreError } from "./errors";
import { readDirSorted } from "./files";
import { checkVersion, compareVersions, PROFILE_JSON, SNAPSHOT_JSON, storePaths } from "./layout";
import { type StoreContext, withSession } from "./session";
import { parseStaged } from "./staged";

export interface BaseUse {
  version: string;
  newest: boolean;
  readonly: boolean;
  /** Profiles pinned to it (profile.json `base`). */
  profiles: string[];
  /** Snapshots taken on it, as `<id>/<stamp>` (snapshot.json `base`). */
  snapshots: string[];
  /** Staged changes that will put a profile on it at its next boot (an undo to a snapshot on it). */
  staged: string[];
}

export interface BaseList {
  bases: BaseUse[];
  /** Entries of @base that are not valid bases, one line each (skipped, never removed). */
  skipped: string[];
  /** Bases named by profiles, snapshots or staged changes that do not exist. */
  missing: Array<{ version: string; usedBy: string[] }>;
}

/** `base` of a snapshot: snapshot.json, else the profile.json inside it; null when neither says. */
async function snapshotBase(dir: string): Promise<string | null> {
  for (const f of [SNAPSHOT_JSON, PROFILE_JSON]) {
    try {
      const j = JSON.parse(await fsp.readFile(path.join(dir, f), "utf8")) as { base?: unknown };
      if (typeof j.base === "string") return j.base;
    } catch {}
  }
  return null;
}

interface Users {
  profiles: Map<string, string[]>;
  snapshots: Map<string, string[]>;
  staged: Map<string, string[]>;
}

async function baseUsers(store: string): Promise<Users> {
  const p = storePaths(store);
  const add = (m: Map<string, string[]>, k: string, v: string) => {
    const l = m.get(k) ?? [];
    l.push(v);
    m.set(k, l);
  };
  const u: Users = { profiles: new Map(), snapshots: new Map(), staged: new Map() };
  const snap = await readStore(store);
  for (const prof of snap.profiles) add(u.profiles, prof.record.base, prof.record.id);
  // A profile that does not validate still pins its base when its profile.json names one: gc must
  // not take a base from under a profile that is merely broken.
  for (const s of snap.skipped) {
    try {
      const j = JSON.parse(await fsp.readFile(s.file, "utf8")) as { base?: unknown; id?: unknown };
      if (typeof j.base === "string") add(u.profiles, j.base, path.basename(path.dirname(s.file)));
    } catch {}
  }
  const snapRoot = p.snapshotsRoot;
  for (const id of await readDirSorted(snapRoot)) {
    for (const stamp of await readDirSorted(path.join(snapRoot, id))) {
      const b = await snapshotBase(path.join(snapRoot, id, stamp));
      if (b !== null) add(u.snapshots, b, id + "/" + stamp);
    }
  }
  for (const id of await readDirSorted(p.stagedDir)) {
    const text = await fsp.readFile(path.join(p.stagedDir, id), "utf8").catch(() => null);
    const st = text === null ? null : parseStaged(text);
    if (st && st.action === "undo" && st.stamp) {
      const b = await snapshotBase(p.snapshot(id, st.stamp));
      if (b !== null) add(u.staged, b, id);
    }
  }
  return u;
}

async function validBases(store: string): Promise<{ versions: string[]; skipped: string[] }> {
  const dir = storePaths(store).bases;
  const versions: string[] = [];
  const skipped: string[] = [];
  for (const name of await readDirSorted(dir)) {
    const full = path.join(dir, name);
    try {
      checkVersion(name, "base");
    } catch (e) {
      skipped.push("@base/" + describeText(name) + " skipped: " + (e as Error).message);
      continue;
    }
    if (!(await isSubvolume(full))) {
      skipped.push("@base/" + name + " skipped: not a subvolume");
      continue;
    }
    versions.push(name);
  }
  versions.sort(compareVersions);
  return { versions, skipped };
}

export async function listBases(ctx: StoreContext): Promise<BaseList> {
  const store = ctx.store;
  await assertTopLevel(store);
  const { versions, skipped } = await validBases(store);
  const users = await baseUsers(store);
  const newest = versions.length ? versions[versions.length - 1] : null;
  const bases: BaseUse[] = [];
  for (const v of versions) {
    bases.push({
      version: v,
      newest: v === newest,
      readonly: await isReadonly(storePaths(store).base(v)),
      profiles: users.profiles.get(v) ?? [],
      snapshots: users.snapshots.get(v) ?? [],
      staged: users.staged.get(v) ?? [],
    });
  }
  const missing: BaseList["missing"] = [];
  const named = new Set([...users.profiles.keys(), ...users.snapshots.keys(), ...users.staged.keys()]);
  for (const v of [...named].sort(compareVersions)) {
    if (versions.includes(v)) continue;
    missing.push({
      version: v,
      usedBy: [
        ...(users.profiles.get(v) ?? []).map((x) => "profile " + x),
        ...(users.snapshots.get(v) ?? []).map((x) => "snapshot " + x),
        ...(users.staged.get(v) ?? []).map((x) => "staged " + x),
      ],
    });
  }
  return { bases, skipped, missing };
}

// ---- gc -----------------------------------------------------------------------------------------

export interface GcResult {
  dryRun: boolean;
  removed: string[];
  kept: Array<{ version: string; why: string }>;
}

function usersText(u: BaseUse): string {
  const parts: string[] = [];
  if (u.profiles.length) parts.push("profile " + u.profiles.join(", "));
  if (u.snapshots.length) parts.push("snapshot " + u.snapshots.join(", "));
  if (u.staged.length) parts.push("staged change of " + u.staged.join(", "));
  return parts.join("; ");
}

/** `base gc [--dry-run]`: removes every base no profile, snapshot or staged change uses, never the newest. */
export async function gcBases(ctx: StoreContext, opts: { dryRun?: boolean } = {}): Promise<GcResult> {
  const store = ctx.store;
  return withSession(ctx, async () => {
    const { bases } = await listBases(ctx);
    const removed: string[] = [];
    const kept: GcResult["kept"] = [];
    for (const b of bases) {
      if (b.newest) kept.push({ version: b.version, why: "the newest base (recovery boots it)" });
      else if (b.profiles.length || b.snapshots.length || b.staged.length) {
        kept.push({ version: b.version, why: "in use by " + usersText(b) });
      } else {
        if (!opts.dryRun) await deleteSubvolume(storePaths(store).base(b.version));
        removed.push(b.version);
      }
    }
    return { dryRun: !!opts.dryRun, removed, kept };
  });
}

/** Removes one base (refused with `in-use` while anything uses it, and for the newest). */
export async function removeBase(ctx: StoreContext, version: string) {
  checkVersion(version, "base");
  return withSession(ctx, async () => {
    const { bases } = await listBases(ctx);
    const b = bases.find((x) => x.version === version);
    if (!b) throw new StoreError("no-base", "base " + version + " does not exist in @base");
    if (b.newest)
      throw new StoreError(
        "in-use",
        "base " + version + " is the newest base (recovery boots it): it is never removed",
      );
    if (b.profiles.length || b.snapshots.length || b.staged.length) {
      throw new StoreError(
        "in-use",
        "base " + version + " is in use by " + usersText(b) + ": move or delete those first",
      );
    }
    await deleteSubvolume(storePaths(ctx.store).base(version));
    return { removed: version };
  });
}
