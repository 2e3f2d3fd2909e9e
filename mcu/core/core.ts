// BootCore: the boot picker's whole behaviour, without I/O. Adapters feed it time, keys, UART bytes
// and the stored flash records; it answers with UART bytes, flash writes, a register block and frames.
import { type Bytes, crcFinish, crcStart, crcUpdate, decimal } from "../../protocol/bytes";
import {
  DefaultMode,
  encodeRecord,
  encodeBootReport,
  encodeHelloResponse,
  encodeSetDefault,
  type BootReport,
  type MarkGood,
  type McuState,
  type MenuOptions,
  MessageType,
  Result,
  type SetDefault,
  type SetNext,
  ShowMenu,
} from "../../protocol/messages";
import { MAX_PROFILES, ProfileFlag, type ProfileRecord } from "../../protocol/profile";
import {
  ACTION_NAMES,
  BlockAction,
  BlockFlag,
  BlockReason,
  BlockStatus,
  type BootSelection,
  encodeBlock,
} from "../../protocol/register-block";
import type { Canvas } from "./canvas";
import { InputType, type InputEvent, Key, KeyInput } from "./keys";
import { fail, LinkEndpoint, type LinkTarget, okOutcome, type Outcome } from "./link";
import { type BootState, type Choice, decide, expireTries, findProfile, findTries, isFailed } from "./policy";
import { countdownFill, drawPart, drawScreen, holdFill } from "./render";
import {
  type FlashReader,
  type FlashWrite,
  idHash,
  type RunRecord,
  SEQ_RESERVE,
  Store,
  type StoredTries,
} from "./store";
import { formatDate, ROWS_VISIBLE, type RowView, Screen, SCREEN_NAMES, type View } from "./view";

/** How the core reaches the outside world (the adapter implements it). */
export interface CoreHost {
  /** Bytes for the UART (whole frames). */
  send(bytes: Bytes): void;
  /** A choice became FINAL (U-Boot may boot it now). */
  final(sel: BootSelection): void;
}

export interface CoreOptions {
  /** Random per MCU start (HELLO tells the bridge the MCU restarted). */
  instance: number;
  /**
   * false: the adapter calls work() itself, a bounded step at a time (the DeviceScript VM allows about
   * 128k instructions between awaits). Default true: every input call finishes its background work.
   */
  autoWork?: boolean;
}

/** Hold OK this long on the confirmation screen to reset a profile. */
export const CONFIRM_HOLD_MS = 1500;
export const POPUP_MS = 1500;
/** Actions offered by long OK on a profile. */
export const ACTIONS = ["Boot once", "Make default", "Reset profile", "Recovery mode"];
/** Why this boot, in words, indexed by BlockReason (the booting screen). */
export const REASON_TEXT = [
  "",
  "the default",
  "the last profile used",
  "chosen in the menu",
  "one time only",
  "fallback: the default did not work",
];

/** One line under the actions saying what the selected one does. */
export const ACTION_HELP = [
  "Boot it now; the default stays as it is",
  "Boot this profile from now on",
  "Start it again from its base (hold OK)",
  "Boot it in recovery mode",
];
export const ActionItem = { BOOT_ONCE: 0, MAKE_DEFAULT: 1, RESET: 2, RECOVERY: 3 } as const;

