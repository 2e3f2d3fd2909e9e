// The apt hook for real: a minimal Debian (mmdebstrap, cached under build/) received as a read-only
// base on a loop-mounted btrfs, a profile's overlay of it mounted and entered with chroot, the
// flipper-boot bundle and soc-bridge/apt/ installed in it as the package would, and real apt-get
// runs of a tiny package built with dpkg-deb. The hook snapshots before each run and keeps the
// newest N automatic snapshots; `profile undo` takes the package out of the upper again; when no
// snapshot can be taken apt still succeeds and stderr says why.
import test from "ava";
import { execFile, execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { btrfsStore, makeProfile } from "./helpers/btrfs";
import { debianBaseTarball } from "../sim/linux/debian";
import { resultOf, storeCli } from "./helpers/store-cli";

const ROOT = path.resolve(import.meta.dirname, "..");

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 << 20,
  });
}

function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      cmd,
      args,
      // Only what is given: the host's environment (NODE_*, proxies) has no business in the chroot.
      { env, maxBuffer: 64 << 20, timeout: 240_000 },
      (e, stdout, stderr) =>
        resolve({ code: e ? (typeof e.code === "number" ? e.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** A tiny package: one file, no dependencies, no maintainer scripts. */
function tinyDeb(dir: string): string {
  const src = path.join(dir, "pkg");
  mkdirSync(path.join(src, "DEBIAN"), { recursive: true });
  mkdirSync(path.join(src, "usr/share/fb-tiny"), { recursive: true });
  writeFileSync(path.join(src, "usr/share/fb-tiny/marker"), "installed by fb-tiny\n");
  writeFileSync(
    path.join(src, "DEBIAN/control"),
    "Package: fb-tiny\nVersion: 1.0\nArchitecture: all\nMaintainer: flipper-boot tests <tests@invalid>\nDescription: a file for the apt hook test\n",
  );
  const deb = path.join(dir, "fb-tiny_1.0_all.deb");
  sh("dpkg-deb", ["--root-owner-group", "--build", src, deb]);
  rmSync(src, { recursive: true });
  return deb;
}

interface Rig {
  top: string;
  root: string;
  upper: string;
  cli: ReturnType<typeof storeCli>;
  apt(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  unmountStore(): void;
  unmountAll(): void;
}

async function rig(t: { teardown(fn: () => void): void; log(...m: string[]): void }): Promise<Rig> {
  for (const tool of ["dpkg-deb", "chroot", "tar", "getfattr"]) {
    try {
      sh("sh", ["-c", "command -v " + tool]);
    } catch {
      throw new Error("the apt hook test needs " + tool + (tool === "getfattr" ? " (attr)" : ""));
    }
  }
  // Built by mmdebstrap only when its recipe changed (then it logs how long that took).
  const tarball = await debianBaseTarball(undefined, (l) => t.log(l));
  let t0 = performance.now();
  const fs = btrfsStore(t, [], [], 1024);
  const top = fs.mnt;
  t0 = performance.now();
  const base = path.join(top, "@base", "1.0");
  mkdirSync(path.dirname(base), { recursive: true });
  sh("btrfs", ["subvolume", "create", base]);
  sh("tar", ["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", tarball, "-C", base]);
  sh("btrfs", ["property", "set", "-ts", base, "ro", "true"]);
  t.log("base extracted into @base/1.0 in " + Math.round(performance.now() - t0) + " ms");
  makeProfile(top, { id: "work", base: "1.0" });
  const prof = path.join(top, "@profiles", "work");

  // Outside the store: the node binary, the CLI bundle and the package, bound at /opt (an empty
  // folder of every Debian base, so the mount adds nothing to the upper).
  const host = mkdtempSync(path.join(os.tmpdir(), "fb-apt-"));
  const root = path.join(host, "root");
  const opt = path.join(host, "opt");
  mkdirSync(root);
  mkdirSync(opt);
  copyFileSync(process.execPath, path.join(opt, "node"));
  chmodSync(path.join(opt, "node"), 0o755);
  sh(process.execPath, [
    "--import=tsx",
    path.join(ROOT, "soc-bridge/build.ts"),
    path.join(opt, "flipper-boot.mjs"),
  ]);
  tinyDeb(opt);

  const mounts: string[] = [];
  const mount = (args: string[], at: string) => {
    sh("mount", [...args, at]);
    mounts.push(at);
  };
  const unmountAll = () => {
    while (mounts.length) {
      const m = mounts.pop() as string;
      try {
        sh("umount", [m]);
      } catch {
        sh("umount", ["-l", m]);
      }
    }
  };
  t.teardown(() => {
    unmountAll();
    rmSync(host, { recursive: true, force: true });
  });
  mount(
    [
      "-t",
      "overlay",
      "-o",
      "lowerdir=" + base + ",upperdir=" + prof + "/upper,workdir=" + prof + "/work",
      "overlay",
    ],
    root,
  );
  mount(["-t", "proc", "proc"], path.join(root, "proc"));
  mount(["--bind", "/dev"], path.join(root, "dev"));
  mount(["--bind", opt], path.join(root, "opt"));
  mount(["-t", "tmpfs", "tmpfs"], path.join(root, "run"));
  mkdirSync(path.join(root, "run/flipper/top"), { recursive: true });
  mount(["--bind", top], path.join(root, "run/flipper/top"));
  writeFileSync(path.join(root, "run/flipper/booted"), "profile=work\nbase=1.0\naction=boot\n");

  // What the package installs (soc-bridge/debian lays out the same paths), written through the
  // overlay like dpkg would.
  copyFileSync(
    path.join(ROOT, "soc-bridge/apt/80flipper-boot"),
    path.join(root, "etc/apt/apt.conf.d/80flipper-boot"),
  );
  mkdirSync(path.join(root, "usr/lib/flipper-boot"), { recursive: true });
  copyFileSync(
    path.join(ROOT, "soc-bridge/apt/apt-snapshot"),
    path.join(root, "usr/lib/flipper-boot/apt-snapshot"),
  );
  chmodSync(path.join(root, "usr/lib/flipper-boot/apt-snapshot"), 0o755);
  writeFileSync(
    path.join(root, "usr/bin/flipper-boot"),
    '#!/bin/sh\nexec /opt/node /opt/flipper-boot.mjs "$@"\n',
  );
  chmodSync(path.join(root, "usr/bin/flipper-boot"), 0o755);
  writeFileSync(
    path.join(root, "etc/default/flipper-boot"),
    readFileSync(path.join(ROOT, "soc-bridge/systemd/flipper-boot.default"), "utf8") +
      "FLIPPER_BOOT_APT_KEEP=2\n",
  );

  const none = path.join(host, "no-booted-file");
  return {
    top,
    root,
    upper: path.join(prof, "upper"),
    cli: storeCli(top, none, ["--cmdline", none]),
    apt: (args) =>
      run("chroot", [root, "apt-get", "-y", "-o", "Dpkg::Use-Pty=0", ...args], {
        DEBIAN_FRONTEND: "noninteractive",
        PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      }),
    unmountStore: () => {
      const at = path.join(root, "run/flipper/top");
      sh("umount", [at]);
      mounts.splice(mounts.indexOf(at), 1);
    },
    unmountAll,
  };
}

const autoSnapshots = (top: string) =>
  (existsSync(path.join(top, "@snapshots/work")) ? readdirSync(path.join(top, "@snapshots/work")) : [])
    .sort()
    .map((s) => ({
      stamp: s,
      ...JSON.parse(readFileSync(path.join(top, "@snapshots/work", s, "snapshot.json"), "utf8")),
    }))
    .filter((j) => j.auto);

const installed = (upper: string) =>
  existsSync(path.join(upper, "usr/share/fb-tiny/marker")) &&
  /Package: fb-tiny\nStatus: install ok installed/.test(
    existsSync(path.join(upper, "var/lib/dpkg/status"))
      ? readFileSync(path.join(upper, "var/lib/dpkg/status"), "utf8")
      : "",
  );

test("apt runs in a mounted profile: a snapshot before each, the newest 2 automatic ones kept, undo takes the package out", async (t) => {
  const r = await rig(t);
  const t0 = performance.now();
  const first = await r.apt(["install", "/opt/fb-tiny_1.0_all.deb"]);
  t.log("apt-get install with the hook: " + Math.round(performance.now() - t0) + " ms");
  t.is(first.code, 0, first.stdout + first.stderr);
  t.regex(
    first.stderr + first.stdout,
    /flipper-boot: snapshot \d{8}T\d{6}Z(-\d+)? of work before this apt run/,
  );
  t.true(installed(r.upper), "the package is in the upper");
  let autos = autoSnapshots(r.top);
  t.is(autos.length, 1);
  t.like(autos[0], { id: "work", reason: "apt", auto: true, base: "1.0" });
  t.regex(autos[0].note, /apt-get -y -o Dpkg::Use-Pty=0 install \/opt\/fb-tiny_1\.0_all\.deb/);
  // The snapshot is the state before dpkg ran: no package in it.
  t.false(existsSync(path.join(r.top, "@snapshots/work", autos[0].stamp, "upper/usr/share/fb-tiny/marker")));

  const removed = await r.apt(["remove", "fb-tiny"]);
  t.is(removed.code, 0, removed.stderr);
  t.false(installed(r.upper));
  const again = await r.apt(["install", "/opt/fb-tiny_1.0_all.deb"]);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stderr + again.stdout, /removed the older automatic \d{8}T\d{6}Z(-\d+)? \(keeping 2\)/);
  autos = autoSnapshots(r.top);
  t.is(autos.length, 2, "FLIPPER_BOOT_APT_KEEP=2 keeps the newest two");
  t.true(installed(r.upper));
  // A manual snapshot is never pruned.
  const manual = resultOf<{ snapshot: { stamp: string } }>(
    await r.cli(["--json", "profile", "snapshot", "work"]),
  );
  t.truthy(manual.snapshot.stamp);

  // Leave the profile (as a reboot into another would), then undo the last apt run.
  r.unmountAll();
  const undo = await r.cli(["--json", "profile", "undo", "work", "--to", autos[1].stamp]);
  t.is(undo.code, 0, undo.stderr);
  t.false(installed(r.upper), "after undo the package is gone from the upper");
  t.false(existsSync(path.join(r.upper, "usr/share/fb-tiny")));
  t.true(existsSync(path.join(r.top, "@snapshots/work", manual.snapshot.stamp)));
});

test("when no snapshot can be taken apt still succeeds, and stderr says why", async (t) => {
  const r = await rig(t);
  // A keep count that breaks its rule: said on stderr, no snapshot, apt goes on.
  const defaults = path.join(r.root, "etc/default/flipper-boot");
  writeFileSync(
    defaults,
    readFileSync(defaults, "utf8").replace("FLIPPER_BOOT_APT_KEEP=2", "FLIPPER_BOOT_APT_KEEP=lots"),
  );
  const badKeep = await r.apt(["install", "/opt/fb-tiny_1.0_all.deb"]);
  t.is(badKeep.code, 0, badKeep.stdout + badKeep.stderr);
  t.regex(badKeep.stderr, /--keep "lots" is invalid: must be a whole number from 1 to 100/);
  t.true(installed(r.upper));
  t.deepEqual(autoSnapshots(r.top), []);
  const removed = await r.apt(["remove", "fb-tiny"]);
  t.is(removed.code, 0, removed.stderr);
  writeFileSync(
    defaults,
    readFileSync(defaults, "utf8").replace("FLIPPER_BOOT_APT_KEEP=lots", "FLIPPER_BOOT_APT_KEEP=2"),
  );
  // The store is not mounted where the defaults file says: the snapshot is impossible.
  r.unmountStore();
  const res = await r.apt(["install", "/opt/fb-tiny_1.0_all.deb"]);
  t.is(res.code, 0, res.stdout + res.stderr);
  t.regex(res.stderr, /flipper-boot: store "\/run\/flipper\/top" is not on btrfs/);
  t.regex(res.stderr, /flipper-boot: no snapshot before this apt run \(apt goes on\)/);
  t.true(installed(r.upper));
  t.deepEqual(autoSnapshots(r.top), []);
  // And with flipper-boot removed (its apt.conf.d file is a conffile and stays) apt is untouched.
  rmSync(path.join(r.root, "usr/lib/flipper-boot"), { recursive: true });
  const gone = await r.apt(["remove", "fb-tiny"]);
  t.is(gone.code, 0, gone.stderr);
  t.notRegex(gone.stderr, /flipper-boot/);
});
