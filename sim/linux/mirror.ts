// The Debian mirror comes from this machine's own apt sources, read at run time, so the project
// never names a mirror host.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface Mirrors {
  /** The main archive (e.g. what serves `trixie`). */
  main: string;
  /** The security archive, when the sources name one. */
  security: string | null;
}

/** Reads deb822 `*.sources` files, then the one-line `sources.list` format. */
export function aptMirrors(etcApt = "/etc/apt"): Mirrors {
  const uris: string[] = [];
  const dir = join(etcApt, "sources.list.d");
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith(".sources")) continue;
      for (const m of readFileSync(join(dir, f), "utf8").matchAll(/^URIs:\s*(.+)$/gm)) {
        uris.push(...m[1].trim().split(/\s+/));
      }
    }
  }
  const list = join(etcApt, "sources.list");
  if (existsSync(list)) {
    for (const m of readFileSync(list, "utf8").matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/gm)) uris.push(m[1]);
  }
  const http = uris.filter((u) => /^https?:\/\//.test(u)).map((u) => u.replace(/\/+$/, ""));
  const main = http.find((u) => !/security/.test(u));
  if (!main) {
    throw new Error(
      `no Debian mirror in ${dir}/*.sources (URIs:) or ${list} (deb lines): the test image is built from the machine's own apt sources`,
    );
  }
  return { main, security: http.find((u) => /security/.test(u)) ?? null };
}
