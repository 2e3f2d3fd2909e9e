// UART link messages between the Linux bridge (controller) and the MCU (responder).
// Every request gets exactly one response with the same type and seq and a Result code.
// Payload codecs return { value, error } and never throw; a decoder that returns an error
// makes the MCU answer INVALID and change nothing.
import { type Bytes, crcFinish, crcStart, crcUpdate, decimal } from "./bytes";
import {
  checkProfileId,
  formatFieldError,
  MAX_PROFILES,
  PROFILE_FLAGS_KNOWN,
  type ProfileRecord,
  validateProfile,
} from "./profile";
import { MIN_MAX_PAYLOAD } from "./frame";
import { ByteReader, ByteWriter } from "./wire";
import { ACTION_NAMES, BlockAction, BlockReason } from "./register-block";

/**
 * Version 2: LIST_ITEM carries several records, GET_STATE carries the list CRC, and generations only
 * move forward (OLD_GENERATION). Version 1 MCUs were never deployed, so neither side speaks it.
 */
export const PROTOCOL_VERSION = 2;
export const PROTOCOL_VERSION_MIN = 2;

export const MessageType = {
  HELLO: 0x01,
  GET_STATE: 0x02,
  GET_PROFILE: 0x03,
  LIST_BEGIN: 0x10,
  LIST_ITEM: 0x11,
  LIST_COMMIT: 0x12,
  PUT_PROFILE: 0x13,
  DELETE_PROFILE: 0x14,
  SET_DEFAULT: 0x20,
  SET_NEXT: 0x21,
  SET_OPTIONS: 0x22,
  MARK_GOOD: 0x23,
  EVENT_BOOT: 0x30,
  EVENT_DEFAULT_CHANGED: 0x31,
  EVENT_HELLO: 0x32,
} as const;

export const MESSAGE_NAMES: string[] = [];
MESSAGE_NAMES[0x01] = "HELLO";
MESSAGE_NAMES[0x02] = "GET_STATE";
MESSAGE_NAMES[0x03] = "GET_PROFILE";
MESSAGE_NAMES[0x10] = "LIST_BEGIN";
MESSAGE_NAMES[0x11] = "LIST_ITEM";
MESSAGE_NAMES[0x12] = "LIST_COMMIT";
MESSAGE_NAMES[0x13] = "PUT_PROFILE";
MESSAGE_NAMES[0x14] = "DELETE_PROFILE";
MESSAGE_NAMES[0x20] = "SET_DEFAULT";
MESSAGE_NAMES[0x21] = "SET_NEXT";
MESSAGE_NAMES[0x22] = "SET_OPTIONS";
MESSAGE_NAMES[0x23] = "MARK_GOOD";
MESSAGE_NAMES[0x30] = "EVENT_BOOT";
MESSAGE_NAMES[0x31] = "EVENT_DEFAULT_CHANGED";
MESSAGE_NAMES[0x32] = "EVENT_HELLO";

export function messageName(type: number): string {
  const n = MESSAGE_NAMES[type];
  return n ? n : "0x" + decimal(type);
}

/** Result codes (frame header byte 3 of a response). */
export const Result = {
  OK: 0,
  UNSUPPORTED: 1,
  INVALID: 2,
  NO_SPACE: 3,
  BUSY: 4,
  STALE: 5,
  NOT_FOUND: 6,
  TOO_LARGE: 7,
  OUT_OF_ORDER: 8,
  OLD_GENERATION: 9,
} as const;
export const RESULT_NAMES = [
  "OK",
  "UNSUPPORTED",
  "INVALID",
  "NO_SPACE",
  "BUSY",
  "STALE",
  "NOT_FOUND",
  "TOO_LARGE",
  "OUT_OF_ORDER",
  "OLD_GENERATION",
];

export function resultName(code: number): string {
  const n = RESULT_NAMES[code];
  return n ? n : "RESULT_" + decimal(code);
}

