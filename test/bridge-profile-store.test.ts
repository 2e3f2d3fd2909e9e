// profile.json parsing, validation and ordering; every kind of entry in @profiles that is not a
// profile; files caught mid-write; boot fragments on disk, also from hostile kernel options and
// overlay names (never a byte U-Boot would misread); fw_setenv (recorded and real).
import test from "ava";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import fc from "fast-check";
import { FRAGMENT_FILE_MAX, parseFragment, renderFragment } from "../protocol/boot-fragment";
import { ProfileFlag } from "../protocol/profile";
import { setFallback, writeFragments } from "../soc-bridge/boot-files";
import { parseProfileJson, parseTime, readStore } from "../soc-bridge/profile-store";
import { everyKindOfNonProfile, profileJson, tempDirs, writeProfile } from "./helpers/bridge-env";

const ROOT = path.resolve(import.meta.dirname, "..");

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
  t.teardown(() => {
    dirs.cleanup();
  });
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
  t.is(s.skipped.length, 6);
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
  t.regex(msgs, /@profiles\/stray-file: is a file, not a profile folder; skipped/);
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
  t.deepEqual(await readStore(emptyStore), { profiles: [], skipped: [], settling: [], error: "" });
});

test("fragments: written exactly as renderFragment, unchanged ones not rewritten, stale and temp files removed", async (t) => {
  const dirs = tempDirs();
  t.teardown(() => {
    dirs.cleanup();
  });
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
});

test("fw_setenv through a recording command gets both variables in one call", async (t) => {
  const dirs = tempDirs();
  t.teardown(() => {
    dirs.cleanup();
  });
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
});

test("the real fw_setenv (libubootenv-tool) writes the fallback into an environment image", async (t) => {
  const dirs = tempDirs();
  t.teardown(() => {
    dirs.cleanup();
  });
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
});

test("every entry of @profiles that is not a profile folder gets exactly one skip line naming it", async (t) => {
  const dirs = tempDirs();
  const outside = path.join(dirs.root, "outside");
  t.teardown(() => {
    dirs.cleanup();
  });
  const names = everyKindOfNonProfile(dirs.store, outside);
  // A socket too (bound by this process, closed before the end).
  const sockPath = path.join(dirs.store, "@profiles", "socket");
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(sockPath, r));
  names.push("socket");
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const s = await readStore(dirs.store);
  t.deepEqual(
    s.profiles.map((p) => p.record.id),
    ["good"],
  );
  t.is(s.error, "");
  t.deepEqual(s.settling, []);
  const msgs = s.skipped.map((x) => x.message);
  t.is(msgs.length, names.length, msgs.join("\n"));
  for (const m of msgs) {
    t.regex(m, /; skipped$/);
    t.false(m.includes("\n"), "one line: " + JSON.stringify(m));
  }
  const about = (name: string) => {
    const shown = name.includes("\n") ? JSON.stringify(name) : name;
    const hits = msgs.filter(
      (m) =>
        m.startsWith(path.join(dirs.store, "@profiles", shown) + ":") ||
        m.startsWith(path.join(dirs.store, "@profiles", shown, "profile.json") + ":"),
    );
    return hits;
  };
  for (const name of names) t.is(about(name).length, 1, name + ": " + msgs.join("\n"));
  const line = (name: string) => about(name)[0];
  t.regex(
    line("link-to-good"),
    /is a symbolic link to a folder; a profile must be a real folder, links are not followed/,
  );
  t.regex(line("to-folder"), /is a symbolic link to a folder/);
  t.regex(line("to-file"), /is a symbolic link to a file/);
  t.regex(line("dangling"), /is a symbolic link pointing nowhere/);
  t.regex(line("loop"), /is a symbolic link in a loop/);
  t.regex(line("plain-file"), /is a file, not a profile folder/);
  t.regex(line("empty-file"), /is a file, not a profile folder/);
  t.regex(line(".hidden"), /is a hidden entry \(its name starts with "\."\), never a profile/);
  t.regex(line(".dotfile"), /is a hidden entry/);
  t.regex(
    line("no-profile-json"),
    /no-profile-json\/profile\.json: is missing \(every profile folder needs one\)/,
  );
  t.regex(line("fifo"), /is a FIFO \(named pipe\), not a profile folder/);
  t.regex(line("socket"), /is a socket, not a profile folder/);
  t.regex(line("device"), /is a device, not a profile folder/);
  t.regex(line("json-is-fifo"), /json-is-fifo\/profile\.json: must be a regular file/);
  t.regex(line("json-is-folder"), /json-is-folder\/profile\.json: must be a regular file/);
  t.regex(line("json-is-link"), /json-is-link\/profile\.json: must be a regular file/);
  // A name with a line break is shown escaped: it cannot forge a second log line.
  t.regex(line("line\nbreak"), /"line\\nbreak"\/profile\.json: id "x" is invalid/);
});

