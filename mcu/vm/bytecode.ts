// Programs for the VM: compiled once per process with the real DeviceScript compiler (and again after
// a source under mcu/ or protocol/ changed), and the VM processes still running, killed at exit.
import { type ChildProcess, execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is mcu/vm/bytecode.ts). */
export const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));
/** The DeviceScript CLI. */
export const CLI = join(REPO, "node_modules/@devicescript/cli/devicescript");

/** Fingerprint of the sources a program may compile (every .ts under mcu/ and protocol/). */
function sourcesFingerprint(): string {
  const h = createHash("sha1");
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const f = join(dir, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.name.endsWith(".ts")) {
        const st = statSync(f);
        h.update(`${f}:${st.mtimeMs}:${st.size}\n`);
      }
    }
  };
  for (const d of ["mcu", "protocol"]) walk(join(REPO, d));
  return h.digest("hex");
}

/** VM processes still running: killed when this process exits, however it exits. */
export const liveVms = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of liveVms) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

const builds = new Map<string, Promise<string>>();
let binDir: string | null = null;
let buildCount = 0;

/**
 * `file` (relative to the repository) compiled to bytecode with `devs build`, once per process and
 * again after a source changed; the VM then starts from the bytecode (`devs run FILE.devs`). The
 * compile was most of a VM start, 30 s of it on a loaded machine, and a scenario restarts the VM
 * several times.
 */
export function compiled(file: string): Promise<string> {
  const key = `${file}@${sourcesFingerprint()}`;
  let p = builds.get(key);
  if (!p) {
    p = buildBytecode(file);
    builds.set(key, p);
    p.catch(() => builds.delete(key));
  }
  return p;
}

async function buildBytecode(file: string): Promise<string> {
  if (binDir === null) {
    const dir = mkdtempSync(join(tmpdir(), "devs-bin-"));
    binDir = dir;
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  const work = mkdtempSync(join(binDir, "build-"));
  try {
    writeFileSync(join(work, "devsconfig.json"), "{}\n");
    symlinkSync(join(REPO, "node_modules"), join(work, "node_modules"));
    // Up to three tries: a build failed once and passed when run again (every `devs build` rewrites
    // node_modules/@devicescript/*, so builds side by side may race there).
    for (let attempt = 1; ; attempt++) {
      const err = await new Promise<Error | null>((res) =>
        execFile(
          process.execPath,
          [CLI, "build", join(REPO, file)],
          { cwd: work, timeout: 600_000, maxBuffer: 16 << 20 },
          (e, stdout, stderr) => res(e ? new Error(`devs build ${file} failed:\n${stdout}${stderr}`) : null),
        ),
      );
      if (!err) break;
      if (attempt === 3) throw err;
    }
    const out = join(binDir, `${++buildCount}-${file.replace(/[^A-Za-z0-9.]+/g, "_")}.devs`);
    renameSync(join(work, ".devicescript", "bin", "bytecode.devs"), out);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
