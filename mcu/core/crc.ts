// Incremental CRC-32 (the same as protocol/bytes.ts crc32, IEEE, zlib), so a list CRC is computed
// record by record: concatenating 32 records into one number[] costs more heap than the VM's 64 KB
// can spare (it ran out of memory in the DeviceScript VM).
import type { Bytes } from "../../protocol/bytes";
import { encodeRecord } from "../../protocol/messages";
import type { ProfileRecord } from "../../protocol/profile";

// A 16-entry (nibble) table: two lookups a byte, 128 bytes of heap instead of 2 KB.
let table: number[] = [];

function buildTable(): void {
  table = [];
  for (let n = 0; n < 16; n++) {
    let c = n;
    for (let k = 0; k < 4; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table.push(c >>> 0);
  }
}

/** Starts a CRC: pass the result to crcUpdate, then crcFinish. */
export function crcStart(): number {
  if (table.length === 0) buildTable();
  return 0xffffffff;
}

export function crcUpdate(c: number, data: Bytes, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    c = c ^ data[i];
    c = table[c & 0xf] ^ (c >>> 4);
    c = table[c & 0xf] ^ (c >>> 4);
  }
  return c;
}

export function crcFinish(c: number): number {
  return (c ^ 0xffffffff) >>> 0;
}

/** The protocol's listCrc (CRC-32 over the concatenated encoded records), without concatenating. */
export function listCrcOf(records: ProfileRecord[]): number {
  let c = crcStart();
  for (let i = 0; i < records.length; i++) {
    const b = encodeRecord(records[i]);
    c = crcUpdate(c, b, 0, b.length);
  }
  return crcFinish(c);
}
