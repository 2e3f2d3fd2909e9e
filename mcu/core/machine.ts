// The boot machine: the boot decision, the flash writes and the link operations, without the menu.
// It holds the profiles, config and try counters, turns every change into store writes, publishes
// the register block, and answers the link (LinkTarget). The menu (menu.ts) is told through
// MachineEvents when what it shows changed, or when a choice became FINAL.
import { type Bytes, crcFinish, crcStart, crcUpdate, decimal } from "../../protocol/bytes";
import {
  type BootReport,
  DefaultMode,
  encodeBootReport,
  encodeHelloResponse,
  encodeRecord,
  encodeSetDefault,
  type MarkGood,
  type McuState,
  type MenuOptions,
  MessageType,
  noBootReport,
  Result,
  type SetDefault,
  type SetNext,
} from "../../protocol/messages";
import { MAX_PROFILES, ProfileFlag, type ProfileRecord } from "../../protocol/profile";
import {
  BlockAction,
  BlockFlag,
  BlockReason,
  BlockStatus,
  type BootSelection,
  encodeBlock,
} from "../../protocol/register-block";
import type { CoreHost, MachineEvents } from "./host";
import { fail, LinkEndpoint, type LinkTarget, okOutcome, type Outcome } from "./link";
import { type BootState, type Choice, decide, expireTries, findProfile, findTries } from "./policy";
import { defaultConfig, idHash, type RunRecord, SEQ_RESERVE, type StoredTries } from "./records";
import { type FlashReader, Store } from "./store";

export class BootMachine implements LinkTarget {
  host: CoreHost;
  /** Who hears about changes: the menu. */
  private events: MachineEvents;
  link: LinkEndpoint;
  store = new Store();
  st: BootState;
  gen = 0;
  crc = 0;
  bootSeq = 0;
  seqLimit = 0;
  /** The latest FINAL choice (sequence 0: none since this start). */
  lastBoot: BootReport = noBootReport();
  sel: BootSelection;
  block: Bytes = [];
  loadReport = "";
  private instanceId: number;
  private reader: FlashReader | null = null;
  /** True until loading has finished. */
  loading = false;
  /** Background computation of the protocol list CRC when it is unknown (-1). */
  private crcIndex = 0;
  private crcState = 0;

  constructor(host: CoreHost, instance: number, events: MachineEvents) {
    this.host = host;
    this.events = events;
    this.instanceId = instance;
    // biome-ignore lint/complexity/noUselessThisAlias: DeviceScript rejects `this` inside arrow functions
    const self = this;
    this.link = new LinkEndpoint(this, (b: Bytes) => {
      self.host.send(b);
    });
    this.st = {
      profiles: [],
      config: defaultConfig(),
      lastGoodId: "",
      tries: [],
    };
    this.sel = this.emptySelection();
    this.block = encodeBlock(this.sel);
  }

  // ---- loading and background work --------------------------------------------------------

  beginLoad(reader: FlashReader): void {
    this.reader = reader;
    this.store.beginLoad(reader);
    this.loading = true;
  }

  private finishLoad(): void {
    const l = this.store.result();
    this.loading = false;
    this.loadReport = l.report;
    this.st.profiles = l.list.records;
    this.gen = l.list.generation;
    this.crc = l.list.listCrc;
    this.startCrcJob();
    this.st.config = l.config;
    this.st.lastGoodId = l.run.lastGoodId;
    this.seqLimit = l.run.seqLimit;
    this.bootSeq = l.run.seqLimit;
    this.st.tries = [];
    for (const p of this.st.profiles) {
      const h = idHash(p.id);
      for (const t of l.run.tries) {
        if (t.hash !== h) continue;
        // A good boot leaves 1 in flash rather than writing 0 (no write per boot), and MARK_GOOD
        // brings anything higher back to 1. So 1 means "good or one try", and n >= 2 means n tries.
        const tries = t.tries >= 2 ? t.tries : 0;
        this.st.tries.push({ id: p.id, tries: tries, stored: t.tries, failed: t.failed });
      }
    }
    this.events.changed();
  }

