// Compiled by `npm run protocol:devs` with the DeviceScript compiler to prove that protocol/
// stays inside the language subset the MCU runs, and run in its VM (`--test`) to prove it
// computes the same bytes there (namespace imports are not supported by the compiler).
import { crc32, hex, utf8Decode, utf8Encode } from "./bytes";
import { isValidProfileId, MAX_PROFILES, validateProfile } from "./profile";
import {
  BlockAction,
  BlockOffset,
  BlockReason,
  BlockStatus,
  decodeBlock,
  encodeBlock,
} from "./register-block";
import { parseFragment, renderFragment } from "./boot-fragment";
import { encodeFrame, type Frame, FrameDecoder, FrameKind, MAX_WIRE_FRAME } from "./frame";
import {
  decodeListBegin,
  decodeListItem,
  decodeState,
  encodeListItem,
  encodeState,
  listCrc,
  MessageType,
  noBootReport,
  packListItems,
  Result,
} from "./messages";

function check(name: string, cond: boolean): void {
  if (!cond) throw new Error("FAILED: " + name);
  console.log("ok " + name);
}

const encoded = encodeBlock({
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
check("block round trip", decodeBlock(encoded).ok);
// The same CRC Node computes (test/protocol-devs.test.ts compares this line).
console.log("crc " + hex(crc32(encoded, 0, BlockOffset.CRC), 8));
check("id rule", isValidProfileId("desktop") && !isValidProfileId("a b"));
const e = validateProfile({
  id: "a b",
  name: "X",
  base: "1.2",
  flags: 0,
  created: 0,
  lastUsed: 0,
  origin: "",
});
check("validator names the field", e !== null && e.field === "id");
check(
  "fragment",
  parseFragment(renderFragment({ kernelOptions: "quiet", overlays: ["spi-lcd"] })).error === null,
);
const u = utf8Encode("Pentest \u2713");
check("utf8", utf8Decode(u, 0, u.length) === "Pentest \u2713" && u.length === 11);

const rec = {
  id: "pentest",
  name: "Pentest",
  base: "1.2.3",
  flags: 1,
  created: 1700000000,
  lastUsed: 0,
  origin: "desktop",
};
const item = encodeListItem({ generation: 5, index: 0, record: rec });
const back = decodeListItem(item);
check("list item", back.value !== null && back.value.records[0].origin === "desktop");
console.log("listcrc " + hex(listCrc([rec]), 8));
// Several records per LIST_ITEM, packed to a payload limit, decode back in order.
const many = [
  rec,
  { id: "router", name: "Router", base: "1.4", flags: 0, created: 5, lastUsed: 6, origin: "" },
];
const packed = packListItems(5, many, 512);
const unpacked = decodeListItem(packed[0]);
check(
  "packed items",
  packed.length === 1 && unpacked.value !== null && unpacked.value.records[1].id === "router",
);
console.log("packed " + hex(crc32(packed[0], 0, packed[0].length), 8));
check("count over 32 is NO_SPACE", decodeListBegin([1, 0, 0, 0, 33]).result === Result.NO_SPACE);
const frames: Frame[] = [];
let errors = 0;
const dec = new FrameDecoder(MAX_WIRE_FRAME);
const wire = encodeFrame({
  type: MessageType.LIST_ITEM,
  seq: 9,
  kind: FrameKind.REQUEST,
  result: 0,
  payload: item,
});
const noisy = [1, 2, 3, 0];
for (const b of wire) noisy.push(b);
noisy.push(0x55, 0);
for (const b of wire) noisy.push(b);
dec.push(
  noisy,
  (f: Frame) => {
    frames.push(f);
  },
  (_err: string) => {
    errors++;
  },
);
check("frames survive garbage", frames.length === 2 && errors === 2 && frames[1].seq === 9);
const st = encodeState({
  generation: 3,
  profileCount: 1,
  listCrc: 0xfedcba98,
  maxProfiles: MAX_PROFILES,
  defaultMode: 0,
  defaultId: "pentest",
  nextAction: 0,
  nextId: "",
  options: { timeoutSeconds: 3, showMenu: 0, maxTries: 3 },
  lastGoodId: "",
  lastBoot: noBootReport(),
  tries: [{ id: "pentest", tries: 2, failed: 0 }],
});
const ds = decodeState(st);
check("state", ds.value !== null && ds.value.tries[0].tries === 2 && ds.value.listCrc === 0xfedcba98);
console.log("protocol devs check passed");
