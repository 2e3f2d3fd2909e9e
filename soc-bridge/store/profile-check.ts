// `profile check ID --base V` (protocol/STORE.md, "Bases"): what moving a profile from its base to V
// would get wrong. File conflicts come from a walk of the profile's upper (files, symlinks,
// whiteouts, opaque folders) against both bases; package conflicts from the dpkg status files.
import { spawn } from "node:child_process";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { assertTopLevel, isSubvolume } from "./btrfs";
import { StoreError } from "./errors";
import { readDirSorted } from "./files";
import { checkId, checkVersion, PROFILE_JSON, storePaths } from "./layout";
import type { StoreContext } from "./session";

/** Upper paths that are the profile's own by design (logs, caches, its machine id): never conflicts. */
const OWN_PATHS = [
  /^var\/log\//,
  /^var\/cache\/apt\//,
  /^var\/lib\/apt\/lists\//,
  /^var\/backups\//,
  /^var\/lib\/dpkg\/[^/]*-old$/,
  /^var\/cache\/debconf\/[^/]*-old$/,
  /^etc\/machine-id$/,
];

export interface FileConflict {
  path: string;
  /** What the profile holds there: a file, a symlink, a whiteout (deleted), an opaque folder, a folder. */
  upper: "file" | "symlink" | "whiteout" | "opaque" | "folder" | "other";
  /** What V does to it compared with the profile's base. */
  change: "added" | "removed" | "changed";
}

export interface PackageConflict {
  package: string;
  /** The version the profile holds ("" = the profile removed it). */
  profile: string;
  /** Its base's version ("" = not in the base). */
  from: string;
  /** V's version ("" = V does not have it). */
  to: string;
}

export interface CheckReport {
  id: string;
  from: string;
  to: string;
  clean: boolean;
  files: FileConflict[];
  packages: PackageConflict[];
  /** Entries of the upper looked at, and those skipped as the profile's own (logs, caches). */
  scanned: number;
  ignored: number;
}

type Kind = "missing" | "file" | "dir" | "symlink" | "other";

interface Entry {
  kind: Kind;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  path: string;
}

async function entryAt(p: string): Promise<Entry> {
  const st = await fsp.lstat(p).catch(() => null);
  if (st === null) return { kind: "missing", mode: 0, uid: 0, gid: 0, size: 0, path: p };
  const kind: Kind = st.isFile()
    ? "file"
    : st.isDirectory()
      ? "dir"
      : st.isSymbolicLink()
        ? "symlink"
        : "other";
  return { kind, mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, path: p };
}