test("an unreadable profile folder is skipped with one line (the reader without root's file access)", async (t) => {
  const dirs = tempDirs();
  t.teardown(() => {
    dirs.cleanup();
  });
  writeProfile(dirs.store, "good", profileJson("good"));
  writeProfile(dirs.store, "locked", profileJson("locked"));
  chmodSync(path.join(dirs.store, "@profiles", "locked"), 0o000);
  chmodSync(dirs.root, 0o755);
  // Root reads everything; a reader without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH meets the mode.
  const script =
    "const { readStore } = await import(" +
    JSON.stringify(pathToFileURL(path.join(ROOT, "soc-bridge", "profile-store.ts")).href) +
    "); process.stdout.write(JSON.stringify(await readStore(" +
    JSON.stringify(dirs.store) +
    ")));";
  let out: string;
  try {
    out = execFileSync(
      "setpriv",
      [
        "--bounding-set=-dac_override,-dac_read_search",
        process.execPath,
        "--import=tsx",
        "--input-type=module",
        "-e",
        script,
      ],
      { encoding: "utf8", cwd: ROOT },
    );
  } catch (e) {
    t.fail(
      "setpriv (util-linux) must be able to drop CAP_DAC_OVERRIDE for this test: " + (e as Error).message,
    );
    return;
  }
  const s = JSON.parse(out) as {
    profiles: Array<{ record: { id: string } }>;
    skipped: Array<{ message: string }>;
  };
  t.deepEqual(
    s.profiles.map((p) => p.record.id),
    ["good"],
  );
  t.is(s.skipped.length, 1);
  t.regex(
    s.skipped[0].message,
    /@profiles\/locked\/profile\.json: cannot be read: permission denied; skipped$/,
  );
});

