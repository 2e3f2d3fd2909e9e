// The simulator with the compiled DeviceScript program in the real DeviceScript VM (`--mcu vm`)
// instead of the Node adapter: five scenarios pass unchanged, among them the power cycles and
// fallback of 05 and the whole-frame pixel comparisons of 13 (the program's own pixels, mirrored
// from the VM, against the reference PNGs at the VM's 4 bits a pixel).
// One VM per machine (a lock shared with the other VM tests), so this may wait for it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { runScenarios } from "../sim/scenario";
import { SimUboot } from "../sim/uboot";

const SCENARIOS = [
  "02-hold-key-pick-profile.yaml",
  "04-one-shot-from-linux.yaml",
  "05-fallback-after-failures.yaml",
  "08-recovery-from-menu.yaml",
  "13-screen-pixels.yaml",
];

test("with the MCU in the DeviceScript VM: menu picks, a one-shot, fallback after failures, recovery, pixels", async (t) => {
  t.timeout(2_400_000); // each scenario may wait for the machine's one VM port
  const uboot = new SimUboot();
  const out = mkdtempSync(join(tmpdir(), "flipper-sim-vm-"));
  const lines: string[] = [];
  t.teardown(() => {
    uboot.close();
    rmSync(out, { recursive: true, force: true });
  });
  const files = SCENARIOS.map((f) => join(process.cwd(), "sim", "scenarios", f));
  const results = await runScenarios(files, { uboot, outDir: out, mcu: "vm", print: (l) => lines.push(l) });
  t.log(lines.filter((l) => !l.startsWith("tcp:")).join("\n"));
  t.is(results.length, SCENARIOS.length);
  for (const r of results) {
    t.true(r.passed, r.name + (r.error ? ": " + r.error : ""));
    t.true(r.steps.length > 0 && r.steps.every((s) => s.ok), r.name);
  }
  // The pixel scenario compared whole frames (three screenPng expectations ran and held).
  t.is(lines.filter((l) => /✓ +\d+ expect .*screenPng/.test(l)).length, 3, "the screen PNG steps ran");
});
