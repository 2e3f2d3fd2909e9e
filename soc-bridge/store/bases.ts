// Bases (protocol/STORE.md): `base list`, `base receive FILE|-` (a btrfs send stream becomes a
// read-only `@base/<ver>`, all or nothing), `base gc`, and moving a profile to another base:
// `profile check ID --base V` (what the profile's upper hides that V changes) and `profile rebase`.
import { spawn } from "node:child_process";
import { createReadStream, promises as fsp } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { describeText } from "../../protocol/bytes";
import { readStore } from "../profile-store";
import {
  assertTopLevel,
  classify,
  fsError,
  isReadonly,
  isSubvolume,
  removeAny,
  snapshotSubvolume,
  deleteSubvolume,
  writeAtomic,
} from "./btrfs";
import { StoreError } from "./errors";
import {
  inWork,
  loadProfile,
  placeSnapshot,
  runningProfile,
  type StoreContext,
  takeSnapshot,
  withSession,
} from "./profiles";
import {
  checkId,
  checkVersion,
  compareVersions,
  PROFILE_JSON,
  SNAPSHOT_JSON,
  storePaths,
  tmpName,
} from "./layout";

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

// ---- who uses which base ------------------------------------------------------------------------

async function readDir(p: string): Promise<string[]> {
  try {
    return (await fsp.readdir(p)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
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

/** Parses `@staged/<id>` (key=value lines); null when unreadable. */
async function readStaged(file: string): Promise<Record<string, string> | null> {
  try {
    const out: Record<string, string> = {};
    for (const line of (await fsp.readFile(file, "utf8")).split("\n")) {
      const m = /^([a-z]+)=(.*)$/.exec(line.replace(/\s+#.*$/, "").trim());
      if (m) out[m[1]] = m[2].trim();
    }
    return out;
  } catch {
    return null;
  }
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
  const snapRoot = path.join(store, "@snapshots");
  for (const id of await readDir(snapRoot)) {
    for (const stamp of await readDir(path.join(snapRoot, id))) {
      const b = await snapshotBase(path.join(snapRoot, id, stamp));
      if (b !== null) add(u.snapshots, b, id + "/" + stamp);
    }
  }
  for (const id of await readDir(p.stagedDir)) {
    const st = await readStaged(path.join(p.stagedDir, id));
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
  for (const name of await readDir(dir)) {
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

/** The newest valid base, or null when there is none. */
export async function newestBase(store: string): Promise<string | null> {
  const { versions } = await validBases(store);
  return versions.length ? versions[versions.length - 1] : null;
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

// ---- receive ------------------------------------------------------------------------------------

const STREAM_MAGIC = Buffer.from("btrfs-stream\0", "latin1");
const CMD_SUBVOL = 1;
const CMD_SNAPSHOT = 2;
const ATTR_PATH = 15;
/** A first command bigger than this is not a btrfs stream's SUBVOL/SNAPSHOT command. */
const FIRST_CMD_MAX = 64 * 1024;

export interface StreamHead {
  /** The subvolume name the stream creates. */
  name: string;
  /** True for an incremental stream (its first command is SNAPSHOT of a parent). */
  incremental: boolean;
}

/**
 * Reads the stream header and its first command (SUBVOL or SNAPSHOT, whose path attribute is the
 * subvolume's name). Returns null while more bytes are needed; throws `bad-stream` when the bytes
 * cannot be a btrfs send stream.
 */
export function parseStreamHead(buf: Buffer, what: string): StreamHead | null {
  const bad = (why: string) => new StoreError("bad-stream", what + " is not a btrfs send stream: " + why);
  const magicLen = Math.min(buf.length, STREAM_MAGIC.length);
  if (!buf.subarray(0, magicLen).equals(STREAM_MAGIC.subarray(0, magicLen))) {
    throw bad("it does not start with the btrfs-stream magic");
  }
  if (buf.length < 17 + 10) return null;
  const version = buf.readUInt32LE(13);
  if (version < 1 || version > 3) throw bad("stream version " + version + " is not 1 to 3");
  const len = buf.readUInt32LE(17);
  const cmd = buf.readUInt16LE(21);
  if (cmd !== CMD_SUBVOL && cmd !== CMD_SNAPSHOT) {
    throw bad("its first command is " + cmd + ", not SUBVOL or SNAPSHOT");
  }
  if (len > FIRST_CMD_MAX) throw bad("its first command claims " + len + " bytes");
  if (buf.length < 27 + len) return null;
  let off = 27;
  while (off + 4 <= 27 + len) {
    const type = buf.readUInt16LE(off);
    const alen = buf.readUInt16LE(off + 2);
    if (off + 4 + alen > 27 + len) break;
    if (type === ATTR_PATH) {
      return { name: buf.toString("utf8", off + 4, off + 4 + alen), incremental: cmd === CMD_SNAPSHOT };
    }
    off += 4 + alen;
  }
  throw bad("its first command names no subvolume");
}

export interface ReceiveResult {
  version: string;
  incremental: boolean;
  bytes: number;
  ms: number;
  /** Leftovers of interrupted commands removed first (STORE.md, `.flipper-tmp/`). */
  cleaned: string[];
}

/**
 * `base receive FILE|-`: the stream is received into `.flipper-tmp/`, checked (a valid version name
 * that is not yet a base, complete, read-only) and published as `@base/<ver>` by one read-only
 * snapshot, which appears whole or not at all. (A read-only subvolume cannot be renamed into another
 * folder: rename(2) must rewrite its `..`, which the kernel refuses with EROFS.) Nothing in `@base`
 * changes on any failure; an interrupted receive leaves only `.flipper-tmp/` work, removed by the
 * next lifecycle command.
 */
export async function receiveBase(
  ctx: StoreContext,
  source: string | NodeJS.ReadableStream,
): Promise<ReceiveResult> {
  const store = ctx.store;
  // (withSession checks the store: one `btrfs inspect-internal` less on the way.)
  const what =
    typeof source === "string" ? (source === "-" ? "standard input" : JSON.stringify(source)) : "the stream";
  let input: Readable;
  let fileSize = -1;
  if (typeof source === "string") {
    if (source === "-") {
      if (process.stdin.isTTY) {
        throw new StoreError(
          "invalid",
          "standard input is a terminal: pipe a btrfs send stream into base receive -",
        );
      }
      input = process.stdin;
    } else {
      const st = await fsp.stat(source).catch((e: NodeJS.ErrnoException) => {
        throw new StoreError(
          "invalid",
          "stream file " + JSON.stringify(source) + " cannot be read (" + e.code + ")",
        );
      });
      if (!st.isFile() && !st.isFIFO()) {
        throw new StoreError("invalid", "stream file " + JSON.stringify(source) + " is not a file");
      }
      // A regular file goes to btrfs receive as its own -f: only the head is read here.
      if (st.isFile()) {
        fileSize = st.size;
        input = createReadStream(source, { start: 0, end: 27 + FIRST_CMD_MAX - 1 });
      } else input = createReadStream(source, { highWaterMark: 1 << 20 });
    }
  } else input = Readable.from(source as AsyncIterable<Buffer>);

  const p = storePaths(store);
  const t0 = performance.now();
  let work: string | null = null;
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  // A refusal before the session (not btrfs, busy) must not leave the file open in a daemon.
  const closeInput = () => {
    if (input !== process.stdin) input.destroy();
  };
  return withSession(ctx, async (session) => {
    try {
      // Read the first command: the version and the simple refusals come before anything is written.
      let head = Buffer.alloc(0);
      let parsed: StreamHead | null = null;
      let ended = false;
      while (parsed === null) {
        const r = await it.next();
        if (r.done) {
          ended = true;
          if (head.length === 0)
            throw new StoreError("bad-stream", what + " is empty: not a btrfs send stream");
          throw new StoreError(
            "bad-stream",
            what + " is truncated (" + head.length + " bytes): not a whole btrfs send stream",
          );
        }
        head = Buffer.concat([head, Buffer.from(r.value)]);
        parsed = parseStreamHead(head, what);
      }
      const version = checkVersion(parsed.name, "base version (the stream's subvolume name)");
      if (await fsp.lstat(p.base(version)).catch(() => null)) {
        throw new StoreError(
          "exists",
          "base " + version + " exists: remove it first (base gc) or send another version",
        );
      }
      await fsp.mkdir(p.bases, { recursive: true }).catch((e) => {
        throw fsError(e, "creating " + p.bases);
      });
      await fsp.mkdir(p.tmp, { recursive: true }).catch((e) => {
        throw fsError(e, "creating " + p.tmp);
      });
      work = path.join(p.tmp, tmpName("receive", version.replace(/\./g, "_")));
      await fsp.mkdir(work).catch((e) => {
        throw fsError(e, "creating " + work);
      });
      let bytes = head.length;
      if (fileSize >= 0) {
        bytes = fileSize;
        await btrfsReceive(work, source as string, what);
      } else await btrfsReceive(work, Readable.from(rest()), what);
      async function* rest(): AsyncGenerator<Buffer> {
        yield head;
        if (ended) return;
        for (;;) {
          const r = await it.next();
          if (r.done) return;
          bytes += r.value.length;
          yield r.value;
        }
      }
      const got = await readDir(work);
      if (got.length !== 1 || got[0] !== parsed.name) {
        throw new StoreError(
          "bad-stream",
          what +
            " made " +
            JSON.stringify(got) +
            " where one subvolume " +
            JSON.stringify(parsed.name) +
            " was expected",
        );
      }
      const received = path.join(work, got[0]);
      if (!(await isSubvolume(received)) || !(await refusesWrites(received))) {
        throw new StoreError(
          "bad-stream",
          what + " is truncated: the received subvolume was never completed",
        );
      }
      await snapshotSubvolume(received, p.base(version), true);
      return {
        version,
        incremental: parsed.incremental,
        bytes,
        ms: Math.round(performance.now() - t0),
        cleaned: session.cleaned,
      };
    } finally {
      if (typeof it.return === "function") await it.return().catch(() => {});
      if (work) await removeAny(work).catch(() => {});
    }
  }).finally(closeInput);
}

/**
 * True when `dir` is read-only, found by trying to create a file in it (EROFS), which costs no
 * `btrfs property get` process. A completed `btrfs receive` sets read-only as its last step.
 */
async function refusesWrites(dir: string): Promise<boolean> {
  const probe = path.join(dir, ".flipper-ro-probe");
  try {
    await (await fsp.open(probe, "wx")).close();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EROFS") return true;
    if (code === "EEXIST") return false;
    throw fsError(e, "checking that " + dir + " is read-only");
  }
  await fsp.rm(probe, { force: true });
  return false;
}

/**
 * Runs `btrfs receive -e DIR` fed from `input` (or reading the file `input` itself); its failures
 * become bad-stream or no-space.
 */
async function btrfsReceive(dir: string, input: Readable | string, what: string): Promise<void> {
  const fromFile = typeof input === "string";
  const child = spawn("btrfs", ["receive", "-e", ...(fromFile ? ["-f", input] : []), dir], {
    stdio: [fromFile ? "ignore" : "pipe", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => {
    if (stderr.length < 8192) stderr += d;
  });
  const exited = new Promise<{ code: number | null; error: Error | null }>((resolve) => {
    child.once("error", (error) => resolve({ code: null, error }));
    child.once("close", (code) => resolve({ code, error: null }));
  });
  const fed = new Promise<void>((resolve) => {
    if (typeof input === "string" || child.stdin === null) return resolve();
    // The child stops reading when it fails: the write side then sees EPIPE, which is not the error.
    child.stdin.on("error", () => {});
    const stdin = child.stdin;
    input.on("error", () => {
      stdin.destroy();
      resolve();
    });
    input.once("end", () => resolve());
    stdin.once("close", () => resolve());
    input.pipe(stdin);
  });
  const [res] = await Promise.all([exited, fed]);
  if (res.error) {
    throw new Error(
      (res.error as NodeJS.ErrnoException).code === "ENOENT"
        ? "btrfs is not installed (install btrfs-progs)"
        : "btrfs receive failed: " + res.error.message,
    );
  }
  if (res.code !== 0) {
    const msg = stderr
      .split("\n")
      .filter((l) => /ERROR|error/.test(l))
      .join("; ")
      .trim();
    throw (
      classify(stderr, "receiving " + what) ??
      new StoreError("bad-stream", what + " was refused by btrfs receive: " + (msg || "exit " + res.code))
    );
  }
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

// ---- check and rebase ---------------------------------------------------------------------------

/** Upper paths that are the profile's own by design (logs, caches, its machine id): never conflicts. */
const OWN_PATHS = [
  /^var\/log\//,
  /^var\/cache\/apt\//,
  /^var\/lib\/apt\/lists\//,
  /^var\/backups\//,
  /^var\/lib\/dpkg\/[^/]*-old$/,
  /^var\/cache\/debconf\/[^/]*-old$/,
  /^etc\/machine-id$/,
];

export interface FileConflict {
  path: string;
  /** What the profile holds there: a file, a symlink, a whiteout (deleted), an opaque folder, a folder. */
  upper: "file" | "symlink" | "whiteout" | "opaque" | "folder" | "other";
  /** What V does to it compared with the profile's base. */
  change: "added" | "removed" | "changed";
}

export interface PackageConflict {
  package: string;
  /** The version the profile holds ("" = the profile removed it). */
  profile: string;
  /** Its base's version ("" = not in the base). */
  from: string;
  /** V's version ("" = V does not have it). */
  to: string;
}

export interface CheckReport {
  id: string;
  from: string;
  to: string;
  clean: boolean;
  files: FileConflict[];
  packages: PackageConflict[];
  /** Entries of the upper looked at, and those skipped as the profile's own (logs, caches). */
  scanned: number;
  ignored: number;
}

type Kind = "missing" | "file" | "dir" | "symlink" | "other";

interface Entry {
  kind: Kind;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  path: string;
}

async function entryAt(p: string): Promise<Entry> {
  const st = await fsp.lstat(p).catch(() => null);
  if (st === null) return { kind: "missing", mode: 0, uid: 0, gid: 0, size: 0, path: p };
  const kind: Kind = st.isFile()
    ? "file"
    : st.isDirectory()
      ? "dir"
      : st.isSymbolicLink()
        ? "symlink"
        : "other";
  return { kind, mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, path: p };
}

async function sameContent(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([fsp.open(a, "r"), fsp.open(b, "r")]);
  try {
    const ba = Buffer.alloc(1 << 16);
    const bb = Buffer.alloc(1 << 16);
    for (;;) {
      const [ra, rb] = await Promise.all([ha.read(ba, 0, ba.length), hb.read(bb, 0, bb.length)]);
      if (ra.bytesRead !== rb.bytesRead) return false;
      if (ra.bytesRead === 0) return true;
      if (!ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
    }
  } finally {
    await Promise.all([ha.close(), hb.close()]);
  }
}

/** How V's entry differs from the base's, or null when they are the same. */
async function baseChange(from: Entry, to: Entry): Promise<FileConflict["change"] | null> {
  if (from.kind === "missing" && to.kind === "missing") return null;
  if (from.kind === "missing") return "added";
  if (to.kind === "missing") return "removed";
  if (from.kind !== to.kind || from.mode !== to.mode || from.uid !== to.uid || from.gid !== to.gid)
    return "changed";
  if (from.kind === "symlink")
    return (await fsp.readlink(from.path)) === (await fsp.readlink(to.path)) ? null : "changed";
  if (from.kind === "file") {
    if (from.size !== to.size) return "changed";
    return (await sameContent(from.path, to.path)) ? null : "changed";
  }
  return null;
}

/** Names in V's folder that differ from the base's folder (for an opaque folder in the upper). */
async function folderChanged(from: string, to: string): Promise<FileConflict["change"] | null> {
  const a = await readDir(from);
  const b = await readDir(to);
  if (a.length === 0 && b.length === 0) return null;
  if (a.join("\0") !== b.join("\0")) return a.length === 0 ? "added" : "changed";
  for (const n of a) {
    const ea = await entryAt(path.join(from, n));
    const eb = await entryAt(path.join(to, n));
    if (await baseChange(ea, eb)) return "changed";
    // The whole tree below is hidden: look into sub-folders too (real folders only, never symlinks).
    if (ea.kind === "dir" && eb.kind === "dir" && (await folderChanged(ea.path, eb.path))) return "changed";
  }
  return null;
}

/** Folders of the upper marked opaque (trusted.overlay.opaque=y): they hide the whole lower folder. */
async function opaqueFolders(upper: string): Promise<Set<string>> {
  const out = new Set<string>();
  // getfattr (Debian's attr) exits 1 when some files lack the attribute: its output is the answer.
  const text = await new Promise<string>((resolve, reject) => {
    const c = spawn("getfattr", ["-R", "-P", "--absolute-names", "-n", "trusted.overlay.opaque", upper], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    let s = "";
    c.stdout.setEncoding("utf8");
    c.stdout.on("data", (d: string) => (s += d));
    c.on("error", (e) =>
      reject(new Error("getfattr is needed to find the upper's opaque folders (install attr): " + e.message)),
    );
    c.on("close", () => resolve(s));
  });
  let file: string | null = null;
  for (const line of text.split("\n")) {
    const f = /^# file: (.*)$/.exec(line);
    if (f) file = f[1];
    else if (file && /^trusted\.overlay\.opaque="y"$/.test(line)) out.add(path.relative(upper, file));
  }
  return out;
}

interface PkgState {
  version: string;
  status: string;
}

/** dpkg's status file as package (with :arch) -> version and status; installed entries only count. */
export function parseDpkgStatus(text: string): Map<string, PkgState> {
  const out = new Map<string, PkgState>();
  for (const stanza of text.split(/\n\s*\n/)) {
    const f: Record<string, string> = {};
    for (const line of stanza.split("\n")) {
      const m = /^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$/.exec(line);
      if (m) f[m[1].toLowerCase()] = m[2];
    }
    if (!f.package) continue;
    const installed =
      / (installed|half-configured|unpacked|half-installed|triggers-awaited|triggers-pending)$/.test(
        f.status ?? "",
      );
    if (!installed) continue;
    const key = f.package + (f.architecture && f.architecture !== "all" ? ":" + f.architecture : "");
    out.set(key, { version: f.version ?? "", status: f.status ?? "" });
  }
  return out;
}

async function readStatus(root: string): Promise<Map<string, PkgState> | null> {
  try {
    return parseDpkgStatus(await fsp.readFile(path.join(root, "var/lib/dpkg/status"), "utf8"));
  } catch {
    return null;
  }
}

async function profileBase(store: string, id: string): Promise<string> {
  const dir = storePaths(store).profile(id);
  let text: string;
  try {
    text = await fsp.readFile(path.join(dir, PROFILE_JSON), "utf8");
  } catch {
    throw new StoreError(
      "no-profile",
      "profile " + id + " does not exist (no @profiles/" + id + "/profile.json)",
    );
  }
  try {
    const j = JSON.parse(text) as { base?: unknown };
    return checkVersion(j.base, "profile " + id + "'s base");
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new StoreError("invalid", "@profiles/" + id + "/profile.json is not JSON: " + (e as Error).message);
  }
}

async function requireBase(store: string, ver: string): Promise<void> {
  if (!(await isSubvolume(storePaths(store).base(ver)))) {
    throw new StoreError("no-base", "base " + ver + " does not exist in @base (base list shows the bases)");
  }
}

/**
 * `profile check ID --base V`: what moving the profile from its base to V would get wrong. A file
 * conflict is an entry of the profile's upper (a file, symlink, whiteout or opaque folder) at a path
 * where V differs from the profile's base: after the move the upper would keep hiding V's version.
 * A package conflict is a package the profile holds (its upper's dpkg status differs from its base's)
 * whose version V changes. Clean = neither.
 */
export async function checkProfile(ctx: StoreContext, id: string, target: string): Promise<CheckReport> {
  const store = ctx.store;
  checkId(id);
  checkVersion(target, "--base");
  await assertTopLevel(store);
  const from = await profileBase(store, id);
  await requireBase(store, target);
  await requireBase(store, from);
  const p = storePaths(store);
  const upper = path.join(p.profile(id), "upper");
  const lowerA = p.base(from);
  const lowerB = p.base(target);
  const report: CheckReport = {
    id,
    from,
    to: target,
    clean: true,
    files: [],
    packages: [],
    scanned: 0,
    ignored: 0,
  };
  if (from === target) return report;
  const opaque = await opaqueFolders(upper);
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readDir(path.join(upper, rel))) {
      const r = rel ? rel + "/" + name : name;
      const st = await fsp.lstat(path.join(upper, r));
      report.scanned++;
      if (OWN_PATHS.some((re) => re.test(r))) {
        report.ignored++;
        continue;
      }
      const a = await entryAt(path.join(lowerA, r));
      const b = await entryAt(path.join(lowerB, r));
      if (st.isDirectory()) {
        if (opaque.has(r)) {
          const c =
            a.kind === "dir" && b.kind === "dir"
              ? await folderChanged(a.path, b.path)
              : await baseChange(a, b);
          if (c) report.files.push({ path: r, upper: "opaque", change: c });
          continue; // an opaque folder hides the whole lower folder: its contents are the profile's own
        }
        // A plain folder merges with the lower: only a folder where V put something else conflicts.
        // Where either base has a non-folder (a symlink above all) nothing below is compared: a path
        // through a base's symlink could lead out of the base.
        if (b.kind !== "dir" && b.kind !== "missing") {
          report.files.push({ path: r, upper: "folder", change: a.kind === "missing" ? "added" : "changed" });
          continue;
        }
        if (a.kind !== "dir" && a.kind !== "missing") {
          const c = await baseChange(a, b);
          if (c) report.files.push({ path: r, upper: "folder", change: c });
          continue;
        }
        await walk(r);
        continue;
      }
      const whiteout = st.isCharacterDevice() && st.rdev === 0;
      const c = await baseChange(a, b);
      if (!c) continue;
      report.files.push({
        path: r,
        upper: whiteout ? "whiteout" : st.isFile() ? "file" : st.isSymbolicLink() ? "symlink" : "other",
        change: c,
      });
    }
  };
  await walk("");
  const mine = await readStatus(upper);
  if (mine) {
    const sa = (await readStatus(lowerA)) ?? new Map<string, PkgState>();
    const sb = (await readStatus(lowerB)) ?? new Map<string, PkgState>();
    const names = new Set([...mine.keys(), ...sa.keys()]);
    for (const n of [...names].sort()) {
      const m = mine.get(n)?.version ?? "";
      const va = sa.get(n)?.version ?? "";
      const vb = sb.get(n)?.version ?? "";
      if (m === va) continue; // not the profile's: it follows the base
      if (va !== vb) report.packages.push({ package: n, profile: m, from: va, to: vb });
    }
  }
  report.clean = report.files.length === 0 && report.packages.length === 0;
  return report;
}

export interface RebaseResult {
  id: string;
  from: string;
  to: string;
  forced: boolean;
  snapshot: string | null;
  check: CheckReport;
  cleaned: string[];
}

export interface RebaseOptions {
  force?: boolean;
}

/**
 * `profile rebase ID --base V [--force]`: refuses when check finds conflicts (unless --force) and
 * for the running profile (its base is the mounted lower of /: boot another profile or recovery
 * first; nothing is staged for it); takes a snapshot (reason `rebase`, so `profile undo` goes back),
 * then pins V in profile.json.
 */
export async function rebaseProfile(
  ctx: StoreContext,
  id: string,
  target: string,
  opts: RebaseOptions = {},
): Promise<RebaseResult> {
  const store = ctx.store;
  checkId(id);
  checkVersion(target, "--base");
  await assertTopLevel(store);
  if ((await runningProfile(ctx)) === id) {
    throw new StoreError(
      "running",
      "profile " +
        id +
        " is running: its base is the mounted lower of / (boot another profile or recovery, then rebase)",
    );
  }
  return withSession(ctx, async (session) => {
    const check = await checkProfile(ctx, id, target);
    if (check.from === target) {
      return { id, from: check.from, to: target, forced: false, snapshot: null as string | null, check };
    }
    if (!check.clean && !opts.force) {
      throw Object.assign(
        new StoreError(
          "conflicts",
          "profile " +
            id +
            " conflicts with base " +
            target +
            ": " +
            summary(check) +
            " (profile check shows them; --force rebases anyway)",
        ),
        { result: check },
      );
    }
    const json = await loadProfile(session.P, id);
    const forced = !check.clean;
    const note =
      "rebase " + check.from + " -> " + target + (forced ? " (forced: " + summary(check) + ")" : "");
    // The snapshot first (profiles.ts's building blocks, so recovery knows the work folder), then
    // profile.json: a crash between the two leaves one more snapshot and the profile on its old base.
    const info = await inWork(session, "rebase", id, null, async (w) => {
      const info = await takeSnapshot(session, id, json, w.snap, "rebase", { note });
      await placeSnapshot(session.P, w.snap, info);
      await writeAtomic(
        path.join(session.P.profile(id), PROFILE_JSON),
        JSON.stringify({ ...json, base: target }, null, 2) + "\n",
      );
      return info;
    });
    return { id, from: check.from, to: target, forced, snapshot: info.stamp as string | null, check };
  });
}

export function summary(r: CheckReport): string {
  const parts: string[] = [];
  if (r.files.length) parts.push(r.files.length + (r.files.length === 1 ? " file" : " files"));
  if (r.packages.length) parts.push(r.packages.length + (r.packages.length === 1 ? " package" : " packages"));
  return parts.length ? parts.join(" and ") + " in conflict" : "clean";
}
