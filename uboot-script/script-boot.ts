// biome-ignore-all lint/suspicious/noTemplateCurlyInString: U-Boot script text uses ${var} on purpose
// boot.scr's boot: the chosen profile's fragment (kernel options, overlay names) read and checked, then
// the DTB, each overlay applied on a backup copy, kernel and initramfs loaded, and the boot command run.
import { hex } from "../protocol/bytes";
import {
  FRAGMENT_DIR,
  FRAGMENT_FILE_MAX,
  FRAGMENT_VAR_KOPTS,
  FRAGMENT_VAR_OVERLAYS,
  KOPTS_MAX,
  OVERLAY_DIR,
} from "../protocol/boot-fragment";
import { CLEAR_EXPORT, envExport } from "./script-layout";
import { checkKopts, checkOverlays, exportVar, indent, OVERLAYS_LIST_MAX } from "./script-values";

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
    "  " + CLEAR_EXPORT,
    "  if " + envExport("fl_x") + "; then",
    "    setexpr fl_a ${fl_exp} + ${fl_len}; setexpr fl_a ${fl_a} + " + hex("fl_x=".length - 1, 1),
    "    if itest.b *${fl_a} != 0; then setenv fl_fok 2; fi",
    "  fi",
    "  setenv fl_x",
    "fi",
  ];
}

/** Loads flipper/<id>.env and checks it; sets fl_kopts and fl_ovls. */
export function fragment(): string[] {
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
    ...indent(checkKopts(), 8),
    "      fi",
    "      if itest ${fl_ok} == 1; then",
    '        setenv fl_kopts "${fl_val}"',
    ...indent(exportVar(FRAGMENT_VAR_OVERLAYS, OVERLAYS_LIST_MAX), 8),
    "        if itest ${fl_ok} == 1; then",
    ...indent(checkOverlays(), 10),
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

/** Loads the DTB, applies the profile's overlays (each on a backup copy), loads kernel + initramfs, boots. */
export function bootSection(): string[] {
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
