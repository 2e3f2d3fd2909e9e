// The real core's boot policy, link and flash A/B store, compiled with the DeviceScript compiler and run
// in its VM (`devs run mcu/devs/core.test.devs.ts --test --test-self-exit`, @devicescript/test).
import test from "ava";
import { devsRunTest } from "./helpers/devs";

const FILE = "mcu/devs/core.test.devs.ts";

/** The test names the program defines (each printed by @devicescript/test as it starts). */
const TESTS = [
  "zero-wait: no key, no timeout boots the default at once (FINAL)",
  "menu with a countdown: PENDING, then FINAL when it runs out",
  "keys: held key opens the menu, Down + OK picks another profile",
  "one-shot boots once, then the default applies again",
  "tries: maxTries boots without mark-good mark the profile failed; fallback to the last good",
  "mark-good clears the tries",
  "last-used default: the last profile marked good boots next",
  "deleted default falls back",
  "list transfer: staged, replaced whole at commit; a restart mid-transfer keeps the old list",
  "bad frames get INVALID / UNSUPPORTED and change nothing",
  "NO_SPACE beyond 32 profiles",
  "A/B: a power cut after any write, or a torn write, reloads the old or the new state",
];

test("the core's policy, link and flash tests pass inside the DeviceScript VM", async (t) => {
  t.timeout(600_000);
  const r = await devsRunTest(FILE, 300_000, true);
  const failed = r.logs.filter((l) => l.startsWith("FAILED: "));
  t.deepEqual(failed, [], r.output);
  t.is(r.code, 0, r.output);
  t.true(r.logs.includes(`tests: ${TESTS.length}, pass: ${TESTS.length}, error: 0`), r.output);
  for (const name of TESTS) t.true(r.logs.includes(`  ${name}`), `test "${name}" did not run\n${r.output}`);
  const oks = r.logs.filter((l) => l.startsWith("ok "));
  // 92 checks with the core of this writing; the torn-write sweep grows with the number of writes.
  t.true(oks.length >= 85, `only ${oks.length} checks ran\n${r.output}`);
  for (const line of [
    "ok zero-wait FINAL",
    "ok falls back to desktop",
    "ok restart keeps gen 7",
    "ok unknown type UNSUPPORTED",
    "ok the 33rd NO_SPACE",
    "ok all writes: the new list",
  ]) {
    t.true(r.logs.includes(line), `missing "${line}"\n${r.output}`);
  }
  t.true(
    oks.some((l) => / \+ torn: gen 7$/.test(l)),
    "a torn write was tried",
  );
});
