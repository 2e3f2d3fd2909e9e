// Shared pieces of the fuzz tests (protocol decoders, the MCU link, the bridge link): the input
// budget, the seed (printed; FUZZ_SEED replays a run), a fast deterministic PRNG, an input wrapper
// that throws on any out-of-bounds read, and the mutations.

/** Total fuzz inputs (frames, payloads and blocks) across the three fuzz files. */
export const FUZZ_TOTAL = fuzzTotal(process.env.FUZZ_FRAMES);

function fuzzTotal(env: string | undefined): number {
  if (env === undefined || env === "") return 1_000_000;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 100) {
    throw new Error(`FUZZ_FRAMES ${JSON.stringify(env)} is invalid: must be a whole number of at least 100`);
  }
  return n;
}

/** Shares of FUZZ_TOTAL per file; they add up to 1. */
export const FUZZ_SHARE = { protocol: 0.6, mcuLink: 0.25, bridgeLink: 0.15 } as const;

export function fuzzCount(share: number): number {
  return Math.round(FUZZ_TOTAL * share);
}

/** The seed of this run: FUZZ_SEED when set, otherwise a fresh one (printed by the tests). */
export function fuzzSeed(): number {
  const env = process.env.FUZZ_SEED;
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      throw new Error(`FUZZ_SEED ${JSON.stringify(env)} is invalid: must be an integer 0 to 4294967295`);
    }
    return n;
  }
  return Math.floor(Math.random() * 0x100000000);
}

/** How to replay a failure, for the test's messages. */
export function replayHint(seed: number): string {
  return `FUZZ_SEED=${seed} FUZZ_FRAMES=${FUZZ_TOTAL}`;
}

/** Deterministic PRNG (mulberry32): floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const guardHandler: ProxyHandler<number[]> = {
  get(target, prop) {
    // The hot paths first: readers ask for length and indexes all the time.
    if (prop === "length") return target.length;
    if (typeof prop === "string") {
      const i = +prop;
      // An index (a numeric key, "-1" included): anything outside 0..length-1 is a bug in the reader.
      if (!Number.isNaN(i) && prop !== "") {
        if (!(i >= 0 && i < target.length)) throw new RangeError(`read at ${prop} of ${target.length}`);
        return target[i];
      }
    }
    return (target as unknown as Record<string | symbol, unknown>)[prop];
  },
};

/** An array that throws when read outside its bounds. */
export function guarded(data: number[]): number[] {
  return new Proxy(data, guardHandler);
}

export function randomBytes(rand: () => number, n: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

/** One to four edits: bit flips, inserted, deleted, duplicated or extreme bytes, truncation. */
export function mutate(rand: () => number, input: number[]): number[] {
  const out = input.slice();
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const op = Math.floor(rand() * 6);
    const at = Math.floor(rand() * (out.length + 1));
    if (op === 0 && out.length > 0) out[at % out.length] ^= 1 << Math.floor(rand() * 8);
    else if (op === 1) out.splice(at, 0, Math.floor(rand() * 256));
    else if (op === 2 && out.length > 0) out.splice(at % out.length, 1);
    else if (op === 3) out.length = Math.floor(rand() * out.length);
    else if (op === 4) out.splice(at, 0, ...out.slice(0, Math.floor(rand() * 8)));
    else if (out.length > 0) out[at % out.length] = rand() < 0.5 ? 0 : 0xff;
  }
  return out;
}

export function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)];
}
