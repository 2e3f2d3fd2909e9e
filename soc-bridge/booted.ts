// What booted: /run/flipper/booted, written by the initramfs (protocol/STORE.md, "What booted").
// `status` shows it; `mark-good` marks good only a boot whose action is boot or reset with no
// deviation. Where no booted file exists (a system without the initramfs hook), the running profile
// comes from flipper.profile= on the kernel command line, as before.
import { readFileSync } from "node:fs";
import { isValidBaseVersion, isValidProfileId } from "../protocol/profile";
import { ACTION_NAMES } from "../protocol/register-block";

const BOOTED_FILE = "/run/flipper/booted";

export interface BootedRecord {
  /** "" in recovery. */
  profile: string;
  base: string;
  /** boot | reset | recovery */
  action: string;
  requested: string;
  /** "" or why the boot differs from the request. */
  deviation: string;
  /** "" or the staged change applied. */
  staged: string;
}

const KEYS = ["profile", "base", "action", "requested", "deviation", "staged"] as const;
/** The initramfs writes the register block's action names (ACTION_NAMES[0] is "no action"). */
const ACTIONS = ACTION_NAMES.filter((a) => a !== "");

/** Parses the file's key=value lines; an error names the line and the rule. */
export function parseBooted(text: string): { value: BootedRecord | null; error: string | null } {
  const r: BootedRecord = { profile: "", base: "", action: "", requested: "", deviation: "", staged: "" };
  const seen = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const i = line.indexOf("=");
    const key = i > 0 ? line.slice(0, i) : "";
    if (!(KEYS as readonly string[]).includes(key)) {
      return {
        value: null,
        error: `line ${JSON.stringify(line)} is invalid: must be one of ${KEYS.join(", ")} = value`,
      };
    }
    seen.add(key);
    r[key as (typeof KEYS)[number]] = line.slice(i + 1);
  }
  if (!ACTIONS.includes(r.action)) {
    return {
      value: null,
      error: `action ${JSON.stringify(r.action)} is invalid: must be boot, reset or recovery`,
    };
  }
  if (r.profile !== "" && !isValidProfileId(r.profile)) {
    return { value: null, error: `profile ${JSON.stringify(r.profile)} is invalid: not a profile id` };
  }
  if (r.base !== "" && !isValidBaseVersion(r.base)) {
    return { value: null, error: `base ${JSON.stringify(r.base)} is invalid: not a base version` };
  }
  if (r.action !== "recovery" && r.profile === "") {
    return { value: null, error: `profile is empty: action ${r.action} needs a profile` };
  }
  return { value: r, error: null };
}

/** The booted record, null when the file does not exist; throws (with the reason) when it is unreadable. */
export function readBooted(file = BOOTED_FILE): BootedRecord | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const p = parseBooted(text);
  if (!p.value) throw new Error(`${file}: ${p.error}`);
  return p.value;
}

export interface MarkGoodDecision {
  /** The profile to name in MARK_GOOD (null: let the MCU's last boot decide). */
  running: string | null;
  /** Why this boot must not be marked good, or null. */
  refuse: string | null;
}

/** flipper.profile=<id> from a kernel command line file, or null. */
function cmdlineProfile(file: string): string | null {
  try {
    const m = /(?:^|\s)flipper\.profile=(\S+)/.exec(readFileSync(file, "utf8"));
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

/** What mark-good may do for this boot: from the booted file, else from the command line. */
export function markGoodDecision(bootedFile: string, cmdlineFile: string): MarkGoodDecision {
  let b: BootedRecord | null;
  try {
    b = readBooted(bootedFile);
  } catch (e) {
    return { running: null, refuse: `${(e as Error).message}; not marking this boot good` };
  }
  if (!b) return { running: cmdlineProfile(cmdlineFile), refuse: null };
  if (b.deviation !== "") {
    return { running: null, refuse: `this boot deviated from its request (${b.deviation}): not marked good` };
  }
  if (b.action !== "boot" && b.action !== "reset") {
    return { running: null, refuse: `this boot is ${b.action}: only boot and reset boots are marked good` };
  }
  return { running: b.profile, refuse: null };
}

/** For `status`: the record, null (no file) or the reason it cannot be read. */
export function bootedForStatus(
  file = process.env.FLIPPER_BOOT_BOOTED || BOOTED_FILE,
): BootedRecord | { error: string } | null {
  try {
    return readBooted(file);
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** Human lines for `status`. */
export function describeBooted(b: BootedRecord | { error: string } | null): string[] {
  if (b && "error" in b) return [`booted:    unreadable: ${b.error}`];
  if (!b) return ["booted:    unknown (no /run/flipper/booted: not started by the flipper-boot initramfs)"];
  const what =
    b.action === "recovery"
      ? `recovery on base ${b.base || "-"}`
      : `profile ${b.profile} base ${b.base}${b.action === "reset" ? " (reset)" : ""}`;
  const lines = [`booted:    ${what}`];
  if (b.deviation) lines.push(`deviation: ${b.deviation} (asked: ${b.requested})`);
  if (b.staged) lines.push(`staged:    ${b.staged}`);
  return lines;
}