/** Capability bits announced in HELLO. */
export const Capability = {
  LIST_TRANSFER: 0x01,
  PROFILE_DELTA: 0x02,
  EVENTS: 0x04,
  NEXT_ACTIONS: 0x08,
  MENU_OPTIONS: 0x10,
} as const;
export const CAPABILITIES_V1 = 0x1f;

/** Default-profile modes. */
export const DefaultMode = { FIXED: 0, LAST_USED: 1 } as const;
/** When the menu opens at power-on. */
export const ShowMenu = { ON_KEY: 0, ALWAYS: 1 } as const;
export const MAX_TRIES_LIMIT = 10;
export const MENU_TIMEOUT_MAX = 60;
/** Per-profile try counters a STATE reply carries at most (those with tries > 0). */
export const STATE_TRIES_MAX = 8;

export interface Decoded<T> {
  value: T | null;
  /** Empty when value is set; otherwise names the field, the value and the rule. */
  error: string;
  /**
   * The Result a responder answers with: OK with a value, INVALID for a malformed payload or a
   * broken rule, NO_SPACE for a list count or index past MAX_PROFILES.
   */
  result: number;
}

function ok<T>(value: T): Decoded<T> {
  return { value: value, error: "", result: Result.OK };
}

function bad<T>(error: string): Decoded<T> {
  return { value: null, error: error, result: Result.INVALID };
}

function noSpace<T>(error: string): Decoded<T> {
  return { value: null, error: error, result: Result.NO_SPACE };
}

const SHORT = "payload is truncated or has trailing bytes";

// ---- HELLO ----------------------------------------------------------------------------------

export interface HelloRequest {
  minVersion: number;
  maxVersion: number;
  /** Largest payload the sender accepts. */
  maxPayload: number;
  capabilities: number;
}

export interface HelloResponse {
  version: number;
  maxPayload: number;
  capabilities: number;
  maxProfiles: number;
  generation: number;
  /** Random per MCU start: a change tells the bridge the MCU restarted. */
  instance: number;
  /** The MCU's supported version range, so an UNSUPPORTED answer says what would work. */
  minVersion: number;
  maxVersion: number;
}

export function encodeHelloRequest(h: HelloRequest): Bytes {
  return new ByteWriter().u8(h.minVersion).u8(h.maxVersion).u16(h.maxPayload).u32(h.capabilities).bytes;
}

export function decodeHelloRequest(p: Bytes): Decoded<HelloRequest> {
  const r = new ByteReader(p, 0, p.length);
  const v = { minVersion: r.u8(), maxVersion: r.u8(), maxPayload: r.u16(), capabilities: r.u32() };
  if (!r.done()) return bad(SHORT);
  if (v.minVersion > v.maxVersion) {
    return bad("version range " + decimal(v.minVersion) + ".." + decimal(v.maxVersion) + " is empty");
  }
  return ok(v);
}

export function encodeHelloResponse(h: HelloResponse): Bytes {
  return new ByteWriter()
    .u8(h.version)
    .u16(h.maxPayload)
    .u32(h.capabilities)
    .u8(h.maxProfiles)
    .u32(h.generation)
    .u32(h.instance)
    .u8(h.minVersion)
    .u8(h.maxVersion).bytes;
}

export function decodeHelloResponse(p: Bytes): Decoded<HelloResponse> {
  const r = new ByteReader(p, 0, p.length);
  const v = {
    version: r.u8(),
    maxPayload: r.u16(),
    capabilities: r.u32(),
    maxProfiles: r.u8(),
    generation: r.u32(),
    instance: r.u32(),
    minVersion: r.u8(),
    maxVersion: r.u8(),
  };
  if (!r.done()) return bad(SHORT);
  if (v.maxPayload < MIN_MAX_PAYLOAD) {
    // A peer that took it would have to refuse even HELLO afterwards.
    return bad(
      "maxPayload " + decimal(v.maxPayload) + " is invalid: must be at least " + decimal(MIN_MAX_PAYLOAD),
    );
  }
  return ok(v);
}

