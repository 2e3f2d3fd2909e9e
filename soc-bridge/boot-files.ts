// What U-Boot reads on the FAT boot partition: one `flipper/<id>.env` fragment per profile
// (protocol/boot-fragment.ts renderFragment), written atomically and only when it changed, stale
// fragments removed; and the saved fallback (flipper_profile, flipper_base) through fw_setenv.
import { execFile } from "node:child_process";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { FRAGMENT_DIR, OVERLAY_DIR, renderFragment } from "../protocol/boot-fragment";
import type { StoredProfile } from "./profile-store";
import { syncDir } from "./store/btrfs";

export interface FragmentResult {
  written: string[];
  removed: string[];
  unchanged: number;
  /** One line per profile whose fragment could not be written (the others are still written). */
  errors: string[];
  /** Overlays a profile names that are not on the boot partition (the fragment is still written). */
  warnings: string[];
}

/** Writes `file` atomically: a temporary file in the same folder, fsync, rename, fsync of the folder. */
async function writeFileAtomic(file: string, text: string): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, "." + path.basename(file) + ".tmp");
  const fh = await fsp.open(tmp, "w", 0o644);
  try {
    await fh.writeFile(text, "utf8");
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
  await syncDir(dir);
}

/** Brings <bootDir>/flipper/*.env in line with `profiles`. */
export async function writeFragments(bootDir: string, profiles: StoredProfile[]): Promise<FragmentResult> {
  const dir = path.join(bootDir, FRAGMENT_DIR);
  const out: FragmentResult = { written: [], removed: [], unchanged: 0, errors: [], warnings: [] };
  await fsp.mkdir(dir, { recursive: true });
  const keep = new Set<string>();
  for (const p of profiles) {
    const name = p.record.id + ".env";
    keep.add(name);
    const file = path.join(dir, name);
    let text: string;
    try {
      text = renderFragment({ kernelOptions: p.kernelOptions, overlays: p.overlays });
    } catch (e) {
      out.errors.push(file + ": " + (e as Error).message);
      continue;
    }
    for (const o of p.overlays) {
      const dtbo = path.join(bootDir, OVERLAY_DIR, o + ".dtbo");
      try {
        await fsp.access(dtbo);
      } catch {
        out.warnings.push(
          p.file + ": overlay " + JSON.stringify(o) + " has no " + dtbo + " (U-Boot will skip it)",
        );
      }
    }
    let old: string | null = null;
    try {
      old = await fsp.readFile(file, "utf8");
    } catch {
      old = null;
    }
    if (old === text) {
      out.unchanged++;
      continue;
    }
    try {
      await writeFileAtomic(file, text);
      out.written.push(file);
    } catch (e) {
      out.errors.push(file + ": cannot write: " + (e as Error).message);
    }
  }
  let removedAny = false;
  for (const name of await fsp.readdir(dir)) {
    const stale = name.endsWith(".env") && !keep.has(name);
    const leftover = name.startsWith(".") && name.endsWith(".env.tmp");
    if (!stale && !leftover) continue;
    try {
      await fsp.unlink(path.join(dir, name));
      if (stale) out.removed.push(path.join(dir, name));
      removedAny = true;
    } catch (e) {
      out.errors.push(path.join(dir, name) + ": cannot remove: " + (e as Error).message);
    }
  }
  if (removedAny) await syncDir(dir);
  return out;
}

export interface Fallback {
  profile: string;
  base: string;
}

export interface FwSetenvOptions {
  /** The command (default "fw_setenv"); split on spaces, so "sudo fw_setenv" works too. */
  command: string;
  /** Passed as `-c CONFIG` when set. */
  config?: string | null;
}

/** Sets flipper_profile and flipper_base in one environment write (`fw_setenv -s SCRIPT`). */
export async function setFallback(opts: FwSetenvOptions, fb: Fallback): Promise<void> {
  const tmpDir = await fsp.mkdtemp(path.join(os.tmpdir(), "flipper-boot-env-"));
  const script = path.join(tmpDir, "env.txt");
  try {
    await fsp.writeFile(script, "flipper_profile=" + fb.profile + "\nflipper_base=" + fb.base + "\n");
    const parts = opts.command.split(" ").filter((x) => x !== "");
    const args = parts.slice(1);
    if (opts.config) args.push("-c", opts.config);
    args.push("-s", script);
    await new Promise<void>((resolve, reject) => {
      execFile(parts[0], args, { timeout: 30000 }, (err, _stdout, stderr) => {
        if (err) {
          const why = (stderr || "").trim().split("\n").pop() || err.message;
          reject(new Error(opts.command + " failed: " + why));
        } else {
          resolve();
        }
      });
    });
  } finally {
    await fsp.rm(tmpDir, { recursive: true, force: true });
  }
}
