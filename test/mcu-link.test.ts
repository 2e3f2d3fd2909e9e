// The MCU end of the UART link: every request gets exactly one answer; bad input (garbage,
// oversize, invalid fields, unknown messages) gets the protocol's error and changes nothing;
// list transfers are staged and atomic; retries are answered from the cache.
import test from "ava";
import fc from "fast-check";
import {
  encodeFrame,
  FrameDecoder,
  FrameKind,
  MAX_WIRE_FRAME,
  MIN_MAX_PAYLOAD,
  PAYLOAD_LIMIT,
} from "../protocol/frame";
import {
  decodeHelloResponse,
  decodeListItem,
  decodeProfileReply,
  decodeSetDefault,
  DefaultMode,
  encodeDeleteProfile,
  encodeGetProfile,
  encodeHelloRequest,
  encodeListBegin,
  encodeListCommit,
  encodeListItem,
  encodePutProfile,
  encodeSetDefault,
  encodeSetNext,
  listCrc,
  MessageType,
  PROTOCOL_VERSION,
  packListItems,
  Result,
  resultName,
} from "../protocol/messages";
import { MCU_MAX_PAYLOAD } from "../mcu/core/link";
import { utf8Encode } from "../protocol/bytes";
import { makeMcu, profile, profiles } from "./helpers/mcu";

const OLD = [profile("alpha"), profile("bravo")];
const NEW = [profile("xray"), profile("yankee"), profile("zulu")];

async function withList() {
  const m = await makeMcu();
  const r = m.link.pushList(OLD, 1);
  if (r.result !== Result.OK) throw new Error(r.message);
  return m;
}

/** Everything observable that an error must not change. */
function fingerprint(m: Awaited<ReturnType<typeof makeMcu>>): string {
  return JSON.stringify({
    state: m.mcu.state(),
    profiles: m.mcu.profiles(),
    block: m.mcu.registerBlock(),
    writes: m.flash.writeCount,
  });
}

test("the MCU announces itself with EVENT_HELLO at start", async (t) => {
  const { link } = await withList();
  const hello = link.events.filter((e) => e.type === MessageType.EVENT_HELLO);
  t.is(hello.length, 1);
  const h = decodeHelloResponse(hello[0].payload).value!;
  t.is(h.instance, 0x1234);
  t.is(h.maxProfiles, 32);
});

test("HELLO negotiates version and payload size; bad ranges are refused with the reason", async (t) => {
  const { link } = await withList();
  let r = link.send(
    MessageType.HELLO,
    encodeHelloRequest({ minVersion: 1, maxVersion: 3, maxPayload: 4096, capabilities: 0 }),
  );
  t.is(r.result, Result.OK);
  const h = decodeHelloResponse(r.payload).value!;
  t.is(h.version, PROTOCOL_VERSION);
  t.is(h.maxPayload, MCU_MAX_PAYLOAD);
  t.is(h.generation, 1);
  r = link.send(
    MessageType.HELLO,
    encodeHelloRequest({ minVersion: 3, maxVersion: 5, maxPayload: 512, capabilities: 0 }),
  );
  t.is(r.result, Result.UNSUPPORTED);
  t.regex(r.message, /3\.\.5 are not supported: this MCU speaks 2\.\.2/);
  // A bridge of version 1 (one record per LIST_ITEM, no list CRC in GET_STATE): a clear refusal.
  r = link.send(
    MessageType.HELLO,
    encodeHelloRequest({ minVersion: 1, maxVersion: 1, maxPayload: 512, capabilities: 0 }),
  );
  t.is(r.result, Result.UNSUPPORTED);
  t.regex(r.message, /1\.\.1 are not supported: this MCU speaks 2\.\.2/);
  r = link.send(
    MessageType.HELLO,
    encodeHelloRequest({ minVersion: 2, maxVersion: 2, maxPayload: 100, capabilities: 0 }),
  );
  t.is(r.result, Result.INVALID);
  t.regex(r.message, /maxPayload 100 is invalid: must be at least 256/);
});

test("GET_PROFILE returns records by index and NOT_FOUND past the end", async (t) => {
  const { link } = await withList();
  let r = link.send(MessageType.GET_PROFILE, encodeGetProfile({ index: 1 }));
  t.is(r.result, Result.OK);
  const p = decodeProfileReply(r.payload).value!;
  t.is(p.record.id, "bravo");
  t.is(p.count, 2);
  r = link.send(MessageType.GET_PROFILE, encodeGetProfile({ index: 2 }));
  t.is(r.result, Result.NOT_FOUND);
  t.regex(r.message, /index 2 .* holds 2 profiles/);
});

