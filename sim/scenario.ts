// Scenario runner: `npm run scenario -- FILE...` (YAML or JSON). Each scenario gets its own
// Simulation (fresh folder, fresh MCU flash, its own bridge) and all of them share one U-Boot
// session in QEMU. One output line per step; a failed expectation prints expected and actual and
// saves the screen as a PNG in the output folder. Exit code 1 when anything failed.
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Simulation } from "./engine";
import { ExpectationError } from "./scenario-check";
import { loadScenario, type ScenarioFile, show, stepLabel } from "./scenario-schema";
import { Runner } from "./scenario-steps";
import type { LogLine } from "./types";
import { SimUboot } from "./uboot";

export interface StepResult {
  index: number;
  label: string;
  ok: boolean;
  ms: number;
  /** Failure lines (expected / actual). */
  details: string[];
}

export interface ScenarioResult {
  file: string;
  name: string;
  passed: boolean;
  steps: StepResult[];
  ms: number;
  /** Screens saved for failures. */
  saved: string[];
  error?: string;
}

export interface RunOptions {
  uboot: SimUboot;
  /** Folder for failure screens (created when needed). */
  outDir: string;
  /** Called with each output line. */
  print?: (line: string) => void;
  /** The MCU: "node" (default) or "vm" (the DeviceScript program in the VM). */
  mcu?: "node" | "vm";
}

export async function runScenario(file: string, o: RunOptions): Promise<ScenarioResult> {
  const print = o.print ?? ((l: string) => process.stdout.write(l + "\n"));
  const t0 = Date.now();
  const res: ScenarioResult = { file, name: basename(file), passed: false, steps: [], ms: 0, saved: [] };
  let sc: ScenarioFile;
  try {
    sc = loadScenario(file);
  } catch (e) {
    res.error = (e as Error).message;
    print("✗ " + file + ": " + res.error);
    return res;
  }
  res.name = sc.name;
  print("▶ " + sc.name + "  (" + file + ")");
  const setup = sc.setup ?? {};
  const profiles =
    setup.profiles === "none" ? [] : Array.isArray(setup.profiles) ? setup.profiles : undefined;
  const sim = new Simulation({
    uboot: o.uboot,
    profiles,
    bridge: setup.bridge !== false,
    ubootAt: setup.ubootAt,
    mcu: sc.mcu ?? o.mcu,
    linux: sc.linux,
  });
  let failed = false;
  // SIM_LOG=FILE: every log line (bridge, MCU, U-Boot, the real Linux's console) appended to FILE.
  const logFile = process.env.SIM_LOG;
  if (logFile) {
    sim.on("log", (l: LogLine) => appendFileSync(logFile, l.t + " " + l.source + " " + l.line + "\n"));
  }
  try {
    await sim.start();
    if (setup.options) await sim.setOptions(setup.options);
    const runner = new Runner(sim, dirname(resolve(file)), 0);
    for (let i = 0; i < sc.steps.length; i++) {
      const s = sc.steps[i];
      const label = stepLabel(s);
      const st = Date.now();
      const r: StepResult = { index: i + 1, label, ok: true, ms: 0, details: [] };
      try {
        await runner.step(s);
      } catch (e) {
        r.ok = false;
        r.details = e instanceof ExpectationError ? e.details : ["error: " + (e as Error).message];
      }
      r.ms = Date.now() - st;
      res.steps.push(r);
      const note = typeof s.note === "string" ? "  # " + s.note : "";
      print(
        "  " +
          (r.ok ? "✓" : "✗") +
          " " +
          String(i + 1).padStart(2) +
          " " +
          label +
          "  (" +
          r.ms +
          " ms)" +
          note,
      );
      if (!r.ok) {
        for (const d of r.details) print("      " + d);
        mkdirSync(o.outDir, { recursive: true });
        const png = join(o.outDir, basename(file).replace(/\.[a-z]+$/i, "") + "-step" + (i + 1) + ".png");
        writeFileSync(png, sim.screenPng());
        res.saved.push(png);
        const lb = sim.lastBoot();
        print("      screen saved to " + png);
        print("      screen text: " + show(sim.screenText()));
        if (lb) print("      last boot: " + show(lb.bootargs) + " " + show(lb.flipperLines));
        if (sim.real) {
          print("      the real Linux's last lines:");
          for (const l of sim.logs.filter((x) => x.source === "linux").slice(-25)) print("        " + l.line);
        }
        failed = true;
        break;
      }
    }
  } catch (e) {
    res.error = (e as Error).message;
    print("  ✗ setup: " + res.error);
    failed = true;
  } finally {
    await sim.close();
  }
  res.passed = !failed;
  res.ms = Date.now() - t0;
  print((res.passed ? "✓ " : "✗ ") + sc.name + " (" + (res.ms / 1000).toFixed(1) + " s)");
  return res;
}

export async function runScenarios(files: string[], o: Partial<RunOptions> = {}): Promise<ScenarioResult[]> {
  const uboot = o.uboot ?? new SimUboot();
  const outDir = o.outDir ?? join(tmpdir(), "flipper-sim-failures");
  const out: ScenarioResult[] = [];
  try {
    for (const f of files) out.push(await runScenario(f, { uboot, outDir, print: o.print, mcu: o.mcu }));
  } finally {
    if (!o.uboot) uboot.close();
  }
  return out;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let outDir = join(tmpdir(), "flipper-sim-failures");
  let mcu: "node" | "vm" = "node";
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--out") outDir = resolve(args[++i]);
    else if (args[i] === "--mcu") {
      const v = args[++i];
      if (v !== "node" && v !== "vm") {
        process.stderr.write("--mcu must be node or vm\n");
        process.exitCode = 2;
        return;
      }
      mcu = v;
    } else if (args[i] === "-h" || args[i] === "--help") {
      process.stdout.write("usage: npm run scenario -- [--out DIR] [--mcu node|vm] FILE.yaml|FILE.json...\n");
      return;
    } else files.push(args[i]);
  }
  if (files.length === 0) {
    process.stderr.write("usage: npm run scenario -- [--out DIR] [--mcu node|vm] FILE.yaml|FILE.json...\n");
    process.exitCode = 2;
    return;
  }
  // Ctrl-C: exit through process.exit so QEMU and socat are killed by their exit hooks.
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => process.exit(130));
  const t0 = Date.now();
  const results = await runScenarios(files, { outDir, mcu });
  const bad = results.filter((r) => !r.passed);
  process.stdout.write(
    "\n" +
      (results.length - bad.length) +
      " passed, " +
      bad.length +
      " failed (" +
      ((Date.now() - t0) / 1000).toFixed(1) +
      " s)" +
      (bad.length ? "; failure screens in " + outDir : "") +
      "\n",
  );
  process.exitCode = bad.length > 0 ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((e) => {
    process.stderr.write(String((e as Error).stack ?? e) + "\n");
    process.exitCode = 2;
  });
}
