// Property tests: whatever frames arrive and whatever keys are pressed when, the core answers every
// request exactly once, never throws, always publishes a block U-Boot accepts, and always draws;
// and a fuzz of the real link and core with a quarter of the fuzz budget (see helpers/fuzz.ts).
import test from "ava";
import fc from "fast-check";
import { BootCore } from "../mcu/core/core";
import { KEY_COUNT } from "../mcu/core/keys";
import { MemoryFlash } from "../mcu/node/flash";
import { Framebuffer } from "../mcu/node/framebuffer";
import { encodeFrame, type Frame, FrameDecoder, FrameKind, MAX_WIRE_FRAME } from "../protocol/frame";
import {
  encodeDeleteProfile,
  encodeGetProfile,
  encodeHelloRequest,
  encodeListBegin,
  encodeListCommit,
  encodeListItem,
  encodeMarkGood,
  encodeMenuOptions,
  encodePutProfile,
  encodeSetDefault,
  encodeSetNext,
  listCrc,
  MessageType,
  packListItems,
  Result,
} from "../protocol/messages";
import { decodeBlock } from "../protocol/register-block";
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
import { makeMcu, profile, profiles } from "./helpers/mcu";

const TYPES = Object.values(MessageType) as number[];
const REQUESTS = TYPES.filter((t) => t < MessageType.EVENT_BOOT);

test("any request (known or not, any payload) gets exactly one answer; errors change nothing", async (t) => {
  const m = await makeMcu();
  m.link.pushList(profiles(5), 1);
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...TYPES, 0x00, 0x7f, 0xff),
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }).map((a) => [...a]),
        fc.constant(encodeListItem({ generation: 1, index: 2, record: profile("zz") })),
        fc.constant(encodePutProfile({ baseGeneration: 1, newGeneration: 2, record: profile("yy") })),
      ),
      async (type, payload) => {
        const before = JSON.stringify({ st: m.mcu.state(), p: m.mcu.profiles() });
        const got = m.link.raw(encodeFrame({ type, seq: 200, kind: FrameKind.REQUEST, result: 0, payload }));
        // A repeat of the very same request is answered from the cache, also exactly once.
        t.is(got.length, 1);
        if (got[0].result !== Result.OK) {
          t.is(JSON.stringify({ st: m.mcu.state(), p: m.mcu.profiles() }), before);
          t.true(got[0].payload.length > 0, "an error names what is wrong");
        }
        t.true(decodeBlock(m.mcu.registerBlock()).ok);
        // Vary seq so the next one is not a retry of this one.
        m.link.raw(
          encodeFrame({
            type: MessageType.GET_STATE,
            seq: 201,
            kind: FrameKind.REQUEST,
            result: 0,
            payload: [],
          }),
        );
      },
    ),
    { numRuns: 400 },
  );
});

test("any key sequence with any timing: no throw, the block always decodes, every frame draws", async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          key: fc.integer({ min: 0, max: KEY_COUNT - 1 }),
          down: fc.boolean(),
          wait: fc.integer({ min: 0, max: 2000 }),
        }),
        { maxLength: 60 },
      ),
      fc.array(fc.integer({ min: 0, max: KEY_COUNT - 1 }), { maxLength: 3 }),
      fc.integer({ min: 0, max: 3 }),
      async (steps, held, timeout) => {
        const m = await makeMcu();
        m.link.pushList(
          profiles(9).map((p, i) => ({ ...p, flags: i % 4 === 3 ? 1 : i % 5 === 4 ? 2 : 0 })),
          1,
        );
        m.link.send(MessageType.SET_OPTIONS, [timeout, 0, 3]);
        m.mcu.powerOn(held);
        const fb = new Framebuffer();
        for (const s of steps) {
          if (s.down) m.mcu.keyDown(s.key);
          else m.mcu.keyUp(s.key);
          m.mcu.advance(s.wait);
          t.true(decodeBlock(m.mcu.registerBlock()).ok);
          m.mcu.core.render(fb);
        }
        t.true(fb.pixels.every((g) => g <= 63));
      },
    ),
    { numRuns: 60 },
  );
});