  /** One bounded piece of background work (loading, list CRC, staged list checks); true while more remains. */
  work(): boolean {
    const reader = this.reader;
    if (this.loading && reader !== null) {
      if (!this.store.loadStep(reader)) this.finishLoad();
      return true;
    }
    if (this.link.work()) return true;
    if (this.crc < 0 && this.crcIndex <= this.st.profiles.length) {
      if (this.crcIndex < this.st.profiles.length) {
        const b = encodeRecord(this.st.profiles[this.crcIndex]);
        this.crcState = crcUpdate(this.crcState, b, 0, b.length);
        this.crcIndex++;
      } else {
        this.crc = crcFinish(this.crcState);
        this.crcIndex = this.st.profiles.length + 1;
        // The store may now skip rewriting this very list if it is committed again.
        if (this.store.bank >= 0 && this.store.generation === this.gen) this.store.listCrc = this.crc;
      }
      return true;
    }
    return false;
  }

  private startCrcJob(): void {
    this.crcIndex = 0;
    this.crcState = crcStart();
  }

  /** MCU start: announces itself to the bridge (EVENT_HELLO). */
  start(): void {
    this.link.sendEvent(MessageType.EVENT_HELLO, encodeHelloResponse(this.link.helloInfo()));
  }

  instance(): number {
    return this.instanceId;
  }

  // ---- what the menu asks -----------------------------------------------------------------

  /** Marks profiles out of tries as failed (saved); call before a decision at power-on or timeout. */
  expireTries(): void {
    if (expireTries(this.st)) this.saveRun();
  }

  nameOf(id: string): string {
    const i = findProfile(this.st, id);
    return i >= 0 ? this.st.profiles[i].name : id;
  }

  baseOf(id: string): string {
    const i = findProfile(this.st, id);
    return i >= 0 ? this.st.profiles[i].base : "";
  }

  hiddenFlag(id: string): number {
    const i = findProfile(this.st, id);
    return i >= 0 && (this.st.profiles[i].flags & ProfileFlag.HIDDEN) !== 0 ? BlockFlag.HIDDEN : 0;
  }

  // ---- the register block ------------------------------------------------------------------

  private emptySelection(): BootSelection {
    return {
      status: BlockStatus.EMPTY,
      action: BlockAction.RECOVERY,
      reason: BlockReason.DEFAULT,
      flags: 0,
      tryNumber: 0,
      maxTries: this.st ? this.st.config.maxTries : 3,
      sequence: this.bootSeq,
      profileId: "",
      base: "",
    };
  }

  /** No choice (the SoC is off, or nothing to boot): the block says EMPTY. */
  publishEmpty(): void {
    this.sel = this.emptySelection();
    this.block = encodeBlock(this.sel);
  }

  /** The menu is open: the block carries the tentative choice (PENDING). */
  publishPending(): void {
    const c = decide(this.st);
    const t = findTries(this.st, c.id);
    this.sel = {
      status: BlockStatus.PENDING,
      action: c.action,
      reason: c.reason,
      flags: c.flags,
      tryNumber: t === null ? 0 : t.tries,
      maxTries: this.st.config.maxTries,
      sequence: this.bootSeq,
      profileId: c.id,
      base: this.baseOf(c.id),
    };
    this.block = encodeBlock(this.sel);
  }

  /** Makes a choice FINAL: counts the try, consumes the one-shot, publishes, reports. */
  finalize(c: Choice, extraFlags: number): void {
    this.bootSeq = (this.bootSeq + 1) >>> 0;
    let runChanged = false;
    if (((this.bootSeq - this.seqLimit) | 0) > 0) {
      this.seqLimit = (this.bootSeq + SEQ_RESERVE - 1) >>> 0;
      runChanged = true;
    }
    let tryNumber = 0;
    if (c.id !== "") {
      let t = findTries(this.st, c.id);
      if (t === null) {
        t = { id: c.id, tries: 0, stored: 0, failed: false };
        this.st.tries.push(t);
      }
      t.tries++;
      tryNumber = t.tries > 255 ? 255 : t.tries;
      if (t.tries > t.stored) {
        t.stored = t.tries > 127 ? 127 : t.tries;
        runChanged = true;
      }
    }
    if (runChanged) this.saveRun();
    if (this.st.config.nextId !== "") {
      this.st.config.nextId = "";
      this.st.config.nextAction = 0;
      this.store.saveConfig(this.st.config);
    }
    this.sel = {
      status: BlockStatus.FINAL,
      action: c.action,
      reason: c.reason,
      flags: c.flags | extraFlags,
      tryNumber: tryNumber,
      maxTries: this.st.config.maxTries,
      sequence: this.bootSeq,
      profileId: c.id,
      base: this.baseOf(c.id),
    };
    this.block = encodeBlock(this.sel);
    this.lastBoot = {
      sequence: this.sel.sequence,
      action: this.sel.action,
      reason: this.sel.reason,
      flags: this.sel.flags,
      tryNumber: this.sel.tryNumber,
      maxTries: this.sel.maxTries,
      id: this.sel.profileId,
      base: this.sel.base,
      good: 0,
    };
    this.events.booting();
    this.link.sendEvent(MessageType.EVENT_BOOT, encodeBootReport(this.lastBoot));
    this.host.final(this.sel);
  }

