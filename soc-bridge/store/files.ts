// Small file helpers the store commands share: JSON objects read with one clear error, sorted
// folder listings, folders made or emptied with the filesystem's errors mapped (ENOSPC -> no-space).
import { promises as fsp } from "node:fs";
import { fsError } from "./btrfs";

export type Json = Record<string, unknown>;

/** `file` as a JSON object; `what` names it in the error (unreadable, not JSON, not an object). */
export async function readJson(file: string, what: string): Promise<Json> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (e) {
    throw new Error(what + " cannot be read: " + (e as NodeJS.ErrnoException).code);
  }
  try {
    const v = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Json;
  } catch {}
  throw new Error(what + " is not a JSON object");
}

export async function exists(p: string): Promise<boolean> {
  return (await fsp.lstat(p).catch(() => null)) !== null;
}

/** The names in folder `p`, sorted; a missing folder has none, any other failure is thrown. */
export async function readDirSorted(p: string): Promise<string[]> {
  try {
    return (await fsp.readdir(p)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}

export async function ensureDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true });
  } catch (e) {
    throw fsError(e, "creating " + dir);
  }
}

export async function emptyFolder(dir: string): Promise<void> {
  try {
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.mkdir(dir);
  } catch (e) {
    throw fsError(e, "emptying " + dir);
  }
}
