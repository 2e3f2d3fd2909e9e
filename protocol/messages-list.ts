// UART messages that move the profile list: the record on the wire (also the MCU's flash format for
// one profile), LIST_BEGIN / LIST_ITEM / LIST_COMMIT with its list CRC, GET_PROFILE and its reply.
import { type Bytes, crcFinish, crcStart, crcUpdate, decimal } from "./bytes";
import { type Decoded, decodedBad, decodedNoSpace, decodedOk, PAYLOAD_SHORT, Result } from "./messages-codes";
import { formatFieldError, MAX_PROFILES, type ProfileRecord, validateProfile } from "./profile";
import { ByteReader, ByteWriter } from "./wire";

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
  if (!r.done()) return decodedBad(PAYLOAD_SHORT);
  const e = validateProfile(rec);
  if (e) return decodedBad(formatFieldError(e));
  return decodedOk(rec);
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
  if (!r.done()) return decodedBad(PAYLOAD_SHORT);
  if (v.count > MAX_PROFILES) {
    return decodedNoSpace(
      "count " + decimal(v.count) + " is too many: at most " + decimal(MAX_PROFILES) + " profiles",
    );
  }
  return decodedOk(v);
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
    if (this.r.failed) this.fail(Result.INVALID, PAYLOAD_SHORT);
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
      this.fail(Result.INVALID, PAYLOAD_SHORT);
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
  return decodedOk({ generation: it.generation, index: it.index, records: records });
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
  if (!r.done()) return decodedBad(PAYLOAD_SHORT);
  return decodedOk(v);
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
  if (!r.done()) return decodedBad(PAYLOAD_SHORT);
  return decodedOk(v);
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
  if (!r.done()) return decodedBad(PAYLOAD_SHORT);
  const e = validateProfile(record);
  if (e) return decodedBad(formatFieldError(e));
  return decodedOk({ generation: generation, count: count, index: index, record: record });
}

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
