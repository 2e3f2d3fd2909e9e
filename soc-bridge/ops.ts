// MCU operations on top of the link: full list transfer, deltas, read-back, and the boot
// settings commands. Shared by the daemon and by the CLI when no daemon runs.
import { ACTION_NAMES, actionName, reasonName } from "../protocol/register-block";
import {
  type BootReport,
  DefaultMode,
  decodeProfileReply,
  decodeState,
  encodeDeleteProfile,
  encodeGetProfile,
  encodeListBegin,
  encodeListCommit,
  encodeMarkGood,
  encodeMenuOptions,
  encodePutProfile,
  encodeSetDefault,
  encodeSetNext,
  checkMenuOptions,
  listCrc,
  type McuState,
  type MenuOptions,
  MessageType,
  packListItems,
  Result,
  showMenuName,
  defaultModeName,
} from "../protocol/messages";
import {
  checkProfileId,
  formatFieldError,
  ProfileFlag,
  type ProfileRecord,
  sameProfile,
} from "../protocol/profile";
import { BridgeError } from "./errors";
import { McuError, type McuLink } from "./link";

/** The generation after `g` (u32, 0 skipped: 0 means "never synced"). */
export function nextGeneration(g: number): number {
  const n = (g + 1) >>> 0;
  return n === 0 ? 1 : n;
}

/**
 * LIST_BEGIN, LIST_ITEMs each packed with as many records as the negotiated payload size takes,
 * LIST_COMMIT with the list CRC. Returns the new generation.
 */
export async function transferList(
  link: McuLink,
  list: ProfileRecord[],
  generation: number,
): Promise<number> {
  await link.call(MessageType.LIST_BEGIN, encodeListBegin({ generation, count: list.length }));
  for (const item of packListItems(generation, list, link.maxPayload)) {
    await link.call(MessageType.LIST_ITEM, item);
  }
  await link.call(
    MessageType.LIST_COMMIT,
    encodeListCommit({ generation, count: list.length, listCrc: listCrc(list) }),
  );
  return generation;
}

export async function getState(link: McuLink): Promise<McuState> {
  const p = await link.call(MessageType.GET_STATE, []);
  const d = decodeState(p);
  if (!d.value) throw new Error("MCU sent a GET_STATE reply this bridge cannot read: " + d.error);
  return d.value;
}

/**
 * Brings the MCU's whole list in line with `want`, trusting nothing the bridge remembers: one
 * GET_STATE tells the MCU's generation, count and list CRC; when they match `want` (and a list was
 * ever stored) that is all ("verified"), otherwise the list is sent under the next generation
 * ("full"). A bridge that lost its state therefore never reuses an old generation.
 */
export async function syncWholeList(
  link: McuLink,
  want: ProfileRecord[],
): Promise<{ kind: "verified" | "full"; generation: number }> {
  const st = await getState(link);
  if (st.generation !== 0 && st.profileCount === want.length && st.listCrc === listCrc(want)) {
    return { kind: "verified", generation: st.generation };
  }
  return { kind: "full", generation: await transferList(link, want, nextGeneration(st.generation)) };
}

/** The MCU's committed list, read back with GET_PROFILE (restarts if the generation moves). */
export async function readMcuList(link: McuLink): Promise<{ generation: number; records: ProfileRecord[] }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const st = await getState(link);
    const records: ProfileRecord[] = [];
    let moved = false;
    for (let i = 0; i < st.profileCount; i++) {
      const p = await link.call(MessageType.GET_PROFILE, encodeGetProfile({ index: i }));
      const d = decodeProfileReply(p);
      if (!d.value) throw new Error("MCU sent a GET_PROFILE reply this bridge cannot read: " + d.error);
      if (d.value.generation !== st.generation || d.value.count !== st.profileCount) {
        moved = true;
        break;
      }
      records.push(d.value.record);
    }
    if (!moved) return { generation: st.generation, records };
  }
  throw new Error("the MCU's list kept changing while it was read");
}

