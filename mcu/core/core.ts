// BootCore: the boot picker's whole behaviour behind one small API, without I/O. Adapters feed it
// time, keys, UART bytes and the stored flash records; it answers with UART bytes, flash writes, a
// register block and frames. Inside: the boot machine (machine.ts: decision, flash, link), the menu
// model (menu.ts), one file per screen (screens/) and the dispatcher over them (dispatch.ts).
//
// The adapter API (everything adapters and tests call; nothing else is public):
//   feed:   load / beginLoad + work, start, powerOn, powerOff, keyDown, keyUp, tick, uartReceive
//   flash:  takeWrites (Node) or takeWrite (one at a time, the VM)
//   screen: needsRender, render / renderPart / takeFrame, view, screenName, menuEntries, menuCursor
//   read:   registerBlock, selection, state, profiles, generation, listCrc, loadReport, linkStatus
import type { Bytes } from "../../protocol/bytes";
import { type McuState, ShowMenu } from "../../protocol/messages";
import type { ProfileRecord } from "../../protocol/profile";
import type { BootSelection } from "../../protocol/register-block";
import type { Canvas } from "./canvas";
import { dispatchInput, menuTick, screenView } from "./dispatch";
import { Key, KeyInput } from "./keys";
import type { LinkStatus } from "./link";
import type { CoreHost } from "./host";
import type { BootMachine } from "./machine";

export type { CoreHost };
import { Menu } from "./menu";
import { decide } from "./policy";
import { drawPart, drawScreen } from "./render";
import type { FlashReader, FlashWrite } from "./store";
import { SCREEN_NAMES, Screen, type View } from "./view";

export interface CoreOptions {
  /** Random per MCU start (HELLO tells the bridge the MCU restarted). */
  instance: number;
  /**
   * false: the adapter calls work() itself, a bounded step at a time (the DeviceScript VM allows about
   * 128k instructions between awaits). Default true: every input call finishes its background work.
   */
  autoWork?: boolean;
}

export class BootCore {
  private keys = new KeyInput();
  private machine: BootMachine;
  private menu: Menu;
  private autoWork: boolean;
  /** The view part 0 of renderPart() took, drawn by the later parts. */
  private frameView: View | null = null;

  constructor(host: CoreHost, opts: CoreOptions) {
    this.autoWork = opts.autoWork !== false;
    this.menu = new Menu(host, opts.instance, this.keys);
    this.machine = this.menu.machine;
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
    this.machine.beginLoad(reader);
  }

  /**
   * Does one bounded piece of background work (loading, list CRC, staged list checks); returns true
   * while more remains. Node: `while (core.work()) {}` after every input; the VM: `await` in between.
   */
  work(): boolean {
    return this.machine.work();
  }

  /** True until loading has finished (work() returned false once). */
  isLoading(): boolean {
    return this.machine.loading;
  }

  private settle(): void {
    if (!this.autoWork) return;
    while (this.work()) {
      // bounded steps
    }
  }

  /** MCU start: announces itself to the bridge (EVENT_HELLO). */
  start(now: number): void {
    this.menu.now = now;
    this.machine.start();
  }

  /** The SoC is powered on: decide at once (zero-wait) or open the menu. `held` = keys down now. */
  powerOn(held: number[], now: number): void {
    const m = this.menu;
    m.now = now;
    this.keys.reset(held, now);
    m.screen = Screen.OFF;
    m.popup = "";
    m.holdStart = -1;
    m.swallowUp = false;
    m.showHidden = held.indexOf(Key.LEFT) >= 0 && held.indexOf(Key.UP) >= 0;
    this.machine.expireTries();
    m.rebuildEntries();
    const c = decide(this.machine.st);
    const opts = this.machine.st.config;
    if (held.length === 0 && opts.timeoutSeconds === 0 && opts.showMenu === ShowMenu.ON_KEY) {
      m.bootDefault(c);
      return;
    }
    m.screen = Screen.LIST;
    const i = m.entries.indexOf(c.id);
    m.selected = i >= 0 && !c.empty ? i : 0;
    m.top = 0;
    m.scrollToSelected();
    if (held.length === 0 && opts.timeoutSeconds > 0) {
      m.countdownTotal = opts.timeoutSeconds * 1000;
      m.countdownEnd = now + m.countdownTotal;
    } else {
      m.countdownEnd = -1;
    }
    this.machine.publishPending();
    m.dirty = true;
  }