test("a list transfer is staged: the menu never shows a half list", async (t) => {
  const { mcu, link } = await withList();
  mcu.powerOn(["ok"]);
  const before = mcu.screenText();
  link.send(MessageType.LIST_BEGIN, encodeListBegin({ generation: 2, count: 3 }));
  link.send(MessageType.LIST_ITEM, encodeListItem({ generation: 2, index: 0, record: NEW[0] }));
  link.send(MessageType.LIST_ITEM, encodeListItem({ generation: 2, index: 1, record: NEW[1] }));
  t.deepEqual(mcu.profiles(), OLD);
  t.deepEqual(mcu.screenText(), before);
  t.is(link.state().generation, 1);
  // Resending an item is fine (idempotent), and the commit makes the whole list visible at once.
  link.send(MessageType.LIST_ITEM, encodeListItem({ generation: 2, index: 1, record: NEW[1] }));
  link.send(MessageType.LIST_ITEM, encodeListItem({ generation: 2, index: 2, record: NEW[2] }));
  const r = link.send(
    MessageType.LIST_COMMIT,
    encodeListCommit({ generation: 2, count: 3, listCrc: listCrc(NEW) }),
  );
  t.is(r.result, Result.OK);
  t.deepEqual(mcu.profiles(), NEW);
  t.true(mcu.screenText().some((l) => l.startsWith("Zulu")));
});

test("an MCU reset in the middle of a transfer keeps the old list", async (t) => {
  const { mcu, link, flash } = await withList();
  link.send(MessageType.LIST_BEGIN, encodeListBegin({ generation: 2, count: 3 }));
  link.send(MessageType.LIST_ITEM, encodeListItem({ generation: 2, index: 0, record: NEW[0] }));
  await mcu.restart();
  t.deepEqual(mcu.profiles(), OLD);
  const r = link.send(
    MessageType.LIST_COMMIT,
    encodeListCommit({ generation: 2, count: 3, listCrc: listCrc(NEW) }),
  );
  t.is(r.result, Result.OUT_OF_ORDER);
  t.deepEqual(mcu.profiles(), OLD);
  const again = await makeMcu(flash);
  t.deepEqual(again.mcu.profiles(), OLD);
});

test("LIST_BEGIN again restarts the transfer", async (t) => {
  const { mcu, link } = await withList();
  link.send(MessageType.LIST_BEGIN, encodeListBegin({ generation: 2, count: 3 }));
  link.send(MessageType.LIST_ITEM, encodeListItem({ generation: 2, index: 0, record: NEW[0] }));
  link.send(MessageType.LIST_BEGIN, encodeListBegin({ generation: 3, count: 1 }));
  let r = link.send(MessageType.LIST_ITEM, encodeListItem({ generation: 2, index: 1, record: NEW[1] }));
  t.is(r.result, Result.OUT_OF_ORDER);
  t.regex(r.message, /generation 2 is not the transfer in progress \(3\)/);
  link.send(MessageType.LIST_ITEM, encodeListItem({ generation: 3, index: 0, record: NEW[2] }));
  r = link.send(
    MessageType.LIST_COMMIT,
    encodeListCommit({ generation: 3, count: 1, listCrc: listCrc([NEW[2]]) }),
  );
  t.is(r.result, Result.OK);
  t.deepEqual(mcu.profiles(), [NEW[2]]);
});

