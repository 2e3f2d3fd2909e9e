// Staged changes `@staged/<id>` (protocol/STORE.md, "Staged changes"): the running profile's reset
// and undo, written here for the initramfs to carry out at the next boot of <id>. Plain `key=value`
// lines; the initramfs renames a file it cannot parse to `<id>.invalid`.
import { promises as fsp } from "node:fs";
import path from "node:path";
import { writeAtomic } from "./btrfs";
import { ensureDir } from "./files";
import { isoNow, storePaths } from "./layout";
import type { Session } from "./session";

export interface StagedChange {
  id: string;
  action: string;
  stamp?: string;
  requested?: string;
  /** Set for a file the initramfs could not parse (`<id>.invalid`). */
  invalid?: boolean;
}

/** The `key=value` lines of a staged file (a trailing ` # comment` dropped). */
export function parseStaged(text: string): Record<string, string> {
  const kv: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([a-z]+)=(.*)$/.exec(line.trim());
    if (m) kv[m[1]] = m[2].replace(/\s+#.*$/, "");
  }
  return kv;
}

/** Every staged change, `<id>.invalid` files included (marked), by file name. */
export async function listStaged(store: string): Promise<StagedChange[]> {
  const P = storePaths(store);
  const out: StagedChange[] = [];
  for (const name of (await fsp.readdir(P.stagedDir).catch(() => [] as string[])).sort()) {
    if (name.startsWith(".")) continue;
    const invalid = name.endsWith(".invalid");
    const id = invalid ? name.slice(0, -".invalid".length) : name;
    const kv = parseStaged(await fsp.readFile(path.join(P.stagedDir, name), "utf8").catch(() => ""));
    out.push({
      id,
      action: kv.action ?? "",
      ...(kv.stamp ? { stamp: kv.stamp } : {}),
      ...(kv.requested ? { requested: kv.requested } : {}),
      ...(invalid ? { invalid: true } : {}),
    });
  }
  return out;
}

/** Writes `@staged/<id>` whole (replacing a change staged before). */
export async function writeStaged(
  s: Session,
  id: string,
  action: "reset" | "undo",
  stamp?: string,
): Promise<StagedChange> {
  await ensureDir(s.P.stagedDir);
  const requested = isoNow(s.now).replace(/[-:]/g, "");
  const text =
    "action=" + action + "\n" + (stamp ? "stamp=" + stamp + "\n" : "") + "requested=" + requested + "\n";
  await writeAtomic(s.P.staged(id), text);
  return { id, action, ...(stamp ? { stamp } : {}), requested };
}
