// The boot-selection register block: what the MCU publishes as an I2C target and U-Boot's
// boot.scr reads in one 64-byte transaction. Every offset and code here is also in PROTOCOL.md
// (a test compares the two) and generated into boot.cmd (a test compares those too).
import {
  asciiBytes,
  type Bytes,
  CRC32_RESIDUE,
  crc32,
  decimal,
  hex,
  isByteArray,
  readU32LE,
  writeU32LE,
  zeros,
} from "./bytes";
import { checkBaseVersion, checkProfileId, type FieldError } from "./profile";

/** 7-bit I2C address of the MCU on the SoC's i2c0. */
export const MCU_I2C_ADDRESS = 0x69;
/** Register address of the block (16-bit, big-endian on the wire); free range 0x0600 and up. */
export const BLOCK_REGISTER = 0x0600;
export const BLOCK_LENGTH = 64;
export const BLOCK_LAYOUT_VERSION = 1;
/** The ASCII bytes "FBSL" (Flipper Boot SeLection); read as a little-endian u32 it is 0x4c534246. */
export const BLOCK_MAGIC_BYTES = [0x46, 0x42, 0x53, 0x4c];
export const BLOCK_MAGIC_U32LE = 0x4c534246;

/** Byte offsets inside the block. */
export const BlockOffset = {
  MAGIC: 0,
  VERSION: 4,
  LENGTH: 5,
  STATUS: 6,
  ACTION: 7,
  REASON: 8,
  FLAGS: 9,
  TRY: 10,
  MAX_TRIES: 11,
  SEQUENCE: 12,
  PROFILE_ID: 16,
  BASE: 48,
  CRC: 60,
} as const;
export const BLOCK_ID_FIELD = 32;
export const BLOCK_BASE_FIELD = 12;

/** Whether the MCU has decided. U-Boot boots only FINAL; it waits (bounded) on PENDING. */
export const BlockStatus = { EMPTY: 0, PENDING: 1, FINAL: 2 } as const;
/** What the initramfs is asked to do with the profile. */
export const BlockAction = { BOOT: 1, RECOVERY: 2, RESET: 3 } as const;
/** Why this profile was chosen. */
export const BlockReason = { DEFAULT: 1, LAST_USED: 2, USER: 3, ONE_SHOT: 4, FALLBACK: 5 } as const;
/** Flag bits of the FLAGS byte. */
export const BlockFlag = { ONE_SHOT: 0x01, FALLBACK: 0x02, USER_CHOSEN: 0x04, HIDDEN: 0x08 } as const;
export const BLOCK_FLAGS_KNOWN = 0x0f;

/** `flipper.action=` words for the kernel command line, indexed by BlockAction. */
export const ACTION_NAMES = ["", "boot", "recovery", "reset"];
/** `flipper.reason=` words, indexed by BlockReason. */
export const REASON_NAMES = ["", "default", "last-used", "user", "one-shot", "fallback"];
/** BlockStatus's words, indexed by status. */
export const STATUS_NAMES = ["empty", "pending", "final"];

/** The word for a BlockAction, or its decimal when it has none. */
export function actionName(action: number): string {
  const n = ACTION_NAMES[action];
  return n ? n : decimal(action);
}

/** The word for a BlockReason, or its decimal when it has none. */
export function reasonName(reason: number): string {
  const n = REASON_NAMES[reason];
  return n ? n : decimal(reason);
}

/** The word for a BlockStatus, or its decimal when it has none. */
export function statusName(status: number): string {
  const n = STATUS_NAMES[status];
  return n ? n : decimal(status);
}

export interface BootSelection {
  status: number;
  action: number;
  reason: number;
  flags: number;
  /** This boot's try number for the profile (1 = first try since the last good boot). */
  tryNumber: number;
  /** Tries allowed before the MCU falls back. */
  maxTries: number;
  /** Increments on every FINAL choice; lets Linux tie a boot report to a boot. */
  sequence: number;
  /** Profile id; "" only with the RECOVERY action (recovery of the base system). */
  profileId: string;
  /** Base version; "" only when profileId is "". */
  base: string;
}

