// kill -9 inside the lifecycle commands, on a real btrfs. FLIPPER_BOOT_CRASH_AT names a step at
// which the command SIGKILLs itself (soc-bridge/store/session.ts CRASH_POINTS). At that moment a
// reader (the daemon's readStore) sees the old state or the new one, never a half-made profile;
// the next command removes or finishes what was left in .flipper-tmp/ and says so; afterwards
// the tree is exactly the old state or the new one.
import test from "ava";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { readStore } from "../soc-bridge/profile-store";
import { CRASH_POINTS, type CrashPoint } from "../soc-bridge/store/session";
import { btrfsStore, subvolumes } from "./helpers/btrfs";
import { treeListing } from "./helpers/tree";
import { resultOf, storeCli } from "./helpers/store-cli";

type Outcome = "old" | "new";

const CASES: Record<string, { args: string[]; points: Partial<Record<CrashPoint, Outcome>> }> = {
  create: {
    args: ["profile", "create", "fresh", "--name", "Fresh", "--base", "1.0"],
    points: { "create:built": "old" },
  },
  clone: {
    args: ["profile", "clone", "main", "fresh"],
    points: { "clone:snapshotted": "old", "clone:built": "old" },
  },
  delete: {
    args: ["profile", "delete", "main"],
    points: { "delete:snapshotted": "old", "delete:moved-out": "new", "delete:snapshot-placed": "new" },
  },
  reset: {
    args: ["profile", "reset", "main"],
    points: {
      "reset:snapshotted": "old",
      "reset:built": "old",
      "reset:exchanged": "new",
      "reset:snapshot-placed": "new",
    },
  },
  undo: {
    args: ["profile", "undo", "main"],
    points: { "undo:snapshotted": "old", "undo:built": "old", "undo:exchanged": "new" },
  },
  snapshot: {
    args: ["profile", "snapshot", "main"],
    points: { "snapshot:built": "old" },
  },
};

test("every crash point is covered by a case", (t) => {
  const covered = Object.values(CASES).flatMap((c) => Object.keys(c.points));
  t.deepEqual([...covered].sort(), [...CRASH_POINTS].sort());
});

/** The tree without the work area and the lock (which a crash may leave and recovery empties). */
const visible = (top: string) => treeListing(top).filter((l) => !l.startsWith(".flipper-tmp"));

const snapshotsOf = (top: string, id: string) =>
  existsSync(path.join(top, "@snapshots", id)) ? readdirSync(path.join(top, "@snapshots", id)).sort() : [];

const reasonOf = (top: string, id: string, stamp: string) =>
  JSON.parse(readFileSync(path.join(top, "@snapshots", id, stamp, "snapshot.json"), "utf8")).reason;

