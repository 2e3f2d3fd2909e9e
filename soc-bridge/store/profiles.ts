// The profile lifecycle on the btrfs store (protocol/STORE.md): create, clone, rename, delete,
// reset, snapshot, snapshots, undo, staging for the running profile, unstage.
//
// Atomicity: every change is built in a work folder `.flipper-tmp/<op>-<id>-<random>/` that holds
// `intent.json` (what is being done, and the subvolume id the profile had before) and the
// subvolumes being made (`new`, `snap`, `old`). One rename(2) or one renameat2(RENAME_EXCHANGE)
// is the commit point that readers (the daemon, hence the MCU) can see. After a kill -9 the next
// command looks at each work folder: before its commit point everything in it is removed (the old
// state stays); after it, the rest is finished (the snapshot moved into @snapshots, the old
// subvolume deleted). Either way it says what it did.
import { promises as fsp } from "node:fs";
import path from "node:path";
import { describeText } from "../../protocol/bytes";
import { parseProfileJson } from "../profile-store";
import {
  assertTopLevel,
  createSubvolume,
  exchange,
  fsError,
  isSubvolume,
  removeAny,
  renameInto,
  rootId,
  snapshotSubvolume,
  writeAtomic,
} from "./btrfs";
import { StoreError } from "./errors";
import {
  acquireLock,
  checkId,
  checkName,
  checkNote,
  checkStamp,
  checkVersion,
  compareStamps,
  DEFAULT_BOOTED,
  freshStamp,
  isoNow,
  PROFILE_JSON,
  SNAPSHOT_JSON,
  type StorePaths,
  storePaths,
  TMP_DIR,
  tmpName,
} from "./layout";

export interface StoreContext {
  /** The btrfs top level. */
  store: string;
  /** /run/flipper/booted (what the initramfs mounted); missing file = fall back to `cmdline`. */
  booted?: string;
  /** Kernel command line with flipper.profile= (default /proc/cmdline). */
  cmdline?: string;
  /** The clock (tests). */
  now?: () => Date;
}

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

export interface StagedChange {
  id: string;
  action: string;
  stamp?: string;
  requested?: string;
  /** Set for a file the initramfs could not parse (`<id>.invalid`). */
  invalid?: boolean;
}

/** Step names at which `FLIPPER_BOOT_CRASH_AT` makes the process kill itself (crash tests only). */
export const CRASH_POINTS = [
  "create:built",
  "clone:snapshotted",
  "clone:built",
  "delete:snapshotted",
  "delete:moved-out",
  "delete:snapshot-placed",
  "reset:snapshotted",
  "reset:built",
  "reset:exchanged",
  "reset:snapshot-placed",
  "undo:snapshotted",
  "undo:built",
  "undo:exchanged",
  "snapshot:built",
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

export function crashPoint(name: CrashPoint | string): void {
  if (process.env.FLIPPER_BOOT_CRASH_AT === name) process.kill(process.pid, "SIGKILL");
}

// ---- reading --------------------------------------------------------------------------------

/** The running profile: `profile=` of the booted file, else flipper.profile= on the command line. */
export async function runningProfile(ctx: StoreContext): Promise<string | null> {
  const booted = await fsp.readFile(ctx.booted ?? DEFAULT_BOOTED, "utf8").catch(() => null);
  if (booted !== null) {
    const m = /^profile=(.*)$/m.exec(booted);
    return m && m[1].trim() !== "" ? m[1].trim() : null;
  }
  const cmdline = await fsp.readFile(ctx.cmdline ?? "/proc/cmdline", "utf8").catch(() => "");
  const m = /(?:^|\s)flipper\.profile=(\S+)/.exec(cmdline);
  return m ? m[1] : null;
}

export type Json = Record<string, unknown>;

async function readJson(file: string, what: string): Promise<Json> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (e) {
    throw new Error(what + " cannot be read: " + (e as NodeJS.ErrnoException).code);
  }
  try {
    const v = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Json;
  } catch {}
  throw new Error(what + " is not a JSON object");
}

