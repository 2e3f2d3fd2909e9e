// A listing of a whole store tree that also covers what a real overlay leaves in an upper
// (whiteouts are character devices 0/0, opaque folders carry an xattr): equal listings mean
// nothing changed. The lock file is left out.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { subvolumes } from "./btrfs";

export function fullListing(mnt: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(mnt, rel)).sort()) {
      const r = rel ? rel + "/" + name : name;
      if (r === ".flipper-lock") continue;
      const st = lstatSync(path.join(mnt, r));
      const meta = " " + (st.mode & 0o7777).toString(8) + " " + st.uid + ":" + st.gid;
      if (st.isSymbolicLink()) out.push(r + " -> link" + meta);
      else if (st.isDirectory()) {
        out.push(r + "/" + (st.ino === 256 ? " subvolume" : "") + meta);
        walk(r);
      } else if (st.isFile()) {
        out.push(
          r +
            " " +
            createHash("sha256")
              .update(readFileSync(path.join(mnt, r)))
              .digest("hex")
              .slice(0, 16) +
            meta,
        );
      } else out.push(r + " device " + st.rdev + meta);
    }
  };
  walk("");
  // getfattr exits 1 when some files lack the attribute: its output is still the answer.
  const r = spawnSync("getfattr", ["-R", "-P", "--absolute-names", "-n", "trusted.overlay.opaque", mnt], {
    encoding: "utf8",
  });
  if (r.error) throw new Error("getfattr is missing (apt-get install attr): " + r.error.message);
  const opaque = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("# file: "))
    .map((l) => "opaque " + path.relative(mnt, l.slice(8)));
  return [...out, ...opaque, ...subvolumes(mnt).readonly.map((r) => "ro " + r)];
}

/** A store context on `store` where nothing runs (no booted file, no kernel command line). */
export function at(
  store: string,
  running: string | null = null,
): { store: string; booted: string; cmdline: string } {
  const none = path.join(store, ".no-such-file");
  if (running === null) return { store, booted: none, cmdline: none };
  const file = path.join(path.dirname(store), "booted");
  writeFileSync(file, "profile=" + running + "\nbase=\naction=boot\n");
  return { store, booted: file, cmdline: none };
}
