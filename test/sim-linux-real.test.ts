// The simulator with the real Linux (scenarios with `linux: real`): the test image's Debian boots
// under QEMU behind the real MCU and the real boot.scr; mark-good comes from the guest's systemd,
// FlipCTL's commands run the real flipper-boot in the guest. Five boots (about 1-2 min each under
// TCG): the happy path with the DeviceScript VM, the fallback after a failed health check, a reset
// from the menu.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { Simulation } from "../sim/engine";
import { flipctlArgs } from "../sim/linux/live-flipctl";
import { runScenarios } from "../sim/scenario";
import { SimUboot } from "../sim/uboot";

const DIR = join(process.cwd(), "sim", "scenarios");
const files = readdirSync(DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort()
  .map((f) => join(DIR, f))
  .filter((f) => /^linux: real$/m.test(readFileSync(f, "utf8")))
  // The DeviceScript VM's scenario last: one VM runs per machine (its port), so it may wait its turn.
  .sort(
    (a, b) =>
      Number(/^mcu: vm$/m.test(readFileSync(a, "utf8"))) - Number(/^mcu: vm$/m.test(readFileSync(b, "utf8"))),
  );

test("FlipCTL's actions map to flipper-boot commands; one without a command is refused by name", (t) => {
  t.deepEqual(flipctlArgs("create", { id: "w", name: "W", base: "1.1" }), [
    "profile",
    "create",
    "w",
    "--name",
    "W",
    "--base",
    "1.1",
  ]);
  t.deepEqual(flipctlArgs("setNext", { id: "", action: "boot" }), ["clear-next"]);
  t.deepEqual(flipctlArgs("setNext", { id: "lab", action: "reset" }), ["next", "lab", "--action", "reset"]);
  t.deepEqual(flipctlArgs("setOptions", { maxTries: 1, showMenu: 1 }), [
    "options",
    "--show",
    "always",
    "--max-tries",
    "1",
  ]);
  t.throws(() => flipctlArgs("hide", { id: "w" }), { message: /hide has no flipper-boot command/ });
});

test.serial("with no guest running, FlipCTL says so instead of touching the host's store", async (t) => {
  t.timeout(20 * 60_000, "may build the test image first");
  const sim = new Simulation({ linux: "real" });
  t.teardown(() => sim.close());
  await sim.start();
  const s = await sim.snapshot();
  t.is(s.linux, "real");
  t.like(s.realLinux, { kind: "real", booted: {}, markers: [] });
  t.deepEqual(
    s.profiles.map((p) => p.id),
    ["main", "work", "lab", "broken"],
    "the host store mirrors the image's profiles",
  );
  await t.throwsAsync(() => sim.flipctl.deleteProfile("lab"), { message: /no real Linux is running/ });
  t.throws(() => sim.failNextBoot(), { message: /real Linux fails only by itself/ });
  t.true(
    (await sim.snapshot()).profiles.some((p) => p.id === "lab"),
    "nothing deleted on the host",
  );
});

test.serial(
  "the real-Linux scenarios pass (happy path with the DeviceScript VM, fallback, reset)",
  async (t) => {
    t.timeout(40 * 60_000, "five boots of a real Debian under TCG on a loaded machine");
    t.true(files.length >= 3, files.join(", "));
    for (const story of ["real-linux-happy", "real-linux-fallback", "real-linux-reset"]) {
      t.true(
        files.some((f) => f.includes(story)),
        story,
      );
    }
    const uboot = new SimUboot();
    const out = mkdtempSync(join(tmpdir(), "flipper-sim-linux-"));
    t.teardown(() => {
      uboot.close();
      rmSync(out, { recursive: true, force: true });
    });
    const lines: string[] = [];
    const t0 = Date.now();
    const results = await runScenarios(files, { uboot, outDir: out, print: (l) => lines.push(l) });
    // The failing step first: a CI log cut in its middle still shows what went wrong.
    for (const r of results.filter((x) => !x.passed)) {
      const step = r.steps.find((s) => !s.ok);
      t.log(
        `FAILED ${r.name}: ` +
          (step ? `step ${step.index} ${step.label}: ${step.details.join("; ")}` : (r.error ?? "?")),
      );
    }
    t.log(lines.join("\n"));
    t.log(`${files.length} scenarios in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    t.is(results.length, files.length);
    for (const r of results) {
      t.true(r.passed, r.name + (r.error ? ": " + r.error : ""));
      t.true(r.steps.length > 0 && r.steps.every((s) => s.ok), r.name);
    }
  },
);
