// Runs the `flipper-boot` CLI (soc-bridge/cli.ts through tsx, one node process so a SIGKILL it sends
// itself is seen here) asynchronously: tests that run a daemon in-process stay responsive.
import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
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

export interface CliOptions {
  /** Run it as user nobody, group nogroup (through util-linux's setpriv). */
  asNobody?: boolean;
  /** Bytes for its standard input (without `input` or `feed` it has none). */
  input?: Buffer;
  /** Called once it runs, to write its standard input (and kill it) as the test goes. */
  feed?: (child: ChildProcessByStdio<Writable, Readable, Readable>) => void;
}

/** Runs the CLI to its end. */
export function flipperBoot(
  args: string[],
  env: Record<string, string> = {},
  opts: CliOptions = {},
): Promise<CliRun> {
  const node = [process.execPath, "--import", "tsx", CLI, ...args];
  const argv = opts.asNobody
    ? ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", ...node]
    : node;
  const fed = opts.input !== undefined || opts.feed !== undefined;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: ROOT,
      env: { ...process.env, FLIPPER_BOOT_SOCKET: "", ...env },
      stdio: [fed ? "pipe" : "ignore", "pipe", "pipe"],
    }) as ChildProcessByStdio<Writable | null, Readable, Readable>;
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
    if (child.stdin !== null) {
      // The CLI may stop reading (a refused stream): the write side then sees EPIPE, not the answer.
      child.stdin.on("error", () => {});
      if (opts.input) child.stdin.end(opts.input);
      opts.feed?.(child as ChildProcessByStdio<Writable, Readable, Readable>);
    }
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
