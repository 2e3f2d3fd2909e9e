// The rig of core.test.devs.ts: one MCU (the real BootCore on a KvFlash, with a clock) and request
// helpers, each call in its own VM turn (the VM allows about 128k steps between awaits).
import { delay } from "@devicescript/core";
import { type Frame, encodeFrame, FrameDecoder, FrameKind, MAX_WIRE_FRAME } from "../../protocol/frame";
import {
  encodeListBegin,
  encodeListCommit,
  encodeListItem,
  encodeMarkGood,
  encodeMenuOptions,
  listCrc,
  MessageType,
  Result,
} from "../../protocol/messages";
import type { ProfileRecord } from "../../protocol/profile";
import { type BootSelection, decodeBlock } from "../../protocol/register-block";
import { BootCore, type CoreHost } from "../core/core";

import { KvFlash } from "../core/devs-kit";

export async function turn(): Promise<void> {
  await delay(0);
}

/** Collects what the core sends; decodes the frames. */
export class Host implements CoreHost {
  frames: Frame[] = [];
  finals: BootSelection[] = [];
  decoder = new FrameDecoder(MAX_WIRE_FRAME);
  last: Frame | null = null;
  send(bytes: number[]): void {
    const got: Frame[] = [];
    this.decoder.push(
      bytes,
      (f: Frame) => {
        got.push(f);
      },
      (_e: string) => {},
    );
    for (const f of got) {
      this.frames.push(f);
      this.last = f;
    }
  }
  final(sel: BootSelection): void {
    this.finals.push(sel);
  }
}

/** One MCU: a core on a flash, with a clock and request helpers (each request its own VM turn). */
export class Mcu {
  host = new Host();
  flash: KvFlash;
  core: BootCore;
  now = 1000;
  seq = 0;
  constructor(flash: KvFlash, instance: number) {
    this.flash = flash;
    this.core = new BootCore(this.host, { instance: instance });
    this.core.load(flash);
    this.core.start(this.now);
  }
  /** Writes everything the core asks for (in order). */
  sync(): void {
    const ws = this.core.takeWrites();
    for (const w of ws) this.flash.write(w);
  }
  async request(type: number, payload: number[]): Promise<Frame> {
    await turn();
    this.seq = (this.seq + 1) & 0xff;
    this.host.last = null;
    this.now += 5;
    this.core.uartReceive(
      encodeFrame({ type: type, seq: this.seq, kind: FrameKind.REQUEST, result: 0, payload: payload }),
      this.now,
    );
    this.sync();
    const r = this.host.last;
    if (r === null) throw new Error("no response to type " + type);
    return r;
  }
  async result(type: number, payload: number[]): Promise<number> {
    const r = await this.request(type, payload);
    return r.result;
  }
  async pushList(generation: number, records: ProfileRecord[]): Promise<number> {
    let r = await this.result(
      MessageType.LIST_BEGIN,
      encodeListBegin({ generation: generation, count: records.length }),
    );
    if (r !== Result.OK) return r;
    for (let i = 0; i < records.length; i++) {
      r = await this.result(
        MessageType.LIST_ITEM,
        encodeListItem({ generation: generation, index: i, record: records[i] }),
      );
      if (r !== Result.OK) return r;
    }
    return await this.result(
      MessageType.LIST_COMMIT,
      encodeListCommit({ generation: generation, count: records.length, listCrc: listCrc(records) }),
    );
  }
  async options(timeoutSeconds: number, showMenu: number, maxTries: number): Promise<number> {
    return await this.result(
      MessageType.SET_OPTIONS,
      encodeMenuOptions({ timeoutSeconds: timeoutSeconds, showMenu: showMenu, maxTries: maxTries }),
    );
  }
  async powerOn(held: number[]): Promise<BootSelection> {
    await turn();
    this.now += 1000;
    this.core.powerOn(held, this.now);
    this.sync();
    return this.block();
  }
  async keyPress(key: number): Promise<void> {
    await turn();
    this.now += 50;
    this.core.keyDown(key, this.now);
    this.now += 50;
    this.core.keyUp(key, this.now);
    this.sync();
  }
  async keyUp(key: number): Promise<void> {
    await turn();
    this.now += 50;
    this.core.keyUp(key, this.now);
    this.sync();
  }
  async tick(ms: number): Promise<BootSelection> {
    await turn();
    this.now += ms;
    this.core.tick(this.now);
    this.sync();
    return this.block();
  }
  /** The register block, decoded the way U-Boot reads it. */
  block(): BootSelection {
    const d = decodeBlock(this.core.registerBlock());
    if (!d.ok || d.selection === null) throw new Error("block does not decode: " + d.error + " " + d.detail);
    return d.selection;
  }
  async markGood(sel: BootSelection): Promise<number> {
    return await this.result(
      MessageType.MARK_GOOD,
      encodeMarkGood({ sequence: sel.sequence, id: sel.profileId }),
    );
  }
}

export function rec(id: string, name: string, flags: number): ProfileRecord {
  return { id: id, name: name, base: "1.2.3", origin: "", flags: flags, created: 1760000000, lastUsed: 0 };
}

function threeProfiles(): ProfileRecord[] {
  return [rec("desktop", "Desktop", 0), rec("pentest", "Pentest lab", 0), rec("kiosk", "Kiosk", 2)];
}

/** A fresh MCU holding desktop, pentest, kiosk (generation 7). */
export async function withList(): Promise<Mcu> {
  const m = new Mcu(new KvFlash(), 1);
  const r = await m.pushList(7, threeProfiles());
  if (r !== Result.OK) throw new Error("list push failed: " + r);
  return m;
}
