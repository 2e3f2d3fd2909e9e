// Fault injection on the link between the daemon and the real MCU core, over real ptys:
// bytes dropped, corrupted and duplicated at a rate (seeded), whole frames duplicated, the MCU
// restarting in the middle of a sync, the daemon killed in the middle of a sync. Every time the MCU
// must end with exactly the list on disk (every field, in order), nothing lost or duplicated.
import test from "ava";
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { MessageType } from "../protocol/messages";
import { type ProfileRecord, sameProfile } from "../protocol/profile";
import { startDaemon } from "../soc-bridge/daemon";
import { readStore, records } from "../soc-bridge/profile-store";
import {
  profileJson,
  removeProfile,
  stopAtEnd,
  tempDirs,
  waitUntil,
  writeProfile,
} from "./helpers/bridge-env";
import { type FaultProxy, NO_FAULTS, startFaultProxy } from "./helpers/fault-proxy";
import { prng } from "./helpers/fuzz";
import { type McuEndpoint, startMcuOn } from "./helpers/mcu-endpoint";
import { openPtyPair, type PtyPair } from "./helpers/pty";

const ROOT = path.resolve(import.meta.dirname, "..");

interface Rig {
  mcu: McuEndpoint;
  proxy: FaultProxy;
  /** The daemon's port. */
  port: string;
  close(): Promise<void>;
}

/** daemon <-> pty1 <-> fault proxy <-> pty2 <-> real MCU core */
async function rig(seed: number): Promise<Rig> {
  const p1: PtyPair = await openPtyPair();
  const p2: PtyPair = await openPtyPair();
  const proxy = await startFaultProxy(p1.b, p2.a, seed);
  const mcu = await startMcuOn(p2.b, p1.a);
  return {
    mcu,
    proxy,
    port: p1.a,
    close: async () => {
      await mcu.close();
      await proxy.close();
      await p1.close();
      await p2.close();
    },
  };
}

async function diskList(store: string): Promise<ProfileRecord[]> {
  return records((await readStore(store)).profiles);
}

function exactly(a: ProfileRecord[], b: ProfileRecord[]): boolean {
  return a.length === b.length && a.every((r, i) => sameProfile(r, b[i]));
}

function noDuplicates(list: ProfileRecord[]): boolean {
  return new Set(list.map((r) => r.id)).size === list.length;
}

function many(store: string, n: number, prefix: string): void {
  for (let i = 0; i < n; i++) {
    const id = prefix + String(i).padStart(2, "0");
    writeProfile(
      store,
      id,
      profileJson(id, {
        name: "Profile " + id + " ✓",
        base: "1." + (i % 10),
        lastUsed: 1700000000 + i,
        hidden: i % 5 === 0,
        origin: i > 0 ? prefix + "00" : null,
      }),
    );
  }
}

test("drops, corruption and duplicates on both directions: the MCU ends with exactly the disk list", async (t) => {
  const dirs = tempDirs();
  // Replay or stress with FB_FAULT_SEED=N FB_FAULT_RATE=0.01 npx ava test/bridge-faults.test.ts
  const seed = Number(process.env.FB_FAULT_SEED ?? 0xfeed);
  const rate = Number(process.env.FB_FAULT_RATE ?? 0.003);
  const r = await rig(seed);
  const rates = { drop: rate, corrupt: rate, duplicate: rate, duplicateFrame: 0.05 };
  r.proxy.toMcu = { ...rates };
  r.proxy.toBridge = { ...rates };
  many(dirs.store, 12, "p");
  const logs: string[] = [];
  const d = await startDaemon({
    port: r.port,
    store: dirs.store,
    socket: null,
    debounceMs: 50,
    timeoutMs: 60,
    tries: 5,
    backoffMaxMs: 500,
    log: (l) => logs.push(l),
  });
  stopAtEnd(t, d, r, dirs);
  await d.whenSynced(120000);
  t.true(exactly(r.mcu.profiles(), await diskList(dirs.store)));
  // Changes while the line stays noisy: rename, delete, add, hide.
  writeProfile(dirs.store, "p03", profileJson("p03", { name: "Renamed" }));
  removeProfile(dirs.store, "p07");
  writeProfile(dirs.store, "new1", profileJson("new1", { name: "Zz new" }));
  writeProfile(dirs.store, "p01", profileJson("p01", { name: "Profile p01 ✓", hidden: true }));
  await waitUntil(() => r.mcu.profiles().some((p) => p.id === "new1"), "the changes on the MCU", 120000);
  await d.whenSynced(120000);
  const want = await diskList(dirs.store);
  const got = r.mcu.profiles();
  t.true(
    exactly(got, want),
    JSON.stringify({ seed, got: got.map((p) => p.id), want: want.map((p) => p.id) }),
  );
  t.true(noDuplicates(got));
  t.true(r.proxy.stats.faults > 10, "faults were injected: " + r.proxy.stats.faults);
  t.true(d.status().stats!.badFrames > 0 || d.status().stats!.retries > 0);
});

