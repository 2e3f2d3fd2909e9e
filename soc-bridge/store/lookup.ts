// What a command looks up before it changes anything: the running profile (the booted file, else
// the kernel command line), a profile's validated profile.json, its subvolume id, that a base is
// there and that an id is free. Refusals are StoreErrors naming the value and the rule.
import { promises as fsp } from "node:fs";
import path from "node:path";
import { describeText } from "../../protocol/bytes";
import { parseProfileJson } from "../profile-store";
import { isSubvolume, rootId } from "./btrfs";
import { StoreError } from "./errors";
import { exists, type Json, readJson } from "./files";
import { DEFAULT_BOOTED, PROFILE_JSON, type StorePaths } from "./layout";
import type { StoreContext } from "./session";

/** The running profile: `profile=` of the booted file, else flipper.profile= on the command line. */
export async function runningProfile(ctx: StoreContext): Promise<string | null> {
  const booted = await fsp.readFile(ctx.booted ?? DEFAULT_BOOTED, "utf8").catch(() => null);
  if (booted !== null) {
    const m = /^profile=(.*)$/m.exec(booted);
    return m && m[1].trim() !== "" ? m[1].trim() : null;
  }
  const cmdline = await fsp.readFile(ctx.cmdline ?? "/proc/cmdline", "utf8").catch(() => "");
  const m = /(?:^|\s)flipper\.profile=(\S+)/.exec(cmdline);
  return m ? m[1] : null;
}

/** The profile's profile.json, validated; `no-profile` unless @profiles/<id> is a real profile. */
export async function loadProfile(P: StorePaths, id: string): Promise<Json> {
  const dir = P.profile(id);
  if (!(await isSubvolume(dir)) || !(await exists(path.join(dir, PROFILE_JSON)))) {
    throw new StoreError(
      "no-profile",
      "no profile " + describeText(id) + " (no subvolume " + dir + " with a profile.json)",
    );
  }
  const file = path.join(dir, PROFILE_JSON);
  const json = await readJson(file, file);
  try {
    parseProfileJson(JSON.stringify(json), id, file);
  } catch (e) {
    throw new Error(file + ": " + (e as Error).message);
  }
  return json;
}

export async function assertNoProfile(P: StorePaths, id: string): Promise<void> {
  if (await exists(P.profile(id))) {
    throw new StoreError(
      "exists",
      "profile " + describeText(id) + " exists: ids must be unique (" + P.profile(id) + ")",
    );
  }
}

export async function assertBase(P: StorePaths, ver: string): Promise<void> {
  if (await isSubvolume(P.base(ver))) return;
  const have = (await fsp.readdir(P.bases).catch(() => [] as string[])).sort();
  throw new StoreError(
    "no-base",
    "no base " +
      describeText(ver) +
      ": base must be one of @base/ (" +
      (have.length ? have.join(", ") : "none") +
      ")",
  );
}

export async function profileRootId(P: StorePaths, id: string): Promise<number> {
  return rootId(P.profile(id));
}
