// biome-ignore-all lint/suspicious/noTemplateCurlyInString: U-Boot script text
// U-Boot figures for `npm run bench`: I2C bytes and wire time of the happy path, then for each SABRE Lite
// U-Boot build (2023.01, 2025.01): the U-Boot commands the happy path runs and the script's run time in QEMU
// against a baseline that only sets bootargs (same QEMU boot). Rows: uboot.<version>.<figure>.
//   npx tsx bench/uboot.ts
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BLOCK_LENGTH, encodeBlock } from "../protocol/register-block";
import { instrumentCommandCount } from "../uboot-script/command-count";
import { generateBootCmd } from "../uboot-script/generate";
import { UbootSession, type UbootCase } from "../uboot-script/harness";
import { BOARDS, SABRELITE_BOARDS, type UbootBoard } from "../uboot-script/qemu";

const I2C_HZ = 400000;
const RUNS = 5;
/** Each timed case runs its script this many times (the 1 MiB stick limits it), amortising the per-case overhead. */
const REPS = 4;
const repeat = (text: string) => ("setenv bootargs\n" + text).repeat(REPS);

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function benchUboot(): Promise<Record<string, string | number>> {
  // One combined write-then-read transaction: START, address+W, register hi, register lo,
  // repeated START, address+R, 64 data bytes, STOP. 9 clocks a byte (8 bits + ACK/NACK).
  const wireBytes = 1 + 2 + 1 + BLOCK_LENGTH;
  const wireBits = wireBytes * 9 + 3;
  const out: Record<string, string | number> = {
    "uboot.i2c_read_bytes": BLOCK_LENGTH,
    "uboot.i2c_wire_bytes": wireBytes,
    "uboot.i2c_wire_ms_at_400khz": Number(((wireBits / I2C_HZ) * 1000).toFixed(3)),
    "uboot.i2c_transactions": 1,
  };
  for (const board of SABRELITE_BOARDS) Object.assign(out, await benchBuild(board));
  return out;
}

/** The happy path's command count and script time on one build (sequentially: one QEMU at a time). */
async function benchBuild(board: UbootBoard): Promise<Record<string, string | number>> {
  const info = BOARDS[board];
  const k = (name: string) => "uboot." + info.version + "." + name;
  const out: Record<string, string | number> = {};
  if (!existsSync(info.binary)) {
    out[k("qemu")] = "skipped: missing " + info.binary + ", run sh uboot-script/setup.sh";
    return out;
  }
  const block = encodeBlock({
    status: 2,
    action: 1,
    reason: 3,
    flags: 4,
    tryNumber: 1,
    maxTries: 3,
    sequence: 1,
    profileId: "desktop",
    base: "1.2",
  });
  const baseline = 'setenv bootargs "${bootargs} flipper.profile=desktop flipper.base=1.2"\n';
  const cases: UbootCase[] = [
    { block, scriptText: instrumentCommandCount(generateBootCmd()), after: ["printenv fl_cc"] },
  ];
  for (let r = 0; r < RUNS; r++) {
    cases.push({ block, scriptText: repeat("true\n") });
    cases.push({ block, scriptText: repeat(baseline) });
    cases.push({ block, scriptText: repeat(generateBootCmd()) });
  }
  const s = new UbootSession({ board });
  const empty: number[] = [];
  const base: number[] = [];
  const flipper: number[] = [];
  try {
    await s.start(cases);
    out[k("qemu_boot_to_prompt_ms")] = s.bootMs;
    const counted = await s.runCase(0);
    const m = /fl_cc=([0-9a-f]+)/.exec(counted.afterOutput[0]);
    out[k("happy_path_commands")] = m ? parseInt(m[1], 16) : "unknown";
    for (let i = 1; i < cases.length; i += 3) {
      empty.push((await s.runCase(i)).ms);
      base.push((await s.runCase(i + 1)).ms);
      const r = await s.runCase(i + 2);
      if (r.bootargs !== "flipper.profile=desktop flipper.base=1.2")
        throw new Error("unexpected bootargs " + r.bootargs);
      flipper.push(r.ms);
    }
  } finally {
    s.close();
  }
  // Per run of a script: (case time - the empty case run just before it) / REPS, the median over runs
  // (a host whose load changes during the bench shifts both sides of each difference alike). The
  // console timing resolves about 1 ms per case, so a script cheaper than 1/REPS ms is reported as
  // below that bound.
  const overhead = median(empty);
  const resolution = 1 / REPS;
  const b = median(base.map((ms, r) => ms - empty[r])) / REPS;
  const f = median(flipper.map((ms, r) => ms - empty[r])) / REPS;
  out[k("empty_case_ms")] = overhead;
  out[k("baseline_case_ms (" + REPS + " runs)")] = median(base);
  out[k("flipper_case_ms (" + REPS + " runs)")] = median(flipper);
  out[k("flipper_script_ms (one run)")] = Number(f.toFixed(2));
  out[k("baseline_script_ms (one run)")] =
    b > resolution ? Number(b.toFixed(2)) : "< " + resolution + " (not measurable)";
  out[k("flipper_vs_baseline_ratio")] =
    b > resolution
      ? Number((f / b).toFixed(1))
      : "> " + Math.floor(f / resolution) + " (baseline below resolution)";
  return out;
}

/** The rows `npm run bench` prints (the shape every bench/<area>.ts exports). */
export async function bench(): Promise<Array<[string, string]>> {
  return Object.entries(await benchUboot()).map(([k, v]) => [k, String(v)]);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  benchUboot().then(
    (r) => {
      for (const [k, v] of Object.entries(r)) console.log(k + " " + v);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
