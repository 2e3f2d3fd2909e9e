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
