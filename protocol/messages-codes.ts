// UART link message codes and their names: message types, Result codes, capability bits, boot-setting
// modes, the protocol version and the limits the payloads keep. Every request gets exactly one response
// with the same type and seq and a Result code. Payload codecs return a Decoded and never throw; a
// decoder that returns an error makes the MCU answer its `result` (INVALID or NO_SPACE) and change nothing.
import { decimal, hex } from "./bytes";

/**
 * Version 2: LIST_ITEM carries several records, GET_STATE carries the list CRC, and generations only
 * move forward (OLD_GENERATION). Version 1 MCUs were never deployed, so neither side speaks it.
 */
export const PROTOCOL_VERSION = 2;
export const PROTOCOL_VERSION_MIN = 2;

export const MessageType = {
  HELLO: 0x01,
  GET_STATE: 0x02,
  GET_PROFILE: 0x03,
  LIST_BEGIN: 0x10,
  LIST_ITEM: 0x11,
  LIST_COMMIT: 0x12,
  PUT_PROFILE: 0x13,
  DELETE_PROFILE: 0x14,
  SET_DEFAULT: 0x20,
  SET_NEXT: 0x21,
  SET_OPTIONS: 0x22,
  MARK_GOOD: 0x23,
  EVENT_BOOT: 0x30,
  /** Payload as SET_DEFAULT's (encodeSetDefault / decodeSetDefault). */
  EVENT_DEFAULT_CHANGED: 0x31,
  EVENT_HELLO: 0x32,
} as const;

/** MessageType's names, indexed by code (sparse). */
export const MESSAGE_NAMES: string[] = [];
MESSAGE_NAMES[MessageType.HELLO] = "HELLO";
MESSAGE_NAMES[MessageType.GET_STATE] = "GET_STATE";
MESSAGE_NAMES[MessageType.GET_PROFILE] = "GET_PROFILE";
MESSAGE_NAMES[MessageType.LIST_BEGIN] = "LIST_BEGIN";
MESSAGE_NAMES[MessageType.LIST_ITEM] = "LIST_ITEM";
MESSAGE_NAMES[MessageType.LIST_COMMIT] = "LIST_COMMIT";
MESSAGE_NAMES[MessageType.PUT_PROFILE] = "PUT_PROFILE";
MESSAGE_NAMES[MessageType.DELETE_PROFILE] = "DELETE_PROFILE";
MESSAGE_NAMES[MessageType.SET_DEFAULT] = "SET_DEFAULT";
MESSAGE_NAMES[MessageType.SET_NEXT] = "SET_NEXT";
MESSAGE_NAMES[MessageType.SET_OPTIONS] = "SET_OPTIONS";
MESSAGE_NAMES[MessageType.MARK_GOOD] = "MARK_GOOD";
MESSAGE_NAMES[MessageType.EVENT_BOOT] = "EVENT_BOOT";
MESSAGE_NAMES[MessageType.EVENT_DEFAULT_CHANGED] = "EVENT_DEFAULT_CHANGED";
MESSAGE_NAMES[MessageType.EVENT_HELLO] = "EVENT_HELLO";

/** A message type's name, or `0x` and its two hex digits for an unknown one. */
export function messageName(type: number): string {
  const n = MESSAGE_NAMES[type];
  return n ? n : "0x" + hex(type, 2);
}

/** Result codes (frame header byte 3 of a response). */
export const Result = {
  OK: 0,
  UNSUPPORTED: 1,
  INVALID: 2,
  NO_SPACE: 3,
  BUSY: 4,
  STALE: 5,
  NOT_FOUND: 6,
  TOO_LARGE: 7,
  OUT_OF_ORDER: 8,
  OLD_GENERATION: 9,
} as const;
/** Result's names, indexed by code. */
export const RESULT_NAMES = [
  "OK",
  "UNSUPPORTED",
  "INVALID",
  "NO_SPACE",
  "BUSY",
  "STALE",
  "NOT_FOUND",
  "TOO_LARGE",
  "OUT_OF_ORDER",
  "OLD_GENERATION",
];

/** A Result code's name, or `RESULT_` and its decimal for an unknown one. */
export function resultName(code: number): string {
  const n = RESULT_NAMES[code];
  return n ? n : "RESULT_" + decimal(code);
}

/** Capability bits announced in HELLO. */
export const Capability = {
  LIST_TRANSFER: 0x01,
  PROFILE_DELTA: 0x02,
  EVENTS: 0x04,
  NEXT_ACTIONS: 0x08,
  MENU_OPTIONS: 0x10,
} as const;
export const CAPABILITIES_V1 = 0x1f;

/** Default-profile modes. */
export const DefaultMode = { FIXED: 0, LAST_USED: 1 } as const;
/** DefaultMode's words (the CLI's, the status output's and the simulator's), indexed by mode. */
export const DEFAULT_MODE_NAMES = ["fixed", "last-used"];

export function defaultModeName(mode: number): string {
  const n = DEFAULT_MODE_NAMES[mode];
  return n ? n : decimal(mode);
}

/** When the menu opens at power-on. */
export const ShowMenu = { ON_KEY: 0, ALWAYS: 1 } as const;
/** ShowMenu's words (the CLI's, the status output's and the simulator's), indexed by value. */
export const SHOW_MENU_NAMES = ["on-key", "always"];

export function showMenuName(show: number): string {
  const n = SHOW_MENU_NAMES[show];
  return n ? n : decimal(show);
}

/** Largest max-tries a SET_OPTIONS may set (tries before a profile counts as failed). */
export const MAX_TRIES_LIMIT = 10;
/** Longest menu countdown a SET_OPTIONS may set, in seconds. */
export const MENU_TIMEOUT_MAX = 60;
/** Per-profile try counters a STATE reply carries at most (those with tries > 0). */
export const STATE_TRIES_MAX = 8;

export interface Decoded<T> {
  value: T | null;
  /** Empty when value is set; otherwise names the field, the value and the rule. */
  error: string;
  /**
   * The Result a responder answers with: OK with a value, INVALID for a malformed payload or a
   * broken rule, NO_SPACE for a list count or index past MAX_PROFILES.
   */
  result: number;
}

export function decodedOk<T>(value: T): Decoded<T> {
  return { value: value, error: "", result: Result.OK };
}

export function decodedBad<T>(error: string): Decoded<T> {
  return { value: null, error: error, result: Result.INVALID };
}

export function decodedNoSpace<T>(error: string): Decoded<T> {
  return { value: null, error: error, result: Result.NO_SPACE };
}

/** The error of a payload that ran short or has bytes left over. */
export const PAYLOAD_SHORT = "payload is truncated or has trailing bytes";
