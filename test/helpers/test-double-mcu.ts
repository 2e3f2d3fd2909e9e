// TEST DOUBLE of the MCU's UART endpoint, for soc-bridge tests only: a minimal responder that
// follows the link semantics in CONTRIBUTING.md (response cache per seq, staged list transfer,
// generations that only move forward, STALE, UNSUPPORTED, ...). The real endpoint is mcu/node NodeMcu; integration tests use that.
import { type Bytes, utf8Encode } from "../../protocol/bytes";
import { encodeFrame, type Frame, FrameDecoder, FrameKind, MAX_WIRE_FRAME } from "../../protocol/frame";
import {
  CAPABILITIES_V1,
  DefaultMode,
  decodeDeleteProfile,
  decodeGetProfile,
  decodeHelloRequest,
  decodeListBegin,
  decodeListCommit,
  decodeListItem,
  decodeMarkGood,
  decodeMenuOptions,
  decodePutProfile,
  decodeSetDefault,
  decodeSetNext,
  encodeBootReport,
  encodeHelloResponse,
  encodeProfileReply,
  encodeSetDefault,
  encodeState,
  listCrc,
  type BootReport,
  type McuState,
  MessageType,
  noBootReport,
  PROTOCOL_VERSION,
  Result,
} from "../../protocol/messages";
import type { ProfileRecord } from "../../protocol/profile";

export interface TestDoubleOptions {
  maxProfiles?: number;
  minVersion?: number;
  maxVersion?: number;
  /** Message types answered UNSUPPORTED. */
  unsupported?: number[];
  /** When false the double never answers (an MCU that is off). */
  answering?: boolean;
}

export class TestDoubleMcu {
  send: (bytes: Bytes) => void = () => {};
  list: ProfileRecord[] = [];
  generation = 0;
  instance = 0x1000;
  defaultMode: number = DefaultMode.LAST_USED;
  defaultId = "";
  nextAction = 0;
  nextId = "";
  options = { timeoutSeconds: 3, showMenu: 0, maxTries: 3 };
  lastGoodId = "";
  lastBoot: BootReport = noBootReport();
  commits = 0;
  requests: Frame[] = [];
  answering: boolean;
  private staged: { generation: number; count: number; items: (ProfileRecord | null)[] } | null = null;
  private decoder = new FrameDecoder(MAX_WIRE_FRAME);
  private cache: { key: string; reply: Bytes } | null = null;
  private eventSeq = 0;
  readonly maxProfiles: number;
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly unsupported: number[];

  constructor(opts: TestDoubleOptions = {}) {
    this.maxProfiles = opts.maxProfiles ?? 32;
    this.minVersion = opts.minVersion ?? PROTOCOL_VERSION;
    this.maxVersion = opts.maxVersion ?? PROTOCOL_VERSION;
    this.unsupported = opts.unsupported ?? [];
    this.answering = opts.answering ?? true;
  }

  receive(bytes: ArrayLike<number>): void {
    this.decoder.push(
      Array.from(bytes),
      (f) => this.onFrame(f),
      () => {},
    );
  }

  /** MCU reset: RAM (staged list, cache) lost, committed list kept, EVENT_HELLO sent. */
  restart(): void {
    this.staged = null;
    this.cache = null;
    this.decoder.reset();
    this.instance++;
    this.event(MessageType.EVENT_HELLO, encodeHelloResponse(this.hello()));
  }

  /** The owner changed the default in the menu. */
  ownerSetsDefault(id: string): void {
    this.defaultMode = DefaultMode.FIXED;
    this.defaultId = id;
    this.event(MessageType.EVENT_DEFAULT_CHANGED, encodeSetDefault({ mode: DefaultMode.FIXED, id: id }));
  }

  boot(id: string): void {
    const p = this.list.find((r) => r.id === id);
    this.lastBoot = {
      sequence: this.lastBoot.sequence + 1,
      action: 1,
      reason: 3,
      flags: 4,
      tryNumber: 1,
      maxTries: this.options.maxTries,
      id: id,
      base: p ? p.base : "",
      good: 0,
    };
    this.event(MessageType.EVENT_BOOT, encodeBootReport(this.lastBoot));
  }

