// The profile lifecycle through the real `flipper-boot profile ...` CLI on a real btrfs filesystem
// (image file, mkfs.btrfs, loop device): what each command leaves on disk, its --json object, the
// running profile's staged changes, and the lock.
import test, { type ExecutionContext } from "ava";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { btrfsStore, makeBase, makeBtrfs, subvolumes, writeBooted } from "./helpers/btrfs";
import { treeListing } from "./helpers/tree";
import { runStoreCommand } from "../soc-bridge/store/commands";
import { resultOf, storeCli } from "./helpers/store-cli";

const readJson = (f: string) => JSON.parse(readFileSync(f, "utf8"));

function setup(t: ExecutionContext, running = "") {
  const fs = btrfsStore(
    t,
    ["1.0", "1.2"],
    [
      {
        id: "main",
        name: "Main",
        base: "1.0",
        files: { "etc/machine-id": "0123456789abcdef0123456789abcdef\n", "etc/hostname": "main\n" },
        extra: { kernelOptions: "quiet", lastUsed: "2026-02-01T00:00:00Z" },
      },
    ],
  );
  const booted = writeBooted(fs.mnt, running, "1.0");
  return { fs, top: fs.mnt, booted, cli: storeCli(fs.mnt, booted) };
}

test("create: an empty profile on an existing base, moved into place whole", async (t) => {
  const { top, cli } = setup(t);
  const r = await cli(["--json", "profile", "create", "work", "--name", "Work ✓", "--base", "1.2"]);
  t.is(r.code, 0, r.stderr);
  t.like(r.json, {
    ok: true,
    command: "profile-create",
    result: { id: "work", name: "Work ✓", base: "1.2" },
  });
  const dir = path.join(top, "@profiles", "work");
  t.is(statSync(dir).ino, 256, "a subvolume");
  t.deepEqual(readdirSync(dir).sort(), ["profile.json", "upper", "work"]);
  const j = readJson(path.join(dir, "profile.json"));
  t.like(j, { id: "work", name: "Work ✓", base: "1.2", lastUsed: null, origin: null });
  t.regex(j.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  t.deepEqual(readdirSync(path.join(top, ".flipper-tmp")), [], "no work left behind");
  t.false(existsSync(path.join(top, ".flipper-lock")), "lock released");
});

test("clone: a snapshot of the source with origin, new dates, a reset machine id and an empty work/", async (t) => {
  const { top, cli } = setup(t);
  writeFileSync(path.join(top, "@profiles", "main", "work", "stale"), "overlay internals");
  const r = await cli(["--json", "profile", "clone", "main", "lab", "--name", "Lab"]);
  t.is(r.code, 0, r.stderr);
  t.like(r.json, { ok: true, result: { id: "lab", origin: "main", name: "Lab", base: "1.0" } });
  const dir = path.join(top, "@profiles", "lab");
  const j = readJson(path.join(dir, "profile.json"));
  t.like(j, { id: "lab", name: "Lab", base: "1.0", origin: "main", lastUsed: null, kernelOptions: "quiet" });
  t.not(j.created, "2026-01-01T00:00:00Z");
  t.is(readFileSync(path.join(dir, "upper", "etc", "machine-id"), "utf8"), "uninitialized\n");
  t.is(
    readFileSync(path.join(dir, "upper", "etc", "hostname"), "utf8"),
    "main\n",
    "the upper's content is copied",
  );
  t.deepEqual(readdirSync(path.join(dir, "work")), []);
  // The source is untouched.
  t.is(
    readFileSync(path.join(top, "@profiles", "main", "upper", "etc", "machine-id"), "utf8"),
    "0123456789abcdef0123456789abcdef\n",
  );
  t.true(subvolumes(top).all.includes("@profiles/lab"));
  // Without --name the clone keeps the source's name.
  t.is((await cli(["profile", "clone", "main", "lab2"])).code, 0);
  t.is(readJson(path.join(top, "@profiles", "lab2", "profile.json")).name, "Main");
});

test("rename changes only the name; snapshot and snapshots list the manifest fields", async (t) => {
  const { top, cli } = setup(t);
  const before = readJson(path.join(top, "@profiles", "main", "profile.json"));
  t.is((await cli(["profile", "rename", "main", "--name", "Daily driver"])).code, 0);
  t.deepEqual(readJson(path.join(top, "@profiles", "main", "profile.json")), {
    ...before,
    name: "Daily driver",
  });

  const s1 = await cli(["--json", "profile", "snapshot", "main"]);
  t.is(s1.code, 0, s1.stderr);
  const s2 = await cli(["--json", "profile", "snapshot", "main", "--auto", "--note", "apt-get install nmap"]);
  t.is(s2.code, 0, s2.stderr);
  const st1 = resultOf<{ snapshot: { stamp: string } }>(s1).snapshot.stamp;
  const st2 = resultOf<{ snapshot: { stamp: string } }>(s2).snapshot.stamp;
  t.regex(st1, /^\d{8}T\d{6}Z(-\d+)?$/);
  t.not(st1, st2);
  const snapDir = path.join(top, "@snapshots", "main", st2);
  t.like(readJson(path.join(snapDir, "snapshot.json")), {
    id: "main",
    stamp: st2,
    reason: "apt",
    base: "1.0",
    name: "Daily driver",
    note: "apt-get install nmap",
    auto: true,
  });
  t.true(subvolumes(top).readonly.includes("@snapshots/main/" + st2), "read-only");
  t.is(readFileSync(path.join(snapDir, "upper", "etc", "hostname"), "utf8"), "main\n");

  const l = await cli(["--json", "profile", "snapshots", "main"]);
  t.is(l.code, 0, l.stderr);
  const list = resultOf<{ snapshots: Array<Record<string, unknown>> }>(l).snapshots;
  t.deepEqual(
    list.map((s) => [s.stamp, s.reason, s.auto]),
    [
      [st1, "manual", false],
      [st2, "apt", true],
    ],
  );
  const human = await cli(["profile", "snapshots", "main"]);
  t.regex(human.stdout, new RegExp(st2 + "\\s+apt\\s+base 1.0"));
});

test("delete keeps a final snapshot (reason delete); --purge keeps nothing", async (t) => {
  const { top, cli } = setup(t);
  t.is((await cli(["profile", "clone", "main", "lab"])).code, 0);
  const d = await cli(["--json", "profile", "delete", "main"]);
  t.is(d.code, 0, d.stderr);
  t.false(existsSync(path.join(top, "@profiles", "main")));
  const stamp = resultOf<{ snapshot: string }>(d).snapshot;
  t.like(readJson(path.join(top, "@snapshots", "main", stamp, "snapshot.json")), {
    reason: "delete",
    name: "Main",
  });
  t.is(
    readFileSync(path.join(top, "@snapshots", "main", stamp, "upper", "etc", "hostname"), "utf8"),
    "main\n",
  );
  // The snapshots of a deleted profile stay listable.
  t.is((await cli(["profile", "snapshots", "main"])).code, 0);

  const p = await cli(["--json", "profile", "delete", "lab", "--purge"]);
  t.is(p.code, 0, p.stderr);
  t.like(p.json, { result: { purged: true, snapshot: null } });
  t.false(existsSync(path.join(top, "@profiles", "lab")));
  t.false(existsSync(path.join(top, "@snapshots", "lab")));
  t.false(
    subvolumes(top).all.some((s) => s.includes("lab")),
    "no subvolume of lab left",
  );
});

test("reset: snapshot (reason reset), then an empty upper and work; metadata kept", async (t) => {
  const { top, cli } = setup(t);
  const before = readJson(path.join(top, "@profiles", "main", "profile.json"));
  const r = await cli(["--json", "profile", "reset", "main"]);
  t.is(r.code, 0, r.stderr);
  const stamp = resultOf<{ snapshot: string }>(r).snapshot;
  const dir = path.join(top, "@profiles", "main");
  t.deepEqual(readdirSync(path.join(dir, "upper")), []);
  t.deepEqual(readdirSync(path.join(dir, "work")), []);
  t.deepEqual(readJson(path.join(dir, "profile.json")), before);
  t.like(readJson(path.join(top, "@snapshots", "main", stamp, "snapshot.json")), { reason: "reset" });
  t.is(
    readFileSync(path.join(top, "@snapshots", "main", stamp, "upper", "etc", "hostname"), "utf8"),
    "main\n",
  );
});

test("undo: snapshot (reason undo) first, then the upper and base of the chosen snapshot", async (t) => {
  const { top, cli } = setup(t);
  const pj = path.join(top, "@profiles", "main", "profile.json");
  const first = await cli(["--json", "profile", "snapshot", "main"]);
  const firstStamp = resultOf<{ snapshot: { stamp: string } }>(first).snapshot.stamp;
  // Then the profile changes: a new file, and it moves to base 1.2 (as a rebase would).
  writeFileSync(path.join(top, "@profiles", "main", "upper", "etc", "motd"), "changed\n");
  writeFileSync(pj, JSON.stringify({ ...readJson(pj), base: "1.2", name: "Main renamed" }));
  const second = await cli(["--json", "profile", "snapshot", "main"]);
  const secondStamp = resultOf<{ snapshot: { stamp: string } }>(second).snapshot.stamp;
  writeFileSync(path.join(top, "@profiles", "main", "upper", "etc", "motd"), "changed again\n");

  // Default: the newest snapshot.
  const u1 = await cli(["--json", "profile", "undo", "main"]);
  t.is(u1.code, 0, u1.stderr);
  t.like(u1.json, { result: { to: secondStamp, base: "1.2" } });
  t.is(readFileSync(path.join(top, "@profiles", "main", "upper", "etc", "motd"), "utf8"), "changed\n");
  const undoStamp = resultOf<{ snapshot: string }>(u1).snapshot;
  t.like(readJson(path.join(top, "@snapshots", "main", undoStamp, "snapshot.json")), { reason: "undo" });
  t.is(
    readFileSync(path.join(top, "@snapshots", "main", undoStamp, "upper", "etc", "motd"), "utf8"),
    "changed again\n",
  );

  // --to an older one: its upper, and its base (1.0) again; the name stays the profile's own.
  const u2 = await cli(["--json", "profile", "undo", "main", "--to", firstStamp]);
  t.is(u2.code, 0, u2.stderr);
  t.false(existsSync(path.join(top, "@profiles", "main", "upper", "etc", "motd")));
  t.is(readFileSync(path.join(top, "@profiles", "main", "upper", "etc", "hostname"), "utf8"), "main\n");
  t.like(readJson(pj), { base: "1.0", name: "Main renamed" });
  t.false(existsSync(path.join(top, "@profiles", "main", "snapshot.json")));
  t.false(subvolumes(top).readonly.includes("@profiles/main"), "the restored profile is writable");
});

test("the running profile: delete refused (14), reset and undo staged for the initramfs, unstage", async (t) => {
  const { top, cli } = setup(t, "main");
  const before = treeListing(top);
  const d = await cli(["--json", "profile", "delete", "main"]);
  t.is(d.code, 14);
  t.regex(String(d.json?.error), /"main" is the running profile/);
  t.deepEqual(treeListing(top), before, "nothing changed");

  const r = await cli(["profile", "reset", "main"]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /reset staged for the next boot of main \(it is the running profile\)/);
  const staged = readFileSync(path.join(top, "@staged", "main"), "utf8");
  t.regex(staged, /^action=reset\nrequested=\d{8}T\d{6}Z\n$/);
  t.is(
    readFileSync(path.join(top, "@profiles", "main", "upper", "etc", "hostname"), "utf8"),
    "main\n",
    "not reset now",
  );

  const s = await cli(["--json", "profile", "snapshot", "main"]);
  t.is(s.code, 0, "a snapshot of the running profile is allowed (the apt hook needs it)");
  const stamp = resultOf<{ snapshot: { stamp: string } }>(s).snapshot.stamp;
  const u = await cli(["--json", "profile", "undo", "main", "--to", stamp]);
  t.is(u.code, 0, u.stderr);
  t.like(u.json, { result: { staged: { action: "undo", stamp } } });
  t.regex(
    readFileSync(path.join(top, "@staged", "main"), "utf8"),
    new RegExp("^action=undo\\nstamp=" + stamp + "\\n"),
  );

  const l = await cli(["--json", "profile", "staged"]);
  t.deepEqual(resultOf<{ staged: unknown[] }>(l).staged, [
    {
      id: "main",
      action: "undo",
      stamp,
      requested: resultOf<{ staged: { requested: string } }>(u).staged.requested,
    },
  ]);
  const un = await cli(["profile", "unstage", "main"]);
  t.is(un.code, 0, un.stderr);
  t.regex(un.stdout, /dropped: undo to snapshot/);
  t.false(existsSync(path.join(top, "@staged", "main")));
  t.regex((await cli(["profile", "unstage", "main"])).stdout, /nothing staged for main/);

  // Other profiles are not running: deleting one works.
  t.is((await cli(["profile", "clone", "main", "other"])).code, 0);
  t.is((await cli(["profile", "delete", "other"])).code, 0);
});

test("without a booted file the running profile comes from flipper.profile= on the command line", async (t) => {
  const { top } = setup(t);
  const cmdline = path.join(path.dirname(top), "cmdline");
  writeFileSync(cmdline, "console=ttyS0 root=LABEL=flipper flipper.profile=main flipper.base=1.0\n");
  const cli = storeCli(top, path.join(path.dirname(top), "no-such-booted"), ["--cmdline", cmdline]);
  const d = await cli(["profile", "delete", "main"]);
  t.is(d.code, 14, d.stderr);
  t.true(existsSync(path.join(top, "@profiles", "main")));
});

test("the lock: a live holder makes a command wait, then fail busy (16); a dead holder's lock is taken over", async (t) => {
  const { top, cli } = setup(t);
  const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
  t.teardown(() => {
    sleeper.kill("SIGKILL");
  });
  const lock = path.join(top, ".flipper-lock");
  writeFileSync(lock, sleeper.pid + "\n");
  const before = treeListing(top);
  const r = await cli(["--json", "profile", "create", "work", "--name", "W", "--base", "1.0"]);
  t.is(r.code, 16);
  t.regex(String(r.json?.error), new RegExp("pid " + sleeper.pid + "\\) holds .*\\.flipper-lock"));
  t.deepEqual(treeListing(top), before);

  // The holder goes away: its lock is stale and taken over.
  const gone = new Promise((res) => sleeper.once("exit", res));
  sleeper.kill("SIGKILL");
  await gone;
  const ok = await cli(["profile", "create", "work", "--name", "W", "--base", "1.0"]);
  t.is(ok.code, 0, ok.stderr);
  t.false(existsSync(lock));
});

test("a brand-new filesystem with only a base: create makes @profiles itself", async (t) => {
  const fs = makeBtrfs();
  t.teardown(() => fs.cleanup());
  makeBase(fs.mnt, "1.0");
  const cli = storeCli(fs.mnt, path.join(path.dirname(fs.mnt), "booted"));
  const r = await cli(["profile", "create", "first", "--name", "First", "--base", "1.0"]);
  t.is(r.code, 0, r.stderr);
  t.is(statSync(path.join(fs.mnt, "@profiles", "first")).ino, 256);
});

test("concurrent requests in one process (the daemon's socket) are serialised, none undoes another's work", async (t) => {
  const { top, booted } = setup(t);
  const ctx = { store: top, booted };
  const results = await Promise.allSettled([
    runStoreCommand("profile-clone", { source: "main", id: "c1" }, ctx),
    runStoreCommand("profile-clone", { source: "main", id: "c2" }, ctx),
    runStoreCommand("profile-snapshot", { id: "main" }, ctx),
    runStoreCommand("profile-create", { id: "c3", name: "C3", base: "1.2" }, ctx),
    runStoreCommand("profile-reset", { id: "main" }, ctx),
    runStoreCommand("profile-clone", { source: "main", id: "c4" }, ctx),
  ]);
  t.deepEqual(
    results.map((r) => (r.status === "fulfilled" ? "ok" : (r.reason as Error).message)),
    ["ok", "ok", "ok", "ok", "ok", "ok"],
  );
  t.deepEqual(readdirSync(path.join(top, "@profiles")).sort(), ["c1", "c2", "c3", "c4", "main"]);
  t.deepEqual(readdirSync(path.join(top, ".flipper-tmp")), []);
  t.false(existsSync(path.join(top, ".flipper-lock")));
});