// ---- profile records on the wire ----------------------------------------------------------

/** Record layout: id, name, base, origin (u8 length + bytes each), flags u8, created u32, lastUsed u32. */
export function writeRecord(w: ByteWriter, p: ProfileRecord): void {
  w.str(p.id).str(p.name).str(p.base).str(p.origin).u8(p.flags).u32(p.created).u32(p.lastUsed);
}

export function readRecord(r: ByteReader): ProfileRecord {
  const id = r.str();
  const name = r.str();
  const base = r.str();
  const origin = r.str();
  return {
    id: id,
    name: name,
    base: base,
    origin: origin,
    flags: r.u8(),
    created: r.u32(),
    lastUsed: r.u32(),
  };
}

/** A record as bytes (also the MCU's flash format for one profile). */
export function encodeRecord(p: ProfileRecord): Bytes {
  const w = new ByteWriter();
  writeRecord(w, p);
  return w.bytes;
}

export function decodeRecord(p: Bytes): Decoded<ProfileRecord> {
  const r = new ByteReader(p, 0, p.length);
  const rec = readRecord(r);
  if (!r.done()) return bad(SHORT);
  const e = validateProfile(rec);
  if (e) return bad(formatFieldError(e));
  return ok(rec);
}

// ---- list transfer ------------------------------------------------------------------------

export interface ListBegin {
  generation: number;
  count: number;
}

export function encodeListBegin(m: ListBegin): Bytes {
  return new ByteWriter().u32(m.generation).u8(m.count).bytes;
}

export function decodeListBegin(p: Bytes): Decoded<ListBegin> {
  const r = new ByteReader(p, 0, p.length);
  const v = { generation: r.u32(), count: r.u8() };
  if (!r.done()) return bad(SHORT);
  if (v.count > MAX_PROFILES) {
    return noSpace(
      "count " + decimal(v.count) + " is too many: at most " + decimal(MAX_PROFILES) + " profiles",
    );
  }
  return ok(v);
}

/** LIST_ITEM: one or more records for consecutive indexes, starting at `index`. */
export interface ListItem {
  generation: number;
  /** Index of the first record. */
  index: number;
  records: ProfileRecord[];
}

/** What encodeListItem takes: several records (`records`) or one (`record`). */
export interface ListItemInput {
  generation: number;
  index: number;
  record?: ProfileRecord;
  records?: ProfileRecord[];
}

/** Bytes of a LIST_ITEM payload before its records (generation u32, index u8). */
export const LIST_ITEM_HEADER_BYTES = 5;

export function encodeListItem(m: ListItemInput): Bytes {
  const w = new ByteWriter().u32(m.generation).u8(m.index);
  const many = m.records;
  const one = m.record;
  if (many !== undefined) {
    for (let i = 0; i < many.length; i++) writeRecord(w, many[i]);
  } else if (one !== undefined) {
    writeRecord(w, one);
  }
  return w.bytes;
}

/**
 * Reads a LIST_ITEM payload one record at a time, so the MCU can check a packed frame in bounded
 * steps (ten records at once exceed the DeviceScript VM's step budget). decodeListItem is built on it.
 */
export class ListItemReader {
  generation: number;
  /** Index of the first record. */
  index: number;
  /** Records read so far. */
  count = 0;
  /** Where the last record read starts and ends in the payload (its bytes, for a running CRC). */
  recordStart = 0;
  recordEnd = 0;
  /** Empty until a rule is broken; then names it, and `result` is INVALID or NO_SPACE. */
  error = "";
  result: number = Result.OK;
  private r: ByteReader;

  constructor(p: Bytes) {
    this.r = new ByteReader(p, 0, p.length);
    this.generation = this.r.u32();
    this.index = this.r.u8();
    if (this.r.failed) this.fail(Result.INVALID, SHORT);
    else if (this.index >= MAX_PROFILES) {
      this.fail(
        Result.NO_SPACE,
        "index " + decimal(this.index) + " is past the limit: at most " + decimal(MAX_PROFILES) + " profiles",
      );
    }
  }

