// CLI: `tsx test/helpers/devs-build.ts FILE...` compiles each file with the real DeviceScript
// compiler (in an isolated work folder) and prints its bytecode size; exits 1 if any fails.
import { bytecodeBytes, devsBuild } from "./devs";

let failed = 0;
for (const file of process.argv.slice(2)) {
  const r = await devsBuild(file);
  const size = bytecodeBytes(r.output);
  if (r.code !== 0 || /error TS\d+|exception:/.test(r.output) || Number.isNaN(size)) {
    failed++;
    console.error(r.output);
    console.error(`devs build ${file}: FAILED`);
  } else {
    console.log(`devs build ${file}: ok, bytecode ${size} bytes`);
  }
}
process.exit(failed ? 1 : 0);
