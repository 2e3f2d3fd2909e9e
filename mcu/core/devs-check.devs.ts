// Compiled by `npm run mcu:core-devs` with the DeviceScript compiler (proves mcu/core/ stays inside
// the language subset) and run in its VM with `devs run mcu/core/devs-check.devs.ts --test`
// (proves the core behaves there as in Node: policy, flash A/B, link, key timing, rendering).
import { delay } from "@devicescript/core";
import { crcFinish, crcStart, crcUpdate, hex } from "../../protocol/bytes";
import { encodeFrame, FrameKind } from "../../protocol/frame";
import {
  encodeListBegin,
  encodeListCommit,
  encodeListItem,
  encodeRecord,
  listCrc,
  MessageType,
} from "../../protocol/messages";
import { BlockStatus, decodeBlock } from "../../protocol/register-block";
import type { Canvas } from "./canvas";
import { BootCore, type CoreHost } from "./core";
import { Key } from "./keys";
import { check, KvFlash } from "./devs-kit";

/** Counts what the core sends (keeping frames would fill the VM heap, not the core). */
class Host implements CoreHost {
  sent = 0;
  finals = 0;
  send(_bytes: number[]): void {
    this.sent++;
  }
  final(_sel: unknown): void {
    this.finals++;
  }
}

class CountingCanvas implements Canvas {
  width = 256;
  height = 144;
  /** Rows drawn: the whole screen, or one 16-row band as a banded device adapter draws it. */
  clipTop = 0;
  clipBottom = 144;
  fills = 0;
  sum = 0;
  texts = 0;
  fillRect(x: number, y: number, w: number, h: number, gray: number): void {
    if (y < this.clipBottom && y + h > this.clipTop) this.fills++;
    this.sum = (this.sum + x * 7 + y * 13 + w * 17 + h * 19 + gray) % 1000000007;
  }
  text(_x: number, _y: number, _t: string, _f: number): void {
    this.texts++;
  }
}

const flash = new KvFlash();
const host = new Host();
let core = new BootCore(host, { instance: 42, autoWork: false });

/** Background work and flash writes, one bounded piece per VM turn (as the device adapter does). */
async function settle(c: BootCore): Promise<void> {
  while (c.work()) await delay(1);
  let w = c.takeWrite();
  while (w !== null) {
    flash.write(w);
    await delay(1);
    w = c.takeWrite();
  }
}

core.beginLoad(flash);
await settle(core);
core.start(0);
check("hello event", host.sent === 1);

const records = [
  {
    id: "desktop",
    name: "Desktop",
    base: "1.2.3",
    flags: 0,
    created: 1760000000,
    lastUsed: 1763000000,
    origin: "",
  },
  {
    id: "pentest",
    name: "Pentest lab",
    base: "1.2.3",
    flags: 2,
    created: 1760000000,
    lastUsed: 0,
    origin: "desktop",
  },
];
let seq = 1;
// Each call is its own VM turn, as on the device (one UART packet per event): the VM allows about
// 128k steps between two awaits.
async function request(type: number, payload: number[]): Promise<void> {
  await delay(1);
  core.uartReceive(
    encodeFrame({ type: type, seq: seq, kind: FrameKind.REQUEST, result: 0, payload: payload }),
    0,
  );
  seq++;
  await settle(core);
}
await request(MessageType.LIST_BEGIN, encodeListBegin({ generation: 7, count: 2 }));
await request(MessageType.LIST_ITEM, encodeListItem({ generation: 7, index: 0, record: records[0] }));
await request(MessageType.LIST_ITEM, encodeListItem({ generation: 7, index: 1, record: records[1] }));
await request(
  MessageType.LIST_COMMIT,
  encodeListCommit({ generation: 7, count: 2, listCrc: listCrc(records) }),
);
check("list committed", core.profiles().length === 2 && core.generation() === 7);
await delay(1);
await settle(core);

await delay(1);
core.powerOn([], 10);
const b = decodeBlock(core.registerBlock());
check("zero-wait final", b.ok && b.selection !== null && b.selection.status === BlockStatus.FINAL);
check("boots desktop", b.selection !== null && b.selection.profileId === "desktop");
console.log("block crc " + hex(core.registerBlock()[60], 2));
await delay(1);
await settle(core);

