// Bad input to the profile lifecycle, on a real btrfs: hostile ids, names, versions, stamps and
// notes (the protocol's injection corpus), wrong argument types from the socket, an id that exists,
// a missing profile, base or snapshot, a full filesystem, a store that is not btrfs. Each gets one
// message naming the value and the rule, its own exit code (protocol/STORE.md), and changes nothing.
import test from "ava";
import { execFileSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { describeText } from "../protocol/bytes";
import { ID_RULE, NAME_RULE } from "../protocol/profile";
import { runStoreCommand } from "../soc-bridge/store/commands";
import { STORE_ERRORS, StoreError } from "../soc-bridge/store/errors";
import { STAMP_RULE } from "../soc-bridge/store/layout";
import { HOSTILE_IDS } from "./helpers/arbitraries";
import { btrfsStore } from "./helpers/btrfs";
import { treeListing } from "./helpers/tree";
import { storeCli } from "./helpers/store-cli";

function seeded(t: Parameters<typeof btrfsStore>[0], sizeMb = 128) {
  const fs = btrfsStore(
    t,
    ["1.0", "1.2"],
    [{ id: "main", name: "Main", base: "1.0", files: { "etc/hostname": "main\n" } }],
    sizeMb,
  );
  const booted = path.join(path.dirname(fs.mnt), "booted");
  writeFileSync(booted, "profile=\naction=recovery\n");
  return { top: fs.mnt, booted, cli: storeCli(fs.mnt, booted) };
}

async function refused(p: Promise<unknown>): Promise<StoreError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StoreError) return e;
    throw new Error("not a StoreError: " + (e as Error).message);
  }
  throw new Error("was not refused");
}

test("hostile ids, names, versions, stamps and notes are refused (invalid, exit 2) by every command, and nothing changes", async (t) => {
  const { top, booted } = seeded(t);
  const ctx = { store: top, booted };
  const before = treeListing(top);
  let checked = 0;
  const expectInvalid = async (
    cmd: string,
    args: Record<string, unknown>,
    field: string,
    value: string,
    rule: string,
  ) => {
    const e = await refused(runStoreCommand(cmd, args, ctx));
    t.is(e.code, "invalid", cmd + " " + JSON.stringify(args));
    t.is(e.exit, 2);
    t.true(e.message.startsWith(field + " " + describeText(value) + " is invalid: "), e.message);
    t.true(e.message.endsWith(rule), e.message);
    checked++;
  };
  for (const bad of HOSTILE_IDS) {
    await expectInvalid("profile-create", { id: bad, name: "N", base: "1.0" }, "id", bad, ID_RULE);
    await expectInvalid("profile-clone", { source: bad, id: "fresh" }, "source id", bad, ID_RULE);
    await expectInvalid("profile-clone", { source: "main", id: bad }, "id", bad, ID_RULE);
    await expectInvalid("profile-rename", { id: bad, name: "N" }, "id", bad, ID_RULE);
    await expectInvalid("profile-delete", { id: bad }, "id", bad, ID_RULE);
    await expectInvalid("profile-reset", { id: bad }, "id", bad, ID_RULE);
    await expectInvalid("profile-snapshot", { id: bad }, "id", bad, ID_RULE);
    await expectInvalid("profile-snapshots", { id: bad }, "id", bad, ID_RULE);
    await expectInvalid("profile-undo", { id: bad }, "id", bad, ID_RULE);
    await expectInvalid("profile-unstage", { id: bad }, "id", bad, ID_RULE);
    // Ids make bad versions and stamps too.
    await expectInvalid(
      "profile-create",
      { id: "fresh", name: "N", base: bad },
      "base",
      bad,
      "at most 11 characters",
    );
    await expectInvalid("profile-undo", { id: "main", to: bad }, "--to", bad, STAMP_RULE);
  }
  for (const name of ["", "a\nb", "tab\there", "bell\u0007", "c1\u0085", "x".repeat(49), "é".repeat(25)]) {
    await expectInvalid("profile-create", { id: "fresh", name, base: "1.0" }, "name", name, NAME_RULE);
    await expectInvalid("profile-rename", { id: "main", name }, "name", name, NAME_RULE);
    await expectInvalid("profile-clone", { source: "main", id: "fresh", name }, "name", name, NAME_RULE);
  }
  for (const stamp of [
    "20261301T000000Z",
    "20260230T000000Z",
    "20261201T246000Z",
    "20261201T000000Z-0",
    "20261201T000000Z-1000",
    "20261201T000000",
    "../20261201T000000Z",
  ]) {
    await expectInvalid("profile-undo", { id: "main", to: stamp }, "--to", stamp, STAMP_RULE);
  }
  for (const note of ["a\nb", "x".repeat(201), "esc\u001b[2J"]) {
    await expectInvalid("profile-snapshot", { id: "main", note }, "note", note, "without control characters");
  }
  t.true(checked > 400);
  t.deepEqual(treeListing(top), before, "nothing changed");
});