/** Every way a block can be bad; the decoder names one instead of throwing. */
export const BlockError = {
  BAD_LENGTH: "bad-length",
  BAD_MAGIC: "bad-magic",
  UNKNOWN_VERSION: "unknown-version",
  BAD_CRC: "bad-crc",
  INVALID_FIELD: "invalid-field",
} as const;

export interface BlockDecodeResult {
  ok: boolean;
  selection: BootSelection | null;
  /** One of BlockError's values when !ok. */
  error: string;
  /** Human explanation naming the value and what is allowed. */
  detail: string;
}

function fail(error: string, detail: string): BlockDecodeResult {
  return { ok: false, selection: null, error: error, detail: detail };
}

/** Why a selection cannot be encoded, or null. */
export function checkSelection(s: BootSelection): FieldError | null {
  if (s.status !== BlockStatus.PENDING && s.status !== BlockStatus.FINAL && s.status !== BlockStatus.EMPTY) {
    return { field: "status", value: decimal(s.status), rule: "must be 0 (empty), 1 (pending) or 2 (final)" };
  }
  if (s.action < BlockAction.BOOT || s.action > BlockAction.RESET || Math.floor(s.action) !== s.action) {
    return { field: "action", value: decimal(s.action), rule: "must be 1 (boot), 2 (recovery) or 3 (reset)" };
  }
  if (
    s.reason < BlockReason.DEFAULT ||
    s.reason > BlockReason.FALLBACK ||
    Math.floor(s.reason) !== s.reason
  ) {
    return {
      field: "reason",
      value: decimal(s.reason),
      rule: "must be 1 to 5 (default, last-used, user, one-shot, fallback)",
    };
  }
  if (s.flags < 0 || (s.flags & ~BLOCK_FLAGS_KNOWN) !== 0 || Math.floor(s.flags) !== s.flags) {
    return { field: "flags", value: "0x" + hex(s.flags, 2), rule: "must use only bits 0x01..0x08" };
  }
  if (!(s.tryNumber >= 0 && s.tryNumber <= 255) || Math.floor(s.tryNumber) !== s.tryNumber) {
    return { field: "tryNumber", value: decimal(s.tryNumber), rule: "must be 0 to 255" };
  }
  if (!(s.maxTries >= 0 && s.maxTries <= 255) || Math.floor(s.maxTries) !== s.maxTries) {
    return { field: "maxTries", value: decimal(s.maxTries), rule: "must be 0 to 255" };
  }
  if (!(s.sequence >= 0 && s.sequence <= 0xffffffff) || Math.floor(s.sequence) !== s.sequence) {
    return { field: "sequence", value: decimal(s.sequence), rule: "must be 0 to 4294967295" };
  }
  if (s.profileId === "") {
    if (s.action !== BlockAction.RECOVERY) {
      return { field: "profileId", value: '""', rule: "may be empty only with the recovery action" };
    }
    if (s.base !== "") {
      return { field: "base", value: s.base, rule: "must be empty when the profile id is empty" };
    }
    return null;
  }
  const e = checkProfileId(s.profileId, "profileId");
  if (e) return e;
  return checkBaseVersion(s.base, "base");
}

/** The 64 bytes the MCU publishes for `s`; throws only for a selection that fails checkSelection. */
export function encodeBlock(s: BootSelection): Bytes {
  const e = checkSelection(s);
  if (e) throw new Error(e.field + " " + e.value + " is invalid: " + e.rule);
  const out = zeros(BLOCK_LENGTH);
  for (let i = 0; i < BLOCK_MAGIC_BYTES.length; i++) out[BlockOffset.MAGIC + i] = BLOCK_MAGIC_BYTES[i];
  out[BlockOffset.VERSION] = BLOCK_LAYOUT_VERSION;
  out[BlockOffset.LENGTH] = BLOCK_LENGTH;
  out[BlockOffset.STATUS] = s.status;
  out[BlockOffset.ACTION] = s.action;
  out[BlockOffset.REASON] = s.reason;
  out[BlockOffset.FLAGS] = s.flags;
  out[BlockOffset.TRY] = s.tryNumber;
  out[BlockOffset.MAX_TRIES] = s.maxTries;
  writeU32LE(out, BlockOffset.SEQUENCE, s.sequence);
  const id = asciiBytes(s.profileId);
  for (let i = 0; i < id.length; i++) out[BlockOffset.PROFILE_ID + i] = id[i];
  const base = asciiBytes(s.base);
  for (let i = 0; i < base.length; i++) out[BlockOffset.BASE + i] = base[i];
  writeU32LE(out, BlockOffset.CRC, crc32(out, 0, BlockOffset.CRC));
  return out;
}

