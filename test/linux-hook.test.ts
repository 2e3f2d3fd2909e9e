// The initramfs script on the host: its validator against protocol's TypeScript (same verdicts for
// the injection corpus and generated values, under dash and bash), and its mounts on a real btrfs
// filesystem on a loop device with real overlayfs, run in a private mount namespace (`unshare -m`)
// exactly as initramfs-tools calls it (rootmnt, ROOT; the command line from a file).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import fc from "fast-check";
import { checkBaseVersion, checkProfileId } from "../protocol/profile";
import { arbBase, arbId } from "./helpers/arbitraries";
import { BAD_BASES, HOSTILE_VALUES } from "./helpers/hostile";

const SCRIPT = "soc-bridge/initramfs/scripts/local-bottom/flipper-boot";
const HOOK = "soc-bridge/initramfs/hooks/flipper-boot";
const SHELLS = ["dash", "bash"];

function need(tool: string, pkg: string): void {
  const r = spawnSync("sh", ["-c", `command -v ${tool}`]);
  if (r.status !== 0) throw new Error(`${tool} is missing: install Debian's ${pkg}`);
}

/** The script's verdict for one value (exit status of check-id / check-base). */
function shVerdict(shell: string, mode: "check-id" | "check-base", value: string): boolean {
  const r = spawnSync(shell, [SCRIPT, mode, value], { env: { PATH: process.env.PATH } });
  if (r.error) throw r.error;
  return r.status === 0;
}

// argv (and a kernel command line) cannot carry NUL: those values are checked by the TS side only.
const argvSafe = (v: string) => !v.includes("\u0000");

test("the sh validator gives protocol's verdicts for the injection corpus and malformed bases", (t) => {
  for (const sh of SHELLS) need(sh, sh);
  const values = [
    ...HOSTILE_VALUES,
    ...BAD_BASES,
    "work",
    "a",
    "0day_lab-2",
    "a".repeat(31),
    "1.2",
    "1.2.3.4",
    "9999.9999",
    "0.0.0.0",
    "01.2",
  ].filter(argvSafe);
  for (const sh of SHELLS) {
    for (const v of values) {
      t.is(shVerdict(sh, "check-id", v), checkProfileId(v, "id") === null, `${sh} id ${JSON.stringify(v)}`);
      t.is(
        shVerdict(sh, "check-base", v),
        checkBaseVersion(v, "base") === null,
        `${sh} base ${JSON.stringify(v)}`,
      );
    }
  }
});

test("generated ids, bases and arbitrary text: the sh validator agrees with protocol", (t) => {
  const arb = fc.oneof(
    arbId,
    arbBase,
    fc.string({ maxLength: 14 }),
    fc.string({ unit: "binary", maxLength: 8 }),
    fc.stringMatching(/^[a-z0-9._-]{0,33}$/),
  );
  const samples = fc.sample(arb, { numRuns: 150, seed: 20261201 }).filter(argvSafe);
  for (const v of samples) {
    const id = checkProfileId(v, "id") === null;
    const base = checkBaseVersion(v, "base") === null;
    t.is(shVerdict("dash", "check-id", v), id, `id ${JSON.stringify(v)}`);
    t.is(shVerdict("dash", "check-base", v), base, `base ${JSON.stringify(v)}`);
  }
});

function checkCmdline(cmdline: string): { ok: boolean; out: string } {
  const r = spawnSync("dash", [SCRIPT, "check", cmdline], { encoding: "utf8" });
  return { ok: r.status === 0, out: r.stdout.trim() };
}

