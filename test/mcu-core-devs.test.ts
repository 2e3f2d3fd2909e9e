// mcu/core compiled by the real DeviceScript compiler and run in its VM (mcu/core/devs-check.devs.ts):
// it must pass there, with 32 profiles of the largest size inside the VM's step budget and heap, and
// draw exactly the same frame as Node does for the same inputs.
import test from "ava";
import { encodeFrame, FrameKind } from "../protocol/frame";
import {
  encodeListBegin,
  encodeListCommit,
  encodeListItem,
  listCrc,
  MessageType,
} from "../protocol/messages";
import type { Canvas } from "../mcu/core/canvas";
import { BootCore } from "../mcu/core/core";
import { Key } from "../mcu/core/keys";
import { MemoryFlash } from "../mcu/node/flash";
import { devsRunTest } from "./helpers/devs";

/** The same checksum canvas as the VM program's. */
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
  text(): void {
    this.texts++;
  }
}

/** The first half of the VM program, in Node: the frame it draws on the actions screen. */
function nodeFrame(): string {
  const flash = new MemoryFlash();
  const core = new BootCore({ send() {}, final() {} }, { instance: 42 });
  core.load(flash);
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
  const request = (type: number, payload: number[]) =>
    core.uartReceive(encodeFrame({ type, seq: seq++, kind: FrameKind.REQUEST, result: 0, payload }), 0);
  request(MessageType.LIST_BEGIN, encodeListBegin({ generation: 7, count: 2 }));
  request(MessageType.LIST_ITEM, encodeListItem({ generation: 7, index: 0, record: records[0] }));
  request(MessageType.LIST_ITEM, encodeListItem({ generation: 7, index: 1, record: records[1] }));
  request(MessageType.LIST_COMMIT, encodeListCommit({ generation: 7, count: 2, listCrc: listCrc(records) }));
  flash.writeAll(core.takeWrites());
  core.powerOn([], 10);
  flash.writeAll(core.takeWrites());
  core.powerOn([Key.OK], 1000);
  core.keyUp(Key.OK, 1100);
  core.keyDown(Key.DOWN, 1200);
  core.keyUp(Key.DOWN, 1250);
  core.keyDown(Key.OK, 1300);
  core.tick(1650);
  core.keyUp(Key.OK, 1700);
  const cv = new CountingCanvas();
  let part = 0;
  while (core.renderPart(cv, part++));
  return `render fills ${cv.fills} sum ${cv.sum} texts ${cv.texts}`;
}

test("the core runs in the DeviceScript VM: policy, link, flash, 32 largest profiles, same frame as Node", async (t) => {
  t.timeout(400_000);
  const r = await devsRunTest("mcu/core/devs-check.devs.ts", 240_000);
  t.is(r.code, 0, r.output);
  t.true(r.logs.includes("mcu core devs check passed"), r.output);
  for (const name of [
    "ok zero-wait final",
    "ok long OK opens actions",
    "ok 32 profiles committed",
    "ok rendered 32",
    "ok bands skip text outside",
    "ok 32 replaced by 32",
    "ok reload keeps 32",
    "ok boots after reload",
  ]) {
    t.true(r.logs.includes(name), `missing "${name}"\n${r.output}`);
  }
  t.true(r.logs.includes(nodeFrame()), `the VM drew another frame than Node (${nodeFrame()})\n${r.output}`);
  const bytes = r.logs.find((l) => l.startsWith("flash bytes with 32 profiles "));
  t.truthy(bytes);
  t.true(Number(bytes!.split(" ").pop()) < 10_000);
});