/** Reads a NUL-terminated ASCII field; null when no NUL ends it or a byte after the NUL is not zero. */
function readField(data: Bytes, offset: number, size: number): string | null {
  let s = "";
  let ended = false;
  for (let i = 0; i < size; i++) {
    const b = data[offset + i];
    if (ended) {
      if (b !== 0) return null;
    } else if (b === 0) {
      ended = true;
    } else {
      s += String.fromCharCode(b);
    }
  }
  return ended ? s : null;
}

/** Decodes and checks a block exactly as U-Boot does, classifying every failure. Never throws. */
export function decodeBlock(data: Bytes): BlockDecodeResult {
  if (!Array.isArray(data) || !isByteArray(data))
    return fail(BlockError.BAD_LENGTH, "block is not a byte array");
  if (data.length !== BLOCK_LENGTH) {
    return fail(
      BlockError.BAD_LENGTH,
      "block is " + decimal(data.length) + " bytes, must be " + decimal(BLOCK_LENGTH),
    );
  }
  for (let i = 0; i < BLOCK_MAGIC_BYTES.length; i++) {
    if (data[BlockOffset.MAGIC + i] !== BLOCK_MAGIC_BYTES[i]) {
      return fail(
        BlockError.BAD_MAGIC,
        "magic is 0x" + hex(readU32LE(data, 0), 8) + ", must be 0x" + hex(BLOCK_MAGIC_U32LE, 8) + ' ("FBSL")',
      );
    }
  }
  if (data[BlockOffset.VERSION] !== BLOCK_LAYOUT_VERSION) {
    return fail(
      BlockError.UNKNOWN_VERSION,
      "layout version is " +
        decimal(data[BlockOffset.VERSION]) +
        ", this reader knows " +
        decimal(BLOCK_LAYOUT_VERSION),
    );
  }
  if (data[BlockOffset.LENGTH] !== BLOCK_LENGTH) {
    return fail(
      BlockError.BAD_LENGTH,
      "length byte is " + decimal(data[BlockOffset.LENGTH]) + ", must be " + decimal(BLOCK_LENGTH),
    );
  }
  if (crc32(data, 0, BLOCK_LENGTH) !== CRC32_RESIDUE) {
    return fail(
      BlockError.BAD_CRC,
      "CRC-32 is 0x" +
        hex(readU32LE(data, BlockOffset.CRC), 8) +
        ", computed 0x" +
        hex(crc32(data, 0, BlockOffset.CRC), 8),
    );
  }
  const id = readField(data, BlockOffset.PROFILE_ID, BLOCK_ID_FIELD);
  if (id === null) {
    return fail(
      BlockError.INVALID_FIELD,
      "profile id field is not NUL-terminated and NUL-padded within " + decimal(BLOCK_ID_FIELD) + " bytes",
    );
  }
  const base = readField(data, BlockOffset.BASE, BLOCK_BASE_FIELD);
  if (base === null) {
    return fail(
      BlockError.INVALID_FIELD,
      "base field is not NUL-terminated and NUL-padded within " + decimal(BLOCK_BASE_FIELD) + " bytes",
    );
  }
  const s: BootSelection = {
    status: data[BlockOffset.STATUS],
    action: data[BlockOffset.ACTION],
    reason: data[BlockOffset.REASON],
    flags: data[BlockOffset.FLAGS],
    tryNumber: data[BlockOffset.TRY],
    maxTries: data[BlockOffset.MAX_TRIES],
    sequence: readU32LE(data, BlockOffset.SEQUENCE),
    profileId: id,
    base: base,
  };
  const e = checkSelection(s);
  if (e) return fail(BlockError.INVALID_FIELD, e.field + " " + e.value + " is invalid: " + e.rule);
  return { ok: true, selection: s, error: "", detail: "" };
}
