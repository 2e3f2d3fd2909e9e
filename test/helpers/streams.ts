// Real `btrfs send` streams for the base tests and benchmarks: subvolumes are built on a scratch
// btrfs of their own (never the store under test), made read-only and sent to files.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type BtrfsFs, makeBtrfs } from "./btrfs";

export interface StreamMaker {
  fs: BtrfsFs;
  dir: string;
  /**
   * A full stream of a read-only subvolume called `name` holding `files` (path -> content), or built
   * by `fill(root)`; returns the stream file's path.
   */
  make(name: string, files?: Record<string, string | Buffer>, fill?: (root: string) => void): string;
  cleanup(): void;
}

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 << 20,
  });
}

export function streamMaker(sizeMb = 256): StreamMaker {
  const fs = makeBtrfs(sizeMb, "source");
  const dir = mkdtempSync(path.join(os.tmpdir(), "fb-streams-"));
  let n = 0;
  return {
    fs,
    dir,
    make(name, files = {}, fill) {
      // Each subvolume in its own folder, so the same name can be sent twice with other content.
      const holder = path.join(fs.mnt, "s" + n++);
      mkdirSync(holder);
      const root = path.join(holder, name);
      sh("btrfs", ["subvolume", "create", root]);
      for (const [f, content] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
        writeFileSync(path.join(root, f), content);
      }
      if (fill) fill(root);
      sh("btrfs", ["property", "set", "-ts", root, "ro", "true"]);
      const out = path.join(dir, "s" + n + ".stream");
      sh("btrfs", ["send", "-q", "-f", out, root]);
      return out;
    },
    cleanup() {
      fs.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
