// The profile lifecycle on a real btrfs (image on a loop device; root): how long each command takes
// on a profile whose upper holds a realistic amount of data, and how much disk a clone costs
// (copy on write: it should not grow with the upper). `npx tsx bench/profiles.ts`.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import {
  cloneProfile,
  createProfile,
  deleteProfile,
  renameProfile,
  resetProfile,
  snapshotProfile,
  undoProfile,
} from "../soc-bridge/store/profiles";
import { makeBtrfs, seedStore } from "../test/helpers/btrfs";

const UPPER_FILES = 2000;
const UPPER_FILE_BYTES = 64 * 1024;

/** Bytes of data used on the filesystem (after a sync, so delayed allocation is counted). */
function dataUsed(mnt: string): number {
  execFileSync("sync", ["-f", mnt]);
  const out = execFileSync("btrfs", ["filesystem", "usage", "-b", mnt], { encoding: "utf8" });
  const m = /Data,[^:]*:\s*Size:\d+,\s*Used:(\d+)/.exec(out);
  if (!m) throw new Error("cannot read data usage from btrfs filesystem usage:\n" + out);
  return Number(m[1]);
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

export async function bench(): Promise<Array<[string, string]>> {
  const fs = makeBtrfs(1024);
  try {
    seedStore(fs.mnt, ["1.0"], [{ id: "main", base: "1.0" }]);
    // An upper like a profile after some apt installs: many files in a few folders.
    const upper = path.join(fs.mnt, "@profiles", "main", "upper", "usr", "lib");
    const chunk = Buffer.alloc(UPPER_FILE_BYTES, 7);
    for (let d = 0; d < 20; d++) {
      mkdirSync(path.join(upper, "pkg" + d), { recursive: true });
      for (let f = 0; f < UPPER_FILES / 20; f++) writeFileSync(path.join(upper, "pkg" + d, "f" + f), chunk);
    }
    const ctx = { store: fs.mnt, booted: path.join(path.dirname(fs.mnt), "no-booted"), cmdline: "/dev/null" };
    const upperMb = ((UPPER_FILES * UPPER_FILE_BYTES) / 1048576).toFixed(0);
    const rows: Array<[string, string]> = [];
    const ms = (x: number) => x.toFixed(0) + " ms";

    const [, create] = await timed(() => createProfile(ctx, "fresh", "Fresh", "1.0"));
    rows.push(["create (empty profile)", ms(create)]);
    const before = dataUsed(fs.mnt);
    const [, clone] = await timed(() => cloneProfile(ctx, "main", "lab"));
    const grown = dataUsed(fs.mnt) - before;
    rows.push(["clone of a " + upperMb + " MB upper (" + UPPER_FILES + " files)", ms(clone)]);
    rows.push(["disk used by that clone (data, copy on write)", (grown / 1024).toFixed(0) + " KiB"]);
    const [, rename] = await timed(() => renameProfile(ctx, "lab", "Lab"));
    rows.push(["rename", ms(rename)]);
    const [, snap] = await timed(() => snapshotProfile(ctx, "main"));
    rows.push(["snapshot of the " + upperMb + " MB upper", ms(snap)]);
    const [, reset] = await timed(() => resetProfile(ctx, "main"));
    rows.push(["reset (snapshot + empty upper + exchange)", ms(reset)]);
    const [, undo] = await timed(() => undoProfile(ctx, "main"));
    rows.push(["undo to the newest snapshot (" + upperMb + " MB upper back)", ms(undo)]);
    const [, del] = await timed(() => deleteProfile(ctx, "lab", false));
    rows.push(["delete with final snapshot", ms(del)]);
    const [, purge] = await timed(() => deleteProfile(ctx, "fresh", true));
    rows.push(["delete --purge", ms(purge)]);
    return rows;
  } finally {
    fs.cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [label, value] of await bench()) console.log(label.padEnd(56) + " " + value);
}
