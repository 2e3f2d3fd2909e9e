// Bounds-checked byte writer and reader for message payloads. The reader never throws and
// never reads out of bounds: a short or malformed payload sets `failed`, and decoders check it.
import { type Bytes, utf8Decode, utf8Encode } from "./bytes";

export class ByteWriter {
  bytes: Bytes = [];

  u8(v: number): ByteWriter {
    this.bytes.push(v & 0xff);
    return this;
  }

  u16(v: number): ByteWriter {
    this.bytes.push(v & 0xff);
    this.bytes.push((v >>> 8) & 0xff);
    return this;
  }

  u32(v: number): ByteWriter {
    this.bytes.push(v & 0xff);
    this.bytes.push((v >>> 8) & 0xff);
    this.bytes.push((v >>> 16) & 0xff);
    this.bytes.push((v >>> 24) & 0xff);
    return this;
  }

  /** A string as u8 length + UTF-8 bytes (at most 255 bytes; longer is cut, validators prevent it). */
  str(s: string): ByteWriter {
    const b = utf8Encode(s);
    const n = b.length > 255 ? 255 : b.length;
    this.bytes.push(n);
    for (let i = 0; i < n; i++) this.bytes.push(b[i]);
    return this;
  }

  raw(b: Bytes): ByteWriter {
    for (let i = 0; i < b.length; i++) this.bytes.push(b[i]);
    return this;
  }
}

export class ByteReader {
  data: Bytes;
  pos: number;
  end: number;
  failed = false;

  constructor(data: Bytes, start: number, end: number) {
    this.data = data;
    this.pos = start;
    this.end = end;
  }

  private take(n: number): boolean {
    if (this.failed || this.pos + n > this.end) {
      this.failed = true;
      return false;
    }
    return true;
  }

  u8(): number {
    if (!this.take(1)) return 0;
    return this.data[this.pos++];
  }

  u16(): number {
    if (!this.take(2)) return 0;
    const v = this.data[this.pos] | (this.data[this.pos + 1] << 8);
    this.pos += 2;
    return v;
  }

  u32(): number {
    if (!this.take(4)) return 0;
    const d = this.data;
    const p = this.pos;
    this.pos += 4;
    return (d[p] | (d[p + 1] << 8) | (d[p + 2] << 16) | (d[p + 3] << 24)) >>> 0;
  }

  /** u8 length + strict UTF-8; invalid UTF-8 fails the reader. */
  str(): string {
    const n = this.u8();
    if (!this.take(n)) return "";
    const s = utf8Decode(this.data, this.pos, this.pos + n);
    this.pos += n;
    if (s === null) {
      this.failed = true;
      return "";
    }
    return s;
  }

  /** True when everything was read, exactly, without running short. */
  done(): boolean {
    return !this.failed && this.pos === this.end;
  }
}