test("bad commits are refused and change nothing", async (t) => {
  const m = await withList();
  const { link } = m;
  link.send(MessageType.LIST_BEGIN, encodeListBegin({ generation: 2, count: 3 }));
  link.send(MessageType.LIST_ITEM, encodeListItem({ generation: 2, index: 0, record: NEW[0] }));
  link.send(MessageType.LIST_ITEM, encodeListItem({ generation: 2, index: 2, record: NEW[2] }));
  const fp = fingerprint(m);
  let r = link.send(
    MessageType.LIST_COMMIT,
    encodeListCommit({ generation: 2, count: 3, listCrc: listCrc(NEW) }),
  );
  t.is(r.result, Result.INVALID);
  t.regex(r.message, /index 1 is missing/);
  link.send(MessageType.LIST_ITEM, encodeListItem({ generation: 2, index: 1, record: NEW[1] }));
  r = link.send(MessageType.LIST_COMMIT, encodeListCommit({ generation: 2, count: 3, listCrc: 0x12345678 }));
  t.is(r.result, Result.INVALID);
  t.regex(r.message, /listCrc 0x12345678 is invalid: the received records give 0x[0-9a-f]{8}/);
  r = link.send(
    MessageType.LIST_COMMIT,
    encodeListCommit({ generation: 2, count: 2, listCrc: listCrc(NEW) }),
  );
  t.is(r.result, Result.INVALID);
  r = link.send(MessageType.LIST_ITEM, encodeListItem({ generation: 2, index: 1, record: NEW[0] }));
  t.is(r.result, Result.INVALID);
  t.regex(r.message, /"xray" is invalid: already used at index 0/);
  r = link.send(MessageType.LIST_ITEM, encodeListItem({ generation: 2, index: 3, record: profile("extra") }));
  t.is(r.result, Result.INVALID);
  r = link.send(
    MessageType.LIST_ITEM,
    encodeListItem({ generation: 2, index: 40, record: profile("extra") }),
  );
  t.is(r.result, Result.NO_SPACE);
  t.is(fingerprint(m), fp);
  // The staged transfer is still usable after the errors.
  r = link.send(
    MessageType.LIST_COMMIT,
    encodeListCommit({ generation: 2, count: 3, listCrc: listCrc(NEW) }),
  );
  t.is(r.result, Result.OK);
});

test("a retried LIST_COMMIT of the list the MCU already holds answers OK", async (t) => {
  const m = await withList();
  const fp = fingerprint(m);
  const r = m.link.send(
    MessageType.LIST_COMMIT,
    encodeListCommit({ generation: 1, count: 2, listCrc: listCrc(OLD) }),
  );
  t.is(r.result, Result.OK);
  t.is(fingerprint(m), fp);
});

test("a retry with the same seq gets the cached answer without executing twice", async (t) => {
  const m = await withList();
  const { link, flash } = m;
  const put = encodePutProfile({ baseGeneration: 1, newGeneration: 2, record: profile("charlie") });
  const first = link.raw(
    encodeFrame({ type: MessageType.PUT_PROFILE, seq: 77, kind: FrameKind.REQUEST, result: 0, payload: put }),
  );
  const writes = flash.writeCount;
  const again = link.raw(
    encodeFrame({ type: MessageType.PUT_PROFILE, seq: 77, kind: FrameKind.REQUEST, result: 0, payload: put }),
  );
  t.deepEqual(again, first);
  t.is(first[0].result, Result.OK);
  t.is(flash.writeCount, writes);
  t.is(m.mcu.core.linkStatus().retries, 1);
  // A new seq with the same change: the MCU already holds newGeneration, so it was a retry: OK.
  t.is(link.send(MessageType.PUT_PROFILE, put).result, Result.OK);
  t.is(m.mcu.profiles().length, 3);
});

test("PUT/DELETE on a stale generation answer STALE; unknown ids NOT_FOUND", async (t) => {
  const m = await withList();
  const fp = fingerprint(m);
  let r = m.link.send(
    MessageType.PUT_PROFILE,
    encodePutProfile({ baseGeneration: 7, newGeneration: 8, record: profile("charlie") }),
  );
  t.is(r.result, Result.STALE);
  t.regex(r.message, /baseGeneration 7 is stale: the MCU holds generation 1/);
  r = m.link.send(
    MessageType.DELETE_PROFILE,
    encodeDeleteProfile({ baseGeneration: 1, newGeneration: 2, id: "nobody" }),
  );
  t.is(r.result, Result.NOT_FOUND);
  r = m.link.send(MessageType.SET_DEFAULT, encodeSetDefault({ mode: DefaultMode.FIXED, id: "nobody" }));
  t.is(r.result, Result.NOT_FOUND);
  r = m.link.send(MessageType.SET_NEXT, encodeSetNext({ action: 1, id: "nobody" }));
  t.is(r.result, Result.NOT_FOUND);
  r = m.link.send(
    MessageType.PUT_PROFILE,
    encodePutProfile({ baseGeneration: 1, newGeneration: 1, record: profile("charlie") }),
  );
  t.is(r.result, Result.OLD_GENERATION);
  t.regex(r.message, /generation 1 is not newer than generation 1 the MCU holds/);
  t.is(fingerprint(m), fp);
});

