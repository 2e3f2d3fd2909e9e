// Compiled by `npm run mcu:core-devs` with the DeviceScript compiler (proves mcu/core/ stays inside
// the language subset) and run in its VM with `devs run mcu/core/devs-check.devs.ts --test`
// (proves the core behaves there as in Node: policy, flash A/B, link, key timing, rendering).
import { delay } from "@devicescript/core";
import { hex } from "../../protocol/bytes";
import { encodeFrame, FrameKind } from "../../protocol/frame";
import {
  encodeListBegin,
  encodeListCommit,
  encodeListItem,
  listCrc,
  MessageType,
} from "../../protocol/messages";
import { BlockStatus, decodeBlock } from "../../protocol/register-block";
import type { Canvas } from "./canvas";
import { BootCore, type CoreHost } from "./core";
import { Key } from "./keys";
import type { FlashReader, FlashWrite } from "./store";

function check(name: string, cond: boolean): void {
  if (!cond) throw new Error("FAILED: " + name);
  console.log("ok " + name);
}

class KvFlash implements FlashReader {
  keys: string[] = [];
  values: number[][] = [];
  writes = 0;
  read(key: string): number[] | null {
    const i = this.keys.indexOf(key);
    return i >= 0 ? this.values[i] : null;
  }
  apply(ws: FlashWrite[]): void {
    for (const w of ws) {
      this.writes++;
      const i = this.keys.indexOf(w.key);
      if (w.value === null) {
        if (i >= 0) {
          this.keys[i] = "";
          this.values[i] = [];
        }
      } else if (i >= 0) {
        this.values[i] = w.value;
      } else {
        this.keys.push(w.key);
        this.values.push(w.value);
      }
    }
  }
}

class Host implements CoreHost {
  sent: number[][] = [];
  finals = 0;
  send(bytes: number[]): void {
    this.sent.push(bytes);
  }
  final(_sel: unknown): void {
    this.finals++;
  }
}

class CountingCanvas implements Canvas {
  width = 256;
  height = 144;
  fills = 0;
  sum = 0;
  texts = 0;
  fillRect(x: number, y: number, w: number, h: number, gray: number): void {
    this.fills++;
    this.sum = (this.sum + x * 7 + y * 13 + w * 17 + h * 19 + gray) % 1000000007;
  }
  text(_x: number, _y: number, _t: string, _f: number): void {
    this.texts++;
  }
}

const flash = new KvFlash();
const host = new Host();
const core = new BootCore(host, { instance: 42 });
core.load(flash);
core.start(0);
check("hello event", host.sent.length === 1);

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
flash.apply(core.takeWrites());

await delay(1);
core.powerOn([], 10);
const b = decodeBlock(core.registerBlock());
check("zero-wait final", b.ok && b.selection !== null && b.selection.status === BlockStatus.FINAL);
check("boots desktop", b.selection !== null && b.selection.profileId === "desktop");
console.log("block crc " + hex(core.registerBlock()[60], 2));
await delay(1);
flash.apply(core.takeWrites());

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
const again = new BootCore(host, { instance: 43 });
again.load(flash);
check("reload keeps list", again.profiles().length === 2 && again.generation() === 7);
console.log("flash writes " + flash.writes);
console.log("mcu core devs check passed");
