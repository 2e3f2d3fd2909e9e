// How every lifecycle command runs (protocol/STORE.md, "Work in progress"): a session checks the
// store, takes `.flipper-lock` and deals with leftovers of killed commands (recovery.ts) before the
// command itself; a change is built in a work folder `.flipper-tmp/<op>-<id>-<random>/` holding
// `intent.json` and the subvolumes being made (`new`, `snap`, `old`), and one rename or exchange is
// the commit point readers can see. `FLIPPER_BOOT_CRASH_AT` kills a command at a named step.
import { promises as fsp } from "node:fs";
import path from "node:path";
import { assertTopLevel, fsError, removeAny, writeAtomic } from "./btrfs";
import { acquireLock, type StorePaths, storePaths, tmpName } from "./layout";
import { recoverLeftovers } from "./recovery";

export interface StoreContext {
  /** The btrfs top level. */
  store: string;
  /** /run/flipper/booted (what the initramfs mounted); missing file = fall back to `cmdline`. */
  booted?: string;
  /** Kernel command line with flipper.profile= (default /proc/cmdline). */
  cmdline?: string;
  /** The clock (tests). */
  now?: () => Date;
}

/** Step names at which `FLIPPER_BOOT_CRASH_AT` makes the process kill itself (crash tests only). */
export const CRASH_POINTS = [
  "create:built",
  "clone:snapshotted",
  "clone:built",
  "delete:snapshotted",
  "delete:moved-out",
  "delete:snapshot-placed",
  "reset:snapshotted",
  "reset:built",
  "reset:exchanged",
  "reset:snapshot-placed",
  "undo:snapshotted",
  "undo:built",
  "undo:exchanged",
  "snapshot:built",
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

export function crashPoint(name: CrashPoint | string): void {
  if (process.env.FLIPPER_BOOT_CRASH_AT === name) process.kill(process.pid, "SIGKILL");
}

/** `intent.json` of a work folder: what recovery needs to tell unfinished work from committed work. */
export interface Intent {
  op: string;
  id: string;
  /** Subvolume id of @profiles/<id> before the change (null when it did not exist). */
  before: number | null;
}

export class Work {
  readonly dir: string;
  constructor(
    readonly P: StorePaths,
    readonly op: string,
    readonly id: string,
  ) {
    this.dir = path.join(P.tmp, tmpName(op, id));
  }
  get new() {
    return path.join(this.dir, "new");
  }
  get snap() {
    return path.join(this.dir, "snap");
  }
  get old() {
    return path.join(this.dir, "old");
  }
  async begin(before: number | null): Promise<void> {
    try {
      await fsp.mkdir(this.P.tmp, { recursive: true });
      await fsp.mkdir(this.dir);
    } catch (e) {
      throw fsError(e, "creating " + this.dir);
    }
    const intent: Intent = { op: this.op, id: this.id, before };
    await writeAtomic(path.join(this.dir, "intent.json"), JSON.stringify(intent) + "\n");
  }
  /** Removes what is left of the work folder (on success, or after a failure before the commit). */
  async discard(): Promise<void> {
    await removeAny(this.dir);
  }
}

export interface Session {
  ctx: StoreContext;
  P: StorePaths;
  now: Date;
  /** What was found in .flipper-tmp/ and removed or finished, one line each. */
  cleaned: string[];
}

// Sessions of this process run one at a time: the daemon serves socket requests concurrently, and
// `.flipper-lock` cannot tell two of them apart (same pid). Across processes the lock serialises.
let sessionQueue: Promise<void> = Promise.resolve();

/** Checks the store, takes the lock, deals with leftovers, runs `fn`, releases the lock. */
export async function withSession<T>(
  ctx: StoreContext,
  fn: (s: Session) => Promise<T>,
): Promise<T & { cleaned: string[] }> {
  const previous = sessionQueue;
  let done = () => {};
  sessionQueue = new Promise<void>((resolve) => {
    done = resolve;
  });
  try {
    await previous;
    await assertTopLevel(ctx.store);
    const release = await acquireLock(ctx.store);
    try {
      const s: Session = {
        ctx,
        P: storePaths(ctx.store),
        now: (ctx.now ?? (() => new Date()))(),
        cleaned: [],
      };
      s.cleaned = await recoverLeftovers(s.P);
      const r = await fn(s);
      return { ...r, cleaned: s.cleaned };
    } finally {
      await release();
    }
  } finally {
    done();
  }
}

/**
 * Runs `fn` on a work folder; on any failure the folder is removed and the error goes on. An
 * operation that replaces or removes @profiles/<id> passes `before` = the profile's subvolume id, so
 * recovery finishes it once that id changed.
 */
export async function inWork<T>(
  s: Session,
  op: string,
  id: string,
  before: number | null,
  fn: (w: Work) => Promise<T>,
): Promise<T> {
  const w = new Work(s.P, op, id);
  let r: T;
  try {
    await w.begin(before);
    r = await fn(w);
  } catch (e) {
    // Before the commit point this restores the old state; a failure after it (the commit done,
    // what follows failing) leaves the work folder for the next run, which finishes it.
    const committed = (e as { committed?: boolean }).committed === true;
    if (!committed) await w.discard().catch(() => {});
    throw e;
  }
  // Done: what cannot be removed now (the old subvolume, say) is removed by the next run.
  await w.discard().catch(() => {});
  return r;
}

/** Marks an error raised after the commit point: inWork then leaves the folder for recovery to finish. */
export function afterCommit(e: unknown): never {
  throw Object.assign(e as Error, { committed: true });
}
