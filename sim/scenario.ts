// Scenario runner: `npm run scenario -- FILE...` (YAML or JSON). Each scenario gets its own
// Simulation (fresh folder, fresh MCU flash, its own bridge) and all of them share one U-Boot
// session in QEMU. One output line per step; a failed expectation prints expected and actual and
// saves the screen as a PNG in the output folder. Exit code 1 when anything failed.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, extname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { PNG } from "pngjs";
import { parse as parseYaml } from "yaml";
import { MessageType } from "../protocol/messages";
import { Simulation } from "./engine";
import type { ProfileJson } from "./example";
import { bridgeView } from "./views";
import { VmMcu } from "./mcu-vm";
import { SimUboot } from "./uboot";

export interface ScenarioFile {
  name: string;
  description?: string;
  setup?: {
    /** "example" (default), "none", or a list of profile.json objects. */
    profiles?: "example" | "none" | ProfileJson[];
    /** Menu options set through the bridge before the first step. */
    options?: { timeoutSeconds?: number; showMenu?: number; maxTries?: number };
    /** Start the bridge (default true). */
    bridge?: boolean;
    /** When U-Boot starts: "final" (default) or "power-on" (polls the PENDING block live). */
    ubootAt?: "final" | "power-on";
  };
  steps: Step[];
}

export type Step = Record<string, unknown>;

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

const STEP_KINDS = [
  "powerOn",
  "powerOff",
  "press",
  "hold",
  "release",
  "wait",
  "waitBoot",
  "writeProfile",
  "writeRaw",
  "editProfile",
  "deleteProfile",
  "cloneProfile",
  "renameProfile",
  "hideProfile",
  "setDefault",
  "setNext",
  "clearNext",
  "setOptions",
  "failBoot",
  "failProfile",
  "fwSetenv",
  "restartMcu",
  "killBridge",
  "startBridge",
  "mcuAbsent",
  "sync",
  "screenshot",
  "expect",
];

const EXPECT_KINDS = [
  "bootargs",
  "bootargsContains",
  "bootargsNotContains",
  "flipper",
  "flipperContains",
  "reason",
  "linux",
  "power",
  "screen",
  "screenNot",
  "screenName",
  "screenPng",
  "mcu",
  "mcuFlash",
  "bridge",
  "savedEnv",
  "store",
  "storeMissing",
  "log",
  "mcuRestarts",
  "boots",
];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How long an expectation is retried by default (`within`), with NodeMcu and with the VM. */
export const EXPECT_WITHIN_MS = 15000;
export const EXPECT_WITHIN_VM_MS = 30000;

class ExpectationError extends Error {
  constructor(readonly details: string[]) {
    super(details[0]);
  }
}

function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v, null, 0);
}

/** Partial deep match: every key of `exp` must match in `act`; arrays match element-wise and in length. */
export function partialMatch(exp: unknown, act: unknown, path = ""): string | null {
  if (exp === null || typeof exp !== "object") {
    return exp === act ? null : (path || "value") + ": expected " + show(exp) + ", actual " + show(act);
  }
  if (Array.isArray(exp)) {
    if (!Array.isArray(act))
      return (path || "value") + ": expected a list " + show(exp) + ", actual " + show(act);
    if (act.length !== exp.length) {
      return (
        (path || "value") + ": expected " + exp.length + " entries " + show(exp) + ", actual " + show(act)
      );
    }
    for (let i = 0; i < exp.length; i++) {
      const e = partialMatch(exp[i], act[i], path + "[" + i + "]");
      if (e) return e;
    }
    return null;
  }
  if (act === null || typeof act !== "object") {
    return (path || "value") + ": expected " + show(exp) + ", actual " + show(act);
  }
  for (const k of Object.keys(exp as object)) {
    const e = partialMatch(
      (exp as Record<string, unknown>)[k],
      (act as Record<string, unknown>)[k],
      path ? path + "." + k : k,
    );
    if (e) return e;
  }
  return null;
}

function asList(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [String(v)];
}

export function loadScenario(file: string): ScenarioFile {
  const text = readFileSync(file, "utf8");
  const ext = extname(file).toLowerCase();
  const data = (ext === ".json" ? JSON.parse(text) : parseYaml(text)) as ScenarioFile;
  if (!data || typeof data !== "object") throw new Error(file + ": must hold a scenario object");
  if (typeof data.name !== "string") throw new Error(file + ': "name" is missing (a string)');
  if (!Array.isArray(data.steps)) throw new Error(file + ': "steps" is missing (a list)');
  data.steps.forEach((s, i) => {
    const k = stepKind(s);
    if (!k) {
      throw new Error(
        file +
          ": step " +
          (i + 1) +
          " " +
          show(s) +
          " is invalid: must have exactly one of " +
          STEP_KINDS.join(", "),
      );
    }
    if (k === "expect") {
      for (const e of Object.keys(s.expect as object)) {
        if (EXPECT_KINDS.indexOf(e) < 0 && e !== "within") {
          throw new Error(
            file +
              ": step " +
              (i + 1) +
              ": expectation " +
              show(e) +
              " is unknown: use " +
              EXPECT_KINDS.join(", "),
          );
        }
      }
    }
  });
  return data;
}