test("socket requests with arguments of the wrong type or unknown commands are refused (invalid)", async (t) => {
  const { top, booted } = seeded(t);
  const ctx = { store: top, booted };
  const before = treeListing(top);
  for (const [cmd, args, re] of [
    ["profile-create", { id: 5, name: "N", base: "1.0" }, /^id must be given as a string$/],
    ["profile-create", { id: "x", base: "1.0" }, /^name must be given as a string$/],
    ["profile-delete", { id: "main", purge: "yes" }, /^purge must be true or false$/],
    ["profile-rename", { id: ["main"], name: "x" }, /^id must be given as a string$/],
    ["profile-explode", {}, /^unknown command "profile-explode"$/],
  ] as Array<[string, Record<string, unknown>, RegExp]>) {
    const e = await refused(runStoreCommand(cmd, args, ctx));
    t.is(e.code, "invalid");
    t.regex(e.message, re);
  }
  t.deepEqual(treeListing(top), before);
});

test("the CLI: usage errors and a hostile id exit 2 with one line; --json carries error and exit", async (t) => {
  const { top, cli } = seeded(t);
  const before = treeListing(top);
  const r = await cli(["--json", "profile", "create", "a$(reboot)", "--name", "N", "--base", "1.0"]);
  t.is(r.code, 2);
  t.deepEqual(r.json, { ok: false, error: 'id "a$(reboot)" is invalid: ' + ID_RULE, exit: 2 });
  t.is(r.stderr, 'flipper-boot: id "a$(reboot)" is invalid: ' + ID_RULE + "\n");
  for (const args of [
    ["profile"],
    ["profile", "explode", "main"],
    ["profile", "create", "x", "--base", "1.0"],
    ["profile", "delete"],
    ["profile", "delete", "main", "extra"],
    ["profile", "delete", "main", "--name", "x"],
    ["profile", "rename", "main"],
    ["status", "--purge"],
  ]) {
    const u = await cli(args);
    t.is(u.code, 2, args.join(" ") + ": " + u.stderr);
    t.regex(u.stderr, /^flipper-boot: /);
  }
  t.deepEqual(treeListing(top), before);
});

