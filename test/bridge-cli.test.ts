// The flipper-boot CLI end to end: the bundled file (esbuild) against a running daemon (a child
// process) that owns a real pty to the MCU endpoint; --json output; the permission refusal for a
// non-root user; and direct mode on the port when no daemon runs.
import test from "ava";
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { DefaultMode } from "../protocol/messages";
import { profileJson, tempDirs, waitUntil, writeProfile } from "./helpers/bridge-env";
import { realMcuOnPty } from "./helpers/mcu-endpoint";

const ROOT = path.resolve(import.meta.dirname, "..");
// The bundle runs as `nobody` too, so it lives where that user can reach it (with the one package
// it loads at run time), wherever the checkout is: a clone under a 0700 folder must pass as well.
const INSTALL = mkdtempSync(path.join(os.tmpdir(), "fb-cli-install-"));
const BUNDLE = path.join(INSTALL, "flipper-boot.mjs");
/** What the bundle loads at run time, like `npm install --prefix DIR @serialport/bindings-cpp` on a device. */
const RUNTIME_PACKAGES = ["@serialport/bindings-cpp"];

/** Copies package `name` (resolved as Node would from `from`) and its dependencies into dest/node_modules. */
function copyPackage(name: string, from: string, dest: string, done: Set<string>): void {
  let dir = from;
  let src = "";
  for (;;) {
    const candidate = path.join(dir, "node_modules", name);
    if (existsSync(path.join(candidate, "package.json"))) {
      src = candidate;
      break;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error("package " + name + " is not installed (npm ci in " + ROOT + ")");
    dir = up;
  }
  const real = realpathSync(src);
  if (done.has(real)) return;
  done.add(real);
  cpSync(real, path.join(dest, "node_modules", name), { recursive: true, dereference: true });
  const pkg = JSON.parse(readFileSync(path.join(real, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  for (const dep of Object.keys(pkg.dependencies ?? {})) copyPackage(dep, src, dest, done);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], asNobody = false): Promise<Run> {
  const cmd = asNobody ? "setpriv" : process.execPath;
  const full = asNobody
    ? ["--reuid=nobody", "--regid=nogroup", "--clear-groups", process.execPath, BUNDLE, ...args]
    : [BUNDLE, ...args];
  return new Promise((resolve) => {
    execFile(cmd, full, { timeout: 60000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

test.before(async () => {
  chmodSync(INSTALL, 0o755); // mkdtemp makes it 0700
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, ["--import=tsx", "soc-bridge/build.ts", BUNDLE], { cwd: ROOT }, (e, _o, se) =>
      e ? reject(new Error(se)) : resolve(),
    );
  });
  const done = new Set<string>();
  for (const name of RUNTIME_PACKAGES) copyPackage(name, ROOT, INSTALL, done);
  // Say plainly when the other user cannot run it at all (a private temp folder, a private node).
  const probe = await run(["--help"], true);
  if (probe.code !== 0 || !probe.stdout.includes("usage: flipper-boot")) {
    throw new Error(
      "user nobody cannot run " +
        process.execPath +
        " " +
        BUNDLE +
        " (is " +
        os.tmpdir() +
        " or node in a folder only root can enter?): " +
        probe.stderr,
    );
  }
});

test.after.always(() => rmSync(INSTALL, { recursive: true, force: true }));

function startDaemonProcess(args: string[]): {
  child: ChildProcess;
  log: () => string;
  stop: () => Promise<void>;
} {
  const child = spawn(process.execPath, [BUNDLE, "daemon", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.on("data", (d) => {
    log += d.toString();
  });
  return {
    child,
    log: () => log,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

test("CLI commands through the daemon's socket, --json, exit codes, permission refusal", async (t) => {
  const dirs = tempDirs();
  chmodSync(dirs.root, 0o755); // only the socket's own mode keeps others out
  const end = await realMcuOnPty();
  writeProfile(dirs.store, "main", profileJson("main", { name: "Main" }));
  writeProfile(dirs.store, "work", profileJson("work", { name: "Work" }));
  writeProfile(dirs.store, "Bad", profileJson("Bad"));
  const common = ["--socket", dirs.socket];
  const d = startDaemonProcess([
    ...common,
    "--port",
    end.port,
    "--store",
    dirs.store,
    "--boot-dir",
    dirs.boot,
    "--state-dir",
    dirs.state,
  ]);
  try {
    await waitUntil(() => end.profiles().length === 2, "the daemon's first sync", 60000);
    t.is(statSync(dirs.socket).mode & 0o777, 0o600);

    const st = await run([...common, "status", "--json"]);
    t.is(st.code, 0, st.stderr);
    const sj = JSON.parse(st.stdout);
    t.true(sj.ok);
    t.is(sj.result.daemon.link, "ok");
    t.is(sj.result.daemon.profiles, 2);
    t.is(sj.result.mcu.profileCount, 2);
    t.is(sj.result.daemon.skipped.length, 1);
    t.regex(sj.result.daemon.skipped[0], /Bad\/profile\.json: id "Bad" is invalid/);

    const list = await run([...common, "list", "--json"]);
    t.is(list.code, 0, list.stderr);
    t.deepEqual(
      JSON.parse(list.stdout).result.profiles.map((p: { id: string }) => p.id),
      ["main", "work"],
    );
    const human = await run([...common, "list"]);
    t.regex(human.stdout, /main\s+Main\s+1\.0\.0/);

    const sd = await run([...common, "set-default", "work"]);
    t.is(sd.code, 0, sd.stderr);
    t.is(end.state().defaultMode, DefaultMode.FIXED);
    t.is(end.state().defaultId, "work");
    const lu = await run([...common, "set-default", "last-used", "--json"]);
    t.is(lu.code, 0);
    t.is(end.state().defaultMode, DefaultMode.LAST_USED);

    const nx = await run([...common, "next", "main"]);
    t.is(nx.code, 0, nx.stderr);
    t.is(end.state().nextId, "main");
    t.is((await run([...common, "clear-next"])).code, 0);
    t.is(end.state().nextId, "");

    // The MCU refuses an unknown profile: exit 1 with its reason; a malformed id is a usage error (2).
    const nf = await run([...common, "next", "ghost", "--json"]);
    t.is(nf.code, 1);
    t.regex(JSON.parse(nf.stdout).error, /NOT_FOUND/);
    const bad = await run([...common, "next", "BAD ID"]);
    t.is(bad.code, 2);
    t.regex(bad.stderr, /profile id "BAD ID" is invalid/);

    const op = await run([...common, "options", "--timeout", "7", "--show", "always"]);
    t.is(op.code, 0, op.stderr);
    t.is(end.state().options.timeoutSeconds, 7);
    t.is(end.state().options.showMenu, 1);
    t.is((await run([...common, "options", "--timeout", "99"])).code, 2);

    // A boot (the menu shows with "always": OK picks the highlighted profile), then mark-good.
    // `watch --json` streams the MCU's events while the daemon owns the port.
    const watcher = spawn(process.execPath, [BUNDLE, ...common, "watch", "--json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let watched = "";
    watcher.stdout!.on("data", (x) => {
      watched += x;
    });
    const watcherExit = new Promise((r) => watcher.once("exit", r));
    await waitUntil(
      () => watched.includes('"event":"status"'),
      () => "the watch subscription: " + watched,
    );
    end.mcu.powerOn([]);
    await end.mcu.press("ok");
    await waitUntil(() => end.state().lastBoot.sequence > 0, "the boot");
    const booted = end.state().lastBoot.id;
    await waitUntil(
      () => watched.includes('"event":"boot"'),
      () => "the boot event in watch: " + watched,
    );
    const bootEv = JSON.parse(watched.split("\n").find((l) => l.includes('"event":"boot"'))!);
    t.is(bootEv.data.id, booted);
    watcher.kill("SIGTERM");
    t.is(await watcherExit, 0);
    t.true(booted === "main" || booted === "work");
    const mg = await run([...common, "mark-good", "--json", "--cmdline", "/dev/null"]);
    t.is(mg.code, 0, mg.stderr);
    t.true(JSON.parse(mg.stdout).result.marked);
    t.is(end.state().lastGoodId, booted);

    // The running kernel is another profile than the MCU's last boot: refuse to confirm it.
    const cmdline = path.join(dirs.root, "cmdline");
    writeFileSync(cmdline, "root=/dev/sda2 flipper.profile=ghost flipper.base=1.0\n");
    const wrong = await run([...common, "mark-good", "--cmdline", cmdline]);
    t.is(wrong.code, 2);
    t.regex(
      wrong.stderr,
      /the running system is profile "ghost" but the MCU's last boot \(sequence \d+\) is "(main|work)"; not marking it good/,
    );

    const sy = await run([...common, "sync", "--json"]);
    t.is(sy.code, 0, sy.stderr);
    t.is(JSON.parse(sy.stdout).result.kind, "verified");

    // Not root: the socket refuses, with a clear message and exit code 4 (no fallback to the port).
    const denied = await run([...common, "status"], true);
    t.is(denied.code, 4, denied.stderr);
    t.regex(denied.stderr, /permission denied on the daemon's control socket/);
    const deniedJson = await run([...common, "list", "--json"], true);
    t.is(deniedJson.code, 4);
    t.false(JSON.parse(deniedJson.stdout).ok);
  } finally {
    await d.stop();
    await end.close();
    dirs.cleanup();
  }
  t.regex(d.log(), /synced 2 profiles/);
  t.regex(d.log(), /daemon stopped/);
});

test("CLI without a daemon talks to the port directly", async (t) => {
  const dirs = tempDirs();
  const end = await realMcuOnPty();
  writeProfile(dirs.store, "alpha", profileJson("alpha", { name: "Alpha" }));
  const common = ["--socket", dirs.socket, "--port", end.port];
  t.teardown(async () => {
    await end.close();
    dirs.cleanup();
  });
  const sy = await run([...common, "sync", "--store", dirs.store, "--boot-dir", dirs.boot, "--json"]);
  t.is(sy.code, 0, sy.stderr);
  t.is(JSON.parse(sy.stdout).result.kind, "full");
  t.deepEqual(
    end.profiles().map((r) => r.id),
    ["alpha"],
  );
  const st = await run([...common, "status"]);
  t.is(st.code, 0, st.stderr);
  t.regex(st.stdout, /daemon:\s+not running/);
  t.regex(st.stdout, /mcu:\s+1 of 32 profiles/);
  // --verbose shows every frame with its message name and the payload in hex.
  const vb = await run([...common, "list", "--verbose"]);
  t.is(vb.code, 0, vb.stderr);
  t.regex(vb.stderr, /^flipper-boot: -> REQ HELLO seq \d+ \[8 B\] 02 02 00 04 1f 00 00 00$/m);
  t.regex(vb.stderr, /^flipper-boot: <- RSP GET_PROFILE seq \d+ OK \[\d+ B\] ([0-9a-f]{2} )+/m);
  t.regex(vb.stdout, /alpha\s+Alpha/);
  // An MCU that does not answer: exit 3, "MCU not responding".
  await end.mcu.stop();
  const nr = await run([...common, "status", "--timeout-ms", "50"]);
  t.is(nr.code, 3);
  t.regex(nr.stderr, /MCU not responding/);
});

test("with a socket group, members of that group may use the CLI (mode 0660)", async (t) => {
  const dirs = tempDirs();
  chmodSync(dirs.root, 0o755);
  const end = await realMcuOnPty();
  writeProfile(dirs.store, "main", profileJson("main", { name: "Main" }));
  const { startDaemon } = await import("../soc-bridge/daemon");
  const d = await startDaemon({
    port: end.port,
    store: dirs.store,
    socket: dirs.socket,
    socketGroup: "nogroup",
    log: () => {},
  });
  t.teardown(async () => {
    await d.stop();
    await end.close();
    dirs.cleanup();
  });
  await d.whenSynced();
  const st = statSync(dirs.socket);
  t.is(st.mode & 0o777, 0o660);
  t.is(st.uid, 0);
  t.is(st.gid, Number(execFileSync("getent", ["group", "nogroup"], { encoding: "utf8" }).split(":")[2]));
  // nobody in group nogroup: allowed.
  const ok = await run(["--socket", dirs.socket, "list", "--json"], true);
  t.is(ok.code, 0, ok.stderr);
  t.deepEqual(
    JSON.parse(ok.stdout).result.profiles.map((p: { id: string }) => p.id),
    ["main"],
  );
});
