// UART messages that report state: HELLO (version and size negotiation), GET_STATE's reply and the
// boot report (EVENT_BOOT, and inside the state). EVENT_DEFAULT_CHANGED carries SET_DEFAULT's payload.
import { type Bytes, decimal } from "./bytes";
import { MIN_MAX_PAYLOAD } from "./frame";
import type { MenuOptions } from "./messages-edit";
import { type Decoded, decodedBad, decodedOk, PAYLOAD_SHORT, STATE_TRIES_MAX } from "./messages-codes";
import { ACTION_NAMES, BlockAction, BlockReason } from "./register-block";
import { ByteReader, ByteWriter } from "./wire";

// ---- HELLO ----------------------------------------------------------------------------------

export interface HelloRequest {
  minVersion: number;
  maxVersion: number;
  /** Largest payload the sender accepts. */
  maxPayload: number;
  capabilities: number;
}

export interface HelloResponse {
  version: number;
  maxPayload: number;
  capabilities: number;
  maxProfiles: number;
  generation: number;
  /** Random per MCU start: a change tells the bridge the MCU restarted. */
  instance: number;
  /** The MCU's supported version range, so an UNSUPPORTED answer says what would work. */
  minVersion: number;
  maxVersion: number;
}

export function encodeHelloRequest(h: HelloRequest): Bytes {
  return new ByteWriter().u8(h.minVersion).u8(h.maxVersion).u16(h.maxPayload).u32(h.capabilities).bytes;
}

export function decodeHelloRequest(p: Bytes): Decoded<HelloRequest> {
  const r = new ByteReader(p, 0, p.length);
  const v = { minVersion: r.u8(), maxVersion: r.u8(), maxPayload: r.u16(), capabilities: r.u32() };
  if (!r.done()) return decodedBad(PAYLOAD_SHORT);
  if (v.minVersion > v.maxVersion) {
    return decodedBad("version range " + decimal(v.minVersion) + ".." + decimal(v.maxVersion) + " is empty");
  }
  return decodedOk(v);
}

export function encodeHelloResponse(h: HelloResponse): Bytes {
  return new ByteWriter()
    .u8(h.version)
    .u16(h.maxPayload)
    .u32(h.capabilities)
    .u8(h.maxProfiles)
    .u32(h.generation)
    .u32(h.instance)
    .u8(h.minVersion)
    .u8(h.maxVersion).bytes;
}

export function decodeHelloResponse(p: Bytes): Decoded<HelloResponse> {
  const r = new ByteReader(p, 0, p.length);
  const v = {
    version: r.u8(),
    maxPayload: r.u16(),
    capabilities: r.u32(),
    maxProfiles: r.u8(),
    generation: r.u32(),
    instance: r.u32(),
    minVersion: r.u8(),
    maxVersion: r.u8(),
  };
  if (!r.done()) return decodedBad(PAYLOAD_SHORT);
  if (v.maxPayload < MIN_MAX_PAYLOAD) {
    // A peer that took it would have to refuse even HELLO afterwards.
    return decodedBad(
      "maxPayload " + decimal(v.maxPayload) + " is invalid: must be at least " + decimal(MIN_MAX_PAYLOAD),
    );
  }
  return decodedOk(v);
}

// ---- boot report and state ----------------------------------------------------------------

export interface BootReport {
  /** Boot sequence number, as in the register block; 0 = no boot yet. */
  sequence: number;
  /** BlockAction. */
  action: number;
  /** BlockReason. */
  reason: number;
  /** BlockFlag bits. */
  flags: number;
  tryNumber: number;
  maxTries: number;
  id: string;
  base: string;
  /** 1 once the bridge marked this boot good. */
  good: number;
}

/** The report before any boot (sequence 0): what the MCU holds and GET_STATE carries then. */
export function noBootReport(): BootReport {
  return {
    sequence: 0,
    action: 0,
    reason: 0,
    flags: 0,
    tryNumber: 0,
    maxTries: 0,
    id: "",
    base: "",
    good: 0,
  };
}

