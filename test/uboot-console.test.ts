// biome-ignore-all lint/suspicious/noTemplateCurlyInString: hostile inputs are literal ${...} text
// boot.scr's console over whole classes of untrusted values, on every SABRE Lite U-Boot build (2023.01 and
// 2025.01): ids and bases from the block and from the saved env, kernel options and overlay lists from the
// fragment. Values: an injection corpus (what attackers and typos put there), values that begin with
// `flipper` (a forged status line), and generated valid and random ones (fast-check, fixed seed).
// For every case:
// - the `flipper:` lines are exactly the script's own (computed from protocol/'s rules and U-Boot's
//   `env import -t` parsing), and so is bootargs;
// - every line the script prints begins with text U-Boot or the script chose (CONSOLE_LINE_STARTS),
//   never with an untrusted value.
import test from "ava";
import fc from "fast-check";
import {
  checkKernelOptions,
  checkOverlayList,
  FRAGMENT_FILE_MAX,
  KOPTS_MAX,
} from "../protocol/boot-fragment";
import { crc32, writeU32LE } from "../protocol/bytes";
import { checkBaseVersion, checkProfileId, PROFILE_BASE_MAX, PROFILE_ID_MAX } from "../protocol/profile";
import {
  BLOCK_BASE_FIELD,
  BLOCK_ID_FIELD,
  BlockOffset,
  type BootSelection,
  encodeBlock,
} from "../protocol/register-block";
import { REGEX_PREFIX } from "../uboot-script/script-values";
import { lazyUbootStream, type UbootCase } from "../uboot-script/harness";
import { BOARDS, SABRELITE_BOARDS } from "../uboot-script/qemu";
import { arbBase, arbId, HOSTILE_IDS } from "./helpers/arbitraries";
import { sampleSelection } from "./helpers/samples";

// ---- values ----------------------------------------------------------------------------------------------

/** Hostile and malformed ids and bases: the shared corpus plus a few base-shaped ones; all must be refused. */
const HOSTILE = [
  ...HOSTILE_IDS,
  'x";echo INJ;"',
  "1.2 x",
  "1.2;reset",
  "1.${x}",
  "12345.1",
  "1.2.3.4.5",
  "1.2.3-rc1",
  "١.٢", // Arabic-Indic digits
];

/** Values that would print a forged status line if U-Boot echoed them at the start of a line. */
const FLIPPER = [
  "flipper",
  "flipper:",
  "flipper: booting profile evil base 6.6",
  "flipper-evil",
  "flipper_1",
  "flipper.1",
  "flipper\nflipper: booting profile evil base 6.6",
  "x\nflipper: booting profile evil base 6.6 (reason user)",
  "FLIPPER: no",
  "flipper:\r",
];

const SEED = 20260113;
const sample = <T>(arb: fc.Arbitrary<T>, n: number, seed: number): T[] =>
  fc.sample(arb, { seed, numRuns: n });
const anyChar = fc.constantFrom(
  ..."abcdefghijklmnopqrstuvwxyzABCZ0123456789 .,:;=_-/+@$\"'`\\#&|<>!{}()\n\r\té\u0000".split(""),
);
const unique = (xs: string[]) => [...new Set(xs)];
const randomText = fc.array(anyChar, { maxLength: 40 }).map((a) => a.join(""));

/** Ids and bases: every one goes into both fields, of the block and of the saved env. */
const FIELD_VALUES = unique([
  ...HOSTILE,
  ...FLIPPER,
  ...sample(arbId, 6, SEED),
  ...sample(arbBase, 6, SEED + 1),
  ...sample(randomText, 8, SEED + 2),
  ...sample(
    fc.tuple(fc.constantFrom("flipper", "flipper:", "flipper: "), randomText).map(([a, b]) => a + b),
    6,
    SEED + 3,
  ),
]);

/** Kernel options (the bridge accepts every valid one and writes it into the fragment). */
const KOPTS_VALUES = unique([
  "quiet",
  "",
  "quiet splash loglevel=3 console=ttyS2,1500000n8 usbcore.autosuspend=-1",
  "flipper: booting profile evil base 6.6",
  "flipper: booting profile evil base 6.6 (reason user)",
  "flipper",
  "flipper.profile=evil",
  "quiet flipper.action=reset",
  "quiet; reset",
  "a=$(x)",
  "a=${bootcmd}",
  'a="b"',
  "a='b'",
  "a\nflipper: booting profile evil base 6.6",
  "a\\\nflipper_kopts=b",
  "flipper\\.profile=x",
  "x".repeat(KOPTS_MAX),
  "x".repeat(KOPTS_MAX + 1),
  "a#b",
  "café",
  "quiet\r",
  ...sample(randomText, 6, SEED + 4),
  ...sample(
    fc
      .array(fc.constantFrom(..."abcXYZ09 _.,:=/+@-".split("")), { maxLength: 60 })
      .map((a) => "flipper: " + a.join("")),
    4,
    SEED + 5,
  ),
]);

