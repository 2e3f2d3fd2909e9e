import { isDeepStrictEqual } from "node:util";
import test from "ava";
import { crc32, hexBytes, sameBytes } from "../protocol/bytes";
import fc from "fast-check";
import {
  cobsDecode,
  cobsMaxEncoded,
  cobsEncode,
  decodeFrameBody,
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameError,
  FrameKind,
  MAX_WIRE_FRAME,
  PAYLOAD_LIMIT,
} from "../protocol/frame";
import * as M from "../protocol/messages";
import {
  actionName,
  BlockAction,
  BlockReason,
  BlockStatus,
  reasonName,
  statusName,
} from "../protocol/register-block";
import { arbBase, arbId, arbRecord, arbU32 } from "./helpers/arbitraries";

function receive(bytes: number[]): { frames: Frame[]; errors: string[] } {
  const frames: Frame[] = [];
  const errors: string[] = [];
  new FrameDecoder(MAX_WIRE_FRAME).push(
    bytes,
    (f) => frames.push(f),
    (e) => errors.push(e),
  );
  return { frames, errors };
}

const arbFrame: fc.Arbitrary<Frame> = fc.record({
  type: fc.integer({ min: 0, max: 255 }),
  seq: fc.integer({ min: 0, max: 255 }),
  kind: fc.constantFrom(0, 1, 2),
  result: fc.integer({ min: 0, max: 255 }),
  payload: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 600 }),
});

test("property: COBS round-trips and never emits a zero", (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 1200 }), (data) => {
      const enc = cobsEncode(data);
      return !enc.includes(0) && JSON.stringify(cobsDecode(enc, 0, enc.length)) === JSON.stringify(data);
    }),
    { numRuns: 500 },
  );
  // Overhead bound: at most one byte per 254, plus one.
  for (const n of [0, 1, 253, 254, 255, 1016, 1034]) {
    const big = new Array(n).fill(7);
    t.true(cobsEncode(big).length <= cobsMaxEncoded(n), `n=${n}`);
  }
  t.is(cobsMaxEncoded(1016), 1021);
});

