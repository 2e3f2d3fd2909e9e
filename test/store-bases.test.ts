// Bases on a real btrfs (loop device): base receive (real btrfs send streams, truncated, garbage,
// hostile names, a full filesystem), base list, base gc and removal rules. Every refusal leaves the
// store's tree exactly as it was and nothing in .flipper-tmp/.
import test from "ava";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, truncateSync, writeFileSync, copyFileSync, mkdirSync } from "node:fs";
import { randomFillSync } from "node:crypto";
import path from "node:path";
import { parseStreamHead, receiveBase } from "../soc-bridge/store/base-receive";
import { gcBases, listBases, removeBase } from "../soc-bridge/store/bases";
import { isStoreError } from "../soc-bridge/store/errors";
import { btrfsStore, makeBtrfs, seedStore, storeAt, subvolumes } from "./helpers/btrfs";
import { type StreamMaker, streamMaker } from "./helpers/streams";
import { treeListing } from "./helpers/tree";

let streams: StreamMaker;
test.before(() => {
  streams = streamMaker();
});
test.after.always(() => streams?.cleanup());

async function refused(fn: () => Promise<unknown>, code: string): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (!isStoreError(e)) throw e;
    if (e.code !== code) throw new Error("expected " + code + ", got " + e.code + ": " + e.message);
    return e.message;
  }
  throw new Error("expected a " + code + " refusal, but it succeeded");
}

function tmpEntries(mnt: string): string[] {
  try {
    return readdirSync(path.join(mnt, ".flipper-tmp"));
  } catch {
    return [];
  }
}

test("base receive: a real stream becomes a read-only @base/<ver>, listed as the newest", async (t) => {
  const fs = btrfsStore(t, ["1.0", "1.2"], [{ id: "work", base: "1.2" }]);
  const s = streams.make("1.10", { "etc/os-release": "VERSION=1.10\n", "usr/bin/tool": "#!/bin/sh\n" });
  const r = await receiveBase(storeAt(fs.mnt), s);
  t.is(r.version, "1.10");
  t.false(r.incremental);
  t.is(readFileSync(path.join(fs.mnt, "@base/1.10/etc/os-release"), "utf8"), "VERSION=1.10\n");
  t.true(subvolumes(fs.mnt).readonly.includes("@base/1.10"));
  t.deepEqual(tmpEntries(fs.mnt), []);
  const l = await listBases(storeAt(fs.mnt));
  t.deepEqual(
    l.bases.map((b) => [b.version, b.newest, b.readonly, b.profiles]),
    [
      ["1.0", false, true, []],
      ["1.2", false, true, ["work"]],
      ["1.10", true, true, []],
    ],
  );
  // The same version again: refused before anything is written.
  const before = treeListing(fs.mnt);
  const msg = await refused(() => receiveBase(storeAt(fs.mnt), s), "exists");
  t.regex(msg, /base 1\.10 exists/);
  t.deepEqual(treeListing(fs.mnt), before);
});

test("base receive: an incremental stream on top of a received base", async (t) => {
  const fs = btrfsStore(t, [], []);
  const src = streams.fs.mnt;
  const a = path.join(src, "inc", "2.0");
  const b = path.join(src, "inc", "2.1");
  mkdirSync(path.dirname(a), { recursive: true });
  execFileSync("btrfs", ["subvolume", "create", a]);
  writeFileSync(path.join(a, "kept"), "same\n");
  writeFileSync(path.join(a, "changed"), "old\n");
  execFileSync("btrfs", ["property", "set", "-ts", a, "ro", "true"]);
  execFileSync("btrfs", ["subvolume", "snapshot", a, b]);
  writeFileSync(path.join(b, "changed"), "new\n");
  execFileSync("btrfs", ["property", "set", "-ts", b, "ro", "true"]);
  const full = path.join(streams.dir, "inc-full.stream");
  const inc = path.join(streams.dir, "inc-2.1.stream");
  execFileSync("btrfs", ["send", "-q", "-f", full, a]);
  execFileSync("btrfs", ["send", "-q", "-p", a, "-f", inc, b]);
  await receiveBase(storeAt(fs.mnt), full);
  // @base/2.0 is a read-only snapshot of what btrfs received, and a snapshot keeps the received
  // uuid: btrfs receive finds the parent an incremental stream names.
  const r = await receiveBase(storeAt(fs.mnt), inc);
  t.is(r.version, "2.1");
  t.true(r.incremental);
  t.is(readFileSync(path.join(fs.mnt, "@base/2.1/changed"), "utf8"), "new\n");
  t.is(readFileSync(path.join(fs.mnt, "@base/2.1/kept"), "utf8"), "same\n");
  t.true(subvolumes(fs.mnt).readonly.includes("@base/2.1"));
  // Without its parent the incremental stream is bad-stream, nothing changed.
  execFileSync("btrfs", ["subvolume", "delete", path.join(fs.mnt, "@base/2.1")]);
  execFileSync("btrfs", ["subvolume", "delete", path.join(fs.mnt, "@base/2.0")]);
  const before = treeListing(fs.mnt);
  t.regex(await refused(() => receiveBase(storeAt(fs.mnt), inc), "bad-stream"), /parent/i);
  t.deepEqual(treeListing(fs.mnt), before);
  t.deepEqual(tmpEntries(fs.mnt), []);
});

