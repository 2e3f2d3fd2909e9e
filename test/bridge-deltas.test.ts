// planDeltas (property test): whenever it answers with PUT/DELETE operations, sending them as
// PUT_PROFILE/DELETE_PROFILE frames to the real MCU link and core gives exactly the new list, in
// order, each under a newer generation; sending them again afterwards changes nothing.
import test from "ava";
import fc from "fast-check";
import { BootCore } from "../mcu/core/core";
import { Store } from "../mcu/core/store";
import { MemoryFlash } from "../mcu/node/flash";
import { encodeFrame, FrameDecoder, FrameKind, MAX_WIRE_FRAME } from "../protocol/frame";
import { encodeDeleteProfile, encodePutProfile, listCrc, MessageType, Result } from "../protocol/messages";
import { type ProfileRecord, sameProfile } from "../protocol/profile";
import { nextGeneration, planDeltas } from "../soc-bridge/ops";

const recordArb = (id: string) =>
  fc.record({
    id: fc.constant(id),
    name: fc.constantFrom("Alpha", "Beta", "Gamma", "Delta"),
    base: fc.constantFrom("1.0", "1.2.3"),
    flags: fc.integer({ min: 0, max: 3 }),
    created: fc.integer({ min: 0, max: 5 }),
    lastUsed: fc.integer({ min: 0, max: 5 }),
    origin: fc.constant(""),
  });

const listArb = fc
  .uniqueArray(fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h"), { maxLength: 8 })
  .chain((ids) => (ids.length === 0 ? fc.constant([] as ProfileRecord[]) : fc.tuple(...ids.map(recordArb))));

function coreWith(list: ProfileRecord[]): { core: BootCore; request: (type: number, p: number[]) => number } {
  let result = -1;
  const dec = new FrameDecoder(MAX_WIRE_FRAME);
  const core = new BootCore(
    {
      send: (b) =>
        dec.push(
          b,
          (f) => {
            if (f.kind === FrameKind.RESPONSE) result = f.result;
          },
          () => {},
        ),
      final: () => {},
    },
    { instance: 1 },
  );
  // The list as the MCU's flash holds it after a sync of generation 1.
  const flash = new MemoryFlash();
  const seed = new Store();
  seed.saveList(1, list, listCrc(list));
  for (const w of seed.takeWrites()) flash.write(w.key, w.value);
  core.load(flash);
  let seq = 0;
  const request = (type: number, payload: number[]) => {
    result = -1;
    seq = (seq + 1) & 0xff;
    core.uartReceive(encodeFrame({ type, seq, kind: FrameKind.REQUEST, result: 0, payload }), 0);
    return result;
  };
  return { core, request };
}

test("deltas, when planned, reproduce the new list exactly on the real core", (t) => {
  let planned = 0;
  fc.assert(
    fc.property(listArb, listArb, (oldList, newList) => {
      const ops = planDeltas(oldList, newList, 8);
      if (ops === null) return true;
      planned++;
      const { core, request } = coreWith(oldList);
      let gen = 1;
      const sent: [number, number[]][] = [];
      for (const op of ops) {
        const next = nextGeneration(gen);
        const frame: [number, number[]] =
          op.kind === "put"
            ? [
                MessageType.PUT_PROFILE,
                encodePutProfile({ baseGeneration: gen, newGeneration: next, record: op.record }),
              ]
            : [
                MessageType.DELETE_PROFILE,
                encodeDeleteProfile({ baseGeneration: gen, newGeneration: next, id: op.id }),
              ];
        if (request(...frame) !== Result.OK) return false;
        if (core.generation() !== next) return false;
        sent.push(frame);
        gen = next;
      }
      const same = (got: ProfileRecord[]) =>
        got.length === newList.length && got.every((r, i) => sameProfile(r, newList[i]));
      if (!same(core.profiles())) return false;
      // Replayed afterwards (new seqs): all but a retry of the last are refused; nothing changes.
      for (let i = 0; i < sent.length; i++) {
        const r = request(...sent[i]);
        const expected = i === sent.length - 1 ? Result.OK : Result.OLD_GENERATION;
        if (r !== expected) return false;
      }
      return same(core.profiles()) && core.generation() === gen;
    }),
    { numRuns: 400, seed: 42 },
  );
  t.true(planned > 50, "enough cases went as deltas: " + planned);
});

test("no change plans no operation; a reorder is never a delta", (t) => {
  const a = { id: "a", name: "A", base: "1.0", flags: 0, created: 0, lastUsed: 0, origin: "" };
  const b = { ...a, id: "b", name: "B" };
  t.deepEqual(planDeltas([a, b], [a, b]), []);
  t.is(planDeltas([a, b], [b, a]), null);
  t.deepEqual(planDeltas([a, b], [a]), [{ kind: "delete", id: "b" }]);
  t.is(planDeltas([a], [b, a]), null, "a new profile sorted first needs a full transfer");
});