  private fail(result: number, error: string): void {
    this.result = result;
    this.error = error;
  }

  /** The next valid record, or null at the end of the payload or at the first error. */
  next(): ProfileRecord | null {
    if (this.error !== "" || this.r.pos >= this.r.end) return null;
    if (this.index + this.count >= MAX_PROFILES) {
      this.fail(
        Result.NO_SPACE,
        "records from index " +
          decimal(this.index) +
          " go past the limit: at most " +
          decimal(MAX_PROFILES) +
          " profiles",
      );
      return null;
    }
    this.recordStart = this.r.pos;
    const record = readRecord(this.r);
    if (this.r.failed) {
      this.fail(Result.INVALID, SHORT);
      return null;
    }
    const e = validateProfile(record);
    if (e) {
      this.fail(Result.INVALID, formatFieldError(e));
      return null;
    }
    this.recordEnd = this.r.pos;
    this.count++;
    return record;
  }

  /** After next() returned null: true when the payload was whole and held at least one record. */
  finish(): boolean {
    if (this.error === "" && this.count === 0) {
      this.fail(Result.INVALID, "LIST_ITEM carries no record: at least one is required");
    }
    return this.error === "";
  }
}

export function decodeListItem(p: Bytes): Decoded<ListItem> {
  const it = new ListItemReader(p);
  const records: ProfileRecord[] = [];
  let record = it.next();
  while (record !== null) {
    records.push(record);
    record = it.next();
  }
  if (!it.finish()) return { value: null, error: it.error, result: it.result };
  return ok({ generation: it.generation, index: it.index, records: records });
}

/**
 * A whole list as LIST_ITEM payloads, each packed with as many consecutive records as fit in
 * `maxPayload` bytes (the negotiated maximum), in index order.
 */
export function packListItems(generation: number, records: ProfileRecord[], maxPayload: number): Bytes[] {
  const out: Bytes[] = [];
  let w: ByteWriter | null = null;
  for (let i = 0; i < records.length; i++) {
    const b = encodeRecord(records[i]);
    if (w !== null && w.bytes.length + b.length > maxPayload) {
      out.push(w.bytes);
      w = null;
    }
    if (w === null) w = new ByteWriter().u32(generation).u8(i);
    w.raw(b);
  }
  if (w !== null) out.push(w.bytes);
  return out;
}

export interface ListCommit {
  generation: number;
  count: number;
  /** CRC-32 over the concatenated encoded records in index order: proves the list is whole. */
  listCrc: number;
}

export function encodeListCommit(m: ListCommit): Bytes {
  return new ByteWriter().u32(m.generation).u8(m.count).u32(m.listCrc).bytes;
}

export function decodeListCommit(p: Bytes): Decoded<ListCommit> {
  const r = new ByteReader(p, 0, p.length);
  const v = { generation: r.u32(), count: r.u8(), listCrc: r.u32() };
  if (!r.done()) return bad(SHORT);
  return ok(v);
}

// ---- single-profile changes ---------------------------------------------------------------

export interface PutProfile {
  /** The generation the change applies to; the MCU answers STALE if it holds another. */
  baseGeneration: number;
  newGeneration: number;
  record: ProfileRecord;
}

export function encodePutProfile(m: PutProfile): Bytes {
  const w = new ByteWriter().u32(m.baseGeneration).u32(m.newGeneration);
  writeRecord(w, m.record);
  return w.bytes;
}

export function decodePutProfile(p: Bytes): Decoded<PutProfile> {
  const r = new ByteReader(p, 0, p.length);
  const baseGeneration = r.u32();
  const newGeneration = r.u32();
  const record = readRecord(r);
  if (!r.done()) return bad(SHORT);
  const e = validateProfile(record);
  if (e) return bad(formatFieldError(e));
  return ok({ baseGeneration: baseGeneration, newGeneration: newGeneration, record: record });
}

