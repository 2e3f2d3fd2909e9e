// Runs the `flipper-boot` CLI (soc-bridge/cli.ts through tsx, one node process so a SIGKILL it sends
// itself is seen here) asynchronously: tests that run a daemon in-process stay responsive.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const CLI = path.join(ROOT, "soc-bridge", "cli.ts");

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed when it is one JSON object, else null. */
  json: Record<string, unknown> | null;
}

/** Runs the CLI; `asNobody` runs it as user nobody, group nogroup (through util-linux's setpriv). */
export function flipperBoot(
  args: string[],
  env: Record<string, string> = {},
  asNobody = false,
): Promise<CliRun> {
  const node = [process.execPath, "--import", "tsx", CLI, ...args];
  const argv = asNobody ? ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", ...node] : node;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: ROOT,
      env: { ...process.env, FLIPPER_BOOT_SOCKET: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => {
      stdout += c;
    });
    child.stderr.on("data", (c) => {
      stderr += c;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      let json: Record<string, unknown> | null = null;
      try {
        json = JSON.parse(stdout);
      } catch {}
      resolve({ code, signal, stdout, stderr, json });
    });
  });
}

/** A CLI bound to one store, in direct mode (no daemon), with a booted file of our choosing. */
export function storeCli(store: string, booted: string, extra: string[] = []) {
  return (args: string[], env: Record<string, string> = {}) =>
    flipperBoot(["--direct", "--store", store, "--booted", booted, ...extra, ...args], env);
}

/** The `result` of a successful `--json` run (throws with its stderr otherwise). */
export function resultOf<T = Record<string, unknown>>(r: CliRun): T {
  if (!r.json || r.json.ok !== true)
    throw new Error("command failed (exit " + r.code + "): " + r.stderr + r.stdout);
  return r.json.result as T;
}
