// The MCU end of the UART link: decodes frames, answers every request exactly once (same type and
// seq, a Result code, an error text naming the value and the rule), caches the last answer so a
// retried request is not executed twice, stages list transfers in RAM until a matching LIST_COMMIT,
// and sends events. No I/O: bytes arrive through receive() and leave through the `send` callback.
import { type Bytes, crc32, crcUpdate, decimal, hex, utf8Encode } from "../../protocol/bytes";
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameKind,
  MAX_WIRE_FRAME,
  MIN_MAX_PAYLOAD,
} from "../../protocol/frame";
import {
  CAPABILITIES_V1,
  decodeDeleteProfile,
  decodeGetProfile,
  decodeHelloRequest,
  decodeMarkGood,
  decodeMenuOptions,
  decodePutProfile,
  decodeSetDefault,
  decodeSetNext,
  encodeHelloResponse,
  encodeRecord,
  encodeProfileReply,
  ListItemReader,
  encodeState,
  type HelloResponse,
  type MarkGood,
  type McuState,
  type MenuOptions,
  MessageType,
  messageName,
  PROTOCOL_VERSION,
  PROTOCOL_VERSION_MIN,
  Result,
  type SetDefault,
  type SetNext,
} from "../../protocol/messages";
import { MAX_PROFILES, type ProfileRecord, sameProfile } from "../../protocol/profile";
import { listBegin, listCommit, listItem } from "./list-transfer";

/** Largest payload this MCU accepts and sends after HELLO. */
/**
 * Largest payload this MCU accepts and sends after HELLO. 410 bytes still carry 32 typical profiles
 * in 4 LIST_ITEMs, and a 410-byte frame decodes into exactly 420 elements: one of the DeviceScript
 * VM's array capacity steps (it grows arrays by 1.25x), so receiving one never reallocates past
 * 3.4 KB (512 bytes peaked at 7.6 KB while growing, and ran a 32-profile replacement out of heap).
 */
export const MCU_MAX_PAYLOAD = 410;

/** The outcome of one operation: a Result code and, on error, the message naming value and rule. */
export interface Outcome {
  result: number;
  message: string;
}

export function okOutcome(): Outcome {
  return { result: Result.OK, message: "" };
}

export function fail(result: number, message: string): Outcome {
  return { result: result, message: message };
}

/** What the link needs from the MCU state (BootCore implements it). */
export interface LinkTarget {
  generation(): number;
  listCrc(): number;
  profiles(): ProfileRecord[];
  instance(): number;
  state(): McuState;
  commitList(generation: number, records: ProfileRecord[], listCrc: number): Outcome;
  putProfile(baseGeneration: number, newGeneration: number, record: ProfileRecord): Outcome;
  deleteProfile(baseGeneration: number, newGeneration: number, id: string): Outcome;
  setDefault(m: SetDefault, fromMenu: boolean): Outcome;
  setNext(m: SetNext): Outcome;
  setOptions(m: MenuOptions): Outcome;
  markGood(m: MarkGood): Outcome;
}

/** The link's counters and list transfer progress, read-only (diagnostics and tests). */
export interface LinkStatus {
  readonly requests: number;
  /** Requests answered from the retry cache. */
  readonly retries: number;
  readonly errors: number;
  /** Frames dropped (bad CRC, bad COBS, too long). */
  readonly badFrames: number;
  /** A list transfer is staged (LIST_BEGIN seen, no LIST_COMMIT yet). */
  readonly staging: boolean;
  /** Staged items already in the running list CRC. */
  readonly stageHashed: number;
  /** Background work pending (a LIST_ITEM being checked, staged items to hash). */
  busy(): boolean;
}

export type SendFn = (bytes: Bytes) => void;

