// UART link framing: COBS-encoded frames ending in 0x00, each carrying a 6-byte header,
// the payload and a CRC-32. A receiver resynchronises at the next 0x00 after any error.
import { type ByteSource, type Bytes, CRC32_RESIDUE, crc32, readU32LE, writeU32LE } from "./bytes";

/** Frame kinds (header byte 2). */
export const FrameKind = { REQUEST: 0, RESPONSE: 1, EVENT: 2 } as const;
/** The UART's default rate (8N1; PROTOCOL.md, "UART"). */
export const UART_BAUD = 1500000;
export const FRAME_HEADER_BYTES = 6;
export const FRAME_CRC_BYTES = 4;
/** Largest payload any endpoint may send before HELLO negotiates a size; every MCU supports it. */
export const MIN_MAX_PAYLOAD = 256;
/** Absolute payload limit of this protocol version; a length field above it is rejected unread. */
export const PAYLOAD_LIMIT = 1024;
/** The most bytes a COBS-encoded frame can take on the wire, delimiter included. */
export const MAX_WIRE_FRAME = cobsMaxEncoded(FRAME_HEADER_BYTES + PAYLOAD_LIMIT + FRAME_CRC_BYTES) + 1;

export interface Frame {
  /** Message type (see messages-codes.ts MessageType). */
  type: number;
  /** Sequence id 0..255 chosen by the sender of a request or event; a response repeats it. */
  seq: number;
  /** FrameKind. */
  kind: number;
  /** Result code in responses (messages-codes.ts Result); 0 in requests and events. */
  result: number;
  payload: Bytes;
  /** Set by the decoder: the frame's CRC-32 (over header and payload), which identifies a resent frame. */
  crc?: number;
}

/** Frame-level failures the decoder counts; none of them stops the stream. */
export const FrameError = {
  BAD_COBS: "bad-cobs",
  TRUNCATED: "truncated",
  BAD_LENGTH: "bad-length",
  OVERSIZE: "oversize",
  BAD_CRC: "bad-crc",
  BAD_KIND: "bad-kind",
} as const;

export function cobsMaxEncoded(n: number): number {
  return n + Math.floor(n / 254) + 1;
}

/** COBS encoding (no trailing delimiter). */
export function cobsEncode(data: Bytes): Bytes {
  const out: Bytes = [0];
  let codeIndex = 0;
  let code = 1;
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (b === 0) {
      out[codeIndex] = code;
      codeIndex = out.length;
      out.push(0);
      code = 1;
    } else {
      out.push(b);
      code++;
      if (code === 0xff) {
        out[codeIndex] = code;
        codeIndex = out.length;
        out.push(0);
        code = 1;
      }
    }
  }
  out[codeIndex] = code;
  return out;
}

/** COBS decoding of data[start..end) (no delimiter inside); null when malformed. */
export function cobsDecode(data: Bytes, start: number, end: number): Bytes | null {
  const out: Bytes = [];
  let i = start;
  while (i < end) {
    const code = data[i];
    if (code === 0) return null;
    i++;
    for (let k = 1; k < code; k++) {
      if (i >= end) return null;
      const b = data[i];
      if (b === 0) return null;
      out.push(b);
      i++;
    }
    if (code !== 0xff && i < end) out.push(0);
  }
  return out;
}

/** The wire bytes of one frame: COBS(header + payload + CRC-32) followed by 0x00. */
export function encodeFrame(f: Frame): Bytes {
  const n = f.payload.length;
  if (n > PAYLOAD_LIMIT) throw new Error("payload is too large for a frame");
  const raw: Bytes = [
    f.type & 0xff,
    f.seq & 0xff,
    f.kind & 0xff,
    f.result & 0xff,
    n & 0xff,
    (n >>> 8) & 0xff,
  ];
  for (let i = 0; i < n; i++) raw.push(f.payload[i]);
  const at = raw.length;
  raw.push(0, 0, 0, 0);
  writeU32LE(raw, at, crc32(raw, 0, at));
  const out = cobsEncode(raw);
  out.push(0);
  return out;
}

/** Result of decoding the bytes between two delimiters. */
export interface FrameDecodeResult {
  frame: Frame | null;
  /** A FrameError value when frame is null. */
  error: string;
}

