// `base receive FILE|-` (protocol/STORE.md, "Bases"): the stream's first command is read before
// anything is written (not a btrfs stream, a bad version name or an existing base are refused), then
// `btrfs receive` works in `.flipper-tmp/` and the completed, read-only subvolume is published as
// `@base/<ver>` by one read-only snapshot: a base appears whole or not at all.
import { spawn } from "node:child_process";
import { createReadStream, promises as fsp } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { classify, fsError, isSubvolume, removeAny, snapshotSubvolume } from "./btrfs";
import { StoreError } from "./errors";
import { ensureDir, readDirSorted } from "./files";
import { checkVersion, storePaths, tmpName } from "./layout";
import { type StoreContext, withSession } from "./session";

const STREAM_MAGIC = Buffer.from("btrfs-stream\0", "latin1");
const CMD_SUBVOL = 1;
const CMD_SNAPSHOT = 2;
const ATTR_PATH = 15;
/** A first command bigger than this is not a btrfs stream's SUBVOL/SNAPSHOT command. */
const FIRST_CMD_MAX = 64 * 1024;

export interface StreamHead {
  /** The subvolume name the stream creates. */
  name: string;
  /** True for an incremental stream (its first command is SNAPSHOT of a parent). */
  incremental: boolean;
}

/**
 * Reads the stream header and its first command (SUBVOL or SNAPSHOT, whose path attribute is the
 * subvolume's name). Returns null while more bytes are needed; throws `bad-stream` when the bytes
 * cannot be a btrfs send stream.
 */
export function parseStreamHead(buf: Buffer, what: string): StreamHead | null {
  const bad = (why: string) => new StoreError("bad-stream", what + " is not a btrfs send stream: " + why);
  const magicLen = Math.min(buf.length, STREAM_MAGIC.length);
  if (!buf.subarray(0, magicLen).equals(STREAM_MAGIC.subarray(0, magicLen))) {
    throw bad("it does not start with the btrfs-stream magic");
  }
  if (buf.length < 17 + 10) return null;
  const version = buf.readUInt32LE(13);
  if (version < 1 || version > 3) throw bad("stream version " + version + " is not 1 to 3");
  const len = buf.readUInt32LE(17);
  const cmd = buf.readUInt16LE(21);
  if (cmd !== CMD_SUBVOL && cmd !== CMD_SNAPSHOT) {
    throw bad("its first command is " + cmd + ", not SUBVOL or SNAPSHOT");
  }
  if (len > FIRST_CMD_MAX) throw bad("its first command claims " + len + " bytes");
  if (buf.length < 27 + len) return null;
  let off = 27;
  while (off + 4 <= 27 + len) {
    const type = buf.readUInt16LE(off);
    const alen = buf.readUInt16LE(off + 2);
    if (off + 4 + alen > 27 + len) break;
    if (type === ATTR_PATH) {
      return { name: buf.toString("utf8", off + 4, off + 4 + alen), incremental: cmd === CMD_SNAPSHOT };
    }
    off += 4 + alen;
  }
  throw bad("its first command names no subvolume");
}

export interface ReceiveResult {
  version: string;
  incremental: boolean;
  bytes: number;
  ms: number;
  /** Leftovers of interrupted commands removed first (STORE.md, `.flipper-tmp/`). */
  cleaned: string[];
}

/**
 * `base receive FILE|-`: the stream is received into `.flipper-tmp/`, checked (a valid version name
 * that is not yet a base, complete, read-only) and published as `@base/<ver>` by one read-only
 * snapshot, which appears whole or not at all. (A read-only subvolume cannot be renamed into another
 * folder: rename(2) must rewrite its `..`, which the kernel refuses with EROFS.) Nothing in `@base`
 * changes on any failure; an interrupted receive leaves only `.flipper-tmp/` work, removed by the
 * next lifecycle command.
 */