test("command lines: what is accepted, and one flipper: line naming the value and the rule otherwise", (t) => {
  t.deepEqual(checkCmdline("quiet flipper.profile=work flipper.base=1.2 rw"), {
    ok: true,
    out: "ok profile=work base=1.2 action=boot",
  });
  t.is(
    checkCmdline("flipper.profile=lab flipper.base=1.2.3 flipper.action=reset").out,
    "ok profile=lab base=1.2.3 action=reset",
  );
  t.is(checkCmdline("flipper.action=recovery").out, "ok profile= base= action=recovery");
  t.is(
    checkCmdline("flipper.profile=work flipper.base=1.2 flipper.action=recovery").out,
    "ok profile=work base=1.2 action=recovery",
  );
  for (const v of HOSTILE_VALUES.filter((x) => argvSafe(x) && !/\s/.test(x) && x !== "")) {
    const r = checkCmdline(`flipper.profile=${v} flipper.base=1.2`);
    t.false(r.ok, v);
    t.regex(r.out, /^flipper: flipper\.profile .* is invalid: must be 1 to 31 characters/, v);
    t.is(r.out.split("\n").length, 1);
  }
  const cases: Array<[string, RegExp]> = [
    ["flipper.profile=work", /no flipper\.base on the kernel command line/],
    ["flipper.base=1.2", /no flipper\.profile on the kernel command line/],
    ["", /no flipper\.profile/],
    [
      "flipper.profile=work flipper.base=1.2 flipper.action=clone",
      /flipper\.action "clone" is invalid: must be boot, reset or recovery/,
    ],
    ["flipper.profile=a flipper.base=1.2 flipper.profile=b", /flipper\.profile is given twice/],
    ["flipper.profile=work flipper.base=1.2;reboot", /flipper\.base "1\.2;reboot" is invalid/],
    ["flipper.profile=* flipper.base=1.2", /flipper\.profile "\*" is invalid/],
    [
      "flipper.profile=\u001b[2J flipper.base=1.2",
      /flipper\.profile \(\d+ bytes, not plain ASCII text\) is invalid/,
    ],
  ];
  for (const [c, re] of cases) {
    const r = checkCmdline(c);
    t.false(r.ok, c);
    t.regex(r.out, re, c);
  }
});

test("the hook file names what the initramfs needs", (t) => {
  const hook = readFileSync(HOOK, "utf8");
  t.regex(hook, /manual_add_modules btrfs overlay/);
  t.regex(hook, /copy_exec \/usr\/bin\/btrfs/);
  t.is(spawnSync("dash", ["-n", HOOK]).status, 0);
  t.is(spawnSync("dash", ["-n", SCRIPT]).status, 0);
  t.is(execFileSync("dash", [SCRIPT, "prereqs"], { encoding: "utf8" }).trim(), "");
});

// ---- the script on a real btrfs store ------------------------------------------------------------

interface Store {
  dir: string;
  img: string;
  loop: string;
}

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** A small btrfs store like the test guest's: bases 1.0 and 1.1, profiles main/work, @data. */
function makeStore(t: ExecutionContext): Store {
  for (const [tool, pkg] of [
    ["mkfs.btrfs", "btrfs-progs"],
    ["losetup", "mount"],
    ["unshare", "util-linux"],
  ]) {
    need(tool, pkg);
  }
  const dir = mkdtempSync(join(tmpdir(), "flipper-hook-"));
  const img = join(dir, "store.img");
  sh("truncate", ["-s", "300M", img]);
  sh("mkfs.btrfs", ["-q", "-L", "flipper", img]);
  const loop = sh("losetup", ["-f", "--show", img]).trim();
  t.teardown(() => {
    spawnSync("umount", [join(dir, "m")]);
    spawnSync("losetup", ["-d", loop]);
    rmSync(dir, { recursive: true, force: true });
  });
  const m = join(dir, "m");
  mkdirSync(m);
  sh("mount", [loop, m]);
  try {
    for (const d of ["@base", "@profiles", "@snapshots", "@staged"]) mkdirSync(join(m, d));
    for (const v of ["1.0", "1.1"]) {
      const b = join(m, "@base", v);
      sh("btrfs", ["subvolume", "create", b]);
      for (const d of ["etc", "home", "run", "usr"]) mkdirSync(join(b, d));
      writeFileSync(join(b, "etc/flipper-base-version"), `${v}\n`);
      sh("btrfs", ["property", "set", "-ts", b, "ro", "true"]);
    }
    for (const id of ["main", "work"]) {
      const p = join(m, "@profiles", id);
      sh("btrfs", ["subvolume", "create", p]);
      mkdirSync(join(p, "upper/etc"), { recursive: true });
      mkdirSync(join(p, "work"));
      writeFileSync(join(p, "profile.json"), JSON.stringify({ id, name: id.toUpperCase(), base: "1.1" }));
      writeFileSync(join(p, `upper/etc/flipper-marker-${id}`), `${id}\n`);
    }
    sh("btrfs", ["subvolume", "create", join(m, "@data")]);
    writeFileSync(join(m, "@data/notes.txt"), "owner\n");
  } finally {
    sh("umount", [m]);
  }
  return { dir, img, loop };
}

interface HookRun {
  out: string;
  booted: Record<string, string>;
  /** ls of the mounted root's /etc and /home, findmnt of the root, after the script. */
  etc: string[];
  home: string[];
  rootType: string;
  log: string;
}

/**
 * Runs the script as initramfs-tools would (the top level mounted at rootmnt first), in a private
 * mount namespace that ends with the command: no mount outlives it.
 */
