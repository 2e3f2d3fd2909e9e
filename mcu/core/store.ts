// The MCU's flash layout: small key/value records (keys <= 13 characters, values <= 200 bytes, the
// DeviceScript settings limits). Every piece of state has two copies (A and B), each with a sequence
// number and a CRC-32; a write always goes to the older copy, so a power cut during any write leaves
// the newer copy intact. A profile list is a bank: one record per profile (`p00a`..`p31a`) plus a header
// (`lsta`) written after the records, carrying the count and the list CRC over the records (the same
// CRC LIST_COMMIT carries); a bank whose records do not match its header's CRC is ignored.
import {
  type Bytes,
  crc32,
  crcFinish,
  crcStart,
  crcUpdate,
  decimal,
  readU32LE,
  utf8Encode,
  writeU32LE,
} from "../../protocol/bytes";
import { MAX_PROFILES, type ProfileRecord } from "../../protocol/profile";
import { DefaultMode, decodeRecord, encodeRecord, ShowMenu } from "../../protocol/messages";
import { ByteReader, ByteWriter } from "../../protocol/wire";

/** Read access to the stored records (the adapter preloads them; DeviceScript reads are async). */
export interface FlashReader {
  read(key: string): Bytes | null;
}

/** One pending write; value null deletes the key. */
export interface FlashWrite {
  key: string;
  value: Bytes | null;
}

export const FLASH_VALUE_MAX = 200;
export const FLASH_KEY_MAX = 13;
/** Layout version byte inside every record. */
export const STORE_FORMAT = 1;
/** The run record reserves boot sequence numbers in steps of this many (one write per step). */
export const SEQ_RESERVE = 256;

export const CFG_KEYS = ["cfga", "cfgb"];
export const RUN_KEYS = ["runa", "runb"];
export const LIST_KEYS = ["lsta", "lstb"];
const BANK_SUFFIX = ["a", "b"];

export function profileKey(bank: number, index: number): string {
  return "p" + (index < 10 ? "0" : "") + decimal(index) + BANK_SUFFIX[bank];
}

/** Every key the core may read or write. */
export function storeKeys(): string[] {
  const out: string[] = [];
  for (let i = 0; i < 2; i++) {
    out.push(CFG_KEYS[i]);
    out.push(RUN_KEYS[i]);
    out.push(LIST_KEYS[i]);
  }
  for (let b = 0; b < 2; b++) for (let i = 0; i < MAX_PROFILES; i++) out.push(profileKey(b, i));
  return out;
}

/** Boot settings: change only when the owner or Linux changes them. */
export interface BootConfig {
  defaultMode: number;
  defaultId: string;
  /** BlockAction of the one-shot; 0 with nextId "". */
  nextAction: number;
  nextId: string;
  timeoutSeconds: number;
  showMenu: number;
  maxTries: number;
}

export function defaultConfig(): BootConfig {
  return {
    defaultMode: DefaultMode.LAST_USED,
    defaultId: "",
    nextAction: 0,
    nextId: "",
    timeoutSeconds: 0,
    showMenu: ShowMenu.ON_KEY,
    maxTries: 3,
  };
}

/** A try counter in flash: a 24-bit hash of the profile id, the stored tries and the failed mark. */
export interface StoredTries {
  hash: number;
  tries: number;
  failed: boolean;
}

/** Boot bookkeeping: the sequence reservation, the last good profile and the try counters. */
export interface RunRecord {
  seqLimit: number;
  lastGoodId: string;
  tries: StoredTries[];
}

export function idHash(id: string): number {
  const b = utf8Encode(id);
  return crc32(b, 0, b.length) & 0xffffff;
}

export interface StoredList {
  generation: number;
  records: ProfileRecord[];
  /** CRC-32 over the concatenated encoded records (protocol listCrc). */
  listCrc: number;
}

export interface LoadedState {
  config: BootConfig;
  run: RunRecord;
  list: StoredList;
  /** What load found, for diagnostics: e.g. "cfg b seq 4; run a seq 9; list b seq 2 (a: crc mismatch)". */
  report: string;
}