test("invalid ids and fields get INVALID naming the value and the rule", async (t) => {
  const m = await withList();
  const fp = fingerprint(m);
  let r = m.link.send(
    MessageType.PUT_PROFILE,
    encodePutProfile({ baseGeneration: 1, newGeneration: 2, record: profile("Bad Id") }),
  );
  t.is(r.result, Result.INVALID);
  t.regex(r.message, /id "Bad Id" is invalid: must be 1 to 31 characters/);
  r = m.link.send(
    MessageType.LIST_ITEM,
    encodeListItem({ generation: 1, index: 0, record: profile("ok", { base: "v1" }) }),
  );
  t.is(r.result, Result.INVALID);
  t.regex(r.message, /base "v1" is invalid/);
  r = m.link.send(MessageType.SET_DEFAULT, [5, 0]);
  t.is(r.result, Result.INVALID);
  r = m.link.send(MessageType.GET_STATE, [1]);
  t.is(r.result, Result.INVALID);
  t.is(fingerprint(m), fp);
});

test("unknown message types get UNSUPPORTED", async (t) => {
  const m = await withList();
  const fp = fingerprint(m);
  const r = m.link.send(0x7e, [1, 2, 3]);
  t.is(r.result, Result.UNSUPPORTED);
  t.regex(r.message, /0x7e .* is not a request/);
  t.is(m.link.send(MessageType.EVENT_BOOT, []).result, Result.UNSUPPORTED);
  t.is(fingerprint(m), fp);
});

test("oversize payloads get TOO_LARGE; beyond the frame limit they are dropped unread", async (t) => {
  const m = await withList();
  const fp = fingerprint(m);
  const big = new Array(MIN_MAX_PAYLOAD + 1).fill(0x41);
  const r = m.link.send(MessageType.PUT_PROFILE, big);
  t.is(r.result, Result.TOO_LARGE);
  t.regex(r.message, /257 bytes is too large: at most 256/);
  const huge: number[] = new Array(3000).fill(0x55);
  huge.push(0);
  t.deepEqual(m.link.raw(huge), []);
  const atLimit = m.link.raw(
    encodeFrame({ type: 1, seq: 1, kind: 0, result: 0, payload: new Array(PAYLOAD_LIMIT).fill(1) }),
  );
  t.is(atLimit.length, 1);
  t.is(atLimit[0].result, Result.TOO_LARGE);
  t.is(fingerprint(m), fp);
  // The link still works.
  t.is(m.link.send(MessageType.GET_STATE, []).result, Result.OK);
});

test("frames that are not requests (responses, events from the bridge) get no answer", async (t) => {
  const m = await withList();
  t.deepEqual(
    m.link.raw(
      encodeFrame({ type: MessageType.EVENT_BOOT, seq: 3, kind: FrameKind.RESPONSE, result: 0, payload: [] }),
    ),
    [],
  );
  t.deepEqual(
    m.link.raw(
      encodeFrame({ type: MessageType.GET_STATE, seq: 3, kind: FrameKind.EVENT, result: 0, payload: [] }),
    ),
    [],
  );
});

test("garbage on the line: no crash, nothing changes, the next good frame is answered", async (t) => {
  const m = await withList();
  const before = JSON.stringify({
    state: m.mcu.state(),
    profiles: m.mcu.profiles(),
    writes: m.flash.writeCount,
  });
  let oks = 0;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      for (const f of m.link.raw([...bytes, 0])) if (f.result === Result.OK) oks++;
    }),
    { numRuns: 300 },
  );
  t.is(oks, 0, "garbage never succeeds");
  const after = JSON.stringify({
    state: m.mcu.state(),
    profiles: m.mcu.profiles(),
    writes: m.flash.writeCount,
  });
  t.is(after, before);
  t.is(m.link.send(MessageType.GET_STATE, []).result, Result.OK);
  t.true(m.mcu.core.linkStatus().badFrames > 100);
});

