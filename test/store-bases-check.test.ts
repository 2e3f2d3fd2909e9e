// profile check and profile rebase on a real btrfs: the profile's upper is made by a real overlayfs
// mount on its base (so whiteouts and opaque folders are the kernel's own), then compared with
// another base. Conflicting rebases are refused and change nothing; --force and clean rebases take a
// `rebase` snapshot and pin the new base.
import test from "ava";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { checkProfile, parseDpkgStatus } from "../soc-bridge/store/profile-check";
import { rebaseProfile } from "../soc-bridge/store/rebase";
import { isStoreError } from "../soc-bridge/store/errors";
import { btrfsStore, makeProfile, storeAt, subvolumes } from "./helpers/btrfs";
import { fullListing } from "./helpers/tree";

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function status(pkgs: Array<[string, string]>): string {
  return (
    pkgs
      .map(
        ([n, v]) =>
          "Package: " +
          n +
          "\nStatus: install ok installed\nArchitecture: amd64\nVersion: " +
          v +
          "\nDescription: " +
          n,
      )
      .join("\n\n") + "\n"
  );
}

/** A read-only base at @base/<ver> holding `files`. */
function base(mnt: string, ver: string, files: Record<string, string>): void {
  mkdirSync(path.join(mnt, "@base"), { recursive: true });
  const root = path.join(mnt, "@base", ver);
  sh("btrfs", ["subvolume", "create", root]);
  for (const [f, c] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    writeFileSync(path.join(root, f), c);
  }
  sh("btrfs", ["property", "set", "-ts", root, "ro", "true"]);
}

const V1 = {
  "etc/app.conf": "a=1\n",
  "etc/same.conf": "s\n",
  "usr/lib/tool": "tool 1\n",
  "usr/share/doc/pkg/a": "a\n",
  "usr/share/doc/pkg/b": "b\n",
  "var/log/base.log": "base 1\n",
  "var/lib/dpkg/status": status([
    ["foo", "1.0"],
    ["bar", "1.0"],
  ]),
};
const V2 = {
  ...V1,
  "etc/app.conf": "a=2\n",
  "usr/lib/tool": "tool 2\n",
  "usr/share/doc/pkg/c": "c\n",
  "var/log/base.log": "base 2\n",
  "var/lib/dpkg/status": status([
    ["foo", "2.0"],
    ["bar", "1.0"],
    ["baz", "1.0"],
  ]),
};

/** Runs `change(root)` inside a real overlay of the profile on its base, then unmounts it. */
function throughOverlay(
  t: { teardown(fn: () => void): void },
  mnt: string,
  id: string,
  ver: string,
  change: (root: string) => void,
): void {
  const prof = path.join(mnt, "@profiles", id);
  const root = path.join(path.dirname(mnt), "root-" + id);
  mkdirSync(root, { recursive: true });
  sh("mount", [
    "-t",
    "overlay",
    "-o",
    "lowerdir=" + path.join(mnt, "@base", ver) + ",upperdir=" + prof + "/upper,workdir=" + prof + "/work",
    "overlay",
    root,
  ]);
  let mounted = true;
  const unmount = () => {
    if (!mounted) return;
    mounted = false;
    sh("umount", [root]);
    rmSync(root, { recursive: true, force: true });
  };
  // A change that throws still leaves no overlay over the store.
  t.teardown(unmount);
  change(root);
  unmount();
}