function writeBootReport(w: ByteWriter, b: BootReport): void {
  w.u32(b.sequence)
    .u8(b.action)
    .u8(b.reason)
    .u8(b.flags)
    .u8(b.tryNumber)
    .u8(b.maxTries)
    .str(b.id)
    .str(b.base)
    .u8(b.good);
}

function readBootReport(r: ByteReader): BootReport {
  return {
    sequence: r.u32(),
    action: r.u8(),
    reason: r.u8(),
    flags: r.u8(),
    tryNumber: r.u8(),
    maxTries: r.u8(),
    id: r.str(),
    base: r.str(),
    good: r.u8(),
  };
}

export function encodeBootReport(b: BootReport): Bytes {
  const w = new ByteWriter();
  writeBootReport(w, b);
  return w.bytes;
}

export function decodeBootReport(p: Bytes): Decoded<BootReport> {
  const r = new ByteReader(p, 0, p.length);
  const v = readBootReport(r);
  if (!r.done()) return decodedBad(PAYLOAD_SHORT);
  const inRange =
    v.action >= BlockAction.BOOT &&
    v.action < ACTION_NAMES.length &&
    v.reason >= BlockReason.DEFAULT &&
    v.reason <= BlockReason.FALLBACK;
  // Sequence 0 means "no boot yet": its other fields are zero.
  if (v.sequence !== 0 && !inRange) return decodedBad("boot report action or reason is out of range");
  return decodedOk(v);
}

export interface ProfileTries {
  id: string;
  tries: number;
  /** 1 when the profile ran out of tries and the MCU falls back from it. */
  failed: number;
}

export interface McuState {
  generation: number;
  profileCount: number;
  /** listCrc() of the list held, so a bridge can tell an unchanged list in one round trip. */
  listCrc: number;
  maxProfiles: number;
  defaultMode: number;
  defaultId: string;
  nextAction: number;
  /** "" when no one-shot is set. */
  nextId: string;
  options: MenuOptions;
  /** "" when no boot was ever marked good. */
  lastGoodId: string;
  lastBoot: BootReport;
  /** Profiles with tries > 0, at most STATE_TRIES_MAX. */
  tries: ProfileTries[];
}

export function encodeState(s: McuState): Bytes {
  const w = new ByteWriter()
    .u32(s.generation)
    .u8(s.profileCount)
    .u32(s.listCrc)
    .u8(s.maxProfiles)
    .u8(s.defaultMode)
    .str(s.defaultId)
    .u8(s.nextAction)
    .str(s.nextId)
    .u8(s.options.timeoutSeconds)
    .u8(s.options.showMenu)
    .u8(s.options.maxTries)
    .str(s.lastGoodId);
  writeBootReport(w, s.lastBoot);
  const n = s.tries.length > STATE_TRIES_MAX ? STATE_TRIES_MAX : s.tries.length;
  w.u8(n);
  for (let i = 0; i < n; i++) w.str(s.tries[i].id).u8(s.tries[i].tries).u8(s.tries[i].failed);
  return w.bytes;
}

export function decodeState(p: Bytes): Decoded<McuState> {
  const r = new ByteReader(p, 0, p.length);
  const generation = r.u32();
  const profileCount = r.u8();
  const crc = r.u32();
  const maxProfiles = r.u8();
  const defaultMode = r.u8();
  const defaultId = r.str();
  const nextAction = r.u8();
  const nextId = r.str();
  const options = { timeoutSeconds: r.u8(), showMenu: r.u8(), maxTries: r.u8() };
  const lastGoodId = r.str();
  const lastBoot = readBootReport(r);
  const n = r.u8();
  const tries: ProfileTries[] = [];
  for (let i = 0; i < n && i < STATE_TRIES_MAX && !r.failed; i++) {
    tries.push({ id: r.str(), tries: r.u8(), failed: r.u8() });
  }
  if (!r.done()) return decodedBad(PAYLOAD_SHORT);
  return decodedOk({
    generation: generation,
    profileCount: profileCount,
    listCrc: crc,
    maxProfiles: maxProfiles,
    defaultMode: defaultMode,
    defaultId: defaultId,
    nextAction: nextAction,
    nextId: nextId,
    options: options,
    lastGoodId: lastGoodId,
    lastBoot: lastBoot,
    tries: tries,
  });
}