test("a default changed in the menu is reported with EVENT_DEFAULT_CHANGED", async (t) => {
  const m = await withList();
  m.mcu.powerOn(["ok"]);
  m.mcu.keyUp("ok");
  await m.mcu.press("down");
  await m.mcu.press("ok", 400); // long OK: actions
  t.is(m.mcu.screenName(), "actions");
  await m.mcu.press("down"); // "Make default"
  await m.mcu.press("ok");
  const ev = m.link.events.filter((e) => e.type === MessageType.EVENT_DEFAULT_CHANGED);
  t.is(ev.length, 1);
  t.deepEqual(decodeSetDefault(ev[0].payload).value, { mode: DefaultMode.FIXED, id: "bravo" });
  const st = m.link.state();
  t.is(st.defaultId, "bravo");
});

test("a state reply that would exceed the negotiated size drops try entries, never fails", async (t) => {
  const m = await makeMcu();
  const list = profiles(32).map((p, i) => ({
    ...p,
    id: `profile-with-a-long-id-${String(i).padStart(4, "0")}`,
  }));
  m.link.pushList(list, 1);
  m.mcu.powerOn(["ok"]);
  m.mcu.keyUp("ok");
  for (let i = 0; i < 8; i++) {
    m.mcu.powerOn(["ok"]);
    m.mcu.keyUp("ok");
    for (let k = 0; k < i; k++) await m.mcu.press("down");
    await m.mcu.press("ok");
  }
  const r = m.link.send(MessageType.GET_STATE, []);
  t.is(r.result, Result.OK);
  t.true(r.payload.length <= MIN_MAX_PAYLOAD);
  t.true(m.link.state().tries.length >= 1);
});

test("error texts are UTF-8 and never empty", async (t) => {
  const m = await withList();
  const r = m.link.send(MessageType.DELETE_PROFILE, utf8Encode("x"));
  t.is(r.result, Result.INVALID);
  t.true(r.message.length > 10);
});

test("VM mode (autoWork off): items out of order are hashed in the background; an early commit gets BUSY, uncached", async (t) => {
  const { BootCore } = await import("../mcu/core/core");
  const sent: number[][] = [];
  const core = new BootCore({ send: (b) => sent.push(b), final: () => {} }, { instance: 1, autoWork: false });
  core.load({ read: () => null });
  const dec = new FrameDecoder(MAX_WIRE_FRAME);
  // The adapter's pump: one bounded work() step at a time (a LIST_ITEM's answer comes after its
  // records were checked, one per step).
  const send = (type: number, payload: number[], seq: number, steps = 100) => {
    sent.length = 0;
    core.uartReceive(encodeFrame({ type, seq, kind: FrameKind.REQUEST, result: 0, payload }), 0);
    for (let i = 0; i < steps && core.linkStatus().busy(); i++) core.work();
    let result = -1;
    for (const b of sent)
      dec.push(
        b,
        (f) => (result = f.result),
        () => {},
      );
    return result;
  };
  t.is(send(MessageType.LIST_BEGIN, encodeListBegin({ generation: 4, count: 3 }), 1), Result.OK);
  // Reverse order: nothing can be hashed until index 0 arrives.
  for (let i = 2; i >= 0; i--) {
    t.is(
      send(MessageType.LIST_ITEM, encodeListItem({ generation: 4, index: i, record: NEW[i] }), 10 + i),
      Result.OK,
    );
  }
  t.is(core.linkStatus().stageHashed, 1);
  // Reverse order leaves 2 items to hash: the commit finishes up to 2 itself.
  const commit = encodeListCommit({ generation: 4, count: 3, listCrc: listCrc(NEW) });
  t.is(send(MessageType.LIST_COMMIT, commit, 20), Result.OK);
  t.deepEqual(core.profiles(), NEW);

  // Six items out of order: BUSY until work() has run, and the same seq is then executed for real.
  const SIX = profiles(6);
  send(MessageType.LIST_BEGIN, encodeListBegin({ generation: 5, count: 6 }), 30);
  for (let i = 5; i >= 0; i--)
    send(MessageType.LIST_ITEM, encodeListItem({ generation: 5, index: i, record: SIX[i] }), 31 + i);
  const c6 = encodeListCommit({ generation: 5, count: 6, listCrc: listCrc(SIX) });
  t.is(send(MessageType.LIST_COMMIT, c6, 40), Result.BUSY);
  while (core.work()) {
    // background hashing
  }
  t.is(send(MessageType.LIST_COMMIT, c6, 40), Result.OK);
  t.is(core.generation(), 5);
});