function setup(t: { teardown(fn: () => void): void }) {
  const fs = btrfsStore(t, [], []);
  base(fs.mnt, "1.0", V1);
  base(fs.mnt, "1.1", V2);
  makeProfile(fs.mnt, { id: "work", base: "1.0" });
  makeProfile(fs.mnt, { id: "tidy", base: "1.0" });
  throughOverlay(t, fs.mnt, "work", "1.0", (r) => {
    writeFileSync(path.join(r, "etc/app.conf"), "a=mine\n"); // shadows a file 1.1 changes
    writeFileSync(path.join(r, "etc/same.conf"), "mine\n"); // shadows a file 1.1 keeps
    rmSync(path.join(r, "usr/lib/tool")); // a whiteout over a file 1.1 changes
    rmSync(path.join(r, "usr/share/doc/pkg"), { recursive: true }); // an opaque folder: 1.1 adds c
    mkdirSync(path.join(r, "usr/share/doc/pkg"));
    writeFileSync(path.join(r, "usr/share/doc/pkg/mine"), "mine\n");
    writeFileSync(path.join(r, "etc/own.conf"), "own\n"); // the profile's own
    writeFileSync(path.join(r, "var/log/base.log"), "appended\n"); // a log: the profile's own
    writeFileSync(
      path.join(r, "var/lib/dpkg/status"),
      status([
        ["foo", "1.5"], // upgraded by the profile; 1.1 changes it: a package conflict
        ["bar", "1.0"],
        ["qux", "3.0"], // installed by the profile; not in either base: fine
      ]),
    );
  });
  throughOverlay(t, fs.mnt, "tidy", "1.0", (r) => {
    writeFileSync(path.join(r, "etc/own.conf"), "own\n");
    writeFileSync(path.join(r, "etc/same.conf"), "mine\n");
  });
  return fs;
}

test("profile check: files the upper hides that the new base changes, and packages it holds that the new base changes", async (t) => {
  const fs = setup(t);
  const before = fullListing(fs.mnt);
  const r = await checkProfile(storeAt(fs.mnt), "work", "1.1");
  t.false(r.clean);
  t.is(r.from, "1.0");
  t.is(r.to, "1.1");
  t.deepEqual(
    r.files.map((f) => [f.path, f.upper, f.change]),
    [
      ["etc/app.conf", "file", "changed"],
      ["usr/lib/tool", "whiteout", "changed"],
      ["usr/share/doc/pkg", "opaque", "changed"],
      ["var/lib/dpkg/status", "file", "changed"],
    ],
  );
  t.deepEqual(r.packages, [{ package: "foo:amd64", profile: "1.5", from: "1.0", to: "2.0" }]);
  t.true(r.ignored >= 1);
  const tidy = await checkProfile(storeAt(fs.mnt), "tidy", "1.1");
  t.true(tidy.clean);
  t.deepEqual(tidy.files, []);
  t.true((await checkProfile(storeAt(fs.mnt), "work", "1.0")).clean);
  t.deepEqual(fullListing(fs.mnt), before);
});

test("profile check: a missing base, a missing profile, hostile arguments", async (t) => {
  const fs = setup(t);
  const codes = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      return "ok";
    } catch (e) {
      return isStoreError(e) ? e.code + ": " + e.message : "other: " + (e as Error).message;
    }
  };
  t.regex(
    await codes(() => checkProfile(storeAt(fs.mnt), "work", "9.9")),
    /^no-base: base 9\.9 does not exist/,
  );
  t.regex(await codes(() => checkProfile(storeAt(fs.mnt), "nope", "1.1")), /^no-profile: profile nope/);
  t.regex(
    await codes(() => checkProfile(storeAt(fs.mnt), "work", "../1.1")),
    /^invalid: --base "\.\.\/1\.1" is invalid/,
  );
  t.regex(await codes(() => checkProfile(storeAt(fs.mnt), "../x", "1.1")), /^invalid: id/);
});

