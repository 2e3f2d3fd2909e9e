// End to end on a real btrfs store: the daemon (with the real MCU core on a socat pty) runs the
// lifecycle commands the CLI sends over its control socket, and every change reaches the MCU's
// list through the daemon's store watch, without a manual sync. The MCU never loses a profile that
// is being reset or undone (one renameat2 exchange), and `status` shows staged changes.
import test from "ava";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { startDaemon } from "../soc-bridge/daemon";
import { btrfsStore } from "./helpers/btrfs";
import { waitUntil } from "./helpers/bridge-env";
import { realMcuOnPty } from "./helpers/mcu-endpoint";
import { flipperBoot, resultOf } from "./helpers/store-cli";

test("create, clone, rename, delete, reset and undo through the daemon's socket reach the MCU by themselves", async (t) => {
  const fs = btrfsStore(
    t,
    ["1.0", "1.2"],
    [{ id: "main", name: "Main", base: "1.0", files: { "etc/motd": "hi\n" } }],
  );
  const top = fs.mnt;
  const dir = path.dirname(top);
  const booted = path.join(dir, "booted");
  writeFileSync(booted, "profile=\nbase=1.0\naction=recovery\n");
  // Work a killed command left behind: the daemon's start removes it and says so.
  mkdirSync(path.join(top, ".flipper-tmp", "clone-ghost-0badf00d"), { recursive: true });
  const socket = path.join(dir, "ctl.sock");
  const end = await realMcuOnPty();
  t.teardown(() => end.close());
  const logs: string[] = [];
  const d = await startDaemon({
    port: end.port,
    store: top,
    socket,
    booted,
    cmdline: path.join(dir, "no-cmdline"),
    debounceMs: 50,
    log: (l) => logs.push(l),
  });
  t.teardown(() => d.stop());
  const names = () => end.profiles().map((p) => p.id + ":" + p.name + ":" + p.base + ":" + p.origin);
  // Every list the MCU acknowledged while main was being reset or undone must still hold main.
  let watchMain = false;
  let mainLost = "";
  d.on("synced", () => {
    if (watchMain && !end.profiles().some((p) => p.id === "main")) mainLost = names().join(", ");
  });
  // --store points nowhere: only the daemon (which has its own store) can carry these out.
  const cli = (args: string[]) =>
    flipperBoot(["--socket", socket, "--store", path.join(dir, "not-a-store"), "--json", ...args]);

  await d.whenSynced();
  t.deepEqual(names(), ["main:Main:1.0:"]);
  await waitUntil(
    () => logs.some((l) => l.includes("removed .flipper-tmp/clone-ghost-0badf00d")),
    () => "the start-up cleanup line in: " + logs.join("\n"),
  );

  const c = await cli(["profile", "create", "work", "--name", "Work", "--base", "1.2"]);
  t.is(c.code, 0, c.stderr);
  await waitUntil(
    () => names().includes("work:Work:1.2:"),
    () => "work on the MCU: " + names().join(", "),
  );

  t.is((await cli(["profile", "clone", "main", "lab", "--name", "Lab"])).code, 0);
  await waitUntil(
    () => names().includes("lab:Lab:1.0:main"),
    () => "lab on the MCU: " + names().join(", "),
  );

  t.is((await cli(["profile", "rename", "lab", "--name", "Lab ✓"])).code, 0);
  await waitUntil(
    () => names().includes("lab:Lab ✓:1.0:main"),
    () => "the new name on the MCU: " + names().join(", "),
  );

  const del = await cli(["profile", "delete", "work"]);
  t.is(del.code, 0, del.stderr);
  await waitUntil(
    () => !names().some((n) => n.startsWith("work:")),
    () => "work gone from the MCU: " + names().join(", "),
  );
  t.deepEqual(names(), ["lab:Lab ✓:1.0:main", "main:Main:1.0:"]);

  // Errors come back through the socket with their code and exit.
  const dup = await cli(["profile", "create", "lab", "--name", "X", "--base", "1.0"]);
  t.is(dup.code, 7);
  t.regex(String(dup.json?.error), /^profile "lab" exists/);

  watchMain = true;
  const snap = resultOf<{ snapshot: { stamp: string } }>(await cli(["profile", "snapshot", "main"]));
  t.is((await cli(["profile", "reset", "main"])).code, 0);
  t.is((await cli(["profile", "undo", "main", "--to", snap.snapshot.stamp])).code, 0);
  await d.whenSynced();
  t.is(mainLost, "", "main was missing from an MCU list: " + mainLost);
  t.deepEqual(names(), ["lab:Lab ✓:1.0:main", "main:Main:1.0:"]);
  // The profile's folder is a new subvolume now: an edit inside it (by hand, not by a lifecycle
  // command, whose lock file alone would wake the daemon) still reaches the MCU.
  await new Promise((r) => setTimeout(r, 500));
  const pj = path.join(top, "@profiles", "main", "profile.json");
  writeFileSync(pj + ".new", JSON.stringify({ ...JSON.parse(readFileSync(pj, "utf8")), name: "Main again" }));
  renameSync(pj + ".new", pj);
  await waitUntil(
    () => names().includes("main:Main again:1.0:"),
    () => "the edit after undo: " + names().join(", "),
  );

  // The running profile's reset is staged, and status says so.
  writeFileSync(booted, "profile=main\nbase=1.0\naction=boot\n");
  const staged = await cli(["profile", "reset", "main"]);
  t.is(staged.code, 0, staged.stderr);
  t.like(staged.json, { result: { staged: { id: "main", action: "reset" } } });
  const st = await cli(["status"]);
  t.is(st.code, 0, st.stderr);
  t.like(resultOf<{ staged: unknown[] }>(st).staged, [{ id: "main", action: "reset" }]);
  const human = await flipperBoot(["--socket", socket, "status"]);
  t.regex(human.stdout, /staged: {4}reset at the next boot of main/);
  const refused = await cli(["profile", "delete", "main"]);
  t.is(refused.code, 14);
  t.deepEqual(names(), ["lab:Lab ✓:1.0:main", "main:Main again:1.0:"]);
});

