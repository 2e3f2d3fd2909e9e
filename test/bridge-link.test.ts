// The link client over a real pty: noise on the line, lost replies retried with the same seq,
// duplicated frames, version negotiation failures, UNSUPPORTED, an MCU that never answers.
import test from "ava";
import { encodeFrame, FrameKind } from "../protocol/frame";
import { encodeMenuOptions, encodePutProfile, MessageType, Result } from "../protocol/messages";
import { LinkTimeoutError, McuError, McuLink, VersionError } from "../soc-bridge/link";
import { getState, isStale, syncWholeList, transferList } from "../soc-bridge/ops";
import { realMcuOnPty } from "./helpers/mcu-endpoint";
import { realisticProfiles } from "../bench/protocol";
import { MCU_MAX_PAYLOAD } from "../mcu/core/link";
import { openSerial } from "../soc-bridge/serial";
import { doubleOnPty } from "./helpers/bridge-env";
import { startFaultProxy } from "./helpers/fault-proxy";
import { openPtyPair } from "./helpers/pty";
import { TestDoubleMcu } from "./helpers/test-double-mcu";

const rec = (id: string) => ({
  id,
  name: "P " + id,
  base: "1.0",
  flags: 0,
  created: 0,
  lastUsed: 0,
  origin: "",
});

async function linkTo(port: string, timeoutMs = 100, tries = 4) {
  const t = await openSerial(port);
  t.onClose(() => {});
  return new McuLink(t, { timeoutMs, tries, log: () => {} });
}

test("garbage and noise between frames are dropped by the framing", async (t) => {
  const end = await doubleOnPty();
  const link = await linkTo(end.port);
  t.teardown(async () => {
    await link.close();
    await end.close();
  });
  // Noise from the MCU side: random bytes, a half frame, an oversized run, a frame with a bad CRC.
  const good = encodeFrame({ type: 2, seq: 9, kind: FrameKind.RESPONSE, result: 0, payload: [1, 2, 3] });
  const badCrc = good.slice();
  badCrc[3] ^= 0x40;
  const noise = [0x55, 0xaa, 0x13, 0x00, ...good.slice(0, 5), 0, ...new Array(3000).fill(7), 0, ...badCrc];
  await end.transport.write(Uint8Array.from(noise));
  const h = await link.hello();
  t.is(h.version, 2);
  await transferList(link, [rec("a"), rec("b")], 5);
  t.deepEqual(
    end.mcu.list.map((r) => r.id),
    ["a", "b"],
  );
  t.true(link.stats.badFrames >= 3);
  // Noise toward the MCU too: it still answers.
  await link.transport.write(Uint8Array.from([1, 2, 3, 0, 0xff, 0xfe, 0]));
  t.is((await getState(link)).generation, 5);
});

test("a lost reply is retried with the same seq and executed once; duplicated frames change nothing", async (t) => {
  const bridgePty = await openPtyPair();
  const mcuPty = await openPtyPair();
  const proxy = await startFaultProxy(bridgePty.b, mcuPty.a, 1234);
  const mcuT = await openSerial(mcuPty.b);
  mcuT.onClose(() => {});
  const mcu = new TestDoubleMcu();
  mcu.send = (b) => void mcuT.write(Uint8Array.from(b)).catch(() => {});
  mcuT.onData((c) => mcu.receive(c));
  const link = await linkTo(bridgePty.a, 150, 6);
  t.teardown(async () => {
    await link.close();
    await proxy.close();
    await mcuT.close();
    await bridgePty.close();
    await mcuPty.close();
  });
  await link.hello();
  // Drop every byte toward the bridge until the first LIST_COMMIT reply was swallowed.
  let commitsSeen = 0;
  proxy.onBridgeFrame = (f) => {
    if (f.type === MessageType.LIST_COMMIT) {
      commitsSeen++;
      proxy.toBridge.drop = commitsSeen === 1 ? 1 : 0;
    }
  };
  await transferList(link, [rec("a")], 7);
  const commits = mcu.requests.filter((f) => f.type === MessageType.LIST_COMMIT);
  t.true(commits.length >= 2, "the commit was sent again");
  t.true(
    commits.every((f) => f.seq === commits[0].seq),
    "with the same seq",
  );
  t.is(mcu.commits, 1, "and executed once");
  t.true(link.stats.retries >= 1);
  // Every frame doubled in both directions: still one effect per request.
  proxy.toBridge.drop = 0;
  proxy.toMcu.duplicateFrame = 1;
  proxy.toBridge.duplicateFrame = 1;
  await transferList(link, [rec("a"), rec("b"), rec("c")], 8);
  t.is(mcu.commits, 2);
  t.deepEqual(
    mcu.list.map((r) => r.id),
    ["a", "b", "c"],
  );
  t.is((await getState(link)).generation, 8);
});

