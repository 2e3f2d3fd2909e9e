// The screen dispatcher: tables indexed by Screen give each screen's input handler and view builder
// (plain functions: the DeviceScript subset has no object-literal methods). What every screen shares
// is here too: a key press stops the countdown and closes a popup, Left+Up shows the hidden
// profiles, and tick() runs the countdown, the hold-to-confirm and the popup timer.
import { type InputEvent, InputType, Key } from "./keys";
import type { Menu } from "./menu";
import { decide } from "./policy";
import { countdownFill, holdFill } from "./render";
import { actionsInput, actionsView } from "./screens/actions";
import { bootingView } from "./screens/booting";
import { confirmInput, confirmTick, confirmView, holdProgress } from "./screens/confirm";
import { detailsInput, detailsView } from "./screens/details";
import { listInput, listView } from "./screens/list";
import { offView } from "./screens/off";
import { Screen, type View } from "./view";

type InputHandler = (m: Menu, ev: InputEvent) => void;
type ViewBuilder = (m: Menu) => View;

/** Screens that ignore keys (off, booting). */
function noInput(_m: Menu, _ev: InputEvent): void {}

/** Indexed by Screen: OFF, LIST, DETAILS, ACTIONS, CONFIRM, BOOTING. */
const SCREEN_INPUT: InputHandler[] = [noInput, listInput, detailsInput, actionsInput, confirmInput, noInput];
const SCREEN_VIEW: ViewBuilder[] = [offView, listView, detailsView, actionsView, confirmView, bootingView];

/** The view of the screen that is open. */
export function screenView(m: Menu): View {
  return SCREEN_VIEW[m.screen](m);
}

/** Hands one input event to the open screen, after what all screens share. */
export function dispatchInput(m: Menu, ev: InputEvent): void {
  if (m.screen === Screen.OFF || m.screen === Screen.BOOTING) return;
  const k = ev.key;
  if (ev.type === InputType.PRESS) {
    if (m.countdownEnd >= 0) {
      m.countdownEnd = -1; // the owner is here: stop counting down
      m.dirty = true;
    }
    if (m.popup !== "") {
      m.popup = "";
      m.dirty = true;
    }
    if (k === Key.UP && m.keys.isDown(Key.LEFT) && m.screen === Screen.LIST) {
      m.showHidden = !m.showHidden;
      m.swallowUp = true;
      m.rebuildEntries();
      m.dirty = true;
      return;
    }
  }
  if (k === Key.UP && m.swallowUp) {
    if (ev.type === InputType.RELEASE) m.swallowUp = false;
    return;
  }
  SCREEN_INPUT[m.screen](m, ev);
}

/** Time passes (keys already handled): countdown, hold-to-confirm, popup, and whether to redraw. */
export function menuTick(m: Menu, now: number): void {
  if (m.screen === Screen.OFF || m.screen === Screen.BOOTING) return;
  if (m.countdownEnd >= 0 && now >= m.countdownEnd) {
    m.countdownEnd = -1;
    m.machine.expireTries();
    m.bootDefault(decide(m.machine.st));
    return;
  }
  if (m.screen === Screen.CONFIRM && confirmTick(m)) return;
  if (m.popup !== "" && now >= m.popupEnd) {
    m.popup = "";
    m.dirty = true;
  }
  // Countdown and hold progress: redraw only when what is drawn changes (seconds, bar pixels).
  let t = -1;
  if (m.countdownEnd >= 0) {
    const left = m.countdownEnd - now;
    t = Math.ceil(left / 1000) * 1000 + countdownFill(left / m.countdownTotal);
  }
  if (m.screen === Screen.CONFIRM && m.holdStart >= 0) t = 1000000 + holdFill(holdProgress(m));
  if (t !== m.drawnTick) {
    m.drawnTick = t;
    m.dirty = true;
  }
}
