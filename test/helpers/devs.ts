// Runs the real DeviceScript compiler and VM (@devicescript/cli) on a file of this repo.
// Each call works in its own temporary folder, because the CLI always writes to
// ./.devicescript/bin of its working directory: parallel test files must not share it.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const CLI = join(REPO, "node_modules/@devicescript/cli/devicescript");

export interface DevsResult {
  code: number;
  /** stdout + stderr with ANSI colours removed. */
  output: string;
  /** Lines the program printed with console.log (the VM's "WASM> " prefix removed). */
  logs: string[];
  workdir: string;
}

function run(args: string[], timeoutMs: number, keep: boolean): Promise<DevsResult> {
  const workdir = mkdtempSync(join(tmpdir(), "devs-"));
  writeFileSync(join(workdir, "devsconfig.json"), "{}\n");
  symlinkSync(join(REPO, "node_modules"), join(workdir, "node_modules"));
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: workdir, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const output = (stdout + stderr).replace(/\u001b\[[0-9;]*m/g, "");
        const logs = output
          .split("\n")
          .filter((l) => l.startsWith("WASM> "))
          .map((l) => l.slice(6));
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        if (!keep) rmSync(workdir, { recursive: true, force: true });
        done({ code, output, logs, workdir });
      },
    );
  });
}

/** `devs build FILE --stats`: compiles to bytecode; code 0 when it compiled. */
export function devsBuild(file: string, opts: { keep?: boolean } = {}): Promise<DevsResult> {
  return run(["build", resolve(REPO, file), "--stats"], 120_000, opts.keep ?? false);
}

/** `devs run FILE --test`: compiles and runs in the VM until the program ends; code 0 = passed. */
export function devsRunTest(file: string, timeoutMs = 60_000, selfExit = false): Promise<DevsResult> {
  // --test-self-exit is for programs using @devicescript/test, which exit by themselves.
  const exit = selfExit ? ["--test-self-exit"] : [];
  return run(
    ["run", resolve(REPO, file), "--test", ...exit, "--test-timeout", String(timeoutMs)],
    timeoutMs + 30_000,
    false,
  );
}

/** Bytecode size in bytes from `devs build --stats` output ("bytecode: 10.8kb"). */
export function bytecodeBytes(output: string): number {
  const m = /bytecode: ([\d.]+)kb/.exec(output);
  return m ? Math.round(Number(m[1]) * 1024) : Number.NaN;
}