function runHook(s: Store, cmdline: string, env = ""): HookRun {
  const run = mkdtempSync(join(s.dir, "run-"));
  const rootmnt = join(run, "root");
  mkdirSync(rootmnt);
  writeFileSync(join(run, "cmdline"), cmdline);
  const inner = [
    `mount -o subvolid=5,ro ${s.loop} ${rootmnt}`,
    `${env} rootmnt=${rootmnt} ROOT=${s.loop} FLIPPER_RUN=${run}/flipper FLIPPER_CMDLINE=${run}/cmdline dash ${SCRIPT}`,
    `echo "@@ETC"; ls ${rootmnt}/etc`,
    `echo "@@HOME"; ls ${rootmnt}/home`,
    `echo "@@ROOT"; findmnt -no FSTYPE ${rootmnt} | tail -n 1`,
  ].join("; ");
  const r = spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", inner], { encoding: "utf8" });
  const out = r.stdout;
  const part = (tag: string) => {
    const i = out.indexOf(`@@${tag}\n`);
    if (i < 0) return [];
    const rest = out.slice(i + tag.length + 3);
    const j = rest.indexOf("@@");
    return (j < 0 ? rest : rest.slice(0, j)).split("\n").filter((x) => x);
  };
  const booted: Record<string, string> = {};
  let log = "";
  try {
    for (const l of readFileSync(join(run, "flipper/booted"), "utf8").split("\n")) {
      const i = l.indexOf("=");
      if (i > 0) booted[l.slice(0, i)] = l.slice(i + 1);
    }
    log = readFileSync(join(run, "flipper/initramfs.log"), "utf8");
  } catch {
    // no booted file: the assertions say so
  }
  return {
    out: out.slice(0, Math.max(0, out.indexOf("@@ETC"))) + r.stderr,
    booted,
    etc: part("ETC"),
    home: part("HOME"),
    rootType: (part("ROOT")[0] ?? "").trim(),
    log,
  };
}

/** Looks at the store itself (mounted read-only for a moment). */
function inStore<T>(s: Store, fn: (top: string) => T): T {
  const m = join(s.dir, "m");
  sh("mount", ["-o", "ro", s.loop, m]);
  try {
    return fn(m);
  } finally {
    sh("umount", [m]);
  }
}

test.serial(
  "real btrfs + overlayfs: each profile its overlay; reset keeps a snapshot; failures boot recovery",
  (t) => {
    const s = makeStore(t);

    const work = runHook(s, "quiet flipper.profile=work flipper.base=1.1");
    t.is(work.booted.profile, "work", work.out);
    t.is(work.booted.action, "boot");
    t.is(work.booted.deviation, "");
    t.is(work.rootType, "overlay");
    t.true(work.etc.includes("flipper-marker-work"));
    t.false(work.etc.includes("flipper-marker-main"));
    t.deepEqual(work.home, ["notes.txt"]);
    t.regex(work.out, /^flipper: booted profile work on base 1\.1 \(action boot\)$/m);
    t.regex(work.log, /took_ms=\d+/);

    const main = runHook(s, "flipper.profile=main flipper.base=1.0");
    t.true(main.etc.includes("flipper-marker-main"));
    t.false(main.etc.includes("flipper-marker-work"));

    // reset: the old upper is a read-only snapshot with snapshot.json; the profile starts empty
    const reset = runHook(s, "flipper.profile=work flipper.base=1.1 flipper.action=reset");
    t.is(reset.booted.action, "reset", reset.out);
    t.regex(reset.booted.staged, /^reset, snapshot \d{8}T\d{6}Z/);
    t.false(reset.etc.includes("flipper-marker-work"));
    const stamp = reset.booted.staged.replace(/^reset, snapshot /, "");
    inStore(s, (top) => {
      const snap = join(top, "@snapshots/work", stamp);
      t.is(readFileSync(join(snap, "upper/etc/flipper-marker-work"), "utf8"), "work\n");
      const meta = JSON.parse(readFileSync(join(snap, "snapshot.json"), "utf8"));
      t.like(meta, { id: "work", stamp, reason: "reset", base: "1.1", name: "WORK", auto: false });
      t.regex(sh("btrfs", ["property", "get", "-ts", snap, "ro"]), /ro=true/);
    });

    // failures: one flipper: line each, recovery on the newest base, nothing changed
    for (const [cmdline, why] of [
      ["flipper.profile=ghost flipper.base=1.1", /profile ghost is missing/],
      ["flipper.profile=work flipper.base=1.9", /base 1\.9 is missing/],
      ["flipper.profile=a;reboot flipper.base=1.1", /flipper\.profile "a;reboot" is invalid/],
      ["quiet", /no flipper\.profile on the kernel command line/],
    ] as Array<[string, RegExp]>) {
      const r = runHook(s, cmdline);
      t.is(r.booted.action, "recovery", cmdline);
      t.is(r.booted.profile, "", cmdline);
      t.is(r.booted.base, "1.1", cmdline);
      t.regex(r.booted.deviation, why, cmdline);
      t.regex(r.out, /^flipper: .*; booting recovery$/m, cmdline);
      t.is(r.rootType, "overlay", cmdline);
      t.true(r.etc.includes("issue") || r.etc.includes("motd"), cmdline);
      t.deepEqual(r.home, ["notes.txt"]);
    }
    const rec = runHook(s, "flipper.action=recovery");
    t.is(rec.booted.action, "recovery");
    t.is(rec.booted.deviation, "");
    inStore(s, (top) => {
      t.deepEqual(
        sh("ls", [join(top, "@profiles")])
          .trim()
          .split("\n"),
        ["main", "work"],
      );
      t.is(readFileSync(join(top, "@profiles/main/upper/etc/flipper-marker-main"), "utf8"), "main\n");
    });
  },
);

