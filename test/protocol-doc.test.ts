// PROTOCOL.md's tables are parsed and compared with the code's constants and codecs,
// so the document and the implementation cannot drift apart.
import { readFileSync } from "node:fs";
import test from "ava";
import { hex } from "../protocol/bytes";
import {
  FRAGMENT_VAR_KOPTS,
  FRAGMENT_VAR_OVERLAYS,
  KOPTS_MAX,
  OVERLAY_NAME_MAX,
  OVERLAYS_MAX,
} from "../protocol/boot-fragment";
import { FRAME_CRC_BYTES, FRAME_HEADER_BYTES, FrameError, FrameKind, PAYLOAD_LIMIT } from "../protocol/frame";
import * as M from "../protocol/messages";
import {
  MAX_PROFILES,
  PROFILE_BASE_MAX,
  PROFILE_ID_MAX,
  PROFILE_NAME_MAX_BYTES,
  ProfileFlag,
} from "../protocol/profile";
import {
  BLOCK_BASE_FIELD,
  BLOCK_ID_FIELD,
  BLOCK_LENGTH,
  BLOCK_MAGIC_BYTES,
  BLOCK_MAGIC_U32LE,
  BlockAction,
  BlockError,
  BlockFlag,
  BlockOffset,
  BlockReason,
  BlockStatus,
  MCU_I2C_ADDRESS,
  BLOCK_REGISTER,
} from "../protocol/register-block";
import { sampleRecord, sampleReport, sampleState } from "./helpers/samples";

const doc = readFileSync(new URL("../protocol/PROTOCOL.md", import.meta.url), "utf8");

/** Rows of the markdown table that follows `<!-- table: NAME -->`, as arrays of cell strings. */
function table(name: string): string[][] {
  const marker = `<!-- table: ${name} -->`;
  const at = doc.indexOf(marker);
  if (at < 0) throw new Error(`PROTOCOL.md has no table ${name}`);
  const lines = doc.slice(at + marker.length).split("\n");
  const rows: string[][] = [];
  let started = false;
  for (const line of lines) {
    if (!line.startsWith("|")) {
      if (started) break;
      continue;
    }
    started = true;
    rows.push(
      line
        .slice(1, -1)
        .split("|")
        .map((c) => c.trim()),
    );
  }
  return rows.slice(2); // header and separator
}

const camelToUpper = (s: string) => s.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();

test("block table: every field's offset and size match the code", (t) => {
  const rows = table("block");
  const offsets = BlockOffset as Record<string, number>;
  t.deepEqual(
    rows.map((r) => camelToUpper(r[2])),
    Object.keys(offsets),
    "fields in the same order",
  );
  let expectedOffset = 0;
  for (const [offset, size, field] of rows) {
    t.is(Number(offset), offsets[camelToUpper(field)], `offset of ${field}`);
    t.is(Number(offset), expectedOffset, `${field} follows the previous field`);
    expectedOffset += Number(size);
  }
  t.is(expectedOffset, BLOCK_LENGTH);
  t.is(Number(rows.find((r) => r[2] === "profileId")![1]), BLOCK_ID_FIELD);
  t.is(Number(rows.find((r) => r[2] === "base")![1]), BLOCK_BASE_FIELD);
  const magicCell = rows[0][3];
  t.true(magicCell.includes(BLOCK_MAGIC_BYTES.map((b) => hex(b, 2)).join(" ")));
  t.true(magicCell.includes("0x" + hex(BLOCK_MAGIC_U32LE, 8)));
  t.true(doc.includes(`**0x${hex(MCU_I2C_ADDRESS, 2)}**`));
  t.true(doc.includes(`**0x${hex(BLOCK_REGISTER, 4)}**`));
  t.true(doc.includes(`**${BLOCK_LENGTH} bytes**`));
});

function codesMatch(
  t: import("ava").ExecutionContext,
  name: string,
  codes: Record<string, number>,
  hexCodes = false,
) {
  const rows = table(name);
  const fromDoc: Record<string, number> = {};
  for (const r of rows) fromDoc[r[1]] = hexCodes ? Number.parseInt(r[0], 16) : Number(r[0]);
  t.deepEqual(fromDoc, { ...codes }, `table ${name}`);
}