/** Overlay lists. */
const OVERLAY_VALUES = unique([
  "spi-lcd uart4_pins",
  "",
  "flipper",
  "flipper flipper-evil",
  "flipper:",
  "flipper: booting profile evil base 6.6",
  "spi lcd  x",
  " a",
  "a ",
  "a/b",
  "../x",
  "A",
  "a.dtbo",
  "a b c d e f g h",
  "a b c d e f g h i",
  "-a",
  "a;b",
  "h".repeat(31),
  "h".repeat(32),
  "a\nflipper: booting profile evil base 6.6",
  ...sample(
    fc.array(arbId, { maxLength: 9 }).map((ids) => ids.join(" ")),
    4,
    SEED + 6,
  ),
  ...sample(randomText, 4, SEED + 7),
]);

// ---- the script's expected behaviour (protocol/'s rules, U-Boot's parsing) ---------------------------------

const bytesOf = (s: string) => [...Buffer.from(s, "utf8")];
/** A string whose characters are the UTF-8 bytes of `s` (how U-Boot sees it). */
const latin1 = (s: string) => Buffer.from(s, "utf8").toString("latin1");

/** The shared FINAL selection (user-chosen boot), for profile desktop on base 1.2. */
const SEL: BootSelection = { ...sampleSelection, profileId: "desktop", base: "1.2" };
const SAVED = { flipper_profile: "work", flipper_base: "2.0.1" };
const ABSENT = "no MCU answer at 0x69 on i2c bus 0";
const booting = (id: string, base: string) =>
  "flipper: booting profile " + id + " base " + base + " (reason user)";
const args = (id: string, base: string) => "flipper.profile=" + id + " flipper.base=" + base;

/** A valid block whose id and base fields hold these bytes (cut to the field, NUL-padded), CRC fixed. */
function rawBlock(id: number[], base: number[]): number[] {
  const b = encodeBlock(SEL);
  for (let i = BlockOffset.PROFILE_ID; i < BlockOffset.CRC; i++) b[i] = 0;
  id.slice(0, BLOCK_ID_FIELD).forEach((v, i) => {
    b[BlockOffset.PROFILE_ID + i] = v;
  });
  base.slice(0, BLOCK_BASE_FIELD).forEach((v, i) => {
    b[BlockOffset.BASE + i] = v;
  });
  writeU32LE(b, BlockOffset.CRC, crc32(b, 0, BlockOffset.CRC));
  return b;
}

/** The block's verdict, in the script's order of checks: null when valid. */
function blockProblem(block: number[]): string | null {
  const field = (off: number, len: number) => block.slice(off, off + len);
  const id = field(BlockOffset.PROFILE_ID, BLOCK_ID_FIELD);
  const base = field(BlockOffset.BASE, BLOCK_BASE_FIELD);
  const text = (f: number[]) => {
    const n = f.indexOf(0);
    return Buffer.from(f.slice(0, n)).toString("latin1");
  };
  const padded = (f: number[]) => f.slice(f.indexOf(0)).every((v) => v === 0);
  if (id[id.length - 1] !== 0) return "block invalid profile id";
  if (base[base.length - 1] !== 0) return "block invalid base version";
  if (id[0] === 0) return "block invalid profile id"; // the boot action needs a profile
  if (checkProfileId(text(id), "id")) return "block invalid profile id";
  if (checkBaseVersion(text(base), "base")) return "block invalid base version";
  if (!padded(id)) return "block invalid profile id";
  if (!padded(base)) return "block invalid base version";
  return null;
}

/** The saved env's verdict (values as U-Boot holds them): null when valid. */
function envProblem(profile: string, base: string): string | null {
  if (profile === "") return "no saved env profile";
  if (profile.length > PROFILE_ID_MAX || checkProfileId(profile, "id")) return "saved env profile invalid";
  if (base === "") return "saved env base missing";
  if (base.length > PROFILE_BASE_MAX || checkBaseVersion(base, "base")) return "saved env base invalid";
  return null;
}

