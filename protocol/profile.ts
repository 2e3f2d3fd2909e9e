// The profile record and the rules that make its fields safe on a kernel command line,
// inside a U-Boot script, on the MCU's screen and in its flash. One validator for every endpoint.
import { type Bytes, decimal, describeText, utf8Length } from "./bytes";

export const PROFILE_ID_MAX = 31;
export const PROFILE_BASE_MAX = 11;
export const PROFILE_NAME_MAX_BYTES = 48;
/** Profiles the MCU holds at most; the bridge refuses to push more. */
export const MAX_PROFILES = 32;

/** Profile flag bits (the `flags` byte of a record). */
export const ProfileFlag = {
  /** Shown in the menu only after the hidden-entries key combo. */
  HIDDEN: 0x01,
  /** The owner cannot reset it from the menu (official or precious profiles). */
  PROTECTED: 0x02,
} as const;
export const PROFILE_FLAGS_KNOWN = 0x03;

/** What the MCU knows of a profile: everything it shows or decides on. */
export interface ProfileRecord {
  /** `[a-z0-9][a-z0-9_-]*`, 1..31 characters: the btrfs subvolume @profiles/<id>. */
  id: string;
  /** Display name, UTF-8, 1..48 bytes, no control characters. */
  name: string;
  /** Base version the profile runs on, `N.N`, `N.N.N` or `N.N.N.N`, at most 11 characters. */
  base: string;
  /** ProfileFlag bits. */
  flags: number;
  /** Creation time, Unix seconds (0 = unknown). */
  created: number;
  /** Last successful boot, Unix seconds (0 = never). */
  lastUsed: number;
  /** Id of the profile this one was cloned from, or "" for none. */
  origin: string;
}

/** A validation failure: which field, the offending value (quoted, escaped), and the rule it broke. */
export interface FieldError {
  field: string;
  value: string;
  rule: string;
}

export function formatFieldError(e: FieldError): string {
  return e.field + " " + e.value + " is invalid: " + e.rule;
}

function isIdChar(c: number, first: boolean): boolean {
  if (c >= 0x61 && c <= 0x7a) return true; // a-z
  if (c >= 0x30 && c <= 0x39) return true; // 0-9
  if (first) return false;
  return c === 0x5f || c === 0x2d; // _ -
}

export const ID_RULE =
  "must be 1 to " +
  decimal(PROFILE_ID_MAX) +
  " characters of a-z, 0-9, '_' and '-', starting with a letter or digit";
export const BASE_RULE =
  "must be 2 to 4 dot-separated numbers of 1 to 4 digits (like 1.2.3), at most " +
  decimal(PROFILE_BASE_MAX) +
  " characters";
export const NAME_RULE =
  "must be 1 to " + decimal(PROFILE_NAME_MAX_BYTES) + " bytes of UTF-8 text without control characters";
export const TIME_RULE = "must be a whole number of seconds from 0 to 4294967295";
export const FLAGS_RULE = "must be a combination of the known flag bits (hidden 0x01, protected 0x02)";

/**
 * A FieldError for a text field. Built only when a rule is broken: describing every valid value
 * up front cost the MCU's VM most of its step budget when a LIST_ITEM carries ten records.
 */
function badText(field: string, value: string, rule: string): FieldError {
  return { field: field, value: typeof value === "string" ? describeText(value) : "(not text)", rule: rule };
}

/** Why `id` is not a valid profile id, or null. Used for `origin` too (where "" means none). */
export function checkProfileId(id: string, field: string): FieldError | null {
  if (typeof id !== "string" || id.length < 1 || id.length > PROFILE_ID_MAX)
    return badText(field, id, ID_RULE);
  for (let i = 0; i < id.length; i++) {
    if (!isIdChar(id.charCodeAt(i), i === 0)) return badText(field, id, ID_RULE);
  }
  return null;
}

export function isValidProfileId(id: string): boolean {
  return checkProfileId(id, "id") === null;
}

export function checkBaseVersion(base: string, field: string): FieldError | null {
  if (typeof base !== "string" || base.length < 3 || base.length > PROFILE_BASE_MAX) {
    return badText(field, base, BASE_RULE);
  }
  let parts = 1;
  let digits = 0;
  for (let i = 0; i < base.length; i++) {
    const c = base.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0) return badText(field, base, BASE_RULE);
      parts++;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      digits++;
      if (digits > 4) return badText(field, base, BASE_RULE);
    } else {
      return badText(field, base, BASE_RULE);
    }
  }
  if (digits === 0 || parts < 2 || parts > 4) return badText(field, base, BASE_RULE);
  return null;
}

export function isValidBaseVersion(base: string): boolean {
  return checkBaseVersion(base, "base") === null;
}

export function checkDisplayName(name: string, field: string): FieldError | null {
  if (typeof name !== "string" || name.length === 0) return badText(field, name, NAME_RULE);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)) return badText(field, name, NAME_RULE);
  }
  if (utf8Length(name) > PROFILE_NAME_MAX_BYTES) return badText(field, name, NAME_RULE);
  return null;
}

function checkU32(value: number, field: string): FieldError | null {
  if (typeof value !== "number" || !(value >= 0 && value <= 0xffffffff) || Math.floor(value) !== value) {
    return {
      field: field,
      value: typeof value === "number" ? decimal(value) : "(not a number)",
      rule: TIME_RULE,
    };
  }
  return null;
}

/** The first rule `record` breaks, or null when every field is valid. */
export function validateProfile(record: ProfileRecord): FieldError | null {
  if (record === null || typeof record !== "object") {
    return { field: "profile", value: "(not an object)", rule: "must be an object with id, name and base" };
  }
  let e = checkProfileId(record.id, "id");
  if (e) return e;
  e = checkDisplayName(record.name, "name");
  if (e) return e;
  e = checkBaseVersion(record.base, "base");
  if (e) return e;
  if (
    typeof record.flags !== "number" ||
    Math.floor(record.flags) !== record.flags ||
    record.flags < 0 ||
    (record.flags & ~PROFILE_FLAGS_KNOWN) !== 0
  ) {
    return {
      field: "flags",
      value: typeof record.flags === "number" ? decimal(record.flags) : "(not a number)",
      rule: FLAGS_RULE,
    };
  }
  e = checkU32(record.created, "created");
  if (e) return e;
  e = checkU32(record.lastUsed, "lastUsed");
  if (e) return e;
  if (record.origin !== "") {
    e = checkProfileId(record.origin, "origin");
    if (e) return e;
    if (record.origin === record.id) {
      return {
        field: "origin",
        value: describeText(record.origin),
        rule: "must not name the profile itself",
      };
    }
  }
  return null;
}

/** Field-by-field equality of two records. */
export function sameProfile(a: ProfileRecord, b: ProfileRecord): boolean {
  return (
    a.id === b.id &&
    a.name === b.name &&
    a.base === b.base &&
    a.flags === b.flags &&
    a.created === b.created &&
    a.lastUsed === b.lastUsed &&
    a.origin === b.origin
  );
}

export type { Bytes };