export class LinkEndpoint {
  target: LinkTarget;
  send: SendFn;
  decoder = new FrameDecoder(MAX_WIRE_FRAME);
  /** Negotiated payload limit (MIN_MAX_PAYLOAD until HELLO). */
  maxPayload = MIN_MAX_PAYLOAD;
  version = PROTOCOL_VERSION;
  eventSeq = 0;
  // Retry cache: the last request (by its frame CRC, not a copy: a packed LIST_ITEM is 410 bytes,
  // 4 KB of VM heap) and the wire bytes of its response.
  private lastType = -1;
  private lastSeq = -1;
  private lastLength = -1;
  private lastCrc = 0;
  private lastResponse: Bytes = [];
  // A LIST_ITEM being checked one record per work() step; its answer is sent when done.
  private item: ListItemReader | null = null;
  private itemFrame: Frame | null = null;
  private itemCrcId = 0;
  private itemRecords: ProfileRecord[] = [];
  /** The item extends the hashed prefix of the transfer: its records' CRC is built as they are read. */
  itemHashing = false;
  itemCrc = 0;
  // Staged list transfer.
  staging = false;
  stageGeneration = 0;
  stageCount = 0;
  stageItems: (ProfileRecord | null)[] = [];
  /** Items 0..stageHashed-1 are in stageCrc (the list CRC is built as items arrive, in order). */
  stageHashed = 0;
  stageCrc = 0;
  /** Counters for diagnostics and tests. */
  requests = 0;
  retries = 0;
  errors = 0;
  badFrames = 0;

  constructor(target: LinkTarget, send: SendFn) {
    this.target = target;
    this.send = send;
  }

  /** Feeds received bytes (any chunking). */
  receive(data: Bytes): void {
    // biome-ignore lint/complexity/noUselessThisAlias: DeviceScript rejects `this` inside arrow functions
    const self = this;
    this.decoder.push(
      data,
      (f: Frame) => {
        self.onFrame(f);
      },
      (_e: string) => {
        self.badFrames++;
      },
    );
  }

  /** Forgets a partial frame, the negotiated size, the retry cache and any staged transfer (MCU reset). */
  reset(): void {
    this.decoder.reset();
    this.maxPayload = MIN_MAX_PAYLOAD;
    this.lastType = -1;
    this.lastSeq = -1;
    this.staging = false;
    this.stageItems = [];
    this.item = null;
    this.itemFrame = null;
    this.itemRecords = [];
  }

  /** Hashes the next staged item into the running list CRC; false when there is nothing to do. */
  hashNext(): boolean {
    if (!this.staging || this.stageHashed >= this.stageCount) return false;
    const r = this.stageItems[this.stageHashed];
    if (r === null) return false;
    const b = encodeRecord(r);
    this.stageCrc = crcUpdate(this.stageCrc, b, 0, b.length);
    this.stageHashed++;
    return true;
  }

  /** One bounded piece of background work (one record of a LIST_ITEM, or hashing a staged item); false when idle. */
  work(): boolean {
    if (this.item !== null) {
      this.itemStep();
      return true;
    }
    return this.hashNext();
  }

  /** True while a LIST_ITEM is being checked (its answer is not sent yet). */
  busy(): boolean {
    return this.item !== null;
  }

  /** Sends an event frame (the bridge may answer; nothing waits for it). */
  sendEvent(type: number, payload: Bytes): void {
    this.eventSeq = (this.eventSeq + 1) & 0xff;
    this.send(
      encodeFrame({ type: type, seq: this.eventSeq, kind: FrameKind.EVENT, result: 0, payload: payload }),
    );
  }

  helloInfo(): HelloResponse {
    return {
      version: this.version,
      maxPayload: this.maxPayload,
      capabilities: CAPABILITIES_V1,
      maxProfiles: MAX_PROFILES,
      generation: this.target.generation(),
      instance: this.target.instance(),
      minVersion: PROTOCOL_VERSION_MIN,
      maxVersion: PROTOCOL_VERSION,
    };
  }

  private onFrame(f: Frame): void {
    // Responses to our events and events from the bridge need no answer.
    if (f.kind !== FrameKind.REQUEST) return;
    this.requests++;
    const crc = f.crc !== undefined ? f.crc : crc32(f.payload, 0, f.payload.length);
    if (
      f.type === this.lastType &&
      f.seq === this.lastSeq &&
      f.payload.length === this.lastLength &&
      crc === this.lastCrc
    ) {
      this.retries++;
      this.send(this.lastResponse);
      return;
    }
    const pending = this.itemFrame;
    if (pending !== null) {
      // The same LIST_ITEM again (the sender timed out): its answer follows when it is checked.
      if (f.type === pending.type && f.seq === pending.seq && crc === this.itemCrcId) return;
      this.answer(
        f,
        crc,
        Result.BUSY,
        utf8Encode("still checking LIST_ITEM seq " + decimal(pending.seq) + ": retry in a few ms"),
      );
      return;
    }
    if (f.payload.length > this.maxPayload) {
      this.answer(
        f,
        crc,
        Result.TOO_LARGE,
        utf8Encode(
          "payload of " +
            decimal(f.payload.length) +
            " bytes is too large: at most " +
            decimal(this.maxPayload) +
            " bytes (negotiate with HELLO)",
        ),
      );
      return;
    }
    if (f.type === MessageType.LIST_ITEM) {
      this.beginItem(f, crc);
      return;
    }
    const r = this.dispatch(f);
    this.answer(f, crc, r.result, r.payload);
  }