// ---- the MCU link fed fuzzed frames (25% of the fuzz budget; seed printed, FUZZ_SEED replays) ----

const MCU_COUNT = fuzzCount(FUZZ_SHARE.mcuLink);

test(`fuzz: the real MCU link and core fed ${MCU_COUNT} fuzzed frames: no throw, no out-of-bounds read, one answer per request, generations only move forward`, (t) => {
  const seed = fuzzSeed();
  t.log(`seed ${seed} (replay: ${replayHint(seed)} npx ava test/mcu-fuzz.test.ts)`);
  const rand = prng(seed);
  let flash = new MemoryFlash();
  const answers: Frame[] = [];
  const fromMcu = new FrameDecoder(MAX_WIRE_FRAME);
  const newCore = () =>
    new BootCore(
      {
        send: (b) =>
          fromMcu.push(
            b,
            (f) => {
              if (f.kind === FrameKind.RESPONSE) answers.push(f);
            },
            () => {
              throw new Error("the MCU sent a bad frame");
            },
          ),
        final: () => {},
      },
      { instance: 0x51 },
    );
  let core = newCore();
  core.load(flash);
  core.start(0);
  let resets = 0;
  /** The flash written so far reloads as the list the MCU holds. */
  const reloads = (): boolean => {
    const again = new BootCore({ send: () => {}, final: () => {} }, { instance: 2 });
    again.load(flash);
    return (
      again.generation() === core.generation() &&
      JSON.stringify(again.profiles()) === JSON.stringify(core.profiles())
    );
  };
  const lists = [profiles(3), profiles(32), [profile("solo")], profiles(7).reverse(), []];
  // Valid payloads per request type, mutated below; list transfers follow the MCU's generation.
  const seedsFor = (type: number, gen: number): number[][] => {
    const list = pick(rand, lists);
    switch (type) {
      case MessageType.HELLO:
        return [encodeHelloRequest({ minVersion: 2, maxVersion: 2, maxPayload: 1024, capabilities: 31 })];
      case MessageType.GET_STATE:
        return [[]];
      case MessageType.GET_PROFILE:
        return [encodeGetProfile({ index: Math.floor(rand() * 34) })];
      case MessageType.LIST_BEGIN:
        return [encodeListBegin({ generation: gen + 1, count: list.length })];
      case MessageType.LIST_ITEM:
        return list.length > 0 ? packListItems(gen + 1, list, 256 + Math.floor(rand() * 257)) : [[]];
      case MessageType.LIST_COMMIT:
        return [encodeListCommit({ generation: gen + 1, count: list.length, listCrc: listCrc(list) })];
      case MessageType.PUT_PROFILE:
        return [
          encodePutProfile({ baseGeneration: gen, newGeneration: gen + 1, record: pick(rand, profiles(9)) }),
        ];
      case MessageType.DELETE_PROFILE:
        return [
          encodeDeleteProfile({
            baseGeneration: gen,
            newGeneration: gen + 1,
            id: pick(rand, profiles(9)).id,
          }),
        ];
      case MessageType.SET_DEFAULT:
        return [encodeSetDefault({ mode: 0, id: "p01" }), encodeSetDefault({ mode: 1, id: "" })];
      case MessageType.SET_NEXT:
        return [encodeSetNext({ action: 1 + Math.floor(rand() * 3), id: "p02" })];
      case MessageType.SET_OPTIONS:
        return [encodeMenuOptions({ timeoutSeconds: 3, showMenu: 0, maxTries: 3 })];
      case MessageType.MARK_GOOD:
        return [encodeMarkGood({ sequence: 0, id: "p00" })];
      default:
        return [randomBytes(rand, Math.floor(rand() * 40))];
    }
  };
  let gen = core.generation();
  let crc = core.listCrc();
  let moved = 0;
  let oks = 0;
  let seq = 0;
  let dirty = false;
  const transfer = (list: ReturnType<typeof profiles>, g: number, max: number) => {
    const send = (type: number, payload: number[]) => {
      seq = (seq + 1) & 0xff;
      core.uartReceive(encodeFrame({ type, seq, kind: FrameKind.REQUEST, result: 0, payload }), 0);
    };
    send(MessageType.LIST_BEGIN, encodeListBegin({ generation: g, count: list.length }));
    for (const it of packListItems(g, list, max)) send(MessageType.LIST_ITEM, it);
    send(
      MessageType.LIST_COMMIT,
      encodeListCommit({ generation: g, count: list.length, listCrc: listCrc(list) }),
    );
  };
  for (let n = 0; n < MCU_COUNT; n++) {
    answers.length = 0;
    const r = rand();
    let intact = false;
    let sentSeq = -1;
    let sentType = -1;
    try {
      if (r < 0.002) {
        // A whole valid transfer, or a replay of an older generation, so the state keeps moving.
        const back = rand() < 0.5;
        if (dirty) core.uartReceive([0], 0);
        dirty = false;
        transfer(pick(rand, lists), back ? Math.floor(rand() * (gen + 1)) : gen + 1, 512);
      } else {
        let wire: number[];
        if (r < 0.1) {
          wire = randomBytes(rand, Math.floor(rand() * 120));
          wire.push(0);
        } else {
          sentType = rand() < 0.95 ? pick(rand, REQUESTS) : Math.floor(rand() * 256);
          const seeds = seedsFor(sentType, rand() < 0.9 ? gen : Math.floor(rand() * (gen + 2)));
          const base = pick(rand, seeds);
          const payload = rand() < 0.5 ? mutate(rand, base) : base;
          sentSeq = Math.floor(rand() * 256);
          wire = encodeFrame({ type: sentType, seq: sentSeq, kind: FrameKind.REQUEST, result: 0, payload });
          intact = rand() < 0.8;
          if (!intact) wire = mutate(rand, wire);
        }
        // A damaged frame may leave the receiver mid-frame: the next good frame then follows the
        // delimiter a real sender's retry brings.
        if (intact && dirty) core.uartReceive([0], 0);
        answers.length = 0;
        core.uartReceive(guarded(wire), 0);
        dirty = !intact;
        if (intact) {
          // Exactly one answer, to this very request.
          if (answers.length !== 1 || answers[0].seq !== sentSeq || answers[0].type !== sentType) {
            t.fail(`request ${n} (type ${sentType}) got ${answers.length} answers (${replayHint(seed)})`);
            return;
          }
          if (answers[0].result === Result.OK) oks++;
        } else if (answers.length > wire.filter((b) => b === 0).length) {
          t.fail(`input ${n}: more answers than frames (${replayHint(seed)})`);
          return;
        }
      }
      flash.writeAll(core.takeWrites());
    } catch (e) {
      t.fail(`input ${n} threw ${(e as Error).stack} (${replayHint(seed)})`);
      return;
    }
    const g = core.generation();
    const c = core.listCrc();
    if (g < gen || (g === gen && c !== crc)) {
      t.fail(`input ${n}: generation ${gen} (crc ${crc}) went to ${g} (crc ${c}) (${replayHint(seed)})`);
      return;
    }
    if (g !== gen) moved++;
    gen = g;
    crc = c;
    if (gen > 0xfff00000) {
      // Mutated generations climb to the top, where no newer one exists (PROTOCOL.md): check what
      // was stored, then start over on an erased flash so the fuzz keeps reaching every path.
      if (!reloads()) {
        t.fail(`input ${n}: the flash does not reload as the list held (${replayHint(seed)})`);
        return;
      }
      resets++;
      flash = new MemoryFlash();
      core = newCore();
      core.load(flash);
      core.start(0);
      gen = core.generation();
      crc = core.listCrc();
      dirty = false;
    }
    if (n % 997 === 0 && !decodeBlock(core.registerBlock()).ok) {
      t.fail(`input ${n}: the register block does not decode (${replayHint(seed)})`);
      return;
    }
  }
  // The flash written along the way reloads as the list the MCU held last.
  t.true(reloads(), "the flash reloads as the list held");
  t.true(moved > 10, `the list moved forward ${moved} times`);
  t.true(oks > MCU_COUNT / 20, `${oks} requests succeeded`);
  t.log(
    `${MCU_COUNT} inputs: ${oks} requests answered OK, the list moved forward ${moved} times ` +
      `(${resets} fresh starts after reaching the top generation)`,
  );
});
