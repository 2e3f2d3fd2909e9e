// profile.json parsing, validation and ordering; boot fragments on disk; fw_setenv (recorded and real).
import test from "ava";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseFragment, renderFragment } from "../protocol/boot-fragment";
import { ProfileFlag } from "../protocol/profile";
import { setFallback, writeFragments } from "../soc-bridge/boot-files";
import { parseProfileJson, parseTime, readStore } from "../soc-bridge/profile-store";
import { profileJson, tempDirs, writeProfile } from "./helpers/bridge-env";

test("a complete profile.json becomes a record, fragment data and a sort key", (t) => {
  const p = parseProfileJson(
    JSON.stringify({
      id: "work",
      name: "Work ✓",
      base: "1.2.3",
      created: "2026-01-31T12:00:00Z",
      lastUsed: 1769860800,
      origin: "main",
      hidden: true,
      protected: true,
      kernelOptions: "quiet loglevel=3",
      overlays: ["spi-lcd", "uart4"],
      sortKey: "10",
      futureField: { ignored: true },
    }),
    "work",
    "/x/profile.json",
  );
  t.deepEqual(p.record, {
    id: "work",
    name: "Work ✓",
    base: "1.2.3",
    flags: ProfileFlag.HIDDEN | ProfileFlag.PROTECTED,
    created: 1769860800,
    lastUsed: 1769860800,
    origin: "main",
  });
  t.is(p.kernelOptions, "quiet loglevel=3");
  t.deepEqual(p.overlays, ["spi-lcd", "uart4"]);
  t.is(p.sortKey, "10");
});

test("defaults for optional fields; times as ISO strings or Unix seconds", (t) => {
  const p = parseProfileJson('{"id":"a","name":"A","base":"1.0"}', "a", "f");
  t.is(p.record.created, 0);
  t.is(p.record.lastUsed, 0);
  t.is(p.record.origin, "");
  t.is(p.record.flags, 0);
  t.is(p.kernelOptions, "");
  t.deepEqual(p.overlays, []);
  t.is(parseTime("1970-01-02", "created"), 86400);
  t.is(parseTime("2026-01-31T13:00:00+01:00", "created"), 1769860800);
  t.is(parseTime(42, "created"), 42);
  t.is(parseTime(null, "created"), 0);
});

const bad: Array<[string, string, RegExp]> = [
  ["not json", "{id:", /is not valid JSON/],
  ["an array", "[1]", /must hold a JSON object/],
  ["missing name", '{"id":"a","base":"1.0"}', /field name is missing \(required: id, name, base\)/],
  ["bad id", '{"id":"A!","name":"A","base":"1.0"}', /id "A!" is invalid: must be 1 to 31 characters/],
  [
    "bad base",
    '{"id":"a","name":"A","base":"latest"}',
    /base "latest" is invalid: must be 2 to 4 dot-separated/,
  ],
  ["control char in name", '{"id":"a","name":"A\\u0007","base":"1.0"}', /name "A\\x07" is invalid/],
  [
    "bad time",
    '{"id":"a","name":"A","base":"1.0","created":"yesterday"}',
    /created "yesterday" is invalid: must be an ISO-8601/,
  ],
  ["negative time", '{"id":"a","name":"A","base":"1.0","lastUsed":-5}', /lastUsed -5 is invalid/],
  [
    "hidden not bool",
    '{"id":"a","name":"A","base":"1.0","hidden":"yes"}',
    /hidden "yes" is invalid: must be true or false/,
  ],
  [
    "self origin",
    '{"id":"a","name":"A","base":"1.0","origin":"a"}',
    /origin "a" is invalid: must not name the profile itself/,
  ],
  [
    "injection in kopts",
    '{"id":"a","name":"A","base":"1.0","kernelOptions":"quiet; reset"}',
    /kernelOptions "quiet; reset" is invalid/,
  ],
  [
    "flipper.* kopts",
    '{"id":"a","name":"A","base":"1.0","kernelOptions":"flipper.profile=x"}',
    /kernelOptions .* must not set flipper/,
  ],
  ["overlay with space", '{"id":"a","name":"A","base":"1.0","overlays":["a b"]}', /overlays .* is invalid/],
  [
    "overlays not array",
    '{"id":"a","name":"A","base":"1.0","overlays":"x"}',
    /overlays "x" is invalid: must be an array/,
  ],
  [
    "folder mismatch",
    '{"id":"b","name":"B","base":"1.0"}',
    /id "b" is invalid: must equal the profile's folder name "a"/,
  ],
];
for (const [what, text, re] of bad) {
  test("refused with a clear rule: " + what, (t) => {
    const e = t.throws(() => parseProfileJson(text, "a", "f"));
    t.regex(e!.message, re);
  });
}

