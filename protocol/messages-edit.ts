// UART messages that change one thing on the MCU: PUT_PROFILE and DELETE_PROFILE (applied to a base
// generation), SET_DEFAULT, SET_NEXT, SET_OPTIONS and MARK_GOOD.
import { type Bytes, decimal } from "./bytes";
import {
  type Decoded,
  DefaultMode,
  decodedBad,
  decodedOk,
  MAX_TRIES_LIMIT,
  MENU_TIMEOUT_MAX,
  PAYLOAD_SHORT,
  ShowMenu,
} from "./messages-codes";
import { readRecord, writeRecord } from "./messages-list";
import { checkProfileId, formatFieldError, type ProfileRecord, validateProfile } from "./profile";
import { BlockAction } from "./register-block";
import { ByteReader, ByteWriter } from "./wire";

// ---- single-profile changes ---------------------------------------------------------------

export interface PutProfile {
  /** The generation the change applies to; the MCU answers STALE if it holds another. */
  baseGeneration: number;
  newGeneration: number;
  record: ProfileRecord;
}

export function encodePutProfile(m: PutProfile): Bytes {
  const w = new ByteWriter().u32(m.baseGeneration).u32(m.newGeneration);
  writeRecord(w, m.record);
  return w.bytes;
}

export function decodePutProfile(p: Bytes): Decoded<PutProfile> {
  const r = new ByteReader(p, 0, p.length);
  const baseGeneration = r.u32();
  const newGeneration = r.u32();
  const record = readRecord(r);
  if (!r.done()) return decodedBad(PAYLOAD_SHORT);
  const e = validateProfile(record);
  if (e) return decodedBad(formatFieldError(e));
  return decodedOk({ baseGeneration: baseGeneration, newGeneration: newGeneration, record: record });
}

export interface DeleteProfile {
  baseGeneration: number;
  newGeneration: number;
  id: string;
}

export function encodeDeleteProfile(m: DeleteProfile): Bytes {
  return new ByteWriter().u32(m.baseGeneration).u32(m.newGeneration).str(m.id).bytes;
}

export function decodeDeleteProfile(p: Bytes): Decoded<DeleteProfile> {
  const r = new ByteReader(p, 0, p.length);
  const v = { baseGeneration: r.u32(), newGeneration: r.u32(), id: r.str() };
  if (!r.done()) return decodedBad(PAYLOAD_SHORT);
  const e = checkProfileId(v.id, "id");
  if (e) return decodedBad(formatFieldError(e));
  return decodedOk(v);
}

// ---- boot settings ------------------------------------------------------------------------

export interface SetDefault {
  mode: number;
  /** Profile id with FIXED; "" with LAST_USED. */
  id: string;
}

export function encodeSetDefault(m: SetDefault): Bytes {
  return new ByteWriter().u8(m.mode).str(m.id).bytes;
}

export function decodeSetDefault(p: Bytes): Decoded<SetDefault> {
  const r = new ByteReader(p, 0, p.length);
  const v = { mode: r.u8(), id: r.str() };
  if (!r.done()) return decodedBad(PAYLOAD_SHORT);
  if (v.mode === DefaultMode.LAST_USED) {
    if (v.id !== "") return decodedBad("id must be empty with the last-used mode");
    return decodedOk(v);
  }
  if (v.mode !== DefaultMode.FIXED) {
    return decodedBad("mode " + decimal(v.mode) + " is invalid: must be 0 (fixed) or 1 (last-used)");
  }
  const e = checkProfileId(v.id, "id");
  if (e) return decodedBad(formatFieldError(e));
  return decodedOk(v);
}

export interface SetNext {
  /** BlockAction for the next boot; id "" clears the one-shot. */
  action: number;
  id: string;
}

export function encodeSetNext(m: SetNext): Bytes {
  return new ByteWriter().u8(m.action).str(m.id).bytes;
}

export function decodeSetNext(p: Bytes): Decoded<SetNext> {
  const r = new ByteReader(p, 0, p.length);
  const v = { action: r.u8(), id: r.str() };
  if (!r.done()) return decodedBad(PAYLOAD_SHORT);
  if (v.id === "") return decodedOk(v);
  if (v.action < BlockAction.BOOT || v.action > BlockAction.RESET) {
    return decodedBad(
      "action " + decimal(v.action) + " is invalid: must be 1 (boot), 2 (recovery) or 3 (reset)",
    );
  }
  const e = checkProfileId(v.id, "id");
  if (e) return decodedBad(formatFieldError(e));
  return decodedOk(v);
}

export interface MenuOptions {
  /** Seconds the menu counts down before booting the default; 0 = boot at once unless a key is held. */
  timeoutSeconds: number;
  /** ShowMenu. */
  showMenu: number;
  /** Tries before a profile that never reports success is marked failed (1..10). */
  maxTries: number;
}

export function encodeMenuOptions(m: MenuOptions): Bytes {
  return new ByteWriter().u8(m.timeoutSeconds).u8(m.showMenu).u8(m.maxTries).bytes;
}

export function checkMenuOptions(v: MenuOptions): string {
  if (
    !(v.timeoutSeconds >= 0 && v.timeoutSeconds <= MENU_TIMEOUT_MAX) ||
    Math.floor(v.timeoutSeconds) !== v.timeoutSeconds
  ) {
    return (
      "timeout " +
      decimal(v.timeoutSeconds) +
      " is invalid: must be 0 to " +
      decimal(MENU_TIMEOUT_MAX) +
      " seconds"
    );
  }
  if (v.showMenu !== ShowMenu.ON_KEY && v.showMenu !== ShowMenu.ALWAYS) {
    return "show " + decimal(v.showMenu) + " is invalid: must be 0 (on-key) or 1 (always)";
  }
  if (!(v.maxTries >= 1 && v.maxTries <= MAX_TRIES_LIMIT) || Math.floor(v.maxTries) !== v.maxTries) {
    return "max tries " + decimal(v.maxTries) + " is invalid: must be 1 to " + decimal(MAX_TRIES_LIMIT);
  }
  return "";
}

export function decodeMenuOptions(p: Bytes): Decoded<MenuOptions> {
  const r = new ByteReader(p, 0, p.length);
  const v = { timeoutSeconds: r.u8(), showMenu: r.u8(), maxTries: r.u8() };
  if (!r.done()) return decodedBad(PAYLOAD_SHORT);
  const e = checkMenuOptions(v);
  if (e !== "") return decodedBad(e);
  return decodedOk(v);
}

export interface MarkGood {
  /** Boot sequence number from the register block (or the boot report) being confirmed. */
  sequence: number;
  id: string;
}

export function encodeMarkGood(m: MarkGood): Bytes {
  return new ByteWriter().u32(m.sequence).str(m.id).bytes;
}

export function decodeMarkGood(p: Bytes): Decoded<MarkGood> {
  const r = new ByteReader(p, 0, p.length);
  const v = { sequence: r.u32(), id: r.str() };
  if (!r.done()) return decodedBad(PAYLOAD_SHORT);
  if (v.id === "") return decodedOk(v);
  const e = checkProfileId(v.id, "id");
  if (e) return decodedBad(formatFieldError(e));
  return decodedOk(v);
}
