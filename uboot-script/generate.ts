// biome-ignore-all lint/suspicious/noTemplateCurlyInString: U-Boot script text uses ${var} on purpose
// Generates boot.cmd (U-Boot hush) from protocol/'s constants, so the script cannot drift from the
// register block layout, the profile rules or the boot-fragment format.
//   npx tsx uboot-script/generate.ts [OUT_DIR]   (npm run uboot:build) -> OUT_DIR/boot.cmd, boot.scr
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CRC32_RESIDUE, hex } from "../protocol/bytes";
import {
  FRAGMENT_DIR,
  FRAGMENT_FILE_MAX,
  FRAGMENT_VAR_KOPTS,
  FRAGMENT_VAR_OVERLAYS,
  KOPTS_EXTRA_CHARS,
  KOPTS_MAX,
  OVERLAY_DIR,
  OVERLAY_NAME_MAX,
  OVERLAYS_MAX,
} from "../protocol/boot-fragment";
import { PROFILE_BASE_MAX, PROFILE_ID_MAX } from "../protocol/profile";
import {
  ACTION_NAMES,
  BLOCK_BASE_FIELD,
  BLOCK_FLAGS_KNOWN,
  BLOCK_ID_FIELD,
  BLOCK_LAYOUT_VERSION,
  BLOCK_LENGTH,
  BLOCK_MAGIC_U32LE,
  BLOCK_REGISTER,
  BlockAction,
  BlockFlag,
  BlockOffset,
  BlockStatus,
  MCU_I2C_ADDRESS,
  REASON_NAMES,
} from "../protocol/register-block";

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS = "0123456789";

/** SLRE character classes written out (no ranges: U-Boot before 2025.10 has none); '-' last. */
export const ID_FIRST_CLASS = "[" + LOWER + DIGITS + "]";
export const ID_REST_CLASS = "[" + LOWER + DIGITS + "_-]";
export const ID_REGEX = "^" + ID_FIRST_CLASS + ID_REST_CLASS + "*$";
const D = "[" + DIGITS + "]";
const NUM = D + D + "?" + D + "?" + D + "?";
export const BASE_REGEX = "^" + NUM + "[.]" + NUM + "([.]" + NUM + ")?([.]" + NUM + ")?$";
/** Each value's allowed characters (validate() replaces every other one before it matches the pattern). */
export const ID_CHARS_CLASS = ID_REST_CLASS;
export const BASE_CHARS_CLASS = "[" + LOWER + DIGITS + "._-]";
const koptsExtra = KOPTS_EXTRA_CHARS.replace("-", "") + (KOPTS_EXTRA_CHARS.indexOf("-") >= 0 ? "-" : "");
export const KOPTS_CLASS = "[" + LOWER + UPPER + DIGITS + koptsExtra + "]";
export const KOPTS_FORBIDDEN_REGEX = "flipper[.]";
export const OVERLAY_CHARS_CLASS = "[" + LOWER + DIGITS + " _-]";
const OVL_NAME = ID_FIRST_CLASS + ID_REST_CLASS + "*";
/** Names separated by single spaces (SLRE's pattern buffer is too small to also count them here). */
export const OVERLAYS_REGEX = "^" + OVL_NAME + "( " + OVL_NAME + ")*$";
/** OVERLAY_NAME_MAX + 1 characters of a name in a row: a name that is too long. */
export const OVERLAY_TOO_LONG_REGEX = "[^ !]".repeat(OVERLAY_NAME_MAX + 1);
/** Longest overlay list a fragment may hold (names and the spaces between them). */
const OVERLAYS_LIST_MAX = OVERLAYS_MAX * (OVERLAY_NAME_MAX + 1);
/** OVERLAYS_MAX spaces: more than OVERLAYS_MAX names. */
export const OVERLAY_TOO_MANY_REGEX = " [^ ]*".repeat(OVERLAYS_MAX - 1) + " ";