  /** The SoC was powered off: the menu closes, the block goes back to EMPTY. */
  powerOff(now: number): void {
    const m = this.menu;
    m.now = now;
    m.screen = Screen.OFF;
    m.countdownEnd = -1;
    this.machine.publishEmpty();
    m.dirty = true;
  }

  // ---- inputs -----------------------------------------------------------------------------

  keyDown(key: number, now: number): void {
    this.menu.now = now;
    this.keys.keyDown(key, now);
    this.processKeys();
  }

  keyUp(key: number, now: number): void {
    this.menu.now = now;
    this.keys.keyUp(key, now);
    this.processKeys();
  }

  /** Call every 10..50 ms: long press, repeat, countdown, hold-to-confirm, popup. */
  tick(now: number): void {
    this.menu.now = now;
    this.keys.update(now);
    this.processKeys();
    menuTick(this.menu, now);
  }

  /** Raw UART bytes, any chunking; answers go to host.send. */
  uartReceive(bytes: Bytes, now: number): void {
    this.menu.now = now;
    this.machine.link.receive(bytes);
    this.settle();
  }

  private processKeys(): void {
    const evs = this.keys.drain();
    for (const ev of evs) dispatchInput(this.menu, ev);
  }

  // ---- outputs ----------------------------------------------------------------------------

  /** The 64-byte I2C block: the same array object until the selection changes. */
  registerBlock(): Bytes {
    return this.machine.block;
  }

  selection(): BootSelection {
    return this.machine.sel;
  }

  /** Every pending flash write, in order (Node). */
  takeWrites(): FlashWrite[] {
    return this.machine.store.takeWrites();
  }

  /** The next pending flash write or null (the VM: one per turn, each encoded only now). */
  takeWrite(): FlashWrite | null {
    return this.machine.store.takeWrite();
  }

  /** True when the screen changed since the last render. */
  needsRender(): boolean {
    return this.menu.dirty;
  }

  render(cv: Canvas): void {
    this.menu.dirty = false;
    drawScreen(cv, this.view());
  }

  /**
   * Draws part `part` (0 .. FRAME_PARTS-1) of the frame; part 0 takes a snapshot of the screen that
   * the later parts draw, so state changes in between do not tear the frame. Returns true while
   * parts remain. For the DeviceScript adapter: `let i = 0; while (core.renderPart(img, i++)) await delay(0)`.
   */
  renderPart(cv: Canvas, part: number): boolean {
    if (part === 0) this.frameView = this.takeFrame();
    let v = this.frameView;
    if (v === null) {
      v = this.view();
      this.frameView = v;
    }
    return drawPart(cv, v, part);
  }

  /** The view of a frame about to be drawn (an adapter drawing it itself, in bands): clears needsRender(). */
  takeFrame(): View {
    this.menu.dirty = false;
    return this.view();
  }

  /** What the open screen shows (a typed view per screen, told apart by `kind`). */
  view(): View {
    return screenView(this.menu);
  }

  /** "off" | "list" | "details" | "actions" | "confirm" | "booting". */
  screenName(): string {
    return SCREEN_NAMES[this.menu.screen];
  }

  /** Profile ids in menu order ("" is the recovery entry, always last). */
  menuEntries(): string[] {
    return this.menu.entries;
  }

  /** Index in menuEntries() of the entry under the cursor. */
  menuCursor(): number {
    return this.menu.selected;
  }

  /** Profile records currently committed (never a half list). */
  profiles(): ProfileRecord[] {
    return this.machine.profiles();
  }

  generation(): number {
    return this.machine.generation();
  }

  /** The protocol list CRC, -1 while it is computed in the background. */
  listCrc(): number {
    return this.machine.listCrc();
  }

  /** Exactly what GET_STATE answers. */
  state(): McuState {
    return this.machine.state();
  }

  /** What loading found (which copies were valid), for diagnostics. */
  loadReport(): string {
    return this.machine.loadReport;
  }

  /** The link's counters and list transfer progress (diagnostics and tests). */
  linkStatus(): LinkStatus {
    return this.machine.link;
  }
}
