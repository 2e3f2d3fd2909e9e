// Small process helpers for the image build and the QEMU runner: commands run with their output
// kept for the error message, and mounts/loop devices undone in reverse order even after a failure.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";

/** Runs a command; throws with its stderr (last lines) on failure. */
export function sh(cmd: string, args: string[], opts: { input?: string; cwd?: string } = {}): string {
  try {
    return execFileSync(cmd, args, {
      input: opts.input,
      cwd: opts.cwd,
      encoding: "utf8",
      stdio: ["pipe", "pipe", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; status?: number };
    const tail = `${err.stdout ?? ""}${err.stderr ?? ""}`.trim().split("\n").slice(-15).join("\n");
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${err.status}):\n${tail}`);
  }
}

/** Runs a long command, passing each output line to `progress`; resolves on exit 0. */
export function shStream(cmd: string, args: string[], progress: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const onData = (buf: Buffer) => {
      for (const line of buf.toString("utf8").split("\n")) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 30) tail.shift();
        progress(line);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(`${cmd} ${args.slice(0, 4).join(" ")} ... failed (exit ${code}):\n${tail.join("\n")}`),
        );
    });
  });
}

/** A stack of undo steps (umount, losetup -d, rm), run last-in first-out. */
export class Undo {
  private steps: Array<[string, () => void]> = [];
  push(label: string, step: () => void): void {
    this.steps.push([label, step]);
  }
  /** Runs every step; a failing step is reported and the rest still run. */
  run(): string[] {
    const errors: string[] = [];
    while (this.steps.length > 0) {
      const [label, step] = this.steps.pop() as [string, () => void];
      try {
        step();
      } catch (e) {
        errors.push(`${label}: ${(e as Error).message}`);
      }
    }
    return errors;
  }
}

/**
 * Runs `fn` holding a lock folder (`path`, with the holder's pid inside): test files that start at
 * the same time build the image once. A lock whose process is gone is taken over.
 */
export async function withLock<T>(
  path: string,
  fn: () => Promise<T>,
  onWait?: (pid: number) => void,
): Promise<T> {
  const { mkdirSync, readFileSync, rmSync, writeFileSync } = await import("node:fs");
  let told = false;
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(`${path}/pid`, String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      let pid = 0;
      try {
        pid = Number(readFileSync(`${path}/pid`, "utf8"));
      } catch {
        // being created or removed right now
      }
      let alive = pid > 0;
      if (alive) {
        try {
          process.kill(pid, 0);
        } catch {
          alive = false;
        }
      }
      if (pid > 0 && !alive) {
        rmSync(path, { recursive: true, force: true });
        continue;
      }
      if (!told && pid > 0) {
        onWait?.(pid);
        told = true;
      }
      // Another process builds (minutes): checking once a second costs nothing.
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { recursive: true, force: true });
  }
}

/** socat processes still running: killed when this process exits, however it exits. */
const liveSocats = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of liveSocats) if (p.exitCode === null) p.kill("SIGKILL");
});

/** Two linked ptys (`socat pty,raw,echo=0 pty,raw,echo=0`) at `a` and `b`; `close()` stops socat. */
export function ptyPair(a: string, b: string): Promise<{ a: string; b: string; close: () => Promise<void> }> {
  const p = spawn("socat", ["-d", "-d", `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  liveSocats.add(p);
  p.on("exit", () => liveSocats.delete(p));
  const close = () =>
    new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once("exit", () => resolve());
      p.kill("SIGTERM");
    });
  return new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => {
      p.kill("SIGKILL");
      reject(new Error(`socat did not link the ptys in 30 s: ${err.trim()}`));
    }, 30_000);
    p.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`socat could not start: ${e.message} (install socat)`));
    });
    p.stderr?.on("data", (c: Buffer) => {
      err += c.toString();
      if (err.includes("starting data transfer loop")) {
        clearTimeout(timer);
        resolve({ a, b, close });
      }
    });
    p.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`socat exited with ${code}: ${err.trim()}`));
    });
  });
}
