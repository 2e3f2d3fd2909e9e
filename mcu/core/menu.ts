// The menu's model: which screen is open, the entries, the cursor, the countdown, the hold-to-confirm
// and the popup. The screens (screens/*.ts) change it through their input handlers and read it to
// build their views; the dispatcher (dispatch.ts) picks the screen. Drawing is elsewhere (render.ts).
import { ProfileFlag } from "../../protocol/profile";
import type { KeyInput } from "./keys";
import type { CoreHost, MachineEvents } from "./host";
import { BootMachine } from "./machine";
import type { Choice } from "./policy";
import { ROWS_VISIBLE, Screen } from "./view";

/** Hold OK this long on the confirmation screen to reset a profile. */
export const CONFIRM_HOLD_MS = 1500;
/** How long a popup stays up (a key press closes it sooner). */
const POPUP_MS = 1500;

export class Menu implements MachineEvents {
  machine: BootMachine;
  keys: KeyInput;
  screen: number = Screen.OFF;
  /** Profile ids in menu order; "" is the recovery entry, always last. */
  entries: string[] = [""];
  selected = 0;
  /** Index of the first entry on screen. */
  top = 0;
  actionSel = 0;
  showHidden = false;
  countdownEnd = -1;
  countdownTotal = 0;
  holdStart = -1;
  popup = "";
  popupEnd = 0;
  /** Up was the second key of the hidden-profiles combo: ignore it until released. */
  swallowUp = false;
  now = 0;
  /** The screen changed since the last frame. */
  dirty = true;
  /** Last countdown/hold pixel state drawn, to redraw only when it changes. */
  drawnTick = -1;

  constructor(host: CoreHost, instance: number, keys: KeyInput) {
    this.machine = new BootMachine(host, instance, this);
    this.keys = keys;
  }

  // ---- MachineEvents ----------------------------------------------------------------------

  changed(): void {
    this.rebuildEntries();
    // The block follows the menu: EMPTY while off, PENDING while open; a FINAL block stays.
    if (this.screen === Screen.OFF) this.machine.publishEmpty();
    else if (this.screen !== Screen.BOOTING) this.machine.publishPending();
    this.dirty = true;
  }

  booting(): void {
    this.screen = Screen.BOOTING;
    this.countdownEnd = -1;
    this.popup = "";
    this.dirty = true;
  }

  // ---- choosing ---------------------------------------------------------------------------

  /** Nobody chose: the default boots; with no profile at all the block says EMPTY (U-Boot's default). */
  bootDefault(c: Choice): void {
    if (!c.empty) {
      this.machine.finalize(c, 0);
      return;
    }
    this.screen = Screen.BOOTING;
    this.countdownEnd = -1;
    this.machine.publishEmpty();
    this.dirty = true;
  }

  // ---- entries, scrolling, popup ----------------------------------------------------------

  /** Menu entries: visible profiles (hidden ones after the combo) and the recovery entry ("") last. */
  rebuildEntries(): void {
    const keep = this.entries.length > 0 ? this.entries[this.selected] : "";
    const out: string[] = [];
    for (const p of this.machine.st.profiles) {
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

  scrollToSelected(): void {
    if (this.selected < this.top) this.top = this.selected;
    if (this.selected >= this.top + ROWS_VISIBLE) this.top = this.selected - ROWS_VISIBLE + 1;
    const maxTop = this.entries.length > ROWS_VISIBLE ? this.entries.length - ROWS_VISIBLE : 0;
    if (this.top > maxTop) this.top = maxTop;
    if (this.top < 0) this.top = 0;
  }

  /** Moves the cursor by one over the first `n` entries (Up: back, else forward), wrapping. */
  step(up: boolean, n: number): void {
    this.selected = (this.selected + (up ? n - 1 : 1)) % n;
    this.scrollToSelected();
    this.dirty = true;
  }

  showPopup(text: string): void {
    this.popup = text;
    this.popupEnd = this.now + POPUP_MS;
    this.dirty = true;
  }
}
