// biome-ignore-all lint/suspicious/noTemplateCurlyInString: hostile inputs are literal ${...} text
import test from "ava";
import fc from "fast-check";
import { utf8Decode, utf8Encode, utf8Length } from "../protocol/bytes";
import {
  checkKernelOptions,
  checkOverlayList,
  parseFragment,
  renderFragment,
} from "../protocol/boot-fragment";
import {
  checkBaseVersion,
  checkDisplayName,
  checkProfileId,
  formatFieldError,
  type ProfileRecord,
  validateProfile,
} from "../protocol/profile";
import { arbBase, arbId, arbRecord, HOSTILE_IDS as hostile } from "./helpers/arbitraries";
import { BAD_BASES } from "./helpers/hostile";

const good: ProfileRecord = {
  id: "desktop",
  name: "Desktop",
  base: "1.2.3",
  flags: 0,
  created: 1_700_000_000,
  lastUsed: 0,
  origin: "",
};

test("every hostile or malformed id is refused with an error naming the field, value and rule", (t) => {
  for (const id of hostile) {
    const e = checkProfileId(id, "id");
    t.truthy(e, JSON.stringify(id));
    t.is(e!.field, "id");
    t.true(formatFieldError(e!).startsWith("id "));
    t.regex(e!.rule, /a-z, 0-9/);
  }
  t.is(checkProfileId("a".repeat(31), "id"), null);
  t.is(checkProfileId("0day_lab-2", "id"), null);
});

test("bases: N.N to N.N.N.N of up to 4 digits, at most 11 characters; nothing else", (t) => {
  for (const ok of ["1.2", "1.2.3", "2026.11.1", "0.0.0.0", "9999.9999"])
    t.is(checkBaseVersion(ok, "base"), null, ok);
  for (const bad of [...BAD_BASES, ...hostile]) {
    const e = checkBaseVersion(bad, "base");
    t.truthy(e, JSON.stringify(bad));
    t.is(e!.field, "base");
  }
});

test("display names: UTF-8 up to 48 bytes, no control characters", (t) => {
  t.is(checkDisplayName("Pentest ✓ Лаб", "name"), null);
  t.is(checkDisplayName("x".repeat(48), "name"), null);
  t.truthy(checkDisplayName("x".repeat(49), "name"));
  t.truthy(checkDisplayName("é".repeat(25), "name"), "50 bytes although 25 characters");
  for (const bad of ["", "a\nb", "a\u0000", "a\u007f", "a\u0085", "\u001b[31m"]) {
    t.truthy(checkDisplayName(bad, "name"), JSON.stringify(bad));
  }
});

test("validateProfile reports the first broken field, each with its name", (t) => {
  t.is(validateProfile(good), null);
  const cases: [Partial<ProfileRecord>, string][] = [
    [{ id: "Bad" }, "id"],
    [{ name: "" }, "name"],
    [{ base: "x" }, "base"],
    [{ flags: 4 }, "flags"],
    [{ flags: 1.5 }, "flags"],
    [{ created: -1 }, "created"],
    [{ lastUsed: 2 ** 32 }, "lastUsed"],
    [{ created: Number.NaN }, "created"],
    [{ origin: "Bad Origin" }, "origin"],
    [{ origin: "desktop" }, "origin"],
    [{ id: 5 as never }, "id"],
  ];
  for (const [patch, field] of cases) {
    const e = validateProfile({ ...good, ...patch });
    t.is(e?.field, field, JSON.stringify(patch));
  }
  t.is(validateProfile(null as never)?.field, "profile");
});

test("error values are escaped so a hostile value cannot forge log lines", (t) => {
  const e = checkProfileId("x\nflipper: booting evil", "id")!;
  t.false(formatFieldError(e).includes("\n"));
  t.true(formatFieldError(e).includes("\\n"));
});

