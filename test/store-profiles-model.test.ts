// Property test on a real btrfs: random sequences of lifecycle commands (create, clone, rename,
// delete [--purge], reset, snapshot, undo [--to], unstage; "a" is the running profile) are run
// through the command table (as the daemon's socket runs them) and checked after every step
// against a small model: which commands succeed or fail with which code, and what is on disk
// (profiles, names, bases, upper contents, snapshots with reasons, staged changes, no leftovers).
import test from "ava";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { runStoreCommand } from "../soc-bridge/store/commands";
import { StoreError } from "../soc-bridge/store/errors";
import { btrfsStore } from "./helpers/btrfs";

type Op =
  | { kind: "create"; id: string; base: string }
  | { kind: "clone"; src: string; id: string }
  | { kind: "rename"; id: string; name: string }
  | { kind: "delete"; id: string; purge: boolean }
  | { kind: "reset"; id: string }
  | { kind: "snapshot"; id: string }
  | { kind: "undo"; id: string; to: number | null }
  | { kind: "unstage"; id: string };

const IDS = ["a", "b", "c", "d"];
const arbId = fc.constantFrom(...IDS);
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("create" as const),
      id: arbId,
      base: fc.constantFrom("1.0", "1.2", "1.9"),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("clone" as const), src: arbId, id: arbId }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("rename" as const),
      id: arbId,
      name: fc.constantFrom("One", "Two ✓", "Три"),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("delete" as const), id: arbId, purge: fc.boolean() }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("reset" as const), id: arbId }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("snapshot" as const), id: arbId }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("undo" as const),
      id: arbId,
      to: fc.option(fc.integer({ min: -1, max: 5 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("unstage" as const), id: arbId }) },
);

interface Snap {
  stamp: string;
  reason: string;
  base: string;
  marker: string | null;
}
interface Prof {
  name: string;
  base: string;
  marker: string | null;
  origin: string | null;
}

const RUNNING = "a";

