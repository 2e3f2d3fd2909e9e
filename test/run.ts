// `npm test`: every check the project has, in one command, ending with one line
// "N passed, N failed". The formatter/linter, the type-checker and the DeviceScript builds
// count as one check each; every ava test counts as one.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

interface Step {
  name: string;
  cmd: string[];
}

const pkg = JSON.parse(await import("node:fs").then((fs) => fs.readFileSync("package.json", "utf8")));
const steps: Step[] = [
  { name: "biome check (format + lint)", cmd: ["npx", "biome", "check", "."] },
  { name: "tsc --noEmit (strict)", cmd: ["npx", "tsc", "-p", "tsconfig.json", "--noEmit"] },
];
for (const script of ["protocol:devs", "mcu:build", "uboot:build", "bridge:build"]) {
  if (pkg.scripts?.[script])
    steps.push({ name: `npm run ${script}`, cmd: ["npm", "run", "--silent", script] });
}

function run(cmd: string[], onLine?: (line: string) => void): Promise<number> {
  return new Promise((done) => {
    const child = spawn(cmd[0], cmd.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
    let rest = "";
    child.stdout.on("data", (chunk: Buffer) => {
      process.stdout.write(chunk);
      if (!onLine) return;
      const text = rest + chunk.toString("utf8");
      const lines = text.split("\n");
      rest = lines.pop() ?? "";
      for (const l of lines) onLine(l);
    });
    child.on("close", (code) => {
      if (onLine && rest) onLine(rest);
      done(code ?? 1);
    });
  });
}

let passed = 0;
let failed = 0;
const failures: string[] = [];
for (const step of steps) {
  console.log(`\n=== ${step.name}`);
  const code = await run(step.cmd);
  if (code === 0) passed++;
  else {
    failed++;
    failures.push(step.name);
  }
}

// ava with its TAP reporter, so every test's result can be counted exactly.
console.log("\n=== ava (test/**/*.test.ts)");
let avaPass = 0;
let avaFail = 0;
let avaTodo = 0;
const avaArgs = process.argv.slice(2);
// A failure's "FAILED" log lines and its assertion block, repeated in the summary at the end, where a
// long log's cut-off middle cannot hide them.
const failureDetails = new Map<string, string[]>();
let collecting: string[] | null = null;
let inBlock = false;
const code = await run(["npx", "ava", "--tap", ...avaArgs], (line) => {
  if (/^ok \d+/.test(line)) {
    collecting = null;
    if (/# (SKIP|TODO)/.test(line)) avaTodo++;
    else avaPass++;
  } else if (/^not ok \d+/.test(line)) {
    avaFail++;
    const name = line.replace(/^not ok \d+ - /, "");
    failures.push(name);
    collecting = [];
    inBlock = false;
    failureDetails.set(name, collecting);
  } else if (collecting && collecting.length < 40) {
    if (/^\s+---$/.test(line)) inBlock = true;
    else if (/^\s+\.\.\.$/.test(line)) inBlock = false;
    else if (inBlock || /^\s*#\s+FAILED /.test(line)) collecting.push(line.slice(0, 400));
  }
});
passed += avaPass;
failed += avaFail + avaTodo; // a skipped or todo test is not a pass
if (code !== 0 && avaFail === 0) {
  failed++;
  failures.push(`ava exited with code ${code}`);
}
if (!existsSync("test")) failed++;

if (failures.length > 0) {
  console.log("\nFailed:");
  for (const f of failures) {
    console.log(`  - ${f}`);
    for (const d of failureDetails.get(f) ?? []) console.log(`      ${d.trim()}`);
  }
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