test("property: generated ids, bases and records are valid", (t) => {
  fc.assert(fc.property(arbId, (id) => checkProfileId(id, "id") === null));
  fc.assert(fc.property(arbBase, (b) => checkBaseVersion(b, "base") === null));
  fc.assert(fc.property(arbRecord, (r) => validateProfile(r) === null));
  t.pass();
});

test("property: an id accepted by the validator matches the documented pattern", (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (s) => {
      const accepted = checkProfileId(s, "id") === null;
      return accepted === /^[a-z0-9][a-z0-9_-]{0,30}$/.test(s);
    }),
    { numRuns: 5000 },
  );
  t.pass();
});

test("property: utf8Length is the length of utf8Encode for any text, lone surrogates included", (t) => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ unit: "grapheme", maxLength: 30 }), fc.string({ unit: "binary", maxLength: 30 })),
      (s) => utf8Length(s) === utf8Encode(s).length && utf8Length(s) === Buffer.byteLength(s, "utf8"),
    ),
    { numRuns: 2000 },
  );
  t.is(utf8Length("\ud800x"), 4);
  t.is(utf8Length("\udc00"), 3);
});

test("property: UTF-8 encoding agrees with Node's and decodes back", (t) => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 30 }), (s) => {
      const bytes = utf8Encode(s);
      return Buffer.from(bytes).equals(Buffer.from(s, "utf8")) && utf8Decode(bytes, 0, bytes.length) === s;
    }),
  );
  // Malformed UTF-8 is refused, not guessed.
  for (const bad of [
    [0x80],
    [0xc3],
    [0xc0, 0x80],
    [0xed, 0xa0, 0x80],
    [0xf5, 0x80, 0x80, 0x80],
    [0xe2, 0x82],
  ]) {
    t.is(utf8Decode(bad, 0, bad.length), null, JSON.stringify(bad));
  }
});

test("kernel options and overlays: safe characters only, never flipper.*", (t) => {
  t.is(checkKernelOptions("quiet loglevel=3 console=ttyS2,1500000n8 usbcore.autosuspend=-1", "k"), null);
  t.is(checkKernelOptions("", "k"), null);
  for (const bad of [
    "quiet; reset",
    "a=$(x)",
    "a=${bootcmd}",
    'a="b"',
    "a='b'",
    "a\nb",
    "flipper.profile=evil",
    "quiet flipper.action=reset",
    "x".repeat(201),
    "a\\b",
    "a#b",
    "caf\u00e9",
  ]) {
    t.truthy(checkKernelOptions(bad, "kernelOptions"), JSON.stringify(bad));
  }
  t.is(checkOverlayList("spi-lcd uart4_pins", "o"), null);
  for (const bad of [
    "spi lcd  x",
    " a",
    "a ",
    "a/b",
    "../x",
    "A",
    "a.dtbo",
    "a b c d e f g h i",
    "-a",
    "a;b",
  ]) {
    t.truthy(checkOverlayList(bad, "overlays"), JSON.stringify(bad));
  }
});

test("fragments render and parse back; the parser honours only its two variables", (t) => {
  const text = renderFragment({ kernelOptions: "quiet", overlays: ["spi-lcd", "uart4"] });
  t.is(text, "flipper_kopts=quiet\nflipper_overlays=spi-lcd uart4\n");
  t.deepEqual(parseFragment(text).fragment, { kernelOptions: "quiet", overlays: ["spi-lcd", "uart4"] });
  const injected = parseFragment("bootcmd=reset\nflipper_profile=evil\nflipper_kopts=quiet\n");
  t.deepEqual(injected.fragment, { kernelOptions: "quiet", overlays: [] });
  t.is(parseFragment("flipper_kopts=a;b\n").error?.field, "flipper_kopts");
  t.is(parseFragment("x".repeat(600)).error?.field, "fragment");
  t.throws(() => renderFragment({ kernelOptions: "flipper.profile=x", overlays: [] }), {
    message: /kernelOptions/,
  });
});
