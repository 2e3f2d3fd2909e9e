// Protocol figures: register block size and I2C wire time, UART frame overhead and wire time
// for a full 32-profile list, the bytes a bridge restart costs, and encode/decode throughput.
import { pathToFileURL } from "node:url";
import { BootCore } from "../mcu/core/core";
import { MCU_MAX_PAYLOAD } from "../mcu/core/link";
import { MemoryFlash } from "../mcu/node/flash";
import { type Bytes, crc32 } from "../protocol/bytes";
import { encodeFrame, type Frame, FrameDecoder, FrameKind, MAX_WIRE_FRAME } from "../protocol/frame";
import { encodeListItem, encodeRecord, MessageType, Result } from "../protocol/messages";
import { McuLink, type Transport } from "../soc-bridge/link";
import { readMcuList, syncWholeList, transferList } from "../soc-bridge/ops";
import type { ProfileRecord } from "../protocol/profile";
import { BLOCK_LENGTH, decodeBlock, encodeBlock } from "../protocol/register-block";

/** Profile names as people write them (the bench lists cycle through these). */
export const PROFILE_NAMES = [
  "Desktop",
  "Pentest lab",
  "Router (OpenWrt style)",
  "Kiosk",
  "Work laptop replacement",
  "SDR receiver",
  "Retro gaming",
  "Clean base",
];

