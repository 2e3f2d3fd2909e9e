import { crc32 as zlibCrc32 } from "node:zlib";
import test from "ava";
import fc from "fast-check";
import { crc32 } from "../protocol/bytes";
import { PROFILE_BASE_MAX, PROFILE_ID_MAX } from "../protocol/profile";
import {
  BLOCK_BASE_FIELD,
  BLOCK_ID_FIELD,
  BLOCK_LENGTH,
  BlockAction,
  BlockError,
  BlockOffset,
  type BootSelection,
  decodeBlock,
  encodeBlock,
} from "../protocol/register-block";
import { arbBase, arbId } from "./helpers/arbitraries";
import { sampleSelection } from "./helpers/samples";

const valid: BootSelection = sampleSelection;

test("the longest profile id and base fit their block fields with the NUL that ends them", (t) => {
  t.true(PROFILE_ID_MAX + 1 <= BLOCK_ID_FIELD);
  t.true(PROFILE_BASE_MAX + 1 <= BLOCK_BASE_FIELD);
  const longest = { ...valid, profileId: "p".repeat(PROFILE_ID_MAX), base: "1234.5678.9" };
  t.is(longest.base.length, PROFILE_BASE_MAX);
  const d = decodeBlock(encodeBlock(longest));
  t.true(d.ok, d.detail);
  t.deepEqual(d.selection, longest);
});

test("crc32 is the IEEE CRC-32 that zlib computes", (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
      const bytes = Array.from(data);
      return crc32(bytes, 0, bytes.length) === zlibCrc32(Buffer.from(data));
    }),
  );
  t.is(crc32(Array.from(Buffer.from("123456789")), 0, 9), 0xcbf43926);
});

test("a block is 64 bytes with the documented bytes at the documented offsets", (t) => {
  const b = encodeBlock(valid);
  t.is(b.length, BLOCK_LENGTH);
  t.deepEqual(b.slice(0, 4), [0x46, 0x42, 0x53, 0x4c]);
  t.is(b[BlockOffset.VERSION], 1);
  t.is(b[BlockOffset.LENGTH], 64);
  t.deepEqual(b.slice(BlockOffset.SEQUENCE, BlockOffset.SEQUENCE + 4), [4, 3, 2, 1]);
  t.is(Buffer.from(b.slice(16, 23)).toString("latin1"), "pentest");
  t.is(b[23], 0);
  t.is(Buffer.from(b).readUInt32LE(60), zlibCrc32(Buffer.from(b.slice(0, 60))));
  // The residue U-Boot checks with one crc32 over all 64 bytes.
  t.is(zlibCrc32(Buffer.from(b)), 0x2144df1c);
});

test("property: every valid selection round-trips", (t) => {
  fc.assert(
    fc.property(
      fc.record({
        status: fc.constantFrom(0, 1, 2),
        action: fc.constantFrom(1, 2, 3),
        reason: fc.integer({ min: 1, max: 5 }),
        flags: fc.integer({ min: 0, max: 15 }),
        tryNumber: fc.integer({ min: 0, max: 255 }),
        maxTries: fc.integer({ min: 0, max: 255 }),
        sequence: fc.integer({ min: 0, max: 0xffffffff }),
        profileId: arbId,
        base: arbBase,
      }),
      (s) => {
        const d = decodeBlock(encodeBlock(s));
        return d.ok && JSON.stringify(d.selection) === JSON.stringify(s);
      },
    ),
    { numRuns: 2000 },
  );
  const recovery = { ...valid, action: BlockAction.RECOVERY, profileId: "", base: "" };
  t.deepEqual(decodeBlock(encodeBlock(recovery)).selection, recovery);
});

test("every corrupted byte is classified, never accepted silently, never thrown", (t) => {
  const good = encodeBlock(valid);
  for (let i = 0; i < BLOCK_LENGTH; i++) {
    for (const mask of [0x01, 0x80, 0xff]) {
      const bad = good.slice();
      bad[i] ^= mask;
      const d = decodeBlock(bad);
      t.false(d.ok, `byte ${i} ^ ${mask}`);
      const expected =
        i < 4
          ? BlockError.BAD_MAGIC
          : i === 4
            ? BlockError.UNKNOWN_VERSION
            : i === 5
              ? BlockError.BAD_LENGTH
              : BlockError.BAD_CRC;
      t.is(d.error, expected, `byte ${i} ^ ${mask}: ${d.detail}`);
      t.true(d.detail.length > 10);
    }
  }
});

