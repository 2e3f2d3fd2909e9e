// The systemd units: valid as packaged (systemd-analyze verify against the amd64 package's tree, so
// ExecStart's program must exist in the package), mark-good wired after boot-complete.target, and
// the daemon's Type=notify readiness: READY=1 arrives only once its control socket answers.
import test from "ava";
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { controlRequest } from "../soc-bridge/control";
import { buildPackages } from "../soc-bridge/package";
import { profileJson, tempDirs, waitUntil, writeProfile } from "./helpers/bridge-env";
import { realMcuOnPty } from "./helpers/mcu-endpoint";
import { notifySocket } from "./helpers/notify-socket";

const ROOT = path.resolve(import.meta.dirname, "..");
const DIR = path.join(ROOT, "soc-bridge", "systemd");
const UNITS = ["flipper-boot.service", "flipper-boot-mark-good.service"];

function verify(root: string): Promise<{ code: number; out: string }> {
  const units = UNITS.map((u) => "/usr/lib/systemd/system/" + u);
  return new Promise((resolve) => {
    execFile("systemd-analyze", ["verify", "--man=no", "--root=" + root, ...units], (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code) : 0, out: stdout + stderr }),
    );
  });
}

test("systemd-analyze verify accepts both units as the amd64 package installs them", async (t) => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "fb-units-"));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const [pkg] = await buildPackages({ arches: ["amd64"], outDir: path.join(tmp, "deb"), log: () => {} });
  // A root with systemd's own units (for sysinit.target and friends) and the package on top.
  const root = path.join(tmp, "root");
  mkdirSync(path.join(root, "usr/lib/systemd"), { recursive: true });
  cpSync("/usr/lib/systemd/system", path.join(root, "usr/lib/systemd/system"), { recursive: true });
  execFileSync("dpkg-deb", ["-x", pkg!.file, root]);
  const ok = await verify(root);
  t.is(ok.code, 0, ok.out);
  t.is(ok.out.trim(), "");
  // The check has teeth: without the program ExecStart names, verify fails.
  rmSync(path.join(root, "usr/bin/flipper-boot"));
  const bad = await verify(root);
  t.not(bad.code, 0);
  t.regex(bad.out, /\/usr\/bin\/flipper-boot is not executable/);
});

test("mark-good runs after boot-complete.target and the daemon; the daemon is Type=notify", (t) => {
  const u = readFileSync(path.join(DIR, "flipper-boot-mark-good.service"), "utf8");
  t.regex(u, /^Requires=boot-complete\.target$/m);
  t.regex(u, /^After=boot-complete\.target flipper-boot\.service$/m);
  t.regex(u, /^Type=oneshot$/m);
  t.regex(u, /^ExecStart=\/usr\/bin\/flipper-boot mark-good$/m);
  const d = readFileSync(path.join(DIR, "flipper-boot.service"), "utf8");
  t.regex(d, /^ExecStart=\/usr\/bin\/flipper-boot daemon$/m);
  t.regex(d, /^EnvironmentFile=-\/etc\/default\/flipper-boot$/m);
  t.regex(d, /^Type=notify$/m);
  t.regex(d, /^NotifyAccess=all$/m);
  t.regex(d, /^RequiresMountsFor=\/run\/flipper\/top \/boot$/m);
  const env = readFileSync(path.join(DIR, "flipper-boot.default"), "utf8");
  t.regex(env, /^FLIPPER_BOOT_STORE=\/run\/flipper\/top$/m);
});

test("the daemon sends READY=1 through systemd-notify once its control socket answers", async (t) => {
  const dirs = tempDirs("fb-notify-");
  t.teardown(() => dirs.cleanup());
  const mcu = await realMcuOnPty();
  t.teardown(() => mcu.close());
  writeProfile(dirs.store, "work", profileJson("work"));
  const notify = await notifySocket(dirs.root);
  t.teardown(() => notify.close());

  let child: ChildProcess | null = null;
  let log = "";
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  );
  const args = ["--port", mcu.port, "--store", dirs.store, "--socket", dirs.socket, "--boot-dir", "none"];
  child = spawn(
    process.execPath,
    ["--import=tsx", "soc-bridge/cli.ts", "daemon", ...args, "--state-dir", dirs.state],
    {
      cwd: ROOT,
      env: { ...process.env, NOTIFY_SOCKET: notify.path },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  child.stderr!.on("data", (d) => {
    log += d.toString();
  });

  const ready = await notify.next(/READY=1/, 120_000).catch((e: Error) => {
    throw new Error(e.message + "\ndaemon log:\n" + log);
  });
  // What a unit ordered after the daemon does first: ask the control socket. It must answer now.
  const reply = await controlRequest(dirs.socket, "status", {}, 10_000);
  t.true(reply.ok, JSON.stringify(reply));
  t.regex(ready, /STATUS=serving .*ctl\.sock/);
  t.is(notify.messages().filter((m) => /READY=1/.test(m)).length, 1);
  t.notRegex(log, /systemd-notify --ready failed/);
  // and it goes on to sync the real MCU endpoint
  await waitUntil(
    () => mcu.profiles().length === 1,
    () => "the daemon's first sync; log:\n" + log,
    60_000,
  );
});