test("the MCU restarting in the middle of a full sync keeps its old list, then gets the new one", async (t) => {
  const dirs = tempDirs();
  const r = await rig(7);
  many(dirs.store, 3, "old");
  const opts = { port: r.port, store: dirs.store, socket: null, log: () => {} };
  const first = await startDaemon(opts);
  await first.whenSynced();
  await first.stop();
  const oldList = r.mcu.profiles().slice();
  t.is(oldList.length, 3);
  // The store changes while no daemon runs, so the next one starts with one full transfer (however
  // the files' events would have been grouped).
  for (let i = 0; i < 3; i++) removeProfile(dirs.store, "old" + String(i).padStart(2, "0"));
  many(dirs.store, 32, "n");
  let restarted = false;
  let seenAfterRestart: ProfileRecord[] = [];
  r.proxy.onBridgeFrame = (f) => {
    if (restarted || f.type !== MessageType.LIST_ITEM) return;
    // Before the first item reaches it (the proxy relays after this call), so the transfer is
    // always cut before its commit, whether items carry one record or several.
    restarted = true;
    void r.mcu.restart().then(() => {
      seenAfterRestart = r.mcu.profiles().slice();
    });
  };
  const d = await startDaemon(opts);
  stopAtEnd(t, d, r, dirs);
  await waitUntil(() => restarted, "the restart mid-transfer", 60000);
  await waitUntil(() => r.mcu.profiles().length === 32, "the new list after the restart", 60000);
  await d.whenSynced();
  t.true(exactly(seenAfterRestart, oldList), "right after the restart the MCU still had the old list");
  const want = await diskList(dirs.store);
  t.true(exactly(r.mcu.profiles(), want));
  t.true(noDuplicates(r.mcu.profiles()));
});

test("the daemon killed in the middle of a sync: the MCU keeps the old list; the next daemon finishes", async (t) => {
  const dirs = tempDirs();
  const r = await rig(99);
  many(dirs.store, 4, "old");
  const first = await startDaemon({ port: r.port, store: dirs.store, socket: null, log: () => {} });
  await first.whenSynced();
  await first.stop();
  const oldList = r.mcu.profiles().slice();
  t.is(oldList.length, 4);
  for (let i = 0; i < 4; i++) removeProfile(dirs.store, "old" + String(i).padStart(2, "0"));
  many(dirs.store, 32, "k");
  let child: ChildProcess | null = null;
  t.teardown(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await r.close();
    dirs.cleanup();
  });
  child = spawn(
    process.execPath,
    [
      "--import=tsx",
      "soc-bridge/cli.ts",
      "daemon",
      "--port",
      r.port,
      "--store",
      dirs.store,
      "--socket",
      dirs.socket,
    ],
    { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  child.stderr!.on("data", (x) => {
    log += x;
  });
  const exited = new Promise<void>((res) => child!.once("exit", () => res()));
  let killed = false;
  r.proxy.onBridgeFrame = (f) => {
    if (killed || f.type !== MessageType.LIST_ITEM) return;
    killed = true;
    child!.kill("SIGKILL");
    // This item never reaches the MCU, so no reply can let the dying daemon commit.
    r.proxy.toMcu = { ...NO_FAULTS, drop: 1 };
  };
  await waitUntil(() => killed, "the kill mid-transfer: " + log, 60000);
  await exited;
  r.proxy.toMcu = { ...NO_FAULTS };
  t.true(exactly(r.mcu.profiles(), oldList), "the half transfer is not visible");
  const second = await startDaemon({ port: r.port, store: dirs.store, socket: dirs.socket, log: () => {} });
  try {
    await second.whenSynced();
    const want = await diskList(dirs.store);
    t.is(want.length, 32);
    t.true(exactly(r.mcu.profiles(), want));
    t.true(noDuplicates(r.mcu.profiles()));
  } finally {
    await second.stop();
  }
});

test("rounds of changes on a noisy line with MCU restarts in between: always exactly the disk list", async (t) => {
  const dirs = tempDirs();
  const seed = Number(process.env.FB_FAULT_SEED ?? 31337);
  const r = await rig(seed);
  const rates = { drop: 0.002, corrupt: 0.002, duplicate: 0.002, duplicateFrame: 0.03 };
  r.proxy.toMcu = { ...rates };
  r.proxy.toBridge = { ...rates };
  const rand = prng(seed);
  many(dirs.store, 10, "s");
  const d = await startDaemon({
    port: r.port,
    store: dirs.store,
    socket: null,
    debounceMs: 30,
    timeoutMs: 60,
    tries: 5,
    backoffMaxMs: 400,
    log: () => {},
  });
  stopAtEnd(t, d, r, dirs);
  await d.whenSynced(120000);
  for (let round = 0; round < 4; round++) {
    const present = (await diskList(dirs.store)).map((p) => p.id);
    // A few random changes: delete, add, rename, flag.
    for (let k = 0; k < 3; k++) {
      const x = rand();
      const victim = present[Math.floor(rand() * present.length)];
      if (x < 0.25 && victim && present.length > 2) {
        removeProfile(dirs.store, victim);
        present.splice(present.indexOf(victim), 1);
      } else if (x < 0.5) {
        const id = "r" + round + "k" + k;
        writeProfile(dirs.store, id, profileJson(id, { name: "New " + id }));
        present.push(id);
      } else if (x < 0.75 && victim) {
        writeProfile(dirs.store, victim, profileJson(victim, { name: "Renamed " + round + k }));
      } else if (victim) {
        writeProfile(
          dirs.store,
          victim,
          profileJson(victim, { name: "Flagged", hidden: true, protected: true }),
        );
      }
    }
    if (round % 2 === 1) await r.mcu.restart();
    const want = await diskList(dirs.store);
    await waitUntil(
      () => exactly(r.mcu.profiles(), want),
      () => "round " + round + " (seed " + seed + "): " + JSON.stringify(r.mcu.profiles().map((p) => p.id)),
      120000,
    );
    t.true(noDuplicates(r.mcu.profiles()));
  }
  await d.whenSynced(120000);
  t.true(exactly(r.mcu.profiles(), await diskList(dirs.store)));
  t.true(r.proxy.stats.faults > 0);
});
