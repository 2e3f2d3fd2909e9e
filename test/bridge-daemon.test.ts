// The daemon against the real MCU endpoint (mcu/node NodeMcu) over a socat pty pair with the real
// serialport bindings: full sync, deltas through fs.watch, fragments, bad profiles, the profile
// limit, a silent MCU, MCU events (restart, boot, default changed in the menu), the U-Boot fallback.
import test from "ava";
import { execFileSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { renderFragment } from "../protocol/boot-fragment";
import type { Frame } from "../protocol/frame";
import { DefaultMode, MessageType, PROTOCOL_VERSION } from "../protocol/messages";
import { type ProfileRecord, sameProfile } from "../protocol/profile";
import { controlRequest } from "../soc-bridge/control";
import { startDaemon } from "../soc-bridge/daemon";
import { readStore, records } from "../soc-bridge/profile-store";
import {
  everyKindOfNonProfile,
  profileJson,
  removeProfile,
  tempDirs,
  waitUntil,
  writeProfile,
  stopAtEnd,
} from "./helpers/bridge-env";
import { realMcuOnPty, startMcuOn } from "./helpers/mcu-endpoint";
import { openPtyPair } from "./helpers/pty";

async function storeMatches(store: string, list: ProfileRecord[]): Promise<boolean> {
  const want = records((await readStore(store)).profiles);
  return want.length === list.length && want.every((r, i) => sameProfile(r, list[i]));
}

const ids = (l: ProfileRecord[]) => l.map((r) => r.id);

test("full sync on start, deltas on change, fragments written and stale ones removed", async (t) => {
  const dirs = tempDirs();
  const end = await realMcuOnPty();
  const logs: string[] = [];
  writeProfile(dirs.store, "main", profileJson("main", { name: "Main", kernelOptions: "quiet" }));
  writeProfile(
    dirs.store,
    "work",
    profileJson("work", { name: "Work", overlays: ["spi-lcd"], origin: "main" }),
  );
  const d = await startDaemon({
    port: end.port,
    store: dirs.store,
    bootDir: dirs.boot,
    stateDir: dirs.state,
    socket: null,
    debounceMs: 50,
    log: (l) => logs.push(l),
  });
  // Distinct requests: a retry after a slow reply (a loaded machine) repeats the same request.
  const count = (type: number) => requests(end, type);
  stopAtEnd(t, d, end, dirs);
  await d.whenSynced();
  t.deepEqual(ids(end.profiles()), ["main", "work"]);
  t.true(await storeMatches(dirs.store, end.profiles()));
  t.is(count(MessageType.LIST_BEGIN), 1);
  t.is(
    readFileSync(path.join(dirs.boot, "flipper", "work.env"), "utf8"),
    renderFragment({ kernelOptions: "", overlays: ["spi-lcd"] }),
  );
  t.true(
    logs.some((l) => /synced 2 profiles \(generation \d+\)/.test(l)),
    logs.join("\n"),
  );

  // A change to one profile goes as a delta (PUT_PROFILE), not a new transfer.
  writeProfile(dirs.store, "work", profileJson("work", { name: "Work", hidden: true, origin: "main" }));
  await waitUntil(() => end.profiles()[1]?.flags === 1, "the hidden flag on the MCU");
  t.is(count(MessageType.LIST_BEGIN), 1);
  t.is(count(MessageType.PUT_PROFILE), 1);

  // A new profile (sorted last), then a deleted one.
  writeProfile(dirs.store, "zed", profileJson("zed", { name: "Zed" }));
  await waitUntil(() => end.profiles().length === 3, "zed on the MCU");
  removeProfile(dirs.store, "main");
  await waitUntil(() => end.profiles().length === 2, "main removed from the MCU");
  await d.whenSynced();
  t.true(await storeMatches(dirs.store, end.profiles()));
  t.is(count(MessageType.DELETE_PROFILE), 1);
  t.false(existsSync(path.join(dirs.boot, "flipper", "main.env")));
  t.true(existsSync(path.join(dirs.boot, "flipper", "zed.env")));
  // A rename that changes the menu order cannot be a delta: a full transfer.
  writeProfile(dirs.store, "zed", profileJson("zed", { name: "Aaa" }));
  await waitUntil(() => end.profiles()[0]?.id === "zed", "the reordered list");
  t.is(count(MessageType.LIST_BEGIN), 2);
  t.true(await storeMatches(dirs.store, end.profiles()));
});

test("bad profiles are skipped with one log line each; the others sync; fixing one brings it in", async (t) => {
  const dirs = tempDirs();
  const end = await realMcuOnPty();
  const logs: string[] = [];
  writeProfile(dirs.store, "good", profileJson("good"));
  writeProfile(dirs.store, "broken", "{ nope");
  writeProfile(dirs.store, "misnamed", profileJson("other"));
  writeProfile(dirs.store, "badbase", profileJson("badbase", { base: "one" }));
  const d = await startDaemon({
    port: end.port,
    store: dirs.store,
    socket: null,
    debounceMs: 50,
    log: (l) => logs.push(l),
  });
  stopAtEnd(t, d, end, dirs);
  await d.whenSynced();
  t.deepEqual(ids(end.profiles()), ["good"]);
  const skipLines = logs.filter((l) => l.includes("; skipped"));
  t.is(skipLines.length, 3, logs.join("\n"));
  t.true(skipLines.some((l) => /broken\/profile\.json: is not valid JSON/.test(l)));
  t.true(
    skipLines.some((l) =>
      /misnamed\/profile\.json: id "other" is invalid: must equal the profile's folder name/.test(l),
    ),
  );
  t.true(skipLines.some((l) => /badbase\/profile\.json: base "one" is invalid/.test(l)));
  // Another change elsewhere does not repeat the skip lines.
  writeProfile(dirs.store, "good", profileJson("good", { name: "Good 2" }));
  await waitUntil(() => end.profiles()[0]?.name === "Good 2", "the rename");
  t.is(logs.filter((l) => l.includes("; skipped")).length, 3);
  // Fixing a bad profile brings it in.
  writeProfile(dirs.store, "broken", profileJson("broken", { name: "Fixed" }));
  await waitUntil(() => end.profiles().some((r) => r.id === "broken"), "the fixed profile on the MCU");
  t.is(d.status().skipped.length, 2);
});

test("more profiles than the MCU holds: a clear error naming the limit, the MCU keeps its list", async (t) => {
  const dirs = tempDirs();
  const end = await realMcuOnPty();
  const logs: string[] = [];
  const id = (i: number) => "p" + String(i).padStart(2, "0");
  for (let i = 0; i < 32; i++) writeProfile(dirs.store, id(i), profileJson(id(i)));
  const d = await startDaemon({
    port: end.port,
    store: dirs.store,
    socket: null,
    debounceMs: 50,
    log: (l) => logs.push(l),
  });
  stopAtEnd(t, d, end, dirs);
  t.is((await d.whenSynced()).state, "in-sync");
  t.is(end.profiles().length, 32);
  const gen = end.state().generation;
  writeProfile(dirs.store, "p32", profileJson("p32"));
  await waitUntil(() => d.status().error !== "", "the limit error");
  // Idle with the MCU keeping its list: held, not in sync, and no retry timer.
  await waitUntil(() => d.status().state === "held", "the held state");
  t.false(d.status().inSync);
  t.regex(d.status().error, /too many profiles: 33 valid profiles on disk, the MCU holds at most 32/);
  t.true(logs.some((l) => l.includes("the MCU holds at most 32")));
  t.is(end.state().generation, gen);
  t.is(end.profiles().length, 32);
  const e = await t.throwsAsync(d.sync());
  t.regex(e!.message, /at most 32/);
  removeProfile(dirs.store, "p00");
  await waitUntil(() => end.profiles()[31]?.id === "p32", "the list after removing one");
  t.is(d.status().error, "");
  t.true(await storeMatches(dirs.store, end.profiles()));
});

test("MCU not responding: reported once, retried with backoff, and synced once it answers", async (t) => {
  const dirs = tempDirs();
  const end = await realMcuOnPty(undefined, false); // the MCU is not running yet
  const logs: string[] = [];
  writeProfile(dirs.store, "a", profileJson("a"));
  const d = await startDaemon({
    port: end.port,
    store: dirs.store,
    socket: dirs.socket,
    timeoutMs: 100,
    tries: 2,
    backoffMaxMs: 300,
    log: (l) => logs.push(l),
  });
  stopAtEnd(t, d, end, dirs);
  await waitUntil(() => d.status().link === "not-responding", "the not-responding state");
  t.true(logs.some((l) => /MCU not responding: no reply to HELLO .*; will keep trying/.test(l)));
  // Three more rounds of tries after the first report.
  const after = d.status().stats!.timeouts;
  await waitUntil(
    () => d.status().stats!.timeouts >= after + 6,
    () => "three more rounds of HELLO tries: " + JSON.stringify(d.status().stats),
  );
  t.is(logs.filter((l) => l.includes("MCU not responding")).length, 1, "reported once, not on every retry");
  // status through the socket answers from what is known, naming the state.
  const st = await controlRequest(dirs.socket, "status", {});
  t.true(st.ok);
  const res = st.result as { daemon: { link: string }; mcu: unknown; mcuError: string };
  t.is(res.daemon.link, "not-responding");
  t.is(res.mcu, null);
  t.regex(res.mcuError, /^MCU link is not-responding: MCU not responding: no reply to HELLO/);
  await end.mcu.start();
  await d.whenSynced();
  t.deepEqual(ids(end.profiles()), ["a"]);
  t.true(logs.some((l) => l.includes("MCU is responding again")));
});

test("MCU events: default changed in the menu, boot report, restart; the U-Boot fallback follows", async (t) => {
  const dirs = tempDirs();
  const end = await realMcuOnPty();
  const calls = path.join(dirs.root, "calls.txt");
  const fake = path.join(dirs.root, "fw_setenv.sh");
  writeFileSync(
    fake,
    '#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = -s ] && cat "$2" >> ' + calls + "; shift; done\n",
    { mode: 0o755 },
  );
  writeProfile(dirs.store, "main", profileJson("main", { name: "A main", base: "1.1" }));
  writeProfile(dirs.store, "work", profileJson("work", { name: "B work", base: "2.0" }));
  const opts = {
    port: end.port,
    store: dirs.store,
    stateDir: dirs.state,
    fwSetenv: fake,
    socket: null,
    debounceMs: 50,
    log: (l: string) => logs.push(l),
    verbose: !!process.env.FB_VERBOSE,
  };
  const logs: string[] = [];
  const d = await startDaemon(opts);
  stopAtEnd(t, d, end, dirs);
  await d.whenSynced();
  // No default, nothing good yet: the first profile.
  await waitUntil(() => existsSync(calls), "the first fw_setenv call");
  t.is(readFileSync(calls, "utf8"), "flipper_profile=main\nflipper_base=1.1\n");

  // The owner opens the menu (a key held at power-on), goes to "B work", long OK, "Make default".
  const defaults: Array<{ mode: number; id: string }> = [];
  d.on("default-changed", (m) => defaults.push(m));
  end.mcu.powerOn(["ok"]);
  end.mcu.keyUp("ok");
  await end.mcu.press("down");
  await end.mcu.press("ok", 600);
  await end.mcu.press("down");
  await end.mcu.press("ok");
  await waitUntil(
    () => defaults.length === 1,
    "the default-changed event: " + end.mcu.screenText().join("|"),
  );
  t.deepEqual(defaults[0], { mode: DefaultMode.FIXED, id: "work" });
  await waitUntil(() => readFileSync(calls, "utf8").includes("flipper_profile=work"), "the new fallback");
  t.true(readFileSync(calls, "utf8").endsWith("flipper_profile=work\nflipper_base=2.0\n"));

  // A boot: power off and on with no key: the MCU boots the default at once and reports it.
  const boots: Array<{ id: string; sequence: number }> = [];
  d.on("boot", (b) => boots.push(b));
  end.mcu.powerOff();
  end.mcu.powerOn([]);
  await waitUntil(() => boots.length === 1, "the boot event");
  t.is(boots[0].id, "work");
  const r = await d.markGood("work");
  t.true(r.marked);
  t.is(end.state().lastGoodId, "work");

  // A restart with the list intact: verified by reading it back, no new transfer.
  const synced: Array<{ kind: string }> = [];
  d.on("synced", (s) => synced.push(s));
  const begins = end.received.filter((f) => f.type === MessageType.LIST_BEGIN).length;
  await end.restart();
  await waitUntil(
    () => synced.length === 1,
    () => "the verification after HELLO: " + logs.join("\n"),
  );
  await d.whenSynced();
  t.true(
    synced.every((s) => s.kind === "verified"),
    JSON.stringify(synced),
  );
  t.is(end.received.filter((f) => f.type === MessageType.LIST_BEGIN).length, begins);

  // The fallback is not rewritten when unchanged (no needless env writes), even by a new daemon.
  const before = readFileSync(calls, "utf8");
  await d.stop();
  const d2 = await startDaemon(opts);
  await d2.whenSynced();
  await d2.stop();
  t.is(readFileSync(calls, "utf8"), before);
});

test("an MCU whose flash was erased gets the full list again after its HELLO", async (t) => {
  const dirs = tempDirs();
  const end = await realMcuOnPty();
  writeProfile(dirs.store, "a", profileJson("a"));
  writeProfile(dirs.store, "b", profileJson("b"));
  const synced: Array<{ kind: string }> = [];
  const d = await startDaemon({ port: end.port, store: dirs.store, socket: null, log: () => {} });
  d.on("synced", (s) => synced.push(s));
  stopAtEnd(t, d, end, dirs);
  await d.whenSynced();
  for (const k of end.flash.keys()) end.flash.write(k, null);
  await end.restart();
  await waitUntil(() => synced.length === 2, "the resync");
  t.is(synced[1].kind, "full");
  t.deepEqual(ids(end.profiles()), ["a", "b"]);
  t.true(await storeMatches(dirs.store, end.profiles()));
});

test("the serial port goes away and comes back: reported, reopened, synced again", async (t) => {
  const dirs = tempDirs();
  const ptyDir = path.join(dirs.root, "pty");
  mkdirSync(ptyDir);
  let pty = await openPtyPair(ptyDir);
  let ep = await startMcuOn(pty.b, pty.a);
  const logs: string[] = [];
  writeProfile(dirs.store, "a", profileJson("a"));
  const d = await startDaemon({
    port: pty.a,
    store: dirs.store,
    socket: null,
    debounceMs: 50,
    backoffMaxMs: 300,
    log: (l) => logs.push(l),
  });
  t.teardown(async () => {
    await d.stop();
    await ep.close();
    await pty.close();
    dirs.cleanup();
  });
  await d.whenSynced();
  await ep.close();
  await pty.close();
  await waitUntil(
    () => d.status().link === "error",
    () => "the lost port: " + logs.join("\n"),
  );
  t.true(
    logs.some((l) => /lost the serial port|cannot open serial port/.test(l)),
    logs.join("\n"),
  );
  // A profile added while the port is gone reaches the MCU once the port is back.
  writeProfile(dirs.store, "b", profileJson("b"));
  pty = await openPtyPair(ptyDir);
  ep = await startMcuOn(pty.b, pty.a, ep.flash);
  await waitUntil(
    () => ep.profiles().length === 2,
    () => "the resync on the new port: " + logs.join("\n"),
  );
  t.deepEqual(ids(ep.profiles()), ["a", "b"]);
  t.true(logs.some((l) => l.includes("MCU is responding again")));
});

test("a store that is not mounted never empties the MCU's menu", async (t) => {
  const dirs = tempDirs();
  const end = await realMcuOnPty();
  writeProfile(dirs.store, "a", profileJson("a"));
  const first = await startDaemon({ port: end.port, store: dirs.store, socket: null, log: () => {} });
  await first.whenSynced();
  await first.stop();
  const logs: string[] = [];
  const missing = path.join(dirs.root, "unmounted");
  mkdirSync(missing);
  const d = await startDaemon({
    port: end.port,
    store: missing,
    socket: null,
    debounceMs: 50,
    backoffMaxMs: 200,
    log: (l) => logs.push(l),
  });
  stopAtEnd(t, d, end, dirs);
  await waitUntil(() => d.status().error !== "", "the store error");
  t.regex(
    d.status().error,
    /profile store \S+unmounted\/@profiles does not exist .*; the MCU keeps its list/,
  );
  // A few more attempts (each a full sync asked for): still the one line.
  for (let i = 0; i < 3; i++) {
    const e = await t.throwsAsync(d.sync());
    t.regex(e!.message, /does not exist/);
  }
  t.is(logs.filter((l) => l.includes("does not exist")).length, 1, logs.join("\n"));
  t.deepEqual(ids(end.profiles()), ["a"]);
  // The store appears (mounted): its profiles are synced.
  writeProfile(missing, "b", profileJson("b"));
  await waitUntil(() => ids(end.profiles()).join() === "b", "the mounted store's list");
  t.is(d.status().error, "");
});

test("the start line says how many profiles the MCU holds and how many it can hold", async (t) => {
  const dirs = tempDirs();
  const end = await realMcuOnPty();
  for (const id of ["a", "b", "c", "d"]) writeProfile(dirs.store, id, profileJson(id));
  const logs: string[] = [];
  const opts = { port: end.port, store: dirs.store, socket: null, log: (l: string) => logs.push(l) };
  t.teardown(async () => {
    await end.close();
    dirs.cleanup();
  });
  const first = await startDaemon(opts);
  await first.whenSynced();
  await first.stop();
  t.true(
    logs.includes(
      `flipper-boot: MCU speaks protocol ${PROTOCOL_VERSION}, holds 0 of 32 profiles, generation 0`,
    ),
    logs.join("\n"),
  );
  logs.length = 0;
  const gen = end.state().generation;
  const second = await startDaemon(opts);
  await second.whenSynced();
  await second.stop();
  t.true(
    logs.includes(
      `flipper-boot: MCU speaks protocol ${PROTOCOL_VERSION}, holds 4 of 32 profiles, generation ${gen}`,
    ),
    logs.join("\n"),
  );
});

/** Distinct requests of `type` the MCU received (a retry repeats seq and payload: counted once). */
function requests(end: { received: Frame[] }, type: number): number {
  return new Set(
    end.received
      .filter((f) => f.type === type)
      .map((f) => f.seq + ":" + Buffer.from(f.payload).toString("hex")),
  ).size;
}

test("every kind of entry that is not a profile: one skip line each, listed in status, the MCU untouched", async (t) => {
  const dirs = tempDirs();
  const end = await realMcuOnPty();
  const names = everyKindOfNonProfile(dirs.store, path.join(dirs.root, "outside"));
  writeProfile(dirs.store, "work", profileJson("work", { kernelOptions: "quiet" }));
  const logs: string[] = [];
  const d = await startDaemon({
    port: end.port,
    store: dirs.store,
    bootDir: dirs.boot,
    socket: null,
    log: (l) => logs.push(l),
  });
  stopAtEnd(t, d, end, dirs);
  await d.whenSynced();
  t.deepEqual(ids(end.profiles()), ["good", "work"]);
  const skipLines = () => logs.filter((l) => l.endsWith("; skipped"));
  t.is(skipLines().length, names.length, skipLines().join("\n"));
  const st = d.status();
  t.is(st.skipped.length, names.length);
  t.deepEqual(st.pending, []);
  for (const name of names) {
    const shown = name.includes("\n") ? JSON.stringify(name) : name;
    const prefix = path.join(dirs.store, "@profiles", shown);
    const mine = (l: string) => l.includes(prefix + ":") || l.includes(prefix + "/profile.json:");
    t.is(st.skipped.filter(mine).length, 1, name);
    t.is(skipLines().filter(mine).length, 1, name);
  }
  t.true(st.skipped.some((s) => /link-to-good: is a symbolic link to a folder/.test(s)));
  // A link added later: its own line, the MCU's list is not touched.
  const begins = requests(end, MessageType.LIST_BEGIN);
  const puts = requests(end, MessageType.PUT_PROFILE);
  symlinkSync("work", path.join(dirs.store, "@profiles", "late-link"));
  await waitUntil(
    () => logs.some((l) => /late-link: is a symbolic link to a folder.*; skipped$/.test(l)),
    () => "the late link's skip line: " + logs.join("\n"),
  );
  await d.whenSynced();
  t.is(d.status().skipped.length, names.length + 1);
  t.is(requests(end, MessageType.LIST_BEGIN), begins);
  t.is(requests(end, MessageType.PUT_PROFILE), puts);
  t.is(requests(end, MessageType.DELETE_PROFILE), 0);
  // A profile turned hostile (a NUL and a command in its kernel options): skipped, dropped from the
  // MCU, its fragment removed; no fragment on disk ever holds a byte U-Boot would misread.
  writeProfile(dirs.store, "work", profileJson("work", { kernelOptions: "quiet\u0000; reset" }));
  await waitUntil(() => ids(end.profiles()).join() === "good", "work dropped from the MCU");
  await d.whenSynced();
  t.true(logs.some((l) => /work\/profile\.json: kernelOptions "quiet\\x00; reset" is invalid/.test(l)));
  t.false(existsSync(path.join(dirs.boot, "flipper", "work.env")));
  t.deepEqual(readdirSync(path.join(dirs.boot, "flipper")), ["good.env"]);
  t.is(
    readFileSync(path.join(dirs.boot, "flipper", "good.env"), "latin1"),
    "flipper_kopts=\nflipper_overlays=\n",
  );
});

test("a profile.json written in place, slowly, is never synced half-written: no skip, no delete", async (t) => {
  const dirs = tempDirs();
  const end = await realMcuOnPty();
  writeProfile(dirs.store, "main", profileJson("main", { name: "Main" }));
  writeProfile(dirs.store, "work", profileJson("work", { name: "Work" }));
  const logs: string[] = [];
  // However slow the machine, a file caught mid-write stays held for the whole test.
  const d = await startDaemon({
    port: end.port,
    store: dirs.store,
    bootDir: dirs.boot,
    socket: null,
    settleMs: 120000,
    log: (l) => logs.push(l),
  });
  /** Resolves at the next store read that found `file` mid-write. */
  const caughtMidWrite = (file: string) =>
    new Promise<void>((resolve) => {
      const on = (files: string[]) => {
        if (files.includes(file)) {
          d.off("pending", on);
          resolve();
        }
      };
      d.on("pending", on);
    });
  stopAtEnd(t, d, end, dirs);
  await d.whenSynced();
  const begins = requests(end, MessageType.LIST_BEGIN);
  const fragment = readFileSync(path.join(dirs.boot, "flipper", "main.env"), "utf8");
  // An existing profile rewritten in place: truncated, then written in two parts, then closed.
  const file = path.join(dirs.store, "@profiles", "main", "profile.json");
  const text = JSON.stringify(profileJson("main", { name: "Main 2", kernelOptions: "quiet" }), null, 2);
  let seen = caughtMidWrite(file);
  const fd = openSync(file, "w");
  await seen; // the daemon read it empty
  t.deepEqual(d.status().pending, [file]);
  t.false(d.status().inSync);
  seen = caughtMidWrite(file);
  writeSync(fd, text.slice(0, 25));
  await seen; // and cut short
  await new Promise((resolve) => d.once("idle", resolve)); // that store read has been acted on
  t.is(end.profiles()[0]?.name, "Main", "the MCU keeps the profile as it was");
  t.is(readFileSync(path.join(dirs.boot, "flipper", "main.env"), "utf8"), fragment);
  writeSync(fd, text.slice(25));
  closeSync(fd);
  await waitUntil(() => end.profiles()[0]?.name === "Main 2", "the whole file on the MCU");
  await d.whenSynced();
  t.deepEqual(d.status().pending, []);
  t.is(
    readFileSync(path.join(dirs.boot, "flipper", "main.env"), "utf8"),
    "flipper_kopts=quiet\nflipper_overlays=\n",
  );

  // A new profile made in place: the folder, an empty file, half of it, the rest.
  const fresh = path.join(dirs.store, "@profiles", "fresh");
  const freshFile = path.join(fresh, "profile.json");
  seen = caughtMidWrite(freshFile);
  mkdirSync(fresh);
  await seen; // a folder without profile.json (yet)
  const freshText = JSON.stringify(profileJson("fresh", { name: "Zz fresh" })); // sorts last: a delta
  seen = caughtMidWrite(freshFile);
  const fd2 = openSync(freshFile, "w");
  writeSync(fd2, freshText.slice(0, 10));
  await seen;
  writeSync(fd2, freshText.slice(10));
  closeSync(fd2);
  await waitUntil(() => end.profiles().some((p) => p.id === "fresh"), "the new profile on the MCU");
  await d.whenSynced();

  t.deepEqual(ids(end.profiles()), ["main", "work", "fresh"]);
  t.is(requests(end, MessageType.DELETE_PROFILE), 0, "never deleted on the way");
  t.is(requests(end, MessageType.LIST_BEGIN), begins, "never a new transfer either");
  t.deepEqual(
    logs.filter((l) => l.endsWith("; skipped")),
    [],
  );
});

test("a profile.json that stays broken is skipped once it has settled", async (t) => {
  const dirs = tempDirs();
  const end = await realMcuOnPty();
  writeProfile(dirs.store, "main", profileJson("main"));
  writeProfile(dirs.store, "work", profileJson("work"));
  const logs: string[] = [];
  const d = await startDaemon({
    port: end.port,
    store: dirs.store,
    socket: null,
    settleMs: 300,
    log: (l) => logs.push(l),
  });
  stopAtEnd(t, d, end, dirs);
  await d.whenSynced();
  writeFileSync(path.join(dirs.store, "@profiles", "work", "profile.json"), '{ "id": "work", ');
  await waitUntil(() => ids(end.profiles()).join() === "main", "work dropped once the file settled");
  await d.whenSynced();
  t.is(logs.filter((l) => /work\/profile\.json: is not valid JSON .*; skipped$/.test(l)).length, 1);
  t.deepEqual(d.status().pending, []);
  t.is(d.status().skipped.length, 1);
});

test("a profile folder replaced under the same name (rename exchange) is watched again", async (t) => {
  const dirs = tempDirs();
  const end = await realMcuOnPty();
  writeProfile(dirs.store, "main", profileJson("main", { name: "Main" }));
  const d = await startDaemon({ port: end.port, store: dirs.store, socket: null, log: () => {} });
  stopAtEnd(t, d, end, dirs);
  await d.whenSynced();
  // Built elsewhere, moved into place (as the lifecycle commands do).
  const staging = path.join(dirs.root, "staging");
  writeProfile(staging, "main", profileJson("main", { name: "Main 2" }));
  renameSync(path.join(dirs.store, "@profiles", "main"), path.join(dirs.root, "old-main"));
  renameSync(path.join(staging, "@profiles", "main"), path.join(dirs.store, "@profiles", "main"));
  await waitUntil(() => end.profiles()[0]?.name === "Main 2", "the replaced folder's profile");
  await d.whenSynced();
  // An in-place write in the new folder raises only a change event there: seen only if the new
  // folder is the one watched (the old watcher follows the folder that moved away).
  writeFileSync(
    path.join(dirs.store, "@profiles", "main", "profile.json"),
    JSON.stringify(profileJson("main", { name: "Main 3" })),
  );
  await waitUntil(() => end.profiles()[0]?.name === "Main 3", "the in-place write in the new folder");
  await d.whenSynced(); // that sync has been reported
  // The folder that moved away is no profile any more: writing there changes nothing.
  const synced: unknown[] = [];
  d.on("synced", (s) => synced.push(s));
  writeFileSync(
    path.join(dirs.root, "old-main", "profile.json"),
    JSON.stringify(profileJson("main", { name: "Old" })),
  );
  await d.whenSynced();
  t.is(end.profiles()[0]?.name, "Main 3");
  t.deepEqual(synced, []);
});

test("a store mounted after the daemon started is found, and watched on the mounted filesystem", async (t) => {
  const dirs = tempDirs();
  const end = await realMcuOnPty();
  const mnt = path.join(dirs.root, "mnt");
  mkdirSync(mnt);
  const logs: string[] = [];
  const d = await startDaemon({
    port: end.port,
    store: mnt,
    socket: null,
    backoffMaxMs: 300,
    log: (l) => logs.push(l),
  });
  let mounted = false;
  // Never leave the mount behind, even if the test is cut short.
  t.teardown(() => {
    if (mounted) execFileSync("umount", ["--lazy", mnt]);
  });
  t.teardown(async () => {
    await d.stop();
    if (mounted) {
      execFileSync("umount", [mnt]);
      mounted = false;
    }
    await end.close();
    dirs.cleanup();
  });
  await waitUntil(() => d.status().error !== "", "the store error");
  t.regex(d.status().error, /mnt\/@profiles does not exist/);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "flipper-test", mnt]);
    mounted = true;
  } catch (e) {
    t.fail("this test mounts a tmpfs (needs root and mount(8)): " + (e as Error).message);
    return;
  }
  // Mounting raises no inotify event on the mount point: the retry finds it.
  writeProfile(mnt, "a", profileJson("a"));
  await waitUntil(
    () => ids(end.profiles()).join() === "a",
    () => "the mounted store: " + logs.join("\n"),
  );
  await d.whenSynced();
  // Changes inside the mounted filesystem are seen through its own watchers.
  writeProfile(mnt, "b", profileJson("b"));
  await waitUntil(() => ids(end.profiles()).join() === "a,b", "a profile added on the mounted store");
  writeFileSync(
    path.join(mnt, "@profiles", "a", "profile.json"),
    JSON.stringify(profileJson("a", { hidden: true })),
  );
  await waitUntil(() => end.profiles()[0]?.flags === 1, "an in-place write on the mounted store");
  await d.whenSynced();
  t.is(d.status().error, "");
});

