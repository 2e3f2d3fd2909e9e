// biome-ignore-all lint/suspicious/noTemplateCurlyInString: hostile inputs are literal ${...} text
// fast-check generators for valid protocol values, shared by the protocol tests.
import fc from "fast-check";
import {
  PROFILE_BASE_MAX,
  PROFILE_FLAGS_KNOWN,
  PROFILE_ID_MAX,
  PROFILE_NAME_MAX_BYTES,
  type ProfileRecord,
} from "../../protocol/profile";

const idFirst = "abcdefghijklmnopqrstuvwxyz0123456789".split("");
const idRest = [...idFirst, "_", "-"];

export const arbId = fc
  .tuple(fc.constantFrom(...idFirst), fc.array(fc.constantFrom(...idRest), { maxLength: PROFILE_ID_MAX - 1 }))
  .map(([a, rest]) => a + rest.join(""));

export const arbBase = fc
  .array(fc.integer({ min: 0, max: 9999 }), { minLength: 2, maxLength: 4 })
  .map((parts) => parts.join("."))
  .filter((s) => s.length <= PROFILE_BASE_MAX);

/** Display names: any text without control characters, up to 48 UTF-8 bytes. */
export const arbName = fc
  .string({ unit: "grapheme", minLength: 1, maxLength: 20 })
  .filter(
    (s) =>
      Buffer.byteLength(s) <= PROFILE_NAME_MAX_BYTES &&
      !/[\u0000-\u001f\u007f-\u009f]/.test(s) &&
      s.length > 0,
  );

export const arbU32 = fc.integer({ min: 0, max: 0xffffffff });

export const arbRecord: fc.Arbitrary<ProfileRecord> = fc
  .record({
    id: arbId,
    name: arbName,
    base: arbBase,
    flags: fc.integer({ min: 0, max: PROFILE_FLAGS_KNOWN }),
    created: arbU32,
    lastUsed: arbU32,
    origin: fc.oneof(fc.constant(""), arbId),
  })
  .filter((r) => r.origin !== r.id);

/** What attackers and typos put in ids and bases; every one must be refused
 * (by the protocol validators and by every command that takes an id). */
export const HOSTILE_IDS = [
  "",
  " ",
  "desk top",
  "desktop ",
  "a;reboot",
  "a$(reboot)",
  "$bootcmd",
  "${bootcmd}",
  "a`id`",
  'a"b',
  "a'b",
  "a\nb",
  "a\rb",
  "a\tb",
  "a=b",
  "flipper.profile=x",
  "a\\b",
  "a/b",
  "../etc",
  "a.b",
  "Desktop",
  "-desktop",
  "_desktop",
  "a".repeat(PROFILE_ID_MAX + 1),
  "dеsktop", // Cyrillic е
  "desktop\u200b", // zero-width space
  "ｄesktop", // full-width d
  "desk\u0000top",
  "naïve",
  "a#b",
  "a&b",
  "a|b",
  "a>b",
];