test("settling: a profile.json that may be mid-write is held back for settleMs, a final verdict is not", async (t) => {
  const dirs = tempDirs();
  t.teardown(() => {
    dirs.cleanup();
  });
  const dir = path.join(dirs.store, "@profiles");
  writeProfile(dirs.store, "good", profileJson("good"));
  mkdirSync(path.join(dir, "empty"));
  writeFileSync(path.join(dir, "empty", "profile.json"), "");
  mkdirSync(path.join(dir, "half"));
  writeFileSync(path.join(dir, "half", "profile.json"), JSON.stringify(profileJson("half")).slice(0, 30));
  mkdirSync(path.join(dir, "cut-utf8"));
  const utf8 = Buffer.from(JSON.stringify(profileJson("cut-utf8", { name: "✓✓" })));
  // Cut inside the first 3-byte character.
  writeFileSync(path.join(dir, "cut-utf8", "profile.json"), utf8.subarray(0, utf8.indexOf("✓") + 1));
  mkdirSync(path.join(dir, "new-folder"));
  writeProfile(dirs.store, "badbase", profileJson("badbase", { base: "one" })); // whole, and wrong
  const now = Date.now();
  const fresh = await readStore(dirs.store, { settleMs: 60000, now: () => now });
  t.deepEqual(
    fresh.profiles.map((p) => p.record.id),
    ["good"],
  );
  t.deepEqual(fresh.settling.map((s) => s.folder).sort(), ["cut-utf8", "empty", "half", "new-folder"]);
  for (const s of fresh.settling) t.true(s.retryAt > now && s.retryAt <= now + 60000);
  t.is(fresh.skipped.length, 1);
  t.regex(fresh.skipped[0].message, /badbase\/profile\.json: base "one" is invalid/);
  // Quiet for longer than settleMs: judged as they are.
  const later = await readStore(dirs.store, { settleMs: 60000, now: () => now + 120000 });
  t.deepEqual(later.settling, []);
  const msgs = later.skipped.map((s) => s.message).join("\n");
  t.regex(msgs, /empty\/profile\.json: is empty; skipped/);
  t.regex(msgs, /half\/profile\.json: is not valid JSON/);
  t.regex(msgs, /cut-utf8\/profile\.json: is not valid UTF-8; skipped/);
  t.regex(msgs, /new-folder\/profile\.json: is missing/);
  // Without settleMs (a one-shot reader) nothing is held back.
  t.is((await readStore(dirs.store)).skipped.length, 5);
});

// What U-Boot's `env import -t` reads safely: two lines of plain printable ASCII, no backslash
// (himport's escape), no NUL (end of text), no CR, nothing the script could expand (`$`, `;`).
const FRAGMENT_SHAPE = /^flipper_kopts=[A-Za-z0-9 _.,:=/+@-]{0,200}\nflipper_overlays=[a-z0-9_ -]{0,255}\n$/;

function fragmentsOnDiskAreSafe(boot: string): string[] {
  const problems: string[] = [];
  const dir = path.join(boot, "flipper");
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (!statSync(p).isFile()) continue;
    const bytes = readFileSync(p);
    for (const b of bytes) {
      if (b !== 0x0a && (b < 0x20 || b > 0x7e)) problems.push(name + " holds byte 0x" + b.toString(16));
    }
    if (bytes.length > FRAGMENT_FILE_MAX) problems.push(name + " is " + bytes.length + " bytes");
    if (!FRAGMENT_SHAPE.test(bytes.toString("latin1")))
      problems.push(name + " is " + JSON.stringify(bytes.toString("latin1")));
  }
  return problems;
}

const hostileChar = fc.constantFrom(
  "\u0000",
  "\n",
  "\r",
  "\\",
  '"',
  "'",
  "`",
  "$",
  "$" + "{x}",
  ";",
  "#",
  "&&",
  "|",
  "\t",
  "\u00a0",
  "é",
  "\u2028",
  "\ud800",
  "\uffff",
  "=",
  "flipper.",
  "flipper.profile=x",
  "\u001b[2J",
  " ",
  "-",
  "_",
);
const safeChunk = fc.constantFrom("quiet", "loglevel=3", "console=ttyS2,1500000", "a", "0", "spi-lcd", "x_1");
const hostileText = fc.array(fc.oneof(hostileChar, safeChunk), { maxLength: 12 }).map((a) => a.join(""));
const safeKopts = fc.array(safeChunk, { maxLength: 4 }).map((a) => a.join(" "));
const safeOverlays = fc.array(fc.constantFrom("spi-lcd", "uart4", "x_1", "a"), { maxLength: 4 });
const hostileKopts = fc.oneof(
  safeKopts,
  hostileText,
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constant("a".repeat(201)),
  fc.constantFrom(7, true, null, ["quiet"], { k: "v" }),
);
const hostileOverlays = fc.oneof(
  safeOverlays,
  fc.array(fc.oneof(hostileText, safeChunk, fc.string({ unit: "binary", maxLength: 12 })), { maxLength: 10 }),
  fc.constantFrom("spi-lcd", 3, null, [1], [null], ["Upper"], ["a".repeat(32)], Array(9).fill("x")),
);

