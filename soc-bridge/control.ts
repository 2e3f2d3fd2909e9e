// The control socket: JSON lines over a Unix socket. A request is {"id":N,"cmd":"...","args":{...}};
// the answer is {"id":N,"ok":true,"result":...} or {"id":N,"ok":false,"error":"...","code":"..."}.
// File permissions are the guard (mode 0600 root, or 0660 with a group): Node exposes no SO_PEERCRED.
import { execFileSync } from "node:child_process";
import { promises as fsp } from "node:fs";
import net from "node:net";
import { BridgeError, errorCode } from "./errors";

export const DEFAULT_SOCKET = "/run/flipper-boot.sock";
/** Longest request line accepted; a longer one closes the connection. */
const MAX_LINE = 64 * 1024;

export interface ControlRequest {
  id: number;
  cmd: string;
  args?: Record<string, unknown>;
}

export interface ControlReply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
  /** A code of errors.ts (usage, mcu, timeout, version, limit, no-profile, ..., internal). */
  code?: string;
}

function refusal(id: number, error: string): ControlReply {
  return { id, ok: false, error, code: "usage" };
}

export type Handler = (cmd: string, args: Record<string, unknown>) => Promise<unknown>;

function resolveGid(group: string | number): number {
  if (typeof group === "number") return group;
  if (/^\d+$/.test(group)) return Number(group);
  const out = execFileSync("getent", ["group", group], { encoding: "utf8" });
  const gid = Number(out.split(":")[2]);
  if (!Number.isInteger(gid))
    throw new BridgeError("failed", "group " + JSON.stringify(group) + " does not exist");
  return gid;
}

async function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(path);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

export interface ControlServer {
  close(): Promise<void>;
}

/** Subscribes a `watch` client: `emit` sends one event line; returns the unsubscribe function. */
export type WatchHook = (emit: (event: { event: string; data: unknown }) => void) => () => void;

/** Listens on `path` (a stale socket file is replaced; a live one is an error). */
export async function serveControl(
  path: string,
  group: string | number | null,
  handler: Handler,
  onWatch: WatchHook | null = null,
): Promise<ControlServer> {
  try {
    await fsp.lstat(path);
    if (await socketInUse(path))
      throw new BridgeError("failed", "another flipper-boot daemon already serves " + path);
    await fsp.unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => {});
    let buf = "";
    sock.on("data", (d) => {
      buf += d.toString("utf8");
      if (buf.length > MAX_LINE && buf.indexOf("\n") < 0) {
        sock.end(JSON.stringify(refusal(0, "request line is too long")) + "\n");
        return;
      }
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        void answer(sock, line);
        nl = buf.indexOf("\n");
      }
    });
  });
  async function answer(sock: net.Socket, line: string): Promise<void> {
    let req: ControlRequest;
    try {
      req = JSON.parse(line);
      if (typeof req !== "object" || req === null || typeof req.cmd !== "string") throw new Error("no cmd");
    } catch {
      sock.write(JSON.stringify(refusal(0, 'request must be a JSON object with "cmd"')) + "\n");
      return;
    }
    const id = typeof req.id === "number" ? req.id : 0;
    if (req.cmd === "watch" && onWatch) {
      // The connection stays open: one JSON line per event until the client goes away.
      sock.write(JSON.stringify({ id, ok: true, result: { watching: true } }) + "\n");
      const off = onWatch((ev) => {
        if (!sock.destroyed) sock.write(JSON.stringify(ev) + "\n");
      });
      sock.once("close", off);
      return;
    }
    let reply: ControlReply;
    try {
      const result = await handler(req.cmd, req.args && typeof req.args === "object" ? req.args : {});
      reply = { id, ok: true, result };
    } catch (e) {
      reply = { id, ok: false, error: (e as Error).message, code: errorCode(e) };
    }
    if (!sock.destroyed) sock.write(JSON.stringify(reply) + "\n");
  }
  // The socket is created with a umask that leaves nobody else any access, then opened up only
  // to the configured group: there is no window where the mode is wider than intended.
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  if (group !== null && group !== "") {
    await fsp.chown(path, process.getuid ? process.getuid() : 0, resolveGid(group));
    await fsp.chmod(path, 0o660);
  } else {
    await fsp.chmod(path, 0o600);
  }
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          fsp.unlink(path).then(
            () => resolve(),
            () => resolve(),
          );
        });
      }),
  };
}

/** Why the socket could not be used: "absent" (no daemon), "denied", or another reason. */
export class ControlConnectError extends BridgeError {
  constructor(
    message: string,
    readonly reason: "absent" | "denied" | "other",
  ) {
    super(reason === "absent" ? "no-daemon" : reason === "denied" ? "denied" : "failed", message);
  }
}

/** The error for a socket that could not be reached (before it connected). */
function connectError(path: string, e: NodeJS.ErrnoException): ControlConnectError {
  if (e.code === "ENOENT" || e.code === "ECONNREFUSED") {
    return new ControlConnectError("no daemon on " + path, "absent");
  }
  if (e.code === "EACCES" || e.code === "EPERM") {
    return new ControlConnectError(
      "permission denied on the daemon's control socket " +
        path +
        ": it is for root (and the group the daemon was configured with); run as root or ask for that group",
      "denied",
    );
  }
  return new ControlConnectError("cannot reach the daemon on " + path + ": " + e.message, "other");
}

/** Sends one request and waits for its answer. */
export function controlRequest(
  path: string,
  cmd: string,
  args: Record<string, unknown>,
  timeoutMs = 120000,
): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let buf = "";
    let connected = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new ControlConnectError("the daemon on " + path + " did not answer " + cmd, "other"));
    }, timeoutMs);
    sock.on("connect", () => {
      connected = true;
      sock.write(JSON.stringify({ id: 1, cmd, args }) + "\n");
    });
    sock.on("data", (d) => {
      buf += d.toString("utf8");
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        sock.destroy();
        try {
          resolve(JSON.parse(buf.slice(0, nl)) as ControlReply);
        } catch {
          reject(new ControlConnectError("the daemon sent an unreadable answer", "other"));
        }
      }
    });
    sock.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (connected) {
        reject(new ControlConnectError("lost the daemon's socket " + path + ": " + e.message, "other"));
      } else {
        reject(connectError(path, e));
      }
    });
    sock.on("close", () => {
      clearTimeout(timer);
      if (connected && buf.indexOf("\n") < 0) {
        reject(new ControlConnectError("the daemon closed " + path + " without answering", "other"));
      }
    });
  });
}

/** `watch`: calls onEvent for every event line until the daemon or the caller closes the socket. */
export function controlWatch(
  path: string,
  onEvent: (ev: { event: string; data: unknown }) => void,
): Promise<{ stop: () => void; done: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let buf = "";
    let acked = false;
    let finish: () => void = () => {};
    const done = new Promise<void>((r) => {
      finish = r;
    });
    sock.on("connect", () => sock.write(JSON.stringify({ id: 1, cmd: "watch" }) + "\n"));
    sock.on("data", (d) => {
      buf += d.toString("utf8");
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf("\n");
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if (!acked) {
          acked = true;
          if (msg.ok !== true) {
            sock.destroy();
            reject(new ControlConnectError(String(msg.error ?? "the daemon refused watch"), "other"));
            return;
          }
          resolve({ stop: () => sock.destroy(), done });
        } else if (typeof msg.event === "string") {
          onEvent(msg as { event: string; data: unknown });
        }
      }
    });
    sock.on("error", (e: NodeJS.ErrnoException) => {
      if (acked) return;
      reject(connectError(path, e));
    });
    sock.on("close", () => finish());
  });
}
