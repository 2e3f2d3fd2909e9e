// A stand-in for systemd's end of $NOTIFY_SOCKET (no systemd runs as PID 1 where the tests run):
// a Unix datagram socket that records each message and closes the file descriptors it carries,
// which is how systemd answers systemd-notify's barrier (BARRIER=1 with a pipe: closing it says
// "processed"). Node has no Unix datagram sockets, so Python's socket module does it.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

const RECEIVER = `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    msg, anc, _flags, _addr = s.recvmsg(4096, socket.CMSG_SPACE(64))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
            for fd in fds:
                os.close(fd)
    print(msg.decode("utf-8", "replace").replace("\\n", " ").strip(), flush=True)
`;

export interface NotifySocket {
  path: string;
  /** every datagram so far, newlines turned into spaces */
  messages(): string[];
  /** resolves with the first message matching `re` (rejects after `ms`) */
  next(re: RegExp, ms: number): Promise<string>;
  close(): Promise<void>;
}

export async function notifySocket(dir: string): Promise<NotifySocket> {
  const file = path.join(dir, "notify.sock");
  const child: ChildProcess = spawn("python3", ["-c", RECEIVER, file], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let err = "";
  let buf = "";
  child.stderr!.on("data", (d) => {
    err += d.toString();
  });
  child.stdout!.on("data", (d) => {
    buf += d.toString();
    let i = buf.indexOf("\n");
    while (i >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      i = buf.indexOf("\n");
    }
    for (const w of waiters.splice(0)) w();
  });
  child.once("exit", () => {
    for (const w of waiters.splice(0)) w();
  });
  const wait = (pred: () => string | undefined, what: string, ms: number) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no " + what + " within " + ms + " ms; " + err)), ms);
      const check = () => {
        const hit = pred();
        if (hit !== undefined) {
          clearTimeout(timer);
          resolve(hit);
        } else if (child.exitCode !== null) {
          clearTimeout(timer);
          reject(new Error("the notify socket receiver (python3) exited: " + err));
        } else waiters.push(check);
      };
      check();
    });
  await wait(() => lines.find((l) => l === "listening"), "notify socket (python3 missing?)", 30_000);
  return {
    path: file,
    messages: () => lines.filter((l) => l !== "listening"),
    next: (re, ms) => wait(() => lines.find((l) => l !== "listening" && re.test(l)), "message " + re, ms),
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
