// The daemon against an MCU endpoint over a real socat pty pair (real serialport bindings).
import test from "ava";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { renderFragment } from "../protocol/boot-fragment";
import { sameProfile } from "../protocol/profile";
import { startDaemon } from "../soc-bridge/daemon";
import { readStore, records } from "../soc-bridge/profile-store";
import {
  doubleOnPty,
  profileJson,
  removeProfile,
  tempDirs,
  waitUntil,
  writeProfile,
} from "./helpers/bridge-env";

async function storeMatches(store: string, list: { id: string }[]): Promise<boolean> {
  const want = records((await readStore(store)).profiles);
  return want.length === list.length && want.every((r, i) => sameProfile(r, list[i] as never));
}

test("full sync on start, deltas on change, fragments written and stale ones removed", async (t) => {
  const dirs = tempDirs();
  const end = await doubleOnPty();
  const logs: string[] = [];
  writeProfile(dirs.store, "main", profileJson("main", { name: "Main", kernelOptions: "quiet" }));
  writeProfile(
    dirs.store,
    "work",
    profileJson("work", { name: "Work", overlays: ["spi-lcd"], origin: "main" }),
  );
  writeFileSync(path.join(dirs.boot, "stale"), "");
  const d = await startDaemon({
    port: end.port,
    store: dirs.store,
    bootDir: dirs.boot,
    stateDir: dirs.state,
    socket: null,
    debounceMs: 50,
    log: (l) => logs.push(l),
  });
  try {
    await d.whenSynced();
    t.deepEqual(
      end.mcu.list.map((r) => r.id),
      ["main", "work"],
    );
    t.true(await storeMatches(dirs.store, end.mcu.list));
    t.is(end.mcu.commits, 1);
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
    await waitUntil(() => end.mcu.list[1]?.flags === 1, "the hidden flag on the MCU");
    t.is(end.mcu.commits, 1);

    // A new profile, then a deleted one.
    writeProfile(dirs.store, "zed", profileJson("zed", { name: "Zed" }));
    await waitUntil(() => end.mcu.list.length === 3, "zed on the MCU");
    removeProfile(dirs.store, "main");
    await waitUntil(() => end.mcu.list.length === 2, "main removed from the MCU");
    await d.whenSynced();
    t.true(await storeMatches(dirs.store, end.mcu.list));
    t.false(existsSync(path.join(dirs.boot, "flipper", "main.env")));
    t.true(existsSync(path.join(dirs.boot, "flipper", "zed.env")));
  } finally {
    await d.stop();
    await end.close();
    dirs.cleanup();
  }
});

test("bad profiles are skipped with one log line each; the others sync; fixing one brings it in", async (t) => {
  const dirs = tempDirs();
  const end = await doubleOnPty();
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
  try {
    await d.whenSynced();
    t.deepEqual(
      end.mcu.list.map((r) => r.id),
      ["good"],
    );
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
    await waitUntil(() => end.mcu.list[0]?.name === "Good 2", "the rename");
    t.is(logs.filter((l) => l.includes("; skipped")).length, 3);
    // Fixing a bad profile brings it in.
    writeProfile(dirs.store, "broken", profileJson("broken", { name: "Fixed" }));
    await waitUntil(() => end.mcu.list.some((r) => r.id === "broken"), "the fixed profile on the MCU");
    t.deepEqual(d.status().skipped.length, 2);
  } finally {
    await d.stop();
    await end.close();
    dirs.cleanup();
  }
});

test("more profiles than the MCU holds: a clear error naming the limit, the MCU keeps its list", async (t) => {
  const dirs = tempDirs();
  const end = await doubleOnPty({ maxProfiles: 3 });
  const logs: string[] = [];
  for (const id of ["a", "b", "c"]) writeProfile(dirs.store, id, profileJson(id));
  const d = await startDaemon({
    port: end.port,
    store: dirs.store,
    socket: null,
    debounceMs: 50,
    log: (l) => logs.push(l),
  });
  try {
    await d.whenSynced();
    const gen = end.mcu.generation;
    writeProfile(dirs.store, "d", profileJson("d"));
    await waitUntil(() => d.status().error !== "", "the limit error");
    t.regex(d.status().error, /too many profiles: 4 valid profiles on disk, the MCU holds at most 3/);
    t.true(logs.some((l) => l.includes("the MCU holds at most 3")));
    t.is(end.mcu.generation, gen);
    t.deepEqual(
      end.mcu.list.map((r) => r.id),
      ["a", "b", "c"],
    );
    const e = await t.throwsAsync(d.sync());
    t.regex(e!.message, /at most 3/);
    removeProfile(dirs.store, "a");
    await waitUntil(() => end.mcu.list.map((r) => r.id).join() === "b,c,d", "the list after removing one");
    t.is(d.status().error, "");
  } finally {
    await d.stop();
    await end.close();
    dirs.cleanup();
  }
});