test("base receive: truncated, garbage and empty streams are bad-stream, nothing changed, no leftovers", async (t) => {
  const fs = btrfsStore(t, ["1.0"], [{ id: "work", base: "1.0" }]);
  const big = Buffer.alloc(3 << 20);
  randomFillSync(big);
  const s = streams.make("1.3", { "big.bin": big, "etc/hostname": "x\n" });
  const before = treeListing(fs.mnt);
  const cases: Array<[string, (f: string) => void, RegExp]> = [
    ["half", (f) => truncateSync(f, Math.floor(readFileSync(s).length / 2)), /truncated|short read|refused/],
    ["header only", (f) => truncateSync(f, 20), /truncated/],
    ["no end marker", (f) => truncateSync(f, readFileSync(s).length - 10), /truncated|refused|short read/],
    [
      "garbage",
      (f) => writeFileSync(f, Buffer.from("this is not a btrfs stream at all\n".repeat(40))),
      /magic/,
    ],
    ["empty", (f) => writeFileSync(f, ""), /empty/],
  ];
  for (const [label, damage, why] of cases) {
    const f = path.join(streams.dir, "bad-" + label.replace(/ /g, "-") + ".stream");
    copyFileSync(s, f);
    damage(f);
    const msg = await refused(() => receiveBase(storeAt(fs.mnt), f), "bad-stream");
    t.regex(msg, why, label);
    t.deepEqual(
      treeListing(fs.mnt).filter((l) => !l.startsWith(".flipper-tmp")),
      before,
      label,
    );
    t.deepEqual(tmpEntries(fs.mnt), [], label);
  }
  // And the whole stream still goes in afterwards.
  t.is((await receiveBase(storeAt(fs.mnt), s)).version, "1.3");
});

test("base receive: hostile and invalid version names are refused, naming the value and the rule", async (t) => {
  const fs = btrfsStore(t, ["1.0"], []);
  const before = treeListing(fs.mnt);
  for (const name of ["latest", "1.2;reboot", "1", "1.2.3.4.5", "-1.2", "1.2 ", "$(id)", "1.22222", "é.1"]) {
    const s = streams.make(name, { f: "x" });
    const msg = await refused(() => receiveBase(storeAt(fs.mnt), s), "invalid");
    t.true(msg.includes("base version (the stream's subvolume name)"), msg);
    t.regex(msg, /must be 2 to 4 dot-separated numbers/);
    t.deepEqual(treeListing(fs.mnt), before, name);
  }
  t.deepEqual(tmpEntries(fs.mnt), []);
});

test("base receive: a full filesystem is no-space, @base unchanged, the work removed", async (t) => {
  const fs = makeBtrfs(64);
  t.teardown(() => fs.cleanup());
  seedStore(fs.mnt, ["1.0"], [{ id: "work", base: "1.0" }]);
  const big = Buffer.alloc(96 << 20);
  for (let i = 0; i < big.length; i += 1 << 20) randomFillSync(big, i, 1 << 20);
  const s = streams.make("1.4", { "huge.bin": big });
  const before = treeListing(fs.mnt);
  const msg = await refused(() => receiveBase(storeAt(fs.mnt), s), "no-space");
  t.regex(msg, /full/);
  t.deepEqual(tmpEntries(fs.mnt), []);
  t.deepEqual(
    treeListing(fs.mnt).filter((l) => !l.startsWith(".flipper-tmp")),
    before.filter((l) => !l.startsWith(".flipper-tmp")),
  );
});

test("base receive: not the btrfs top level is not-btrfs", async (t) => {
  const fs = btrfsStore(t, ["1.0"], []);
  const s = streams.make("1.5", { f: "x" });
  t.regex(
    await refused(() => receiveBase(storeAt(path.join(fs.mnt, "@base")), s), "not-btrfs"),
    /not its top level/,
  );
  t.regex(await refused(() => receiveBase(storeAt(streams.dir), s), "not-btrfs"), /is not on btrfs/);
});

