// `flipper-boot base ...`, `profile check` and `profile rebase` through the real CLI (direct mode
// and the daemon's control socket) on a real btrfs: --json objects, exit codes, a stream on standard
// input, and a receive killed with SIGKILL half-way (old state kept, leftovers removed and reported
// by the next command).
import test from "ava";
import { execFileSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { controlRequest } from "../soc-bridge/control";
import { startDaemon } from "../soc-bridge/daemon";
import { btrfsStore, subvolumes, writeBooted } from "./helpers/btrfs";
import { realMcuOnPty } from "./helpers/mcu-endpoint";
import { flipperBoot, resultOf, storeCli } from "./helpers/store-cli";
import { type StreamMaker, streamMaker } from "./helpers/streams";
import { fullListing } from "./helpers/tree";

let streams: StreamMaker;
test.before(() => {
  streams = streamMaker();
});
test.after.always(() => streams?.cleanup());

function setup(t: { teardown(fn: () => void): void }, running = "") {
  const fs = btrfsStore(
    t,
    ["1.0", "1.1"],
    [
      { id: "main", base: "1.0", files: { "etc/os-release": "mine\n" } },
      { id: "lab", base: "1.0", files: { "etc/own.conf": "own\n" } },
    ],
  );
  const booted = writeBooted(fs.mnt, running, "1.0");
  return { fs, top: fs.mnt, booted, cli: storeCli(fs.mnt, booted) };
}

test("base list, receive (file and standard input), gc --dry-run and gc through the CLI, --json and exit codes", async (t) => {
  const { top, booted, cli } = setup(t);
  const list = resultOf<{ bases: Array<{ version: string; newest: boolean; profiles: string[] }> }>(
    await cli(["--json", "base", "list"]),
  );
  t.deepEqual(
    list.bases.map((b) => [b.version, b.newest, b.profiles]),
    [
      ["1.0", false, ["lab", "main"]],
      ["1.1", true, []],
    ],
  );
  const human = await cli(["base", "list"]);
  t.is(human.code, 0);
  t.regex(human.stdout, /\* 1\.1 +unused/);

  const s = streams.make("1.2", { "etc/os-release": "1.2\n" });
  const r = await cli(["--json", "base", "receive", s]);
  t.is(r.code, 0, r.stderr);
  t.like(r.json, { ok: true, command: "base-receive", result: { version: "1.2" } });

  const viaStdin = await flipperBoot(
    ["--direct", "--store", top, "--booted", booted, "--json", "base", "receive", "-"],
    {},
    { input: readFileSync(streams.make("1.3", { "etc/os-release": "1.3\n" })) },
  );
  t.is(viaStdin.code, 0, viaStdin.stderr);
  t.like(viaStdin.json, { ok: true, result: { version: "1.3" } });
  t.is(readFileSync(path.join(top, "@base/1.3/etc/os-release"), "utf8"), "1.3\n");

  const bad = await flipperBoot(
    ["--direct", "--store", top, "--booted", booted, "--json", "base", "receive", "-"],
    {},
    { input: Buffer.from("not a stream") },
  );
  t.is(bad.code, 13);
  t.like(bad.json, { ok: false, exit: 13 });
  t.regex(bad.stderr, /standard input is not a btrfs send stream/);

  const again = await cli(["base", "receive", s]);
  t.is(again.code, 7);
  t.regex(again.stderr, /base 1\.2 exists/);

  const dry = await cli(["--json", "base", "gc", "--dry-run"]);
  t.like(resultOf(dry), { dryRun: true, removed: ["1.1", "1.2"] });
  t.true(existsSync(path.join(top, "@base/1.1")));
  const gc = await cli(["base", "gc"]);
  t.is(gc.code, 0);
  t.regex(
    gc.stdout,
    /removed: 1\.1, 1\.2\nkept 1\.0: in use by profile lab, main\nkept 1\.3: the newest base/,
  );
  t.deepEqual(readdirSync(path.join(top, "@base")).sort(), ["1.0", "1.3"]);

  const inUse = await cli(["--json", "base", "remove", "1.0"]);
  t.is(inUse.code, 17);
  t.regex(String(inUse.json?.error), /base 1\.0 is in use by profile lab, main/);
  const hostile = await cli(["base", "remove", "1.0;reboot"]);
  t.is(hostile.code, 2);
  t.regex(hostile.stderr, /"1\.0;reboot" is invalid: must be 2 to 4 dot-separated numbers/);
  const usage = await cli(["base", "receive"]);
  t.is(usage.code, 2);
  t.regex(usage.stderr, /usage: flipper-boot base receive FILE\|-/);
});

test("profile check exits 15 with its report on conflicts and 0 when clean; rebase refuses, --force moves", async (t) => {
  const { top, cli } = setup(t);
  // Base 1.1 changes etc/os-release, which main's upper holds.
  const s = streams.make("1.2", { "etc/os-release": "base 1.2\n" });
  t.is((await cli(["base", "receive", s])).code, 0);
  const chk = await cli(["--json", "profile", "check", "main", "--base", "1.2"]);
  t.is(chk.code, 15);
  t.like(chk.json, { ok: true, command: "profile-check", result: { clean: false, from: "1.0", to: "1.2" } });
  const human = await cli(["profile", "check", "main", "--base", "1.2"]);
  t.is(human.code, 15);
  t.regex(human.stdout, /profile main: base 1\.0 -> 1\.2: 1 file in conflict\n {2}file +etc\/os-release/);
  const clean = await cli(["profile", "check", "lab", "--base", "1.2"]);
  t.is(clean.code, 0, clean.stdout + clean.stderr);
  t.regex(clean.stdout, /clean/);

  const before = fullListing(top);
  const refused = await cli(["--json", "profile", "rebase", "main", "--base", "1.2"]);
  t.is(refused.code, 15);
  t.regex(String(refused.json?.error), /profile main conflicts with base 1\.2: 1 file in conflict/);
  t.deepEqual(fullListing(top), before);
  t.is((await cli(["profile", "check", "main", "--base", "9.9"])).code, 9);
  t.is((await cli(["profile", "check", "ghost", "--base", "1.2"])).code, 8);
  t.is((await cli(["profile", "check", "main"])).code, 2);

  const forced = await cli(["--json", "profile", "rebase", "main", "--base", "1.2", "--force"]);
  t.is(forced.code, 0, forced.stderr);
  const fr = resultOf<{ snapshot: string; forced: boolean }>(forced);
  t.true(fr.forced);
  t.is(JSON.parse(readFileSync(path.join(top, "@profiles/main/profile.json"), "utf8")).base, "1.2");
  t.true(subvolumes(top).readonly.includes("@snapshots/main/" + fr.snapshot));
  // The snapshot is an ordinary one: profile undo takes main back to base 1.0.
  const undo = await cli(["--json", "profile", "undo", "main", "--to", fr.snapshot]);
  t.is(undo.code, 0, undo.stderr);
  t.is(JSON.parse(readFileSync(path.join(top, "@profiles/main/profile.json"), "utf8")).base, "1.0");
});

test("profile rebase of the running profile is refused (exit 14), nothing changed", async (t) => {
  const { top, cli } = setup(t, "lab");
  const before = fullListing(top);
  const r = await cli(["--json", "profile", "rebase", "lab", "--base", "1.1"]);
  t.is(r.code, 14);
  t.regex(String(r.json?.error), /profile lab is running/);
  t.deepEqual(fullListing(top), before);
});

test("SIGKILL during base receive: @base unchanged; the next command removes the leftovers and says so", async (t) => {
  const { top, booted, cli } = setup(t);
  const big = Buffer.alloc(16 << 20);
  for (let i = 0; i < big.length; i += 1 << 20) randomFillSync(big, i, 1 << 20);
  const stream = readFileSync(streams.make("2.0", { "big.bin": big }));
  const before = fullListing(top);
  const tmp = path.join(top, ".flipper-tmp");
  const r = await flipperBoot(
    ["--direct", "--store", top, "--booted", booted, "base", "receive", "-"],
    {},
    {
      feed: (child) => {
        // Half the stream, then wait (events, not a fixed sleep) until btrfs receive has made the
        // subvolume in .flipper-tmp/, then kill the command.
        child.stdin.write(stream.subarray(0, stream.length >> 1));
        const started = Date.now();
        const poll = setInterval(() => {
          const work = existsSync(tmp) ? readdirSync(tmp) : [];
          const inside = work.flatMap((w) => readdirSync(path.join(tmp, w)));
          if (inside.includes("2.0") || Date.now() - started > 120_000) {
            clearInterval(poll);
            child.kill("SIGKILL");
          }
        }, 50);
      },
    },
  );
  t.is(r.signal, "SIGKILL");
  // btrfs receive sees its input end and stops; the work is left in .flipper-tmp/.
  t.false(existsSync(path.join(top, "@base/2.0")));
  t.true(readdirSync(tmp).some((n) => n.startsWith("receive-")));
  t.true(existsSync(path.join(top, ".flipper-lock")), "the killed command's lock is left");
  const list = resultOf<{ bases: Array<{ version: string }> }>(await cli(["--json", "base", "list"]));
  t.deepEqual(
    list.bases.map((b) => b.version),
    ["1.0", "1.1"],
  );
  // The next lifecycle command takes the dead holder's lock, removes the work and reports it.
  const gc = await cli(["--json", "base", "gc", "--dry-run"]);
  const res = resultOf<{ cleaned: string[] }>(gc);
  t.true(
    res.cleaned.some((l) => /receive-/.test(l)),
    res.cleaned.join("\n"),
  );
  t.deepEqual(readdirSync(tmp), []);
  t.deepEqual(
    fullListing(top).filter((l) => !l.startsWith(".flipper-tmp")),
    before.filter((l) => !l.startsWith(".flipper-tmp")),
  );
  // And the whole stream goes in afterwards.
  const ok = await flipperBoot(
    ["--direct", "--store", top, "--booted", booted, "--json", "base", "receive", "-"],
    {},
    { input: stream },
  );
  t.is(ok.code, 0, ok.stderr);
  t.true(subvolumes(top).readonly.includes("@base/2.0"));
});

test("through the daemon's control socket: base-list, profile-check, base-gc, and refusals with their codes", async (t) => {
  const { top, booted } = setup(t);
  const end = await realMcuOnPty();
  t.teardown(() => end.close());
  const sock = path.join(path.dirname(top), "ctl.sock");
  const d = await startDaemon({
    port: end.port,
    store: top,
    socket: sock,
    booted,
    cmdline: booted,
    log: () => {},
  });
  t.teardown(() => d.stop());
  await d.whenSynced();
  const list = await controlRequest(sock, "base-list", {});
  t.true(list.ok, list.error);
  t.deepEqual(
    (list.result as { bases: Array<{ version: string }> }).bases.map((b) => b.version),
    ["1.0", "1.1"],
  );
  const chk = await controlRequest(sock, "profile-check", { id: "lab", base: "1.1" });
  t.true(chk.ok, chk.error);
  t.like(chk.result, { clean: true, from: "1.0", to: "1.1" });
  const hostile = await controlRequest(sock, "profile-check", { id: "lab", base: { toString: 1 } });
  t.false(hostile.ok);
  t.is(hostile.code, "invalid");
  const gc = await controlRequest(sock, "base-gc", { "dry-run": true });
  t.true(gc.ok, gc.error);
  t.like(gc.result, { dryRun: true, removed: [] });
  const inUse = await controlRequest(sock, "base-remove", { version: "1.0" });
  t.false(inUse.ok);
  t.is(inUse.code, "in-use");
  t.regex(String(inUse.error), /in use by profile lab, main/);
  // A stream file the daemon can read is received by the daemon itself.
  const recv = await controlRequest(sock, "base-receive", { file: streams.make("1.5", { f: "x" }) });
  t.true(recv.ok, recv.error);
  t.like(recv.result, { version: "1.5" });
  t.true(subvolumes(top).readonly.includes("@base/1.5"));
  const bad = await controlRequest(sock, "base-receive", { file: 5 });
  t.false(bad.ok);
  t.is(bad.code, "invalid");
  const rebase = await controlRequest(sock, "profile-rebase", { id: "lab", base: "1.1" });
  t.true(rebase.ok, rebase.error);
  t.is(JSON.parse(readFileSync(path.join(top, "@profiles/lab/profile.json"), "utf8")).base, "1.1");
  execFileSync("sync");
});