/** 32 profiles with names and ids of the lengths people use. */
export function realisticProfiles(n = 32): ProfileRecord[] {
  const names = PROFILE_NAMES;
  const out: ProfileRecord[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${names[i % names.length]} ${Math.floor(i / names.length) + 1}`;
    out.push({
      id: name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")
        .replace(/^-|-$/g, ""),
      name,
      base: "1.4.2",
      flags: i % 7 === 6 ? 1 : 0,
      created: 1_760_000_000 + i * 86_400,
      lastUsed: i % 3 === 0 ? 1_764_000_000 + i * 3600 : 0,
      origin: i > 0 && i % 4 === 0 ? "desktop-1" : "",
    });
  }
  return out;
}

function frame(type: number, seq: number, kind: number, payload: number[], result = 0): number[] {
  return encodeFrame({ type, seq, kind, result, payload });
}

/** The bridge's link with the wire replaced by a counter: each request is framed and answered OK. */
class CountingLink extends McuLink {
  readonly frames: number[][] = [];
  payload = 0;

  constructor(maxPayload: number) {
    super(
      { write: async () => {}, onData: () => {}, onClose: () => {}, close: async () => {} },
      { log: () => {} },
    );
    this.maxPayload = maxPayload;
  }

  override async call(type: number, payload: Bytes): Promise<Bytes> {
    const seq = this.frames.length & 0xff;
    this.frames.push(frame(type, seq, FrameKind.REQUEST, payload));
    this.frames.push(frame(type, seq, FrameKind.RESPONSE, [], Result.OK));
    this.payload += payload.length;
    return [];
  }
}

/**
 * Every frame of a full list transfer as the bridge sends it (soc-bridge/ops.ts), both directions, and
 * the payload bytes they carry; LIST_ITEMs packed up to `maxPayload` bytes (0: one record per frame, as
 * protocol version 1 sent them).
 */
export async function fullSyncFrames(
  profiles: ProfileRecord[],
  maxPayload: number,
): Promise<{
  wire: number;
  payload: number;
  frames: number[][];
}> {
  const link = new CountingLink(maxPayload);
  await transferList(link, profiles, 42);
  return { wire: link.frames.reduce((n, f) => n + f.length, 0), payload: link.payload, frames: link.frames };
}

function perSecond(fn: () => void, minMs = 300): number {
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    fn();
    n++;
  }
  return (n * 1000) / (performance.now() - start);
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);

/** The real bridge link wired to the real MCU core in memory (no serial port: bytes are counted). */
function linkToCore(core: BootCore, wire: { toCore: (b: number[]) => void; onData: (b: number[]) => void }) {
  const transport: Transport = {
    write: async (data) => wire.toCore(Array.from(data)),
    onData: (cb) => {
      wire.onData = (b) => cb(Uint8Array.from(b));
    },
    onClose: () => {},
    close: async () => {},
  };
  wire.toCore = (b) => core.uartReceive(b, 0);
  return new McuLink(transport, { log: () => {} });
}

/** Wire bytes (both directions) of a full sync, and of a restarted bridge finding the same list. */
export async function restartBytes(profiles: ProfileRecord[]): Promise<{
  full: number;
  verified: number;
  readBack: number;
  hello: number;
}> {
  const wire = { toCore: (_b: number[]) => {}, onData: (_b: number[]) => {} };
  const core = new BootCore({ send: (b) => wire.onData(b), final: () => {} }, { instance: 7 });
  core.load(new MemoryFlash());
  const bytes = (l: McuLink) => l.stats.bytesIn + l.stats.bytesOut;
  const first = linkToCore(core, wire);
  await first.hello();
  const hello = bytes(first);
  const r = await syncWholeList(first, profiles);
  if (r.kind !== "full") throw new Error("the first sync should send the list");
  const full = bytes(first) - hello;
  const second = linkToCore(core, wire);
  await second.hello();
  const v = await syncWholeList(second, profiles);
  if (v.kind !== "verified") throw new Error("an unchanged list should be verified");
  const verified = bytes(second) - hello;
  // What version 1 did: GET_STATE, then every record read back with GET_PROFILE and compared.
  const third = linkToCore(core, wire);
  await third.hello();
  const back = await readMcuList(third);
  if (back.records.length !== profiles.length) throw new Error("read back the wrong list");
  const readBack = bytes(third) - hello;
  return { full, verified, readBack, hello };
}

export async function bench(): Promise<Array<[string, string]>> {
  const rows: Array<[string, string]> = [];
  // I2C: START, address+W, 2 register bytes, repeated START, address+R, 64 data bytes, STOP.
  // Each byte is 9 clocks (8 bits + ACK); START, repeated START and STOP take about one clock each.
  const i2cBytes = 1 + 2 + 1 + BLOCK_LENGTH;
  const i2cClocks = i2cBytes * 9 + 3;
  rows.push(["register block size", `${BLOCK_LENGTH} bytes (one read of ${i2cBytes} bytes on the bus)`]);
  for (const khz of [100, 400, 1000]) {
    rows.push([
      `register block I2C wire time @ ${khz} kHz`,
      `${fmt((i2cClocks / (khz * 1000)) * 1e6, 0)} us`,
    ]);
  }

  const profiles = realisticProfiles(32);
  const sync = await fullSyncFrames(profiles, MCU_MAX_PAYLOAD);
  const single = await fullSyncFrames(profiles, 0);
  const recordBytes = profiles.reduce((n, p) => n + encodeRecord(p).length, 0);
  rows.push(["full list (32 profiles): record bytes", `${recordBytes}`]);
  rows.push(["full list: request payload bytes", `${sync.payload}`]);
  rows.push([
    "full list: wire bytes, both directions",
    `${sync.wire} (${sync.frames.length} frames; one record per frame: ${single.wire}, ${single.frames.length} frames)`,
  ]);
  rows.push([
    "frame overhead (wire bytes / payload bytes)",
    `${fmt(sync.wire / sync.payload, 2)} (goal <= 1.10; one record per frame: ${fmt(single.wire / single.payload, 2)})`,
  ]);
  const restart = await restartBytes(profiles);
  rows.push(["full sync, real link + core: wire bytes after HELLO", `${restart.full}`]);
  rows.push([
    "bridge restart, same list: wire bytes after HELLO",
    `${restart.verified} (one GET_STATE; reading every record back: ${restart.readBack})`,
  ]);
  rows.push(["HELLO exchange: wire bytes", `${restart.hello}`]);
  for (const baud of [115200, 1_500_000, 3_000_000]) {
    // 8N1: 10 bit times per byte.
    rows.push([`full list wire time @ ${baud} baud`, `${fmt(((sync.wire * 10) / baud) * 1000, 2)} ms`]);
  }

  const item = encodeListItem({ generation: 1, index: 3, record: profiles[3] });
  const itemFrame = frame(MessageType.LIST_ITEM, 7, FrameKind.REQUEST, item);
  const enc = perSecond(() =>
    frame(
      MessageType.LIST_ITEM,
      7,
      FrameKind.REQUEST,
      encodeListItem({ generation: 1, index: 3, record: profiles[3] }),
    ),
  );
  const dec = new FrameDecoder(MAX_WIRE_FRAME);
  let got: Frame | null = null;
  const decRate = perSecond(() =>
    dec.push(
      itemFrame,
      (f) => {
        got = f;
      },
      () => {},
    ),
  );
  if (!got) throw new Error("decoder produced no frame");
  rows.push([
    "encode LIST_ITEM frame",
    `${fmt(enc / 1000)} k frames/s (${fmt((enc * itemFrame.length) / 1e6, 2)} MB/s)`,
  ]);
  rows.push([
    "decode LIST_ITEM frame",
    `${fmt(decRate / 1000)} k frames/s (${fmt((decRate * itemFrame.length) / 1e6, 2)} MB/s)`,
  ]);
  const block = encodeBlock({
    status: 2,
    action: 1,
    reason: 1,
    flags: 0,
    tryNumber: 1,
    maxTries: 3,
    sequence: 1,
    profileId: "desktop",
    base: "1.4.2",
  });
  rows.push(["decode register block", `${fmt(perSecond(() => decodeBlock(block)) / 1000)} k blocks/s`]);
  rows.push([
    "crc32 throughput",
    `${fmt((perSecond(() => crc32(itemFrame, 0, itemFrame.length)) * itemFrame.length) / 1e6, 1)} MB/s`,
  ]);
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [k, v] of await bench()) console.log(`${k.padEnd(52)} ${v}`);
}
