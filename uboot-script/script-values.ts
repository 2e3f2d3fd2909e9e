// biome-ignore-all lint/suspicious/noTemplateCurlyInString: U-Boot script text uses ${var} on purpose
// How boot.scr checks an untrusted value without ever expanding it in hush: the allowed character sets
// and patterns (from protocol/'s rules, written for U-Boot's SLRE) and the script pieces that apply them.
import { hex } from "../protocol/bytes";
import { KOPTS_EXTRA_CHARS, KOPTS_MAX, OVERLAY_NAME_MAX, OVERLAYS_MAX } from "../protocol/boot-fragment";
import { CLEAR_EXPORT, envExport } from "./script-layout";

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS = "0123456789";

/** SLRE character classes written out (no ranges: U-Boot before 2025.10 has none); '-' last. */
const ID_FIRST_CLASS = "[" + LOWER + DIGITS + "]";
const ID_REST_CLASS = "[" + LOWER + DIGITS + "_-]";
const ID_REGEX = "^" + ID_FIRST_CLASS + ID_REST_CLASS + "*$";
const D = "[" + DIGITS + "]";
const NUM = D + D + "?" + D + "?" + D + "?";
const BASE_REGEX = "^" + NUM + "[.]" + NUM + "([.]" + NUM + ")?([.]" + NUM + ")?$";
/** Each value's allowed characters (validate() replaces every other one before it matches the pattern). */
const ID_CHARS_CLASS = ID_REST_CLASS;
const BASE_CHARS_CLASS = "[" + LOWER + DIGITS + "._-]";
const koptsExtra = KOPTS_EXTRA_CHARS.replace("-", "") + (KOPTS_EXTRA_CHARS.indexOf("-") >= 0 ? "-" : "");
const KOPTS_CLASS = "[" + LOWER + UPPER + DIGITS + koptsExtra + "]";
const KOPTS_FORBIDDEN_REGEX = "flipper[.]";
const OVERLAY_CHARS_CLASS = "[" + LOWER + DIGITS + " _-]";
const OVL_NAME = ID_FIRST_CLASS + ID_REST_CLASS + "*";
/** Names separated by single spaces (SLRE's pattern buffer is too small to also count them here). */
const OVERLAYS_REGEX = "^" + OVL_NAME + "( " + OVL_NAME + ")*$";
/** OVERLAY_NAME_MAX + 1 characters of a name in a row: a name that is too long. */
const OVERLAY_TOO_LONG_REGEX = "[^ !]".repeat(OVERLAY_NAME_MAX + 1);
/** Longest overlay list a fragment may hold (names and the spaces between them). */
export const OVERLAYS_LIST_MAX = OVERLAYS_MAX * (OVERLAY_NAME_MAX + 1);
/** OVERLAYS_MAX spaces: more than OVERLAYS_MAX names. */
const OVERLAY_TOO_MANY_REGEX = " [^ ]*".repeat(OVERLAYS_MAX - 1) + " ";

const q = (s: string) => "'" + s + "'";

/** Address arithmetic: `setexpr fl_a BASE + OFF` then `*${fl_a}`. */
export function at(base: string, off: number): string {
  return "setexpr fl_a ${" + base + "} + " + hex(off, 1);
}

/**
 * The character every value handed to `setexpr sub/gsub` starts with. U-Boot before 2024.07 prints
 * `<value>: No match` when a pattern does not match, and every build before 2024.07 prints `NAME=<result>`
 * after a substitution: with this prefix, and with every character outside the allowed set replaced by it
 * first, no line U-Boot prints can begin with untrusted text (so none can be a forged `flipper:` line),
 * and no line break can reach the console. It is in no allowed set.
 */
export const REGEX_PREFIX = "!";
const PREFIX_HEX = hex(REGEX_PREFIX.charCodeAt(0), 2);

/** `[abc]` -> `[^abc]`. */
function negate(cls: string): string {
  return "[^" + cls.slice(1);
}

