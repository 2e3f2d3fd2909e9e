// The profile store: one folder per profile under <store>/@profiles/<id>/ holding profile.json.
// Reading never throws for bad content: every entry that is not a usable profile (a bad profile.json,
// a link, a file, a hidden entry, ...) is skipped with one message naming it and the rule, and the
// others are still returned. A reader with a watcher can ask for entries that may still be being
// written to be reported as settling instead of skipped.
import { constants, type Dirent, promises as fsp, type Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { checkKernelOptions, checkOverlayList } from "../protocol/boot-fragment";
import { describeText } from "../protocol/bytes";
import {
  checkProfileId,
  formatFieldError,
  ProfileFlag,
  type ProfileRecord,
  validateProfile,
} from "../protocol/profile";

export const PROFILES_DIR = "@profiles";
export const PROFILE_FILE = "profile.json";
/** Largest profile.json read; anything bigger is refused unread (a profile.json is a few hundred bytes). */
export const PROFILE_FILE_MAX = 64 * 1024;

/** A profile as the bridge knows it: the MCU record plus what only U-Boot needs. */
export interface StoredProfile {
  record: ProfileRecord;
  kernelOptions: string;
  overlays: string[];
  /** Optional ordering key (profile.json `sortKey`); "" when absent. */
  sortKey: string;
  /** Absolute path of the profile.json it came from. */
  file: string;
}

export interface SkippedProfile {
  file: string;
  /** One line: the file, the field, the value and the rule. */
  message: string;
}

export interface StoreSnapshot {
  profiles: StoredProfile[];
  skipped: SkippedProfile[];
  /** Entries that may still be being written (only with ReadStoreOptions.settleMs). */
  settling: SettlingEntry[];
  /** Set when the store itself cannot be read or has no @profiles folder (then nothing is synced). */
  error: string;
}

const TIME_RULE_JSON =
  "must be an ISO-8601 date-time string (like 2026-01-31T12:00:00Z), Unix seconds from 0 to 4294967295, or null";

function describeJson(v: unknown): string {
  if (typeof v === "string") return describeText(v);
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  // JSON leaves control-like characters such as U+2028 (a line break to some log viewers) raw:
  // the value in a log line is plain ASCII.
  s = s.replace(/[^\x20-\x7e]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
  return s.length > 80 ? s.slice(0, 80) + "..." : s;
}

class ProfileError extends Error {
  /** The text is not JSON (yet): possibly a file still being written. */
  notJson = false;
}

function fail(field: string, value: unknown, rule: string): never {
  throw new ProfileError(field + " " + describeJson(value) + " is invalid: " + rule);
}

/** Unix seconds from an ISO-8601 string or a number; null/absent = 0. */
export function parseTime(v: unknown, field: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === "number") {
    if (Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
    fail(field, v, TIME_RULE_JSON);
  }
  if (typeof v === "string") {
    // Date-only or date-time with an explicit zone; Date.parse alone accepts too much.
    if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(v)) {
      const ms = Date.parse(v.replace(" ", "T"));
      if (Number.isFinite(ms) && ms >= 0 && ms / 1000 <= 0xffffffff) return Math.floor(ms / 1000);
    }
    fail(field, v, TIME_RULE_JSON);
  }
  fail(field, v, TIME_RULE_JSON);
}

function optBool(obj: Record<string, unknown>, key: string): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") fail(key, v, "must be true or false");
  return v;
}

/**
 * Parses the text of one profile.json found in folder `folderId`. Throws a ProfileError-style
 * Error whose message names the field, the value and the rule.
 */
