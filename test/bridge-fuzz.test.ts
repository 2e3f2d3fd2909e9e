// Fuzzing the bridge end of the link (soc-bridge/link.ts and the operations on it): an MCU that
// answers every request with garbage, events, replies to other requests, damaged frames and
// mutated replies of any result, in any chunking: 15% of the fuzz budget (see helpers/fuzz.ts).
// Every input throws on an out-of-bounds read; every operation must end in a value or a plain
// Error that says what went wrong, never a crash, and the link must keep working afterwards.
// The seed is printed; FUZZ_SEED=N replays a run.
import test from "ava";
import { encodeFrame, type Frame, FrameDecoder, FrameKind, MAX_WIRE_FRAME } from "../protocol/frame";
import {
  decodeBootReport,
  decodeHelloResponse,
  decodeSetDefault,
  encodeBootReport,
  encodeHelloResponse,
  encodeProfileReply,
  encodeSetDefault,
  encodeState,
  listCrc,
  type McuState,
  MessageType,
  Result,
} from "../protocol/messages";
import type { ProfileRecord } from "../protocol/profile";
import { McuLink, type Transport } from "../soc-bridge/link";
import * as ops from "../soc-bridge/ops";
import {
  FUZZ_SHARE,
  fuzzCount,
  fuzzSeed,
  guarded,
  mutate,
  pick,
  prng,
  randomBytes,
  replayHint,
} from "./helpers/fuzz";

const COUNT = fuzzCount(FUZZ_SHARE.bridgeLink);

const rec = (id: string, i: number): ProfileRecord => ({
  id,
  name: "Profile " + i,
  base: "1.4.2",
  origin: "",
  flags: 0,
  created: 1_760_000_000 + i,
  lastUsed: 0,
});
const LIST = Array.from({ length: 5 }, (_, i) => rec("p" + i, i));
const report = {
  sequence: 4,
  action: 1,
  reason: 3,
  flags: 4,
  tryNumber: 1,
  maxTries: 3,
  id: "p1",
  base: "1.4.2",
  good: 0,
};
const state = (list: ProfileRecord[]): McuState => ({
  generation: 9,
  profileCount: list.length,
  listCrc: listCrc(list),
  maxProfiles: 32,
  defaultMode: 0,
  defaultId: "p1",
  nextAction: 0,
  nextId: "",
  options: { timeoutSeconds: 3, showMenu: 0, maxTries: 3 },
  lastGoodId: "p0",
  lastBoot: report,
  tries: [{ id: "p2", tries: 2, failed: 0 }],
});
const hello = {
  version: 2,
  maxPayload: 512,
  capabilities: 31,
  maxProfiles: 32,
  generation: 9,
  instance: 77,
  minVersion: 2,
  maxVersion: 2,
};

/** A good OK reply payload for each request type. */
function goodReply(type: number, payload: number[]): number[] {
  if (type === MessageType.HELLO) return encodeHelloResponse(hello);
  if (type === MessageType.GET_STATE) return encodeState(state(LIST));
  if (type === MessageType.GET_PROFILE) {
    const index = payload[0] ?? 0;
    return encodeProfileReply({ generation: 9, count: LIST.length, index, record: LIST[index] ?? LIST[0] });
  }
  return [];
}

const RESULTS = Object.values(Result) as number[];

