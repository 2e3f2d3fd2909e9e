// Shared helpers for the mcu-*.test.ts files: a manual-clock NodeMcu, a synchronous bridge-side
// link client, and profile fixtures.
import { utf8Decode } from "../../protocol/bytes";
import { encodeFrame, type Frame, FrameDecoder, FrameKind, MAX_WIRE_FRAME } from "../../protocol/frame";
import {
  decodeState,
  encodeListBegin,
  encodeListCommit,
  encodeListItem,
  listCrc,
  type McuState,
  MessageType,
  Result,
} from "../../protocol/messages";
import type { ProfileRecord } from "../../protocol/profile";
import { MemoryFlash } from "../../mcu/node/flash";
import { NodeMcu } from "../../mcu/node/mcu";

export function profile(id: string, extra: Partial<ProfileRecord> = {}): ProfileRecord {
  return {
    id,
    name: id.charAt(0).toUpperCase() + id.slice(1),
    base: "1.2.3",
    flags: 0,
    created: 1760000000,
    lastUsed: 0,
    origin: "",
    ...extra,
  };
}

export function profiles(n: number): ProfileRecord[] {
  const out: ProfileRecord[] = [];
  for (let i = 0; i < n; i++) out.push(profile(`p${String(i).padStart(2, "0")}`, { name: `Profile ${i}` }));
  return out;
}

export interface Reply {
  type: number;
  seq: number;
  result: number;
  payload: number[];
  /** The error text of a non-OK reply. */
  message: string;
}

/** The bridge side of the link, synchronous (the core answers inside uartReceive). */
export class TestLink {
  mcu: NodeMcu;
  seq = 0;
  responses: Frame[] = [];
  events: Frame[] = [];
  private dec = new FrameDecoder(MAX_WIRE_FRAME);

  constructor(mcu: NodeMcu) {
    this.mcu = mcu;
    mcu.on("uart-tx", (bytes) => {
      this.dec.push(
        bytes,
        (f) => (f.kind === FrameKind.EVENT ? this.events : this.responses).push(f),
        () => {
          throw new Error("MCU sent a bad frame");
        },
      );
    });
  }

  /** Sends raw bytes and returns the responses they produced. */
  raw(bytes: number[]): Frame[] {
    const before = this.responses.length;
    this.mcu.uartReceive(bytes);
    return this.responses.slice(before);
  }

  send(type: number, payload: number[], seq?: number): Reply {
    if (seq === undefined) {
      this.seq = (this.seq + 1) & 0xff;
      seq = this.seq;
    }
    const got = this.raw(encodeFrame({ type, seq, kind: FrameKind.REQUEST, result: 0, payload }));
    if (got.length !== 1) throw new Error(`expected exactly one response, got ${got.length}`);
    const f = got[0];
    if (f.type !== type || f.seq !== seq || f.kind !== FrameKind.RESPONSE)
      throw new Error("response does not match");
    return {
      type: f.type,
      seq: f.seq,
      result: f.result,
      payload: f.payload,
      message: f.result === Result.OK ? "" : (utf8Decode(f.payload, 0, f.payload.length) ?? "(bad utf8)"),
    };
  }

  state(): McuState {
    const r = this.send(MessageType.GET_STATE, []);
    const d = decodeState(r.payload);
    if (!d.value) throw new Error(d.error);
    return d.value;
  }

  /** A full list transfer; returns the commit reply. */
  pushList(records: ProfileRecord[], generation: number): Reply {
    const b = this.send(MessageType.LIST_BEGIN, encodeListBegin({ generation, count: records.length }));
    if (b.result !== Result.OK) return b;
    for (let i = 0; i < records.length; i++) {
      const r = this.send(
        MessageType.LIST_ITEM,
        encodeListItem({ generation, index: i, record: records[i] }),
      );
      if (r.result !== Result.OK) return r;
    }
    return this.send(
      MessageType.LIST_COMMIT,
      encodeListCommit({ generation, count: records.length, listCrc: listCrc(records) }),
    );
  }
}

/** A manual-clock MCU on a memory flash, started, with a link client. */
export async function makeMcu(
  flash = new MemoryFlash(),
): Promise<{ mcu: NodeMcu; link: TestLink; flash: MemoryFlash }> {
  const mcu = new NodeMcu({ flash, clock: "manual", instance: 0x1234 });
  const link = new TestLink(mcu);
  await mcu.start();
  return { mcu, link, flash };
}
