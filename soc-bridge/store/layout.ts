// Where things are in the profile store (protocol/STORE.md) and the rules for what may be named:
// paths, id/name/version/stamp checks (reusing protocol/profile.ts's validators), stamps, the
// `.flipper-lock` lock and the `.flipper-tmp/` work area.
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { describeText } from "../../protocol/bytes";
import { checkBaseVersion, checkDisplayName, checkProfileId, formatFieldError } from "../../protocol/profile";
import { StoreError } from "./errors";

/** Where the running system mounts the btrfs top level (the initramfs does it; STORE.md). */
export const DEFAULT_STORE = "/run/flipper/top";
/** What the initramfs wrote about this boot (STORE.md, "What booted"). */
export const DEFAULT_BOOTED = "/run/flipper/booted";

/** The work area of killed or running commands, and the files every profile and snapshot holds. */
export const TMP_DIR = ".flipper-tmp";
export const PROFILE_JSON = "profile.json";
export const SNAPSHOT_JSON = "snapshot.json";

export const STAMP_RULE = "must be a snapshot stamp YYYYMMDDThhmmssZ, optionally followed by -1 to -999";
export const NOTE_MAX = 200;
export const NOTE_RULE = "must be at most 200 characters without control characters";

/** Every path of the top level (STORE.md, "The tree"). */
export function storePaths(store: string) {
  const at = (...parts: string[]) => path.join(store, ...parts);
  return {
    top: store,
    bases: at("@base"),
    base: (ver: string) => at("@base", ver),
    profiles: at("@profiles"),
    profile: (id: string) => at("@profiles", id),
    snapshotsRoot: at("@snapshots"),
    snapshots: (id: string) => at("@snapshots", id),
    snapshot: (id: string, stamp: string) => at("@snapshots", id, stamp),
    staged: (id: string) => at("@staged", id),
    stagedDir: at("@staged"),
    data: at("@data"),
    tmp: at(TMP_DIR),
    lock: at(".flipper-lock"),
  };
}
export type StorePaths = ReturnType<typeof storePaths>;

function invalid(e: { field: string; value: string; rule: string } | null): void {
  if (e) throw new StoreError("invalid", formatFieldError(e));
}

/** Throws `invalid` unless `id` follows protocol's ID_RULE; `field` names it in the message. */
export function checkId(id: unknown, field = "id"): string {
  invalid(checkProfileId(id as string, field));
  return id as string;
}

export function checkName(name: unknown, field = "name"): string {
  invalid(checkDisplayName(name as string, field));
  return name as string;
}

export function checkVersion(ver: unknown, field = "base"): string {
  invalid(checkBaseVersion(ver as string, field));
  return ver as string;
}

const STAMP_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:-([1-9]\d{0,2}))?$/;

/** `invalid`: "<field> <value> is invalid: <rule>" (a value that is not text is said so). */
function refuse(field: string, value: unknown, rule: string): never {
  const shown = typeof value === "string" ? describeText(value) : "(not text)";
  throw new StoreError("invalid", field + " " + shown + " is invalid: " + rule);
}

export function checkStamp(stamp: unknown, field = "stamp"): string {
  const m = typeof stamp === "string" ? STAMP_RE.exec(stamp) : null;
  if (!m) refuse(field, stamp, STAMP_RULE);
  const [, y, mo, d, h, mi, s] = m.map(Number);
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC rolls 31 February over into March: a real date must come back unchanged.
  if (t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    refuse(field, stamp, STAMP_RULE);
  }
  return stamp as string;
}

export function checkNote(note: unknown, field = "note"): string {
  const ok =
    typeof note === "string" && note.length <= NOTE_MAX && !/[\u0000-\u001f\u007f-\u009f]/.test(note);
  if (!ok) refuse(field, note, NOTE_RULE);
  return note as string;
}

