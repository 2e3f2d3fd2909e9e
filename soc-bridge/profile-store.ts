// The profile store: one folder per profile under <store>/@profiles/<id>/ holding profile.json.
// Reading never throws for bad content: a bad profile is skipped with one message naming the
// file and the rule, and the others are still returned.
import { promises as fsp } from "node:fs";
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
  return s.length > 80 ? s.slice(0, 80) + "..." : s;
}

class ProfileError extends Error {}

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
    throw new ProfileError("is not valid JSON" + (at ? " (error at byte " + at[1] + ")" : ""));
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

/** Reads every profile under <store>/@profiles, sorted; never throws for bad content. */
export async function readStore(store: string): Promise<StoreSnapshot> {
  const dir = path.join(store, PROFILES_DIR);
  const profiles: StoredProfile[] = [];
  const skipped: SkippedProfile[] = [];
  let names: string[];
  try {
    const entries = await fsp.readdir(dir, { withFileTypes: true });
    names = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // A missing @profiles is an error, not an empty list: an unmounted store must never empty the menu.
    if (err.code === "ENOENT") {
      return {
        profiles: [],
        skipped: [],
        error: "profile store " + dir + " does not exist (is the btrfs top level mounted at " + store + "?)",
      };
    }
    return { profiles: [], skipped: [], error: "cannot read " + dir + ": " + err.message };
  }
  names.sort();
  for (const name of names) {
    const file = path.join(dir, name, PROFILE_FILE);
    let text: string;
    try {
      const st = await fsp.lstat(file);
      if (!st.isFile()) {
        skipped.push({
          file: file,
          message: file + ": must be a regular file (not a link or a folder); skipped",
        });
        continue;
      }
      if (st.size > PROFILE_FILE_MAX) {
        skipped.push({
          file: file,
          message:
            file + ": is " + st.size + " bytes, must be at most " + PROFILE_FILE_MAX + " bytes; skipped",
        });
        continue;
      }
      text = await fsp.readFile(file, "utf8");
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === "ENOENT" ? "is missing (every profile folder needs one)" : err.message;
      skipped.push({ file: file, message: file + ": " + why + "; skipped" });
      continue;
    }
    try {
      profiles.push(parseProfileJson(text, name, file));
    } catch (e) {
      skipped.push({ file: file, message: file + ": " + (e as Error).message + "; skipped" });
    }
  }
  profiles.sort(compareProfiles);
  return { profiles: profiles, skipped: skipped, error: "" };
}

export function records(profiles: StoredProfile[]): ProfileRecord[] {
  return profiles.map((p) => p.record);
}