/** Decodes one frame body (COBS bytes, delimiter excluded). Never throws. */
export function decodeFrameBody(data: Bytes, start: number, end: number): FrameDecodeResult {
  const raw = cobsDecode(data, start, end);
  if (raw === null) return { frame: null, error: FrameError.BAD_COBS };
  return frameFromRaw(raw);
}

/**
 * Checks a COBS-decoded frame (header, payload, CRC) and makes it a Frame. Takes `raw` over: its
 * bytes are moved down to become the payload, so a frame costs the MCU's heap one array, not two.
 */
export function frameFromRaw(raw: Bytes): FrameDecodeResult {
  if (raw.length < FRAME_HEADER_BYTES + FRAME_CRC_BYTES) return { frame: null, error: FrameError.TRUNCATED };
  const n = raw[4] | (raw[5] << 8);
  if (n > PAYLOAD_LIMIT) return { frame: null, error: FrameError.OVERSIZE };
  if (raw.length !== FRAME_HEADER_BYTES + n + FRAME_CRC_BYTES)
    return { frame: null, error: FrameError.BAD_LENGTH };
  if (crc32(raw, 0, raw.length) !== CRC32_RESIDUE) return { frame: null, error: FrameError.BAD_CRC };
  if (raw[2] > FrameKind.EVENT) return { frame: null, error: FrameError.BAD_KIND };
  const f: Frame = {
    type: raw[0],
    seq: raw[1],
    kind: raw[2],
    result: raw[3],
    payload: raw,
    crc: readU32LE(raw, FRAME_HEADER_BYTES + n),
  };
  for (let i = 0; i < n; i++) raw[i] = raw[FRAME_HEADER_BYTES + i];
  // pop(), not `length = n`: shrinking an array's length trips the DeviceScript VM's garbage collector.
  for (let k = 0; k < FRAME_HEADER_BYTES + FRAME_CRC_BYTES; k++) raw.pop();
  return { frame: f, error: "" };
}

/**
 * Streaming receiver: feed it bytes as they arrive; it calls onFrame for every good frame and
 * onError for every bad one, and resynchronises at the next 0x00. COBS is undone as bytes arrive,
 * so only the decoded frame is held (on the MCU a 512-byte payload is 4 KB of heap per copy). A run
 * of bytes longer than any frame is dropped as OVERSIZE without being kept, so garbage cannot
 * exhaust memory.
 */
export class FrameDecoder {
  /** Decoded bytes of the frame so far. */
  private raw: Bytes = [];
  /** Wire bytes since the last delimiter. */
  private wire = 0;
  /** Data bytes left in the current COBS block (0: the next byte is a code). */
  private left = 0;
  /** The current block ended short of 255: a zero follows if more data does. */
  private zeroPending = false;
  private overflow = false;
  maxWire: number;
  goodFrames = 0;
  badFrames = 0;

  constructor(maxWire: number) {
    this.maxWire = maxWire;
  }

  push(data: ByteSource, onFrame: (f: Frame) => void, onError: (error: string) => void): void {
    for (let i = 0; i < data.length; i++) {
      const b = data[i];
      if (b === 0) {
        if (this.overflow) {
          this.badFrames++;
          onError(FrameError.OVERSIZE);
        } else if (this.wire > 0) {
          const raw = this.raw;
          const truncated = this.left > 0;
          // Released before the frame is handled.
          this.raw = [];
          const r: FrameDecodeResult = truncated
            ? { frame: null, error: FrameError.BAD_COBS }
            : frameFromRaw(raw);
          const f = r.frame;
          if (f !== null) {
            this.goodFrames++;
            onFrame(f);
          } else {
            this.badFrames++;
            onError(r.error);
          }
        }
        this.reset();
      } else if (!this.overflow) {
        this.wire++;
        if (this.wire > this.maxWire) {
          this.overflow = true;
          this.raw = [];
        } else if (this.left > 0) {
          this.raw.push(b);
          this.left--;
        } else {
          // A code byte: the block before it ended, so its implied zero is data.
          if (this.zeroPending) this.raw.push(0);
          this.left = b - 1;
          this.zeroPending = b !== 0xff;
        }
      }
    }
  }

  /** Drops a partial frame (after a reset of the peer). */
  reset(): void {
    this.raw = [];
    this.wire = 0;
    this.left = 0;
    this.zeroPending = false;
    this.overflow = false;
  }
}
