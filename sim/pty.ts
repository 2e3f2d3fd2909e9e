// The MCU's UART and the SoC's: a pseudo-terminal pair linked by socat, as a cable would link them.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** socat processes still running: killed when this process exits, however it exits. */
const liveSocats = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of liveSocats) if (p.exitCode === null) p.kill("SIGKILL");
});

/** Runs socat with two linked ptys; resolves once both links exist. */
export async function startSocat(a: string, b: string): Promise<ChildProcess> {
  const p = spawn("socat", ["-d", "-d", "pty,raw,echo=0,link=" + a, "pty,raw,echo=0,link=" + b], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  liveSocats.add(p);
  p.on("exit", () => liveSocats.delete(p));
  let err = "";
  p.stderr!.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const t0 = Date.now();
  while (!(existsSync(a) && existsSync(b) && err.indexOf("starting data transfer loop") >= 0)) {
    if (p.exitCode !== null) throw new Error("socat exited: " + err);
    if (Date.now() - t0 > 10000) {
      p.kill("SIGKILL");
      throw new Error("socat did not create the ptys in 10 s: " + err);
    }
    await sleep(10);
  }
  return p;
}