export function sameList(a: ProfileRecord[], b: ProfileRecord[]): boolean {
  return a.length === b.length && a.every((r, i) => sameProfile(r, b[i]));
}

export type DeltaOp = { kind: "put"; record: ProfileRecord } | { kind: "delete"; id: string };

/**
 * The PUT/DELETE operations that turn `old` (the MCU's list) into `next`, or null when deltas
 * cannot reproduce `next` exactly (order) or a full transfer is simpler. The MCU replaces a PUT
 * record in place and appends a new one at the end; DELETE keeps the order of the rest.
 */
export function planDeltas(old: ProfileRecord[], next: ProfileRecord[], maxOps = 4): DeltaOp[] | null {
  const ops: DeltaOp[] = [];
  const nextIds = new Set(next.map((r) => r.id));
  let sim = old.filter((r) => {
    if (nextIds.has(r.id)) return true;
    ops.push({ kind: "delete", id: r.id });
    return false;
  });
  for (const r of next) {
    const i = sim.findIndex((s) => s.id === r.id);
    if (i < 0) {
      ops.push({ kind: "put", record: r });
      sim = [...sim, r];
    } else if (!sameProfile(sim[i], r)) {
      ops.push({ kind: "put", record: r });
      sim = sim.map((s, k) => (k === i ? r : s));
    }
  }
  if (ops.length > maxOps) return null;
  if (!sameList(sim, next)) return null;
  return ops;
}

/**
 * Applies deltas from generation `gen`; returns the final generation. STALE or OLD_GENERATION
 * (the MCU holds another generation) surface as McuError: isStale() says a full sync is due.
 */
export async function applyDeltas(link: McuLink, ops: DeltaOp[], gen: number): Promise<number> {
  for (const op of ops) {
    const newGeneration = nextGeneration(gen);
    if (op.kind === "put") {
      await link.call(
        MessageType.PUT_PROFILE,
        encodePutProfile({ baseGeneration: gen, newGeneration, record: op.record }),
      );
    } else {
      await link.call(
        MessageType.DELETE_PROFILE,
        encodeDeleteProfile({ baseGeneration: gen, newGeneration, id: op.id }),
      );
    }
    gen = newGeneration;
  }
  return gen;
}

export function isStale(e: unknown): boolean {
  return (
    e instanceof McuError &&
    (e.result === Result.STALE || e.result === Result.OUT_OF_ORDER || e.result === Result.OLD_GENERATION)
  );
}

function checkId(id: string): void {
  const e = checkProfileId(id, "profile id");
  if (e) throw new BridgeError("usage", formatFieldError(e));
}

export async function setDefault(link: McuLink, target: string): Promise<void> {
  if (target === defaultModeName(DefaultMode.LAST_USED)) {
    await link.call(MessageType.SET_DEFAULT, encodeSetDefault({ mode: DefaultMode.LAST_USED, id: "" }));
    return;
  }
  checkId(target);
  await link.call(MessageType.SET_DEFAULT, encodeSetDefault({ mode: DefaultMode.FIXED, id: target }));
}

export async function setNext(link: McuLink, id: string, action = "boot"): Promise<void> {
  checkId(id);
  // ACTION_NAMES[0] is "": no action; every other entry is one.
  const a = action === "" ? -1 : ACTION_NAMES.indexOf(action);
  if (a <= 0)
    throw new BridgeError(
      "usage",
      "action " + JSON.stringify(action) + " is invalid: must be boot, recovery or reset",
    );
  await link.call(MessageType.SET_NEXT, encodeSetNext({ action: a, id }));
}

export async function clearNext(link: McuLink): Promise<void> {
  await link.call(MessageType.SET_NEXT, encodeSetNext({ action: 0, id: "" }));
}

export interface OptionsChange {
  timeoutSeconds?: number;
  showMenu?: number;
  maxTries?: number;
}