test("status, action, reason, flag, result and capability tables match the code", (t) => {
  codesMatch(t, "block-status", BlockStatus);
  codesMatch(t, "block-action", BlockAction);
  codesMatch(t, "block-reason", BlockReason);
  codesMatch(t, "block-flags", BlockFlag, true);
  codesMatch(t, "profile-flags", ProfileFlag, true);
  codesMatch(t, "results", M.Result);
  codesMatch(t, "capabilities", M.Capability, true);
  codesMatch(t, "messages", M.MessageType, true);
  t.deepEqual(
    table("block-errors").map((r) => r[0]),
    Object.values(BlockError),
  );
  t.deepEqual(
    table("frame-errors").map((r) => r[0]),
    Object.values(FrameError),
  );
});

test("message table kinds: events are exactly the EVENT_ types", (t) => {
  for (const [, name, kind] of table("messages")) {
    t.is(kind, name.startsWith("EVENT_") ? "event" : "request", name);
  }
  t.true(
    table("frame")[2][3].includes(
      `${FrameKind.REQUEST} REQUEST, ${FrameKind.RESPONSE} RESPONSE, ${FrameKind.EVENT} EVENT`,
    ),
  );
});

test("frame table matches the header size, CRC size and payload limit", (t) => {
  const rows = table("frame");
  t.deepEqual(
    rows.map((r) => r[2]),
    ["type", "seq", "kind", "result", "length", "payload", "crc"],
  );
  let offset = 0;
  for (const r of rows.slice(0, 5)) {
    t.is(Number(r[0]), offset);
    offset += Number(r[1]);
  }
  t.is(offset, FRAME_HEADER_BYTES);
  t.is(Number(rows[6][1]), FRAME_CRC_BYTES);
  t.true(rows[4][3].includes(`never over ${PAYLOAD_LIMIT}`));
});

test("profile rules and fragment rules state the code's limits", (t) => {
  const rules = Object.fromEntries(table("profile-rules").map((r) => [r[0], r[2]]));
  t.is(Number(rules.id), PROFILE_ID_MAX);
  t.is(Number(rules.name), PROFILE_NAME_MAX_BYTES);
  t.is(Number(rules.base), PROFILE_BASE_MAX);
  t.is(Number(rules.origin), PROFILE_ID_MAX);
  const frag = Object.fromEntries(table("fragment").map((r) => [r[0], r[2]]));
  t.is(Number(frag[FRAGMENT_VAR_KOPTS]), KOPTS_MAX);
  t.is(frag[FRAGMENT_VAR_OVERLAYS], `${OVERLAYS_MAX} names of ${OVERLAY_NAME_MAX}`);
  t.true(
    table("results")
      .find((r) => r[1] === "NO_SPACE")![2]
      .includes(`more than ${MAX_PROFILES}`),
  );
});

/** For each payload table: a sample, its encoder, and how to flatten its fields in wire order. */
const payloads: Record<
  string,
  { sample: object; encode: (v: never) => number[]; decode: (b: number[]) => M.Decoded<object> }