for (const [op, c] of Object.entries(CASES)) {
  test(op + ": killed at each step, then old or new state, leftovers removed and reported", async (t) => {
    for (const [point, outcome] of Object.entries(c.points) as Array<[CrashPoint, Outcome]>) {
      const fs = btrfsStore(
        t,
        ["1.0"],
        [
          {
            id: "main",
            name: "Main",
            base: "1.0",
            files: { "etc/hostname": "main\n", "etc/motd": "before\n" },
          },
        ],
      );
      const top = fs.mnt;
      const booted = path.join(path.dirname(top), "booted");
      const cli = storeCli(top, booted);
      // undo needs a snapshot to go back to, made before the file below changed.
      const first = resultOf<{ snapshot: { stamp: string } }>(
        await cli(["--json", "profile", "snapshot", "main"]),
      );
      writeFileSync(path.join(top, "@profiles", "main", "upper", "etc", "motd"), "after\n");
      const oldTree = visible(top);
      const oldSnaps = snapshotsOf(top, "main");

      const r = await cli(c.args, { FLIPPER_BOOT_CRASH_AT: point });
      t.is(r.signal, "SIGKILL", point + ": killed itself (exit " + r.code + ", " + r.stderr + ")");
      t.true(existsSync(path.join(top, ".flipper-lock")), point + ": the dead command's lock is still there");

      // What a reader sees at this moment: complete profiles only.
      const seen = await readStore(top);
      t.deepEqual(seen.skipped, [], point + ": no half-made profile visible");
      const ids = seen.profiles.map((p) => p.record.id);
      if (op === "delete") t.deepEqual(ids, outcome === "old" ? ["main"] : [], point);
      else t.deepEqual(ids, ["main"], point);
      t.true(readdirSync(path.join(top, ".flipper-tmp")).length > 0, point + ": work left in .flipper-tmp");

      // The next command (one that changes nothing itself) takes over the lock and cleans up.
      const next = await cli(["--json", "profile", "unstage", "main"]);
      const cleaned = resultOf<{ cleaned: string[] }>(next).cleaned;
      t.is(cleaned.length, 1, point + ": " + cleaned.join("; "));
      t.regex(
        cleaned[0],
        outcome === "old"
          ? new RegExp("^removed \\.flipper-tmp/" + op + "-")
          : new RegExp("^finished an interrupted " + op + " of main"),
        point,
      );
      t.deepEqual(readdirSync(path.join(top, ".flipper-tmp")), [], point + ": nothing left");
      t.false(existsSync(path.join(top, ".flipper-lock")), point + ": lock released");
      t.false(
        subvolumes(top).all.some((s) => s.startsWith(".flipper-tmp")),
        point + ": no subvolume left in the work area",
      );

      if (outcome === "old") {
        t.deepEqual(visible(top), oldTree, point + ": exactly the old state");
        fs.cleanup();
        continue;
      }
      const snaps = snapshotsOf(top, "main");
      const added = snaps.filter((s) => !oldSnaps.includes(s));
      t.is(added.length, 1, point + ": one new snapshot");
      const motd = (f: string) => readFileSync(path.join(f, "upper", "etc", "motd"), "utf8");
      t.is(
        motd(path.join(top, "@snapshots", "main", added[0])),
        "after\n",
        point + ": the snapshot holds the state before",
      );
      if (op === "delete") {
        t.false(existsSync(path.join(top, "@profiles", "main")), point);
        t.is(reasonOf(top, "main", added[0]), "delete");
      } else if (op === "reset") {
        t.deepEqual(readdirSync(path.join(top, "@profiles", "main", "upper")), [], point + ": empty upper");
        t.is(reasonOf(top, "main", added[0]), "reset");
      } else if (op === "undo") {
        t.is(
          motd(path.join(top, "@profiles", "main")),
          "before\n",
          point + ": the upper of " + first.snapshot.stamp,
        );
        t.is(reasonOf(top, "main", added[0]), "undo");
      }
      fs.cleanup();
    }
  });
}

test("work cut between two renames (the initramfs's undo): the profile is put back, not lost", async (t) => {
  const fs = btrfsStore(
    t,
    ["1.0"],
    [{ id: "main", name: "Main", base: "1.0", files: { "etc/motd": "mine\n" } }],
  );
  const top = fs.mnt;
  const cli = storeCli(top, path.join(path.dirname(top), "booted"));
  const before = Number(
    execFileSync("btrfs", ["inspect-internal", "rootid", path.join(top, "@profiles", "main")], {
      encoding: "utf8",
    }).trim(),
  );
  const work = path.join(top, ".flipper-tmp", "undo-main-initramfs77");
  mkdirSync(work, { recursive: true });
  writeFileSync(path.join(work, "intent.json"), JSON.stringify({ op: "undo", id: "main", before }));
  execFileSync(
    "btrfs",
    ["subvolume", "snapshot", path.join(top, "@profiles", "main"), path.join(work, "new")],
    { stdio: "ignore" },
  );
  writeFileSync(path.join(work, "new", "upper", "etc", "motd"), "restored\n");
  renameSync(path.join(top, "@profiles", "main"), path.join(work, "old"));
  const r = resultOf<{ cleaned: string[] }>(await cli(["--json", "profile", "unstage", "main"]));
  t.deepEqual(r.cleaned, [
    "put profile main back from .flipper-tmp/undo-main-initramfs77 (its undo was cut between two renames)",
    "removed .flipper-tmp/undo-main-initramfs77, left by an interrupted undo of main",
  ]);
  t.is(readFileSync(path.join(top, "@profiles", "main", "upper", "etc", "motd"), "utf8"), "mine\n");
  t.deepEqual(readdirSync(path.join(top, ".flipper-tmp")), []);
});
