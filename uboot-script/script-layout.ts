// biome-ignore-all lint/suspicious/noTemplateCurlyInString: U-Boot script text uses ${var} on purpose
// The boot script's variables and scratch memory, named once: the settings boot.scr honours (each copied
// into a short working variable, with its default), the saved-environment fallback, and the slots of
// scratch RAM at ${flipper_scratch}. The script's text is generated from these tables.
import { hex } from "../protocol/bytes";
import { FRAGMENT_VAR_KOPTS, FRAGMENT_VAR_OVERLAYS } from "../protocol/boot-fragment";
import { BLOCK_REGISTER, MCU_I2C_ADDRESS } from "../protocol/register-block";

/** An environment variable boot.scr honours; `working` is the fl_* copy the script reads (none: read as is). */
export interface Setting {
  variable: string;
  default: string;
  working?: string;
}

/** The settings, with their defaults (documented in README.md), in the order the script copies them. */
export const SETTINGS: Setting[] = [
  { variable: "flipper_i2c_bus", default: "0", working: "fl_bus" },
  { variable: "flipper_i2c_addr", default: hex(MCU_I2C_ADDRESS, 2), working: "fl_addr" },
  { variable: "flipper_i2c_reg", default: hex(BLOCK_REGISTER, 4), working: "fl_reg" },
  { variable: "flipper_pending_polls", default: "0x32", working: "fl_polls" },
  { variable: "flipper_poll_interval", default: "0.1", working: "fl_int" },
  { variable: "flipper_poll_hook", default: "" },
  { variable: "flipper_scratch", default: "${kernel_addr_r}", working: "fl_s" },
  { variable: "flipper_devtype", default: "${devtype}", working: "fl_dt" },
  { variable: "flipper_devpart", default: "${devnum}:${distro_bootpart}", working: "fl_dp" },
  { variable: "flipper_kernel", default: "Image", working: "fl_kernel" },
  { variable: "flipper_initrd", default: "initrd.img", working: "fl_initrd" },
  { variable: "flipper_fdtfile", default: "${fdtfile}", working: "fl_fdtfile" },
  { variable: "flipper_bootcmd", default: "booti", working: "fl_bootcmd" },
  { variable: "flipper_select_only", default: "" },
  { variable: "flipper_noboot", default: "" },
];

/** Setting -> default, as README.md's table lists them. */
export const CONFIG_VARS: Record<string, string> = Object.fromEntries(
  SETTINGS.map((s) => [s.variable, s.default]),
);

/** Saved-environment fallback (fw_setenv from Linux, or saveenv). */
export const SAVED_VARS = ["flipper_profile", "flipper_base"];

/** Lines that copy each setting into its working variable, or its default when unset. */
export function settingsLines(): string[] {
  return SETTINGS.filter((s) => s.working !== undefined).map(
    (s) =>
      'if test -n "${' +
      s.variable +
      '}"; then setenv ' +
      s.working +
      ' "${' +
      s.variable +
      '}"; else setenv ' +
      s.working +
      ' "' +
      s.default +
      '"; fi',
  );
}

/** A region of scratch RAM; the script keeps its address in `variable`. */
export interface ScratchSlot {
  variable: string;
  /** Bytes reserved (the next slot starts here); 0 for the last slot, which takes what it needs. */
  size: number;
  holds: string;
}

/**
 * Scratch RAM from ${flipper_scratch}, in address order. A binary `env export` zero-fills the build's
 * CONFIG_ENV_SIZE bytes whatever -s says, so its buffer is last.
 */
export const SCRATCH_SLOTS: ScratchSlot[] = [
  { variable: "fl_blk", size: 0x100, holds: "the register block as read over I2C" },
  { variable: "fl_crc", size: 0x700, holds: "crc32's result over the block" },
  { variable: "fl_t", size: 0x800, holds: "a value copied behind REGEX_PREFIX before setexpr.s reads it" },
  { variable: "fl_frag", size: 0xf000, holds: "the profile's fragment file, NUL-terminated" },
  { variable: "fl_ovl", size: 0xf0000, holds: "one overlay .dtbo" },
  { variable: "fl_fdtbak", size: 0x100000, holds: "the DTB's backup copy while an overlay applies" },
  { variable: "fl_exp", size: 0, holds: "binary env exports (CONFIG_ENV_SIZE bytes)" },
];

/** Offset of each slot from ${flipper_scratch}. */
export function scratchOffsets(): Record<string, number> {
  const out: Record<string, number> = {};
  let off = 0;
  for (const s of SCRATCH_SLOTS) {
    out[s.variable] = off;
    off += s.size;
  }
  return out;
}

/** `setexpr` lines giving each slot variable its address (four a line). */
export function scratchLines(): string[] {
  const offsets = scratchOffsets();
  const cmds = SCRATCH_SLOTS.map(
    (s) => "setexpr " + s.variable + " ${fl_s} + " + hex(offsets[s.variable], 1),
  );
  const lines: string[] = [];
  for (let i = 0; i < cmds.length; i += 4) lines.push(cmds.slice(i, i + 4).join("; "));
  return lines;
}

/** What `env export -b -s` asks for: more than any exported value and its name need. */
const ENV_EXPORT_SIZE = 0x400;
/** Bytes of the export buffer zeroed before each export. */
const ENV_EXPORT_CLEAR = 0x800;

/** Zeroes the export buffer (a value's end is then found by its NUL). */
export const CLEAR_EXPORT = "mw.b ${fl_exp} 0 " + hex(ENV_EXPORT_CLEAR, 1);

/** Exports variable `name` into the export buffer as binary env (`name=value\0`). */
export function envExport(name: string): string {
  return "env export -b -s " + hex(ENV_EXPORT_SIZE, 1) + " ${fl_exp} " + name;
}

/** Every fl_* variable the script uses (the harness clears them between cases). */
export function internalVars(script: string): string[] {
  const set = new Set<string>();
  for (const m of script.matchAll(/\bfl_[a-z_]+/g)) set.add(m[0]);
  return [...set].sort();
}

/**
 * Every variable a run of `script` may set or leave behind, besides bootargs: the settings, the saved
 * fallback, the fragment's variables and the script's own fl_* (the harness clears them between cases).
 */
export function scriptVariables(script: string): string[] {
  return [
    ...Object.keys(CONFIG_VARS),
    ...SAVED_VARS,
    FRAGMENT_VAR_KOPTS,
    FRAGMENT_VAR_OVERLAYS,
    ...internalVars(script),
  ];
}
