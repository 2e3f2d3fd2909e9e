// The scenario file: its schema (the step and expectation kinds sim/README.md documents), loading
// and validation (YAML or JSON), and the one-line labels the runner prints.
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse as parseYaml } from "yaml";
import type { ProfileJson } from "./example";

export interface ScenarioFile {
  name: string;
  description?: string;
  /** "real": the test image's Debian under QEMU instead of the stand-in (sim/linux/live.ts). */
  linux?: "standin" | "real";
  /** The MCU for this scenario ("node" or "vm"), instead of the runner's --mcu. */
  mcu?: "node" | "vm";
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

export const STEP_KINDS = [
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
  "flipctl",
  "expect",
];

/** Expectations that look at the boot: they wait for the boot under way. */
export const BOOT_EXPECTATIONS = [
  "bootargs",
  "bootargsContains",
  "bootargsNotContains",
  "flipper",
  "flipperContains",
  "reason",
  "linux",
  "guest",
];

export const EXPECT_KINDS = [
  ...BOOT_EXPECTATIONS,
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
  "flipctlOutput",
];

export function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v, null, 0);
}

export function asList(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [String(v)];
}

export function loadScenario(file: string): ScenarioFile {
  const text = readFileSync(file, "utf8");
  const ext = extname(file).toLowerCase();
  const data = (ext === ".json" ? JSON.parse(text) : parseYaml(text)) as ScenarioFile;
  if (!data || typeof data !== "object") throw new Error(file + ": must hold a scenario object");
  if (typeof data.name !== "string") throw new Error(file + ': "name" is missing (a string)');
  if (!Array.isArray(data.steps)) throw new Error(file + ': "steps" is missing (a list)');
  if (data.linux !== undefined && data.linux !== "standin" && data.linux !== "real") {
    throw new Error(file + ": linux " + show(data.linux) + " is invalid: use standin or real");
  }
  if (data.mcu !== undefined && data.mcu !== "node" && data.mcu !== "vm") {
    throw new Error(file + ": mcu " + show(data.mcu) + " is invalid: use node or vm");
  }
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

export function stepKind(s: Step): string | null {
  if (!s || typeof s !== "object") return null;
  const keys = Object.keys(s).filter((k) => k !== "note");
  return keys.length === 1 && STEP_KINDS.indexOf(keys[0]) >= 0 ? keys[0] : null;
}

export function stepLabel(s: Step): string {
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