test.serial(
  "real btrfs: staged reset and undo are applied at the next boot of that profile; a bad one is set aside",
  (t) => {
    const s = makeStore(t);
    // a file written while work runs
    const first = runHook(s, "flipper.profile=work flipper.base=1.1");
    t.is(first.booted.profile, "work");
    sh("mount", [s.loop, join(s.dir, "m")]);
    try {
      writeFileSync(join(s.dir, "m/@profiles", "work", "upper/etc/written"), "yes\n");
      writeFileSync(join(s.dir, "m/@staged/work"), "action=reset\nrequested=20261201T221600Z\n");
      writeFileSync(join(s.dir, "m/@staged/main"), "action=explode\n");
    } finally {
      sh("umount", [join(s.dir, "m")]);
    }
    // main's staged file is invalid: renamed, boot goes on unchanged
    const main = runHook(s, "flipper.profile=main flipper.base=1.0");
    t.is(main.booted.profile, "main");
    t.regex(
      main.out,
      /flipper: staged change @staged\/main ignored \(action "explode" must be reset or undo\)/,
    );
    // work's staged reset applies
    const reset = runHook(s, "flipper.profile=work flipper.base=1.1");
    t.is(reset.booted.action, "boot");
    t.regex(reset.booted.staged, /^reset, snapshot /, reset.out);
    t.false(reset.etc.includes("written"));
    t.false(reset.etc.includes("flipper-marker-work"));
    const stamp = reset.booted.staged.replace(/^reset, snapshot /, "");
    inStore(s, (top) => {
      t.deepEqual(
        sh("ls", [join(top, "@staged")])
          .trim()
          .split("\n"),
        ["main.invalid"],
      );
    });
    // undo back to that snapshot
    sh("mount", [s.loop, join(s.dir, "m")]);
    try {
      writeFileSync(join(s.dir, "m/@staged/work"), `action=undo\nstamp=${stamp}\n`);
    } finally {
      sh("umount", [join(s.dir, "m")]);
    }
    const undo = runHook(s, "flipper.profile=work flipper.base=1.1");
    t.regex(undo.booted.staged, new RegExp(`^undo to ${stamp}, snapshot `));
    t.true(undo.etc.includes("written"));
    t.true(undo.etc.includes("flipper-marker-work"));
    inStore(s, (top) => {
      t.is(sh("ls", [join(top, "@staged")]).trim(), "main.invalid");
      t.is(JSON.parse(readFileSync(join(top, "@profiles", "work", "profile.json"), "utf8")).id, "work");
      t.false(sh("ls", ["-A", join(top, "@profiles/work")]).includes("snapshot.json"));
      t.is(sh("ls", ["-A", join(top, ".flipper-tmp")]).trim(), "");
    });
    // a power cut between an undo's two renames: the profile sits in the work folder's old/
    sh("mount", [s.loop, join(s.dir, "m")]);
    try {
      const w = join(s.dir, "m/.flipper-tmp/undo-work-cut");
      mkdirSync(w, { recursive: true });
      writeFileSync(join(w, "intent.json"), '{"op": "undo", "id": "work", "before": 300}\n');
      sh("mv", [join(s.dir, "m/@profiles/work"), join(w, "old")]);
    } finally {
      sh("umount", [join(s.dir, "m")]);
    }
    const repaired = runHook(s, "flipper.profile=work flipper.base=1.1");
    t.regex(repaired.out, /flipper: put profile work back after an interrupted undo/);
    t.is(repaired.booted.profile, "work", repaired.out);
    t.true(repaired.etc.includes("flipper-marker-work"));
    // a power cut between a reset's two renames: the upper sits aside as upper.old, and the work
    // folder is gone too (a later command cleaned it): booting that profile puts the upper back
    sh("mount", [s.loop, join(s.dir, "m")]);
    try {
      sh("rm", ["-rf", join(s.dir, "m/.flipper-tmp/undo-work-cut")]);
      const work = join(s.dir, "m/@profiles", "work");
      sh("mv", [join(work, "upper"), join(work, "upper.old")]);
    } finally {
      sh("umount", [join(s.dir, "m")]);
    }
    const plain = runHook(s, "flipper.profile=main flipper.base=1.0");
    t.is(plain.booted.profile, "main", plain.out);
    t.notRegex(plain.out, /put the upper/, "another profile's boot leaves work as it is");
    const back = runHook(s, "flipper.profile=work flipper.base=1.1");
    t.regex(back.out, /flipper: put the upper of work back after an interrupted reset/);
    t.is(back.booted.profile, "work", back.out);
    t.true(back.etc.includes("flipper-marker-work"));
    // a power cut while a boot's reset removed the old upper (the new, empty one in place), its own
    // work folder still there: any boot finishes it; a store folder with a look-alike name stays
    sh("mount", [s.loop, join(s.dir, "m")]);
    try {
      const work = join(s.dir, "m/@profiles", "work");
      const w = join(s.dir, "m/.flipper-tmp/reset-work-initramfs4242");
      mkdirSync(w, { recursive: true });
      writeFileSync(join(w, "intent.json"), '{"op": "reset", "id": "work", "before": 300}\n');
      sh("btrfs", ["subvolume", "snapshot", work, join(w, "snap")]);
      sh("mv", [join(work, "upper"), join(work, "upper.old")]);
      mkdirSync(join(work, "upper"));
      mkdirSync(join(work, "upper.new"));
      mkdirSync(join(s.dir, "m/.flipper-tmp/clone-x-initramfs9-1234"));
    } finally {
      sh("umount", [join(s.dir, "m")]);
    }
    const finish = runHook(s, "flipper.profile=main flipper.base=1.0");
    t.is(finish.booted.profile, "main", finish.out);
    t.regex(finish.out, /flipper: removed the old upper of work an interrupted reset left/);
    inStore(s, (top) => {
      t.is(sh("ls", ["-A", join(top, ".flipper-tmp")]).trim(), "clone-x-initramfs9-1234");
      t.deepEqual(
        sh("ls", ["-A", join(top, "@profiles", "work")])
          .trim()
          .split("\n"),
        ["profile.json", "upper", "work"],
      );
      t.is(sh("ls", ["-A", join(top, "@profiles", "work", "upper")]).trim(), "", "the reset stands");
    });
  },
);

