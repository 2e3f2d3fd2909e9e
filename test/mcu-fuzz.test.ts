// Property tests: whatever frames arrive and whatever keys are pressed when, the core answers every
// request exactly once, never throws, always publishes a block U-Boot accepts, and always draws.
import test from "ava";
import fc from "fast-check";
import { encodeFrame, FrameKind } from "../protocol/frame";
import { encodeListItem, encodePutProfile, MessageType, Result } from "../protocol/messages";
import { decodeBlock } from "../protocol/register-block";
import { KEY_COUNT } from "../mcu/core/keys";
import { Framebuffer } from "../mcu/node/framebuffer";
import { makeMcu, profile, profiles } from "./mcu-helpers";

const TYPES = Object.values(MessageType) as number[];

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