> = {
  HelloRequest: {
    sample: { minVersion: 1, maxVersion: 1, maxPayload: 512, capabilities: 31 },
    encode: M.encodeHelloRequest as never,
    decode: M.decodeHelloRequest as never,
  },
  HelloResponse: {
    sample: {
      version: 1,
      maxPayload: 256,
      capabilities: 31,
      maxProfiles: 32,
      generation: 4,
      instance: 99,
      minVersion: 1,
      maxVersion: 1,
    },
    encode: M.encodeHelloResponse as never,
    decode: M.decodeHelloResponse as never,
  },
  GetProfile: {
    sample: { index: 3 },
    encode: M.encodeGetProfile as never,
    decode: M.decodeGetProfile as never,
  },
  ProfileReply: {
    sample: { generation: 2, count: 5, index: 3, record: sampleRecord },
    encode: M.encodeProfileReply as never,
    decode: M.decodeProfileReply as never,
  },
  ListBegin: {
    sample: { generation: 2, count: 5 },
    encode: M.encodeListBegin as never,
    decode: M.decodeListBegin as never,
  },
  ListItem: {
    sample: { generation: 2, index: 1, records: [sampleRecord, { ...sampleRecord, id: "router" }] },
    encode: M.encodeListItem as never,
    decode: M.decodeListItem as never,
  },
  ListCommit: {
    sample: { generation: 2, count: 5, listCrc: 77 },
    encode: M.encodeListCommit as never,
    decode: M.decodeListCommit as never,
  },
  PutProfile: {
    sample: { baseGeneration: 2, newGeneration: 3, record: sampleRecord },
    encode: M.encodePutProfile as never,
    decode: M.decodePutProfile as never,
  },
  DeleteProfile: {
    sample: { baseGeneration: 2, newGeneration: 3, id: "pentest" },
    encode: M.encodeDeleteProfile as never,
    decode: M.decodeDeleteProfile as never,
  },
  SetDefault: {
    sample: { mode: 0, id: "pentest" },
    encode: M.encodeSetDefault as never,
    decode: M.decodeSetDefault as never,
  },
  SetNext: {
    sample: { action: 1, id: "pentest" },
    encode: M.encodeSetNext as never,
    decode: M.decodeSetNext as never,
  },
  MenuOptions: {
    sample: { timeoutSeconds: 3, showMenu: 0, maxTries: 3 },
    encode: M.encodeMenuOptions as never,
    decode: M.decodeMenuOptions as never,
  },
  MarkGood: {
    sample: { sequence: 9, id: "pentest" },
    encode: M.encodeMarkGood as never,
    decode: M.decodeMarkGood as never,
  },
  BootReport: {
    sample: sampleReport,
    encode: M.encodeBootReport as never,
    decode: M.decodeBootReport as never,
  },
  McuState: {
    sample: sampleState,
    encode: M.encodeState as never,
    decode: M.decodeState as never,
  },
};

function encodedSize(encoding: string, value: unknown): number {
  if (encoding === "u8") return 1;
  if (encoding === "u16") return 2;
  if (encoding === "u32") return 4;
  if (encoding === "str") return 1 + Buffer.byteLength(value as string);
  if (encoding === "record") return M.encodeRecord(value as never).length;
  if (encoding === "record...") {
    return (value as never[]).reduce((n, r) => n + M.encodeRecord(r).length, 0);
  }
  if (encoding === "BootReport") return M.encodeBootReport(value as never).length;
  if (encoding.startsWith("(str, u8, u8)")) {
    return (value as { id: string }[]).reduce((n, e) => n + 3 + Buffer.byteLength(e.id), 0);
  }
  throw new Error(`unknown encoding ${encoding}`);
}

for (const [name, p] of Object.entries(payloads)) {
  test(`payload table ${name} lists the encoder's fields in order and their sizes add up`, (t) => {
    const rows = table(`payload ${name}`);
    // Flatten one level of nested plain objects (McuState.options) so the table can list them inline.
    const flat: [string, unknown][] = [];
    // The decoder builds its object in wire order, so its keys give the code's field order.
    const decoded = p.decode(p.encode(p.sample as never));
    t.is(decoded.error, "");
    for (const [k, v] of Object.entries(decoded.value as object)) {
      if (k === "options") flat.push(...Object.entries(v as object));
      else if (k === "tries") flat.push(["triesCount", (v as unknown[]).length], ["tries", v]);
      else flat.push([k, v]);
    }
    t.deepEqual(
      rows.map((r) => r[0]),
      flat.map(([k]) => k),
    );
    const total = rows.reduce((n, r, i) => n + encodedSize(r[1], flat[i][1]), 0);
    t.is(total, p.encode(p.sample as never).length);
  });
}

test("record table matches the record encoder", (t) => {
  const rows = table("record");
  t.deepEqual(
    rows.map((r) => r[1]),
    Object.keys(M.decodeRecord(M.encodeRecord(sampleRecord)).value!),
  );
  const size = rows.reduce(
    (n, r) => n + encodedSize(r[2], (sampleRecord as unknown as Record<string, unknown>)[r[1]]),
    0,
  );
  t.is(size, M.encodeRecord(sampleRecord).length);
});
