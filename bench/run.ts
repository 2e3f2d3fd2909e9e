// `npm run bench`: every area's figures, printed as a table. Each area lives in bench/<area>.ts
// and exports bench(); an area whose prerequisites are missing reports why instead of a figure.
import { existsSync } from "node:fs";

const areas = ["protocol", "uboot", "mcu", "mcu-vm", "bridge", "profiles", "sim", "store", "linux"];
const only = process.argv.slice(2);

for (const area of areas) {
  if (only.length > 0 && !only.includes(area)) continue;
  const file = new URL(`./${area}.ts`, import.meta.url);
  if (!existsSync(file)) continue;
  console.log(`\n## ${area}`);
  const started = performance.now();
  try {
    const mod = (await import(file.href)) as { bench: () => Promise<Array<[string, string]>> };
    for (const [label, value] of await mod.bench()) console.log(`${label.padEnd(56)} ${value}`);
  } catch (err) {
    console.log(`(failed: ${(err as Error).message})`);
    process.exitCode = 1;
  }
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