export interface DeleteProfile {
  baseGeneration: number;
  newGeneration: number;
  id: string;
}

export function encodeDeleteProfile(m: DeleteProfile): Bytes {
  return new ByteWriter().u32(m.baseGeneration).u32(m.newGeneration).str(m.id).bytes;
}

export function decodeDeleteProfile(p: Bytes): Decoded<DeleteProfile> {
  const r = new ByteReader(p, 0, p.length);
  const v = { baseGeneration: r.u32(), newGeneration: r.u32(), id: r.str() };
  if (!r.done()) return bad(SHORT);
  const e = checkProfileId(v.id, "id");
  if (e) return bad(formatFieldError(e));
  return ok(v);
}

// ---- boot settings ------------------------------------------------------------------------

export interface SetDefault {
  mode: number;
  /** Profile id with FIXED; "" with LAST_USED. */
  id: string;
}

export function encodeSetDefault(m: SetDefault): Bytes {
  return new ByteWriter().u8(m.mode).str(m.id).bytes;
}

export function decodeSetDefault(p: Bytes): Decoded<SetDefault> {
  const r = new ByteReader(p, 0, p.length);
  const v = { mode: r.u8(), id: r.str() };
  if (!r.done()) return bad(SHORT);
  if (v.mode === DefaultMode.LAST_USED) {
    if (v.id !== "") return bad("id must be empty with the last-used mode");
    return ok(v);
  }
  if (v.mode !== DefaultMode.FIXED) {
    return bad("mode " + decimal(v.mode) + " is invalid: must be 0 (fixed) or 1 (last-used)");
  }
  const e = checkProfileId(v.id, "id");
  if (e) return bad(formatFieldError(e));
  return ok(v);
}

export interface SetNext {
  /** BlockAction for the next boot; id "" clears the one-shot. */
  action: number;
  id: string;
}

export function encodeSetNext(m: SetNext): Bytes {
  return new ByteWriter().u8(m.action).str(m.id).bytes;
}

export function decodeSetNext(p: Bytes): Decoded<SetNext> {
  const r = new ByteReader(p, 0, p.length);
  const v = { action: r.u8(), id: r.str() };
  if (!r.done()) return bad(SHORT);
  if (v.id === "") return ok(v);
  if (v.action < BlockAction.BOOT || v.action > BlockAction.RESET) {
    return bad("action " + decimal(v.action) + " is invalid: must be 1 (boot), 2 (recovery) or 3 (reset)");
  }
  const e = checkProfileId(v.id, "id");
  if (e) return bad(formatFieldError(e));
  return ok(v);
}

export interface MenuOptions {
  /** Seconds the menu counts down before booting the default; 0 = boot at once unless a key is held. */
  timeoutSeconds: number;
  /** ShowMenu. */
  showMenu: number;
  /** Tries before a profile that never reports success is marked failed (1..10). */
  maxTries: number;
}

export function encodeMenuOptions(m: MenuOptions): Bytes {
  return new ByteWriter().u8(m.timeoutSeconds).u8(m.showMenu).u8(m.maxTries).bytes;
}

export function checkMenuOptions(v: MenuOptions): string {
  if (
    !(v.timeoutSeconds >= 0 && v.timeoutSeconds <= MENU_TIMEOUT_MAX) ||
    Math.floor(v.timeoutSeconds) !== v.timeoutSeconds
  ) {
    return "timeout " + decimal(v.timeoutSeconds) + " is invalid: must be 0 to 60 seconds";
  }
  if (v.showMenu !== ShowMenu.ON_KEY && v.showMenu !== ShowMenu.ALWAYS) {
    return "show " + decimal(v.showMenu) + " is invalid: must be 0 (on-key) or 1 (always)";
  }
  if (!(v.maxTries >= 1 && v.maxTries <= MAX_TRIES_LIMIT) || Math.floor(v.maxTries) !== v.maxTries) {
    return "max tries " + decimal(v.maxTries) + " is invalid: must be 1 to 10";
  }
  return "";
}