function stepKind(s: Step): string | null {
  if (!s || typeof s !== "object") return null;
  const keys = Object.keys(s).filter((k) => k !== "note");
  return keys.length === 1 && STEP_KINDS.indexOf(keys[0]) >= 0 ? keys[0] : null;
}

function stepLabel(s: Step): string {
  const k = stepKind(s)!;
  const v = s[k];
  if (k === "expect")
    return (
      "expect " +
      Object.keys(v as object)
        .filter((x) => x !== "within")
        .join(", ")
    );
  if (v === true || v === null || v === undefined) return k;
  if (k === "powerOn") {
    const hold = Array.isArray(v) ? v : asList((v as { hold?: unknown }).hold ?? []);
    return hold.length > 0 ? "powerOn holding " + hold.join("+") : "powerOn";
  }
  return k + " " + (typeof v === "string" || typeof v === "number" ? String(v) : JSON.stringify(v));
}

class Runner {
  constructor(
    private sim: Simulation,
    private baseDir: string,
    private logStart: number,
  ) {}

  /** After a store change: let the bridge notice (debounce) and sync. */
  private async settle(): Promise<void> {
    if (!this.sim.bridge || !this.sim.mcu) return;
    await this.sim.settled(30000);
  }

  async step(s: Step): Promise<void> {
    const k = stepKind(s)!;
    const v = s[k] as never;
    const sim = this.sim;
    switch (k) {
      case "powerOn": {
        const hold =
          v === null || v === true ? [] : Array.isArray(v) ? v : asList((v as { hold?: unknown }).hold ?? []);
        await sim.powerOn(hold);
        return;
      }
      case "powerOff":
        await sim.powerOff();
        return;
      case "press": {
        const items: unknown[] = Array.isArray(v) ? v : [v];
        for (const it of items) {
          if (typeof it === "string") await sim.press(it);
          else {
            const o = it as { key: string; ms?: number; times?: number };
            for (let i = 0; i < (o.times ?? 1); i++) await sim.press(o.key, o.ms ?? 60);
          }
        }
        return;
      }
      case "hold":
        for (const key of asList(v)) sim.keyDown(key);
        return;
      case "release":
        for (const key of asList(v)) sim.keyUp(key);
        return;
      case "wait":
        await sleep(Number(v));
        return;
      case "waitBoot":
        await sim.waitBoot();
        return;
      case "writeProfile":
        await sim.flipctl.writeProfile(v as ProfileJson);
        await this.settle();
        return;
      case "writeRaw": {
        const o = v as { folder: string; text: string };
        await sim.flipctl.writeProfileText(o.folder, o.text);
        await this.settle();
        return;
      }
      case "editProfile": {
        const o = v as ProfileJson;
        await sim.flipctl.editProfile(o.id, o);
        await this.settle();
        return;
      }
      case "deleteProfile":
        await sim.flipctl.deleteProfile(String(v));
        await this.settle();
        return;
      case "cloneProfile": {
        const o = v as { from: string; id: string; name?: string };
        await sim.flipctl.cloneProfile(o.from, o.id, o.name);
        await this.settle();
        return;
      }
      case "renameProfile": {
        const o = v as { id: string; name: string };
        await sim.flipctl.renameProfile(o.id, o.name);
        await this.settle();
        return;
      }
      case "hideProfile": {
        const o =
          typeof v === "string" ? { id: v as string, hidden: true } : (v as { id: string; hidden?: boolean });
        await sim.flipctl.hideProfile(o.id, o.hidden ?? true);
        await this.settle();
        return;
      }
      case "setDefault":
        await sim.setDefault(String(v));
        await this.settle();
        return;
      case "setNext": {
        const o =
          typeof v === "string"
            ? { id: v as string, action: "boot" }
            : (v as { id: string; action?: string });
        await sim.setNext(o.id, o.action ?? "boot");
        return;
      }
      case "clearNext":
        await sim.setNext("");
        return;
      case "setOptions":
        await sim.setOptions(v as { timeoutSeconds?: number });
        await this.settle();
        return;
      case "failBoot":
        sim.failNextBoot(v === true ? 1 : Number(v));
        return;
      case "fwSetenv":
        await sim.fwSetenv(v as Record<string, string>);
        return;
      case "failProfile":
        sim.failingProfiles.add(String(v));
        return;
      case "restartMcu": {
        if (v === true || v === null) {
          await sim.restartMcu();
          return;
        }
        // Armed: restart when the MCU receives the nth frame of a message type (the step returns at once).
        const o = v as { on: string; nth?: number };
        const type = (MessageType as Record<string, number>)[o.on];
        if (type === undefined)
          throw new Error("restartMcu.on " + show(o.on) + " is not a message type name");
        void sim.armMcuRestart(type, o.nth ?? 1);
        return;
      }
      case "killBridge":
        await sim.killBridge();
        return;
      case "startBridge":
        await sim.startBridge();
        return;
      case "mcuAbsent":
        await sim.setMcuAbsent(v !== false);
        return;
      case "sync":
        await sim.waitSynced(typeof v === "number" ? v : 30000);
        return;
      case "screenshot": {
        const f = this.path(String(v));
        mkdirSync(dirname(f), { recursive: true });
        writeFileSync(f, sim.screenPng());
        return;
      }
      case "expect":
        await this.expect(v as Record<string, unknown>);
        return;
    }
  }