test("after PUT the list CRC is computed in the background, so a retried LIST_COMMIT of it is recognised", async (t) => {
  const m = await withList();
  const put = encodePutProfile({ baseGeneration: 1, newGeneration: 2, record: profile("charlie") });
  t.is(m.link.send(MessageType.PUT_PROFILE, put).result, Result.OK);
  const list = [...OLD, profile("charlie")];
  t.is(m.mcu.core.listCrc(), listCrc(list));
  const r = m.link.send(
    MessageType.LIST_COMMIT,
    encodeListCommit({ generation: 2, count: 3, listCrc: listCrc(list) }),
  );
  t.is(r.result, Result.OK);
  // And after a restart (the bank header does not hold the CRC of a PUT list), too.
  await m.mcu.restart();
  t.is(m.mcu.core.listCrc(), listCrc(list));
});

// ---- generations only move forward (replays) -----------------------------------------------

const arbId = fc.constantFrom("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf");
const arbList = fc
  .uniqueArray(arbId, { minLength: 0, maxLength: 6 })
  .chain((ids) =>
    fc.tuple(...ids.map((id) => fc.integer({ min: 0, max: 3 }).map((v) => profile(id, { lastUsed: v })))),
  )
  .map((l) => l as ReturnType<typeof profile>[]);

test("property: a replayed list transfer, PUT or DELETE of a generation at or below the current one is refused OLD_GENERATION and changes nothing", async (t) => {
  await fc.assert(
    fc.asyncProperty(
      arbList,
      arbList,
      fc.integer({ min: 2, max: 0xfffffff0 }),
      fc.integer({ min: 0, max: 1 }),
      fc.nat(),
      fc.oneof(
        fc.record({
          kind: fc.constant("list" as const),
          list: arbList,
          pack: fc.integer({ min: 60, max: 512 }),
        }),
        fc.record({ kind: fc.constant("put" as const), id: arbId, lastUsed: fc.integer({ min: 0, max: 9 }) }),
        fc.record({ kind: fc.constant("delete" as const), pick: fc.nat() }),
      ),
      fc.integer({ min: 0, max: 255 }),
      async (older, current, gen, below, back, replay, seq) => {
        const m = await makeMcu();
        t.is(m.link.pushList(older, gen - 1).result, Result.OK);
        t.is(m.link.pushList(current, gen).result, Result.OK);
        // A generation at or below the current one (0 included).
        const r = below === 0 ? gen : back % gen;
        const fp = fingerprint(m);
        const results: number[] = [];
        if (replay.kind === "list") {
          // A different list (the same list at the same generation is a harmless retry: OK).
          if (r === gen && listCrc(replay.list) === listCrc(current)) return;
          results.push(
            m.link.send(
              MessageType.LIST_BEGIN,
              encodeListBegin({ generation: r, count: replay.list.length }),
              seq,
            ).result,
          );
          for (const item of packListItems(r, replay.list, replay.pack)) {
            results.push(m.link.send(MessageType.LIST_ITEM, item).result);
          }
          results.push(
            m.link.send(
              MessageType.LIST_COMMIT,
              encodeListCommit({ generation: r, count: replay.list.length, listCrc: listCrc(replay.list) }),
            ).result,
          );
        } else if (replay.kind === "put") {
          const rec = profile(replay.id, { lastUsed: replay.lastUsed });
          const held = current.find((p) => p.id === rec.id);
          if (r === gen && held && JSON.stringify(held) === JSON.stringify(rec)) return;
          const base = r === 0 ? 0 : r - 1;
          results.push(
            m.link.send(
              MessageType.PUT_PROFILE,
              encodePutProfile({ baseGeneration: base, newGeneration: r, record: rec }),
              seq,
            ).result,
          );
        } else {
          if (current.length === 0) return;
          const id = current[replay.pick % current.length].id;
          const base = r === 0 ? 0 : r - 1;
          results.push(
            m.link.send(
              MessageType.DELETE_PROFILE,
              encodeDeleteProfile({ baseGeneration: base, newGeneration: r, id }),
              seq,
            ).result,
          );
        }
        t.deepEqual(
          results.map(resultName),
          results.map(() => "OLD_GENERATION"),
          `replay of generation ${r} at ${gen}`,
        );
        t.is(fingerprint(m), fp, "list, generation, block and flash are unchanged");
        t.deepEqual(m.mcu.profiles(), current);
      },
    ),
    { numRuns: 300 },
  );
});