export function parseProfileJson(text: string, folderId: string, file: string): StoredProfile {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    // Only the position: the parser's message quotes the content, which must not reach the logs.
    const at = /position (\d+)/.exec((e as Error).message);
    const err = new ProfileError("is not valid JSON" + (at ? " (error at byte " + at[1] + ")" : ""));
    err.notJson = true;
    throw err;
  }
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    throw new ProfileError("must hold a JSON object with at least id, name and base");
  }
  const o = obj as Record<string, unknown>;
  for (const key of ["id", "name", "base"]) {
    if (o[key] === undefined)
      throw new ProfileError("field " + key + " is missing (required: id, name, base)");
    if (typeof o[key] !== "string") fail(key, o[key], "must be a string");
  }
  const id = o.id as string;
  const idErr = checkProfileId(id, "id");
  if (idErr) throw new ProfileError(formatFieldError(idErr));
  if (id !== folderId) {
    fail("id", id, "must equal the profile's folder name " + describeText(folderId));
  }
  let origin = "";
  if (o.origin !== undefined && o.origin !== null) {
    if (typeof o.origin !== "string") fail("origin", o.origin, "must be a profile id string or null");
    origin = o.origin;
  }
  let flags = 0;
  if (optBool(o, "hidden")) flags |= ProfileFlag.HIDDEN;
  if (optBool(o, "protected")) flags |= ProfileFlag.PROTECTED;
  const record: ProfileRecord = {
    id: id,
    name: o.name as string,
    base: o.base as string,
    flags: flags,
    created: parseTime(o.created, "created"),
    lastUsed: parseTime(o.lastUsed, "lastUsed"),
    origin: origin,
  };
  const e = validateProfile(record);
  if (e) throw new ProfileError(formatFieldError(e));
  let kernelOptions = "";
  if (o.kernelOptions !== undefined && o.kernelOptions !== null) {
    if (typeof o.kernelOptions !== "string") fail("kernelOptions", o.kernelOptions, "must be a string");
    kernelOptions = o.kernelOptions;
  }
  const ke = checkKernelOptions(kernelOptions, "kernelOptions");
  if (ke) throw new ProfileError(formatFieldError(ke));
  let overlays: string[] = [];
  if (o.overlays !== undefined && o.overlays !== null) {
    if (!Array.isArray(o.overlays) || !o.overlays.every((x) => typeof x === "string")) {
      fail("overlays", o.overlays, "must be an array of overlay names");
    }
    overlays = o.overlays as string[];
  }
  // Each name must be non-empty and free of spaces, so the joined list round-trips.
  const oe =
    overlays.some((x) => x === "" || x.indexOf(" ") >= 0) && overlays.length > 0
      ? {
          field: "overlays",
          value: describeJson(overlays),
          rule: "must be at most 8 names of 1 to 31 characters of a-z, 0-9, '_' and '-' (starting with a letter or digit)",
        }
      : checkOverlayList(overlays.join(" "), "overlays");
  if (oe) throw new ProfileError(formatFieldError(oe));
  let sortKey = "";
  if (o.sortKey !== undefined && o.sortKey !== null) {
    if (typeof o.sortKey !== "string" || o.sortKey.length > 64) {
      fail("sortKey", o.sortKey, "must be a string of at most 64 characters");
    }
    sortKey = o.sortKey as string;
  }
  return { record: record, kernelOptions: kernelOptions, overlays: overlays, sortKey: sortKey, file: file };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Menu order: sortKey (profiles with one first, by code point), then name, then id. */
export function compareProfiles(a: StoredProfile, b: StoredProfile): number {
  if (a.sortKey !== b.sortKey) {
    if (a.sortKey === "") return 1;
    if (b.sortKey === "") return -1;
    return cmp(a.sortKey, b.sortKey);
  }
  return cmp(a.record.name, b.record.name) || cmp(a.record.id, b.record.id);
}

export interface ReadStoreOptions {
  /**
   * An entry that changed less than this many ms ago and cannot be used yet (a profile.json that
   * is empty, cut short or changed while it was read, a folder without one, a new link, file or
   * hidden entry) may still be being written: it goes to `settling` instead of `skipped` until it
   * has been quiet this long. 0 (default): every entry is judged as it is now.
   */
  settleMs?: number;
  /** The clock compared with file change times (default Date.now). */
  now?: () => number;
}

/** An entry that cannot be used yet but changed a moment ago: looked at again at `retryAt`. */
export interface SettlingEntry extends SkippedProfile {
  /** The entry's name in @profiles (the folder a held profile came from). */
  folder: string;
  /** Date.now() time after which the entry is judged as it is then. */
  retryAt: number;
}