test("FlipCTL without root: a member of the socket's group runs lifecycle commands through the daemon", async (t) => {
  const fs = btrfsStore(t, ["1.0"], [{ id: "main", name: "Main", base: "1.0" }]);
  const sockDir = mkdtempSync(path.join(os.tmpdir(), "fb-sock-"));
  chmodSync(sockDir, 0o755);
  t.teardown(() => rmSync(sockDir, { recursive: true, force: true }));
  const socket = path.join(sockDir, "ctl.sock");
  const end = await realMcuOnPty();
  t.teardown(() => end.close());
  const d = await startDaemon({
    port: end.port,
    store: fs.mnt,
    socket,
    socketGroup: "nogroup",
    booted: path.join(sockDir, "no-booted"),
    cmdline: path.join(sockDir, "no-cmdline"),
    debounceMs: 50,
    log: () => {},
  });
  t.teardown(() => d.stop());
  await d.whenSynced();
  const r = await flipperBoot(
    ["--socket", socket, "--json", "profile", "clone", "main", "mine", "--name", "Mine"],
    {},
    { asNobody: true },
  );
  t.is(r.code, 0, r.stderr);
  await waitUntil(
    () => end.profiles().some((p) => p.id === "mine" && p.origin === "main"),
    () =>
      "mine on the MCU: " +
      end
        .profiles()
        .map((p) => p.id)
        .join(", "),
  );
  // Not through the daemon, the same user cannot touch the store at all.
  const direct = await flipperBoot(
    ["--direct", "--store", fs.mnt, "profile", "delete", "mine"],
    {},
    {
      asNobody: true,
    },
  );
  t.is(direct.code, 12, direct.stderr);
  t.regex(direct.stderr, /cannot be read \(permission denied: run as root, or through the daemon's socket\)/);
  t.true(existsSync(path.join(fs.mnt, "@profiles", "mine")));
});