test("after generation 6, the complete transfer of generation 5 replayed frame by frame is refused; the menu stays at 6", async (t) => {
  const m = await makeMcu();
  const five = [profile("alpha"), profile("bravo")];
  const six = [profile("charlie")];
  // Record generation 5's frames as the bridge sent them.
  const frames: number[][] = [];
  const record = (b: number[]) => frames.push(b);
  m.mcu.on("uart-rx", record);
  t.is(m.link.pushList(five, 5).result, Result.OK);
  m.mcu.off("uart-rx", record);
  t.is(m.link.pushList(six, 6).result, Result.OK);
  const fp = fingerprint(m);
  const answers = frames.flatMap((b) => m.link.raw(b)).map((f) => resultName(f.result));
  t.true(answers.length >= 3);
  t.true(
    answers.every((a) => a === "OLD_GENERATION"),
    answers.join(","),
  );
  t.is(fingerprint(m), fp);
  t.is(m.link.state().generation, 6);
  t.deepEqual(m.mcu.profiles(), six);
});

function recordsIn(payload: number[]): number {
  return decodeListItem(payload).value?.records.length ?? 0;
}

// ---- packed list transfers --------------------------------------------------------------------

test("property: a list sent as packed LIST_ITEM ranges, in any order, some resent, commits exactly; GET_STATE then names its CRC", async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 32 }),
      fc.integer({ min: 40, max: MCU_MAX_PAYLOAD }),
      fc.nat(),
      fc.array(fc.nat(), { maxLength: 4 }),
      async (n, pack, rotate, resend) => {
        const m = await withList();
        const h = encodeHelloRequest({ minVersion: 2, maxVersion: 2, maxPayload: 1024, capabilities: 0 });
        t.is(m.link.send(MessageType.HELLO, h).result, Result.OK, "negotiates the MCU's payload size");
        const list = profiles(n).map((p, i) => ({ ...p, name: `Profile number ${i} of ${n}` }));
        const items = packListItems(2, list, pack);
        // Each frame is within the size asked for, unless one record alone is larger.
        for (const it of items) t.true(it.length <= pack || recordsIn(it) === 1);
        t.is(m.link.send(MessageType.LIST_BEGIN, encodeListBegin({ generation: 2, count: n })).result, 0);
        const order = items.map((_, i) => (i + rotate) % items.length);
        for (const k of resend) if (items.length > 0) order.push(k % items.length);
        for (const i of order) t.is(m.link.send(MessageType.LIST_ITEM, items[i]).result, Result.OK);
        const c = m.link.send(
          MessageType.LIST_COMMIT,
          encodeListCommit({ generation: 2, count: n, listCrc: listCrc(list) }),
        );
        t.is(c.result, Result.OK, c.message);
        t.deepEqual(m.mcu.profiles(), list);
        const st = m.link.state();
        t.is(st.listCrc, listCrc(list));
        t.is(st.profileCount, n);
      },
    ),
    { numRuns: 120 },
  );
});

test("packed items: a range past the announced count, a duplicate id inside one frame, or too many records are refused", async (t) => {
  const m = await withList();
  t.is(m.link.send(MessageType.LIST_BEGIN, encodeListBegin({ generation: 2, count: 3 })).result, 0);
  const fp = fingerprint(m);
  let r = m.link.send(
    MessageType.LIST_ITEM,
    encodeListItem({ generation: 2, index: 1, records: [NEW[1], NEW[2], profile("extra")] }),
  );
  t.is(r.result, Result.INVALID);
  t.regex(r.message, /index 3 is invalid: the transfer has 3 profiles/);
  r = m.link.send(
    MessageType.LIST_ITEM,
    encodeListItem({ generation: 2, index: 0, records: [NEW[0], NEW[0]] }),
  );
  t.is(r.result, Result.INVALID);
  t.regex(r.message, /id "xray" is invalid: already used at index 0; ids must be unique/);
  r = m.link.send(MessageType.LIST_ITEM, encodeListItem({ generation: 2, index: 30, records: profiles(3) }));
  t.is(r.result, Result.NO_SPACE);
  t.regex(r.message, /records from index 30 go past the limit: at most 32 profiles/);
  r = m.link.send(MessageType.LIST_ITEM, encodeListItem({ generation: 2, index: 0, records: [] }));
  t.is(r.result, Result.INVALID);
  t.regex(r.message, /carries no record/);
  t.is(fingerprint(m), fp);
  t.is(
    m.link.send(MessageType.LIST_ITEM, encodeListItem({ generation: 2, index: 0, records: NEW })).result,
    0,
  );
  r = m.link.send(
    MessageType.LIST_COMMIT,
    encodeListCommit({ generation: 2, count: 3, listCrc: listCrc(NEW) }),
  );
  t.is(r.result, Result.OK);
  t.deepEqual(m.mcu.profiles(), NEW);
});