async function exists(p: string): Promise<boolean> {
  return (await fsp.lstat(p).catch(() => null)) !== null;
}

/** The profile's profile.json, validated; `no-profile` unless @profiles/<id> is a real profile. */
export async function loadProfile(P: StorePaths, id: string): Promise<Json> {
  const dir = P.profile(id);
  if (!(await isSubvolume(dir)) || !(await exists(path.join(dir, PROFILE_JSON)))) {
    throw new StoreError(
      "no-profile",
      "no profile " + describeText(id) + " (no subvolume " + dir + " with a profile.json)",
    );
  }
  const file = path.join(dir, PROFILE_JSON);
  const json = await readJson(file, file);
  try {
    parseProfileJson(JSON.stringify(json), id, file);
  } catch (e) {
    throw new Error(file + ": " + (e as Error).message);
  }
  return json;
}

async function assertNoProfile(P: StorePaths, id: string): Promise<void> {
  if (await exists(P.profile(id))) {
    throw new StoreError(
      "exists",
      "profile " + describeText(id) + " exists: ids must be unique (" + P.profile(id) + ")",
    );
  }
}

export async function assertBase(P: StorePaths, ver: string): Promise<void> {
  if (await isSubvolume(P.base(ver))) return;
  const have = (await fsp.readdir(P.bases).catch(() => [] as string[])).sort();
  throw new StoreError(
    "no-base",
    "no base " +
      describeText(ver) +
      ": base must be one of @base/ (" +
      (have.length ? have.join(", ") : "none") +
      ")",
  );
}

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