export async function receiveBase(
  ctx: StoreContext,
  source: string | NodeJS.ReadableStream,
): Promise<ReceiveResult> {
  const store = ctx.store;
  // (withSession checks the store: one `btrfs inspect-internal` less on the way.)
  const what =
    typeof source === "string" ? (source === "-" ? "standard input" : JSON.stringify(source)) : "the stream";
  let input: Readable;
  let fileSize = -1;
  if (typeof source === "string") {
    if (source === "-") {
      if (process.stdin.isTTY) {
        throw new StoreError(
          "invalid",
          "standard input is a terminal: pipe a btrfs send stream into base receive -",
        );
      }
      input = process.stdin;
    } else {
      const st = await fsp.stat(source).catch((e: NodeJS.ErrnoException) => {
        throw new StoreError(
          "invalid",
          "stream file " + JSON.stringify(source) + " cannot be read (" + e.code + ")",
        );
      });
      if (!st.isFile() && !st.isFIFO()) {
        throw new StoreError("invalid", "stream file " + JSON.stringify(source) + " is not a file");
      }
      // A regular file goes to btrfs receive as its own -f: only the head is read here.
      if (st.isFile()) {
        fileSize = st.size;
        input = createReadStream(source, { start: 0, end: 27 + FIRST_CMD_MAX - 1 });
      } else input = createReadStream(source, { highWaterMark: 1 << 20 });
    }
  } else input = Readable.from(source as AsyncIterable<Buffer>);

  const p = storePaths(store);
  const t0 = performance.now();
  let work: string | null = null;
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  // A refusal before the session (not btrfs, busy) must not leave the file open in a daemon.
  const closeInput = () => {
    if (input !== process.stdin) input.destroy();
  };
  return withSession(ctx, async (session) => {
    try {
      // Read the first command: the version and the simple refusals come before anything is written.
      let head = Buffer.alloc(0);
      let parsed: StreamHead | null = null;
      let ended = false;
      while (parsed === null) {
        const r = await it.next();
        if (r.done) {
          ended = true;
          if (head.length === 0)
            throw new StoreError("bad-stream", what + " is empty: not a btrfs send stream");
          throw new StoreError(
            "bad-stream",
            what + " is truncated (" + head.length + " bytes): not a whole btrfs send stream",
          );
        }
        head = Buffer.concat([head, Buffer.from(r.value)]);
        parsed = parseStreamHead(head, what);
      }
      const version = checkVersion(parsed.name, "base version (the stream's subvolume name)");
      if (await fsp.lstat(p.base(version)).catch(() => null)) {
        throw new StoreError(
          "exists",
          "base " + version + " exists: remove it first (base gc) or send another version",
        );
      }
      await ensureDir(p.bases);
      await ensureDir(p.tmp);
      work = path.join(p.tmp, tmpName("receive", version.replace(/\./g, "_")));
      await fsp.mkdir(work).catch((e) => {
        throw fsError(e, "creating " + work);
      });
      let bytes = head.length;
      if (fileSize >= 0) {
        bytes = fileSize;
        await btrfsReceive(work, source as string, what);
      } else await btrfsReceive(work, Readable.from(rest()), what);
      async function* rest(): AsyncGenerator<Buffer> {
        yield head;
        if (ended) return;
        for (;;) {
          const r = await it.next();
          if (r.done) return;
          bytes += r.value.length;
          yield r.value;
        }
      }
      const got = await readDirSorted(work);
      if (got.length !== 1 || got[0] !== parsed.name) {
        throw new StoreError(
          "bad-stream",
          what +
            " made " +
            JSON.stringify(got) +
            " where one subvolume " +
            JSON.stringify(parsed.name) +
            " was expected",
        );
      }
      const received = path.join(work, got[0]);
      if (!(await isSubvolume(received)) || !(await refusesWrites(received))) {
        throw new StoreError(
          "bad-stream",
          what + " is truncated: the received subvolume was never completed",
        );
      }
      await snapshotSubvolume(received, p.base(version), true);
      return {
        version,
        incremental: parsed.incremental,
        bytes,
        ms: Math.round(performance.now() - t0),
        cleaned: session.cleaned,
      };
    } finally {
      if (typeof it.return === "function") await it.return().catch(() => {});
      if (work) await removeAny(work).catch(() => {});
    }
  }).finally(closeInput);
}

/**
 * True when `dir` is read-only, found by trying to create a file in it (EROFS), which costs no
 * `btrfs property get` process. A completed `btrfs receive` sets read-only as its last step.
 */
async function refusesWrites(dir: string): Promise<boolean> {
  const probe = path.join(dir, ".flipper-ro-probe");
  try {
    await (await fsp.open(probe, "wx")).close();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EROFS") return true;
    if (code === "EEXIST") return false;
    throw fsError(e, "checking that " + dir + " is read-only");
  }
  await fsp.rm(probe, { force: true });
  return false;
}

/**
 * Runs `btrfs receive -e DIR` fed from `input` (or reading the file `input` itself); its failures
 * become bad-stream or no-space.
 */
async function btrfsReceive(dir: string, input: Readable | string, what: string): Promise<void> {
  const fromFile = typeof input === "string";
  const child = spawn("btrfs", ["receive", "-e", ...(fromFile ? ["-f", input] : []), dir], {
    stdio: [fromFile ? "ignore" : "pipe", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => {
    if (stderr.length < 8192) stderr += d;
  });
  const exited = new Promise<{ code: number | null; error: Error | null }>((resolve) => {
    child.once("error", (error) => resolve({ code: null, error }));
    child.once("close", (code) => resolve({ code, error: null }));
  });
  const fed = new Promise<void>((resolve) => {
    if (typeof input === "string" || child.stdin === null) return resolve();
    // The child stops reading when it fails: the write side then sees EPIPE, which is not the error.
    child.stdin.on("error", () => {});
    const stdin = child.stdin;
    input.on("error", () => {
      stdin.destroy();
      resolve();
    });
    input.once("end", () => resolve());
    stdin.once("close", () => resolve());
    input.pipe(stdin);
  });
  const [res] = await Promise.all([exited, fed]);
  if (res.error) {
    throw new Error(
      (res.error as NodeJS.ErrnoException).code === "ENOENT"
        ? "btrfs is not installed (install btrfs-progs)"
        : "btrfs receive failed: " + res.error.message,
    );
  }
  if (res.code !== 0) {
    const msg = stderr
      .split("\n")
      .filter((l) => /ERROR|error/.test(l))
      .join("; ")
      .trim();
    throw (
      classify(stderr, "receiving " + what) ??
      new StoreError("bad-stream", what + " was refused by btrfs receive: " + (msg || "exit " + res.code))
    );
  }
}
