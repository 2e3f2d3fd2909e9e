// Builds the Debian packages with dpkg-deb (no debhelper needed at build time):
//   npm run package [-- ARCH...]   -> build/deb/flipper-boot_<version>_<arch>.deb (default: every ARCHES key)
// Contents and paths: soc-bridge/debian/README.md.
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build, type Metafile } from "esbuild";
import { bundleCli } from "./build";

const ROOT = resolve(fileURLToPath(import.meta.url), "..", "..");
const DEBIAN = join(ROOT, "soc-bridge", "debian");
const BINDINGS = join(ROOT, "node_modules", "@serialport", "bindings-cpp");
const LIB_DIR = "usr/lib/flipper-boot";
const BINDINGS_DIR = LIB_DIR + "/node_modules/@serialport/bindings-cpp";

/**
 * Debian architecture -> serialport's prebuilt binding for it (glibc; armhf is ARMv7, which is what
 * node-gyp-build asks for on Debian's armhf Node), mkimage's name for boot.scr's header, and the
 * machine `readelf -h` reports for the binding (the test checks it).
 */
export const ARCHES = {
  amd64: { prebuild: "linux-x64/@serialport+bindings-cpp.glibc.node", mkimage: "x86_64", machine: "X86-64" },
  arm64: {
    prebuild: "linux-arm64/@serialport+bindings-cpp.armv8.glibc.node",
    mkimage: "arm64",
    machine: "AArch64",
  },
  armhf: { prebuild: "linux-arm/@serialport+bindings-cpp.armv7.glibc.node", mkimage: "arm", machine: "ARM" },
} as const;
export type DebArch = keyof typeof ARCHES;

/** Files other folders own: a folder that exists must hold all of its files (else the build fails). */
const PARTS: Array<{ folder: string; what: string; files: Array<[string, string, number]> }> = [
  {
    folder: "soc-bridge/initramfs",
    what: "initramfs hook",
    files: [
      ["hooks/flipper-boot", "usr/share/initramfs-tools/hooks/flipper-boot", 0o755],
      [
        "scripts/local-bottom/flipper-boot",
        "usr/share/initramfs-tools/scripts/local-bottom/flipper-boot",
        0o755,
      ],
      // Sourced by the script above (initramfs-tools copies every file under scripts/ in).
      ["scripts/flipper-boot-lifecycle", "usr/share/initramfs-tools/scripts/flipper-boot-lifecycle", 0o644],
    ],
  },
  {
    folder: "soc-bridge/apt",
    what: "apt hook",
    files: [
      ["80flipper-boot", "etc/apt/apt.conf.d/80flipper-boot", 0o644],
      ["apt-snapshot", LIB_DIR + "/apt-snapshot", 0o755],
    ],
  },
];

const UNITS = ["flipper-boot.service", "flipper-boot-mark-good.service"];

export interface BuiltPackage {
  arch: DebArch;
  file: string;
  version: string;
  /** every path in the package, relative, files only */
  files: string[];
  /** parts left out because their folder does not exist yet (PARTS) */
  missing: string[];
}

class PackageError extends Error {}

function packageVersion(): string {
  const v = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version?: string }).version;
  if (!v || !/^[0-9][A-Za-z0-9.+~-]*$/.test(v)) {
    throw new PackageError("package.json version " + JSON.stringify(v) + " is not a Debian version");
  }
  return v;
}

/** SOURCE_DATE_EPOCH, else the last commit's time: the same sources give the same package. */
function sourceDateEpoch(): number {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env && /^[0-9]+$/.test(env)) return Number(env);
  try {
    return Number(execFileSync("git", ["log", "-1", "--format=%ct"], { cwd: ROOT, encoding: "utf8" }).trim());
  } catch {
    return Math.floor(Date.now() / 1000);
  }
}

/** RFC 2822 as debian/changelog wants it: "Tue, 01 Dec 2026 21:49:14 +0000". */
function rfc2822(epoch: number): string {
  return new Date(epoch * 1000).toUTCString().replace("GMT", "+0000");
}

function put(stage: string, rel: string, data: string | Buffer, mode: number): void {
  const dest = join(stage, rel);
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, data);
  chmodSync(dest, mode);
}

function putFile(stage: string, rel: string, src: string, mode: number): void {
  if (!existsSync(src))
    throw new PackageError("missing " + relative(ROOT, src) + " (needed for " + rel + ")");
  const dest = join(stage, rel);
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(src, dest);
  chmodSync(dest, mode);
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) walk(p, out);
  }
  return out;
}