export async function listStaged(store: string): Promise<StagedChange[]> {
  const P = storePaths(store);
  const out: StagedChange[] = [];
  for (const name of (await fsp.readdir(P.stagedDir).catch(() => [] as string[])).sort()) {
    if (name.startsWith(".")) continue;
    const invalid = name.endsWith(".invalid");
    const id = invalid ? name.slice(0, -".invalid".length) : name;
    const text = await fsp.readFile(path.join(P.stagedDir, name), "utf8").catch(() => "");
    const kv: Record<string, string> = {};
    for (const line of text.split("\n")) {
      const m = /^([a-z]+)=(.*)$/.exec(line.trim());
      if (m) kv[m[1]] = m[2].replace(/\s+#.*$/, "");
    }
    out.push({
      id,
      action: kv.action ?? "",
      ...(kv.stamp ? { stamp: kv.stamp } : {}),
      ...(kv.requested ? { requested: kv.requested } : {}),
      ...(invalid ? { invalid: true } : {}),
    });
  }
  return out;
}

// ---- sessions: top-level check, lock, leftovers -----------------------------------------------

interface Intent {
  op: string;
  id: string;
  /** Subvolume id of @profiles/<id> before the change (null when it did not exist). */
  before: number | null;
}

export class Work {
  readonly dir: string;
  constructor(
    readonly P: StorePaths,
    readonly op: string,
    readonly id: string,
  ) {
    this.dir = path.join(P.tmp, tmpName(op, id));
  }
  get new() {
    return path.join(this.dir, "new");
  }
  get snap() {
    return path.join(this.dir, "snap");
  }
  get old() {
    return path.join(this.dir, "old");
  }
  async begin(before: number | null): Promise<void> {
    try {
      await fsp.mkdir(this.P.tmp, { recursive: true });
      await fsp.mkdir(this.dir);
    } catch (e) {
      throw fsError(e, "creating " + this.dir);
    }
    const intent: Intent = { op: this.op, id: this.id, before };
    await writeAtomic(path.join(this.dir, "intent.json"), JSON.stringify(intent) + "\n");
  }
  /** Removes what is left of the work folder (on success, or after a failure before the commit). */
  async discard(): Promise<void> {
    await removeAny(this.dir);
  }
}

export interface Session {
  ctx: StoreContext;
  P: StorePaths;
  now: Date;
  /** What was found in .flipper-tmp/ and removed or finished, one line each. */
  cleaned: string[];
}

// Sessions of this process run one at a time: the daemon serves socket requests concurrently, and
// `.flipper-lock` cannot tell two of them apart (same pid). Across processes the lock serialises.
let sessionQueue: Promise<void> = Promise.resolve();

/** Checks the store, takes the lock, deals with leftovers, runs `fn`, releases the lock. */
export async function withSession<T>(
  ctx: StoreContext,
  fn: (s: Session) => Promise<T>,
): Promise<T & { cleaned: string[] }> {
  const previous = sessionQueue;
  let done = () => {};
  sessionQueue = new Promise<void>((resolve) => {
    done = resolve;
  });
  try {
    await previous;
    await assertTopLevel(ctx.store);
    const release = await acquireLock(ctx.store);
    try {
      const s: Session = {
        ctx,
        P: storePaths(ctx.store),
        now: (ctx.now ?? (() => new Date()))(),
        cleaned: [],
      };
      s.cleaned = await recoverLeftovers(s.P);
      const r = await fn(s);
      return { ...r, cleaned: s.cleaned };
    } finally {
      await release();
    }
  } finally {
    done();
  }
}

/**
 * Deals with every work folder in `.flipper-tmp/` (the caller holds the lock): removes unfinished
 * work, finishes work that passed its commit point. Returns one line per folder.
 */
export async function recoverLeftovers(P: StorePaths): Promise<string[]> {
  const lines: string[] = [];
  const names = await fsp.readdir(P.tmp).catch(() => [] as string[]);
  for (const name of names.sort()) {
    const dir = path.join(P.tmp, name);
    const rel = TMP_DIR + "/" + name;
    const intent = (await readJson(path.join(dir, "intent.json"), "intent").catch(
      () => null,
    )) as Intent | null;
    const op = intent?.op ?? "";
    let committed = false;
    if (intent && typeof intent.id === "string") {
      if (typeof intent.before === "number") {
        // It replaces or removes @profiles/<id> (delete, reset, undo, and any later op that records
        // `before`): done once the profile's subvolume id is no longer the one it had.
        const cur = (await isSubvolume(P.profile(intent.id))) ? await rootId(P.profile(intent.id)) : null;
        committed = cur !== intent.before;
        const old = path.join(dir, "old");
        if (cur === null && (await isSubvolume(old)) && (await isSubvolume(path.join(dir, "new")))) {
          // Cut between two renames (the profile moved out, its replacement not yet in; the
          // initramfs works that way, having no renameat2): the replacement never arrived, so
          // the profile goes back.
          try {
            await renameInto(old, P.profile(intent.id));
          } catch (e) {
            lines.push(
              "could not put profile " + intent.id + " back from " + rel + ": " + (e as Error).message,
            );
            continue;
          }
          lines.push(
            "put profile " +
              intent.id +
              " back from " +
              rel +
              " (its " +
              op +
              " was cut between two renames)",
          );
          committed = false;
        }
      } else if (op === "create" || op === "clone") {
        // Done once `new` was moved into place; nothing to finish then.
        committed = !(await exists(path.join(dir, "new"))) && (await isSubvolume(P.profile(intent.id)));
      }
      // A snapshot op either placed its snapshot or not: its folder is just removed.
    }
    let finished = "";
    if (committed && intent && (await exists(path.join(dir, "snap")))) {
      const j = await readJson(path.join(dir, "snap", SNAPSHOT_JSON), "snapshot.json").catch(() => null);
      const stamp = j && typeof j.stamp === "string" ? j.stamp : "";
      if (stamp && !(await exists(P.snapshot(intent.id, stamp)))) {
        try {
          await placeSnapshot(P, path.join(dir, "snap"), { id: intent.id, stamp });
          finished = ", snapshot @snapshots/" + intent.id + "/" + stamp + " put in place";
        } catch (e) {
          lines.push("could not finish " + rel + ": " + (e as Error).message);
          continue;
        }
      }
    }
    try {
      await removeAny(dir);
    } catch (e) {
      // Reported, not fatal: work folders have unique names, so a leftover blocks nothing.
      lines.push("could not remove " + rel + ": " + (e as Error).message);
      continue;
    }
    lines.push(
      committed
        ? "finished an interrupted " + op + " of " + intent?.id + finished + " (removed " + rel + ")"
        : "removed " +
            rel +
            ", left by an interrupted " +
            (op || "command") +
            (intent ? " of " + intent.id : ""),
    );
  }
  return lines;
}

// ---- building blocks (exported for other store commands, e.g. a rebase: record `before`, build in a
// Work, commit with one rename or exchange, wrap what follows in afterCommit) ----------------------

export async function profileRootId(P: StorePaths, id: string): Promise<number> {
  return rootId(P.profile(id));
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
  try {
    await fsp.mkdir(P.snapshots(info.id), { recursive: true });
  } catch (e) {
    throw fsError(e, "creating " + P.snapshots(info.id));
  }
  await snapshotSubvolume(from, P.snapshot(info.id, info.stamp), true);
}

async function ensureDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true });
  } catch (e) {
    throw fsError(e, "creating " + dir);
  }
}