export async function setOptions(link: McuLink, change: OptionsChange): Promise<MenuOptions> {
  const st = await getState(link);
  const o: MenuOptions = {
    timeoutSeconds: change.timeoutSeconds ?? st.options.timeoutSeconds,
    showMenu: change.showMenu ?? st.options.showMenu,
    maxTries: change.maxTries ?? st.options.maxTries,
  };
  const e = checkMenuOptions(o);
  if (e !== "") throw new BridgeError("usage", e);
  await link.call(MessageType.SET_OPTIONS, encodeMenuOptions(o));
  return o;
}

export interface MarkGoodResult {
  marked: boolean;
  sequence: number;
  id: string;
  message: string;
}

/**
 * Marks the MCU's last boot good (like systemd-bless-boot). `runningProfile` (from
 * flipper.profile= on /proc/cmdline) guards against confirming a boot this kernel is not.
 */
export async function markGood(link: McuLink, runningProfile: string | null): Promise<MarkGoodResult> {
  const st = await getState(link);
  const b: BootReport = st.lastBoot;
  if (b.sequence === 0) {
    // The MCU restarted while Linux ran (it lost its boot report): name the running profile.
    if (runningProfile === null) {
      return { marked: false, sequence: 0, id: "", message: "nothing to mark: the MCU reports no boot yet" };
    }
    await link.call(MessageType.MARK_GOOD, encodeMarkGood({ sequence: 0, id: runningProfile }));
    return {
      marked: true,
      sequence: 0,
      id: runningProfile,
      message: "marked the running profile " + runningProfile + " good",
    };
  }
  if (runningProfile !== null && runningProfile !== b.id) {
    throw new BridgeError(
      "usage",
      "the running system is profile " +
        JSON.stringify(runningProfile) +
        " but the MCU's last boot (sequence " +
        b.sequence +
        ") is " +
        JSON.stringify(b.id) +
        "; not marking it good",
    );
  }
  if (b.good) {
    return {
      marked: false,
      sequence: b.sequence,
      id: b.id,
      message: "boot " + b.sequence + " of " + b.id + " is already marked good",
    };
  }
  await link.call(MessageType.MARK_GOOD, encodeMarkGood({ sequence: b.sequence, id: b.id }));
  return {
    marked: true,
    sequence: b.sequence,
    id: b.id,
    message: "marked boot " + b.sequence + " of " + b.id + " good",
  };
}

/** The CLI's word for the default: `last-used`, or the fixed profile's id. */
export function defaultName(mode: number, id: string): string {
  return mode === DefaultMode.LAST_USED ? defaultModeName(mode) : id;
}

/** A JSON-friendly view of the MCU state with names instead of codes. */
export function describeState(st: McuState) {
  return {
    generation: st.generation,
    profileCount: st.profileCount,
    maxProfiles: st.maxProfiles,
    default: defaultName(st.defaultMode, st.defaultId),
    next: st.nextId === "" ? null : { id: st.nextId, action: actionName(st.nextAction) },
    options: {
      timeoutSeconds: st.options.timeoutSeconds,
      show: showMenuName(st.options.showMenu),
      maxTries: st.options.maxTries,
    },
    lastGood: st.lastGoodId === "" ? null : st.lastGoodId,
    lastBoot:
      st.lastBoot.sequence === 0
        ? null
        : {
            sequence: st.lastBoot.sequence,
            id: st.lastBoot.id,
            base: st.lastBoot.base,
            action: actionName(st.lastBoot.action),
            reason: reasonName(st.lastBoot.reason),
            try: st.lastBoot.tryNumber,
            maxTries: st.lastBoot.maxTries,
            good: st.lastBoot.good === 1,
          },
    tries: st.tries.map((t) => ({ id: t.id, tries: t.tries, failed: t.failed === 1 })),
  };
}

export function describeRecord(r: ProfileRecord) {
  return {
    id: r.id,
    name: r.name,
    base: r.base,
    origin: r.origin === "" ? null : r.origin,
    hidden: (r.flags & ProfileFlag.HIDDEN) !== 0,
    protected: (r.flags & ProfileFlag.PROTECTED) !== 0,
    created: r.created,
    lastUsed: r.lastUsed,
  };
}