export function decodeMenuOptions(p: Bytes): Decoded<MenuOptions> {
  const r = new ByteReader(p, 0, p.length);
  const v = { timeoutSeconds: r.u8(), showMenu: r.u8(), maxTries: r.u8() };
  if (!r.done()) return bad(SHORT);
  const e = checkMenuOptions(v);
  if (e !== "") return bad(e);
  return ok(v);
}

export interface MarkGood {
  /** Boot sequence number from the register block (or the boot report) being confirmed. */
  sequence: number;
  id: string;
}

export function encodeMarkGood(m: MarkGood): Bytes {
  return new ByteWriter().u32(m.sequence).str(m.id).bytes;
}

export function decodeMarkGood(p: Bytes): Decoded<MarkGood> {
  const r = new ByteReader(p, 0, p.length);
  const v = { sequence: r.u32(), id: r.str() };
  if (!r.done()) return bad(SHORT);
  if (v.id === "") return ok(v);
  const e = checkProfileId(v.id, "id");
  if (e) return bad(formatFieldError(e));
  return ok(v);
}

export interface GetProfile {
  index: number;
}

export function encodeGetProfile(m: GetProfile): Bytes {
  return new ByteWriter().u8(m.index).bytes;
}

export function decodeGetProfile(p: Bytes): Decoded<GetProfile> {
  const r = new ByteReader(p, 0, p.length);
  const v = { index: r.u8() };
  if (!r.done()) return bad(SHORT);
  return ok(v);
}

export interface ProfileReply {
  generation: number;
  count: number;
  index: number;
  record: ProfileRecord;
}

export function encodeProfileReply(m: ProfileReply): Bytes {
  const w = new ByteWriter().u32(m.generation).u8(m.count).u8(m.index);
  writeRecord(w, m.record);
  return w.bytes;
}

export function decodeProfileReply(p: Bytes): Decoded<ProfileReply> {
  const r = new ByteReader(p, 0, p.length);
  const generation = r.u32();
  const count = r.u8();
  const index = r.u8();
  const record = readRecord(r);
  if (!r.done()) return bad(SHORT);
  const e = validateProfile(record);
  if (e) return bad(formatFieldError(e));
  return ok({ generation: generation, count: count, index: index, record: record });
}

// ---- boot report and state ----------------------------------------------------------------

export interface BootReport {
  /** Boot sequence number, as in the register block; 0 = no boot yet. */
  sequence: number;
  /** BlockAction. */
  action: number;
  /** BlockReason. */
  reason: number;
  /** BlockFlag bits. */
  flags: number;
  tryNumber: number;
  maxTries: number;
  id: string;
  base: string;
  /** 1 once the bridge marked this boot good. */
  good: number;
}

function writeBootReport(w: ByteWriter, b: BootReport): void {
  w.u32(b.sequence)
    .u8(b.action)
    .u8(b.reason)
    .u8(b.flags)
    .u8(b.tryNumber)
    .u8(b.maxTries)
    .str(b.id)
    .str(b.base)
    .u8(b.good);
}

function readBootReport(r: ByteReader): BootReport {
  return {
    sequence: r.u32(),
    action: r.u8(),
    reason: r.u8(),
    flags: r.u8(),
    tryNumber: r.u8(),
    maxTries: r.u8(),
    id: r.str(),
    base: r.str(),
    good: r.u8(),
  };
}

export function encodeBootReport(b: BootReport): Bytes {
  const w = new ByteWriter();
  writeBootReport(w, b);
  return w.bytes;
}

