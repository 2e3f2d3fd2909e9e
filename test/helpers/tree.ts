// Listings of a whole store tree: equal listings mean a command changed nothing. `treeListing`
// gives each entry's kind and content hash and which subvolumes are read-only; `fullListing` adds
// modes, owners, devices (a real overlay's whiteouts are character devices 0/0) and opaque folders
// (an xattr). The lock file is left out of both.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { subvolumes } from "./btrfs";

/** One line per entry under `mnt`, in order; `meta` adds mode and owner to each line. */
function entries(mnt: string, meta: boolean): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(mnt, rel)).sort()) {
      const r = rel ? rel + "/" + name : name;
      if (r === ".flipper-lock") continue;
      const st = lstatSync(path.join(mnt, r));
      const m = meta ? " " + (st.mode & 0o7777).toString(8) + " " + st.uid + ":" + st.gid : "";
      if (st.isSymbolicLink()) out.push(r + " -> link" + m);
      else if (st.isDirectory()) {
        out.push(r + "/" + (st.ino === 256 ? " subvolume" : "") + m);
        walk(r);
      } else if (st.isFile()) {
        const hash = createHash("sha256")
          .update(readFileSync(path.join(mnt, r)))
          .digest("hex")
          .slice(0, 16);
        out.push(r + " " + hash + m);
      } else out.push(r + " device " + st.rdev + m);
    }
  };
  walk("");
  return out;
}

const readonlyLines = (mnt: string) => subvolumes(mnt).readonly.map((r) => "ro " + r);

/** Every entry with its kind and content hash, then the read-only subvolumes. */
export function treeListing(mnt: string): string[] {
  return [...entries(mnt, false), ...readonlyLines(mnt)];
}

/** treeListing with modes, owners and devices, and the upper's opaque folders. */
export function fullListing(mnt: string): string[] {
  // getfattr exits 1 when some files lack the attribute: its output is still the answer.
  const r = spawnSync("getfattr", ["-R", "-P", "--absolute-names", "-n", "trusted.overlay.opaque", mnt], {
    encoding: "utf8",
  });
  if (r.error) throw new Error("getfattr is missing (apt-get install attr): " + r.error.message);
  const opaque = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("# file: "))
    .map((l) => "opaque " + path.relative(mnt, l.slice(8)));
  return [...entries(mnt, true), ...opaque, ...readonlyLines(mnt)];
}
