// The host's side of qemu-guest-agent: the simulator runs `flipper-boot` in its live guest with
// guest-exec and powers it down with guest-shutdown.
import { connect, type Socket } from "node:net";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * qemu-guest-agent's JSON protocol on the guest's virtio-serial port (a unix socket on the host):
 * guest-sync first (the agent may have started after the host wrote), then one request at a time.
 */
export class GuestAgent {
  private sock: Socket | null = null;
  private buf = "";
  private pending: ((v: Record<string, unknown>) => void) | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private path: string) {}

  close(): void {
    this.closed = true;
    this.sock?.destroy();
    this.sock = null;
  }

  private async open(): Promise<Socket> {
    if (this.sock) return this.sock;
    for (let i = 0; ; i++) {
      if (this.closed) throw new Error("the guest is not running");
      try {
        const s = await new Promise<Socket>((resolve, reject) => {
          const c = connect(this.path);
          c.once("connect", () => resolve(c));
          c.once("error", reject);
        });
        s.on("data", (b: Buffer) => this.onData(b));
        s.on("error", () => {});
        s.on("close", () => {
          if (this.sock === s) this.sock = null;
        });
        this.sock = s;
        return s;
      } catch (e) {
        if (i > 100) throw e;
        await sleep(100);
      }
    }
  }

  private onData(b: Buffer): void {
    // guest-sync-delimited answers start with 0xFF: a line boundary for our purpose.
    this.buf += b.toString("latin1").replace(/\xff/g, "\n");
    let i = this.buf.indexOf("\n");
    while (i >= 0) {
      const line = this.buf.slice(0, i).trim();
      this.buf = this.buf.slice(i + 1);
      if (line) {
        try {
          const v = JSON.parse(line) as Record<string, unknown>;
          const p = this.pending;
          this.pending = null;
          p?.(v);
        } catch {
          // Not JSON (a partial line after a resync): ignored.
        }
      }
      i = this.buf.indexOf("\n");
    }
  }

  private async request(execute: string, args: unknown, timeoutMs: number): Promise<Record<string, unknown>> {
    const s = await this.open();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = null;
        reject(new Error(`the guest agent did not answer ${execute} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending = (v) => {
        clearTimeout(timer);
        resolve(v);
      };
      s.write(`${JSON.stringify(args === undefined ? { execute } : { execute, arguments: args })}\n`);
    });
  }

  /** Until the agent answers guest-sync with our id (it runs once the guest reached multi-user). */
  private async sync(timeoutMs: number): Promise<void> {
    const t0 = Date.now();
    for (let n = 1; ; n++) {
      const id = Math.floor(Math.random() * 1e9);
      try {
        this.buf = "";
        const r = await this.request("guest-sync-delimited", { id }, 3000);
        if (r.return === id) return;
      } catch (e) {
        if (this.closed) throw new Error("the guest is not running");
        if (Date.now() - t0 > timeoutMs) {
          throw new Error(`the guest agent does not answer (${n} tries): ${(e as Error).message}`);
        }
      }
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.queue.then(fn, fn);
    this.queue = r.catch(() => {});
    return r;
  }

  exec(path: string, arg: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    return this.serial(async () => {
      const t0 = Date.now();
      await this.sync(timeoutMs);
      // Not repeated on a timeout: the command could run twice. A slow answer on a loaded machine
      // gets a long wait instead.
      const started = await this.request("guest-exec", { path, arg, "capture-output": true }, 60_000);
      const pid = (started.return as { pid?: number } | undefined)?.pid;
      if (pid === undefined)
        throw new Error(`guest-exec refused: ${JSON.stringify(started.error ?? started)}`);
      for (;;) {
        let answer: Record<string, unknown>;
        try {
          answer = await this.request("guest-exec-status", { pid }, 10_000);
        } catch (e) {
          // Asking again is harmless: resynchronise (a late answer must not be taken for the next
          // one) and ask until the command's own deadline.
          if (this.closed || Date.now() - t0 > timeoutMs) throw e;
          await this.sync(Math.max(1000, timeoutMs - (Date.now() - t0)));
          continue;
        }
        const st = answer.return as {
          exited: boolean;
          exitcode?: number;
          signal?: number;
          "out-data"?: string;
          "err-data"?: string;
        };
        if (st?.exited) {
          const out = Buffer.from(st["out-data"] ?? "", "base64").toString("utf8");
          const err = Buffer.from(st["err-data"] ?? "", "base64").toString("utf8");
          return { exitCode: st.exitcode ?? 128 + (st.signal ?? 0), output: out + err };
        }
        if (Date.now() - t0 > timeoutMs) throw new Error(`${path} did not finish in ${timeoutMs} ms`);
        await sleep(200);
      }
    });
  }

  /** guest-shutdown gets no answer on success (the agent goes down): a short wait is enough. */
  shutdown(timeoutMs: number): Promise<void> {
    return this.serial(async () => {
      await this.sync(timeoutMs);
      await this.request("guest-shutdown", { mode: "powerdown" }, 2000).catch(() => {});
    });
  }
}