  /** Sends the one response to `f` and remembers it for a retry (BUSY is not remembered). */
  private answer(f: Frame, crc: number, result: number, payload: Bytes): void {
    if (result !== Result.OK) this.errors++;
    const wire = encodeFrame({
      type: f.type,
      seq: f.seq,
      kind: FrameKind.RESPONSE,
      result: result,
      payload: payload,
    });
    if (result === Result.BUSY) {
      // Not cached: the retry must run again.
      this.lastType = -1;
      this.lastSeq = -1;
    } else {
      this.lastType = f.type;
      this.lastSeq = f.seq;
      this.lastLength = f.payload.length;
      this.lastCrc = crc;
      this.lastResponse = wire;
    }
    this.send(wire);
  }

  /** Starts checking a LIST_ITEM: the header now, then one record per work() step. */
  private beginItem(f: Frame, crc: number): void {
    const it = new ListItemReader(f.payload);
    if (it.error !== "") {
      this.answer(f, crc, it.result, utf8Encode("LIST_ITEM: " + it.error));
      return;
    }
    this.item = it;
    this.itemFrame = f;
    this.itemCrcId = crc;
    this.itemRecords = [];
    this.itemHashing =
      this.staging && it.generation === this.stageGeneration && it.index === this.stageHashed;
    this.itemCrc = this.stageCrc;
  }

  private itemStep(): void {
    const it = this.item;
    const f = this.itemFrame;
    if (it === null || f === null) return;
    const record = it.next();
    if (record !== null) {
      this.itemRecords.push(record);
      // The record's bytes are in the payload already: no re-encoding.
      if (this.itemHashing) this.itemCrc = crcUpdate(this.itemCrc, f.payload, it.recordStart, it.recordEnd);
      return;
    }
    const records = this.itemRecords;
    this.item = null;
    this.itemFrame = null;
    this.itemRecords = [];
    const o = it.finish()
      ? listItem(this, it.generation, it.index, records)
      : fail(it.result, "LIST_ITEM: " + it.error);
    this.answer(f, this.itemCrcId, o.result, o.result === Result.OK ? [] : utf8Encode(o.message));
  }

