// The MCU end of the UART link: decodes frames, answers every request exactly once (same type and
// seq, a Result code, an error text naming the value and the rule), caches the last answer so a
// retried request is not executed twice, stages list transfers in RAM until a matching LIST_COMMIT,
// and sends events. No I/O: bytes arrive through receive() and leave through the `send` callback.
import { type Bytes, crcFinish, crcStart, crcUpdate, decimal, hex, utf8Encode } from "../../protocol/bytes";
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
  decodeListCommit,
  decodeListItem,
  decodeMarkGood,
  decodeMenuOptions,
  decodePutProfile,
  decodeSetDefault,
  decodeSetNext,
  encodeHelloResponse,
  encodeRecord,
  encodeProfileReply,
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

/** Largest payload this MCU accepts and sends after HELLO. */
export const MCU_MAX_PAYLOAD = 512;

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

export type SendFn = (bytes: Bytes) => void;

function sameBytes(a: Bytes, b: Bytes): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class LinkEndpoint {
  target: LinkTarget;
  send: SendFn;
  decoder = new FrameDecoder(MAX_WIRE_FRAME);
  /** Negotiated payload limit (MIN_MAX_PAYLOAD until HELLO). */
  maxPayload = MIN_MAX_PAYLOAD;
  version = PROTOCOL_VERSION;
  eventSeq = 0;
  // Retry cache: the last request and the wire bytes of its response.
  private lastType = -1;
  private lastSeq = -1;
  private lastPayload: Bytes = [];
  private lastResponse: Bytes = [];
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
  }

  /** Hashes the next staged item into the running list CRC; false when there is nothing to do. */
  private hashNext(): boolean {
    if (!this.staging || this.stageHashed >= this.stageCount) return false;
    const r = this.stageItems[this.stageHashed];
    if (r === null) return false;
    const b = encodeRecord(r);
    this.stageCrc = crcUpdate(this.stageCrc, b, 0, b.length);
    this.stageHashed++;
    return true;
  }

  /** One bounded piece of background work (hashing a staged item); false when idle. */
  work(): boolean {
    return this.hashNext();
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
    if (f.type === this.lastType && f.seq === this.lastSeq && sameBytes(f.payload, this.lastPayload)) {
      this.retries++;
      this.send(this.lastResponse);
      return;
    }
    let result: number = Result.OK;
    let payload: Bytes = [];
    if (f.payload.length > this.maxPayload) {
      result = Result.TOO_LARGE;
      payload = utf8Encode(
        "payload of " +
          decimal(f.payload.length) +
          " bytes is too large: at most " +
          decimal(this.maxPayload) +
          " bytes (negotiate with HELLO)",
      );
    } else {
      const r = this.dispatch(f);
      result = r.result;
      payload = r.payload;
    }
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
      this.lastPayload = f.payload;
      this.lastResponse = wire;
    }
    this.send(wire);
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
      o = this.listBegin(p);
    } else if (t === MessageType.LIST_ITEM) {
      o = this.listItem(p);
    } else if (t === MessageType.LIST_COMMIT) {
      o = this.listCommit(p);
    } else if (t === MessageType.PUT_PROFILE) {
      const d = decodePutProfile(p);
      if (d.value === null) return this.err(Result.INVALID, "PUT_PROFILE: " + d.error);
      o = this.target.putProfile(d.value.baseGeneration, d.value.newGeneration, d.value.record);
    } else if (t === MessageType.DELETE_PROFILE) {
      const d = decodeDeleteProfile(p);
      if (d.value === null) return this.err(Result.INVALID, "DELETE_PROFILE: " + d.error);
      o = this.target.deleteProfile(d.value.baseGeneration, d.value.newGeneration, d.value.id);
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

  private listBegin(p: Bytes): Outcome {
    // Checked by hand first so that too many profiles answers NO_SPACE rather than INVALID.
    if (p.length === 5 && p[4] > MAX_PROFILES) {
      return fail(
        Result.NO_SPACE,
        "count " +
          decimal(p[4]) +
          " is too many: this MCU holds at most " +
          decimal(MAX_PROFILES) +
          " profiles",
      );
    }
    const d = decodeListBegin5(p);
    if (d === null) return fail(Result.INVALID, "LIST_BEGIN: payload must be generation u32 + count u8");
    this.staging = true;
    this.stageGeneration = d.generation;
    this.stageCount = d.count;
    this.stageItems = [];
    for (let i = 0; i < d.count; i++) this.stageItems.push(null);
    this.stageHashed = 0;
    this.stageCrc = crcStart();
    return okOutcome();
  }

  private listItem(p: Bytes): Outcome {
    // NO_SPACE for an index past the MCU's capacity, even before the record is checked.
    if (p.length >= 5 && p[4] >= MAX_PROFILES) {
      return fail(
        Result.NO_SPACE,
        "index " +
          decimal(p[4]) +
          " is past the limit: this MCU holds at most " +
          decimal(MAX_PROFILES) +
          " profiles",
      );
    }
    const d = decodeListItem(p);
    if (d.value === null) return fail(Result.INVALID, "LIST_ITEM: " + d.error);
    const m = d.value;
    if (!this.staging)
      return fail(Result.OUT_OF_ORDER, "LIST_ITEM without LIST_BEGIN: start the transfer first");
    if (m.generation !== this.stageGeneration) {
      return fail(
        Result.OUT_OF_ORDER,
        "generation " +
          decimal(m.generation) +
          " is not the transfer in progress (" +
          decimal(this.stageGeneration) +
          ")",
      );
    }
    if (m.index >= this.stageCount) {
      return fail(
        Result.INVALID,
        "index " +
          decimal(m.index) +
          " is invalid: the transfer has " +
          decimal(this.stageCount) +
          " profiles",
      );
    }
    for (let i = 0; i < this.stageItems.length; i++) {
      const other = this.stageItems[i];
      if (i !== m.index && other !== null && other.id === m.record.id) {
        return fail(
          Result.INVALID,
          'id "' + m.record.id + '" is invalid: already used at index ' + decimal(i) + "; ids must be unique",
        );
      }
    }
    const old = this.stageItems[m.index];
    if (m.index < this.stageHashed && old !== null && !sameProfile(old, m.record)) {
      // An item already in the running CRC changed: start the CRC again (in the background).
      this.stageHashed = 0;
      this.stageCrc = crcStart();
    }
    this.stageItems[m.index] = m.record;
    if (m.index === this.stageHashed) {
      // The record's bytes are the payload after generation and index: no re-encoding.
      this.stageCrc = crcUpdate(this.stageCrc, p, 5, p.length);
      this.stageHashed++;
    }
    return okOutcome();
  }

  private listCommit(p: Bytes): Outcome {
    const d = decodeListCommit(p);
    if (d.value === null) return fail(Result.INVALID, "LIST_COMMIT: " + d.error);
    const m = d.value;
    const held = this.target.profiles();
    if (
      m.generation === this.target.generation() &&
      m.listCrc === this.target.listCrc() &&
      m.count === held.length &&
      !(this.staging && this.stageGeneration === m.generation)
    ) {
      return okOutcome(); // a retry of a commit that already happened
    }
    if (!this.staging) return fail(Result.OUT_OF_ORDER, "LIST_COMMIT without LIST_BEGIN");
    if (m.generation !== this.stageGeneration) {
      return fail(
        Result.OUT_OF_ORDER,
        "generation " +
          decimal(m.generation) +
          " is not the transfer in progress (" +
          decimal(this.stageGeneration) +
          ")",
      );
    }
    if (m.count !== this.stageCount) {
      return fail(
        Result.INVALID,
        "count " + decimal(m.count) + " is invalid: LIST_BEGIN announced " + decimal(this.stageCount),
      );
    }
    const records: ProfileRecord[] = [];
    for (let i = 0; i < this.stageItems.length; i++) {
      const r = this.stageItems[i];
      if (r === null)
        return fail(Result.INVALID, "index " + decimal(i) + " is missing: send LIST_ITEM " + decimal(i));
      records.push(r);
    }
    // Items that came out of order are hashed in the background; finish a few here, else BUSY.
    for (let k = 0; k < 2 && this.hashNext(); k++) {
      // bounded
    }
    if (this.stageHashed < this.stageCount) {
      return fail(
        Result.BUSY,
        "still checking the list (" +
          decimal(this.stageHashed) +
          " of " +
          decimal(this.stageCount) +
          " records): retry LIST_COMMIT",
      );
    }
    const c = crcFinish(this.stageCrc);
    if (c !== m.listCrc) {
      return fail(
        Result.INVALID,
        "listCrc 0x" + hex(m.listCrc, 8) + " is invalid: the received records give 0x" + hex(c, 8),
      );
    }
    const o = this.target.commitList(m.generation, records, c);
    if (o.result === Result.OK) {
      this.staging = false;
      this.stageItems = [];
    }
    return o;
  }
}

function decodeListBegin5(p: Bytes): { generation: number; count: number } | null {
  if (p.length !== 5) return null;
  return { generation: (p[0] | (p[1] << 8) | (p[2] << 16) | (p[3] << 24)) >>> 0, count: p[4] };
}