/** npm package names an esbuild metafile drew from (nested node_modules count as their own). */
function bundledPackages(meta: Metafile): string[] {
  const names = new Set<string>();
  for (const input of Object.keys(meta.inputs)) {
    const parts = input.split("node_modules/");
    if (parts.length < 2) continue;
    const last = parts[parts.length - 1]!.split("/");
    names.add(last[0]!.startsWith("@") ? last[0] + "/" + last[1] : last[0]!);
  }
  return [...names].sort();
}

function findPackageDir(name: string): string {
  const top = join(ROOT, "node_modules", name);
  if (existsSync(join(top, "package.json"))) return top;
  // nested copies (e.g. a dependency pinned to another version)
  for (const p of walk(join(ROOT, "node_modules", "@serialport"))) {
    if (p.endsWith("node_modules/" + name) && existsSync(join(p, "package.json"))) return p;
  }
  throw new PackageError("cannot find the bundled npm package " + name + " under node_modules");
}

/** debian/copyright: the project's terms, then one stanza per npm package inside the bundles. */
function copyrightFile(packages: string[]): string {
  let text = readFileSync(join(DEBIAN, "copyright.in"), "utf8").trimEnd() + "\n";
  for (const name of packages) {
    const dir = findPackageDir(name);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
      version: string;
      license?: string;
    };
    if (pkg.license !== "MIT") {
      throw new PackageError(
        "bundled npm package " +
          name +
          " has license " +
          JSON.stringify(pkg.license) +
          "; only MIT has its text in soc-bridge/debian/copyright.in: add the text and allow it here",
      );
    }
    const licenseFile = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    const holders = licenseFile
      ? readFileSync(join(dir, licenseFile), "utf8")
          .split("\n")
          .filter((l) => /^\s*copyright\b/i.test(l) && !/notice/i.test(l))
          .map((l) =>
            l
              .replace(/^\s*copyright\s*(\(c\)|©)?\s*/i, "")
              .replace(/\s*all rights reserved\.?/i, "")
              .trim(),
          )
      : [];
    text +=
      "\nFiles: node_modules/" +
      name +
      "/*\n" +
      "Copyright: " +
      (holders.length > 0 ? holders.join("\n           ") : "the " + name + " authors") +
      "\n" +
      "License: MIT\n" +
      "Comment: npm package " +
      name +
      " " +
      pkg.version +
      ", bundled into " +
      LIB_DIR +
      "\n";
  }
  return text + "\n" + readFileSync(join(DEBIAN, "copyright-mit.in"), "utf8");
}

/** What GNU symbol versions need, as dpkg-shlibdeps would say it (it cannot run here: the foreign arches' libraries are not installed). */
const GLIBCXX_GCC: Record<string, string> = {
  "3.4.21": "5",
  "3.4.22": "6",
  "3.4.25": "8",
  "3.4.26": "9",
  "3.4.28": "10",
};
const LIBS: Record<string, string> = {
  "libc.so.6": "libc6",
  "libm.so.6": "libc6",
  "libpthread.so.0": "libc6",
  "libdl.so.2": "libc6",
  "libstdc++.so.6": "libstdc++6",
  "libgcc_s.so.1": "libgcc-s1",
};

function versionCompare(a: string, b: string): number {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  }
  return 0;
}

/** Depends entries for a native binding: its NEEDED libraries, at the versions its symbols need. */
function sharedLibraryDepends(elf: string): string[] {
  const dyn = execFileSync("readelf", ["-d", "-W", elf], { encoding: "utf8" });
  const pkgs = new Set<string>();
  for (const m of dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)) {
    const pkg = LIBS[m[1]!];
    if (!pkg)
      throw new PackageError(
        relative(ROOT, elf) + " needs " + m[1] + ", which package.ts cannot map to a Debian package",
      );
    pkgs.add(pkg);
  }
  const max: Record<string, string> = {};
  const ver = execFileSync("readelf", ["-V", "-W", elf], { encoding: "utf8" });
  for (const m of ver.matchAll(/Name: (GLIBC|GLIBCXX|GCC)_([0-9.]+)/g)) {
    const key = m[1]!;
    if (!max[key] || versionCompare(m[2]!, max[key]!) > 0) max[key] = m[2]!;
  }
  const out: string[] = [];
  for (const pkg of [...pkgs].sort()) {
    if (pkg === "libc6" && max.GLIBC) out.push("libc6 (>= " + max.GLIBC + ")");
    else if (pkg === "libgcc-s1" && max.GCC) out.push("libgcc-s1 (>= " + max.GCC + ")");
    else if (pkg === "libstdc++6" && max.GLIBCXX) {
      const gcc = GLIBCXX_GCC[max.GLIBCXX];
      if (!gcc)
        throw new PackageError(
          relative(ROOT, elf) + " needs GLIBCXX_" + max.GLIBCXX + ": add its GCC version to GLIBCXX_GCC",
        );
      out.push("libstdc++6 (>= " + gcc + ")");
    } else out.push(pkg);
  }
  return out;
}