  private dispatch(f: Frame): { result: number; payload: Bytes } {
    const t = f.type;
    const p = f.payload;
    let o: Outcome = okOutcome();
    let reply: Bytes = [];
    if (t === MessageType.HELLO) {
      const d = decodeHelloRequest(p);
      if (d.value === null) return this.err(Result.INVALID, "HELLO: " + d.error);
      const h = d.value;
      if (h.maxVersion < PROTOCOL_VERSION_MIN || h.minVersion > PROTOCOL_VERSION) {
        return this.err(
          Result.UNSUPPORTED,
          "protocol versions " +
            decimal(h.minVersion) +
            ".." +
            decimal(h.maxVersion) +
            " are not supported: this MCU speaks " +
            decimal(PROTOCOL_VERSION_MIN) +
            ".." +
            decimal(PROTOCOL_VERSION),
        );
      }
      if (h.maxPayload < MIN_MAX_PAYLOAD) {
        return this.err(
          Result.INVALID,
          "maxPayload " + decimal(h.maxPayload) + " is invalid: must be at least " + decimal(MIN_MAX_PAYLOAD),
        );
      }
      this.version = h.maxVersion < PROTOCOL_VERSION ? h.maxVersion : PROTOCOL_VERSION;
      this.maxPayload = h.maxPayload < MCU_MAX_PAYLOAD ? h.maxPayload : MCU_MAX_PAYLOAD;
      reply = encodeHelloResponse(this.helloInfo());
    } else if (t === MessageType.GET_STATE) {
      if (p.length !== 0) return this.err(Result.INVALID, "GET_STATE takes no payload");
      if (this.target.listCrc() < 0) {
        return this.err(Result.BUSY, "still computing the list CRC: retry GET_STATE");
      }
      reply = this.stateBytes();
    } else if (t === MessageType.GET_PROFILE) {
      const d = decodeGetProfile(p);
      if (d.value === null) return this.err(Result.INVALID, "GET_PROFILE: " + d.error);
      const list = this.target.profiles();
      const i = d.value.index;
      if (i >= list.length) {
        return this.err(
          Result.NOT_FOUND,
          "index " + decimal(i) + " is not in the list: the MCU holds " + decimal(list.length) + " profiles",
        );
      }
      reply = encodeProfileReply({
        generation: this.target.generation(),
        count: list.length,
        index: i,
        record: list[i],
      });
    } else if (t === MessageType.LIST_BEGIN) {
      o = listBegin(this, p);
    } else if (t === MessageType.LIST_COMMIT) {
      o = listCommit(this, p);
    } else if (t === MessageType.PUT_PROFILE) {
      const d = decodePutProfile(p);
      if (d.value === null) return this.err(Result.INVALID, "PUT_PROFILE: " + d.error);
      const m = d.value;
      const held = this.target.generation();
      if (m.newGeneration <= held) {
        // Only a retry of the change that made the current generation is harmless.
        const i = this.heldIndex(m.record.id);
        const done = i >= 0 && sameProfile(this.target.profiles()[i], m.record);
        if (!(m.newGeneration === held && done)) return this.oldGeneration("PUT_PROFILE", m.newGeneration);
      } else {
        o = this.target.putProfile(m.baseGeneration, m.newGeneration, m.record);
      }
    } else if (t === MessageType.DELETE_PROFILE) {
      const d = decodeDeleteProfile(p);
      if (d.value === null) return this.err(Result.INVALID, "DELETE_PROFILE: " + d.error);
      const m = d.value;
      const held = this.target.generation();
      if (m.newGeneration <= held) {
        const done = this.heldIndex(m.id) < 0;
        if (!(m.newGeneration === held && done)) return this.oldGeneration("DELETE_PROFILE", m.newGeneration);
      } else {
        o = this.target.deleteProfile(m.baseGeneration, m.newGeneration, m.id);
      }
    } else if (t === MessageType.SET_DEFAULT) {
      const d = decodeSetDefault(p);
      if (d.value === null) return this.err(Result.INVALID, "SET_DEFAULT: " + d.error);
      o = this.target.setDefault(d.value, false);
    } else if (t === MessageType.SET_NEXT) {
      const d = decodeSetNext(p);
      if (d.value === null) return this.err(Result.INVALID, "SET_NEXT: " + d.error);
      o = this.target.setNext(d.value);
    } else if (t === MessageType.SET_OPTIONS) {
      const d = decodeMenuOptions(p);
      if (d.value === null) return this.err(Result.INVALID, "SET_OPTIONS: " + d.error);
      o = this.target.setOptions(d.value);
    } else if (t === MessageType.MARK_GOOD) {
      const d = decodeMarkGood(p);
      if (d.value === null) return this.err(Result.INVALID, "MARK_GOOD: " + d.error);
      o = this.target.markGood(d.value);
    } else {
      return this.err(
        Result.UNSUPPORTED,
        "message type 0x" + hex(t, 2) + " (" + messageName(t) + ") is not a request this MCU handles",
      );
    }
    if (o.result !== Result.OK) return this.err(o.result, o.message);
    return { result: Result.OK, payload: reply };
  }

  private err(result: number, message: string): { result: number; payload: Bytes } {
    return { result: result, payload: utf8Encode(message) };
  }

  private heldIndex(id: string): number {
    const list = this.target.profiles();
    for (let i = 0; i < list.length; i++) if (list[i].id === id) return i;
    return -1;
  }

  /** Generations only move forward: a replayed or outdated change is refused, naming both. */
  private oldGeneration(what: string, generation: number): { result: number; payload: Bytes } {
    return this.err(Result.OLD_GENERATION, this.oldGenerationText(what, generation));
  }

  oldGenerationText(what: string, generation: number): string {
    return (
      what +
      ": generation " +
      decimal(generation) +
      " is not newer than generation " +
      decimal(this.target.generation()) +
      " the MCU holds: generations only move forward (read GET_STATE, then send a newer one)"
    );
  }

  /** GET_STATE's reply, with the try list shortened if it would exceed the negotiated size. */
  stateBytes(): Bytes {
    const s = this.target.state();
    let b = encodeState(s);
    while (b.length > this.maxPayload && s.tries.length > 0) {
      s.tries.pop();
      b = encodeState(s);
    }
    return b;
  }
}
