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
const REPEAT = 5;

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
    // Each command runs REPEAT times: the median and the slowest, since one run on a busy machine says little.
    const stat = (xs: number[]) => {
      const v = [...xs].sort((p, q) => p - q);
      return (
        "median " + v[Math.floor(v.length / 2)].toFixed(0) + " ms, max " + v[v.length - 1].toFixed(0) + " ms"
      );
    };
    const times = async (fn: (i: number) => Promise<unknown>) => {
      const out: number[] = [];
      for (let i = 0; i < REPEAT; i++) out.push((await timed(() => fn(i)))[1]);
      return out;
    };

    rows.push([
      "create (empty profile)",
      stat(await times((i) => createProfile(ctx, "fresh" + i, "Fresh", "1.0"))),
    ]);
    const before = dataUsed(fs.mnt);
    const clone = await times((i) => cloneProfile(ctx, "main", "lab" + i));
    const grown = dataUsed(fs.mnt) - before;
    rows.push(["clone of a " + upperMb + " MB upper (" + UPPER_FILES + " files)", stat(clone)]);
    rows.push([REPEAT + " clones: data added (copy on write)", (grown / 1024).toFixed(0) + " KiB"]);
    rows.push(["rename", stat(await times((i) => renameProfile(ctx, "lab0", "Lab " + i)))]);
    rows.push([
      "snapshot of the " + upperMb + " MB upper",
      stat(await times(() => snapshotProfile(ctx, "main"))),
    ]);
    const reset: number[] = [];
    const undo: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      reset.push((await timed(() => resetProfile(ctx, "main")))[1]);
      undo.push((await timed(() => undoProfile(ctx, "main")))[1]);
    }
    rows.push(["reset (snapshot, empty upper, exchange)", stat(reset)]);
    rows.push(["undo to the newest snapshot (" + upperMb + " MB upper back)", stat(undo)]);
    rows.push(["delete with final snapshot", stat(await times((i) => deleteProfile(ctx, "lab" + i, false)))]);
    rows.push(["delete --purge", stat(await times((i) => deleteProfile(ctx, "fresh" + i, true)))]);
    return rows;
  } finally {
    fs.cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [label, value] of await bench()) console.log(label.padEnd(56) + " " + value);
}