function emptyReport(): BootReport {
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

export class BootCore implements LinkTarget {
  host: CoreHost;
  opts: CoreOptions;
  keys = new KeyInput();
  link: LinkEndpoint;
  store = new Store();
  st: BootState;
  gen = 0;
  crc = 0;
  bootSeq = 0;
  seqLimit = 0;
  lastBoot: BootReport = emptyReport();
  sel: BootSelection;
  block: Bytes = [];
  loadReport = "";
  // Menu state.
  screen: number = Screen.OFF;
  entries: string[] = [""];
  selected = 0;
  top = 0;
  actionSel = 0;
  showHidden = false;
  countdownEnd = -1;
  countdownTotal = 0;
  holdStart = -1;
  popup = "";
  popupEnd = 0;
  swallowUp = false;
  now = 0;
  dirty = true;
  /** Last countdown/hold pixel state drawn, to redraw only when it changes. */
  private drawnTick = -1;
  private frameView: View | null = null;
  private reader: FlashReader | null = null;
  private loading = false;
  /** Background computation of the protocol list CRC when it is unknown (-1). */
  private crcIndex = 0;
  private crcState = 0;

  constructor(host: CoreHost, opts: CoreOptions) {
    this.host = host;
    this.opts = opts;
    // biome-ignore lint/complexity/noUselessThisAlias: DeviceScript rejects `this` inside arrow functions
    const self = this;
    this.link = new LinkEndpoint(this, (b: Bytes) => {
      self.host.send(b);
    });
    this.st = {
      profiles: [],
      config: {
        defaultMode: DefaultMode.LAST_USED,
        defaultId: "",
        nextAction: 0,
        nextId: "",
        timeoutSeconds: 0,
        showMenu: ShowMenu.ON_KEY,
        maxTries: 3,
      },
      lastGoodId: "",
      tries: [],
    };
    this.sel = this.emptySelection();
    this.block = encodeBlock(this.sel);
  }

  // ---- lifecycle --------------------------------------------------------------------------

  /** Loads the stored records at once (call once, before anything else). Node; small lists on the VM. */
  load(reader: FlashReader): void {
    this.beginLoad(reader);
    while (this.work()) {
      // bounded steps
    }
  }

  /**
   * Starts loading the stored records; work() then validates one profile record per call (the VM's
   * step budget: `core.beginLoad(r); while (core.work()) await delay(0)`). `reader` must stay
   * readable until work() returns false.
   */
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
    this.rebuildEntries();
    this.updateBlock();
    this.dirty = true;
  }

  /**
   * Does one bounded piece of background work (loading, list CRC, staged list checks); returns true
   * while more remains. Node: `while (core.work()) {}` after every input; the VM: `await` in between.
   */
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

  /** True until load() has finished (work() returned false once). */
  isLoading(): boolean {
    return this.loading;
  }

  private settle(): void {
    if (this.opts.autoWork === false) return;
    while (this.work()) {
      // bounded steps
    }
  }

  private startCrcJob(): void {
    this.crcIndex = 0;
    this.crcState = crcStart();
  }

  /** MCU start: announces itself to the bridge (EVENT_HELLO). */
  start(now: number): void {
    this.now = now;
    this.link.sendEvent(MessageType.EVENT_HELLO, encodeHelloResponse(this.link.helloInfo()));
  }

  instance(): number {
    return this.opts.instance;
  }

  /** The SoC is powered on: decide at once (zero-wait) or open the menu. `held` = keys down now. */
  powerOn(held: number[], now: number): void {
    this.now = now;
    this.keys.reset(held, now);
    this.screen = Screen.OFF;
    this.popup = "";
    this.holdStart = -1;
    this.swallowUp = false;
    this.showHidden = held.indexOf(Key.LEFT) >= 0 && held.indexOf(Key.UP) >= 0;
    if (expireTries(this.st)) this.saveRun();
    this.rebuildEntries();
    const c = decide(this.st);
    const opts = this.st.config;
    const zeroWait = held.length === 0 && opts.timeoutSeconds === 0 && opts.showMenu === ShowMenu.ON_KEY;
    if (zeroWait) {
      this.bootDefault(c);
      return;
    }
    this.screen = Screen.LIST;
    const i = this.entries.indexOf(c.id);
    this.selected = i >= 0 && !c.empty ? i : 0;
    this.top = 0;
    this.scrollToSelected();
    if (held.length === 0 && opts.timeoutSeconds > 0) {
      this.countdownTotal = opts.timeoutSeconds * 1000;
      this.countdownEnd = now + this.countdownTotal;
    } else {
      this.countdownEnd = -1;
    }
    this.updateBlock();
    this.dirty = true;
  }

  /** Nobody chose: the default boots; with no profile at all the block says EMPTY (U-Boot's default). */
  private bootDefault(c: Choice): void {
    if (!c.empty) {
      this.finalize(c, 0);
      return;
    }
    this.screen = Screen.BOOTING;
    this.countdownEnd = -1;
    this.sel = this.emptySelection();
    this.block = encodeBlock(this.sel);
    this.dirty = true;
  }

  /** The SoC was powered off: the menu closes, the block goes back to EMPTY. */
  powerOff(now: number): void {
    this.now = now;
    this.screen = Screen.OFF;
    this.countdownEnd = -1;
    this.sel = this.emptySelection();
    this.block = encodeBlock(this.sel);
    this.dirty = true;
  }

  // ---- inputs -----------------------------------------------------------------------------

  keyDown(key: number, now: number): void {
    this.now = now;
    this.keys.keyDown(key, now);
    this.processKeys();
  }

  keyUp(key: number, now: number): void {
    this.now = now;
    this.keys.keyUp(key, now);
    this.processKeys();
  }

  tick(now: number): void {
    this.now = now;
    this.keys.update(now);
    this.processKeys();
    if (this.screen === Screen.OFF || this.screen === Screen.BOOTING) return;
    if (this.countdownEnd >= 0 && now >= this.countdownEnd) {
      this.countdownEnd = -1;
      if (expireTries(this.st)) this.saveRun();
      this.bootDefault(decide(this.st));
      return;
    }
    if (this.screen === Screen.CONFIRM && this.holdStart >= 0 && now - this.holdStart >= CONFIRM_HOLD_MS) {
      this.holdStart = -1;
      const id = this.entries[this.selected];
      this.finalize(
        { id: id, action: BlockAction.RESET, reason: BlockReason.USER, flags: 0, empty: false },
        BlockFlag.USER_CHOSEN,
      );
      return;
    }
    if (this.popup !== "" && now >= this.popupEnd) {
      this.popup = "";
      this.dirty = true;
    }
    // Countdown and hold progress: redraw only when what is drawn changes (seconds, bar pixels).
    let t = -1;
    if (this.countdownEnd >= 0) {
      const left = this.countdownEnd - now;
      t = Math.ceil(left / 1000) * 1000 + countdownFill(left / this.countdownTotal);
    }
    if (this.screen === Screen.CONFIRM && this.holdStart >= 0) {
      const p = (now - this.holdStart) / CONFIRM_HOLD_MS;
      t = 1000000 + holdFill(p > 1 ? 1 : p);
    }
    if (t !== this.drawnTick) {
      this.drawnTick = t;
      this.dirty = true;
    }
  }

  uartReceive(bytes: Bytes, now: number): void {
    this.now = now;
    this.link.receive(bytes);
    this.settle();
  }

  // ---- outputs ----------------------------------------------------------------------------

  registerBlock(): Bytes {
    return this.block;
  }

  selection(): BootSelection {
    return this.sel;
  }

  /** Every pending flash write, in order (Node). */
  takeWrites(): FlashWrite[] {
    return this.store.takeWrites();
  }

  /** The next pending flash write or null (the VM: one per turn, each encoded only now). */
  takeWrite(): FlashWrite | null {
    return this.store.takeWrite();
  }

  needsRender(): boolean {
    return this.dirty;
  }

  render(cv: Canvas): void {
    this.dirty = false;
    drawScreen(cv, this.view());
  }

  /**
   * Draws part `part` (0 .. FRAME_PARTS-1) of the frame; part 0 takes a snapshot of the screen that
   * the later parts draw, so state changes in between do not tear the frame. Returns true while
   * parts remain. For the DeviceScript adapter: `let i = 0; while (core.renderPart(img, i++)) await delay(0)`.
   */
  renderPart(cv: Canvas, part: number): boolean {
    if (part === 0) {
      this.dirty = false;
      this.frameView = this.view();
    }
    if (this.frameView === null) this.frameView = this.view();
    return drawPart(cv, this.frameView, part);
  }

  screenName(): string {
    return SCREEN_NAMES[this.screen];
  }

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
        sequence: this.lastBoot.sequence,
        action: this.lastBoot.action,
        reason: this.lastBoot.reason,
        flags: this.lastBoot.flags,
        tryNumber: this.lastBoot.tryNumber,
        maxTries: this.lastBoot.maxTries,
        id: this.lastBoot.id,
        base: this.lastBoot.base,
        good: this.lastBoot.good,
      },
      tries: tries,
    };
  }

  // ---- the boot decision ------------------------------------------------------------------

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

  private baseOf(id: string): string {
    const i = findProfile(this.st, id);
    return i >= 0 ? this.st.profiles[i].base : "";
  }

  /** Publishes the tentative choice while the menu is open (PENDING); FINAL blocks stay as they are. */
  private updateBlock(): void {
    if (this.screen === Screen.BOOTING) return;
    if (this.screen === Screen.OFF) {
      this.sel = this.emptySelection();
    } else {
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
    }
    this.block = encodeBlock(this.sel);
  }

  /** Makes a choice FINAL: counts the try, consumes the one-shot, publishes, reports. */
  private finalize(c: Choice, extraFlags: number): void {
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
    this.screen = Screen.BOOTING;
    this.countdownEnd = -1;
    this.popup = "";
    this.dirty = true;
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
    this.listChanged();
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
    this.stateChanged();
    return okOutcome();
  }

  setNext(m: SetNext): Outcome {
    if (m.id !== "" && findProfile(this.st, m.id) < 0) {
      return fail(Result.NOT_FOUND, 'id "' + m.id + '" is not in the list');
    }
    this.st.config.nextId = m.id;
    this.st.config.nextAction = m.id === "" ? 0 : m.action;
    this.store.saveConfig(this.st.config);
    this.stateChanged();
    return okOutcome();
  }

  setOptions(m: MenuOptions): Outcome {
    this.st.config.timeoutSeconds = m.timeoutSeconds;
    this.st.config.showMenu = m.showMenu;
    this.st.config.maxTries = m.maxTries;
    this.store.saveConfig(this.st.config);
    this.stateChanged();
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
    this.stateChanged();
    return okOutcome();
  }

  // ---- menu -------------------------------------------------------------------------------

  private stateChanged(): void {
    this.rebuildEntries();
    this.updateBlock();
    this.dirty = true;
  }

  private listChanged(): void {
    this.stateChanged();
  }

  /** Menu entries: visible profiles (hidden ones after the combo) and the recovery entry ("") last. */
  private rebuildEntries(): void {
    const keep = this.entries.length > 0 ? this.entries[this.selected] : "";
    const out: string[] = [];
    for (const p of this.st.profiles) {
      if ((p.flags & ProfileFlag.HIDDEN) === 0 || this.showHidden) out.push(p.id);
    }
    out.push("");
    this.entries = out;
    const i = out.indexOf(keep);
    this.selected = i >= 0 ? i : this.selected < out.length ? this.selected : out.length - 1;
    if (this.screen === Screen.DETAILS || this.screen === Screen.ACTIONS || this.screen === Screen.CONFIRM) {
      if (i < 0 || keep === "") this.screen = Screen.LIST;
    }
    this.scrollToSelected();
  }

  private scrollToSelected(): void {
    if (this.selected < this.top) this.top = this.selected;
    if (this.selected >= this.top + ROWS_VISIBLE) this.top = this.selected - ROWS_VISIBLE + 1;
    const maxTop = this.entries.length > ROWS_VISIBLE ? this.entries.length - ROWS_VISIBLE : 0;
    if (this.top > maxTop) this.top = maxTop;
    if (this.top < 0) this.top = 0;
  }

  private showPopup(text: string): void {
    this.popup = text;
    this.popupEnd = this.now + POPUP_MS;
    this.dirty = true;
  }

  private processKeys(): void {
    const evs = this.keys.drain();
    for (const ev of evs) this.onInput(ev);
  }

  private onInput(ev: InputEvent): void {
    if (this.screen === Screen.OFF || this.screen === Screen.BOOTING) return;
    const k = ev.key;
    const type = ev.type;
    if (type === InputType.PRESS) {
      if (this.countdownEnd >= 0) {
        this.countdownEnd = -1; // the owner is here: stop counting down
        this.dirty = true;
      }
      if (this.popup !== "") {
        this.popup = "";
        this.dirty = true;
      }
      if (k === Key.UP && this.keys.isDown(Key.LEFT) && this.screen === Screen.LIST) {
        this.showHidden = !this.showHidden;
        this.swallowUp = true;
        this.rebuildEntries();
        this.dirty = true;
        return;
      }
    }
    if (k === Key.UP && this.swallowUp) {
      if (type === InputType.RELEASE) this.swallowUp = false;
      return;
    }
    const step = type === InputType.SHORT || type === InputType.REPEAT;
    if (this.screen === Screen.LIST) {
      const id = this.entries[this.selected];
      if ((k === Key.UP || k === Key.DOWN) && step) {
        const n = this.entries.length;
        this.selected = (this.selected + (k === Key.UP ? n - 1 : 1)) % n;
        this.scrollToSelected();
        this.dirty = true;
      } else if (k === Key.OK && type === InputType.SHORT) {
        if (id === "") {
          this.finalize(
            { id: "", action: BlockAction.RECOVERY, reason: BlockReason.USER, flags: 0, empty: false },
            BlockFlag.USER_CHOSEN,
          );
        } else {
          this.finalize(
            {
              id: id,
              action: BlockAction.BOOT,
              reason: BlockReason.USER,
              flags: this.hiddenFlag(id),
              empty: false,
            },
            BlockFlag.USER_CHOSEN,
          );
        }
      } else if (k === Key.OK && type === InputType.LONG && id !== "") {
        this.screen = Screen.ACTIONS;
        this.actionSel = 0;
        this.dirty = true;
      } else if (k === Key.RIGHT && type === InputType.SHORT && id !== "") {
        this.screen = Screen.DETAILS;
        this.dirty = true;
      }
    } else if (this.screen === Screen.DETAILS) {
      if ((k === Key.BACK || k === Key.LEFT) && type === InputType.SHORT) {
        this.screen = Screen.LIST;
        this.dirty = true;
      } else if ((k === Key.UP || k === Key.DOWN) && step) {
        // Browse the details of the neighbouring profiles (the recovery entry has none).
        const n = this.entries.length - 1;
        if (n > 1) {
          this.selected = (this.selected + (k === Key.UP ? n - 1 : 1)) % n;
          this.scrollToSelected();
          this.dirty = true;
        }
      }
    } else if (this.screen === Screen.ACTIONS) {
      if ((k === Key.UP || k === Key.DOWN) && step) {
        const n = ACTIONS.length;
        this.actionSel = (this.actionSel + (k === Key.UP ? n - 1 : 1)) % n;
        this.dirty = true;
      } else if (k === Key.BACK && type === InputType.SHORT) {
        this.screen = Screen.LIST;
        this.dirty = true;
      } else if (k === Key.OK && type === InputType.SHORT) {
        this.runAction(this.entries[this.selected]);
      }
    } else if (this.screen === Screen.CONFIRM) {
      if (k === Key.OK && type === InputType.PRESS) {
        this.holdStart = ev.at;
        this.dirty = true;
      } else if (k === Key.OK && type === InputType.RELEASE) {
        this.holdStart = -1;
        this.dirty = true;
      } else if (k === Key.BACK && type === InputType.SHORT) {
        this.holdStart = -1;
        this.screen = Screen.ACTIONS;
        this.dirty = true;
      }
    }
  }

  private hiddenFlag(id: string): number {
    const i = findProfile(this.st, id);
    return i >= 0 && (this.st.profiles[i].flags & ProfileFlag.HIDDEN) !== 0 ? BlockFlag.HIDDEN : 0;
  }

  private runAction(id: string): void {
    const a = this.actionSel;
    const hf = this.hiddenFlag(id);
    if (a === ActionItem.BOOT_ONCE) {
      this.finalize(
        {
          id: id,
          action: BlockAction.BOOT,
          reason: BlockReason.ONE_SHOT,
          flags: BlockFlag.ONE_SHOT | hf,
          empty: false,
        },
        BlockFlag.USER_CHOSEN,
      );
    } else if (a === ActionItem.MAKE_DEFAULT) {
      this.setDefault({ mode: DefaultMode.FIXED, id: id }, true);
      this.screen = Screen.LIST;
      this.showPopup("Default: " + this.nameOf(id));
    } else if (a === ActionItem.RESET) {
      const i = findProfile(this.st, id);
      if (i >= 0 && (this.st.profiles[i].flags & ProfileFlag.PROTECTED) !== 0) {
        this.showPopup("Protected: cannot be reset");
      } else {
        this.screen = Screen.CONFIRM;
        this.holdStart = -1;
        this.dirty = true;
      }
    } else if (a === ActionItem.RECOVERY) {
      this.finalize(
        { id: id, action: BlockAction.RECOVERY, reason: BlockReason.USER, flags: hf, empty: false },
        BlockFlag.USER_CHOSEN,
      );
    }
  }

  private nameOf(id: string): string {
    const i = findProfile(this.st, id);
    return i >= 0 ? this.st.profiles[i].name : id;
  }

  // ---- the view the renderer draws -----------------------------------------------------------

  view(): View {
    const v: View = {
      screen: this.screen,
      header: "Boot profile",
      headerRight: "",
      rows: [],
      rowCount: 0,
      selected: this.selected,
      top: this.top,
      countdown: -1,
      details: [],
      hold: -1,
      lines: [],
      popup: this.popup,
      hints: [],
    };
    const eff = decide(this.st);
    if (this.screen === Screen.LIST) {
      // Only the rows on screen (the VM heap is small).
      v.rowCount = this.entries.length;
      for (let k = this.top; k < this.entries.length && k < this.top + ROWS_VISIBLE; k++) {
        v.rows.push(this.rowView(this.entries[k], eff));
      }
      if (this.countdownEnd >= 0) {
        const left = this.countdownEnd - this.now;
        v.countdown = left <= 0 ? 0 : left / this.countdownTotal;
        v.headerRight = decimal(Math.ceil(left / 1000)) + "s";
        v.lines.push(eff.id === "" ? "recovery" : this.nameOf(eff.id));
        v.lines.push("in " + decimal(Math.ceil(left / 1000)) + " s");
      } else if (this.showHidden) {
        v.headerRight = "+hidden";
      }
      if (this.st.profiles.length === 0) {
        v.lines.push("No profiles yet");
        v.lines.push("Flipper OS sends them once it runs");
      }
      v.hints =
        this.entries[this.selected] === ""
          ? ["OK", "Boot recovery"]
          : ["OK", "Boot", "Hold OK", "Actions", ">", "Details"];
    } else if (this.screen === Screen.DETAILS) {
      const id = this.entries[this.selected];
      const i = findProfile(this.st, id);
      if (i >= 0) {
        const p = this.st.profiles[i];
        const t = findTries(this.st, id);
        v.header = p.name;
        v.details.push("Id", p.id);
        v.details.push("Base", p.base);
        v.details.push("Created", formatDate(p.created));
        v.details.push("Last used", formatDate(p.lastUsed));
        v.details.push("Origin", p.origin === "" ? "-" : p.origin);
        let tries = decimal(t === null ? 0 : t.tries) + " of " + decimal(this.st.config.maxTries);
        if (t !== null && t.failed) tries += "  FAILED";
        v.details.push("Tries", tries);
        let flags = "";
        if (eff.id === id) flags += "default ";
        if ((p.flags & ProfileFlag.HIDDEN) !== 0) flags += "hidden ";
        if ((p.flags & ProfileFlag.PROTECTED) !== 0) flags += "protected";
        v.details.push("Flags", flags === "" ? "-" : flags);
      }
      v.hints = ["<", "Back", "Up/Down", "Next profile"];
    } else if (this.screen === Screen.ACTIONS) {
      const id = this.entries[this.selected];
      v.header = this.nameOf(id);
      const i = findProfile(this.st, id);
      const locked = i >= 0 && (this.st.profiles[i].flags & ProfileFlag.PROTECTED) !== 0;
      for (let k = 0; k < ACTIONS.length; k++) {
        let right = "";
        if (k === ActionItem.MAKE_DEFAULT && eff.id === id) right = "is default";
        v.rows.push({
          title: ACTIONS[k],
          right: "",
          right2: right,
          isDefault: false,
          failed: false,
          hidden: false,
          recovery: k === ActionItem.RECOVERY,
          locked: k === ActionItem.RESET && locked,
        });
      }
      v.rowCount = ACTIONS.length;
      v.selected = this.actionSel;
      v.top = 0;
      if (this.popup === "") v.lines.push(ACTION_HELP[this.actionSel]);
      v.hints = ["OK", "Select", "Back", "Close"];
    } else if (this.screen === Screen.CONFIRM) {
      const id = this.entries[this.selected];
      v.header = "Reset profile";
      v.lines.push("Reset " + this.nameOf(id) + "?");
      v.lines.push("All changes in this profile will be lost.");
      v.lines.push("It starts again from base " + this.baseOf(id) + ".");
      v.hold = this.holdStart >= 0 ? (this.now - this.holdStart) / CONFIRM_HOLD_MS : -1;
      if (v.hold > 1) v.hold = 1;
      v.hints = ["Hold OK", "Reset", "Back", "Cancel"];
    } else if (this.screen === Screen.BOOTING) {
      const s = this.sel;
      v.header = "Flipper One";
      if (s.status !== BlockStatus.FINAL) {
        v.lines.push("Starting");
        v.lines.push("No profiles: the base system starts");
      } else {
        v.lines.push(
          s.action === BlockAction.BOOT
            ? "Booting"
            : s.action === BlockAction.RESET
              ? "Resetting"
              : "Recovery",
        );
        v.lines.push(s.profileId === "" ? "Base system recovery" : this.nameOf(s.profileId));
        let info = s.profileId === "" ? "" : "base " + s.base + "  ";
        info += "try " + decimal(s.tryNumber) + " of " + decimal(s.maxTries);
        if (s.profileId === "") info = ACTION_NAMES[s.action];
        v.lines.push(info);
        v.lines.push(REASON_TEXT[s.reason]);
      }
    }
    return v;
  }

  private rowView(id: string, eff: Choice): RowView {
    if (id === "") {
      return {
        title: "Recovery",
        right: "",
        right2: "base system",
        isDefault: false,
        failed: false,
        hidden: false,
        recovery: true,
        locked: false,
      };
    }
    const i = findProfile(this.st, id);
    const p = this.st.profiles[i];
    const failed = isFailed(this.st, id);
    return {
      title: p.name,
      right: failed ? "FAILED" : p.base,
      right2: formatDate(p.lastUsed),
      isDefault: eff.id === id,
      failed: failed,
      hidden: (p.flags & ProfileFlag.HIDDEN) !== 0,
      recovery: false,
      locked: false,
    };
  }
}