await delay(1);
core.powerOn([Key.OK], 1000);
check("menu open on held key", core.screenName() === "list");
core.keyUp(Key.OK, 1100);
await delay(1);
core.keyDown(Key.DOWN, 1200);
core.keyUp(Key.DOWN, 1250);
await delay(1);
core.keyDown(Key.OK, 1300);
await delay(1);
core.tick(1650);
check("long OK opens actions", core.screenName() === "actions");
await delay(1);
core.keyUp(Key.OK, 1700);
await delay(1);
const cv = new CountingCanvas();
let part = 0;
while (core.renderPart(cv, part++)) await delay(1);
console.log("render fills " + cv.fills + " sum " + cv.sum + " texts " + cv.texts);
check("rendered", cv.fills > 50);

await delay(1);
let again: BootCore | null = new BootCore(host, { instance: 43, autoWork: false });
again.beginLoad(flash);
await settle(again);
check("reload keeps list", again.profiles().length === 2 && again.generation() === 7);
again = null;
console.log("flash writes " + flash.writes);

// 32 profiles of the largest size through the UART, one packet per VM turn, then a frame.
function pad(s: string, n: number, c: string): string {
  let out = s;
  while (out.length < n) out += c;
  return out;
}
// Records are made on the fly (not kept) so that the check measures the core's heap, not its own.
function bigRecord(i: number) {
  const n = (i < 10 ? "0" : "") + i;
  return {
    id: pad("x" + n, 31, "z"),
    name: pad("Profile " + n + " ", 48, "n"),
    base: "1234.1234.1",
    flags: 0,
    created: 1760000000,
    lastUsed: 1763000000,
    origin: pad("o", 31, "q"),
  };
}
/** Sends 32 of the largest records (bigRecord(first..first+31)) as one list at `generation`. */
async function pushList32(generation: number, first: number): Promise<void> {
  await request(MessageType.LIST_BEGIN, encodeListBegin({ generation: generation, count: 32 }));
  let crc = crcStart();
  for (let i = 0; i < 32; i++) {
    const rec = bigRecord(i + first);
    const enc = encodeRecord(rec);
    crc = crcUpdate(crc, enc, 0, enc.length);
    await request(MessageType.LIST_ITEM, encodeListItem({ generation: generation, index: i, record: rec }));
  }
  await request(
    MessageType.LIST_COMMIT,
    encodeListCommit({ generation: generation, count: 32, listCrc: crcFinish(crc) }),
  );
}

await pushList32(8, 0);
check("32 profiles committed", core.profiles().length === 32 && core.generation() === 8);
await delay(1);
await settle(core);
console.log("flash bytes with 32 profiles " + flash.used());
await delay(1);
core.powerOn([Key.OK], 5000);
part = 0;
while (core.renderPart(cv, part++)) await delay(1);
check("rendered 32", core.screenName() === "list");
// In bands, text outside the band is skipped: the work is a little more than one frame, not nine.
const band = new CountingCanvas();
band.clipBottom = 16;
let bandFills = 0;
for (let top = 0; top < 144; top += 16) {
  band.clipTop = top;
  band.clipBottom = top + 16;
  band.fills = 0;
  part = 0;
  while (core.renderPart(band, part++)) await delay(1);
  bandFills += band.fills;
}
console.log("band fills " + bandFills);
check("bands skip text outside", bandFills > 100 && bandFills < 3000);

// Replace the 32 with 32 others (the old list stays in RAM until the commit: the heap's worst case).
await pushList32(9, 40);
check("32 replaced by 32", core.profiles().length === 32 && core.generation() === 9);
await delay(1);
// A restart: the old core is dropped (one core fits the heap), a new one loads the 32 profiles.
core = new BootCore(host, { instance: 44, autoWork: false });
core.beginLoad(flash);
await settle(core);
check("reload keeps 32", core.profiles().length === 32 && core.generation() === 9);
await delay(1);
core.powerOn([], 9000);
check(
  "boots after reload",
  decodeBlock(core.registerBlock()).ok && core.selection().status === BlockStatus.FINAL,
);
console.log("mcu core devs check passed");
