// biome-ignore-all lint/suspicious/noTemplateCurlyInString: U-Boot script text uses ${var} on purpose
// boot.scr's choice: read the MCU's register block over I2C (polling while it is PENDING), check every
// field, and fall back to the saved environment, then to recovery, saying why in one `flipper:` line.
import { CRC32_RESIDUE, hex } from "../protocol/bytes";
import { PROFILE_BASE_MAX, PROFILE_ID_MAX } from "../protocol/profile";
import {
  ACTION_NAMES,
  BLOCK_BASE_FIELD,
  BLOCK_FLAGS_KNOWN,
  BLOCK_ID_FIELD,
  BLOCK_LAYOUT_VERSION,
  BLOCK_LENGTH,
  BLOCK_MAGIC_U32LE,
  BlockAction,
  BlockFlag,
  BlockOffset,
  BlockStatus,
  REASON_NAMES,
} from "../protocol/register-block";
import { CLEAR_EXPORT, envExport } from "./script-layout";
import { at, checkBase, checkId, exportVar, indent } from "./script-values";

/** Chooses from the saved environment or falls back to recovery; ${fl_why} holds the block's problem. */
function savedEnvFallback(): string[] {
  return [
    ...exportVar("flipper_profile", PROFILE_ID_MAX),
    "if itest.b *${fl_p} == 0; then",
    "  setenv fl_envwhy 'no saved env profile'",
    "elif itest ${fl_ok} == 0; then",
    "  setenv fl_envwhy 'saved env profile invalid'",
    "else",
    ...indent(checkId(PROFILE_ID_MAX), 2),
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
    ...indent(checkBase(PROFILE_BASE_MAX), 6),
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

/** Sets fl_why to `why` unless the block's `field` bytes at `offset` equal `variable`'s value, NUL-padded. */
function samePadded(variable: string, offset: number, field: number, why: string): string[] {
  return [
    CLEAR_EXPORT + "; " + envExport(variable),
    at("fl_exp", (variable + "=").length),
    "setexpr fl_b ${fl_blk} + " + hex(offset, 1),
    "if cmp.b ${fl_a} ${fl_b} " + hex(field, 1) + "; then true; else setenv fl_why '" + why + "'; fi",
  ];
}

/** Sets `variable` to names[code] for the byte at ${fl_a} (codes from 1), else fl_why to `why`. */
function nameByCode(names: readonly string[], variable: string, why: string): string[] {
  const lines: string[] = [];
  for (let code = 1; code < names.length; code++) {
    lines.push(
      (code === 1 ? "if" : "elif") +
        " itest.b *${fl_a} == " +
        hex(code, 1) +
        "; then setenv " +
        variable +
        " " +
        names[code],
    );
  }
  lines.push("else setenv fl_why '" + why + "'; fi");
  return lines;
}

/** Reads and checks the block; on success sets fl_id, fl_bs, fl_act, fl_rsn, fl_flg and fl_chosen=block. */
export function readBlock(): string[] {
  const O = BlockOffset;
  const actions = nameByCode(ACTION_NAMES, "fl_act", "block invalid action");
  const reasons = nameByCode(REASON_NAMES, "fl_rsn", "block invalid reason");
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
    ...indent(checkId(BLOCK_ID_FIELD - 1), 4),
    "    if itest ${fl_ok} == 0; then setenv fl_why 'block invalid profile id'; else",
    '      setenv fl_id "${fl_val}"',
    "      setexpr fl_p ${fl_blk} + " + hex(O.BASE, 1),
    ...indent(checkBase(BLOCK_BASE_FIELD - 1), 6),
    "      if itest ${fl_ok} == 0; then setenv fl_why 'block invalid base version'; else",
    '        setenv fl_bs "${fl_val}"',
    "      fi",
    "    fi",
    "  fi",
    "fi",
    "# The fields must be NUL-padded: compare them with a zero-filled binary export of the checked values.",
    'if test -z "${fl_why}"; then',
    ...indent(samePadded("fl_id", O.PROFILE_ID, BLOCK_ID_FIELD, "block invalid profile id"), 2),
    ...indent(samePadded("fl_bs", O.BASE, BLOCK_BASE_FIELD, "block invalid base version"), 2),
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
