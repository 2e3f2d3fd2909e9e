// Byte helpers shared by every endpoint. Inside the DeviceScript language subset:
// bytes are plain number[] (no Uint8Array/DataView on the MCU), strings are checked by
// character code (no RegExp), numbers are formatted by hand (no toString(radix)).

/** A byte array as carried by every protocol module: each element 0..255. */
export type Bytes = number[];

/** Something bytes can be read from by index: a Bytes array, or a Node Buffer/Uint8Array. */
export interface ByteSource {
  length: number;
  [index: number]: number;
}

// A 16-entry (nibble) table: two lookups a byte, 128 bytes of MCU heap instead of 2 KB.
const crcTable: number[] = [];

/** Starts an incremental CRC-32: feed it with crcUpdate, end with crcFinish. */
export function crcStart(): number {
  if (crcTable.length === 0) {
    for (let n = 0; n < 16; n++) {
      let c = n;
      for (let k = 0; k < 4; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable.push(c >>> 0);
    }
  }
  return 0xffffffff;
}

/** Adds data[start..end) to a CRC begun with crcStart (so large inputs need not be concatenated). */
export function crcUpdate(crc: number, data: Bytes, start: number, end: number): number {
  let c = crc;
  for (let i = start; i < end; i++) {
    c = c ^ data[i];
    c = crcTable[c & 0xf] ^ (c >>> 4);
    c = crcTable[c & 0xf] ^ (c >>> 4);
  }
  return c;
}

export function crcFinish(crc: number): number {
  return (crc ^ 0xffffffff) >>> 0;
}

/** CRC-32 (IEEE 802.3, reflected, init and final XOR 0xFFFFFFFF): the same as zlib and U-Boot's crc32. */
export function crc32(data: Bytes, start: number, end: number): number {
  return crcFinish(crcUpdate(crcStart(), data, start, end));
}

/** CRC-32 of a payload followed by its own little-endian CRC-32 is always this value. */
export const CRC32_RESIDUE = 0x2144df1c;

export function writeU32LE(out: Bytes, offset: number, value: number): void {
  out[offset] = value & 0xff;
  out[offset + 1] = (value >>> 8) & 0xff;
  out[offset + 2] = (value >>> 16) & 0xff;
  out[offset + 3] = (value >>> 24) & 0xff;
}

export function readU32LE(data: Bytes, offset: number): number {
  return (data[offset] | (data[offset + 1] << 8) | (data[offset + 2] << 16) | (data[offset + 3] << 24)) >>> 0;
}

/** An array of `length` zero bytes. */
export function zeros(length: number): Bytes {
  const out: Bytes = [];
  for (let i = 0; i < length; i++) out.push(0);
  return out;
}

/** True when every element is an integer byte; guards decoders against hostile callers. */
export function isByteArray(data: Bytes): boolean {
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (typeof b !== "number" || b < 0 || b > 255 || Math.floor(b) !== b) return false;
  }
  return true;
}

/** UTF-8 encoding by hand (no TextEncoder on the MCU). Lone surrogates become U+FFFD. */
export function utf8Encode(text: string): Bytes {
  const out: Bytes = [];
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
      const lo = text.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      } else {
        cp = 0xfffd;
      }
    } else if (cp >= 0xd800 && cp <= 0xdfff) {
      cp = 0xfffd;
    }
    if (cp < 0x80) {
      out.push(cp);
    } else if (cp < 0x800) {
      out.push(0xc0 | (cp >> 6));
      out.push(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out.push(0xe0 | (cp >> 12));
      out.push(0x80 | ((cp >> 6) & 0x3f));
      out.push(0x80 | (cp & 0x3f));
    } else {
      out.push(0xf0 | (cp >> 18));
      out.push(0x80 | ((cp >> 12) & 0x3f));
      out.push(0x80 | ((cp >> 6) & 0x3f));
      out.push(0x80 | (cp & 0x3f));
    }
  }
  return out;
}

/** utf8Encode(text).length, without building the bytes (lone surrogates count as U+FFFD, 3 bytes). */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const lo = text.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    } else n += 3;
  }
  return n;
}

/**
 * Strict UTF-8 decoding of data[start..end). Returns null for any malformed, overlong or
 * surrogate sequence, so a corrupted name is rejected rather than shown half-decoded.
 */
export function utf8Decode(data: Bytes, start: number, end: number): string | null {
  let out = "";
  let i = start;
  while (i < end) {
    const b0 = data[i];
    let cp = 0;
    let need = 0;
    let min = 0;
    if (b0 < 0x80) {
      cp = b0;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      cp = b0 & 0x1f;
      need = 1;
      min = 0x80;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      cp = b0 & 0x0f;
      need = 2;
      min = 0x800;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      cp = b0 & 0x07;
      need = 3;
      min = 0x10000;
    } else {
      return null;
    }
    for (let k = 1; k <= need; k++) {
      if (i + k >= end) return null;
      const b = data[i + k];
      if ((b & 0xc0) !== 0x80) return null;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (need > 0 && cp < min) return null;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return null;
    if (cp >= 0x10000) {
      const v = cp - 0x10000;
      out += String.fromCharCode(0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
    } else {
      out += String.fromCharCode(cp);
    }
    i += need + 1;
  }
  return out;
}

/** ASCII bytes of a string already known to be ASCII. */
export function asciiBytes(text: string): Bytes {
  const out: Bytes = [];
  for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i) & 0x7f);
  return out;
}

const HEX_DIGITS = "0123456789abcdef";

/** Lower-case hex of a number with at least `width` digits (no toString(16) on the MCU). */
export function hex(value: number, width: number): string {
  let v = value >>> 0;
  let out = "";
  while (v > 0 || out.length < width) {
    out = HEX_DIGITS.charAt(v & 0xf) + out;
    v = v >>> 4;
    if (v === 0 && out.length >= width) break;
  }
  return out;
}

/** Lower-case hex of bytes, two digits each (a Node Buffer or Uint8Array works too). */
export function hexBytes(data: ByteSource): string {
  let out = "";
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    out += HEX_DIGITS.charAt((b >>> 4) & 0xf) + HEX_DIGITS.charAt(b & 0xf);
  }
  return out;
}

/** True when both are null, or both hold the same bytes. */
export function sameBytes(a: Bytes | null, b: Bytes | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Decimal text of a non-negative integer (no Number.toString on the MCU). */
export function decimal(value: number): string {
  let v = Math.floor(Math.abs(value));
  if (v === 0) return value < 0 ? "-0" : "0";
  let out = "";
  while (v > 0) {
    out = HEX_DIGITS.charAt(v % 10) + out;
    v = Math.floor(v / 10);
  }
  return value < 0 ? "-" + out : out;
}

/** A string for error messages: printable ASCII shown as is, everything else as \xNN or \u{...}. */
export function describeText(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) out += "\\" + text.charAt(i);
    else if (c >= 0x20 && c < 0x7f) out += text.charAt(i);
    else if (c === 0x0a) out += "\\n";
    else if (c < 0x100) out += "\\x" + hex(c, 2);
    else out += "\\u" + hex(c, 4);
    if (out.length > 80) {
      out += "...";
      break;
    }
  }
  return out + '"';
}