  private saveRun(): void {
    const entries: StoredTries[] = [];
    for (const t of this.st.tries) {
      if (t.stored > 0 || t.failed) entries.push({ hash: idHash(t.id), tries: t.stored, failed: t.failed });
    }
    const r: RunRecord = { seqLimit: this.seqLimit, lastGoodId: this.st.lastGoodId, tries: entries };
    this.store.saveRun(r);
  }

  // ---- link operations (LinkTarget) -------------------------------------------------------

  profiles(): ProfileRecord[] {
    return this.st.profiles;
  }

  generation(): number {
    return this.gen;
  }

  listCrc(): number {
    return this.crc;
  }

  state(): McuState {
    const tries = [];
    for (const t of this.st.tries) {
      if (t.tries > 0 || t.failed) tries.push({ id: t.id, tries: t.tries, failed: t.failed ? 1 : 0 });
    }
    const c = this.st.config;
    const b = this.lastBoot;
    return {
      generation: this.gen,
      profileCount: this.st.profiles.length,
      // -1 while the CRC is computed in the background (the link answers GET_STATE BUSY then).
      listCrc: this.crc,
      maxProfiles: MAX_PROFILES,
      defaultMode: c.defaultMode,
      defaultId: c.defaultMode === DefaultMode.FIXED ? c.defaultId : "",
      nextAction: c.nextId === "" ? 0 : c.nextAction,
      nextId: c.nextId,
      options: { timeoutSeconds: c.timeoutSeconds, showMenu: c.showMenu, maxTries: c.maxTries },
      lastGoodId: this.st.lastGoodId,
      lastBoot: {
        sequence: b.sequence,
        action: b.action,
        reason: b.reason,
        flags: b.flags,
        tryNumber: b.tryNumber,
        maxTries: b.maxTries,
        id: b.id,
        base: b.base,
        good: b.good,
      },
      tries: tries,
    };
  }

  commitList(generation: number, records: ProfileRecord[], listCrc: number): Outcome {
    this.store.saveList(generation, records, listCrc);
    this.st.profiles = records;
    this.gen = generation;
    this.crc = listCrc;
    if (listCrc < 0) this.startCrcJob();
    // Try counters of profiles that are gone are dropped.
    const kept = [];
    for (const t of this.st.tries) if (findProfile(this.st, t.id) >= 0) kept.push(t);
    if (kept.length !== this.st.tries.length) {
      this.st.tries = kept;
      this.saveRun();
    }
    this.events.changed();
    return okOutcome();
  }

  private checkGenerations(base: number, next: number): Outcome | null {
    if (base !== this.gen) {
      if (next === this.gen) return okOutcome(); // a retry of a change already applied
      return fail(
        Result.STALE,
        "baseGeneration " +
          decimal(base) +
          " is stale: the MCU holds generation " +
          decimal(this.gen) +
          " (do a full sync)",
      );
    }
    if (next === base) {
      return fail(
        Result.INVALID,
        "newGeneration " + decimal(next) + " is invalid: must differ from baseGeneration",
      );
    }
    return null;
  }

