// The machine-wide lock for the VM's fixed TCP port: one VM runs at a time on a machine, and the
// processes that want one take turns in the order they asked (a ticket file each beside the lock).
import { closeSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HUB_PORT } from "./hub";

const LOCK = join(tmpdir(), `flipper-boot-devs-tcp-${HUB_PORT}.lock`);

/** True when process `pid` runs (or exists under another user). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** True when the process named in the lock file still runs (or the file cannot be read yet). */
function holderAlive(): boolean {
  let pid = Number.NaN;
  try {
    pid = Number(readFileSync(LOCK, "utf8").trim());
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) {
    // Just created, pid not written yet; a file older than a minute without a pid is stale.
    try {
      return Date.now() - statSync(LOCK).mtimeMs < 60_000;
    } catch {
      return false;
    }
  }
  return pidAlive(pid);
}

/** Waiting-line tickets beside the lock: `<prefix><start ms, 15 digits>-<pid>-<n>`, in name order. */
const TICKET_PREFIX = `flipper-boot-devs-tcp-${HUB_PORT}.wait-`;
let tickets = 0;

/** True when no live waiter took a ticket before `mine` (tickets of dead processes are removed). */
function firstInLine(mine: string): boolean {
  for (const f of readdirSync(tmpdir())) {
    if (!f.startsWith(TICKET_PREFIX) || f >= mine) continue;
    const pid = Number(f.split("-").at(-2));
    if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) return false;
    rmSync(join(tmpdir(), f), { force: true });
  }
  return true;
}

/**
 * Takes the machine-wide lock for port HUB_PORT (waits while another live process holds it). Waiters
 * get it in the order they came (a ticket file each): a process running scenario after scenario
 * releases and takes it again at once, and used to starve the others until they timed out.
 */
export async function acquireVmLock(timeoutMs = 1_800_000): Promise<() => void> {
  const start = Date.now();
  const mine = `${TICKET_PREFIX}${String(start).padStart(15, "0")}-${process.pid}-${++tickets}`;
  const ticket = join(tmpdir(), mine);
  writeFileSync(ticket, String(process.pid));
  try {
    for (;;) {
      if (firstInLine(mine)) {
        try {
          const fd = openSync(LOCK, "wx");
          writeFileSync(fd, String(process.pid));
          closeSync(fd);
          return () => rmSync(LOCK, { force: true });
        } catch {
          // A lock whose holder is gone (killed without cleanup) is taken over at once.
          if (!holderAlive()) rmSync(LOCK, { force: true });
        }
      }
      if (Date.now() - start > timeoutMs)
        throw new Error(
          `lock ${LOCK} held for too long (waited ${timeoutMs} ms for the DeviceScript VM's port)`,
        );
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    rmSync(ticket, { force: true });
  }
}
