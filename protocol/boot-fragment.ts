// The per-profile boot fragment: a small `key=value` text file the Linux bridge writes on the
// FAT boot partition and boot.scr imports with a whitelist (`env import -t ... VAR...`).
// The rules here are the only ones both sides apply; boot.scr re-checks them with SLRE.
import { decimal, describeText } from "./bytes";
import type { FieldError } from "./profile";

/** Folder on the boot partition holding `<id>.env` fragments and `overlays/<name>.dtbo`. */
export const FRAGMENT_DIR = "flipper";
export const OVERLAY_DIR = "flipper/overlays";
/** Variables a fragment may set; anything else in the file is ignored by U-Boot. */
export const FRAGMENT_VAR_KOPTS = "flipper_kopts";
export const FRAGMENT_VAR_OVERLAYS = "flipper_overlays";
export const KOPTS_MAX = 200;
export const OVERLAY_NAME_MAX = 31;
export const OVERLAYS_MAX = 8;
/** Largest fragment file boot.scr loads (bytes). */
export const FRAGMENT_FILE_MAX = 512;

/** Characters allowed in kernel options besides a-z, A-Z and 0-9 (space separates options). */
export const KOPTS_EXTRA_CHARS = " _.,:=/+-@";
export const KOPTS_RULE =
  "must be at most " +
  decimal(KOPTS_MAX) +
  " characters of a-z, A-Z, 0-9, space and _ . , : = / + - @, and must not set flipper.* options";
export const OVERLAY_RULE =
  "must be at most " +
  decimal(OVERLAYS_MAX) +
  " names of 1 to " +
  decimal(OVERLAY_NAME_MAX) +
  " characters of a-z, 0-9, '_' and '-' (starting with a letter or digit), separated by single spaces";

function isAlnum(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39);
}

/** Kernel options for one profile: safe characters only, and never an option in the flipper.* namespace. */
export function checkKernelOptions(kopts: string, field: string): FieldError | null {
  const bad = {
    field: field,
    value: typeof kopts === "string" ? describeText(kopts) : "(not text)",
    rule: KOPTS_RULE,
  };
  if (typeof kopts !== "string" || kopts.length > KOPTS_MAX) return bad;
  for (let i = 0; i < kopts.length; i++) {
    const c = kopts.charCodeAt(i);
    if (!isAlnum(c) && KOPTS_EXTRA_CHARS.indexOf(kopts.charAt(i)) < 0) return bad;
  }
  // `flipper.` anywhere is refused (not only at a token start) so that boot.scr can check with one
  // unanchored regex; a profile must never steer which profile or action is booted.
  if (kopts.indexOf("flipper.") >= 0) return bad;
  return null;
}

/** Overlay names, space separated (files OVERLAY_DIR/<name>.dtbo). */
export function checkOverlayList(overlays: string, field: string): FieldError | null {
  const bad = {
    field: field,
    value: typeof overlays === "string" ? describeText(overlays) : "(not text)",
    rule: OVERLAY_RULE,
  };
  if (typeof overlays !== "string") return bad;
  if (overlays === "") return null;
  const names = overlays.split(" ");
  if (names.length > OVERLAYS_MAX) return bad;
  for (let n = 0; n < names.length; n++) {
    const name = names[n];
    if (name.length < 1 || name.length > OVERLAY_NAME_MAX) return bad;
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      const ok =
        (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || (i > 0 && (c === 0x5f || c === 0x2d));
      if (!ok) return bad;
    }
  }
  return null;
}

export interface BootFragment {
  kernelOptions: string;
  /** Overlay names in the order they are applied. */
  overlays: string[];
}

/** Path of a profile's fragment on the boot partition, relative to its root. */
export function fragmentPath(profileId: string): string {
  return FRAGMENT_DIR + "/" + profileId + ".env";
}

/** The fragment file's text; throws (naming the value and the rule) for invalid content. */
export function renderFragment(f: BootFragment): string {
  const list = f.overlays.join(" ");
  let e = checkKernelOptions(f.kernelOptions, "kernelOptions");
  if (!e) e = checkOverlayList(list, "overlays");
  if (e) throw new Error(e.field + " " + e.value + " is invalid: " + e.rule);
  return FRAGMENT_VAR_KOPTS + "=" + f.kernelOptions + "\n" + FRAGMENT_VAR_OVERLAYS + "=" + list + "\n";
}

export interface FragmentParseResult {
  fragment: BootFragment | null;
  error: FieldError | null;
}

/** Parses a fragment the way boot.scr does: whitelisted variables only, then the same checks. */
export function parseFragment(text: string): FragmentParseResult {
  if (text.length > FRAGMENT_FILE_MAX) {
    return {
      fragment: null,
      error: {
        field: "fragment",
        value: decimal(text.length) + " bytes",
        rule: "must be at most " + decimal(FRAGMENT_FILE_MAX) + " bytes",
      },
    };
  }
  let kopts = "";
  let overlays = "";
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === FRAGMENT_VAR_KOPTS) kopts = value;
    else if (key === FRAGMENT_VAR_OVERLAYS) overlays = value;
  }
  let e = checkKernelOptions(kopts, FRAGMENT_VAR_KOPTS);
  if (!e) e = checkOverlayList(overlays, FRAGMENT_VAR_OVERLAYS);
  if (e) return { fragment: null, error: e };
  return {
    fragment: { kernelOptions: kopts, overlays: overlays === "" ? [] : overlays.split(" ") },
    error: null,
  };
}