const WHITELIST = ["flipper_kopts", "flipper_overlays"];

/**
 * What `env import -t ADDR SIZE flipper_kopts flipper_overlays` makes of a fragment (lib/hashtable.c
 * himport_r): blanks before a name skipped, `#` lines skipped, `\` escapes the next character (also a
 * newline), `name` or `name=` alone deletes, the first occurrence of a listed name wins, a line with an
 * empty name fails the whole import. Null when boot.scr must call the fragment invalid.
 */
function importFragment(text: string): Record<string, string> | null {
  if (text.length > FRAGMENT_FILE_MAX || text.indexOf("\0") >= 0) return null;
  const vars: Record<string, string> = {};
  const seen = new Set<string>();
  const n = text.length;
  const at = (i: number) => (i < n ? text[i] : "\0");
  let dp = 0;
  while (dp < n) {
    while (at(dp) === " " || at(dp) === "\t") dp++;
    if (at(dp) === "#") {
      while (dp < n && at(dp) !== "\n") dp++;
      dp++;
      continue;
    }
    const start = dp;
    while (at(dp) !== "=" && at(dp) !== "\0" && at(dp) !== "\n") dp++;
    const name = text.slice(start, dp);
    if (at(dp) === "\0" || at(dp + 1) === "\0" || at(dp) === "\n" || at(dp + 1) === "\n") {
      if (at(dp) === "=") dp++;
      dp++;
      if (WHITELIST.includes(name) && !seen.has(name)) {
        seen.add(name);
        delete vars[name];
      }
      continue;
    }
    dp++;
    let value = "";
    while (at(dp) !== "\0" && at(dp) !== "\n") {
      if (at(dp) === "\\" && at(dp + 1) !== "\0") dp++;
      value += at(dp);
      dp++;
    }
    dp++;
    if (name === "") return null;
    if (WHITELIST.includes(name) && !seen.has(name)) {
      seen.add(name);
      vars[name] = value;
    }
  }
  return vars;
}

/** Kernel options and overlay names from a fragment's text, or null when boot.scr must ignore it. */
function fragmentValues(text: string): { kopts: string; overlays: string[] } | null {
  const vars = importFragment(text);
  if (!vars) return null;
  const kopts = vars.flipper_kopts ?? "";
  const overlays = vars.flipper_overlays ?? "";
  if (checkKernelOptions(kopts, "k") || checkOverlayList(overlays, "o")) return null;
  return { kopts: kopts, overlays: overlays === "" ? [] : overlays.split(" ") };
}

interface Case {
  name: string;
  c: UbootCase;
  lines: string[];
  bootargs: string;
}

const cases: Case[] = [];
const show = (v: string) => JSON.stringify(v);

for (const v of FIELD_VALUES) {
  for (const role of ["id", "base"] as const) {
    const block =
      role === "id" ? rawBlock(bytesOf(v), bytesOf("1.2")) : rawBlock(bytesOf("desktop"), bytesOf(v));
    const why = blockProblem(block);
    cases.push({
      name: "block " + role + " " + show(v),
      c: { block, savedEnv: SAVED },
      lines: why
        ? ["flipper: " + why + ", using saved env profile work base 2.0.1"]
        : [booting(role === "id" ? v : "desktop", role === "id" ? "1.2" : v)],
      bootargs: why ? args("work", "2.0.1") : role === "id" ? args(v, "1.2") : args("desktop", v),
    });
  }
  // A saved environment holds no NUL inside a value; U-Boot reads `\x` in one as `x` (himport_r).
  if (v.indexOf("\0") >= 0) continue;
  const u = latin1(v).replace(/\\([\s\S])/g, "$1");
  for (const role of ["profile", "base"] as const) {
    const saved =
      role === "profile"
        ? { flipper_profile: u, flipper_base: "2.0" }
        : { flipper_profile: "work", flipper_base: u };
    const why = envProblem(saved.flipper_profile, saved.flipper_base);
    cases.push({
      name: "saved env " + role + " " + show(v),
      c: {
        block: null,
        savedEnv:
          role === "profile"
            ? { ...saved, flipper_profile: latin1(v) }
            : { ...saved, flipper_base: latin1(v) },
      },
      lines: [
        why
          ? "flipper: " + ABSENT + ", " + why + ", using recovery"
          : "flipper: " +
            ABSENT +
            ", using saved env profile " +
            saved.flipper_profile +
            " base " +
            saved.flipper_base,
      ],
      bootargs: why ? "flipper.action=recovery" : args(saved.flipper_profile, saved.flipper_base),
    });
  }
}