/**
 * Checks the NUL-terminated string at memory ${fl_p} (at most `max` bytes: the caller has checked that)
 * without ever expanding it in hush (values with quotes or `$` would be re-parsed by hush):
 * 1. copy it behind REGEX_PREFIX in scratch memory and from there into fl_v (setexpr.s);
 * 2. one `gsub` replaces every character outside `allowed`, and every `forbidden` match, with the prefix
 *    character (it always matches: the prefix itself is outside `allowed`);
 * 3. `sub` matches the full pattern behind the prefix, replacing it by `ok` (a sentinel: no-match returns
 *    1 and keeps the value before 2024.07, 0 and the value after).
 * Sets fl_ok=1 and fl_val=<value> when valid.
 */
function validate(
  allowed: string,
  full: string,
  forbiddenList: string[],
  allowEmpty: boolean,
  max: number,
): string[] {
  const P = REGEX_PREFIX;
  const first = forbiddenList.length > 0 ? negate(allowed) + "|" + forbiddenList[0] : negate(allowed);
  const more = forbiddenList.slice(1).map((f) => "  setexpr fl_v gsub " + q(P + "|" + f) + " " + q(P));
  return [
    "setenv fl_ok 0",
    "if itest.b *${fl_p} == 0; then",
    allowEmpty ? "  setenv fl_ok 1; setenv fl_val" : "  true",
    "else",
    "  mw.b ${fl_t} " + PREFIX_HEX + " 1; setexpr fl_q ${fl_t} + 1; cp.b ${fl_p} ${fl_q} " + hex(max + 1, 1),
    "  setenv fl_v; setexpr.s fl_v *${fl_t}",
    "  if setexpr fl_v gsub " + q(first) + " " + q(P) + "; then true; else setenv fl_v; fi",
    ...more,
    "  setexpr fl_v sub " + q("^" + P + full.slice(1)) + " ok",
    '  if test "${fl_v}" = ok; then',
    "    setenv fl_ok 1; setenv fl_val; setexpr.s fl_val *${fl_p}",
    "  fi",
    "fi",
  ];
}

/** Exports variable `name` as binary env into ${fl_exp}; fl_p -> its value; fl_ok=0 when longer than max. */
export function exportVar(name: string, max: number): string[] {
  const prefix = name.length + 1;
  return [
    "setenv fl_ok 0",
    CLEAR_EXPORT,
    "if " + envExport(name) + "; then",
    "  " + at("fl_exp", prefix + max),
    "  if itest.b *${fl_a} == 0; then setenv fl_ok 1; fi",
    "fi",
    "setexpr fl_p ${fl_exp} + " + hex(prefix, 1),
  ];
}

export function indent(lines: string[], n: number): string[] {
  const pad = " ".repeat(n);
  return lines.map((l) => pad + l);
}

/** A profile id of at most `max` bytes at ${fl_p} (protocol/profile.ts's pattern). */
export function checkId(max: number): string[] {
  return validate(ID_CHARS_CLASS, ID_REGEX, [], false, max);
}

/** A base version of at most `max` bytes at ${fl_p}. */
export function checkBase(max: number): string[] {
  return validate(BASE_CHARS_CLASS, BASE_REGEX, [], false, max);
}

/** A fragment's kernel options at ${fl_p} (may be empty; no `flipper.` option). */
export function checkKopts(): string[] {
  return validate(KOPTS_CLASS, "^" + KOPTS_CLASS + "*$", [KOPTS_FORBIDDEN_REGEX], true, KOPTS_MAX);
}

/** A fragment's overlay list at ${fl_p} (may be empty; at most OVERLAYS_MAX names of OVERLAY_NAME_MAX). */
export function checkOverlays(): string[] {
  return validate(
    OVERLAY_CHARS_CLASS,
    OVERLAYS_REGEX,
    [OVERLAY_TOO_LONG_REGEX, OVERLAY_TOO_MANY_REGEX],
    true,
    OVERLAYS_LIST_MAX,
  );
}
