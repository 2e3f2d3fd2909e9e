// The MCU's flash layout: small key/value records (keys <= 13 characters, values <= 200 bytes, the
// DeviceScript settings limits). Every piece of state has two copies (A and B), each with a sequence
// number and a CRC-32; a write always goes to the older copy, so a power cut during any write leaves
// the newer copy intact. A profile list is a bank: one record per profile (`p00a`..`p31a`) plus a header
// (`lsta`) written after the records, carrying the count and the list CRC over the records (the same
// CRC LIST_COMMIT carries); a bank whose records do not match its header's CRC is ignored.
import { type Bytes, crc32, decimal, readU32LE, utf8Encode, writeU32LE } from "../../protocol/bytes";
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

function encodeListHeader(generation: number, count: number, listCrc: number): Bytes {
  return new ByteWriter().u8(STORE_FORMAT).u32(generation).u8(count).u32(listCrc).bytes;
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

/** Keeps track of what is in flash and turns state changes into the fewest safe writes. */
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
  listCrc = 0;
  pending: FlashWrite[] = [];
  /** Writes issued since start (for wear figures). */
  writes = 0;

  constructor() {
    for (let b = 0; b < 2; b++) for (let i = 0; i < MAX_PROFILES; i++) this.recordCrc[b].push(-1);
  }

  load(reader: FlashReader): LoadedState {
    let report = "";
    const cp = this.cfg.load(reader, (p: Bytes) => decodeConfig(p) !== null);
    const config = cp !== null ? decodeConfig(cp) : null;
    report += config !== null ? "cfg " + BANK_SUFFIX[this.cfg.current] : "cfg none";
    const rp = this.run.load(reader, (p: Bytes) => decodeRun(p) !== null);
    const run = rp !== null ? decodeRun(rp) : null;
    report += run !== null ? "; run " + BANK_SUFFIX[this.run.current] : "; run none";
    let list: StoredList = { generation: 0, records: [], listCrc: crc32([], 0, 0) };
    this.bank = -1;
    for (let b = 0; b < 2; b++) {
      const found = this.loadBank(reader, b);
      if (found.list === null) {
        if (found.why !== "") report += "; list " + BANK_SUFFIX[b] + " ignored: " + found.why;
        continue;
      }
      if (this.bank < 0 || seqNewer(found.seq, this.bankSeq)) {
        this.bank = b;
        this.bankSeq = found.seq;
        list = found.list;
      }
    }
    report += this.bank >= 0 ? "; list " + BANK_SUFFIX[this.bank] : "; list none";
    this.generation = list.generation;
    this.listCrc = list.listCrc;
    this.pending = [];
    return {
      config: config !== null ? config : defaultConfig(),
      run: run !== null ? run : { seqLimit: 0, lastGoodId: "", tries: [] },
      list: list,
      report: report,
    };
  }

  private loadBank(reader: FlashReader, b: number): { list: StoredList | null; seq: number; why: string } {
    let present = 0;
    for (let i = 0; i < MAX_PROFILES; i++) {
      const v = reader.read(profileKey(b, i));
      if (v !== null && Array.isArray(v)) {
        this.recordCrc[b][i] = crc32(v, 0, v.length);
        present = i + 1;
      } else {
        this.recordCrc[b][i] = -1;
      }
    }
    this.bankKeys[b] = present;
    const raw = reader.read(LIST_KEYS[b]);
    if (raw === null) return { list: null, seq: 0, why: "" };
    const p = unseal(raw);
    if (p === null || p.length !== 10 || p[0] !== STORE_FORMAT) {
      return { list: null, seq: 0, why: "header corrupted" };
    }
    const generation = readU32LE(p, 1);
    const count = p[5];
    const listCrc = readU32LE(p, 6);
    if (count > MAX_PROFILES) return { list: null, seq: 0, why: "count too large" };
    const all: Bytes = [];
    const records: ProfileRecord[] = [];
    for (let i = 0; i < count; i++) {
      const v = reader.read(profileKey(b, i));
      if (v === null) return { list: null, seq: 0, why: "record " + decimal(i) + " missing" };
      const d = decodeRecord(v);
      if (d.value === null) return { list: null, seq: 0, why: "record " + decimal(i) + " invalid" };
      records.push(d.value);
      for (let k = 0; k < v.length; k++) all.push(v[k]);
    }
    if (crc32(all, 0, all.length) !== listCrc) return { list: null, seq: 0, why: "list CRC mismatch" };
    return {
      list: { generation: generation, records: records, listCrc: listCrc },
      seq: sealedSeq(raw),
      why: "",
    };
  }

  saveConfig(c: BootConfig): void {
    const w = this.cfg.save(encodeConfig(c));
    if (w !== null) this.push(w);
  }

  saveRun(r: RunRecord): void {
    const w = this.run.save(encodeRun(r));
    if (w !== null) this.push(w);
  }

  /** Writes a new list into the other bank: records first, header last, then deletes leftovers. */
  saveList(generation: number, records: ProfileRecord[], listCrc: number): void {
    if (this.bank >= 0 && generation === this.generation && listCrc === this.listCrc) return;
    const target = this.bank === 0 ? 1 : 0;
    const seq = this.bank < 0 ? 1 : (this.bankSeq + 1) >>> 0;
    for (let i = 0; i < records.length; i++) {
      const v = encodeRecord(records[i]);
      const c = crc32(v, 0, v.length);
      if (this.recordCrc[target][i] === c) continue;
      this.recordCrc[target][i] = c;
      this.push({ key: profileKey(target, i), value: v });
    }
    this.push({
      key: LIST_KEYS[target],
      value: seal(seq, encodeListHeader(generation, records.length, listCrc)),
    });
    for (let i = records.length; i < this.bankKeys[target]; i++) {
      if (this.recordCrc[target][i] === -1) continue;
      this.recordCrc[target][i] = -1;
      this.push({ key: profileKey(target, i), value: null });
    }
    this.bankKeys[target] = records.length;
    this.bank = target;
    this.bankSeq = seq;
    this.generation = generation;
    this.listCrc = listCrc;
  }

  private push(w: FlashWrite): void {
    this.pending.push(w);
    this.writes++;
  }

  takeWrites(): FlashWrite[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }
}