function maintainer(): string {
  const m = readFileSync(join(DEBIAN, "control"), "utf8").match(/^Maintainer: (.+)$/m);
  if (!m) throw new PackageError("soc-bridge/debian/control has no Maintainer: line");
  return m[1]!;
}

/** Top entry of debian/changelog must be package.json's version (one version, two places). */
function changelogFile(version: string, epoch: number): string {
  const text = readFileSync(join(DEBIAN, "changelog"), "utf8");
  const top = text.match(/^flipper-boot \(([^)]+)\)/);
  if (!top || top[1] !== version) {
    throw new PackageError(
      "soc-bridge/debian/changelog's top entry is " +
        (top ? top[1] : "missing") +
        " but package.json's version is " +
        version +
        ": add a changelog entry for " +
        version,
    );
  }
  return text.replaceAll("@MAINTAINER@", maintainer()).replace("@DATE@", rfc2822(epoch));
}

/** Bundles and boot.scr are arch-independent apart from boot.scr's header: built once per run. */
interface Shared {
  cli: string;
  bindingsJs: string;
  packages: string[];
  work: string;
}

async function buildShared(work: string): Promise<Shared> {
  const cli = join(work, "flipper-boot.mjs");
  const cliMeta = await bundleCli(cli);
  // serialport's native half in one CommonJS file at its usual place: node-gyp-build finds
  // prebuilds/ from dist/, so only the .node file for the package's arch needs to sit beside it.
  const bindingsJs = join(work, "bindings-cpp.js");
  const r = await build({
    entryPoints: [join(BINDINGS, "dist", "index.js")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    outfile: bindingsJs,
    external: ["supports-color"], // debug's optional extra, loaded in a try
    metafile: true,
    logLevel: "warning",
  });
  const packages = [...new Set([...bundledPackages(cliMeta), ...bundledPackages(r.metafile)])].sort();
  return { cli, bindingsJs, packages, work };
}

function buildOne(
  arch: DebArch,
  shared: Shared,
  outDir: string,
  version: string,
  epoch: number,
): BuiltPackage {
  const spec = ARCHES[arch];
  const stage = mkdtempSync(join(shared.work, arch + "-"));
  try {
    putFile(stage, LIB_DIR + "/flipper-boot.mjs", shared.cli, 0o755);
    putFile(stage, BINDINGS_DIR + "/dist/index.js", shared.bindingsJs, 0o644);
    const bpkg = JSON.parse(readFileSync(join(BINDINGS, "package.json"), "utf8")) as {
      name: string;
      version: string;
    };
    put(
      stage,
      BINDINGS_DIR + "/package.json",
      JSON.stringify(
        { name: bpkg.name, version: bpkg.version, main: "./dist/index.js", license: "MIT" },
        null,
        2,
      ) + "\n",
      0o644,
    );
    putFile(
      stage,
      BINDINGS_DIR + "/prebuilds/" + spec.prebuild,
      join(BINDINGS, "prebuilds", spec.prebuild),
      0o644,
    );
    putFile(stage, "usr/bin/flipper-boot", join(DEBIAN, "flipper-boot"), 0o755);
    for (const u of UNITS)
      putFile(stage, "usr/lib/systemd/system/" + u, join(ROOT, "soc-bridge", "systemd", u), 0o644);
    putFile(
      stage,
      "etc/default/flipper-boot",
      join(ROOT, "soc-bridge", "systemd", "flipper-boot.default"),
      0o644,
    );

    const missing: string[] = [];
    for (const part of PARTS) {
      const folder = join(ROOT, part.folder);
      if (!existsSync(folder)) {
        missing.push(part.what + " (" + part.folder + "/ does not exist)");
        continue;
      }
      for (const [src, dest, mode] of part.files) {
        const from = join(folder, src);
        if (!existsSync(from)) {
          throw new PackageError(
            "missing " + part.folder + "/" + src + ": the package's " + part.what + " needs it",
          );
        }
        putFile(stage, dest, from, mode);
      }
    }

    const scrDir = join(stage, ".boot-scr");
    execFileSync("npm", ["run", "-s", "uboot:build", "--", scrDir, spec.mkimage], {
      cwd: ROOT,
      env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) }, // mkimage stamps the image with it
      stdio: ["ignore", "ignore", "inherit"],
    });
    putFile(stage, "usr/share/flipper-boot/boot.scr", join(scrDir, "boot.scr"), 0o644);
    rmSync(scrDir, { recursive: true });

    const doc = "usr/share/doc/flipper-boot/";
    put(stage, doc + "copyright", copyrightFile(shared.packages), 0o644);
    put(stage, doc + "changelog.gz", gzipSync(changelogFile(version, epoch), { level: 9 }), 0o644);
    put(
      stage,
      "usr/share/man/man1/flipper-boot.1.gz",
      gzipSync(readFileSync(join(DEBIAN, "flipper-boot.1")), { level: 9 }),
      0o644,
    );

    // control area
    const all = walk(stage).filter((p) => !p.startsWith(join(stage, "DEBIAN")));
    const files = all
      .filter((p) => lstatSync(p).isFile())
      .map((p) => relative(stage, p))
      .sort();
    let kib = 0;
    for (const p of all) kib += lstatSync(p).isFile() ? Math.ceil(lstatSync(p).size / 1024) : 1;
    const control = readFileSync(join(DEBIAN, "control"), "utf8")
      .replace("@VERSION@", version)
      .replace("@ARCH@", arch)
      .replace("@INSTALLED_SIZE@", String(kib))
      .replace(
        "@SHLIBS@",
        sharedLibraryDepends(join(stage, BINDINGS_DIR, "prebuilds", spec.prebuild)).join(", "),
      );
    put(stage, "DEBIAN/control", control, 0o644);
    const md5 = files.map(
      (f) =>
        createHash("md5")
          .update(readFileSync(join(stage, f)))
          .digest("hex") +
        "  " +
        f,
    );
    put(stage, "DEBIAN/md5sums", md5.join("\n") + "\n", 0o644);
    const conffiles = readFileSync(join(DEBIAN, "conffiles.in"), "utf8")
      .split("\n")
      .filter((l) => l.startsWith("/") && files.includes(l.slice(1)));
    put(stage, "DEBIAN/conffiles", conffiles.join("\n") + "\n", 0o644);
    for (const s of ["postinst", "prerm", "postrm"]) putFile(stage, "DEBIAN/" + s, join(DEBIAN, s), 0o755);
    putFile(stage, "DEBIAN/triggers", join(DEBIAN, "triggers"), 0o644);

    for (const p of [...walk(stage), stage]) {
      if (lstatSync(p).isDirectory()) chmodSync(p, 0o755);
      utimesSync(p, epoch, epoch);
    }
    mkdirSync(outDir, { recursive: true });
    const file = join(outDir, "flipper-boot_" + version + "_" + arch + ".deb");
    const tmp = file + ".tmp";
    execFileSync("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", stage, tmp], {
      env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
      stdio: ["ignore", "ignore", "inherit"],
    });
    renameSync(tmp, file);
    return { arch, file, version, files, missing };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