test("readStore skips bad profiles with one line naming the file, keeps the rest, and sorts", async (t) => {
  const dirs = tempDirs();
  try {
    writeProfile(dirs.store, "zeta", profileJson("zeta", { name: "Alpha" }));
    writeProfile(dirs.store, "beta", profileJson("beta", { name: "Beta" }));
    writeProfile(dirs.store, "first", profileJson("first", { name: "Zzz", sortKey: "00" }));
    writeProfile(dirs.store, "alpha", profileJson("alpha", { name: "Alpha" }));
    writeProfile(dirs.store, "broken", "{ not json");
    writeProfile(dirs.store, "other", profileJson("mismatch"));
    mkdirSync(path.join(dirs.store, "@profiles", "empty"));
    // A link to a secret: refused unread, and nothing of its content reaches the message.
    writeFileSync(path.join(dirs.root, "secret"), "root:s3cr3t-hash:19000:0:99999:7:::\n");
    mkdirSync(path.join(dirs.store, "@profiles", "linked"));
    symlinkSync(path.join(dirs.root, "secret"), path.join(dirs.store, "@profiles", "linked", "profile.json"));
    writeProfile(dirs.store, "garbage", "root:s3cr3t-hash");
    writeFileSync(path.join(dirs.store, "@profiles", "stray-file"), "x");
    const s = await readStore(dirs.store);
    t.deepEqual(
      s.profiles.map((p) => p.record.id),
      ["first", "alpha", "zeta", "beta"],
    );
    t.is(s.skipped.length, 5);
    const msgs = s.skipped.map((x) => x.message).join("\n");
    t.regex(msgs, /linked\/profile\.json: must be a regular file \(not a link or a folder\); skipped/);
    t.regex(msgs, /garbage\/profile\.json: is not valid JSON/);
    t.false(msgs.includes("s3cr3t"), msgs);
    t.regex(msgs, /@profiles\/broken\/profile\.json: is not valid JSON .*; skipped/);
    t.regex(
      msgs,
      /@profiles\/other\/profile\.json: id "mismatch" is invalid: must equal the profile's folder name "other"; skipped/,
    );
    t.regex(msgs, /@profiles\/empty\/profile\.json: is missing/);
    t.is(s.error, "");
    // No @profiles at all (store not mounted): an error, never an empty list.
    const none = await readStore(path.join(dirs.root, "nothing"));
    t.is(none.profiles.length, 0);
    t.regex(
      none.error,
      /profile store \S+nothing\/@profiles does not exist \(is the btrfs top level mounted at/,
    );
    // An empty @profiles is a real empty list.
    const emptyStore = path.join(dirs.root, "empty-store");
    mkdirSync(path.join(emptyStore, "@profiles"), { recursive: true });
    t.deepEqual(await readStore(emptyStore), { profiles: [], skipped: [], error: "" });
  } finally {
    dirs.cleanup();
  }
});

test("fragments: written exactly as renderFragment, unchanged ones not rewritten, stale and temp files removed", async (t) => {
  const dirs = tempDirs();
  try {
    writeProfile(dirs.store, "a", profileJson("a", { kernelOptions: "quiet", overlays: ["x1", "y2"] }));
    writeProfile(dirs.store, "b", profileJson("b"));
    const s = await readStore(dirs.store);
    mkdirSync(path.join(dirs.boot, "flipper"), { recursive: true });
    writeFileSync(path.join(dirs.boot, "flipper", "gone.env"), "flipper_kopts=\n");
    writeFileSync(path.join(dirs.boot, "flipper", ".a.env.tmp"), "half");
    writeFileSync(path.join(dirs.boot, "flipper", "keep.txt"), "not ours");
    mkdirSync(path.join(dirs.boot, "flipper", "overlays"));
    writeFileSync(path.join(dirs.boot, "flipper", "overlays", "x1.dtbo"), "");
    const r1 = await writeFragments(dirs.boot, s.profiles);
    t.is(r1.written.length, 2);
    t.is(r1.warnings.length, 1);
    t.regex(r1.warnings[0], /a\/profile\.json: overlay "y2" has no \S+flipper\/overlays\/y2\.dtbo/);
    t.deepEqual(r1.removed, [path.join(dirs.boot, "flipper", "gone.env")]);
    t.deepEqual(readdirSync(path.join(dirs.boot, "flipper")).sort(), [
      "a.env",
      "b.env",
      "keep.txt",
      "overlays",
    ]);
    const text = readFileSync(path.join(dirs.boot, "flipper", "a.env"), "utf8");
    t.is(text, renderFragment({ kernelOptions: "quiet", overlays: ["x1", "y2"] }));
    t.deepEqual(parseFragment(text).fragment, { kernelOptions: "quiet", overlays: ["x1", "y2"] });
    const r2 = await writeFragments(dirs.boot, s.profiles);
    t.is(r2.written.length, 0);
    t.is(r2.unchanged, 2);
  } finally {
    dirs.cleanup();
  }
});

test("fw_setenv through a recording command gets both variables in one call", async (t) => {
  const dirs = tempDirs();
  try {
    const rec = path.join(dirs.root, "calls.txt");
    const script = path.join(dirs.root, "fake-fw-setenv.sh");
    writeFileSync(
      script,
      '#!/bin/sh\necho "$@" >> ' +
        rec +
        '\nwhile [ $# -gt 0 ]; do [ "$1" = -s ] && cat "$2" >> ' +
        rec +
        "; shift; done\n",
      { mode: 0o755 },
    );
    await setFallback({ command: script, config: "/etc/fw_env.config" }, { profile: "work", base: "1.2" });
    const calls = readFileSync(rec, "utf8");
    t.regex(calls, /^-c \/etc\/fw_env\.config -s \S+\n/);
    t.true(calls.endsWith("flipper_profile=work\nflipper_base=1.2\n"));
    const failing = path.join(dirs.root, "fail.sh");
    writeFileSync(failing, "#!/bin/sh\necho 'Cannot open /dev/mtd0' >&2\nexit 1\n", { mode: 0o755 });
    const e = await t.throwsAsync(setFallback({ command: failing }, { profile: "a", base: "1.0" }));
    t.regex(e!.message, /failed: Cannot open \/dev\/mtd0/);
  } finally {
    dirs.cleanup();
  }
});

test("the real fw_setenv (libubootenv-tool) writes the fallback into an environment image", async (t) => {
  const dirs = tempDirs();
  try {
    const env = path.join(dirs.root, "uboot.env");
    writeFileSync(env, Buffer.alloc(0x4000));
    const cfg = path.join(dirs.root, "fw_env.config");
    writeFileSync(cfg, env + " 0x0 0x4000\n");
    // An empty image has no valid CRC: initialise it the way a board's default environment would.
    execFileSync("mkenvimage", ["-s", "0x4000", "-o", env, "-"], { input: "bootdelay=1\n" });
    await setFallback({ command: "/usr/bin/fw_setenv", config: cfg }, { profile: "work", base: "1.2.3" });
    const out = execFileSync("fw_printenv", ["-c", cfg], { encoding: "utf8" });
    t.regex(out, /^flipper_profile=work$/m);
    t.regex(out, /^flipper_base=1\.2\.3$/m);
    t.regex(out, /^bootdelay=1$/m);
    await setFallback({ command: "fw_setenv", config: cfg }, { profile: "main", base: "2.0" });
    t.is(
      execFileSync("fw_printenv", ["-c", cfg, "-n", "flipper_profile"], { encoding: "utf8" }).trim(),
      "main",
    );
    t.true(existsSync(env));
  } finally {
    dirs.cleanup();
  }
});