test("random lifecycle sequences match the model step by step", async (t) => {
  const seed = Number(process.env.FB_MODEL_SEED ?? Date.now() % 1_000_000);
  const runs = Number(process.env.FB_MODEL_RUNS ?? 8);
  t.log("seed " + seed + ", runs " + runs + " (replay: FB_MODEL_SEED=" + seed + ")");
  let steps = 0;
  let changed = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(arbOp, { minLength: 10, maxLength: 30 }), async (ops) => {
      // One filesystem per run, released at the run's end (t.teardown releases it when a run throws).
      const fs = btrfsStore(t, ["1.0", "1.2"], [{ id: RUNNING, name: "Running", base: "1.0" }]);
      const top = fs.mnt;
      const booted = path.join(path.dirname(top), "booted");
      writeFileSync(booted, "profile=" + RUNNING + "\nbase=1.0\naction=boot\n");
      const ctx = { store: top, booted };
      const profiles = new Map<string, Prof>([
        [RUNNING, { name: "Running", base: "1.0", marker: null, origin: null }],
      ]);
      const snaps = new Map<string, Snap[]>();
      const staged = new Map<string, string>();
      const upper = (id: string) => path.join(top, "@profiles", id, "upper");
      for (const [i, op] of ops.entries()) {
        steps++;
        // Every profile's upper changes between commands, so each snapshot and restore is visible.
        for (const [id, p] of profiles) {
          p.marker = "step" + i + "-" + id;
          writeFileSync(path.join(upper(id), "marker"), p.marker);
        }
        const where = "step " + i + " " + JSON.stringify(op);
        const expectFail = async (code: string, p: Promise<unknown>) => {
          try {
            await p;
          } catch (e) {
            if (!(e instanceof StoreError)) throw e;
            if (e.code !== code)
              throw new Error(where + ": expected " + code + ", got " + e.code + ": " + e.message);
            return;
          }
          throw new Error(where + ": expected " + code + ", but it succeeded");
        };
        const run = async (cmd: string, args: Record<string, unknown>) => {
          const r = (await runStoreCommand(cmd, args, ctx)) as Record<string, unknown>;
          changed++;
          return r;
        };
        const addSnap = (id: string, stamp: unknown, reason: string, p: Prof) => {
          const l = snaps.get(id) ?? [];
          l.push({ stamp: String(stamp), reason, base: p.base, marker: p.marker });
          snaps.set(id, l);
        };
        switch (op.kind) {
          case "create":
            if (profiles.has(op.id))
              await expectFail("exists", run("profile-create", { ...op, name: "New" }));
            else if (op.base === "1.9")
              await expectFail("no-base", run("profile-create", { ...op, name: "New" }));
            else {
              await run("profile-create", { id: op.id, name: "New", base: op.base });
              profiles.set(op.id, { name: "New", base: op.base, marker: null, origin: null });
            }
            break;
          case "clone": {
            const src = profiles.get(op.src);
            if (!src) await expectFail("no-profile", run("profile-clone", { source: op.src, id: op.id }));
            else if (profiles.has(op.id))
              await expectFail("exists", run("profile-clone", { source: op.src, id: op.id }));
            else {
              await run("profile-clone", { source: op.src, id: op.id });
              profiles.set(op.id, { ...src, origin: op.src });
            }
            break;
          }
          case "rename": {
            const p = profiles.get(op.id);
            if (!p) await expectFail("no-profile", run("profile-rename", op));
            else {
              await run("profile-rename", op);
              p.name = op.name;
            }
            break;
          }
          case "delete": {
            const p = profiles.get(op.id);
            if (!p) await expectFail("no-profile", run("profile-delete", op));
            else if (op.id === RUNNING) await expectFail("running", run("profile-delete", op));
            else {
              const r = await run("profile-delete", op);
              if (!op.purge) addSnap(op.id, r.snapshot, "delete", p);
              profiles.delete(op.id);
              staged.delete(op.id);
            }
            break;
          }
          case "reset": {
            const p = profiles.get(op.id);
            if (!p) await expectFail("no-profile", run("profile-reset", op));
            else if (op.id === RUNNING) {
              await run("profile-reset", op);
              staged.set(op.id, "reset");
            } else {
              const r = await run("profile-reset", op);
              addSnap(op.id, r.snapshot, "reset", p);
              p.marker = null;
            }
            break;
          }
          case "snapshot": {
            const p = profiles.get(op.id);
            if (!p) await expectFail("no-profile", run("profile-snapshot", op));
            else
              addSnap(
                op.id,
                ((await run("profile-snapshot", op)).snapshot as { stamp: string }).stamp,
                "manual",
                p,
              );
            break;
          }
          case "undo": {
            const p = profiles.get(op.id);
            const list = snaps.get(op.id) ?? [];
            const target = op.to === null ? list[list.length - 1] : list[op.to];
            const to = op.to === null ? undefined : target ? target.stamp : "20200101T000000Z";
            if (!p) await expectFail("no-profile", run("profile-undo", { id: op.id, to }));
            else if (!target) await expectFail("no-snapshot", run("profile-undo", { id: op.id, to }));
            else if (op.id === RUNNING) {
              await run("profile-undo", { id: op.id, to });
              staged.set(op.id, "undo " + target.stamp);
            } else {
              const r = await run("profile-undo", { id: op.id, to });
              t.is(r.to, target.stamp, where);
              addSnap(op.id, r.snapshot, "undo", p);
              p.marker = target.marker;
              p.base = target.base;
            }
            break;
          }
          case "unstage":
            await run("profile-unstage", op);
            staged.delete(op.id);
            break;
        }

        // The disk equals the model.
        t.deepEqual(readdirSync(path.join(top, "@profiles")).sort(), [...profiles.keys()].sort(), where);
        for (const [id, p] of profiles) {
          const j = JSON.parse(readFileSync(path.join(top, "@profiles", id, "profile.json"), "utf8"));
          t.is(j.name, p.name, where + " name of " + id);
          t.is(j.base, p.base, where + " base of " + id);
          const m = path.join(upper(id), "marker");
          t.is(existsSync(m) ? readFileSync(m, "utf8") : null, p.marker, where + " upper of " + id);
        }
        for (const id of IDS) {
          const want = (snaps.get(id) ?? []).map((s) => s.stamp + " " + s.reason);
          const dir = path.join(top, "@snapshots", id);
          const have = existsSync(dir)
            ? readdirSync(dir)
                .sort()
                .map(
                  (s) =>
                    s + " " + JSON.parse(readFileSync(path.join(dir, s, "snapshot.json"), "utf8")).reason,
                )
            : [];
          t.deepEqual(have.sort(), want.sort(), where + " snapshots of " + id);
        }
        const stagedOnDisk = readdirSync(path.join(top, "@staged"))
          .sort()
          .map((id) => {
            const kv = readFileSync(path.join(top, "@staged", id), "utf8");
            const action = /^action=(\w+)$/m.exec(kv)?.[1];
            const stamp = /^stamp=(\S+)$/m.exec(kv)?.[1];
            return id + " " + action + (stamp ? " " + stamp : "");
          });
        t.deepEqual(
          stagedOnDisk,
          [...staged.entries()].map(([id, s]) => id + " " + s).sort(),
          where + " staged",
        );
        const tmp = path.join(top, ".flipper-tmp");
        t.deepEqual(existsSync(tmp) ? readdirSync(tmp) : [], [], where + " leftovers");
        t.false(existsSync(path.join(top, ".flipper-lock")), where + " lock");
      }
      fs.cleanup();
    }),
    { seed, numRuns: runs, endOnFailure: true, includeErrorInReport: true },
  );
  t.log(steps + " steps, " + changed + " of them changed the store");
  t.true(steps >= 30);
  t.true(changed > 0);
});
