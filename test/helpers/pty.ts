// Real pseudo-terminal pairs from socat, for tests and benchmarks.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface PtyPair {
  /** Two ends: bytes written to one come out of the other. */
  a: string;
  b: string;
  close(): Promise<void>;
}

/** Starts `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B` and waits until both ends exist. */
export function openPtyPair(dir?: string): Promise<PtyPair> {
  const base = dir ?? mkdtempSync(path.join(os.tmpdir(), "fb-pty-"));
  const a = path.join(base, "pty-a");
  const b = path.join(base, "pty-b");
  const child: ChildProcess = spawn(
    "socat",
    ["-d", "-d", "pty,raw,echo=0,link=" + a, "pty,raw,echo=0,link=" + b],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let err = "";
    let started = false;
    const cleanup = () => {
      if (!dir) rmSync(base, { recursive: true, force: true });
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      cleanup();
      reject(new Error("socat did not start: " + err));
    }, 20000);
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      if (!started) {
        if (err.includes("starting data transfer loop")) {
          started = true;
          clearTimeout(timer);
          resolve({
            a,
            b,
            close: () =>
              new Promise<void>((res) => {
                if (child.exitCode !== null || child.signalCode !== null) {
                  if (!dir) rmSync(base, { recursive: true, force: true });
                  res();
                  return;
                }
                child.once("exit", () => {
                  if (!dir) rmSync(base, { recursive: true, force: true });
                  res();
                });
                child.kill("SIGTERM");
              }),
          });
        }
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (!started) {
        cleanup();
        reject(new Error("socat exited with " + code + ": " + err));
      }
    });
  });
}