test("an MCU with only an older protocol version: a clear message naming both ranges", async (t) => {
  const end = await doubleOnPty({ minVersion: 1, maxVersion: 1 });
  const link = await linkTo(end.port);
  t.teardown(async () => {
    await link.close();
    await end.close();
  });
  const e = await t.throwsAsync(link.hello(), { instanceOf: VersionError });
  t.regex(e!.message, /UNSUPPORTED: this bridge speaks protocol version 2\.\.2; the MCU speaks 1\.\.1/);
  t.regex(e!.message, /update the MCU firmware/);
});

test("UNSUPPORTED for a message type names the request", async (t) => {
  const end = await doubleOnPty({ unsupported: [MessageType.SET_OPTIONS] });
  const link = await linkTo(end.port);
  t.teardown(async () => {
    await link.close();
    await end.close();
  });
  await link.hello();
  const e = await t.throwsAsync(
    link.call(MessageType.SET_OPTIONS, encodeMenuOptions({ timeoutSeconds: 1, showMenu: 0, maxTries: 3 })),
    { instanceOf: McuError },
  );
  t.is((e as McuError).result, Result.UNSUPPORTED);
  t.regex(e!.message, /MCU refused SET_OPTIONS with UNSUPPORTED: message type is not supported/);
});

test("an MCU that never answers: retries with backoff, then 'MCU not responding'", async (t) => {
  const end = await doubleOnPty({ answering: false });
  const link = await linkTo(end.port, 40, 4);
  t.teardown(async () => {
    await link.close();
    await end.close();
  });
  const t0 = Date.now();
  const e = await t.throwsAsync(link.hello(), { instanceOf: LinkTimeoutError });
  t.regex(e!.message, /^MCU not responding: no reply to HELLO \(seq \d+\) after 4 tries$/);
  t.is(end.mcu.requests.length, 0);
  t.is(link.stats.timeouts, 4);
  // 40 + 80 + 160 + 320 ms of waiting at least: the waits grew.
  t.true(Date.now() - t0 >= 590);
});

test("the real MCU: a full sync packs records into negotiated-size LIST_ITEMs; a restart with an unchanged list costs one GET_STATE", async (t) => {
  const end = await realMcuOnPty();
  const link = await linkTo(end.port, 500, 6);
  t.teardown(async () => {
    await link.close().catch(() => {});
    await end.close();
  });
  const h = await link.hello();
  t.is(h.version, 2);
  t.is(link.maxPayload, MCU_MAX_PAYLOAD);
  const list = realisticProfiles(32);
  const first = await syncWholeList(link, list);
  t.is(first.kind, "full");
  t.deepEqual(end.profiles(), list);
  const items = end.received.filter((f) => f.type === MessageType.LIST_ITEM);
  t.true(items.length >= 2 && items.length <= 5, `${items.length} LIST_ITEM frames for 32 profiles`);
  t.true(items.every((f) => f.payload.length <= MCU_MAX_PAYLOAD));
  // A bridge restarted (new link, nothing remembered) with the same list on disk.
  await link.close();
  const again = await linkTo(end.port, 500, 6);
  try {
    await again.hello();
    const before = end.received.length;
    const r = await syncWholeList(again, list);
    t.deepEqual(r, { kind: "verified", generation: first.generation });
    t.deepEqual(
      end.received.slice(before).map((f) => f.type),
      [MessageType.GET_STATE],
      "one round trip after HELLO",
    );
    // A changed list on disk: a full sync under the next generation.
    const changed = list.map((p, i) => (i === 3 ? { ...p, name: "Renamed" } : p));
    const r2 = await syncWholeList(again, changed);
    t.is(r2.kind, "full");
    t.is(r2.generation, first.generation + 1);
    t.deepEqual(end.profiles(), changed);
    // A change naming an old generation is refused, and the bridge reads it as "do a full sync".
    const e = await t.throwsAsync(
      again.call(
        MessageType.PUT_PROFILE,
        encodePutProfile({ baseGeneration: 0, newGeneration: first.generation, record: list[0] }),
      ),
    );
    t.true(isStale(e));
    t.regex(e!.message, /OLD_GENERATION: PUT_PROFILE: generation \d+ is not newer than generation \d+/);
    t.deepEqual(end.profiles(), changed);
  } finally {
    await again.close();
  }
});