  putProfile(baseGeneration: number, newGeneration: number, record: ProfileRecord): Outcome {
    const g = this.checkGenerations(baseGeneration, newGeneration);
    if (g !== null) return g;
    const list: ProfileRecord[] = [];
    let replaced = false;
    for (const p of this.st.profiles) {
      if (p.id === record.id) {
        list.push(record);
        replaced = true;
      } else {
        list.push(p);
      }
    }
    if (!replaced) {
      if (list.length >= MAX_PROFILES) {
        return fail(
          Result.NO_SPACE,
          'profile "' +
            record.id +
            '" does not fit: this MCU holds at most ' +
            decimal(MAX_PROFILES) +
            " profiles",
        );
      }
      list.push(record);
    }
    return this.commitList(newGeneration, list, -1);
  }

  deleteProfile(baseGeneration: number, newGeneration: number, id: string): Outcome {
    const g = this.checkGenerations(baseGeneration, newGeneration);
    if (g !== null) return g;
    if (findProfile(this.st, id) < 0) return fail(Result.NOT_FOUND, 'id "' + id + '" is not in the list');
    const list: ProfileRecord[] = [];
    for (const p of this.st.profiles) if (p.id !== id) list.push(p);
    return this.commitList(newGeneration, list, -1);
  }

  setDefault(m: SetDefault, fromMenu: boolean): Outcome {
    if (m.mode === DefaultMode.FIXED && findProfile(this.st, m.id) < 0) {
      return fail(
        Result.NOT_FOUND,
        'id "' + m.id + '" is not in the list: the default must be a known profile',
      );
    }
    this.st.config.defaultMode = m.mode;
    this.st.config.defaultId = m.mode === DefaultMode.FIXED ? m.id : "";
    this.store.saveConfig(this.st.config);
    if (fromMenu) this.link.sendEvent(MessageType.EVENT_DEFAULT_CHANGED, encodeSetDefault(m));
    this.events.changed();
    return okOutcome();
  }

  setNext(m: SetNext): Outcome {
    if (m.id !== "" && findProfile(this.st, m.id) < 0) {
      return fail(Result.NOT_FOUND, 'id "' + m.id + '" is not in the list');
    }
    this.st.config.nextId = m.id;
    this.st.config.nextAction = m.id === "" ? 0 : m.action;
    this.store.saveConfig(this.st.config);
    this.events.changed();
    return okOutcome();
  }

  setOptions(m: MenuOptions): Outcome {
    this.st.config.timeoutSeconds = m.timeoutSeconds;
    this.st.config.showMenu = m.showMenu;
    this.st.config.maxTries = m.maxTries;
    this.store.saveConfig(this.st.config);
    this.events.changed();
    return okOutcome();
  }

  markGood(m: MarkGood): Outcome {
    const b = this.lastBoot;
    let id = m.id;
    if (b.sequence === 0) {
      // No boot since this MCU started (it restarted while Linux ran): trust the named profile.
      if (id === "")
        return fail(Result.INVALID, 'id "" is invalid: the MCU restarted, name the profile that booted');
    } else {
      if (m.sequence !== b.sequence) {
        return fail(
          Result.STALE,
          "sequence " + decimal(m.sequence) + " is stale: the current boot is " + decimal(b.sequence),
        );
      }
      if (id === "") id = b.id;
      if (id !== b.id) {
        return fail(
          Result.INVALID,
          'id "' + id + '" is invalid: boot ' + decimal(b.sequence) + ' was "' + b.id + '"',
        );
      }
      b.good = 1;
      // Base-system recovery, or a profile deleted since it booted: nothing left to count.
      if (id === "" || findProfile(this.st, id) < 0) return okOutcome();
    }
    if (findProfile(this.st, id) < 0) return fail(Result.NOT_FOUND, 'id "' + id + '" is not in the list');
    let changed = false;
    const t = findTries(this.st, id);
    if (t !== null) {
      t.tries = 0;
      if (t.failed) {
        t.failed = false;
        changed = true;
      }
      // Flash keeps 1 rather than 0 so that the next good boot of the same profile writes nothing.
      if (t.stored > 1) {
        t.stored = 1;
        changed = true;
      }
    }
    const counts =
      b.sequence === 0 || (b.action === BlockAction.BOOT && (b.flags & BlockFlag.ONE_SHOT) === 0);
    if (counts && this.st.lastGoodId !== id) {
      this.st.lastGoodId = id;
      changed = true;
    }
    if (changed) this.saveRun();
    this.events.changed();
    return okOutcome();
  }
}