  private event(type: number, payload: Bytes): void {
    this.eventSeq = (this.eventSeq + 1) & 0xff;
    this.send(encodeFrame({ type, seq: this.eventSeq, kind: FrameKind.EVENT, result: 0, payload }));
  }

  hello() {
    return {
      version: this.maxVersion,
      maxPayload: 512,
      capabilities: CAPABILITIES_V1,
      maxProfiles: this.maxProfiles,
      generation: this.generation,
      instance: this.instance,
      minVersion: this.minVersion,
      maxVersion: this.maxVersion,
    };
  }

  state(): McuState {
    return {
      generation: this.generation,
      profileCount: this.list.length,
      listCrc: listCrc(this.list),
      maxProfiles: this.maxProfiles,
      defaultMode: this.defaultMode,
      defaultId: this.defaultId,
      nextAction: this.nextAction,
      nextId: this.nextId,
      options: { ...this.options },
      lastGoodId: this.lastGoodId,
      lastBoot: { ...this.lastBoot },
      tries: [],
    };
  }

  private onFrame(f: Frame): void {
    if (f.kind !== FrameKind.REQUEST || !this.answering) return;
    this.requests.push(f);
    const key = f.type + "/" + f.seq + "/" + f.payload.join(",");
    if (this.cache && this.cache.key === key) {
      this.send(this.cache.reply);
      return;
    }
    const [result, payload] = this.handle(f);
    const reply = encodeFrame({ type: f.type, seq: f.seq, kind: FrameKind.RESPONSE, result, payload });
    this.cache = { key, reply };
    this.send(reply);
  }