test(`fuzz: the bridge link fed ${COUNT} garbage frames and fuzzed replies: no throw, no out-of-bounds read, every operation ends in a value or a clear error`, async (t) => {
  const seed = fuzzSeed();
  t.log(`seed ${seed} (replay: ${replayHint(seed)} npx ava test/bridge-fuzz.test.ts)`);
  const rand = prng(seed);
  let deliver: (chunk: Uint8Array) => void = () => {};
  let fed = 0;
  let crashed = "";
  const feed = (bytes: number[]) => {
    // Any chunking: the line delivers what it has.
    for (let at = 0; at < bytes.length; ) {
      const n = rand() < 0.7 ? bytes.length - at : 1 + Math.floor(rand() * (bytes.length - at));
      try {
        deliver(guarded(bytes.slice(at, at + n)) as unknown as Uint8Array);
      } catch (e) {
        crashed ||= `receiving [${bytes}] threw ${(e as Error).stack}`;
      }
      at += n;
    }
    fed++;
  };
  const fromBridge = new FrameDecoder(MAX_WIRE_FRAME);
  let clean = false;
  const answer = (req: Frame) => {
    if (clean) {
      feed(
        encodeFrame({
          type: req.type,
          seq: req.seq,
          kind: FrameKind.RESPONSE,
          result: 0,
          payload: goodReply(req.type, req.payload),
        }),
      );
      return;
    }
    // Noise, events and replies to other requests before the answer (or instead of it).
    const extra = Math.floor(rand() * 3);
    for (let i = 0; i < extra; i++) {
      const r = rand();
      if (r < 0.4) feed([...randomBytes(rand, Math.floor(rand() * 60)), 0]);
      else if (r < 0.7) {
        const type = pick(rand, [
          MessageType.EVENT_BOOT,
          MessageType.EVENT_DEFAULT_CHANGED,
          MessageType.EVENT_HELLO,
        ]);
        const good =
          type === MessageType.EVENT_BOOT
            ? encodeBootReport(report)
            : type === MessageType.EVENT_HELLO
              ? encodeHelloResponse(hello)
              : encodeSetDefault({ mode: 0, id: "p1" });
        feed(
          encodeFrame({
            type,
            seq: Math.floor(rand() * 256),
            kind: FrameKind.EVENT,
            result: 0,
            payload: mutate(rand, good),
          }),
        );
      } else {
        feed(
          encodeFrame({
            type: rand() < 0.5 ? req.type : Math.floor(rand() * 256),
            seq: (req.seq + 1 + Math.floor(rand() * 254)) & 0xff,
            kind: FrameKind.RESPONSE,
            result: 0,
            payload: goodReply(req.type, req.payload),
          }),
        );
      }
    }
    const r = rand();
    // Lost or damaged replies cost the link a timeout each: rare, so the budget goes to content.
    if (r < 0.01) return; // lost: the link times out and retries
    const good = goodReply(req.type, req.payload);
    const result =
      r < 0.75
        ? Result.OK
        : pick(
            rand,
            RESULTS.filter((c) => c !== Result.BUSY || rand() < 0.1),
          );
    const payload =
      result !== Result.OK
        ? randomBytes(rand, Math.floor(rand() * 30))
        : rand() < 0.5
          ? mutate(rand, good)
          : good;
    let wire = encodeFrame({ type: req.type, seq: req.seq, kind: FrameKind.RESPONSE, result, payload });
    if (rand() < 0.03) wire = [...mutate(rand, wire), 0];
    feed(wire);
  };
  const transport: Transport = {
    write: async (data) => {
      fromBridge.push(
        data,
        (f) => answer(f),
        () => {
          crashed ||= "the bridge sent a bad frame";
        },
      );
    },
    onData: (cb) => {
      deliver = cb;
    },
    onClose: () => {},
    close: async () => {},
  };
  const link = new McuLink(transport, { timeoutMs: 2, tries: 3, backoffMaxMs: 4, log: () => {} });
  let events = 0;
  link.on("event", (f: Frame) => {
    // What the daemon does with events: decode them; a bad one is ignored.
    events++;
    if (f.type === MessageType.EVENT_BOOT) decodeBootReport(f.payload);
    else if (f.type === MessageType.EVENT_HELLO) decodeHelloResponse(f.payload);
    else decodeSetDefault(f.payload);
  });
  const operations: [string, () => Promise<unknown>][] = [
    ["hello", () => link.hello()],
    ["getState", () => ops.getState(link)],
    ["readMcuList", () => ops.readMcuList(link)],
    ["syncWholeList", () => ops.syncWholeList(link, LIST)],
    ["setDefault", () => ops.setDefault(link, "p1")],
    ["setNext", () => ops.setNext(link, "p2", "recovery")],
    ["setOptions", () => ops.setOptions(link, { timeoutSeconds: 5 })],
    ["markGood", () => ops.markGood(link, null)],
    ["applyDeltas", () => ops.applyDeltas(link, [{ kind: "delete", id: "p3" }], 9)],
  ];
  const outcomes: Record<string, { ok: number; errors: number }> = {};
  for (const [name] of operations) outcomes[name] = { ok: 0, errors: 0 };
  while (fed < COUNT && crashed === "") {
    const [name, run] = pick(rand, operations);
    try {
      await run();
      outcomes[name].ok++;
    } catch (e) {
      outcomes[name].errors++;

      const ok =
        e instanceof Error && !(e instanceof TypeError) && !(e instanceof RangeError) && e.message !== "";
      if (!ok) crashed = `${name} failed with ${(e as Error)?.stack ?? String(e)}`;
    }
  }
  if (crashed !== "") {
    t.fail(`${crashed} (${replayHint(seed)})`);
    return;
  }
  // Still a working link after all that: with a clean line, the next exchange succeeds.
  clean = true;
  t.deepEqual(await ops.getState(link), state(LIST));
  t.true(fed >= COUNT);
  // Every operation both succeeded and failed (checked at the default budget; a small FUZZ_FRAMES
  // run is a quick smoke test).
  for (const [name] of operations) {
    if (COUNT < 50_000) break;
    t.true(outcomes[name].ok > 0 && outcomes[name].errors > 0, `${name}: ${JSON.stringify(outcomes[name])}`);
  }
  t.true(events > 0);
  t.true(link.stats.badFrames > 0);
  t.log(
    `${fed} inputs fed; ${link.stats.framesIn} frames in, ${link.stats.badFrames} dropped, ${events} events; ` +
      Object.entries(outcomes)
        .map(([k, v]) => `${k} ${v.ok}/${v.errors}`)
        .join(", "),
  );
  await link.close();
});