/** A block with `patch` applied and its CRC recomputed: tests the field checks behind the CRC. */
function withValidCrc(patch: (b: number[]) => void): number[] {
  const b = encodeBlock(valid);
  patch(b);
  Buffer.from(b).writeUInt32LE(0, 60);
  const crc = crc32(b, 0, 60);
  b[60] = crc & 0xff;
  b[61] = (crc >>> 8) & 0xff;
  b[62] = (crc >>> 16) & 0xff;
  b[63] = crc >>> 24;
  return b;
}

test("fields behind a good CRC are still checked: invalid-field names the field", (t) => {
  const cases: [string, (b: number[]) => void, string][] = [
    ["status 3", (b) => (b[6] = 3), "status"],
    ["action 0", (b) => (b[7] = 0), "action"],
    ["action 9", (b) => (b[7] = 9), "action"],
    ["reason 6", (b) => (b[8] = 6), "reason"],
    ["unknown flag", (b) => (b[9] = 0x10), "flags"],
    ["space in id", (b) => (b[18] = 0x20), "profileId"],
    ["semicolon in id", (b) => (b[16] = 0x3b), "profileId"],
    ["dollar in id", (b) => (b[17] = 0x24), "profileId"],
    ["quote in id", (b) => (b[17] = 0x22), "profileId"],
    ["newline in id", (b) => (b[17] = 0x0a), "profileId"],
    ["equals in id", (b) => (b[17] = 0x3d), "profileId"],
    ["upper case in id", (b) => (b[16] = 0x50), "profileId"],
    ["non-ASCII in id", (b) => (b[17] = 0xc3), "profileId"],
    ["letter in base", (b) => (b[48] = 0x61), "base"],
    ["id with no NUL", (b) => b.fill(0x61, 16, 48), "profile id field"],
    ["junk after the NUL", (b) => (b[40] = 0x61), "profile id field"],
    ["base with no NUL", (b) => b.fill(0x31, 48, 60), "base field"],
    ["empty id with boot", (b) => b.fill(0, 16, 48), "profileId"],
  ];
  for (const [name, patch, field] of cases) {
    const d = decodeBlock(withValidCrc(patch));
    t.false(d.ok, name);
    t.is(d.error, BlockError.INVALID_FIELD, name);
    t.true(d.detail.startsWith(field), `${name}: ${d.detail}`);
  }
});

test("wrong lengths and non-byte input are classified, not thrown", (t) => {
  const good = encodeBlock(valid);
  for (const input of [
    [],
    good.slice(0, 63),
    [...good, 0],
    [...good.slice(0, 63), 256],
    [...good.slice(0, 63), -1],
  ]) {
    t.is(decodeBlock(input).error, BlockError.BAD_LENGTH);
  }
  t.is(decodeBlock(null as never).error, BlockError.BAD_LENGTH);
  t.is(decodeBlock("FBSL" as never).error, BlockError.BAD_LENGTH);
});

test("property: random 64-byte blocks never throw and never decode unless the CRC holds", (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (data) => {
      const bytes = Array.from(data);
      const d = decodeBlock(bytes);
      return !d.ok || zlibCrc32(Buffer.from(data)) === 0x2144df1c;
    }),
    { numRuns: 20000 },
  );
  t.pass();
});

test("the encoder refuses a selection it could not publish safely", (t) => {
  t.throws(() => encodeBlock({ ...valid, profileId: "a;reboot" }), {
    message: /profileId "a;reboot" is invalid/,
  });
  t.throws(() => encodeBlock({ ...valid, base: "1.2.3 x" }), { message: /base/ });
  t.throws(() => encodeBlock({ ...valid, sequence: -1 }), { message: /sequence/ });
});
