// protocol/ is shared with the MCU: it must compile with the real DeviceScript compiler and
// compute the same bytes in the DeviceScript VM as in Node.
import test from "ava";
import { crc32, hex } from "../protocol/bytes";
import { listCrc, packListItems } from "../protocol/messages";
import { BlockAction, BlockReason, BlockStatus, encodeBlock } from "../protocol/register-block";
import { bytecodeBytes, devsBuild, devsRunTest } from "./helpers/devs";

const ENTRY = "protocol/devs-check.devs.ts";

test("every protocol module compiles with the DeviceScript compiler", async (t) => {
  const r = await devsBuild(ENTRY);
  t.is(r.code, 0, r.output);
  t.false(/error TS\d+|exception:/.test(r.output), r.output);
  t.true(bytecodeBytes(r.output) > 1000, r.output);
});

test("the DeviceScript VM computes the same block CRC and list CRC as Node", async (t) => {
  const r = await devsRunTest(ENTRY);
  t.is(r.code, 0, r.output);
  t.true(r.logs.includes("protocol devs check passed"), r.output);
  const block = encodeBlock({
    status: BlockStatus.FINAL,
    action: BlockAction.BOOT,
    reason: BlockReason.USER,
    flags: 0,
    tryNumber: 1,
    maxTries: 3,
    sequence: 7,
    profileId: "desktop",
    base: "1.2.3",
  });
  t.true(r.logs.includes(`crc ${hex(Buffer.from(block).readUInt32LE(60), 8)}`), r.logs.join("\n"));
  const rec = {
    id: "pentest",
    name: "Pentest",
    base: "1.2.3",
    flags: 1,
    created: 1700000000,
    lastUsed: 0,
    origin: "desktop",
  };
  t.true(r.logs.includes(`listcrc ${hex(listCrc([rec]), 8)}`), r.logs.join("\n"));
  const router = { id: "router", name: "Router", base: "1.4", flags: 0, created: 5, lastUsed: 6, origin: "" };
  const packed = packListItems(5, [rec, router], 512);
  t.is(packed.length, 1);
  t.true(r.logs.includes(`packed ${hex(crc32(packed[0], 0, packed[0].length), 8)}`), r.logs.join("\n"));
});
