// biome-ignore-all lint/suspicious/noTemplateCurlyInString: U-Boot script text
// The generated boot.cmd carries protocol/'s constants (no drift) and uses only commands that
// U-Boot 2023.01 board builds have (no hash, no setexpr fmt, no regex ranges).
import test from "ava";
import { CRC32_RESIDUE, hex } from "../protocol/bytes";
import {
  FRAGMENT_DIR,
  FRAGMENT_FILE_MAX,
  FRAGMENT_VAR_KOPTS,
  FRAGMENT_VAR_OVERLAYS,
  OVERLAY_DIR,
} from "../protocol/boot-fragment";
import {
  ACTION_NAMES,
  BLOCK_LAYOUT_VERSION,
  BLOCK_LENGTH,
  BLOCK_MAGIC_U32LE,
  BLOCK_REGISTER,
  BlockOffset,
  MCU_I2C_ADDRESS,
  REASON_NAMES,
} from "../protocol/register-block";
import { instrumentCommandCount } from "../uboot-script/command-count";
import { generateBootCmd } from "../uboot-script/generate";
import { REGEX_PREFIX } from "../uboot-script/script-values";
import { SCRATCH_SLOTS, SETTINGS, scratchOffsets } from "../uboot-script/script-layout";

const script = generateBootCmd();

test("register, address, length, magic, version and CRC residue come from protocol/", (t) => {
  t.true(script.includes('setenv fl_addr "' + hex(MCU_I2C_ADDRESS, 2) + '"'));
  t.true(script.includes('setenv fl_reg "' + hex(BLOCK_REGISTER, 4) + '"'));
  t.true(script.includes("i2c read ${fl_addr} ${fl_reg}.2 " + hex(BLOCK_LENGTH, 1) + " ${fl_blk}"));
  t.true(script.includes("itest.l *${fl_blk} != " + hex(BLOCK_MAGIC_U32LE, 8)));
  t.true(script.includes("itest.b *${fl_a} != " + hex(BLOCK_LAYOUT_VERSION, 1) + ";"));
  t.true(script.includes(hex(CRC32_RESIDUE, 8)));
  t.true(script.includes("1cdf4421"));
});

test("field offsets come from protocol/", (t) => {
  for (const off of [
    BlockOffset.VERSION,
    BlockOffset.STATUS,
    BlockOffset.ACTION,
    BlockOffset.REASON,
    BlockOffset.FLAGS,
  ]) {
    t.true(script.includes("setexpr fl_a ${fl_blk} + " + hex(off, 1) + "\n"), "offset " + off);
  }
  t.true(script.includes("setexpr fl_p ${fl_blk} + " + hex(BlockOffset.PROFILE_ID, 1)));
  t.true(script.includes("setexpr fl_p ${fl_blk} + " + hex(BlockOffset.BASE, 1)));
  t.true(script.includes("setexpr fl_a ${fl_blk} + " + hex(BlockOffset.PROFILE_ID + 31, 1)));
  t.true(script.includes("setexpr fl_b ${fl_blk} + " + hex(BlockOffset.BASE + 11, 1)));
});

test("action and reason names and fragment paths come from protocol/", (t) => {
  for (let a = 1; a < ACTION_NAMES.length; a++) t.true(script.includes("setenv fl_act " + ACTION_NAMES[a]));
  for (let r = 1; r < REASON_NAMES.length; r++) t.true(script.includes("setenv fl_rsn " + REASON_NAMES[r]));
  t.true(script.includes(FRAGMENT_DIR + "/${fl_id}.env"));
  t.true(script.includes(OVERLAY_DIR + "/${fl_o}.dtbo"));
  t.true(
    script.includes("env import -t ${fl_frag} ${fl_len} " + FRAGMENT_VAR_KOPTS + " " + FRAGMENT_VAR_OVERLAYS),
  );
});

test("no commands missing from 2023.01 board builds, no regex ranges", (t) => {
  t.false(/\bhash\b/.test(script));
  t.false(/setexpr[^\n]* fmt /.test(script));
  for (const m of script.matchAll(/'(\^?\[[^']*)'/g)) t.false(/[a-zA-Z0-9]-[a-zA-Z0-9]/.test(m[1]), m[1]);
  t.false(/\bexit\b/.test(script));
});

test("the command-count instrumentation keeps every line's structure", (t) => {
  const inst = instrumentCommandCount(script);
  t.is(inst.split("\n").length, script.split("\n").length + 1);
  t.true(inst.includes("if setexpr fl_cc ${fl_cc} + 1; i2c dev ${fl_bus}; then"));
});

test("every value a substitution sees starts with the prefix, and the first substitution always matches it", (t) => {
  const P = REGEX_PREFIX;
  const subs = [...script.matchAll(/setexpr(\.\w)? (\S+) (g?sub) '([^']*)' ('[^']*'|\w+)/g)];
  t.true(subs.length >= 12, String(subs.length));
  for (const m of subs) {
    const [, , name, op, pattern] = m;
    t.is(name, "fl_v", m[0]);
    if (op === "sub") {
      // The full-pattern match, on a value already sanitised by a gsub.
      t.true(pattern.startsWith("^" + P), m[0]);
      t.is(m[5], "ok", m[0]);
    } else {
      // A gsub either replaces every character outside a class that lacks the prefix (so the prefix
      // itself always matches), or lists the prefix as its first alternative.
      const cls = /^\[\^([^\]]*)\]/.exec(pattern);
      t.true(pattern.startsWith(P + "|") || (cls !== null && !cls[1].includes(P)), m[0]);
      t.is(m[5], "'" + P + "'", m[0]);
    }
  }
  // fl_v is only ever loaded from the prefixed copy.
  for (const m of script.matchAll(/setexpr\.s fl_v \*\$\{(\w+)\}/g)) t.is(m[1], "fl_t", m[0]);
  t.true(script.includes("mw.b ${fl_t} " + P.charCodeAt(0).toString(16) + " 1"));
});

test("every fl_* variable the script reads is one it sets, and each scratch slot's address is set from its table", (t) => {
  const set = new Set<string>();
  for (const m of script.matchAll(/(?:setenv|setexpr(?:\.\w)?|for|fdt header get) (fl_[a-z_]+)/g))
    set.add(m[1]);
  const read = new Set([...script.matchAll(/\$\{(fl_[a-z_]+)\}/g)].map((m) => m[1]));
  t.true(read.size > 20, String(read.size));
  for (const name of read) t.true(set.has(name), name + " is read but never set");
  const offsets = scratchOffsets();
  for (const slot of SCRATCH_SLOTS) {
    t.true(
      script.includes("setexpr " + slot.variable + " ${fl_s} + " + hex(offsets[slot.variable], 1)),
      slot.variable,
    );
  }
  // The fragment's slot holds the most the script loads into it (and the NUL after it).
  t.true(offsets.fl_ovl - offsets.fl_frag > FRAGMENT_FILE_MAX + 1);
  for (const s of SETTINGS) if (s.working) t.true(set.has(s.working), s.working);
});