test("property: frames round-trip through the streaming decoder, split anywhere", (t) => {
  fc.assert(
    fc.property(
      fc.array(arbFrame, { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 1, max: 50 }),
      (frames, chunk) => {
        const wire = frames.flatMap(encodeFrame);
        const got: Frame[] = [];
        const dec = new FrameDecoder(MAX_WIRE_FRAME);
        for (let i = 0; i < wire.length; i += chunk) {
          dec.push(
            wire.slice(i, i + chunk),
            (f) => got.push(f),
            () => got.push(null as never),
          );
        }
        // Each decoded frame also carries its CRC-32 (what identifies a resent frame).
        const crcs = frames.map((f) => {
          const raw = cobsDecode(encodeFrame(f), 0, encodeFrame(f).length - 1)!;
          return crc32(raw, 0, raw.length - 4);
        });
        return JSON.stringify(got) === JSON.stringify(frames.map((f, i) => ({ ...f, crc: crcs[i] })));
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});

test("each malformed frame class gets its own error", (t) => {
  const good = encodeFrame({ type: 2, seq: 1, kind: 0, result: 0, payload: [1, 2, 3] });
  const body = good.slice(0, -1);
  t.is(decodeFrameBody(body, 0, body.length).error, "");
  // bad CRC: a well-formed frame whose last four bytes are not its CRC.
  const badCrc = cobsEncode([2, 1, 0, 0, 3, 0, 1, 2, 3, 0x11, 0x22, 0x33, 0x44]);
  t.is(decodeFrameBody(badCrc, 0, badCrc.length).error, FrameError.BAD_CRC);
  // truncated: a COBS body that decodes to fewer than 10 bytes.
  const short = cobsEncode([1, 2, 3]);
  t.is(decodeFrameBody(short, 0, short.length).error, FrameError.TRUNCATED);
  // bad COBS: a code byte pointing past the end.
  t.is(decodeFrameBody([0x20, 1, 2], 0, 3).error, FrameError.BAD_COBS);
  // bad length: header says 3 bytes, but 4 follow.
  const raw = [2, 1, 0, 0, 3, 0, 1, 2, 3, 4];
  const withCrc = (r: number[]) => {
    const crc = Buffer.alloc(4);
    crc.writeUInt32LE(require_crc(r));
    return cobsEncode([...r, ...crc]);
  };
  const badLen = withCrc(raw);
  t.is(decodeFrameBody(badLen, 0, badLen.length).error, FrameError.BAD_LENGTH);
  // oversize length field
  const over = withCrc([2, 1, 0, 0, 0xff, 0xff]);
  t.is(decodeFrameBody(over, 0, over.length).error, FrameError.OVERSIZE);
  // bad kind
  const kind = withCrc([2, 1, 7, 0, 0, 0]);
  t.is(decodeFrameBody(kind, 0, kind.length).error, FrameError.BAD_KIND);
  // A run longer than any frame is dropped without buffering, then the next frame still arrives.
  const flood = new Array(MAX_WIRE_FRAME + 10).fill(0x41);
  const r = receive([...flood, 0, ...good]);
  t.deepEqual(r.errors, [FrameError.OVERSIZE]);
  t.is(r.frames.length, 1);
  t.throws(() =>
    encodeFrame({ type: 1, seq: 0, kind: 0, result: 0, payload: new Array(PAYLOAD_LIMIT + 1).fill(1) }),
  );
});

function require_crc(r: number[]): number {
  return crc32(r, 0, r.length);
}

test("garbage before, between and inside frames never hides the next good frame", (t) => {
  const a = encodeFrame({ type: 0x11, seq: 1, kind: 0, result: 0, payload: [9, 9, 0, 9] });
  const b = encodeFrame({ type: 0x12, seq: 2, kind: 0, result: 0, payload: [] });
  const torn = a.slice(0, 5); // a frame cut off by an MCU reset
  const r = receive([0xde, 0xad, ...torn, 0, 0, 0, ...a, 0x55, 0x00, ...b]);
  t.deepEqual(
    r.frames.map((f) => f.seq),
    [1, 2],
  );
  t.is(r.errors.length, 2);
});

const arbReport = fc.record({
  sequence: fc.integer({ min: 1, max: 0xffffffff }),
  action: fc.constantFrom(1, 2, 3),
  reason: fc.integer({ min: 1, max: 5 }),
  flags: fc.integer({ min: 0, max: 15 }),
  tryNumber: fc.integer({ min: 0, max: 255 }),
  maxTries: fc.integer({ min: 0, max: 255 }),
  id: arbId,
  base: arbBase,
  good: fc.constantFrom(0, 1),
});

/** Every message payload: an arbitrary of valid values, its encoder and its decoder. */
const codecs: [string, fc.Arbitrary<object>, (v: never) => number[], (b: number[]) => M.Decoded<object>][] = [
  [
    "HelloRequest",
    fc.record({
      minVersion: fc.integer({ min: 0, max: 100 }),
      maxVersion: fc.integer({ min: 100, max: 255 }),
      maxPayload: fc.integer({ min: 0, max: 65535 }),
      capabilities: arbU32,
    }),
    M.encodeHelloRequest as never,
    M.decodeHelloRequest,
  ],
  [
    "HelloResponse",
    fc.record({
      version: fc.integer({ min: 0, max: 255 }),
      maxPayload: fc.integer({ min: 256, max: 65535 }),
      capabilities: arbU32,
      maxProfiles: fc.integer({ min: 0, max: 255 }),
      generation: arbU32,
      instance: arbU32,
      minVersion: fc.integer({ min: 0, max: 255 }),
      maxVersion: fc.integer({ min: 0, max: 255 }),
    }),
    M.encodeHelloResponse as never,
    M.decodeHelloResponse,
  ],
  [
    "GetProfile",
    fc.record({ index: fc.integer({ min: 0, max: 255 }) }),
    M.encodeGetProfile as never,
    M.decodeGetProfile,
  ],
  [
    "ProfileReply",
    fc.record({
      generation: arbU32,
      count: fc.integer({ min: 0, max: 32 }),
      index: fc.integer({ min: 0, max: 31 }),
      record: arbRecord,
    }),
    M.encodeProfileReply as never,
    M.decodeProfileReply,
  ],
  [
    "ListBegin",
    fc.record({ generation: arbU32, count: fc.integer({ min: 0, max: 32 }) }),
    M.encodeListBegin as never,
    M.decodeListBegin,
  ],
  [
    "ListItem",
    fc.integer({ min: 0, max: 31 }).chain((index) =>
      fc.record({
        generation: arbU32,
        index: fc.constant(index),
        records: fc.array(arbRecord, { minLength: 1, maxLength: Math.min(4, 32 - index) }),
      }),
    ),
    M.encodeListItem as never,
    M.decodeListItem,
  ],
  [
    "ListCommit",
    fc.record({ generation: arbU32, count: fc.integer({ min: 0, max: 255 }), listCrc: arbU32 }),
    M.encodeListCommit as never,
    M.decodeListCommit,
  ],
  [
    "PutProfile",
    fc.record({ baseGeneration: arbU32, newGeneration: arbU32, record: arbRecord }),
    M.encodePutProfile as never,
    M.decodePutProfile,
  ],
  [
    "DeleteProfile",
    fc.record({ baseGeneration: arbU32, newGeneration: arbU32, id: arbId }),
    M.encodeDeleteProfile as never,
    M.decodeDeleteProfile,
  ],
  [
    "SetDefault",
    fc.oneof(fc.record({ mode: fc.constant(0), id: arbId }), fc.constant({ mode: 1, id: "" })),
    M.encodeSetDefault as never,
    M.decodeSetDefault,
  ],
  [
    "SetNext",
    fc.oneof(fc.record({ action: fc.constantFrom(1, 2, 3), id: arbId }), fc.constant({ action: 0, id: "" })),
    M.encodeSetNext as never,
    M.decodeSetNext,
  ],
  [
    "MenuOptions",
    fc.record({
      timeoutSeconds: fc.integer({ min: 0, max: 60 }),
      showMenu: fc.constantFrom(0, 1),
      maxTries: fc.integer({ min: 1, max: 10 }),
    }),
    M.encodeMenuOptions as never,
    M.decodeMenuOptions,
  ],
  [
    "MarkGood",
    fc.record({ sequence: arbU32, id: fc.oneof(fc.constant(""), arbId) }),
    M.encodeMarkGood as never,
    M.decodeMarkGood,
  ],
  ["BootReport", arbReport, M.encodeBootReport as never, M.decodeBootReport],
  [
    "McuState",
    fc.record({
      generation: arbU32,
      profileCount: fc.integer({ min: 0, max: 32 }),
      listCrc: arbU32,
      maxProfiles: fc.constant(32),
      defaultMode: fc.constantFrom(0, 1),
      defaultId: fc.oneof(fc.constant(""), arbId),
      nextAction: fc.constantFrom(0, 1, 2, 3),
      nextId: fc.oneof(fc.constant(""), arbId),
      options: fc.record({
        timeoutSeconds: fc.integer({ min: 0, max: 60 }),
        showMenu: fc.constantFrom(0, 1),
        maxTries: fc.integer({ min: 1, max: 10 }),
      }),
      lastGoodId: fc.oneof(fc.constant(""), arbId),
      lastBoot: arbReport,
      tries: fc.array(
        fc.record({ id: arbId, tries: fc.integer({ min: 0, max: 255 }), failed: fc.constantFrom(0, 1) }),
        { maxLength: 8 },
      ),
    }),
    M.encodeState as never,
    M.decodeState,
  ],
];

for (const [name, arb, encode, decode] of codecs) {
  test(`property: ${name} round-trips, inside a frame too, and rejects truncation and trailing bytes`, (t) => {
    fc.assert(
      fc.property(arb, fc.integer({ min: 0, max: 255 }), (value, seq) => {
        const payload = encode(value as never);
        const back = decode(payload);
        if (back.error !== "" || !isDeepStrictEqual(back.value, structuredClone(value))) return false;
        const wire = encodeFrame({ type: 1, seq, kind: FrameKind.REQUEST, result: 0, payload });
        const r = receive(wire);
        if (r.frames.length !== 1 || JSON.stringify(r.frames[0].payload) !== JSON.stringify(payload))
          return false;
        // Every strict prefix and a trailing byte are refused, never thrown.
        if (payload.length > 0 && decode(payload.slice(0, payload.length - 1)).value !== null) return false;
        return decode([...payload, 0]).value === null;
      }),
      { numRuns: 300 },
    );
    t.pass();
  });
}

test("decoders refuse invalid field values with a message naming the value and rule", (t) => {
  const rec = {
    id: "desktop",
    name: "Desktop",
    base: "1.2.3",
    origin: "",
    flags: 0,
    created: 0,
    lastUsed: 0,
  };
  const item = M.encodeListItem({ generation: 1, index: 0, record: { ...rec, id: "Evil;id" } });
  t.regex(M.decodeListItem(item).error, /^id "Evil;id" is invalid: must be 1 to 31/);
  const tooMany = M.decodeListBegin(M.encodeListBegin({ generation: 1, count: 33 }));
  t.regex(tooMany.error, /^count 33 is too many: at most 32 profiles$/);
  t.is(tooMany.result, M.Result.NO_SPACE, "its own result, so the MCU needs no copy of the decoder");
  t.is(M.decodeListBegin([1, 0, 0]).result, M.Result.INVALID);
  t.is(M.decodeListBegin(M.encodeListBegin({ generation: 1, count: 32 })).result, M.Result.OK);
  t.is(
    M.decodeListItem(M.encodeListItem({ generation: 1, index: 32, record: rec })).result,
    M.Result.NO_SPACE,
  );
  t.is(
    M.decodeListItem(M.encodeListItem({ generation: 1, index: 31, records: [rec, { ...rec, id: "b" }] }))
      .result,
    M.Result.NO_SPACE,
  );
  t.regex(M.decodeListItem([1, 0, 0, 0, 0]).error, /carries no record/);
  t.regex(M.decodeSetDefault([2, 0]).error, /mode 2 is invalid/);
  t.regex(M.decodeSetDefault(M.encodeSetDefault({ mode: 1, id: "x" })).error, /empty with the last-used/);
  t.regex(M.decodeSetNext(M.encodeSetNext({ action: 9, id: "desktop" })).error, /action 9 is invalid/);
  t.regex(M.decodeMenuOptions([61, 0, 3]).error, /timeout 61 is invalid: must be 0 to 60/);
  t.regex(M.decodeMenuOptions([3, 2, 3]).error, /show 2/);
  t.regex(M.decodeMenuOptions([3, 0, 0]).error, /max tries 0/);
  t.regex(M.decodeHelloRequest([3, 2, 0, 1, 0, 0, 0, 0]).error, /version range 3..2 is empty/);
  // An MCU claiming less than every MCU accepts would leave the bridge unable to send even HELLO.
  const small = M.encodeHelloResponse({
    version: 2,
    maxPayload: 3,
    capabilities: 31,
    maxProfiles: 32,
    generation: 1,
    instance: 1,
    minVersion: 2,
    maxVersion: 2,
  });
  t.regex(M.decodeHelloResponse(small).error, /^maxPayload 3 is invalid: must be at least 256$/);
  // A string whose bytes are not UTF-8 fails the whole payload.
  t.not(M.decodeDeleteProfile([1, 0, 0, 0, 2, 0, 0, 0, 2, 0xc3, 0x28]).error, "");
  t.is(M.resultName(M.Result.NO_SPACE), "NO_SPACE");
  t.is(M.resultName(200), "RESULT_200");
  t.is(M.messageName(M.MessageType.LIST_COMMIT), "LIST_COMMIT");
});

test("every code has one name, and an unknown code prints as its number", (t) => {
  for (const [name, code] of Object.entries(M.MessageType)) t.is(M.messageName(code), name);
  for (const [name, code] of Object.entries(M.Result)) t.is(M.resultName(code), name);
  t.is(M.messageName(0x7f), "0x7f");
  t.is(M.messageName(0x05), "0x05");
  t.is(M.defaultModeName(M.DefaultMode.LAST_USED), "last-used");
  t.is(M.defaultModeName(M.DefaultMode.FIXED), "fixed");
  t.is(M.showMenuName(M.ShowMenu.ALWAYS), "always");
  t.is(M.showMenuName(M.ShowMenu.ON_KEY), "on-key");
  t.is(M.showMenuName(9), "9");
  t.is(actionName(BlockAction.RECOVERY), "recovery");
  t.is(actionName(0), "0");
  t.is(reasonName(BlockReason.ONE_SHOT), "one-shot");
  t.is(reasonName(6), "6");
  t.is(statusName(BlockStatus.PENDING), "pending");
  t.is(statusName(3), "3");
});

test("bytes print as hex and compare by content", (t) => {
  t.is(hexBytes([0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
  t.is(hexBytes(Buffer.from([1, 2])), "0102");
  t.is(hexBytes([]), "");
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => hexBytes(b) === Buffer.from(b).toString("hex")),
  );
  t.true(sameBytes([1, 2], [1, 2]));
  t.false(sameBytes([1, 2], [1, 3]));
  t.false(sameBytes([1, 2], [1]));
  t.true(sameBytes(null, null));
  t.false(sameBytes(null, []));
});

test("listCrc depends on every record and their order", (t) => {
  const a = { id: "a", name: "A", base: "1.2", origin: "", flags: 0, created: 0, lastUsed: 0 };
  const b = { ...a, id: "b", name: "B" };
  t.not(M.listCrc([a, b]), M.listCrc([b, a]));
  t.not(M.listCrc([a, b]), M.listCrc([a, { ...b, lastUsed: 1 }]));
  t.is(M.listCrc([a, b]), M.listCrc([{ ...a }, { ...b }]));
});

test("property: packListItems splits any list into consecutive LIST_ITEM payloads within the limit that decode back to it", (t) => {
  fc.assert(
    fc.property(
      fc.uniqueArray(arbRecord, { maxLength: 32, selector: (r) => r.id }),
      fc.integer({ min: 160, max: 1024 }),
      arbU32,
      (list, max, generation) => {
        const items = M.packListItems(generation, list, max);
        const back: unknown[] = [];
        for (const p of items) {
          if (p.length > max) return false;
          const d = M.decodeListItem(p);
          if (!d.value || d.value.generation !== generation || d.value.index !== back.length) return false;
          back.push(...d.value.records);
        }
        // Greedy: no two neighbouring frames would have fitted in one.
        for (let i = 0; i + 1 < items.length; i++) {
          if (items[i].length + items[i + 1].length - M.LIST_ITEM_HEADER_BYTES <= max) return false;
        }
        return isDeepStrictEqual(back, structuredClone(list));
      },
    ),
    { numRuns: 300 },
  );
  t.deepEqual(M.packListItems(1, [], 512), []);
});

test("property: the streaming decoder (COBS undone as bytes arrive) agrees with decodeFrameBody on any body, split anywhere", (t) => {
  const arbBody = fc
    .oneof(
      // Real frames, sometimes damaged, and pure noise; zeros removed (they are delimiters).
      arbFrame.map((f) => encodeFrame(f).slice(0, -1)),
      fc.tuple(arbFrame, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([f, at, v]) => {
        const w = encodeFrame(f).slice(0, -1);
        w[at % w.length] = v;
        return w;
      }),
      fc.array(fc.integer({ min: 1, max: 255 }), { maxLength: 1200 }),
    )
    .map((b) => b.filter((x) => x !== 0));
  fc.assert(
    fc.property(arbBody, fc.integer({ min: 1, max: 64 }), (body, chunk) => {
      const got: (Frame | string)[] = [];
      const dec = new FrameDecoder(MAX_WIRE_FRAME);
      const wire = [...body, 0];
      for (let i = 0; i < wire.length; i += chunk) {
        dec.push(
          wire.slice(i, i + chunk),
          (f) => got.push(f),
          (e) => got.push(e),
        );
      }
      if (body.length === 0) return got.length === 0;
      const want = body.length > MAX_WIRE_FRAME ? FrameError.OVERSIZE : decodeFrameBody(body, 0, body.length);
      const expected = typeof want === "string" ? want : (want.frame ?? want.error);
      return got.length === 1 && isDeepStrictEqual(got[0], expected);
    }),
    { numRuns: 1500 },
  );
  t.pass();
});
