// Fuzzing the receive paths: at least 100,000 random and mutated frames. Nothing may throw,
// nothing may read outside its input (inputs are wrapped in a Proxy that throws on any index
// outside 0..length-1), and garbage between frames never hides the next good frame.
import test from "ava";
import fc from "fast-check";
import { decodeFrameBody, encodeFrame, type Frame, FrameDecoder, MAX_WIRE_FRAME } from "../protocol/frame";
import * as M from "../protocol/messages";
import { decodeBlock } from "../protocol/register-block";

const FRAMES = Number(process.env.FUZZ_FRAMES ?? 100_000);

/** An array that throws when read outside its bounds. */
function guarded(data: number[]): number[] {
  return new Proxy(data, {
    get(target, prop, receiver) {
      if (typeof prop === "string" && /^-?\d+$/.test(prop)) {
        const i = Number(prop);
        if (i < 0 || i >= target.length) throw new RangeError(`read at ${i} of ${target.length}`);
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

const decoders = [
  M.decodeHelloRequest,
  M.decodeHelloResponse,
  M.decodeGetProfile,
  M.decodeProfileReply,
  M.decodeListBegin,
  M.decodeListItem,
  M.decodeListCommit,
  M.decodePutProfile,
  M.decodeDeleteProfile,
  M.decodeSetDefault,
  M.decodeSetNext,
  M.decodeMenuOptions,
  M.decodeMarkGood,
  M.decodeBootReport,
  M.decodeState,
  M.decodeRecord,
];

/** Deterministic PRNG (mulberry32) so a failure can be replayed from its seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sampleRecord = {
  id: "pentest",
  name: "Pentest",
  base: "1.2.3",
  origin: "",
  flags: 0,
  created: 1,
  lastUsed: 2,
};
const seeds: number[][] = [
  M.encodeListItem({ generation: 7, index: 3, record: sampleRecord }),
  M.encodePutProfile({ baseGeneration: 1, newGeneration: 2, record: sampleRecord }),
  M.encodeHelloRequest({ minVersion: 1, maxVersion: 1, maxPayload: 256, capabilities: 31 }),
  M.encodeSetDefault({ mode: 0, id: "desktop" }),
  M.encodeMenuOptions({ timeoutSeconds: 3, showMenu: 0, maxTries: 3 }),
  M.encodeMarkGood({ sequence: 5, id: "pentest" }),
];

function mutate(rand: () => number, input: number[]): number[] {
  const out = input.slice();
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const op = Math.floor(rand() * 6);
    const at = Math.floor(rand() * (out.length + 1));
    if (op === 0 && out.length > 0) out[at % out.length] ^= 1 << Math.floor(rand() * 8);
    else if (op === 1) out.splice(at, 0, Math.floor(rand() * 256));
    else if (op === 2 && out.length > 0) out.splice(at % out.length, 1);
    else if (op === 3) out.length = Math.floor(rand() * out.length);
    else if (op === 4) out.splice(at, 0, ...out.slice(0, Math.floor(rand() * 8)));
    else if (out.length > 0) out[at % out.length] = rand() < 0.5 ? 0 : 0xff;
  }
  return out;
}

test(`fuzz: ${FRAMES} random and mutated frames; no throw, no out-of-bounds read, resync always works`, (t) => {
  const seed = Number(process.env.FUZZ_SEED ?? 20261126);
  const rand = prng(seed);
  const marker: Frame = { type: 0x02, seq: 0xa5, kind: 0, result: 0, payload: [1, 2, 3] };
  const markerWire = encodeFrame(marker);
  let resyncs = 0;
  let accepted = 0;
  for (let n = 0; n < FRAMES; n++) {
    let wire: number[];
    const kind = n % 3;
    if (kind === 0) {
      // Pure noise of random length.
      wire = Array.from({ length: Math.floor(rand() * 80) }, () => Math.floor(rand() * 256));
    } else {
      const payload = kind === 1 ? mutate(rand, seeds[n % seeds.length]) : seeds[n % seeds.length];
      const frame = encodeFrame({
        type: Math.floor(rand() * 256),
        seq: n & 0xff,
        kind: n % 3,
        result: 0,
        payload,
      });
      wire = kind === 2 ? mutate(rand, frame) : frame;
    }
    // Payload decoders see the raw (possibly mutated) bytes, guarded.
    const body = wire.filter((b) => b !== 0);
    for (const d of decoders) d(guarded(body));
    decodeBlock(guarded(body.slice(0, 64)));
    decodeFrameBody(guarded(body), 0, body.length);
    // Garbage followed by a delimiter never hides the next good frame.
    const frames: Frame[] = [];
    const dec = new FrameDecoder(MAX_WIRE_FRAME);
    dec.push(
      guarded([...wire, 0, ...markerWire]),
      (f) => frames.push(f),
      () => {},
    );
    const last = frames[frames.length - 1];
    if (!last || last.seq !== 0xa5 || last.payload.join() !== "1,2,3") {
      t.fail(`frame ${n} (seed ${seed}) hid the next good frame`);
      return;
    }
    accepted += frames.length - 1;
    resyncs++;
  }
  t.is(resyncs, FRAMES);
  t.log(
    `${FRAMES} frames fuzzed, ${accepted} mutated frames still passed the CRC (their payloads were then decoded)`,
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
