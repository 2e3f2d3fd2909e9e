// Fuzzing protocol/'s receive paths: 60% of the fuzz budget (FUZZ_FRAMES, 1,000,000 by default,
// shared with mcu-fuzz and bridge-fuzz) as mutated and random payloads for every message decoder,
// frames for the streaming frame decoder, and 64-byte register blocks. Nothing may throw, nothing
// may read outside its input (inputs throw on any read outside 0..length-1), every decoder answers
// either a value or an error with its Result, and garbage never hides the next good frame.
// The seed is printed; FUZZ_SEED=N replays a run.
import test from "ava";
import fc from "fast-check";
import { decodeFrameBody, encodeFrame, type Frame, FrameDecoder, MAX_WIRE_FRAME } from "../protocol/frame";
import * as M from "../protocol/messages";
import { BLOCK_LENGTH, decodeBlock, encodeBlock } from "../protocol/register-block";
import {
  FUZZ_SHARE,
  fuzzCount,
  fuzzSeed,
  guarded,
  mutate,
  pick,
  prng,
  randomBytes,
  replayHint,
} from "./helpers/fuzz";
import { sampleRecord, sampleRecord2, sampleReport, sampleSelection, sampleState } from "./helpers/samples";

const COUNT = fuzzCount(FUZZ_SHARE.protocol);

/** Every payload decoder with valid payloads to mutate. */
const decoders: [string, (p: number[]) => M.Decoded<unknown>, number[][]][] = [
  [
    "HelloRequest",
    M.decodeHelloRequest,
    [M.encodeHelloRequest({ minVersion: 2, maxVersion: 2, maxPayload: 1024, capabilities: 31 })],
  ],
  [
    "HelloResponse",
    M.decodeHelloResponse,
    [
      M.encodeHelloResponse({
        version: 2,
        maxPayload: 512,
        capabilities: 31,
        maxProfiles: 32,
        generation: 7,
        instance: 99,
        minVersion: 2,
        maxVersion: 2,
      }),
    ],
  ],
  ["GetProfile", M.decodeGetProfile, [M.encodeGetProfile({ index: 3 })]],
  [
    "ProfileReply",
    M.decodeProfileReply,
    [M.encodeProfileReply({ generation: 2, count: 5, index: 3, record: sampleRecord })],
  ],
  ["ListBegin", M.decodeListBegin, [M.encodeListBegin({ generation: 7, count: 32 })]],
  [
    "ListItem",
    M.decodeListItem,
    [
      M.encodeListItem({ generation: 7, index: 3, record: sampleRecord }),
      M.encodeListItem({ generation: 7, index: 29, records: [sampleRecord, sampleRecord2] }),
      ...M.packListItems(7, [sampleRecord, sampleRecord2, { ...sampleRecord, id: "third" }], 256),
    ],
  ],
  ["ListCommit", M.decodeListCommit, [M.encodeListCommit({ generation: 7, count: 2, listCrc: 0xdeadbeef })]],
  [
    "PutProfile",
    M.decodePutProfile,
    [M.encodePutProfile({ baseGeneration: 1, newGeneration: 2, record: sampleRecord })],
  ],
  [
    "DeleteProfile",
    M.decodeDeleteProfile,
    [M.encodeDeleteProfile({ baseGeneration: 1, newGeneration: 2, id: "pentest" })],
  ],
  [
    "SetDefault",
    M.decodeSetDefault,
    [M.encodeSetDefault({ mode: 0, id: "desktop" }), M.encodeSetDefault({ mode: 1, id: "" })],
  ],
  ["SetNext", M.decodeSetNext, [M.encodeSetNext({ action: 2, id: "desktop" })]],
  [
    "MenuOptions",
    M.decodeMenuOptions,
    [M.encodeMenuOptions({ timeoutSeconds: 3, showMenu: 0, maxTries: 3 })],
  ],
  ["MarkGood", M.decodeMarkGood, [M.encodeMarkGood({ sequence: 5, id: "pentest" })]],
  ["BootReport", M.decodeBootReport, [M.encodeBootReport(sampleReport)]],
  ["McuState", M.decodeState, [M.encodeState(sampleState)]],
  ["Record", M.decodeRecord, [M.encodeRecord(sampleRecord), M.encodeRecord(sampleRecord2)]],
];

const blocks = [
  encodeBlock(sampleSelection),
  encodeBlock({
    status: 1,
    action: 2,
    reason: 5,
    flags: 2,
    tryNumber: 0,
    maxTries: 0,
    sequence: 0,
    profileId: "",
    base: "",
  }),
];

const DELIMITER = [0];
const allPayloads = decoders.flatMap(([, , seeds]) => seeds);