test("a daemon starting while a profile.json is half-written keeps that profile on the MCU and the boot partition", async (t) => {
  const dirs = tempDirs();
  const end = await realMcuOnPty();
  writeProfile(dirs.store, "main", profileJson("main", { name: "Main" }));
  writeProfile(dirs.store, "work", profileJson("work", { name: "Work", kernelOptions: "quiet" }));
  const logs: string[] = [];
  const opts = {
    port: end.port,
    store: dirs.store,
    bootDir: dirs.boot,
    socket: null,
    settleMs: 120000,
    log: (l: string) => logs.push(l),
  };
  const first = await startDaemon(opts);
  await first.whenSynced();
  await first.stop();
  const fragment = path.join(dirs.boot, "flipper", "work.env");
  t.true(existsSync(fragment));
  const file = path.join(dirs.store, "@profiles", "work", "profile.json");
  const text = JSON.stringify(profileJson("work", { name: "Work 2", kernelOptions: "quiet" }));
  const fd = openSync(file, "w"); // the writer is in the middle of it when the daemon starts
  writeSync(fd, text.slice(0, 16));
  const d = await startDaemon(opts);
  stopAtEnd(t, d, end, dirs);
  await new Promise<void>((resolve) => {
    const on = (files: string[]) => {
      if (files.includes(file)) {
        d.off("pending", on);
        resolve();
      }
    };
    d.on("pending", on);
    if (d.status().pending.includes(file)) on([file]);
  });
  await new Promise((resolve) => d.once("idle", resolve)); // that store read has been acted on
  t.deepEqual(ids(end.profiles()), ["main", "work"]);
  t.true(existsSync(fragment), "the fragment of the profile being written is kept");
  writeSync(fd, text.slice(16));
  closeSync(fd);
  await waitUntil(() => end.profiles()[1]?.name === "Work 2", "the finished file on the MCU");
  await d.whenSynced();
  t.is(requests(end, MessageType.DELETE_PROFILE), 0);
  t.deepEqual(
    logs.filter((l) => l.endsWith("; skipped")),
    [],
  );
  t.is(readFileSync(fragment, "utf8"), "flipper_kopts=quiet\nflipper_overlays=\n");
});