/** A name as it may appear in a log line: as it is when plain, else quoted with escapes. */
function shownName(name: string): string {
  return /^[^\u0000-\u0020\u007f-\u009f"\\]+$/.test(name) ? name : describeText(name);
}

const utf8Strict = new TextDecoder("utf-8", { fatal: true });

function errnoText(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EIO":
      return "I/O error";
    default:
      return e.code ?? e.message;
  }
}

function entryKind(st: Stats): string {
  if (st.isFile()) return "a file";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  return "not a folder";
}

/** Where a symbolic link points, for the message (the link itself is never followed). */
async function linkTarget(p: string): Promise<string> {
  try {
    const st = await fsp.stat(p);
    return st.isDirectory() ? "to a folder" : "to " + entryKind(st);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "ENOENT"
      ? "pointing nowhere"
      : code === "ELOOP"
        ? "in a loop"
        : "that cannot be followed";
  }
}

type FileRead =
  | { ok: true; text: string; ctimeMs: number }
  | { ok: false; why: string; torn: boolean; ctimeMs: number };

/**
 * Reads one profile.json without following links and without opening anything but a regular
 * file (a FIFO or device swapped in would block or have side effects). `torn`: the content may be
 * a write in progress (empty, not UTF-8, or changed while it was read).
 */