test("LIST_BEGIN with more than 32 profiles: NO_SPACE from protocol's decoder, nothing staged", async (t) => {
  const m = await withList();
  const fp = fingerprint(m);
  for (const count of [33, 200, 255]) {
    const r = m.link.send(MessageType.LIST_BEGIN, encodeListBegin({ generation: 2, count }));
    t.is(r.result, Result.NO_SPACE);
    t.regex(r.message, new RegExp(`count ${count} is too many: at most 32 profiles`));
  }
  t.is(m.link.send(MessageType.LIST_BEGIN, [2, 0, 0]).result, Result.INVALID);
  t.false(m.mcu.core.linkStatus().staging);
  t.is(fingerprint(m), fp);
});

test("VM mode (autoWork off): a packed LIST_ITEM is checked one record per work() step; meanwhile the same frame waits and others get BUSY", async (t) => {
  const { BootCore } = await import("../mcu/core/core");
  const answers: { type: number; seq: number; result: number }[] = [];
  const dec = new FrameDecoder(MAX_WIRE_FRAME);
  const core = new BootCore(
    {
      send: (b) =>
        dec.push(
          b,
          (f) => {
            if (f.kind === FrameKind.RESPONSE) answers.push({ type: f.type, seq: f.seq, result: f.result });
          },
          () => {},
        ),
      final: () => {},
    },
    { instance: 1, autoWork: false },
  );
  core.load({ read: () => null });
  while (core.work()) {
    // loading
  }
  const frame = (type: number, seq: number, payload: number[]) =>
    encodeFrame({ type, seq, kind: FrameKind.REQUEST, result: 0, payload });
  core.uartReceive(
    frame(
      MessageType.HELLO,
      1,
      encodeHelloRequest({ minVersion: 2, maxVersion: 2, maxPayload: 512, capabilities: 0 }),
    ),
    0,
  );
  const list = profiles(8);
  core.uartReceive(frame(MessageType.LIST_BEGIN, 2, encodeListBegin({ generation: 3, count: 8 })), 0);
  t.deepEqual(
    answers.map((a) => a.result),
    [Result.OK, Result.OK],
  );
  const item = frame(MessageType.LIST_ITEM, 3, encodeListItem({ generation: 3, index: 0, records: list }));
  core.uartReceive(item, 0);
  t.is(answers.length, 2, "no answer before the records are checked");
  t.true(core.linkStatus().busy());
  core.uartReceive(item, 0); // resent by a sender that timed out: waits for the one answer
  core.uartReceive(frame(MessageType.GET_STATE, 4, []), 0);
  t.deepEqual(answers.slice(2), [{ type: MessageType.GET_STATE, seq: 4, result: Result.BUSY }]);
  let steps = 0;
  while (core.linkStatus().busy()) {
    core.work();
    steps++;
  }
  t.is(steps, list.length + 1, "one step per record, then the answer");
  t.deepEqual(answers.slice(3), [{ type: MessageType.LIST_ITEM, seq: 3, result: Result.OK }]);
  // Already hashed as the records were read: the commit needs no background work.
  t.is(core.linkStatus().stageHashed, 8);
  core.uartReceive(
    frame(MessageType.LIST_COMMIT, 5, encodeListCommit({ generation: 3, count: 8, listCrc: listCrc(list) })),
    0,
  );
  t.is(answers[4].result, Result.OK);
  t.deepEqual(core.profiles(), list);
  // The resent item after the answer: the cached answer (or OLD_GENERATION), never a second effect.
  core.uartReceive(item, 0);
  t.is(answers.length, 5, "the item after the commit is checked again, step by step");
  while (core.work()) {
    // steps
  }
  t.is(answers[5].result, Result.OLD_GENERATION);
  t.deepEqual(core.profiles(), list);
});