test("parseStreamHead: names the subvolume of a real stream, refuses what is not one", (t) => {
  const s = readFileSync(streams.make("3.1", { a: "b" }));
  t.deepEqual(parseStreamHead(s, "x"), { name: "3.1", incremental: false });
  t.is(parseStreamHead(s.subarray(0, 20), "x"), null);
  t.throws(() => parseStreamHead(Buffer.from("btrfs-strXam"), "x"), { message: /magic/ });
});

test("base gc: removes only bases nothing uses, never the newest; --dry-run removes nothing; in-use refusals", async (t) => {
  const fs = btrfsStore(
    t,
    ["0.8", "0.9", "1.0", "1.1", "1.2"],
    [
      { id: "work", base: "1.1" },
      { id: "lab", base: "1.1" },
    ],
  );
  // A snapshot on 0.9 and a staged undo to a snapshot on 0.8 (made as the lifecycle commands would).
  const snap = (id: string, stamp: string, base: string) => {
    const d = path.join(fs.mnt, "@snapshots", id, stamp);
    mkdirSync(path.dirname(d), { recursive: true });
    execFileSync("btrfs", ["subvolume", "snapshot", path.join(fs.mnt, "@profiles", id), d]);
    writeFileSync(
      path.join(d, "snapshot.json"),
      JSON.stringify({
        id,
        stamp,
        reason: "manual",
        created: "2026-01-01T00:00:00Z",
        base,
        name: id,
        auto: false,
      }),
    );
    execFileSync("btrfs", ["property", "set", "-ts", d, "ro", "true"]);
  };
  snap("work", "20260101T000000Z", "0.9");
  snap("lab", "20260101T000000Z", "0.8");
  writeFileSync(
    path.join(fs.mnt, "@staged", "lab"),
    "action=undo\nstamp=20260101T000000Z\nrequested=20260102T000000Z\n",
  );
  // The snapshot of lab on 0.8 is itself a use: remove the staged file's effect by listing first.
  const l = await listBases(storeAt(fs.mnt));
  const use = Object.fromEntries(
    l.bases.map((b) => [b.version, [b.profiles, b.snapshots, b.staged, b.newest]]),
  );
  t.deepEqual(use["0.8"], [[], ["lab/20260101T000000Z"], ["lab"], false]);
  t.deepEqual(use["0.9"], [[], ["work/20260101T000000Z"], [], false]);
  t.deepEqual(use["1.1"], [["lab", "work"], [], [], false]);
  t.deepEqual(use["1.2"], [[], [], [], true]);

  const before = treeListing(fs.mnt);
  const dry = await gcBases(storeAt(fs.mnt), { dryRun: true });
  t.deepEqual(dry.removed, ["1.0"]);
  t.deepEqual(treeListing(fs.mnt), before);
  t.regex(dry.kept.find((k) => k.version === "1.2")!.why, /newest/);
  t.regex(dry.kept.find((k) => k.version === "1.1")!.why, /profile lab, work/);

  const msg = await refused(() => removeBase(storeAt(fs.mnt), "1.1"), "in-use");
  t.regex(msg, /base 1\.1 is in use by profile lab, work/);
  t.regex(
    await refused(() => removeBase(storeAt(fs.mnt), "0.8"), "in-use"),
    /snapshot lab\/20260101T000000Z; staged change of lab/,
  );
  t.regex(await refused(() => removeBase(storeAt(fs.mnt), "1.2"), "in-use"), /newest/);
  await refused(() => removeBase(storeAt(fs.mnt), "7.7"), "no-base");
  await refused(() => removeBase(storeAt(fs.mnt), "../x"), "invalid");
  t.deepEqual(treeListing(fs.mnt), before);

  const real = await gcBases(storeAt(fs.mnt));
  t.deepEqual(real.removed, ["1.0"]);
  t.deepEqual(
    (await listBases(storeAt(fs.mnt))).bases.map((b) => b.version),
    ["0.8", "0.9", "1.1", "1.2"],
  );
  t.deepEqual((await gcBases(storeAt(fs.mnt))).removed, []);
});

test("base list: invalid entries of @base are skipped with a reason; missing bases are named", async (t) => {
  const fs = btrfsStore(t, ["1.0"], [{ id: "old", base: "0.5" }]);
  mkdirSync(path.join(fs.mnt, "@base", "junk"));
  mkdirSync(path.join(fs.mnt, "@base", "2.0"));
  const l = await listBases(storeAt(fs.mnt));
  t.deepEqual(
    l.bases.map((b) => b.version),
    ["1.0"],
  );
  t.is(l.skipped.length, 2);
  t.true(l.skipped.some((s) => /"junk".*must be 2 to 4/.test(s)));
  t.true(l.skipped.some((s) => /2\.0 skipped: not a subvolume/.test(s)));
  t.deepEqual(l.missing, [{ version: "0.5", usedBy: ["profile old"] }]);
});