test("hostile kernel options and overlay names never put a NUL (or any byte U-Boot would misread) in a fragment", async (t) => {
  const dirs = tempDirs();
  t.teardown(() => {
    dirs.cleanup();
  });
  writeProfile(dirs.store, "ok", profileJson("ok", { kernelOptions: "quiet", overlays: ["spi-lcd"] }));
  let accepted = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(hostileKopts, hostileOverlays, async (kopts, overlays) => {
      // p's last good fragment is on disk; the hostile version must not replace it with bad bytes.
      writeProfile(dirs.store, "p", profileJson("p"));
      await writeFragments(dirs.boot, (await readStore(dirs.store)).profiles);
      writeProfile(dirs.store, "p", profileJson("p", { kernelOptions: kopts, overlays }));
      const s = await readStore(dirs.store);
      const r = await writeFragments(dirs.boot, s.profiles);
      const problems = fragmentsOnDiskAreSafe(dirs.boot);
      if (problems.length > 0) throw new Error(problems.join("\n"));
      if (r.errors.length > 0) throw new Error(r.errors.join("\n"));
      const p = s.profiles.find((x) => x.record.id === "p");
      const frag = path.join(dirs.boot, "flipper", "p.env");
      if (p) {
        accepted++;
        const text = readFileSync(frag, "utf8");
        if (text !== renderFragment({ kernelOptions: p.kernelOptions, overlays: p.overlays }))
          throw new Error("fragment differs");
        const back = parseFragment(text).fragment;
        if (
          !back ||
          back.kernelOptions !== p.kernelOptions ||
          back.overlays.join(" ") !== p.overlays.join(" ")
        ) {
          throw new Error("fragment does not read back: " + JSON.stringify(text));
        }
      } else {
        refused++;
        // Refused with one line naming the field, and its stale fragment is gone.
        const line = s.skipped.find((x) => x.file.endsWith(path.join("p", "profile.json")));
        if (!line || !/(kernelOptions|overlays) .* is invalid: /.test(line.message)) {
          throw new Error("no skip line naming the field: " + JSON.stringify(s.skipped));
        }
        // The value is shown escaped: nothing in the line that a log reader takes as a break.
        if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(line.message))
          throw new Error("raw control characters in " + JSON.stringify(line.message));
        if (existsSync(frag)) throw new Error("p.env is still on disk");
      }
      if (!existsSync(path.join(dirs.boot, "flipper", "ok.env"))) throw new Error("ok.env is gone");
    }),
    { numRuns: 150, seed: Number(process.env.FB_FUZZ_SEED ?? 4242) },
  );
  t.true(accepted > 5, "some generated values are valid: " + accepted);
  t.true(refused > 50, "most are refused: " + refused);
});

test("a fragment a power cut left zero-filled, and a stray one with hostile bytes, are replaced or removed", async (t) => {
  const dirs = tempDirs();
  t.teardown(() => {
    dirs.cleanup();
  });
  writeProfile(dirs.store, "a", profileJson("a", { kernelOptions: "quiet" }));
  const fdir = path.join(dirs.boot, "flipper");
  mkdirSync(fdir, { recursive: true });
  writeFileSync(path.join(fdir, "a.env"), Buffer.alloc(64)); // FAT after a cut: the size, no data
  writeFileSync(path.join(fdir, "ghost.env"), "flipper_kopts=quiet\u0000; reset\n");
  const r = await writeFragments(dirs.boot, (await readStore(dirs.store)).profiles);
  t.deepEqual(r.written, [path.join(fdir, "a.env")]);
  t.deepEqual(r.removed, [path.join(fdir, "ghost.env")]);
  t.deepEqual(fragmentsOnDiskAreSafe(dirs.boot), []);
  t.is(readFileSync(path.join(fdir, "a.env"), "utf8"), "flipper_kopts=quiet\nflipper_overlays=\n");
});
