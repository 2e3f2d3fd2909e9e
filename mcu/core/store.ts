// The MCU's flash layout: small key/value records (keys <= 13 characters, values <= 200 bytes, the
// DeviceScript settings limits). Every piece of state has two copies (A and B), each with a sequence
// number and a CRC-32; a write always goes to the older copy, so a power cut during any write leaves
// the newer copy intact. A profile list is a bank: one record per profile (`p00a`..`p31a`) plus a header
// (`lsta`) written after the records, carrying the count and the list CRC over the records (the same
// CRC LIST_COMMIT carries); a bank whose records do not match its header's CRC is ignored.
import { type Bytes, crc32, crcFinish, crcStart, decimal, readU32LE, sameBytes } from "../../protocol/bytes";
import { decodeRecord, encodeRecord } from "../../protocol/messages";
import { MAX_PROFILES, type ProfileRecord } from "../../protocol/profile";
import {
  BANK_SUFFIX,
  type BootConfig,
  CFG_KEYS,
  decodeConfig,
  headerListCrc,
  isListHeader,
  ListHeader,
  decodeRun,
  defaultConfig,
  encodeConfig,
  encodeListHeader,
  encodeRun,
  LIST_KEYS,
  profileKey,
  RUN_KEYS,
  type RunRecord,
  seal,
  sealedSeq,
  seqNewer,
  sumOfCrcs,
  unseal,
} from "./records";

/** Read access to the stored records (the adapter preloads them; DeviceScript reads are async). */
export interface FlashReader {
  read(key: string): Bytes | null;
}

/** One pending write; value null deletes the key. */
export interface FlashWrite {
  key: string;
  value: Bytes | null;
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
  /** The protocol listCrc, -1 when not known. */
  listCrc = -1;
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
  /** Each bank's header payload (ListHeader layout; empty when missing or corrupted) and sequence. */
  private headers: Bytes[] = [];
  private headerSeqs: number[] = [];
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
    this.headerSeqs = [0, 0];
    for (let b = 0; b < 2; b++) {
      const raw = reader.read(LIST_KEYS[b]);
      if (raw === null) continue;
      const p = unseal(raw);
      if (p === null || !isListHeader(p)) {
        report += "; list " + BANK_SUFFIX[b] + " header corrupted";
        continue;
      }
      this.headers[b] = p;
      const seq = sealedSeq(raw);
      this.headerSeqs[b] = seq;
      if (this.candidates.length === 1 && seqNewer(seq, this.headerSeqs[this.candidates[0]]))
        this.candidates.unshift(b);
      else this.candidates.push(b);
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
      const count = h[ListHeader.COUNT];
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
      if (sumOfCrcs(this.recordCrc[b], count) !== readU32LE(h, ListHeader.SUM_CRC)) {
        l.report += "; list " + BANK_SUFFIX[b] + " ignored: records do not match the header";
        this.cand++;
        this.idx = 0;
        this.found = [];
        return true;
      }
      this.bank = b;
      this.bankSeq = this.headerSeqs[b];
      this.generation = readU32LE(h, ListHeader.GENERATION);
      this.listCrc = headerListCrc(h);
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
    it.listCrc = listCrc;
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
          value: seal(it.seq, encodeListHeader(it.generation, count, sum, it.listCrc)),
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
