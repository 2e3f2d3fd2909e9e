// planDeltas (property test): whenever it answers with PUT/DELETE operations, applying them with
// the real MCU core (mcu/core BootCore putProfile/deleteProfile) gives exactly the new list, in order.
import test from "ava";
import fc from "fast-check";
import { BootCore } from "../mcu/core/core";
import { MemoryFlash } from "../mcu/node/flash";
import { listCrc } from "../protocol/messages";
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

function coreWith(list: ProfileRecord[]): BootCore {
  const core = new BootCore({ send: () => {}, final: () => {} }, { instance: 1 });
  core.load(new MemoryFlash());
  core.commitList(1, list, listCrc(list));
  return core;
}

test("deltas, when planned, reproduce the new list exactly on the real core", (t) => {
  let planned = 0;
  fc.assert(
    fc.property(listArb, listArb, (oldList, newList) => {
      const ops = planDeltas(oldList, newList, 8);
      if (ops === null) return true;
      planned++;
      const core = coreWith(oldList);
      let gen = 1;
      for (const op of ops) {
        const next = nextGeneration(gen);
        const o =
          op.kind === "put" ? core.putProfile(gen, next, op.record) : core.deleteProfile(gen, next, op.id);
        if (o.result !== 0) return false;
        gen = next;
      }
      const got = core.profiles();
      return got.length === newList.length && got.every((r, i) => sameProfile(r, newList[i]));
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