async function readProfileFile(file: string): Promise<FileRead> {
  const missing = (ctimeMs: number): FileRead => ({
    ok: false,
    why: "is missing (every profile folder needs one)",
    torn: true,
    ctimeMs,
  });
  const tooBig = (size: number, ctimeMs: number): FileRead => ({
    ok: false,
    why: "is " + size + " bytes, must be at most " + PROFILE_FILE_MAX + " bytes",
    torn: false,
    ctimeMs,
  });
  let st: Stats;
  try {
    st = await fsp.lstat(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") return missing(0);
    return { ok: false, why: "cannot be read: " + errnoText(err), torn: false, ctimeMs: 0 };
  }
  const notRegular = {
    ok: false as const,
    why: "must be a regular file (not a link or a folder)",
    torn: false,
    ctimeMs: st.ctimeMs,
  };
  if (!st.isFile()) return notRegular;
  if (st.size > PROFILE_FILE_MAX) return tooBig(st.size, st.ctimeMs);
  let fh: FileHandle;
  try {
    fh = await fsp.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ELOOP") return notRegular;
    if (err.code === "ENOENT") return missing(st.ctimeMs);
    return { ok: false, why: "cannot be read: " + errnoText(err), torn: false, ctimeMs: st.ctimeMs };
  }
  try {
    const a = await fh.stat();
    if (a.dev !== st.dev || a.ino !== st.ino || !a.isFile()) return { ...notRegular, torn: true };
    if (a.size > PROFILE_FILE_MAX) return tooBig(a.size, a.ctimeMs);
    const buf = await fh.readFile();
    const b = await fh.stat();
    if (buf.length !== b.size || b.size !== a.size || b.mtimeMs !== a.mtimeMs || b.ctimeMs !== a.ctimeMs) {
      return { ok: false, why: "changed while it was read", torn: true, ctimeMs: b.ctimeMs };
    }
    if (buf.length === 0) return { ok: false, why: "is empty", torn: true, ctimeMs: b.ctimeMs };
    let text: string;
    try {
      text = utf8Strict.decode(buf);
    } catch {
      return { ok: false, why: "is not valid UTF-8", torn: true, ctimeMs: b.ctimeMs };
    }
    return { ok: true, text: text, ctimeMs: b.ctimeMs };
  } catch (e) {
    return {
      ok: false,
      why: "cannot be read: " + errnoText(e as NodeJS.ErrnoException),
      torn: false,
      ctimeMs: st.ctimeMs,
    };
  } finally {
    await fh.close();
  }
}

/**
 * Reads every profile under <store>/@profiles, sorted; never throws for bad content. Every entry
 * that is not a usable profile folder (a link of any kind, a file, a FIFO, a socket, a device, a
 * hidden entry, a folder without a valid profile.json of its own id, an unreadable folder) is
 * skipped with one message naming it and the rule.
 */
export async function readStore(store: string, options: ReadStoreOptions = {}): Promise<StoreSnapshot> {
  const dir = path.join(store, PROFILES_DIR);
  const settleMs = options.settleMs ?? 0;
  const now = options.now ?? Date.now;
  const profiles: StoredProfile[] = [];
  const skipped: SkippedProfile[] = [];
  const settling: SettlingEntry[] = [];
  let entries: Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // A missing @profiles is an error, not an empty list: an unmounted store must never empty the menu.
    if (err.code === "ENOENT") {
      return {
        profiles: [],
        skipped: [],
        settling: [],
        error: "profile store " + dir + " does not exist (is the btrfs top level mounted at " + store + "?)",
      };
    }
    return { profiles: [], skipped: [], settling: [], error: "cannot read " + dir + ": " + err.message };
  }
  entries.sort((a, b) => cmp(a.name, b.name));
  const t = now();
  for (const entry of entries) {
    const name = entry.name;
    const entryPath = path.join(dir, name);
    const shown = path.join(dir, shownName(name));
    // `mayBeInProgress`: the entry may still be on its way to being a profile (see ReadStoreOptions).
    const skip = (file: string, message: string, mayBeInProgress: boolean, changedMs: number) => {
      const age = t - changedMs;
      if (mayBeInProgress && settleMs > 0 && age < settleMs && age > -settleMs) {
        settling.push({ file, message, folder: name, retryAt: changedMs + settleMs });
      } else {
        skipped.push({ file, message });
      }
    };
    let st: Stats;
    try {
      st = await fsp.lstat(entryPath);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === "ENOENT") continue; // removed since the folder was listed
      skip(entryPath, shown + ": cannot be read: " + errnoText(err) + "; skipped", false, 0);
      continue;
    }
    if (name.startsWith(".")) {
      skip(
        entryPath,
        shown + ': is a hidden entry (its name starts with "."), never a profile; skipped',
        true,
        st.ctimeMs,
      );
      continue;
    }
    if (st.isSymbolicLink()) {
      skip(
        entryPath,
        shown +
          ": is a symbolic link " +
          (await linkTarget(entryPath)) +
          "; a profile must be a real folder, links are not followed; skipped",
        true,
        st.ctimeMs,
      );
      continue;
    }
    if (!st.isDirectory()) {
      skip(entryPath, shown + ": is " + entryKind(st) + ", not a profile folder; skipped", true, st.ctimeMs);
      continue;
    }
    const file = path.join(entryPath, PROFILE_FILE);
    const shownFile = path.join(shown, PROFILE_FILE);
    const r = await readProfileFile(file);
    if (!r.ok) {
      skip(file, shownFile + ": " + r.why + "; skipped", r.torn, Math.max(st.ctimeMs, r.ctimeMs));
      continue;
    }
    try {
      profiles.push(parseProfileJson(r.text, name, file));
    } catch (e) {
      // Not JSON yet may be a write in progress; a complete JSON object that breaks a rule is final.
      const torn = e instanceof ProfileError && e.notJson;
      skip(
        file,
        shownFile + ": " + (e as Error).message + "; skipped",
        torn,
        Math.max(st.ctimeMs, r.ctimeMs),
      );
    }
  }
  profiles.sort(compareProfiles);
  return { profiles: profiles, skipped: skipped, settling: settling, error: "" };
}

/**
 * readStore that waits (at most `settleMs`) for entries that may still be being written, for a
 * one-shot reader with no watcher to tell it when they are done (the CLI's direct sync).
 */
export async function readStoreSettled(store: string, settleMs = 1000): Promise<StoreSnapshot> {
  // An entry that keeps changing is judged as it is after a few settle periods.
  const deadline = Date.now() + 5 * settleMs;
  for (;;) {
    const snap = await readStore(store, { settleMs: Date.now() < deadline ? settleMs : 0 });
    if (snap.settling.length === 0) return snap;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function records(profiles: StoredProfile[]): ProfileRecord[] {
  return profiles.map((p) => p.record);
}