export async function buildPackages(
  opts: { arches?: DebArch[]; outDir?: string; log?: (line: string) => void } = {},
): Promise<BuiltPackage[]> {
  const arches = opts.arches ?? (Object.keys(ARCHES) as DebArch[]);
  for (const a of arches) {
    if (!(a in ARCHES)) {
      throw new PackageError(
        "unknown architecture " + JSON.stringify(a) + "; known: " + Object.keys(ARCHES).join(", "),
      );
    }
  }
  const outDir = opts.outDir ?? join(ROOT, "build", "deb");
  const log = opts.log ?? ((l: string) => console.log(l));
  const version = packageVersion();
  const epoch = sourceDateEpoch();
  mkdirSync(outDir, { recursive: true });
  const work = mkdtempSync(join(outDir, ".work-"));
  try {
    const shared = await buildShared(work);
    const out: BuiltPackage[] = [];
    for (const arch of arches) {
      const p = buildOne(arch, shared, outDir, version, epoch);
      for (const m of p.missing) log("package: " + arch + ": left out the " + m);
      log("package: built " + relative(process.cwd(), p.file) + " (" + p.files.length + " files)");
      out.push(p);
    }
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await buildPackages({
      arches: process.argv.length > 2 ? (process.argv.slice(2) as DebArch[]) : undefined,
    });
  } catch (e) {
    if (!(e instanceof PackageError)) throw e;
    console.error("package: " + e.message);
    process.exitCode = 1;
  }
}
