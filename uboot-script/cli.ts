// Runs boot.scr once in QEMU's U-Boot and prints the final bootargs and every `flipper:` line.
//   npm run uboot -- --block FILE [--env saved.env] [--fragments DIR] [--bootargs "..."] [--set k=v] [--absent]
//                    [--full] [--console] [--board sabrelite|sabrelite-2025|virt64|virt64-overlay]
// --block: the 64-byte block (binary file; `-` reads the block as hex text from stdin).
// --env: key=value lines (the saved environment, like fw_printenv prints it).
// --fragments: a directory mirroring the boot partition's flipper/ folder (<id>.env, overlays/<name>.dtbo).
// --board: U-Boot to run (README.md "Boards"); the virt64 boards have no I2C: use --absent.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { runUboot, type UbootCase } from "./harness";
import { BOARDS, type UbootBoard } from "./qemu";

function usage(): never {
  console.error(
    "usage: npm run uboot -- [--block FILE|-] [--absent] [--env FILE] [--fragments DIR] [--bootargs TEXT] [--set K=V]... [--full] [--console] [--echo] [--board NAME]",
  );
  process.exit(2);
}

function parseEnvText(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0 && !line.startsWith("#")) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const c: UbootCase = {};
  let showConsole = false;
  let echo = false;
  let board: UbootBoard = "sabrelite";
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const next = () => {
      if (i + 1 >= args.length) usage();
      return args[++i];
    };
    if (a === "--block") {
      const f = next();
      c.block =
        f === "-"
          ? [...Buffer.from(readFileSync(0, "utf8").replace(/[^0-9a-fA-F]/g, ""), "hex")]
          : [...readFileSync(f)];
    } else if (a === "--absent") c.block = null;
    else if (a === "--env") c.savedEnv = parseEnvText(readFileSync(next(), "utf8"));
    else if (a === "--fragments") {
      const dir = next();
      c.bootFiles = {};
      const walk = (d: string, rel: string) => {
        for (const n of readdirSync(d)) {
          const p = join(d, n);
          if (statSync(p).isDirectory()) walk(p, rel + n + "/");
          else c.bootFiles![rel + n] = readFileSync(p);
        }
      };
      walk(dir, "flipper/");
    } else if (a === "--bootargs") c.presetBootargs = next();
    else if (a === "--set") {
      const kv = next();
      const eq = kv.indexOf("=");
      if (eq <= 0) usage();
      c.env = { ...(c.env ?? {}), [kv.slice(0, eq)]: kv.slice(eq + 1) };
    } else if (a === "--full") c.fullBoot = true;
    else if (a === "--console") showConsole = true;
    else if (a === "--echo") echo = true;
    else if (a === "--board") {
      const b = next();
      if (!Object.keys(BOARDS).includes(b)) {
        console.error("--board " + JSON.stringify(b) + ": allowed: " + Object.keys(BOARDS).join(", "));
        process.exit(2);
      }
      board = b as UbootBoard;
    } else usage();
  }
  if (!BOARDS[board].i2c && c.block !== null) {
    console.error("--board " + board + " has no I2C target: add --absent");
    process.exit(2);
  }
  const r = await runUboot(c, { echo, board });
  if (showConsole) console.log(r.console);
  for (const l of r.flipperLines) console.log(l);
  console.log("bootargs=" + (r.bootargs ?? ""));
}

main().catch((e) => {
  console.error(String(e && e.stack ? e.stack : e));
  process.exit(1);
});
