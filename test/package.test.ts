// The Debian packages (npm run package): contents and control fields per architecture, each arch's
// serialport binding an ELF for that arch, lintian without errors or warnings, the packaged CLI run
// with the host's node against the real MCU endpoint, and a real install, removal and purge with
// dpkg in a Debian trixie chroot (Debian's own nodejs 20 runs the bundle and loads the binding).
import test from "ava";
import { execFile, execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { ARCHES, type BuiltPackage, buildPackages, type DebArch } from "../soc-bridge/package";
import { profileJson, tempDirs, writeProfile } from "./helpers/bridge-env";
import { cachedChroot, overlayOverRoot } from "../sim/linux/debian";
import { realMcuOnPty } from "./helpers/mcu-endpoint";

const ROOT = path.resolve(import.meta.dirname, "..");
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string })
  .version;
const TMP = mkdtempSync(path.join(os.tmpdir(), "fb-package-"));
let built: BuiltPackage[] = [];
const logLines: string[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

function extract(pkg: BuiltPackage): string {
  const dir = mkdtempSync(path.join(TMP, "x-" + pkg.arch + "-"));
  execFileSync("dpkg-deb", ["-x", pkg.file, dir]);
  return dir;
}

const byArch = (a: DebArch) => built.find((p) => p.arch === a)!;

/** true for anything at `p`, dangling symlinks included */
function present(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

test.before(async () => {
  built = await buildPackages({ outDir: path.join(TMP, "deb"), log: (l) => logLines.push(l) });
});

test.after.always(() => rmSync(TMP, { recursive: true, force: true }));

test("one package per architecture, named flipper-boot_<package.json version>_<arch>.deb", (t) => {
  t.deepEqual(
    built.map((p) => path.basename(p.file)),
    (Object.keys(ARCHES) as DebArch[]).map((a) => "flipper-boot_" + VERSION + "_" + a + ".deb"),
  );
  for (const p of built) t.true(existsSync(p.file));
});

test("contents: the agreed paths, and only that arch's binding", (t) => {
  const initramfs = existsSync(path.join(ROOT, "soc-bridge", "initramfs"));
  const apt = existsSync(path.join(ROOT, "soc-bridge", "apt"));
  for (const p of built) {
    const list = execFileSync("dpkg-deb", ["-c", p.file], { encoding: "utf8" });
    const files = list
      .split("\n")
      .filter((l) => l.startsWith("-"))
      .map((l) => l.replace(/^.*? \.\//, "/"))
      .sort();
    const want = [
      "/etc/default/flipper-boot",
      "/usr/bin/flipper-boot",
      "/usr/lib/flipper-boot/flipper-boot.mjs",
      "/usr/lib/flipper-boot/node_modules/@serialport/bindings-cpp/dist/index.js",
      "/usr/lib/flipper-boot/node_modules/@serialport/bindings-cpp/package.json",
      "/usr/lib/flipper-boot/node_modules/@serialport/bindings-cpp/prebuilds/" + ARCHES[p.arch].prebuild,
      "/usr/lib/systemd/system/flipper-boot-mark-good.service",
      "/usr/lib/systemd/system/flipper-boot.service",
      "/usr/share/doc/flipper-boot/changelog.gz",
      "/usr/share/doc/flipper-boot/copyright",
      "/usr/share/flipper-boot/boot.scr",
      "/usr/share/man/man1/flipper-boot.1.gz",
      ...(initramfs
        ? [
            "/usr/share/initramfs-tools/hooks/flipper-boot",
            "/usr/share/initramfs-tools/scripts/flipper-boot-lifecycle",
            "/usr/share/initramfs-tools/scripts/local-bottom/flipper-boot",
          ]
        : []),
      ...(apt ? ["/etc/apt/apt.conf.d/80flipper-boot", "/usr/lib/flipper-boot/apt-snapshot"] : []),
    ].sort();
    t.deepEqual(files, want, p.arch);
    t.regex(list, /^-rwxr-xr-x root\/root .* \.\/usr\/bin\/flipper-boot$/m);
    if (initramfs)
      t.regex(list, /^-rwxr-xr-x root\/root .* \.\/usr\/share\/initramfs-tools\/hooks\/flipper-boot$/m);
    t.is(list.match(/\.node$/gm)?.length, 1, p.arch + ": exactly one native binding");
  }
  // A part that is not there yet is said out loud, not silently dropped.
  if (!initramfs) t.true(logLines.some((l) => /left out the initramfs hook/.test(l)));
  if (!apt) t.true(logLines.some((l) => /left out the apt hook/.test(l)));
});

test("control fields, conffiles, maintainer scripts and the initramfs trigger", (t) => {
  for (const p of built) {
    const field = (f: string) => execFileSync("dpkg-deb", ["-f", p.file, f], { encoding: "utf8" }).trim();
    t.is(field("Package"), "flipper-boot");
    t.is(field("Version"), VERSION);
    t.is(field("Architecture"), p.arch);
    const deps = field("Depends").split(/,\s*/);
    for (const d of ["nodejs (>= 20)", "btrfs-progs", "libubootenv-tool", "initramfs-tools"])
      t.true(deps.includes(d), d);
    t.true(
      deps.some((d) => /^libc6 \(>= 2\.\d+\)$/.test(d)),
      "libc6 with a version: " + deps.join(", "),
    );
    t.regex(field("Installed-Size"), /^[1-9][0-9]*$/);
    const ctl = mkdtempSync(path.join(TMP, "ctl-"));
    execFileSync("dpkg-deb", ["-e", p.file, ctl]);
    const conffiles = readFileSync(path.join(ctl, "conffiles"), "utf8").trim().split("\n");
    t.true(conffiles.includes("/etc/default/flipper-boot"));
    if (existsSync(path.join(ROOT, "soc-bridge", "apt")))
      t.true(conffiles.includes("/etc/apt/apt.conf.d/80flipper-boot"));
    t.is(
      readFileSync(path.join(ctl, "triggers"), "utf8").match(/^activate-noawait update-initramfs$/m)?.[0],
      "activate-noawait update-initramfs",
    );
    for (const s of ["postinst", "prerm", "postrm"]) {
      t.is(lstatSync(path.join(ctl, s)).mode & 0o777, 0o755, s);
      execFileSync("sh", ["-n", path.join(ctl, s)]); // throws on a syntax error
    }
    t.regex(readFileSync(path.join(ctl, "postinst"), "utf8"), /deb-systemd-helper enable "\$unit"/);
  }
});

test("each architecture's binding is an ELF shared object for that architecture", (t) => {
  for (const p of built) {
    const dir = extract(p);
    const so = path.join(
      dir,
      "usr/lib/flipper-boot/node_modules/@serialport/bindings-cpp/prebuilds",
      ARCHES[p.arch].prebuild,
    );
    const h = execFileSync("readelf", ["-h", so], { encoding: "utf8" });
    t.regex(h, /Type:\s+DYN/, p.arch);
    t.is(
      h
        .match(/Machine:\s+(.+)/)?.[1]
        ?.trim()
        .replace("Advanced Micro Devices ", ""),
      ARCHES[p.arch].machine,
      p.arch,
    );
    t.regex(h, p.arch === "armhf" ? /Class:\s+ELF32/ : /Class:\s+ELF64/);
    // boot.scr's header names the arch (mkimage -A)
    const info = execFileSync("dumpimage", ["-l", path.join(dir, "usr/share/flipper-boot/boot.scr")], {
      encoding: "utf8",
    });
    const kind = { amd64: "AMD x86_64", arm64: "AArch64", armhf: "ARM" }[p.arch];
    t.regex(info, new RegExp("Image Type:\\s+" + kind + " Linux Script"), p.arch);
  }
});

test("the same sources give the same bytes (reproducible: times come from the last commit)", async (t) => {
  const [again] = await buildPackages({ arches: ["amd64"], outDir: path.join(TMP, "again"), log: () => {} });
  t.true(readFileSync(again!.file).equals(readFileSync(byArch("amd64").file)));
});

test("the manual page names every command flipper-boot --help lists", async (t) => {
  const help = await run(process.execPath, [
    "--import=tsx",
    path.join(ROOT, "soc-bridge", "cli.ts"),
    "--help",
  ]);
  t.is(help.code, 0, help.stderr);
  const commands = help.stdout
    .slice(0, help.stdout.indexOf("\noptions:"))
    .split("\n")
    .filter((l) => /^ {2}[a-z]/.test(l))
    .map((l) => {
      const w = l.trim().split(/\s+/);
      return w[0] === "profile" || w[0] === "base" ? w[0] + " " + w[1] : w[0]!;
    });
  t.true(commands.length >= 20, commands.join(", "));
  const man = (await run("man", ["-l", path.join(ROOT, "soc-bridge", "debian", "flipper-boot.1")])).stdout;
  const missing = commands.filter(
    (c) => !new RegExp("^ {7}" + c.replace(/-/g, "[-‐]") + "\\b", "m").test(man),
  );
  t.deepEqual(missing, [], "commands --help lists but the manual page does not");
});

test("lintian: no errors and no warnings", async (t) => {
  const r = await run("lintian", ["--tag-display-limit", "0", ...built.map((p) => p.file)], 600_000);
  const tags = (r.stdout + r.stderr).split("\n").filter((l) => /^[EW]: /.test(l));
  t.deepEqual(tags, [], r.stdout + r.stderr);
  t.not(r.code, 2, "lintian itself failed: " + r.stderr);
});

test("the extracted amd64 package runs with the host's node: --help, and sync to the real MCU endpoint", async (t) => {
  const dir = extract(byArch("amd64"));
  const bundle = path.join(dir, "usr/lib/flipper-boot/flipper-boot.mjs");
  const help = await run(process.execPath, [bundle, "--help"]);
  t.is(help.code, 0, help.stderr);
  t.regex(help.stdout, /^usage: flipper-boot/);
  // The wrapper is what /usr/bin/flipper-boot runs.
  t.regex(
    readFileSync(path.join(dir, "usr/bin/flipper-boot"), "utf8"),
    /^exec node \/usr\/lib\/flipper-boot\/flipper-boot\.mjs "\$@"$/m,
  );

  // Direct mode opens the port with the packaged binding (nothing else of node_modules is beside it).
  const dirs = tempDirs("fb-package-sync-");
  t.teardown(() => dirs.cleanup());
  const mcu = await realMcuOnPty();
  t.teardown(() => mcu.close());
  writeProfile(dirs.store, "work", profileJson("work"));
  writeProfile(dirs.store, "play", profileJson("play"));
  const sync = await run(process.execPath, [
    bundle,
    "--direct",
    "--port",
    mcu.port,
    "--store",
    dirs.store,
    "--boot-dir",
    "none",
    "--socket",
    dirs.socket,
    "sync",
  ]);
  t.is(sync.code, 0, sync.stdout + sync.stderr);
  t.deepEqual(
    mcu
      .profiles()
      .map((p) => p.id)
      .sort(),
    ["play", "work"],
  );
});

const CHROOT = {
  name: "trixie-amd64-install",
  suite: "trixie",
  arch: "amd64",
  include: ["nodejs", "btrfs-progs", "libubootenv-tool", "initramfs-tools", "init-system-helpers"],
};

test("dpkg installs, removes and purges the amd64 package in a Debian trixie chroot", async (t) => {
  const lower = await cachedChroot(CHROOT);
  // The cached chroot stays clean: everything happens in an overlay over it.
  const { root, unmount } = overlayOverRoot(lower, mkdtempSync(path.join(TMP, "chroot-")));
  t.teardown(unmount);
  const inChroot = (args: string[]) => run("chroot", [root, ...args], 300_000);
  copyFileSync(byArch("amd64").file, path.join(root, "tmp", "flipper-boot.deb"));

  const inst = await inChroot(["dpkg", "-i", "/tmp/flipper-boot.deb"]);
  t.is(inst.code, 0, inst.stdout + inst.stderr);
  t.regex(inst.stdout, /Processing triggers for initramfs-tools/);
  const wants = path.join(root, "etc/systemd/system/multi-user.target.wants");
  t.is(
    readlinkSync(path.join(wants, "flipper-boot.service")),
    "/usr/lib/systemd/system/flipper-boot.service",
  );
  t.is(
    readlinkSync(path.join(wants, "flipper-boot-mark-good.service")),
    "/usr/lib/systemd/system/flipper-boot-mark-good.service",
  );
  // Debian's node (trixie: 20.x) runs the CLI through the wrapper and loads the native binding.
  const help = await inChroot(["flipper-boot", "--help"]);
  t.is(help.code, 0, help.stderr);
  t.regex(help.stdout, /^usage: flipper-boot/);
  const binding = await inChroot([
    "node",
    "-e",
    "const b = require('/usr/lib/flipper-boot/node_modules/@serialport/bindings-cpp'); console.log(typeof b.LinuxBinding.open, process.version)",
  ]);
  t.is(binding.code, 0, binding.stderr);
  t.regex(binding.stdout, /^function v2\d\./);

  const rem = await inChroot(["dpkg", "-r", "flipper-boot"]);
  t.is(rem.code, 0, rem.stdout + rem.stderr);
  t.regex(rem.stdout, /Processing triggers for initramfs-tools/);
  t.false(existsSync(path.join(root, "usr/lib/flipper-boot")));
  t.true(existsSync(path.join(root, "etc/default/flipper-boot")), "a conffile stays until purge");
  const aptHook = path.join(root, "etc/apt/apt.conf.d/80flipper-boot");
  const hasAptHook = existsSync(path.join(ROOT, "soc-bridge", "apt"));
  if (hasAptHook) t.true(existsSync(aptHook), "the apt hook is a conffile too");

  const purge = await inChroot(["dpkg", "-P", "flipper-boot"]);
  t.is(purge.code, 0, purge.stdout + purge.stderr);
  t.false(existsSync(path.join(root, "etc/default/flipper-boot")));
  t.false(existsSync(aptHook));
  t.false(present(path.join(wants, "flipper-boot.service")));
  t.false(present(path.join(wants, "flipper-boot-mark-good.service")));
  t.false(existsSync(path.join(root, "var/lib/flipper-boot")));
});
