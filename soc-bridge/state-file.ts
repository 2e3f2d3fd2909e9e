// `<stateDir>/state.json`: what the daemon last wrote to the U-Boot environment, so a restart does
// not write the same fallback again. Written atomically; unreadable or absent means nothing is known.
import { promises as fsp } from "node:fs";
import path from "node:path";
import type { Fallback } from "./boot-files";

export interface DaemonStateFile {
  fallback: Fallback | null;
}

const FILE = "state.json";

export async function loadStateFile(stateDir: string | null): Promise<DaemonStateFile> {
  if (!stateDir) return { fallback: null };
  try {
    const s = JSON.parse(await fsp.readFile(path.join(stateDir, FILE), "utf8"));
    if (s && s.fallback && typeof s.fallback.profile === "string" && typeof s.fallback.base === "string") {
      return { fallback: { profile: s.fallback.profile, base: s.fallback.base } };
    }
  } catch {
    // No state yet (or unreadable): the fallback is written again once.
  }
  return { fallback: null };
}

export async function saveStateFile(stateDir: string | null, state: DaemonStateFile): Promise<void> {
  if (!stateDir) return;
  await fsp.mkdir(stateDir, { recursive: true });
  const file = path.join(stateDir, FILE);
  await fsp.writeFile(file + ".tmp", JSON.stringify({ fallback: state.fallback }) + "\n");
  await fsp.rename(file + ".tmp", file);
}
