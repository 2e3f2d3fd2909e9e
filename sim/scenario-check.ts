// Scenario expectations: what each one checks (partial matches of the MCU's, the bridge's and the
// store's state, the boot, the screen text and pixels, the logs), one failure line set per miss.
import { readFileSync, writeFileSync } from "node:fs";
import { PNG } from "pngjs";
import type { Simulation } from "./engine";
import type { RealLinux } from "./linux/live";
import { asList, show } from "./scenario-schema";
import { bridgeView } from "./views";

/** A failed expectation: `details` are its expected / actual lines. */
export class ExpectationError extends Error {
  constructor(readonly details: string[]) {
    super(details[0]);
  }
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

/** Expectations that partially match a view of the simulation's state. */
const STATE_VIEWS: Record<string, (sim: Simulation) => Promise<unknown>> = {
  mcu: (sim) => sim.mcuState(),
  mcuFlash: (sim) => sim.mcuStored(),
  bridge: async (sim) => (sim.bridge ? bridgeView(sim.bridge.status()) : null),
  savedEnv: (sim) => sim.savedEnv(),
};

export async function checkExpectations(
  sim: Simulation,
  e: Record<string, unknown>,
  path: (p: string) => string,
  logStart: number,
): Promise<string[]> {
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
    const f = path(String(e.screenPng));
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
  for (const k of Object.keys(STATE_VIEWS)) {
    if (!(k in e)) continue;
    const m = partialMatch(e[k], await STATE_VIEWS[k](sim), k);
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
      const have = sim.logs.filter((l) => l.t >= logStart && l.source === src).map((l) => l.line);
      for (const s of asList(exp[src])) {
        if (!have.some((l) => l.indexOf(s) >= 0)) fail(src + " log containing " + show(s), s, have.slice(-8));
      }
    }
  }
  if ("mcuRestarts" in e && sim.mcuRestarts !== e.mcuRestarts)
    fail("MCU restarts", e.mcuRestarts, sim.mcuRestarts);
  if ("boots" in e && sim.boots.length !== e.boots) fail("boots so far", e.boots, sim.boots.length);
  if ("guest" in e) {
    const m = partialMatch(e.guest, realLinux(sim).view(), "guest");
    if (m) fails.push(m);
  }
  if ("flipctlOutput" in e) {
    const out = realLinux(sim).lastCommand?.output ?? null;
    for (const s of asList(e.flipctlOutput)) {
      if (out === null || out.indexOf(s) < 0) fail("FlipCTL output containing " + show(s), s, out);
    }
  }
  return fails;
}

/** The real Linux of a `linux: real` scenario (guest expectations and flipctl steps need it). */
export function realLinux(sim: Simulation): RealLinux {
  if (!sim.real) throw new Error("this needs the real Linux: put linux: real at the top of the scenario");
  return sim.real;
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
