// The MCU's flash records: the keys, the sealed A/B copy format (sequence u32, payload, CRC-32), and
// the payloads: boot config, run record (boot sequence reservation, last good, try counters) and the
// list bank header. Store (store.ts) decides what to write when; this file only says how it looks.
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
  zeros,
} from "../../protocol/bytes";
import { DefaultMode, ShowMenu } from "../../protocol/messages";
import { MAX_PROFILES } from "../../protocol/profile";
import { ByteReader, ByteWriter } from "../../protocol/wire";

export const FLASH_VALUE_MAX = 200;
export const FLASH_KEY_MAX = 13;
/** Layout version byte inside every record. */
const STORE_FORMAT = 1;
/** The run record reserves boot sequence numbers in steps of this many (one write per step). */
export const SEQ_RESERVE = 256;

export const CFG_KEYS = ["cfga", "cfgb"];
export const RUN_KEYS = ["runa", "runb"];
export const LIST_KEYS = ["lsta", "lstb"];
export const BANK_SUFFIX = ["a", "b"];

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

export function seal(seq: number, payload: Bytes): Bytes {
  const out: Bytes = [0, 0, 0, 0];
  writeU32LE(out, 0, seq);
  for (let i = 0; i < payload.length; i++) out.push(payload[i]);
  const at = out.length;
  out.push(0, 0, 0, 0);
  writeU32LE(out, at, crc32(out, 0, at));
  return out;
}

/** The payload of a sealed record, or null when it is missing, short or corrupted. */
export function unseal(value: Bytes | null): Bytes | null {
  if (value === null || !Array.isArray(value) || value.length < 9) return null;
  for (let i = 0; i < value.length; i++) {
    const b = value[i];
    if (typeof b !== "number" || b < 0 || b > 255) return null;
  }
  const at = value.length - 4;
  if (crc32(value, 0, at) !== readU32LE(value, at)) return null;
  return value.slice(4, at);
}

export function sealedSeq(value: Bytes): number {
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

/**
 * The list bank header (the payload of the sealed `lsta` / `lstb` record), byte offsets of its
 * fields: FORMAT u8 (STORE_FORMAT), GENERATION u32, COUNT u8, SUM_CRC u32 (sumOfCrcs over the bank's
 * records), LIST_CRC u32 (the protocol listCrc, valid when FLAGS has LISTCRC_KNOWN), FLAGS u8.
 * Little-endian; SIZE bytes in all.
 */
export const ListHeader = {
  FORMAT: 0,
  GENERATION: 1,
  COUNT: 5,
  SUM_CRC: 6,
  LIST_CRC: 10,
  FLAGS: 14,
  SIZE: 15,
} as const;
/** ListHeader.FLAGS bit: the protocol listCrc is known (lists made by PUT/DELETE store it later). */
const LISTCRC_KNOWN = 0x01;

/** A list bank header for `count` records; `listCrc` -1 when the protocol listCrc is not known yet. */
export function encodeListHeader(generation: number, count: number, sumCrc: number, listCrc: number): Bytes {
  const p = zeros(ListHeader.SIZE);
  p[ListHeader.FORMAT] = STORE_FORMAT;
  writeU32LE(p, ListHeader.GENERATION, generation);
  p[ListHeader.COUNT] = count;
  writeU32LE(p, ListHeader.SUM_CRC, sumCrc);
  writeU32LE(p, ListHeader.LIST_CRC, listCrc < 0 ? 0 : listCrc);
  p[ListHeader.FLAGS] = listCrc < 0 ? 0 : LISTCRC_KNOWN;
  return p;
}

/** True when `p` is a list bank header of this format (read its fields at the ListHeader offsets). */
export function isListHeader(p: Bytes): boolean {
  return (
    p.length === ListHeader.SIZE &&
    p[ListHeader.FORMAT] === STORE_FORMAT &&
    p[ListHeader.COUNT] <= MAX_PROFILES
  );
}

/** The protocol listCrc a header carries, -1 when it was not known when the header was written. */
export function headerListCrc(p: Bytes): number {
  return (p[ListHeader.FLAGS] & LISTCRC_KNOWN) !== 0 ? readU32LE(p, ListHeader.LIST_CRC) : -1;
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