test("exists (7), no-profile (8), no-base (9), no-snapshot (10): one message naming the value, nothing changed", async (t) => {
  const { top, cli } = seeded(t);
  // A stray folder holds a name as much as a profile does.
  mkdirSync(path.join(top, "@profiles", "stray"));
  const before = treeListing(top);
  const cases: Array<[string[], number, RegExp]> = [
    [
      ["profile", "create", "main", "--name", "N", "--base", "1.0"],
      7,
      /^profile "main" exists: ids must be unique/,
    ],
    [["profile", "create", "stray", "--name", "N", "--base", "1.0"], 7, /^profile "stray" exists/],
    [["profile", "clone", "main", "main"], 7, /^profile "main" exists/],
    [["profile", "clone", "ghost", "fresh"], 8, /^no profile "ghost"/],
    [["profile", "clone", "stray", "fresh"], 8, /^no profile "stray" \(no subvolume /],
    [["profile", "rename", "ghost", "--name", "N"], 8, /^no profile "ghost"/],
    [["profile", "delete", "ghost"], 8, /^no profile "ghost"/],
    [["profile", "reset", "ghost"], 8, /^no profile "ghost"/],
    [["profile", "snapshot", "ghost"], 8, /^no profile "ghost"/],
    [["profile", "snapshots", "ghost"], 8, /^no profile "ghost" and no snapshots of one/],
    [["profile", "undo", "ghost"], 8, /^no profile "ghost"/],
    [
      ["profile", "create", "fresh", "--name", "N", "--base", "1.9"],
      9,
      /^no base "1.9": base must be one of @base\/ \(1.0, 1.2\)$/,
    ],
    [["profile", "undo", "main"], 10, /^profile "main" has no snapshots to undo to$/],
    [
      ["profile", "undo", "main", "--to", "20200101T000000Z"],
      10,
      /^no snapshot "20200101T000000Z" of profile "main": --to must name one of its snapshots \(none\)$/,
    ],
  ];
  for (const [args, exit, re] of cases) {
    const r = await cli(["--json", ...args]);
    t.is(r.code, exit, args.join(" ") + ": " + r.stderr);
    t.is(r.json?.exit, exit);
    t.regex(String(r.json?.error), re);
    t.is(r.stderr.trim().split("\n").length, 1, "one line");
  }
  t.deepEqual(treeListing(top), before);

  // A snapshot whose base has gone: undo refuses with no-base and changes nothing.
  const s = await cli(["--json", "profile", "snapshot", "main"]);
  t.is(s.code, 0, s.stderr);
  const pj = path.join(top, "@profiles", "main", "profile.json");
  const j = JSON.parse(readFileSync(pj, "utf8"));
  writeFileSync(pj, JSON.stringify({ ...j, base: "1.2" }));
  execFileSync("btrfs", ["subvolume", "delete", path.join(top, "@base", "1.0")], { stdio: "ignore" });
  const mid = treeListing(top);
  const u = await cli(["--json", "profile", "undo", "main"]);
  t.is(u.code, 9, u.stderr);
  t.regex(String(u.json?.error), /^no base "1.0": base must be one of @base\/ \(1.2\)$/);
  t.deepEqual(treeListing(top), mid);
});

test("a full filesystem: no-space (11), one message, nothing changed, no lock left; works again once space is freed", async (t) => {
  const { top, cli } = seeded(t, 128);
  const fill = path.join(top, "@data", "fill");
  try {
    execFileSync("dd", ["if=/dev/zero", "of=" + fill, "bs=1M"], { stdio: "ignore" });
  } catch {
    // dd stops at ENOSPC with a failure exit: that is the point.
  }
  execFileSync("sync");
  const before = treeListing(top);
  for (const args of [
    ["profile", "create", "fresh", "--name", "N", "--base", "1.0"],
    ["profile", "clone", "main", "fresh"],
    ["profile", "snapshot", "main"],
    ["profile", "reset", "main"],
    ["profile", "rename", "main", "--name", "Renamed"],
  ]) {
    const r = await cli(["--json", ...args]);
    t.is(r.code, 11, args.join(" ") + ": " + r.stderr);
    t.regex(String(r.json?.error), /^the filesystem is full: .* \(free space first/);
    t.deepEqual(treeListing(top), before, args.join(" "));
  }
  truncateSync(fill, 0);
  execFileSync("sync");
  const ok = await cli(["profile", "create", "fresh", "--name", "N", "--base", "1.0"]);
  t.is(ok.code, 0, ok.stderr);
});

test("a store that is not the top level of a btrfs: not-btrfs (12) and nothing written", async (t) => {
  const plain = mkdtempSync(path.join(os.tmpdir(), "fb-plain-"));
  t.teardown(() => rmSync(plain, { recursive: true, force: true }));
  mkdirSync(path.join(plain, "@profiles"));
  mkdirSync(path.join(plain, "@base", "1.0"), { recursive: true });
  const booted = path.join(plain, "booted");
  for (const store of [plain, path.join(plain, "missing")]) {
    const r = await storeCli(
      store,
      booted,
    )(["--json", "profile", "create", "fresh", "--name", "N", "--base", "1.0"]);
    t.is(r.code, 12, r.stderr);
    t.regex(
      String(r.json?.error),
      /^store ".*" (is not on btrfs|cannot be read \(ENOENT\)): must be the top level \(subvolid=5\) of a mounted btrfs filesystem$/,
    );
  }
  const s = await storeCli(plain, booted)(["profile", "snapshots", "main"]);
  t.is(s.code, 12);
  t.deepEqual(readdirSync(plain).sort(), ["@base", "@profiles"], "no lock, no work folder");

  // A folder inside a btrfs, or a subvolume, is not its top level either.
  const { top } = seeded(t);
  const before = treeListing(top);
  for (const store of [path.join(top, "@profiles"), path.join(top, "@data")]) {
    const r = await storeCli(
      store,
      booted,
    )(["--json", "profile", "create", "fresh", "--name", "N", "--base", "1.0"]);
    t.is(r.code, 12, r.stderr);
    t.regex(String(r.json?.error), /is btrfs but not its top level/);
  }
  t.deepEqual(treeListing(top), before);
  t.is(STORE_ERRORS["not-btrfs"], 12);
});