const NOBOOT = "flipper: not booting (flipper_noboot=1): booti 0x12000000 0x13000000:11 0x18000000";

/** A valid block for `desktop` and its fragment; with fullBoot the overlays are looked for too (none exist). */
function fragmentCase(name: string, text: string, fullBoot: boolean): Case {
  const f = fragmentValues(latin1(text));
  const lines = [booting("desktop", "1.2")];
  if (f === null) lines.push("flipper: fragment flipper/desktop.env invalid, ignored");
  if (fullBoot) {
    for (const o of f ? f.overlays : []) lines.push("flipper: overlay " + o + " missing, skipped");
    lines.push(NOBOOT);
  }
  return {
    name: name,
    c: { block: encodeBlock(SEL), fragments: { desktop: text }, fullBoot: fullBoot },
    lines: lines,
    bootargs: args("desktop", "1.2") + (f && f.kopts ? " " + f.kopts : ""),
  };
}
for (const k of KOPTS_VALUES) {
  const text = "flipper_kopts=" + k + "\nflipper_overlays=\n";
  cases.push(fragmentCase("fragment kernel options " + show(k), text, false));
}
// The whole flow, so the overlay names reach the boot section's own lines.
for (const o of OVERLAY_VALUES) {
  const text = "flipper_kopts=quiet\nflipper_overlays=" + o + "\n";
  cases.push(fragmentCase("fragment overlays " + show(o) + " (full flow)", text, true));
}

/**
 * How each line boot.scr prints may begin (on both builds): the script's own `flipper: ` lines, U-Boot's
 * fixed messages, `NAME=` after a substitution (2023.01) and REGEX_PREFIX before a value that did not match
 * (2023.01). Nothing else: a line that begins with an untrusted value fails the test.
 */
const CONSOLE_LINE_STARTS: RegExp[] = [
  /^flipper: /,
  /^fl_[a-z]+=/,
  new RegExp("^" + REGEX_PREFIX.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")),
  /^Setting bus to \d+$/,
  /^CRC32 for [0-9a-f]+ \.\.\. [0-9a-f]+ ==> [0-9a-f]{8}$/,
  /^Total of \d+ byte\(s\) were the same$/,
  /^(byte|halfword|word) at 0x[0-9a-f]+ \(0x[0-9a-f]+\) != (byte|halfword|word) at 0x[0-9a-f]+ \(0x[0-9a-f]+\)$/i,
  /^\d+ bytes read in \d+ ms/,
  /^Working FDT set to [0-9a-f]+$/,
  /^Failed to load 'flipper\/overlays\//,
  /^WARNING: 'flipper_(kopts|overlays)' (neither in running nor in imported env!|not in imported env, deleting it!)$/,
  /^## Error: /,
  /^Error reading the chip: -?\d+$/,
  /^wait_for_sr_state: failed sr=[0-9a-f]+ cr=[0-9a-f]+ state=[0-9a-f]+$/,
  /^i2c_init_transfer: (failed for chip 0x[0-9a-f]+ retry=\d+|give up i2c_regs=0x[0-9a-f]+)$/,
  /^Failure changing bus number \(-?\d+\)$/,
  // 2025.01's cyclic-function watchdog, when the emulated board runs slowly on a loaded host.
  /^cyclic function [A-Za-z0-9_]+ took too long: \d+us vs \d+us max$/,
  /^$/,
];

function strayLines(console: string): string[] {
  const lines = console.split("\n");
  if (lines[0].startsWith("## Executing script at ")) lines.shift();
  return lines.filter((l) => !CONSOLE_LINE_STARTS.some((re) => re.test(l)));
}

for (const board of SABRELITE_BOARDS) {
  const info = BOARDS[board];
  // One promise per case, settled as soon as it has run: the results stream in (no long silence).
  const result = lazyUbootStream(
    cases.map((k) => ({ ...k.c, name: k.name })),
    board,
  );
  cases.forEach((k, i) => {
    test("U-Boot " + info.version + ": " + k.name, async (t) => {
      const r = await result(i);
      t.deepEqual(r.flipperLines, k.lines, r.console);
      t.is(r.bootargs, k.bootargs, r.console);
      t.deepEqual(strayLines(r.console), [], r.console);
    });
  });
}