export function decodeBootReport(p: Bytes): Decoded<BootReport> {
  const r = new ByteReader(p, 0, p.length);
  const v = readBootReport(r);
  if (!r.done()) return bad(SHORT);
  const inRange =
    v.action >= BlockAction.BOOT &&
    v.action < ACTION_NAMES.length &&
    v.reason >= BlockReason.DEFAULT &&
    v.reason <= BlockReason.FALLBACK;
  // Sequence 0 means "no boot yet": its other fields are zero.
  if (v.sequence !== 0 && !inRange) return bad("boot report action or reason is out of range");
  return ok(v);
}

export interface ProfileTries {
  id: string;
  tries: number;
  /** 1 when the profile ran out of tries and the MCU falls back from it. */
  failed: number;
}

export interface McuState {
  generation: number;
  profileCount: number;
  /** listCrc() of the list held, so a bridge can tell an unchanged list in one round trip. */
  listCrc: number;
  maxProfiles: number;
  defaultMode: number;
  defaultId: string;
  nextAction: number;
  /** "" when no one-shot is set. */
  nextId: string;
  options: MenuOptions;
  /** "" when no boot was ever marked good. */
  lastGoodId: string;
  lastBoot: BootReport;
  /** Profiles with tries > 0, at most STATE_TRIES_MAX. */
  tries: ProfileTries[];
}

export function encodeState(s: McuState): Bytes {
  const w = new ByteWriter()
    .u32(s.generation)
    .u8(s.profileCount)
    .u32(s.listCrc)
    .u8(s.maxProfiles)
    .u8(s.defaultMode)
    .str(s.defaultId)
    .u8(s.nextAction)
    .str(s.nextId)
    .u8(s.options.timeoutSeconds)
    .u8(s.options.showMenu)
    .u8(s.options.maxTries)
    .str(s.lastGoodId);
  writeBootReport(w, s.lastBoot);
  const n = s.tries.length > STATE_TRIES_MAX ? STATE_TRIES_MAX : s.tries.length;
  w.u8(n);
  for (let i = 0; i < n; i++) w.str(s.tries[i].id).u8(s.tries[i].tries).u8(s.tries[i].failed);
  return w.bytes;
}

export function decodeState(p: Bytes): Decoded<McuState> {
  const r = new ByteReader(p, 0, p.length);
  const generation = r.u32();
  const profileCount = r.u8();
  const crc = r.u32();
  const maxProfiles = r.u8();
  const defaultMode = r.u8();
  const defaultId = r.str();
  const nextAction = r.u8();
  const nextId = r.str();
  const options = { timeoutSeconds: r.u8(), showMenu: r.u8(), maxTries: r.u8() };
  const lastGoodId = r.str();
  const lastBoot = readBootReport(r);
  const n = r.u8();
  const tries: ProfileTries[] = [];
  for (let i = 0; i < n && i < STATE_TRIES_MAX && !r.failed; i++) {
    tries.push({ id: r.str(), tries: r.u8(), failed: r.u8() });
  }
  if (!r.done()) return bad(SHORT);
  return ok({
    generation: generation,
    profileCount: profileCount,
    listCrc: crc,
    maxProfiles: maxProfiles,
    defaultMode: defaultMode,
    defaultId: defaultId,
    nextAction: nextAction,
    nextId: nextId,
    options: options,
    lastGoodId: lastGoodId,
    lastBoot: lastBoot,
    tries: tries,
  });
}

export interface DefaultChanged {
  mode: number;
  id: string;
}

export const encodeDefaultChanged = encodeSetDefault;
export const decodeDefaultChanged = decodeSetDefault;

/**
 * CRC over a list's encoded records in order, as LIST_COMMIT carries it; computed record by record,
 * because concatenating 32 records costs the MCU more heap than it can spare.
 */
export function listCrc(records: ProfileRecord[]): number {
  let c = crcStart();
  for (let i = 0; i < records.length; i++) {
    const b = encodeRecord(records[i]);
    c = crcUpdate(c, b, 0, b.length);
  }
  return crcFinish(c);
}

export const RECORD_FLAGS_KNOWN = PROFILE_FLAGS_KNOWN;