export async function emptyFolder(dir: string): Promise<void> {
  try {
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.mkdir(dir);
  } catch (e) {
    throw fsError(e, "emptying " + dir);
  }
}

/** A new profile subvolume at `dst`: empty upper/ and work/, and `json` as profile.json. */
export async function buildEmpty(dst: string, json: Json): Promise<void> {
  await createSubvolume(dst);
  try {
    await fsp.mkdir(path.join(dst, "upper"), 0o755);
    await fsp.mkdir(path.join(dst, "work"), 0o755);
  } catch (e) {
    throw fsError(e, "creating upper/ and work/ in " + dst);
  }
  await writeAtomic(path.join(dst, PROFILE_JSON), JSON.stringify(json, null, 2) + "\n");
}

/** Runs `fn` on a work folder; on any failure the folder is removed and the error goes on. */
export async function inWork<T>(
  s: Session,
  op: string,
  id: string,
  before: number | null,
  fn: (w: Work) => Promise<T>,
): Promise<T> {
  const w = new Work(s.P, op, id);
  let r: T;
  try {
    await w.begin(before);
    r = await fn(w);
  } catch (e) {
    // Before the commit point this restores the old state; a failure after it (the commit done,
    // what follows failing) leaves the work folder for the next run, which finishes it.
    const committed = (e as { committed?: boolean }).committed === true;
    if (!committed) await w.discard().catch(() => {});
    throw e;
  }
  // Done: what cannot be removed now (the old subvolume, say) is removed by the next run.
  await w.discard().catch(() => {});
  return r;
}

/** Marks an error raised after the commit point: inWork then leaves the folder for recovery to finish. */
export function afterCommit(e: unknown): never {
  throw Object.assign(e as Error, { committed: true });
}

export async function writeStaged(
  s: Session,
  id: string,
  action: "reset" | "undo",
  stamp?: string,
): Promise<StagedChange> {
  try {
    await fsp.mkdir(s.P.stagedDir, { recursive: true });
  } catch (e) {
    throw fsError(e, "creating " + s.P.stagedDir);
  }
  const requested = isoNow(s.now).replace(/[-:]/g, "");
  const text =
    "action=" + action + "\n" + (stamp ? "stamp=" + stamp + "\n" : "") + "requested=" + requested + "\n";
  await writeAtomic(s.P.staged(id), text);
  return { id, action, ...(stamp ? { stamp } : {}), requested };
}

// ---- the commands ----------------------------------------------------------------------------

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