  private path(p: string): string {
    return isAbsolute(p) ? p : join(this.baseDir, p);
  }

  private async expect(e: Record<string, unknown>): Promise<void> {
    const sim = this.sim;
    const needsBoot = [
      "bootargs",
      "bootargsContains",
      "bootargsNotContains",
      "flipper",
      "flipperContains",
      "reason",
      "linux",
    ];
    // Generous by default (a loaded machine; a passing expectation returns at once), and more for
    // the DeviceScript VM, which is much slower than Node.
    const within =
      typeof e.within === "number"
        ? e.within
        : sim.mcu instanceof VmMcu
          ? EXPECT_WITHIN_VM_MS
          : EXPECT_WITHIN_MS;
    if (needsBoot.some((k) => k in e)) {
      // A pick made just before becomes a boot once the MCU publishes its FINAL block: wait for it.
      if (sim.power === "menu" && !(await sim.waitBootStart(within))) {
        throw new ExpectationError([
          "no boot within " +
            within +
            " ms: the menu is still open (screen: " +
            sim.screenText().join(" | ") +
            ")",
        ]);
      }
      if (sim.bootStarted()) await sim.waitBoot();
    }
    const deadline = Date.now() + within;
    // Retry until everything matches or the time is up (screens, the MCU and the bridge move on their own).
    for (;;) {
      const fails = await this.check(e);
      if (fails.length === 0) return;
      if (Date.now() >= deadline) throw new ExpectationError(fails);
      await sleep(50);
    }
  }