test.serial(
  "real btrfs: without its lifecycle part the script still boots, and says what it cannot do",
  (t) => {
    const s = makeStore(t);
    const missing = "FLIPPER_LIFECYCLE=/nonexistent/flipper-boot-lifecycle";
    const plain = runHook(s, "flipper.profile=work flipper.base=1.1", missing);
    t.is(plain.booted.profile, "work", plain.out);
    t.is(
      plain.out.trim(),
      "flipper: booted profile work on base 1.1 (action boot)",
      "a plain boot never needs it",
    );
    sh("mount", [s.loop, join(s.dir, "m")]);
    try {
      writeFileSync(join(s.dir, "m/@staged/work"), "action=reset\n");
    } finally {
      sh("umount", [join(s.dir, "m")]);
    }
    const staged = runHook(s, "flipper.profile=work flipper.base=1.1", missing);
    t.regex(staged.out, /flipper: \/nonexistent\/flipper-boot-lifecycle is missing from the initramfs/);
    t.is(staged.booted.profile, "work");
    t.is(staged.booted.staged, "");
    t.true(staged.etc.includes("flipper-marker-work"), "nothing reset");
    const reset = runHook(s, "flipper.profile=work flipper.base=1.1 flipper.action=reset", missing);
    t.is(reset.booted.action, "recovery", reset.out);
    t.regex(reset.booted.deviation, /reset of profile work failed/);
    inStore(s, (top) => {
      t.is(sh("ls", [join(top, "@staged")]).trim(), "work", "the staged change waits for a whole initramfs");
      t.is(readFileSync(join(top, "@profiles", "work", "upper/etc/flipper-marker-work"), "utf8"), "work\n");
    });
  },
);