test("MCU not responding: reported, retried with backoff, and synced once it answers", async (t) => {
  const dirs = tempDirs();
  const end = await doubleOnPty({ answering: false });
  const logs: string[] = [];
  writeProfile(dirs.store, "a", profileJson("a"));
  const d = await startDaemon({
    port: end.port,
    store: dirs.store,
    socket: null,
    timeoutMs: 30,
    tries: 2,
    backoffMaxMs: 300,
    log: (l) => logs.push(l),
  });
  try {
    await waitUntil(() => d.status().link === "not-responding", "the not-responding state");
    t.true(logs.some((l) => /MCU not responding: no reply to HELLO .*; will keep trying/.test(l)));
    const before = logs.filter((l) => l.includes("MCU not responding")).length;
    t.is(before, 1, "reported once, not on every retry");
    end.mcu.answering = true;
    await d.whenSynced();
    t.deepEqual(
      end.mcu.list.map((r) => r.id),
      ["a"],
    );
    t.true(logs.some((l) => l.includes("MCU is responding again")));
  } finally {
    await d.stop();
    await end.close();
    dirs.cleanup();
  }
});

test("MCU events: a restart (HELLO) triggers a full sync; boot and default-changed are exposed; fallback via fw_setenv", async (t) => {
  const dirs = tempDirs();
  const end = await doubleOnPty();
  const calls = path.join(dirs.root, "calls.txt");
  const fake = path.join(dirs.root, "fw_setenv.sh");
  writeFileSync(
    fake,
    '#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = -s ] && cat "$2" >> ' + calls + "; shift; done\n",
    {
      mode: 0o755,
    },
  );
  writeProfile(dirs.store, "main", profileJson("main", { name: "A main", base: "1.1" }));
  writeProfile(dirs.store, "work", profileJson("work", { name: "B work", base: "2.0" }));
  const d = await startDaemon({
    port: end.port,
    store: dirs.store,
    stateDir: dirs.state,
    fwSetenv: fake,
    socket: null,
    debounceMs: 50,
    log: () => {},
  });
  try {
    await d.whenSynced();
    // No default, nothing good yet: the first profile.
    await waitUntil(() => existsSync(calls), "the first fw_setenv call");
    t.is(readFileSync(calls, "utf8"), "flipper_profile=main\nflipper_base=1.1\n");

    const defaults: unknown[] = [];
    d.on("default-changed", (m) => defaults.push(m));
    end.mcu.ownerSetsDefault("work");
    await waitUntil(() => defaults.length === 1, "the default-changed event");
    t.deepEqual(defaults[0], { mode: 0, id: "work" });
    await waitUntil(() => readFileSync(calls, "utf8").includes("flipper_profile=work"), "the new fallback");
    t.true(readFileSync(calls, "utf8").endsWith("flipper_profile=work\nflipper_base=2.0\n"));

    const boots: Array<{ id: string }> = [];
    d.on("boot", (b) => boots.push(b));
    end.mcu.boot("main");
    await waitUntil(() => boots.length === 1, "the boot event");
    t.is(boots[0].id, "main");

    // The MCU restarts and comes back with an empty list (flash lost): the daemon resyncs.
    const synced: Array<{ kind: string }> = [];
    d.on("synced", (s) => synced.push(s));
    end.mcu.list = [];
    end.mcu.generation = 0;
    end.mcu.restart();
    await waitUntil(() => end.mcu.list.length === 2, "the resync after HELLO");
    t.is(synced[0]?.kind, "full");
    // A restart with the list intact: verified by reading back, no new commit.
    const commits = end.mcu.commits;
    end.mcu.restart();
    await waitUntil(() => synced.length === 2, "the verification after HELLO");
    t.is(synced[1].kind, "verified");
    t.is(end.mcu.commits, commits);
    // The fallback is not rewritten when unchanged (no needless flash writes), even after a restart of the daemon.
    const lines = readFileSync(calls, "utf8").split("\n").length;
    await d.stop();
    const d2 = await startDaemon({
      port: end.port,
      store: dirs.store,
      stateDir: dirs.state,
      fwSetenv: fake,
      socket: null,
      log: () => {},
    });
    await d2.whenSynced();
    await d2.stop();
    t.is(readFileSync(calls, "utf8").split("\n").length, lines);
  } finally {
    await d.stop();
    await end.close();
    dirs.cleanup();
  }
});
