// The arguments of a store request, type-checked (requests from the daemon's socket are untrusted),
// and the `cleaned up:` lines every command's human output starts with.
import { StoreError } from "./errors";

export type Args = Record<string, unknown>;

export function str(args: Args, key: string): string {
  const v = args[key];
  if (typeof v !== "string") throw new StoreError("invalid", key + " must be given as a string");
  return v;
}

export function optStr(args: Args, key: string): string | undefined {
  return args[key] === undefined || args[key] === null ? undefined : str(args, key);
}

export function flag(args: Args, key: string): boolean {
  const v = args[key];
  if (v === undefined || v === null || v === false) return false;
  if (v === true) return true;
  throw new StoreError("invalid", key + " must be true or false");
}

/** One `cleaned up: ...` line per leftover a command dealt with first (STORE.md, `.flipper-tmp/`). */
export function cleanedLines(r: Record<string, unknown>): string {
  return ((r.cleaned as string[] | undefined) ?? []).map((l) => "cleaned up: " + l + "\n").join("");
}
