// The simulator with the compiled DeviceScript program in the real DeviceScript VM (`--mcu vm`)
// instead of the Node adapter: scenarios that do not need pixels or the flash view pass unchanged.
// One VM per machine (a lock shared with test/mcu-devs-vm.test.ts), so this may wait for it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { runScenarios } from "../sim/scenario";
import { SimUboot } from "../sim/uboot";

test("with the MCU in the DeviceScript VM: pick from the menu, and a one-shot set from Linux", async (t) => {
  t.timeout(1200000);
  const uboot = new SimUboot();
  const out = mkdtempSync(join(tmpdir(), "flipper-sim-vm-"));
  const lines: string[] = [];
  try {
    const files = ["02-hold-key-pick-profile.yaml", "04-one-shot-from-linux.yaml"].map((f) =>
      join(process.cwd(), "sim", "scenarios", f),
    );
    const results = await runScenarios(files, { uboot, outDir: out, mcu: "vm", print: (l) => lines.push(l) });
    t.log(lines.filter((l) => !l.startsWith("tcp:")).join("\n"));
    for (const r of results) t.true(r.passed, r.name + (r.error ? ": " + r.error : ""));
    t.true(
      lines.some((l) => l.includes("✓ Hold a key at power-on and pick another profile")),
      "the menu pick scenario ran in the VM",
    );
  } finally {
    uboot.close();
    rmSync(out, { recursive: true, force: true });
  }
});