test("profile rebase: refused on conflicts without --force (nothing changed); --force and clean rebases snapshot first", async (t) => {
  const fs = setup(t);
  const before = fullListing(fs.mnt);
  const err = (await rebaseProfile(storeAt(fs.mnt), "work", "1.1").catch((e) => e)) as Error;
  t.true(isStoreError(err) && err.code === "conflicts" && err.exit === 15, String(err));
  t.regex(err.message, /profile work conflicts with base 1\.1: 4 files and 1 package in conflict/);
  t.deepEqual(fullListing(fs.mnt), before);

  const running = (await rebaseProfile(storeAt(fs.mnt, "tidy"), "tidy", "1.1").catch((e) => e)) as Error;
  t.true(isStoreError(running) && running.code === "running" && running.exit === 14, String(running));
  t.deepEqual(fullListing(fs.mnt), before);

  const clean = await rebaseProfile(
    { ...storeAt(fs.mnt), now: () => new Date("2026-12-01T22:00:00Z") },
    "tidy",
    "1.1",
  );
  t.is(clean.snapshot, "20261201T220000Z");
  t.false(clean.forced);
  t.is(JSON.parse(readFileSync(path.join(fs.mnt, "@profiles/tidy/profile.json"), "utf8")).base, "1.1");
  const sj = JSON.parse(
    readFileSync(path.join(fs.mnt, "@snapshots/tidy/20261201T220000Z/snapshot.json"), "utf8"),
  );
  t.like(sj, { id: "tidy", stamp: "20261201T220000Z", reason: "rebase", base: "1.0", auto: false });
  t.is(
    JSON.parse(readFileSync(path.join(fs.mnt, "@snapshots/tidy/20261201T220000Z/profile.json"), "utf8")).base,
    "1.0",
  );
  t.true(subvolumes(fs.mnt).readonly.includes("@snapshots/tidy/20261201T220000Z"));

  const forced = await rebaseProfile(
    { ...storeAt(fs.mnt), now: () => new Date("2026-12-01T22:00:00Z") },
    "work",
    "1.1",
    {
      force: true,
    },
  );
  t.true(forced.forced);
  t.regex(
    JSON.parse(
      readFileSync(path.join(fs.mnt, "@snapshots", "work", "20261201T220000Z/snapshot.json"), "utf8"),
    ).note,
    /forced: 4 files and 1 package/,
  );
  t.is(JSON.parse(readFileSync(path.join(fs.mnt, "@profiles", "work", "profile.json"), "utf8")).base, "1.1");
  // The upper is untouched: what it hid, it still hides (that is what --force accepts).
  t.is(readFileSync(path.join(fs.mnt, "@profiles", "work", "upper/etc/app.conf"), "utf8"), "a=mine\n");
  t.deepEqual(readdirSync(path.join(fs.mnt, ".flipper-tmp")), []);
});

test("parseDpkgStatus: installed entries by package and architecture; removed ones do not count", (t) => {
  const m = parseDpkgStatus(
    status([["a", "1"]]) +
      "\nPackage: b\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 2\n\nPackage: c\nStatus: install ok installed\nArchitecture: all\nVersion: 3\n",
  );
  t.deepEqual(
    [...m.entries()].map(([k, v]) => [k, v.version]),
    [
      ["a:amd64", "1"],
      ["c", "3"],
    ],
  );
});

test("profile check never follows a base's symlink out of the base, and sees changes deep below an opaque folder", async (t) => {
  const fs = btrfsStore(t, [], []);
  base(fs.mnt, "3.0", { "opt/app/conf": "a\n", "srv/tree/deep/x": "1\n" });
  // 3.1 turns the folder into an absolute symlink: followed from the host, it would be the host's /etc.
  const v = path.join(fs.mnt, "@base", "3.1");
  sh("btrfs", ["subvolume", "create", v]);
  mkdirSync(path.join(v, "opt"));
  symlinkSync("/etc", path.join(v, "opt/app"));
  mkdirSync(path.join(v, "srv/tree/deep"), { recursive: true });
  writeFileSync(path.join(v, "srv/tree/deep/x"), "2\n"); // a change two levels below an opaque folder
  sh("btrfs", ["property", "set", "-ts", v, "ro", "true"]);
  makeProfile(fs.mnt, { id: "p", base: "3.0" });
  throughOverlay(t, fs.mnt, "p", "3.0", (r) => {
    writeFileSync(path.join(r, "opt/app/conf"), "mine\n");
    writeFileSync(path.join(r, "opt/app/passwd"), "mine\n");
    rmSync(path.join(r, "srv/tree"), { recursive: true });
    mkdirSync(path.join(r, "srv/tree"));
  });
  const r = await checkProfile(storeAt(fs.mnt), "p", "3.1");
  t.deepEqual(
    r.files.map((f) => [f.path, f.upper, f.change]),
    [
      ["opt/app", "folder", "changed"],
      ["srv/tree", "opaque", "changed"],
    ],
  );
});