  private async check(e: Record<string, unknown>): Promise<string[]> {
    const sim = this.sim;
    const b = sim.lastBoot();
    const fails: string[] = [];
    const fail = (what: string, exp: unknown, act: unknown) => {
      fails.push(what + ":", "    expected: " + show(exp), "    actual:   " + show(act));
    };
    const args = b ? b.bootargs : null;
    if ("bootargs" in e && args !== e.bootargs) fail("bootargs", e.bootargs, args);
    for (const s of "bootargsContains" in e ? asList(e.bootargsContains) : []) {
      if (args === null || args.indexOf(s) < 0) fail("bootargs containing " + show(s), s, args);
    }
    for (const s of "bootargsNotContains" in e ? asList(e.bootargsNotContains) : []) {
      if (args !== null && args.indexOf(s) >= 0) fail("bootargs without " + show(s), "no " + s, args);
    }
    const lines = b ? b.flipperLines : [];
    for (const s of "flipper" in e ? asList(e.flipper) : []) {
      if (lines.indexOf(s) < 0) fail("flipper: line", s, lines);
    }
    for (const s of "flipperContains" in e ? asList(e.flipperContains) : []) {
      if (!lines.some((l) => l.indexOf(s) >= 0)) fail("flipper: line containing " + show(s), s, lines);
    }
    if ("reason" in e) {
      const m = lines.map((l) => /\(reason ([a-z-]+)/.exec(l)).find((x) => x);
      const act = m ? m[1] : null;
      if (act !== e.reason) fail("flipper: reason", e.reason, act);
    }
    if ("linux" in e && (b ? b.linux : null) !== e.linux)
      fail("linux", e.linux, b ? b.linux + ": " + b.linuxMessage : null);
    if ("power" in e && sim.power !== e.power) fail("power", e.power, sim.power);
    const screen = sim.screenText();
    const joined = screen.join("\n");
    for (const s of "screen" in e ? asList(e.screen) : []) {
      if (joined.indexOf(s) < 0) fail("screen text " + show(s), s, screen);
    }
    for (const s of "screenNot" in e ? asList(e.screenNot) : []) {
      if (joined.indexOf(s) >= 0) fail("screen without " + show(s), "no " + s, screen);
    }
    if ("screenName" in e) {
      const act = sim.mcu ? sim.mcu.screenName() : null;
      if (act !== e.screenName) fail("screen name", e.screenName, act);
    }
    if ("screenPng" in e) {
      const f = this.path(String(e.screenPng));
      const bits = sim.screenBits();
      // SIM_UPDATE_SCREENS=1 rewrites the reference PNGs (after a deliberate change to the renderer),
      // from the Node renderer's full 6-bit grays only.
      if (process.env.SIM_UPDATE_SCREENS === "1") {
        if (bits !== 6) throw new Error("SIM_UPDATE_SCREENS=1 writes reference screens with --mcu node only");
        writeFileSync(f, sim.screenPng());
      }
      // The VM's screen has 4-bit pixels: compared at that depth (the reference's gray >> 2).
      const diff = comparePng(f, sim.screenPng(), bits);
      if (diff) {
        fail(
          "screen PNG " +
            String(e.screenPng) +
            " (after a deliberate renderer change: SIM_UPDATE_SCREENS=1 rewrites it)",
          "identical pixels",
          diff,
        );
      }
    }
    if ("mcu" in e) {
      const st = await sim.mcuState();
      const m = partialMatch(e.mcu, st, "mcu");
      if (m) fails.push(m);
    }
    if ("mcuFlash" in e) {
      const m = partialMatch(e.mcuFlash, await sim.mcuStored(), "mcuFlash");
      if (m) fails.push(m);
    }
    if ("bridge" in e) {
      const st = sim.bridge ? bridgeView(sim.bridge.status()) : null;
      const m = partialMatch(e.bridge, st, "bridge");
      if (m) fails.push(m);
    }
    if ("savedEnv" in e) {
      const m = partialMatch(e.savedEnv, await sim.savedEnv(), "savedEnv");
      if (m) fails.push(m);
    }
    if ("store" in e) {
      const exp = e.store as Record<string, unknown>;
      for (const id of Object.keys(exp)) {
        let act: unknown = null;
        try {
          act = await sim.flipctl.readProfile(id);
        } catch {
          act = null;
        }
        const m = partialMatch(exp[id], act, "store." + id);
        if (m) fails.push(m);
      }
    }
    if ("storeMissing" in e) {
      for (const id of asList(e.storeMissing)) {
        const there = await sim.flipctl.readProfile(id).then(
          () => true,
          () => false,
        );
        if (there) fail("store without " + id, "no profile " + id, "present");
      }
    }
    if ("log" in e) {
      const exp = e.log as Record<string, unknown>;
      for (const src of Object.keys(exp)) {
        const have = sim.logs.filter((l) => l.t >= this.logStart && l.source === src).map((l) => l.line);
        for (const s of asList(exp[src])) {
          if (!have.some((l) => l.indexOf(s) >= 0))
            fail(src + " log containing " + show(s), s, have.slice(-8));
        }
      }
    }
    if ("mcuRestarts" in e && sim.mcuRestarts !== e.mcuRestarts)
      fail("MCU restarts", e.mcuRestarts, sim.mcuRestarts);
    if ("boots" in e && sim.boots.length !== e.boots) fail("boots so far", e.boots, sim.boots.length);
    return fails;
  }
}

/** A PNG byte (0..255, written by Framebuffer.toPng) back to its gray level 0..63. */
function level(byte: number): number {
  return Math.round((byte * 63) / 255);
}

/**
 * null when the PNG file shows the same gray levels as `actual`, else a one-line difference.
 * `bits`: the depth to compare at, 6 (gray 0..63, the Node renderer) or 4 (gray >> 2, the
 * DeviceScript program's Image), so a 4-bit screen matches a 6-bit reference it quantizes exactly.
 */
export function comparePng(file: string, actual: Buffer, bits = 6): string | null {
  if (bits !== 6 && bits !== 4) throw new RangeError("bits " + bits + " is invalid: use 6 or 4");
  const shift = 6 - bits;
  let exp: PNG;
  try {
    exp = PNG.sync.read(readFileSync(file));
  } catch (e) {
    return "cannot read " + file + ": " + (e as Error).message;
  }
  const act = PNG.sync.read(actual);
  if (exp.width !== act.width || exp.height !== act.height) {
    return exp.width + "x" + exp.height + " vs " + act.width + "x" + act.height;
  }
  let diff = 0;
  let first = -1;
  for (let i = 0; i < exp.width * exp.height; i++) {
    if (level(exp.data[i * 4]) >> shift !== level(act.data[i * 4]) >> shift) {
      diff++;
      if (first < 0) first = i;
    }
  }
  if (diff === 0) return null;
  return (
    diff +
    " pixels differ" +
    (bits === 6 ? "" : " at " + bits + " bits") +
    ", first at (" +
    (first % exp.width) +
    "," +
    Math.floor(first / exp.width) +
    ")"
  );
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
    mcu: o.mcu,
  });
  let failed = false;
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