async function sameContent(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([fsp.open(a, "r"), fsp.open(b, "r")]);
  try {
    const ba = Buffer.alloc(1 << 16);
    const bb = Buffer.alloc(1 << 16);
    for (;;) {
      const [ra, rb] = await Promise.all([ha.read(ba, 0, ba.length), hb.read(bb, 0, bb.length)]);
      if (ra.bytesRead !== rb.bytesRead) return false;
      if (ra.bytesRead === 0) return true;
      if (!ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
    }
  } finally {
    await Promise.all([ha.close(), hb.close()]);
  }
}

/** How V's entry differs from the base's, or null when they are the same. */
async function baseChange(from: Entry, to: Entry): Promise<FileConflict["change"] | null> {
  if (from.kind === "missing" && to.kind === "missing") return null;
  if (from.kind === "missing") return "added";
  if (to.kind === "missing") return "removed";
  if (from.kind !== to.kind || from.mode !== to.mode || from.uid !== to.uid || from.gid !== to.gid)
    return "changed";
  if (from.kind === "symlink")
    return (await fsp.readlink(from.path)) === (await fsp.readlink(to.path)) ? null : "changed";
  if (from.kind === "file") {
    if (from.size !== to.size) return "changed";
    return (await sameContent(from.path, to.path)) ? null : "changed";
  }
  return null;
}

/** Names in V's folder that differ from the base's folder (for an opaque folder in the upper). */
async function folderChanged(from: string, to: string): Promise<FileConflict["change"] | null> {
  const a = await readDirSorted(from);
  const b = await readDirSorted(to);
  if (a.length === 0 && b.length === 0) return null;
  if (a.join("\0") !== b.join("\0")) return a.length === 0 ? "added" : "changed";
  for (const n of a) {
    const ea = await entryAt(path.join(from, n));
    const eb = await entryAt(path.join(to, n));
    if (await baseChange(ea, eb)) return "changed";
    // The whole tree below is hidden: look into sub-folders too (real folders only, never symlinks).
    if (ea.kind === "dir" && eb.kind === "dir" && (await folderChanged(ea.path, eb.path))) return "changed";
  }
  return null;
}

/** Folders of the upper marked opaque (trusted.overlay.opaque=y): they hide the whole lower folder. */
async function opaqueFolders(upper: string): Promise<Set<string>> {
  const out = new Set<string>();
  // getfattr (Debian's attr) exits 1 when some files lack the attribute: its output is the answer.
  const text = await new Promise<string>((resolve, reject) => {
    const c = spawn("getfattr", ["-R", "-P", "--absolute-names", "-n", "trusted.overlay.opaque", upper], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    let s = "";
    c.stdout.setEncoding("utf8");
    c.stdout.on("data", (d: string) => (s += d));
    c.on("error", (e) =>
      reject(new Error("getfattr is needed to find the upper's opaque folders (install attr): " + e.message)),
    );
    c.on("close", () => resolve(s));
  });
  let file: string | null = null;
  for (const line of text.split("\n")) {
    const f = /^# file: (.*)$/.exec(line);
    if (f) file = f[1];
    else if (file && /^trusted\.overlay\.opaque="y"$/.test(line)) out.add(path.relative(upper, file));
  }
  return out;
}

interface PkgState {
  version: string;
  status: string;
}

/** dpkg's status file as package (with :arch) -> version and status; installed entries only count. */
export function parseDpkgStatus(text: string): Map<string, PkgState> {
  const out = new Map<string, PkgState>();
  for (const stanza of text.split(/\n\s*\n/)) {
    const f: Record<string, string> = {};
    for (const line of stanza.split("\n")) {
      const m = /^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$/.exec(line);
      if (m) f[m[1].toLowerCase()] = m[2];
    }
    if (!f.package) continue;
    const installed =
      / (installed|half-configured|unpacked|half-installed|triggers-awaited|triggers-pending)$/.test(
        f.status ?? "",
      );
    if (!installed) continue;
    const key = f.package + (f.architecture && f.architecture !== "all" ? ":" + f.architecture : "");
    out.set(key, { version: f.version ?? "", status: f.status ?? "" });
  }
  return out;
}

async function readStatus(root: string): Promise<Map<string, PkgState> | null> {
  try {
    return parseDpkgStatus(await fsp.readFile(path.join(root, "var/lib/dpkg/status"), "utf8"));
  } catch {
    return null;
  }
}

async function profileBase(store: string, id: string): Promise<string> {
  const dir = storePaths(store).profile(id);
  let text: string;
  try {
    text = await fsp.readFile(path.join(dir, PROFILE_JSON), "utf8");
  } catch {
    throw new StoreError(
      "no-profile",
      "profile " + id + " does not exist (no @profiles/" + id + "/profile.json)",
    );
  }
  try {
    const j = JSON.parse(text) as { base?: unknown };
    return checkVersion(j.base, "profile " + id + "'s base");
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new StoreError("invalid", "@profiles/" + id + "/profile.json is not JSON: " + (e as Error).message);
  }
}

async function requireBase(store: string, ver: string): Promise<void> {
  if (!(await isSubvolume(storePaths(store).base(ver)))) {
    throw new StoreError("no-base", "base " + ver + " does not exist in @base (base list shows the bases)");
  }
}

/**
 * `profile check ID --base V`: what moving the profile from its base to V would get wrong. A file
 * conflict is an entry of the profile's upper (a file, symlink, whiteout or opaque folder) at a path
 * where V differs from the profile's base: after the move the upper would keep hiding V's version.
 * A package conflict is a package the profile holds (its upper's dpkg status differs from its base's)
 * whose version V changes. Clean = neither.
 */
export async function checkProfile(ctx: StoreContext, id: string, target: string): Promise<CheckReport> {
  const store = ctx.store;
  checkId(id);
  checkVersion(target, "--base");
  await assertTopLevel(store);
  const from = await profileBase(store, id);
  await requireBase(store, target);
  await requireBase(store, from);
  const p = storePaths(store);
  const upper = path.join(p.profile(id), "upper");
  const lowerA = p.base(from);
  const lowerB = p.base(target);
  const report: CheckReport = {
    id,
    from,
    to: target,
    clean: true,
    files: [],
    packages: [],
    scanned: 0,
    ignored: 0,
  };
  if (from === target) return report;
  const opaque = await opaqueFolders(upper);
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readDirSorted(path.join(upper, rel))) {
      const r = rel ? rel + "/" + name : name;
      const st = await fsp.lstat(path.join(upper, r));
      report.scanned++;
      if (OWN_PATHS.some((re) => re.test(r))) {
        report.ignored++;
        continue;
      }
      const a = await entryAt(path.join(lowerA, r));
      const b = await entryAt(path.join(lowerB, r));
      if (st.isDirectory()) {
        if (opaque.has(r)) {
          const c =
            a.kind === "dir" && b.kind === "dir"
              ? await folderChanged(a.path, b.path)
              : await baseChange(a, b);
          if (c) report.files.push({ path: r, upper: "opaque", change: c });
          continue; // an opaque folder hides the whole lower folder: its contents are the profile's own
        }
        // A plain folder merges with the lower: only a folder where V put something else conflicts.
        // Where either base has a non-folder (a symlink above all) nothing below is compared: a path
        // through a base's symlink could lead out of the base.
        if (b.kind !== "dir" && b.kind !== "missing") {
          report.files.push({ path: r, upper: "folder", change: a.kind === "missing" ? "added" : "changed" });
          continue;
        }
        if (a.kind !== "dir" && a.kind !== "missing") {
          const c = await baseChange(a, b);
          if (c) report.files.push({ path: r, upper: "folder", change: c });
          continue;
        }
        await walk(r);
        continue;
      }
      const whiteout = st.isCharacterDevice() && st.rdev === 0;
      const c = await baseChange(a, b);
      if (!c) continue;
      report.files.push({
        path: r,
        upper: whiteout ? "whiteout" : st.isFile() ? "file" : st.isSymbolicLink() ? "symlink" : "other",
        change: c,
      });
    }
  };
  await walk("");
  const mine = await readStatus(upper);
  if (mine) {
    const sa = (await readStatus(lowerA)) ?? new Map<string, PkgState>();
    const sb = (await readStatus(lowerB)) ?? new Map<string, PkgState>();
    const names = new Set([...mine.keys(), ...sa.keys()]);
    for (const n of [...names].sort()) {
      const m = mine.get(n)?.version ?? "";
      const va = sa.get(n)?.version ?? "";
      const vb = sb.get(n)?.version ?? "";
      if (m === va) continue; // not the profile's: it follows the base
      if (va !== vb) report.packages.push({ package: n, profile: m, from: va, to: vb });
    }
  }
  report.clean = report.files.length === 0 && report.packages.length === 0;
  return report;
}

export function summary(r: CheckReport): string {
  const parts: string[] = [];
  if (r.files.length) parts.push(r.files.length + (r.files.length === 1 ? " file" : " files"));
  if (r.packages.length) parts.push(r.packages.length + (r.packages.length === 1 ? " package" : " packages"));
  return parts.length ? parts.join(" and ") + " in conflict" : "clean";
}
