// Every scenario in sim/scenarios/ runs against the real parts (one shared U-Boot in QEMU) and must
// pass; the runner must also fail, loudly and usefully, when an expectation is wrong.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { PNG } from "pngjs";
import { runScenarios } from "../sim/scenario";
import { SimUboot } from "../sim/uboot";

const DIR = join(process.cwd(), "sim", "scenarios");
const files = readdirSync(DIR)
  .filter((f) => /\.(ya?ml|json)$/.test(f))
  .sort()
  .map((f) => join(DIR, f))
  // Scenarios with the real Linux boot Debian under QEMU (minutes each): test/sim-linux-real.test.ts.
  .filter((f) => !/^linux: real$/m.test(readFileSync(f, "utf8")));

test("there is a scenario for every user story of the issue", (t) => {
  const names = files.map((f) => f.split("/").pop());
  for (const story of [
    "zero-wait-default",
    "hold-key-pick-profile",
    "default-from-menu",
    "one-shot-from-linux",
    "fallback-after-failures",
    "mcu-restart-mid-sync",
    "default-deleted-on-linux",
    "recovery-from-menu",
    "mcu-absent",
    "hostile-profile-id",
  ]) {
    t.true(
      names.some((n) => n!.includes(story)),
      story,
    );
  }
});

test("all scenarios pass (one process, one shared U-Boot session)", async (t) => {
  t.timeout(1_200_000); // generous: a loaded machine
  const uboot = new SimUboot();
  const out = mkdtempSync(join(tmpdir(), "flipper-sim-test-"));
  const lines: string[] = [];
  t.teardown(() => {
    uboot.close();
    rmSync(out, { recursive: true, force: true });
  });
  const results = await runScenarios(files, { uboot, outDir: out, print: (l) => lines.push(l) });
  t.log(lines.join("\n"));
  t.is(results.length, files.length);
  for (const r of results) {
    t.true(r.passed, r.name + (r.error ? ": " + r.error : ""));
    t.true(r.steps.length > 0 && r.steps.every((s) => s.ok), r.name);
  }
});

test("a wrong expectation fails with expected and actual, saves the screen and exits non-zero", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "flipper-sim-fail-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "wrong.json");
  // JSON works as well as YAML. No boot is needed, so no QEMU starts.
  writeFileSync(
    file,
    JSON.stringify({
      name: "a deliberately wrong expectation",
      steps: [
        { powerOn: { hold: ["ok"] } },
        { expect: { screen: "Desktop", screenName: "list" } },
        { expect: { screen: "Windows 95", within: 300 } },
        { press: "down" },
      ],
    }),
  );
  const out = join(dir, "failures");
  const r = spawnSync(process.execPath, ["--import", "tsx", "sim/scenario.ts", "--out", out, file], {
    encoding: "utf8",
    timeout: 120000,
  });
  const text = r.stdout + r.stderr;
  t.is(r.status, 1, text);
  t.regex(text, /✓ +1 powerOn holding ok/);
  t.regex(text, /✓ +2 expect screen, screenName/);
  t.regex(text, /✗ +3 expect screen/);
  t.regex(text, /expected: "Windows 95"/);
  t.regex(text, /actual: +\["Boot profile","Desktop/);
  t.notRegex(text, /4 press/, "stops at the first failure");
  t.regex(text, /0 passed, 1 failed/);
  const png = join(out, "wrong-step3.png");
  t.true(existsSync(png), "the screen is saved as " + png);
  const img = PNG.sync.read(readFileSync(png));
  t.deepEqual([img.width, img.height], [256, 144]);
});

test("a scenario file with an unknown step or expectation is refused with a message naming it", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "flipper-sim-bad-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const a = join(dir, "a.yaml");
  writeFileSync(a, "name: x\nsteps:\n  - jump: 3\n");
  const b = join(dir, "b.yaml");
  writeFileSync(b, "name: y\nsteps:\n  - expect: { bootarg: x }\n");
  const r = spawnSync(process.execPath, ["--import", "tsx", "sim/scenario.ts", a, b], {
    encoding: "utf8",
    timeout: 60000,
  });
  t.is(r.status, 1);
  t.regex(r.stdout, /step 1 \{"jump":3\} is invalid: must have exactly one of powerOn/);
  t.regex(r.stdout, /expectation "bootarg" is unknown: use bootargs/);
});