function seal(seq: number, payload: Bytes): Bytes {
  const out: Bytes = [0, 0, 0, 0];
  writeU32LE(out, 0, seq);
  for (let i = 0; i < payload.length; i++) out.push(payload[i]);
  const at = out.length;
  out.push(0, 0, 0, 0);
  writeU32LE(out, at, crc32(out, 0, at));
  return out;
}

/** The payload of a sealed record, or null when it is missing, short or corrupted. */
function unseal(value: Bytes | null): Bytes | null {
  if (value === null || !Array.isArray(value) || value.length < 9) return null;
  for (let i = 0; i < value.length; i++) {
    const b = value[i];
    if (typeof b !== "number" || b < 0 || b > 255) return null;
  }
  const at = value.length - 4;
  if (crc32(value, 0, at) !== readU32LE(value, at)) return null;
  return value.slice(4, at);
}

function sealedSeq(value: Bytes): number {
  return readU32LE(value, 0);
}

/** True when sequence a is newer than b (u32 with wrap-around). */
export function seqNewer(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

export function encodeConfig(c: BootConfig): Bytes {
  return new ByteWriter()
    .u8(STORE_FORMAT)
    .u8(c.defaultMode)
    .str(c.defaultId)
    .u8(c.nextAction)
    .str(c.nextId)
    .u8(c.timeoutSeconds)
    .u8(c.showMenu)
    .u8(c.maxTries).bytes;
}

export function decodeConfig(p: Bytes): BootConfig | null {
  const r = new ByteReader(p, 0, p.length);
  if (r.u8() !== STORE_FORMAT) return null;
  const c: BootConfig = {
    defaultMode: r.u8(),
    defaultId: r.str(),
    nextAction: r.u8(),
    nextId: r.str(),
    timeoutSeconds: r.u8(),
    showMenu: r.u8(),
    maxTries: r.u8(),
  };
  if (!r.done()) return null;
  if (c.defaultMode !== DefaultMode.FIXED && c.defaultMode !== DefaultMode.LAST_USED) return null;
  if (c.maxTries < 1 || c.maxTries > 10 || c.timeoutSeconds > 60 || c.showMenu > 1) return null;
  return c;
}

export function encodeRun(r: RunRecord): Bytes {
  const w = new ByteWriter().u8(STORE_FORMAT).u32(r.seqLimit).str(r.lastGoodId).u8(r.tries.length);
  for (const t of r.tries) {
    w.u8(t.hash & 0xff)
      .u8((t.hash >>> 8) & 0xff)
      .u8((t.hash >>> 16) & 0xff);
    w.u8((t.tries & 0x7f) | (t.failed ? 0x80 : 0));
  }
  return w.bytes;
}

export function decodeRun(p: Bytes): RunRecord | null {
  const r = new ByteReader(p, 0, p.length);
  if (r.u8() !== STORE_FORMAT) return null;
  const seqLimit = r.u32();
  const lastGoodId = r.str();
  const n = r.u8();
  const tries: StoredTries[] = [];
  for (let i = 0; i < n && i < MAX_PROFILES; i++) {
    const h = r.u8() | (r.u8() << 8) | (r.u8() << 16);
    const t = r.u8();
    tries.push({ hash: h, tries: t & 0x7f, failed: (t & 0x80) !== 0 });
  }
  if (!r.done()) return null;
  return { seqLimit: seqLimit, lastGoodId: lastGoodId, tries: tries };
}

/** List bank header flag: the protocol listCrc field is known (lists made by PUT/DELETE store it later). */
const HEADER_LISTCRC_KNOWN = 0x01;

function encodeListHeader(
  generation: number,
  count: number,
  sumCrc: number,
  listCrc: number,
  known: boolean,
): Bytes {
  return new ByteWriter()
    .u8(STORE_FORMAT)
    .u32(generation)
    .u8(count)
    .u32(sumCrc)
    .u32(listCrc)
    .u8(known ? HEADER_LISTCRC_KNOWN : 0).bytes;
}

/** CRC-32 over the little-endian CRC-32s of a bank's records: what a bank header vouches for. */
export function sumOfCrcs(crcs: number[], count: number): number {
  const b: Bytes = [0, 0, 0, 0];
  let c = crcStart();
  for (let i = 0; i < count; i++) {
    writeU32LE(b, 0, crcs[i]);
    c = crcUpdate(c, b, 0, 4);
  }
  return crcFinish(c);
}

function sameBytes(a: Bytes | null, b: Bytes | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A pair of sealed copies: which one is current, its sequence and payload. */
class Pair {
  keys: string[];
  /** Index (0/1) of the copy holding the current state, -1 when neither is valid. */
  current = -1;
  seq = 0;
  payload: Bytes | null = null;

  constructor(keys: string[]) {
    this.keys = keys;
  }

  /** Loads both copies; returns the newest valid payload (validated by `accept`), or null. */
  load(reader: FlashReader, accept: (p: Bytes) => boolean): Bytes | null {
    this.current = -1;
    this.payload = null;
    for (let i = 0; i < 2; i++) {
      const raw = reader.read(this.keys[i]);
      const p = unseal(raw);
      if (p === null || raw === null || !accept(p)) continue;
      const s = sealedSeq(raw);
      if (this.current < 0 || seqNewer(s, this.seq)) {
        this.current = i;
        this.seq = s;
        this.payload = p;
      }
    }
    return this.payload;
  }

  /** The write that makes `payload` current, or null when it already is. */
  save(payload: Bytes): FlashWrite | null {
    if (sameBytes(payload, this.payload)) return null;
    const target = this.current === 0 ? 1 : 0;
    const seq = this.current < 0 ? 1 : (this.seq + 1) >>> 0;
    this.current = target;
    this.seq = seq;
    this.payload = payload;
    return { key: this.keys[target], value: seal(seq, payload) };
  }
}

/** A write the store has decided on; a profile record is encoded only when it is taken (heap). */
/**
 * A write the store has decided on. A whole list is one intent with a cursor (records, then the bank
 * header, then deleting leftover records), so a 32-profile commit costs one small object on the VM
 * heap, and each record is encoded only when its write is taken.
 */
class Intent {
  key: string;
  /** Literal value (null = delete) when `records` is null. */
  value: Bytes | null;
  records: ProfileRecord[] | null = null;
  bank = 0;
  seq = 0;
  generation = 0;
  listCrc = 0;
  known = false;
  /** Leftover record keys to delete after the header: indices count .. oldKeys-1. */
  oldKeys = 0;
  /** Cursor: 0..count-1 records, count the header, then the deletes. */
  pos = 0;

  constructor(key: string, value: Bytes | null) {
    this.key = key;
    this.value = value;
  }
}

/**
 * Keeps track of what is in flash and turns state changes into the fewest safe writes. Work is cut
 * into small steps for the DeviceScript VM (about 128k instructions between two awaits, 64 KB heap):
 * loading validates one record per loadStep(), and a record is encoded only when its write is taken.
 */
export class Store {
  cfg = new Pair(CFG_KEYS);
  run = new Pair(RUN_KEYS);
  /** Bank (0/1) holding the current list, -1 when none is valid. */
  bank = -1;
  bankSeq = 0;
  /** CRC-32 of each stored profile record per bank (-1 = absent/unknown), to skip identical rewrites. */
  recordCrc: number[][] = [[], []];
  /** Number of profile keys present per bank (to delete leftovers). */
  bankKeys: number[] = [0, 0];
  generation = 0;
  /** The protocol listCrc of the current list, or -1 while unknown. */
  listCrc = -1;
  pending: Intent[] = [];
  /** Writes issued since start (for wear figures). */
  writes = 0;
  // Load state (see beginLoad / loadStep).
  loading = false;
  loaded: LoadedState | null = null;
  private candidates: number[] = [];
  private headers: Bytes[] = [];
  private cand = 0;
  private idx = 0;
  private found: ProfileRecord[] = [];
  private fill = 0;

  constructor() {
    for (let b = 0; b < 2; b++) for (let i = 0; i < MAX_PROFILES; i++) this.recordCrc[b].push(-1);
  }

  /** Loads everything at once (Node; tests). */
  load(reader: FlashReader): LoadedState {
    this.beginLoad(reader);
    while (this.loadStep(reader)) {
      // one record per step
    }
    return this.result();
  }

  /** What the last load found (defaults before any load). */
  result(): LoadedState {
    const l = this.loaded;
    if (l !== null) return l;
    return {
      config: defaultConfig(),
      run: { seqLimit: 0, lastGoodId: "", tries: [] },
      list: { generation: 0, records: [], listCrc: -1 },
      report: "not loaded",
    };
  }

  /** Reads the small records (config, run, bank headers); loadStep() then validates the list. */
  beginLoad(reader: FlashReader): void {
    let report = "";
    const cp = this.cfg.load(reader, (p: Bytes) => decodeConfig(p) !== null);
    const config = cp !== null ? decodeConfig(cp) : null;
    report += config !== null ? "cfg " + BANK_SUFFIX[this.cfg.current] : "cfg none";
    const rp = this.run.load(reader, (p: Bytes) => decodeRun(p) !== null);
    const run = rp !== null ? decodeRun(rp) : null;
    report += run !== null ? "; run " + BANK_SUFFIX[this.run.current] : "; run none";
    this.bank = -1;
    this.candidates = [];
    this.headers = [[], []];
    const seqs = [0, 0];
    for (let b = 0; b < 2; b++) {
      const raw = reader.read(LIST_KEYS[b]);
      if (raw === null) continue;
      const p = unseal(raw);
      if (p === null || p.length !== 15 || p[0] !== STORE_FORMAT || p[5] > MAX_PROFILES) {
        report += "; list " + BANK_SUFFIX[b] + " header corrupted";
        continue;
      }
      this.headers[b] = p;
      seqs[b] = sealedSeq(raw);
      if (this.candidates.length === 1 && seqNewer(seqs[b], seqs[this.candidates[0]]))
        this.candidates.unshift(b);
      else this.candidates.push(b);
      this.headers[b].push(seqs[b] & 0xff, (seqs[b] >>> 8) & 0xff, (seqs[b] >>> 16) & 0xff, seqs[b] >>> 24);
    }
    this.loaded = {
      config: config !== null ? config : defaultConfig(),
      run: run !== null ? run : { seqLimit: 0, lastGoodId: "", tries: [] },
      list: { generation: 0, records: [], listCrc: crcFinish(crcStart()) },
      report: report,
    };
    this.cand = 0;
    this.idx = 0;
    this.found = [];
    this.fill = 0;
    this.loading = true;
    this.pending = [];
  }

  /** One bounded step of loading (one record); false when loading is complete. */
  loadStep(reader: FlashReader): boolean {
    const l = this.loaded;
    if (!this.loading || l === null) return false;
    if (this.cand < this.candidates.length) {
      const b = this.candidates[this.cand];
      const h = this.headers[b];
      const count = h[5];
      if (this.idx < count) {
        const v = reader.read(profileKey(b, this.idx));
        const d = v === null ? null : decodeRecord(v);
        if (v === null || d === null || d.value === null) {
          l.report +=
            "; list " +
            BANK_SUFFIX[b] +
            " record " +
            decimal(this.idx) +
            (v === null ? " missing" : " invalid");
          this.cand++;
          this.idx = 0;
          this.found = [];
          return true;
        }
        this.found.push(d.value);
        this.recordCrc[b][this.idx] = crc32(v, 0, v.length);
        this.idx++;
        return true;
      }
      if (sumOfCrcs(this.recordCrc[b], count) !== readU32LE(h, 6)) {
        l.report += "; list " + BANK_SUFFIX[b] + " ignored: records do not match the header";
        this.cand++;
        this.idx = 0;
        this.found = [];
        return true;
      }
      this.bank = b;
      this.bankSeq = readU32LE(h, 15);
      this.generation = readU32LE(h, 1);
      this.listCrc = (h[14] & HEADER_LISTCRC_KNOWN) !== 0 ? readU32LE(h, 10) : -1;
      l.list = { generation: this.generation, records: this.found, listCrc: this.listCrc };
      l.report += "; list " + BANK_SUFFIX[b];
      this.cand = this.candidates.length;
      this.found = [];
      return true;
    }
    if (this.cand === this.candidates.length && this.bank < 0) {
      l.report += "; list none";
      this.cand++;
    }
    // Then the CRC of every other stored record, so identical records are not rewritten later.
    while (this.fill < 2 * MAX_PROFILES) {
      const b = this.fill < MAX_PROFILES ? 0 : 1;
      const i = this.fill % MAX_PROFILES;
      this.fill++;
      if (b !== this.bank || i >= l.list.records.length) {
        const v = reader.read(profileKey(b, i));
        this.recordCrc[b][i] = v === null ? -1 : crc32(v, 0, v.length);
        if (v !== null && i + 1 > this.bankKeys[b]) this.bankKeys[b] = i + 1;
        return true;
      }
    }
    if (this.bank >= 0 && l.list.records.length > this.bankKeys[this.bank]) {
      this.bankKeys[this.bank] = l.list.records.length;
    }
    this.loading = false;
    return false;
  }

  saveConfig(c: BootConfig): void {
    const w = this.cfg.save(encodeConfig(c));
    if (w !== null) this.pending.push(new Intent(w.key, w.value));
  }

  saveRun(r: RunRecord): void {
    const w = this.run.save(encodeRun(r));
    if (w !== null) this.pending.push(new Intent(w.key, w.value));
  }

  /**
   * Writes a new list into the other bank: records first, the header last, then deletes leftovers.
   * `listCrc` is the protocol list CRC, or -1 when not known (PUT/DELETE: the core computes it in the
   * background after every load; the header is never rewritten in place, which a power cut could tear).
   */
  saveList(generation: number, records: ProfileRecord[], listCrc: number): void {
    if (this.bank >= 0 && generation === this.generation && listCrc >= 0 && listCrc === this.listCrc) return;
    const target = this.bank === 0 ? 1 : 0;
    const seq = this.bank < 0 ? 1 : (this.bankSeq + 1) >>> 0;
    const it = new Intent(LIST_KEYS[target], null);
    it.records = records;
    it.bank = target;
    it.seq = seq;
    it.generation = generation;
    it.listCrc = listCrc < 0 ? 0 : listCrc;
    it.known = listCrc >= 0;
    it.oldKeys = this.bankKeys[target];
    this.pending.push(it);
    this.bankKeys[target] = records.length;
    this.bank = target;
    this.bankSeq = seq;
    this.generation = generation;
    this.listCrc = listCrc;
  }

  hasWrites(): boolean {
    return this.pending.length > 0;
  }

  /**
   * The next write to make, or null when none is left. A profile record is encoded now; one whose
   * bytes are already in that slot is skipped. Write them in this order.
   */
  takeWrite(): FlashWrite | null {
    while (this.pending.length > 0) {
      const it = this.pending[0];
      const w = it.records !== null ? this.nextOfList(it, it.records) : { key: it.key, value: it.value };
      if (it.records === null || it.pos < 0) this.pending = this.pending.slice(1);
      if (w !== null) {
        this.writes++;
        return w;
      }
    }
    return null;
  }

  /** The next write of a list intent (advancing its cursor; pos -1 when it is finished), or null. */
  private nextOfList(it: Intent, records: ProfileRecord[]): FlashWrite | null {
    const count = records.length;
    while (it.pos >= 0) {
      const i = it.pos;
      it.pos++;
      if (i < count) {
        const v = encodeRecord(records[i]);
        const c = crc32(v, 0, v.length);
        if (this.recordCrc[it.bank][i] !== c) {
          this.recordCrc[it.bank][i] = c;
          return { key: profileKey(it.bank, i), value: v };
        }
      } else if (i === count) {
        const sum = sumOfCrcs(this.recordCrc[it.bank], count);
        return {
          key: it.key,
          value: seal(it.seq, encodeListHeader(it.generation, count, sum, it.listCrc, it.known)),
        };
      } else if (i < it.oldKeys && i < MAX_PROFILES) {
        if (this.recordCrc[it.bank][i] !== -1) {
          this.recordCrc[it.bank][i] = -1;
          return { key: profileKey(it.bank, i), value: null };
        }
      } else {
        it.pos = -1;
      }
    }
    return null;
  }

  /** Every pending write at once (Node; the VM should take them one by one). */
  takeWrites(): FlashWrite[] {
    const out: FlashWrite[] = [];
    let w = this.takeWrite();
    while (w !== null) {
      out.push(w);
      w = this.takeWrite();
    }
    return out;
  }
}