  private handle(f: Frame): [number, Bytes] {
    const err = (code: number, text: string): [number, Bytes] => [code, utf8Encode(text)];
    if (this.unsupported.includes(f.type)) {
      if (f.type === MessageType.HELLO) return [Result.UNSUPPORTED, encodeHelloResponse(this.hello())];
      return err(Result.UNSUPPORTED, "message type is not supported");
    }
    switch (f.type) {
      case MessageType.HELLO: {
        const d = decodeHelloRequest(f.payload);
        if (!d.value) return err(Result.INVALID, d.error);
        if (d.value.maxVersion < this.minVersion || d.value.minVersion > this.maxVersion) {
          return [Result.UNSUPPORTED, encodeHelloResponse(this.hello())];
        }
        return [Result.OK, encodeHelloResponse(this.hello())];
      }
      case MessageType.GET_STATE:
        return [Result.OK, encodeState(this.state())];
      case MessageType.GET_PROFILE: {
        const d = decodeGetProfile(f.payload);
        if (!d.value) return err(Result.INVALID, d.error);
        const rec = this.list[d.value.index];
        if (!rec) return err(Result.NOT_FOUND, "index is out of range");
        return [
          Result.OK,
          encodeProfileReply({
            generation: this.generation,
            count: this.list.length,
            index: d.value.index,
            record: rec,
          }),
        ];
      }
      case MessageType.LIST_BEGIN: {
        const d = decodeListBegin(f.payload);
        if (!d.value) return err(d.result, d.error);
        if (d.value.count > this.maxProfiles) return err(Result.NO_SPACE, "too many profiles");
        if (d.value.generation <= this.generation) return err(Result.OLD_GENERATION, "old generation");
        this.staged = { generation: d.value.generation, count: d.value.count, items: [] };
        return [Result.OK, []];
      }
      case MessageType.LIST_ITEM: {
        const d = decodeListItem(f.payload);
        if (!d.value) return err(d.result, d.error);
        const s = this.staged;
        const v = d.value;
        if (!s || s.generation !== v.generation || v.index + v.records.length > s.count) {
          return err(Result.OUT_OF_ORDER, "no list transfer for this generation");
        }
        v.records.forEach((r, k) => {
          s.items[v.index + k] = r;
        });
        return [Result.OK, []];
      }
      case MessageType.LIST_COMMIT: {
        const d = decodeListCommit(f.payload);
        if (!d.value) return err(Result.INVALID, d.error);
        const c = d.value;
        if (c.generation === this.generation && c.listCrc === listCrc(this.list)) {
          return [Result.OK, []];
        }
        if (c.generation <= this.generation) return err(Result.OLD_GENERATION, "old generation");
        const s = this.staged;
        if (!s || s.generation !== c.generation || s.count !== c.count) {
          return err(Result.OUT_OF_ORDER, "no list transfer for this generation");
        }
        const items: ProfileRecord[] = [];
        for (let i = 0; i < s.count; i++) {
          const it = s.items[i];
          if (!it) return err(Result.OUT_OF_ORDER, "item missing");
          items.push(it);
        }
        if (listCrc(items) !== c.listCrc) return err(Result.INVALID, "listCrc does not match");
        this.list = items;
        this.generation = c.generation;
        this.staged = null;
        this.commits++;
        return [Result.OK, []];
      }
      case MessageType.PUT_PROFILE: {
        const d = decodePutProfile(f.payload);
        if (!d.value) return err(Result.INVALID, d.error);
        const m = d.value;
        if (m.newGeneration <= this.generation) {
          const held = this.list.find((r) => r.id === m.record.id);
          const done = held !== undefined && JSON.stringify(held) === JSON.stringify(m.record);
          if (m.newGeneration === this.generation && done) return [Result.OK, []];
          return err(Result.OLD_GENERATION, "old generation");
        }
        if (m.baseGeneration !== this.generation) return err(Result.STALE, "generation differs");
        const i = this.list.findIndex((r) => r.id === m.record.id);
        if (i >= 0) this.list[i] = m.record;
        else if (this.list.length >= this.maxProfiles) return err(Result.NO_SPACE, "full");
        else this.list.push(m.record);
        this.generation = m.newGeneration;
        return [Result.OK, []];
      }
      case MessageType.DELETE_PROFILE: {
        const d = decodeDeleteProfile(f.payload);
        if (!d.value) return err(Result.INVALID, d.error);
        const m = d.value;
        if (m.newGeneration <= this.generation) {
          const done = !this.list.some((r) => r.id === m.id);
          if (m.newGeneration === this.generation && done) return [Result.OK, []];
          return err(Result.OLD_GENERATION, "old generation");
        }
        if (m.baseGeneration !== this.generation) return err(Result.STALE, "generation differs");
        this.list = this.list.filter((r) => r.id !== m.id);
        this.generation = m.newGeneration;
        return [Result.OK, []];
      }
      case MessageType.SET_DEFAULT: {
        const d = decodeSetDefault(f.payload);
        if (!d.value) return err(Result.INVALID, d.error);
        if (d.value.mode === DefaultMode.FIXED && !this.list.some((r) => r.id === d.value!.id)) {
          return err(Result.NOT_FOUND, "id is not a profile");
        }
        this.defaultMode = d.value.mode;
        this.defaultId = d.value.id;
        return [Result.OK, []];
      }
      case MessageType.SET_NEXT: {
        const d = decodeSetNext(f.payload);
        if (!d.value) return err(Result.INVALID, d.error);
        if (d.value.id !== "" && !this.list.some((r) => r.id === d.value!.id)) {
          return err(Result.NOT_FOUND, "id is not a profile");
        }
        this.nextAction = d.value.id === "" ? 0 : d.value.action;
        this.nextId = d.value.id;
        return [Result.OK, []];
      }
      case MessageType.SET_OPTIONS: {
        const d = decodeMenuOptions(f.payload);
        if (!d.value) return err(Result.INVALID, d.error);
        this.options = d.value;
        return [Result.OK, []];
      }
      case MessageType.MARK_GOOD: {
        const d = decodeMarkGood(f.payload);
        if (!d.value) return err(Result.INVALID, d.error);
        if (d.value.sequence !== this.lastBoot.sequence) return err(Result.STALE, "sequence differs");
        this.lastBoot.good = 1;
        this.lastGoodId = this.lastBoot.id;
        return [Result.OK, []];
      }
      default:
        return err(Result.UNSUPPORTED, "message type is not supported");
    }
  }
}
