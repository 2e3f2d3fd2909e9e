// The saved U-Boot environment: a real env image that the real fw_setenv/fw_printenv (libubootenv)
// edit, as Linux does on the device.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((res, rej) =>
    execFile(cmd, args, (e, stdout, stderr) =>
      e ? rej(new Error(cmd + " failed: " + stderr)) : res(stdout),
    ),
  );
}

export class SavedEnv {
  readonly file: string;
  readonly config: string;

  /** The image `<dir>/uboot-env.bin` (made when missing) and its `fw_env.config`. */
  constructor(private dir: string) {
    this.file = join(dir, "uboot-env.bin");
    this.config = join(dir, "fw_env.config");
  }

  prepare(): void {
    writeFileSync(this.config, this.file + " 0x0 0x4000\n");
    if (existsSync(this.file)) return;
    const txt = join(this.dir, "uboot-env.txt");
    writeFileSync(txt, "bootdelay=3\n");
    execFileSync("mkenvimage", ["-s", "0x4000", "-o", this.file, txt]);
    rmSync(txt, { force: true });
  }

  /** The `flipper_*` variables, read with the real fw_printenv. */
  async read(): Promise<Record<string, string>> {
    const out = await run("fw_printenv", ["-c", this.config]);
    const env: Record<string, string> = {};
    for (const line of out.split("\n")) {
      const i = line.indexOf("=");
      if (i > 0 && line.startsWith("flipper_")) env[line.slice(0, i)] = line.slice(i + 1);
    }
    return env;
  }

  /** Writes with the real fw_setenv ("" deletes a variable). */
  async write(vars: Record<string, string>): Promise<void> {
    const script = join(this.dir, "fw-setenv.txt");
    writeFileSync(
      script,
      Object.keys(vars)
        .map((k) => k + (vars[k] === "" ? "" : "=" + vars[k]))
        .join("\n") + "\n",
    );
    await run("fw_setenv", ["-c", this.config, "-s", script]);
  }
}