/** Environment variables boot.scr honours, with their defaults (documented in README.md). */
export const CONFIG_VARS: Record<string, string> = {
  flipper_i2c_bus: "0",
  flipper_i2c_addr: hex(MCU_I2C_ADDRESS, 2),
  flipper_i2c_reg: hex(BLOCK_REGISTER, 4),
  flipper_pending_polls: "0x32",
  flipper_poll_interval: "0.1",
  flipper_poll_hook: "",
  flipper_scratch: "${kernel_addr_r}",
  flipper_devtype: "${devtype}",
  flipper_devpart: "${devnum}:${distro_bootpart}",
  flipper_kernel: "Image",
  flipper_initrd: "initrd.img",
  flipper_fdtfile: "${fdtfile}",
  flipper_bootcmd: "booti",
  flipper_select_only: "",
  flipper_noboot: "",
};
/** Saved-environment fallback (fw_setenv from Linux, or saveenv). */
export const SAVED_VARS = ["flipper_profile", "flipper_base"];

const q = (s: string) => "'" + s + "'";

/** Address arithmetic: `setexpr fl_a BASE + OFF` then `*${fl_a}`. */
function at(base: string, off: number): string {
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
function exportVar(name: string, max: number): string[] {
  const prefix = name.length + 1;
  return [
    "setenv fl_ok 0",
    "mw.b ${fl_exp} 0 800",
    "if env export -b -s 400 ${fl_exp} " + name + "; then",
    "  " + at("fl_exp", prefix + max),
    "  if itest.b *${fl_a} == 0; then setenv fl_ok 1; fi",
    "fi",
    "setexpr fl_p ${fl_exp} + " + hex(prefix, 1),
  ];
}

function indent(lines: string[], n: number): string[] {
  const pad = " ".repeat(n);
  return lines.map((l) => pad + l);
}

/** Chooses from the saved environment or falls back to recovery; ${fl_why} holds the block's problem. */
function savedEnvFallback(): string[] {
  return [
    ...exportVar("flipper_profile", PROFILE_ID_MAX),
    "if itest.b *${fl_p} == 0; then",
    "  setenv fl_envwhy 'no saved env profile'",
    "elif itest ${fl_ok} == 0; then",
    "  setenv fl_envwhy 'saved env profile invalid'",
    "else",
    ...indent(validate(ID_CHARS_CLASS, ID_REGEX, [], false, PROFILE_ID_MAX), 2),
    "  if itest ${fl_ok} == 0; then",
    "    setenv fl_envwhy 'saved env profile invalid'",
    "  else",
    '    setenv fl_eid "${fl_val}"',
    ...indent(exportVar("flipper_base", PROFILE_BASE_MAX), 4),
    "    if itest.b *${fl_p} == 0; then",
    "      setenv fl_envwhy 'saved env base missing'",
    "    elif itest ${fl_ok} == 0; then",
    "      setenv fl_envwhy 'saved env base invalid'",
    "    else",
    ...indent(validate(BASE_CHARS_CLASS, BASE_REGEX, [], false, PROFILE_BASE_MAX), 6),
    "      if itest ${fl_ok} == 0; then",
    "        setenv fl_envwhy 'saved env base invalid'",
    "      else",
    '        setenv fl_id "${fl_eid}"; setenv fl_bs "${fl_val}"; setenv fl_act boot; setenv fl_chosen env',
    '        echo "flipper: ${fl_why}, using saved env profile ${fl_id} base ${fl_bs}"',
    "      fi",
    "    fi",
    "  fi",
    "fi",
    'if test "${fl_chosen}" != env; then',
    "  setenv fl_id; setenv fl_bs; setenv fl_act recovery; setenv fl_chosen default",
    '  echo "flipper: ${fl_why}, ${fl_envwhy}, using recovery"',
    "fi",
  ];
}

/** Reads and checks the block; on success sets fl_id, fl_bs, fl_act, fl_rsn, fl_flg and fl_chosen=block. */
function readBlock(): string[] {
  const O = BlockOffset;
  const actions: string[] = [];
  for (let a = 1; a < ACTION_NAMES.length; a++) {
    actions.push(
      (a === 1 ? "if" : "elif") +
        " itest.b *${fl_a} == " +
        hex(a, 1) +
        "; then setenv fl_act " +
        ACTION_NAMES[a],
    );
  }
  actions.push("else setenv fl_why 'block invalid action'; fi");
  const reasons: string[] = [];
  for (let r = 1; r < REASON_NAMES.length; r++) {
    reasons.push(
      (r === 1 ? "if" : "elif") +
        " itest.b *${fl_a} == " +
        hex(r, 1) +
        "; then setenv fl_rsn " +
        REASON_NAMES[r],
    );
  }
  reasons.push("else setenv fl_why 'block invalid reason'; fi");
  return [
    "setenv fl_n 0; setenv fl_again 1",
    'while test "${fl_again}" = 1; do',
    "  setenv fl_again 0; setenv fl_why",
    "  mw.b ${fl_blk} 0 " + hex(BLOCK_LENGTH, 1),
    "  if i2c dev ${fl_bus}; then",
    "    if i2c read ${fl_addr} ${fl_reg}.2 " + hex(BLOCK_LENGTH, 1) + " ${fl_blk}; then",
    "      crc32 ${fl_blk} " + hex(BLOCK_LENGTH, 1) + " ${fl_crc}",
    "      " + at("fl_blk", O.VERSION),
    "      setexpr fl_b ${fl_blk} + " + hex(O.LENGTH, 1),
    "      if itest.l *${fl_blk} != " + hex(BLOCK_MAGIC_U32LE, 8) + "; then setenv fl_why 'block bad magic'",
    "      elif itest.b *${fl_a} != " +
      hex(BLOCK_LAYOUT_VERSION, 1) +
      "; then setenv fl_why 'block unknown layout version'",
    "      elif itest.b *${fl_b} != " + hex(BLOCK_LENGTH, 1) + "; then setenv fl_why 'block bad length'",
    "      elif itest.l *${fl_crc} != " +
      hex(CRC32_RESIDUE, 8) +
      " && itest.l *${fl_crc} != " +
      hex(
        ((CRC32_RESIDUE & 0xff) << 24) |
          ((CRC32_RESIDUE & 0xff00) << 8) |
          ((CRC32_RESIDUE >>> 8) & 0xff00) |
          (CRC32_RESIDUE >>> 24),
        8,
      ) +
      "; then setenv fl_why 'block bad CRC'",
    "      else",
    "        " + at("fl_blk", O.STATUS),
    "        if itest.b *${fl_a} == " + hex(BlockStatus.PENDING, 1) + "; then",
    "          if itest ${fl_n} < ${fl_polls}; then",
    "            setexpr fl_n ${fl_n} + 1; setenv fl_again 1",
    "            sleep ${fl_int}",
    '            if test -n "${flipper_poll_hook}"; then run flipper_poll_hook; fi',
    "          else",
    "            setenv fl_why 'block still pending after timeout'",
    "          fi",
    "        elif itest.b *${fl_a} == " + hex(BlockStatus.EMPTY, 1) + "; then setenv fl_why 'block empty'",
    "        elif itest.b *${fl_a} != " +
      hex(BlockStatus.FINAL, 1) +
      "; then setenv fl_why 'block invalid status'",
    "        fi",
    "      fi",
    "    else",
    '      setenv fl_why "no MCU answer at 0x${fl_addr} on i2c bus ${fl_bus}"',
    "    fi",
    "  else",
    '    setenv fl_why "i2c bus ${fl_bus} not available"',
    "  fi",
    "done",
    'if test -z "${fl_why}"; then',
    "  " + at("fl_blk", O.ACTION),
    ...indent(actions, 2),
    "fi",
    'if test -z "${fl_why}"; then',
    "  " + at("fl_blk", O.REASON),
    ...indent(reasons, 2),
    "  " + at("fl_blk", O.FLAGS),
    "  setexpr.b fl_flg *${fl_a}",
    '  setexpr fl_x ${fl_flg} "&" ' + hex(~BLOCK_FLAGS_KNOWN & 0xff, 2),
    "  if itest ${fl_x} != 0; then setenv fl_why 'block invalid flags'; fi",
    "fi",
    'if test -z "${fl_why}"; then',
    "  " + at("fl_blk", O.PROFILE_ID + BLOCK_ID_FIELD - 1),
    "  setexpr fl_b ${fl_blk} + " + hex(O.BASE + BLOCK_BASE_FIELD - 1, 1),
    "  setexpr fl_p ${fl_blk} + " + hex(O.PROFILE_ID, 1),
    "  if itest.b *${fl_a} != 0; then setenv fl_why 'block invalid profile id'",
    "  elif itest.b *${fl_b} != 0; then setenv fl_why 'block invalid base version'",
    "  elif itest.b *${fl_p} == 0; then",
    "    setexpr fl_p ${fl_blk} + " + hex(O.BASE, 1),
    '    if test "${fl_act}" != ' +
      ACTION_NAMES[BlockAction.RECOVERY] +
      "; then setenv fl_why 'block invalid profile id'",
    "    elif itest.b *${fl_p} != 0; then setenv fl_why 'block invalid base version'",
    "    else setenv fl_id; setenv fl_bs",
    "    fi",
    "  else",
    ...indent(validate(ID_CHARS_CLASS, ID_REGEX, [], false, BLOCK_ID_FIELD - 1), 4),
    "    if itest ${fl_ok} == 0; then setenv fl_why 'block invalid profile id'; else",
    '      setenv fl_id "${fl_val}"',
    "      setexpr fl_p ${fl_blk} + " + hex(O.BASE, 1),
    ...indent(validate(BASE_CHARS_CLASS, BASE_REGEX, [], false, BLOCK_BASE_FIELD - 1), 6),
    "      if itest ${fl_ok} == 0; then setenv fl_why 'block invalid base version'; else",
    '        setenv fl_bs "${fl_val}"',
    "      fi",
    "    fi",
    "  fi",
    "fi",
    "# The fields must be NUL-padded: compare them with a zero-filled binary export of the checked values.",
    'if test -z "${fl_why}"; then',
    "  mw.b ${fl_exp} 0 800; env export -b -s 400 ${fl_exp} fl_id",
    "  " + at("fl_exp", "fl_id=".length),
    "  setexpr fl_b ${fl_blk} + " + hex(O.PROFILE_ID, 1),
    "  if cmp.b ${fl_a} ${fl_b} " +
      hex(BLOCK_ID_FIELD, 1) +
      "; then true; else setenv fl_why 'block invalid profile id'; fi",
    "  mw.b ${fl_exp} 0 800; env export -b -s 400 ${fl_exp} fl_bs",
    "  " + at("fl_exp", "fl_bs=".length),
    "  setexpr fl_b ${fl_blk} + " + hex(O.BASE, 1),
    "  if cmp.b ${fl_a} ${fl_b} " +
      hex(BLOCK_BASE_FIELD, 1) +
      "; then true; else setenv fl_why 'block invalid base version'; fi",
    "fi",
    'if test -z "${fl_why}"; then',
    "  setenv fl_chosen block",
    '  setexpr fl_x ${fl_flg} "&" ' + hex(BlockFlag.ONE_SHOT, 1),
    '  if itest ${fl_x} != 0; then setenv fl_rsn "${fl_rsn}, one-shot"; fi',
    '  setexpr fl_x ${fl_flg} "&" ' + hex(BlockFlag.FALLBACK, 1),
    '  if itest ${fl_x} != 0; then setenv fl_rsn "${fl_rsn}, fallback"; fi',
    '  if test -n "${fl_id}"; then',
    '    if test "${fl_act}" = ' +
      ACTION_NAMES[BlockAction.BOOT] +
      '; then setenv fl_x ""; else setenv fl_x " action ${fl_act}"; fi',
    '    echo "flipper: booting profile ${fl_id} base ${fl_bs}${fl_x} (reason ${fl_rsn})"',
    "  else",
    '    echo "flipper: booting ${fl_act} without a profile (reason ${fl_rsn})"',
    "  fi",
    "else",
    ...indent(savedEnvFallback(), 2),
    "fi",
  ];
}

/**
 * Sets fl_fok=2 when the ${fl_len} bytes at ${fl_frag} (followed by a NUL) hold no NUL byte. `env import`
 * stops at the first NUL, so a fragment with one would be half used. The text is copied up to its first
 * NUL (setexpr.s) and exported into zeroed memory: the text's last byte there is non-zero only when the
 * copy is ${fl_len} bytes long. (`env export` sets filesize: hence fl_len.)
 */
function nulCheck(): string[] {
  return [
    "if itest ${fl_len} == 0; then setenv fl_fok 2; else",
    "  setenv fl_x; setexpr.s fl_x *${fl_frag}",
    "  mw.b ${fl_exp} 0 800",
    "  if env export -b -s 400 ${fl_exp} fl_x; then",
    "    setexpr fl_a ${fl_exp} + ${fl_len}; setexpr fl_a ${fl_a} + " + hex("fl_x=".length - 1, 1),
    "    if itest.b *${fl_a} != 0; then setenv fl_fok 2; fi",
    "  fi",
    "  setenv fl_x",
    "fi",
  ];
}

/** Loads flipper/<id>.env and checks it; sets fl_kopts and fl_ovls. */
function fragment(): string[] {
  const path = FRAGMENT_DIR + "/${fl_id}.env";
  return [
    "setenv fl_kopts; setenv fl_ovls",
    'if test -n "${fl_id}" && test -n "${fl_dt}"; then',
    "  if test -e ${fl_dt} ${fl_dp} " + path + "; then",
    "    setenv fl_fok 0",
    "    setenv " + FRAGMENT_VAR_KOPTS + "; setenv " + FRAGMENT_VAR_OVERLAYS,
    // At most FRAGMENT_FILE_MAX + 1 bytes are read, into zeroed memory: the text is NUL-terminated.
    "    mw.b ${fl_frag} 0 " + hex(FRAGMENT_FILE_MAX + 1, 1),
    "    if load ${fl_dt} ${fl_dp} ${fl_frag} " +
      path +
      " " +
      hex(FRAGMENT_FILE_MAX + 1, 1) +
      " && itest ${filesize} -le " +
      hex(FRAGMENT_FILE_MAX, 1) +
      "; then",
    "      setenv fl_len ${filesize}",
    ...indent(nulCheck(), 6),
    "    fi",
    "    if itest ${fl_fok} == 2; then",
    "      # An import that fails part-way (a line with an empty name) may have set a variable: invalid.",
    "      if itest ${fl_len} != 0 && env import -t ${fl_frag} ${fl_len} " +
      FRAGMENT_VAR_KOPTS +
      " " +
      FRAGMENT_VAR_OVERLAYS +
      "; then true; elif itest ${fl_len} != 0; then setenv fl_fok 0; fi",
    "    fi",
    "    if itest ${fl_fok} == 2; then",
    ...indent(exportVar(FRAGMENT_VAR_KOPTS, KOPTS_MAX), 6),
    "      if itest ${fl_ok} == 1; then",
    ...indent(validate(KOPTS_CLASS, "^" + KOPTS_CLASS + "*$", [KOPTS_FORBIDDEN_REGEX], true, KOPTS_MAX), 8),
    "      fi",
    "      if itest ${fl_ok} == 1; then",
    '        setenv fl_kopts "${fl_val}"',
    ...indent(exportVar(FRAGMENT_VAR_OVERLAYS, OVERLAYS_LIST_MAX), 8),
    "        if itest ${fl_ok} == 1; then",
    ...indent(
      validate(
        OVERLAY_CHARS_CLASS,
        OVERLAYS_REGEX,
        [OVERLAY_TOO_LONG_REGEX, OVERLAY_TOO_MANY_REGEX],
        true,
        OVERLAYS_LIST_MAX,
      ),
      10,
    ),
    "        fi",
    "        if itest ${fl_ok} == 1; then",
    '          setenv fl_ovls "${fl_val}"; setenv fl_fok 1',
    "        fi",
    "      fi",
    "    fi",
    "    setenv " + FRAGMENT_VAR_KOPTS + "; setenv " + FRAGMENT_VAR_OVERLAYS,
    "    if itest ${fl_fok} != 1; then",
    "      setenv fl_kopts; setenv fl_ovls",
    '      echo "flipper: fragment ' + path + ' invalid, ignored"',
    "    fi",
    "  fi",
    "fi",
  ];
}

/** The bootargs-deciding section (usable alone with flipper_select_only=1). */
function selectSection(): string[] {
  const lines: string[] = [];
  for (const name of Object.keys(CONFIG_VARS)) {
    const short: Record<string, string> = {
      flipper_i2c_bus: "fl_bus",
      flipper_i2c_addr: "fl_addr",
      flipper_i2c_reg: "fl_reg",
      flipper_pending_polls: "fl_polls",
      flipper_poll_interval: "fl_int",
      flipper_scratch: "fl_s",
      flipper_devtype: "fl_dt",
      flipper_devpart: "fl_dp",
      flipper_kernel: "fl_kernel",
      flipper_initrd: "fl_initrd",
      flipper_fdtfile: "fl_fdtfile",
      flipper_bootcmd: "fl_bootcmd",
    };
    const v = short[name];
    if (!v) continue;
    const dflt = CONFIG_VARS[name];
    lines.push(
      'if test -n "${' +
        name +
        '}"; then setenv ' +
        v +
        ' "${' +
        name +
        '}"; else setenv ' +
        v +
        ' "' +
        dflt +
        '"; fi',
    );
  }
  lines.push(
    "setenv fl_chosen; setenv fl_id; setenv fl_bs; setenv fl_act; setenv fl_rsn; setenv fl_envwhy",
    "# Scratch RAM. A binary `env export` zero-fills CONFIG_ENV_SIZE bytes whatever -s says: its buffer is last.",
    "setexpr fl_blk ${fl_s} + 0; setexpr fl_crc ${fl_s} + 100; setexpr fl_t ${fl_s} + 800; setexpr fl_frag ${fl_s} + 1000",
    "setexpr fl_ovl ${fl_s} + 10000; setexpr fl_fdtbak ${fl_s} + 100000; setexpr fl_exp ${fl_s} + 200000",
    ...readBlock(),
    ...fragment(),
    "# Build the whole addition first, then change bootargs with one setenv.",
    'if test -n "${fl_id}"; then',
    '  setenv fl_add "flipper.profile=${fl_id} flipper.base=${fl_bs}"',
    '  if test "${fl_act}" != ' +
      ACTION_NAMES[BlockAction.BOOT] +
      '; then setenv fl_add "${fl_add} flipper.action=${fl_act}"; fi',
    "else",
    '  setenv fl_add "flipper.action=${fl_act}"',
    "fi",
    'if test -n "${fl_kopts}"; then setenv fl_add "${fl_add} ${fl_kopts}"; fi',
    'setenv fl_obargs "${bootargs}"',
    'if test -n "${bootargs}"; then setenv bootargs "${bootargs} ${fl_add}"; else setenv bootargs "${fl_add}"; fi',
  );
  return lines;
}

/** Loads the DTB, applies the profile's overlays (each on a backup copy), loads kernel + initramfs, boots. */
function bootSection(): string[] {
  const dev = "${fl_dt} ${fl_dp}";
  return [
    'if test "${flipper_select_only}" = 1; then',
    "  true",
    "elif load " + dev + " ${fdt_addr_r} ${fl_fdtfile}; then",
    "  fdt addr ${fdt_addr_r}; fdt resize 10000",
    "  for fl_o in ${fl_ovls}; do",
    "    if load " + dev + " ${fl_ovl} " + OVERLAY_DIR + "/${fl_o}.dtbo; then",
    "      fdt header get fl_fsz totalsize",
    "      cp.b ${fdt_addr_r} ${fl_fdtbak} ${fl_fsz}",
    "      if fdt apply ${fl_ovl}; then",
    '        echo "flipper: overlay ${fl_o} applied"',
    "      else",
    "        cp.b ${fl_fdtbak} ${fdt_addr_r} ${fl_fsz}; fdt addr ${fdt_addr_r}",
    '        echo "flipper: overlay ${fl_o} failed to apply, skipped"',
    "      fi",
    "    else",
    '      echo "flipper: overlay ${fl_o} missing, skipped"',
    "    fi",
    "  done",
    "  if load " +
      dev +
      " ${kernel_addr_r} ${fl_kernel} && load " +
      dev +
      " ${ramdisk_addr_r} ${fl_initrd}; then",
    '    setenv fl_boot "${fl_bootcmd} ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdt_addr_r}"',
    '    if test "${flipper_noboot}" = 1; then',
    '      echo "flipper: not booting (flipper_noboot=1): ${fl_boot}"',
    "    else",
    "      run fl_boot",
    "    fi",
    "  else",
    '    setenv bootargs "${fl_obargs}"',
    '    echo "flipper: cannot load ${fl_kernel} or ${fl_initrd}, not booting"',
    "  fi",
    "else",
    '  setenv bootargs "${fl_obargs}"',
    '  echo "flipper: cannot load ${fl_fdtfile}, not booting"',
    "fi",
  ];
}

export function generateBootCmd(): string {
  return (
    [
      "# Flipper One boot.scr: reads the MCU's boot selection over I2C, checks it, falls back safely,",
      "# and boots it. GENERATED by uboot-script/generate.ts from protocol/ - do not edit.",
      "# Block: " +
        BLOCK_LENGTH +
        " bytes at register 0x" +
        hex(BLOCK_REGISTER, 4) +
        " of 0x" +
        hex(MCU_I2C_ADDRESS, 2) +
        ", layout " +
        BLOCK_LAYOUT_VERSION +
        ", magic 0x" +
        hex(BLOCK_MAGIC_U32LE, 8) +
        ".",
      ...selectSection(),
      ...bootSection(),
    ].join("\n") + "\n"
  );
}

/** Every fl_* variable the script uses (the harness clears them between cases). */
export function internalVars(script: string): string[] {
  const set = new Set<string>();
  for (const m of script.matchAll(/\bfl_[a-z_]+/g)) set.add(m[0]);
  return [...set].sort();
}

export function buildBootScript(outDir: string, arch = "arm"): { cmd: string; scr: string } {
  mkdirSync(outDir, { recursive: true });
  const cmd = join(outDir, "boot.cmd");
  const scr = join(outDir, "boot.scr");
  writeFileSync(cmd, generateBootCmd());
  execFileSync(
    "mkimage",
    ["-A", arch, "-O", "linux", "-T", "script", "-C", "none", "-n", "flipper boot", "-d", cmd, scr],
    {
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  return { cmd, scr };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ?? join(resolve(fileURLToPath(import.meta.url), "..", ".."), "build", "uboot");
  const arch = process.argv[3] ?? "arm";
  const r = buildBootScript(out, arch);
  console.log("wrote " + r.cmd + " and " + r.scr + " (mkimage -A " + arch + ")");
}

const KEYWORDS = new Set(["if", "elif", "while", "then", "else", "do", "fi", "done", "for"]);

/**
 * Returns `script` with a counter increment (`setexpr fl_cc ${fl_cc} + 1`) before every simple command,
 * so a run leaves the number of U-Boot commands it executed in fl_cc (hex). For the benchmark only.
 */
export function instrumentCommandCount(script: string): string {
  const C = "setexpr fl_cc ${fl_cc} + 1";
  const out: string[] = ["setenv fl_cc 0"];
  for (const line of script.split("\n")) {
    if (line.trim().startsWith("#") || line.trim() === "") {
      out.push(line);
      continue;
    }
    let res = "";
    let i = 0;
    let atCmd = true;
    let quote = "";
    while (i < line.length) {
      if (atCmd) {
        const ws = /^\s*/.exec(line.slice(i))![0];
        res += ws;
        i += ws.length;
        const word = /^[^\s;]*/.exec(line.slice(i))![0];
        if (KEYWORDS.has(word)) {
          res += word;
          i += word.length;
          atCmd = word !== "fi" && word !== "done" && word !== "for";
          continue;
        }
        if (word === "") {
          atCmd = false;
          continue;
        }
        res += C + (line.slice(0, i).trimEnd().endsWith("&&") ? " && " : "; ");
        atCmd = false;
        continue;
      }
      const ch = line[i];
      if (quote) {
        if (ch === quote) quote = "";
      } else if (ch === "'" || ch === '"') quote = ch;
      else if (ch === ";" || (ch === "&" && line[i + 1] === "&")) {
        const len = ch === ";" ? 1 : 2;
        res += line.slice(i, i + len);
        i += len;
        atCmd = true;
        continue;
      }
      res += ch;
      i++;
    }
    out.push(res);
  }
  return out.join("\n");
}