test(`fuzz: ${COUNT} payloads, frames and register blocks; no throw, no out-of-bounds read, resync always works`, (t) => {
  const seed = fuzzSeed();
  t.log(`seed ${seed} (replay: ${replayHint(seed)} npx ava test/protocol-fuzz.test.ts)`);
  const rand = prng(seed);
  const marker: Frame = { type: 0x02, seq: 0xa5, kind: 0, result: 0, payload: [1, 2, 3] };
  const markerWire = encodeFrame(marker);
  const stream = new FrameDecoder(MAX_WIRE_FRAME);
  const got: Frame[] = [];
  const onFrame = (f: Frame) => {
    got.push(f);
  };
  const onError = () => {};
  const perDecoder = decoders.map(() => ({ ok: 0, refused: 0 }));
  let frames = 0;
  let framesPassed = 0;
  let blocksOk = 0;
  for (let n = 0; n < COUNT; n++) {
    const cls = n % 3;
    try {
      if (cls === 0) {
        // A payload for one decoder: its own seeds mutated, another message's bytes, or noise.
        const k = ((n / 3) % decoders.length) | 0;
        const [, decode, seeds] = decoders[k];
        const r = rand();
        const input =
          r < 0.7
            ? mutate(rand, pick(rand, seeds))
            : r < 0.85
              ? mutate(rand, pick(rand, allPayloads))
              : randomBytes(rand, Math.floor(rand() * 64));
        const d = decode(guarded(input));
        const consistent =
          (d.value === null) === (d.error !== "") && (d.value === null) === (d.result !== M.Result.OK);
        if (!consistent) {
          t.fail(
            `${decoders[k][0]} answered neither a value nor an error for [${input}] (${replayHint(seed)})`,
          );
          return;
        }
        if (d.value === null) perDecoder[k].refused++;
        else perDecoder[k].ok++;
      } else if (cls === 1) {
        // A frame on the wire: noise, a good frame, or a good frame mutated after encoding.
        const r = rand();
        let wire: number[];
        if (r < 0.25) wire = randomBytes(rand, Math.floor(rand() * 80));
        else {
          const payload = rand() < 0.5 ? mutate(rand, pick(rand, allPayloads)) : pick(rand, allPayloads);
          const f = encodeFrame({
            type: Math.floor(rand() * 256),
            seq: n & 0xff,
            kind: Math.floor(rand() * 3),
            result: 0,
            payload,
          });
          wire = r < 0.6 ? mutate(rand, f) : f;
        }
        const body = wire.filter((b) => b !== 0);
        decodeFrameBody(guarded(body), 0, body.length);
        // One long-lived decoder, as on a real line: the input, a delimiter, then a good frame.
        got.length = 0;
        stream.push(guarded(wire), onFrame, onError);
        stream.push(DELIMITER, onFrame, onError);
        stream.push(markerWire, onFrame, onError);
        const last = got[got.length - 1];
        if (!last || last.seq !== 0xa5 || last.payload.join() !== "1,2,3") {
          t.fail(`frame ${n} [${wire}] hid the next good frame (${replayHint(seed)})`);
          return;
        }
        frames++;
        framesPassed += got.length - 1;
      } else {
        // A register block as U-Boot reads it: mutated, or noise of about the right length.
        const b =
          rand() < 0.8
            ? mutate(rand, pick(rand, blocks))
            : randomBytes(rand, BLOCK_LENGTH - 2 + Math.floor(rand() * 5));
        const d = decodeBlock(guarded(b));
        if (d.ok) blocksOk++;
        else if (d.error === "") {
          t.fail(`block [${b}] refused without naming the error (${replayHint(seed)})`);
          return;
        }
      }
    } catch (e) {
      t.fail(`input ${n} threw ${(e as Error).stack} (${replayHint(seed)})`);
      return;
    }
  }
  t.is(frames, Math.floor((COUNT + 1) / 3));
  // The mutations reach past the first checks: every decoder accepted some and refused some inputs
  // (checked at the default budget; a small FUZZ_FRAMES run is a quick smoke test).
  for (let k = 0; k < decoders.length && COUNT >= 100_000; k++) {
    t.true(
      perDecoder[k].ok > 0 && perDecoder[k].refused > 0,
      `${decoders[k][0]}: ${JSON.stringify(perDecoder[k])}`,
    );
  }
  t.log(
    `${COUNT} inputs: ${frames} frames (${framesPassed} mutated ones still passed the CRC), ` +
      `${blocksOk} blocks accepted, decoders ${decoders.map(([name], k) => `${name} ${perDecoder[k].ok}/${perDecoder[k].refused}`).join(", ")}`,
  );
});

test("property: arbitrary byte streams through the decoder never throw and keep memory bounded", (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 3000 }), (bytes) => {
      const dec = new FrameDecoder(MAX_WIRE_FRAME);
      let count = 0;
      dec.push(
        guarded(bytes),
        () => count++,
        () => count++,
      );
      return count <= bytes.filter((b) => b === 0).length;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});