/** Numeric order of versions field by field (1.10 > 1.9; 1.2 < 1.2.0). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if (i >= pa.length) return -1;
    if (i >= pb.length) return 1;
    if (pa[i] !== pb[i]) return pa[i] - pb[i];
  }
  return 0;
}

/** `YYYYMMDDThhmmssZ` of `when` (UTC). */
function stampOf(when: Date): string {
  return when
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

/** A stamp for `when` not among `taken`: the second itself, else `-1`, `-2`, ... (STORE.md). */
export function freshStamp(when: Date, taken: Iterable<string>): string {
  const used = new Set(taken);
  const s = stampOf(when);
  if (!used.has(s)) return s;
  for (let n = 1; n <= 999; n++) if (!used.has(s + "-" + n)) return s + "-" + n;
  throw new StoreError("exists", "snapshot stamp " + s + " is used 1000 times: wait a second and try again");
}

/** Stamps in time order (string order, except that `-N` suffixes order numerically). */
export function compareStamps(a: string, b: string): number {
  const [sa, na] = a.split("-");
  const [sb, nb] = b.split("-");
  if (sa !== sb) return sa < sb ? -1 : 1;
  return Number(na ?? 0) - Number(nb ?? 0);
}

/** ISO-8601 UTC without milliseconds, as profile.json and snapshot.json store times. */
export function isoNow(when = new Date()): string {
  return when.toISOString().replace(/\.\d+Z$/, "Z");
}

/** A name for work in progress: `<op>-<id>-<random>` under `.flipper-tmp/`. */
export function tmpName(op: string, id: string): string {
  return op + "-" + id + "-" + randomBytes(4).toString("hex");
}

// ---- lock ---------------------------------------------------------------------------------------

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes `.flipper-lock` (O_EXCL, holding our pid). A lock whose process is gone is taken over;
 * a live holder is waited for up to `waitMs`, then gives `busy`. Returns the release function.
 */
export async function acquireLock(store: string, waitMs = 3000): Promise<() => Promise<void>> {
  const file = storePaths(store).lock;
  const t0 = Date.now();
  for (let attempt = 0; attempt < 1000; attempt++) {
    try {
      const h = await fsp.open(file, "wx", 0o644);
      try {
        await h.writeFile(String(process.pid) + "\n");
      } catch (e) {
        // A full filesystem can refuse even these few bytes: leave no empty lock behind.
        await h.close();
        await fsp.rm(file, { force: true });
        throw e;
      }
      await h.close();
      return async () => {
        await fsp.rm(file, { force: true });
      };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOSPC")
        throw new StoreError(
          "no-space",
          "the filesystem is full: cannot create " +
            file +
            " (free space first, e.g. by deleting old snapshots)",
        );
      if (code !== "EEXIST") throw e;
    }
    const text = await fsp.readFile(file, "utf8").catch(() => "");
    const pid = Number(text.trim());
    const st = await fsp.stat(file).catch(() => null);
    const busy = (who: string) =>
      new StoreError(
        "busy",
        "another lifecycle command (" + who + ") holds " + file + ": try again when it has finished",
      );
    if (Number.isInteger(pid) && pid > 0) {
      if (pid !== process.pid && alive(pid)) {
        // Commands are short: wait a little for the holder before saying busy.
        if (Date.now() - t0 < waitMs) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        throw busy("pid " + pid);
      }
    } else if (st && Date.now() - st.mtimeMs < 10_000) {
      // Empty: its holder is between create and write, or crashed there a moment ago.
      if (Date.now() - t0 < waitMs) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      throw busy("pid not yet written");
    }
    // Stale (its process is gone): take it over. Two takers racing for the same stale lock both
    // remove it, and only one wins the next O_EXCL create unless the second removes the first's new
    // lock in between; after a crash that window is a few microseconds, which is accepted.
    await fsp.rm(file, { force: true });
  }
  throw new StoreError("busy", file + " keeps changing hands: try again");
}
