// Reset confirmation: hold OK for CONFIRM_HOLD_MS to reset the profile (letting go cancels),
// Back returns to the actions.
import { BlockAction, BlockFlag, BlockReason } from "../../../protocol/register-block";
import { type InputEvent, InputType, Key } from "../keys";
import { CONFIRM_HOLD_MS, type Menu } from "../menu";
import { type ConfirmView, Screen } from "../view";

export function confirmInput(m: Menu, ev: InputEvent): void {
  const k = ev.key;
  const type = ev.type;
  if (k === Key.OK && type === InputType.PRESS) {
    m.holdStart = ev.at;
    m.dirty = true;
  } else if (k === Key.OK && type === InputType.RELEASE) {
    m.holdStart = -1;
    m.dirty = true;
  } else if (k === Key.BACK && type === InputType.SHORT) {
    m.holdStart = -1;
    m.screen = Screen.ACTIONS;
    m.dirty = true;
  }
}

/** Progress of the hold (0..1), -1 when OK is not held. */
export function holdProgress(m: Menu): number {
  if (m.holdStart < 0) return -1;
  const p = (m.now - m.holdStart) / CONFIRM_HOLD_MS;
  return p > 1 ? 1 : p;
}

/** Resets the profile once OK was held long enough; true when it did (the menu is closed then). */
export function confirmTick(m: Menu): boolean {
  if (m.holdStart < 0 || m.now - m.holdStart < CONFIRM_HOLD_MS) return false;
  m.holdStart = -1;
  m.machine.finalize(
    {
      id: m.entries[m.selected],
      action: BlockAction.RESET,
      reason: BlockReason.USER,
      flags: 0,
      empty: false,
    },
    BlockFlag.USER_CHOSEN,
  );
  return true;
}

export function confirmView(m: Menu): ConfirmView {
  const id = m.entries[m.selected];
  return {
    kind: Screen.CONFIRM,
    header: "Reset profile",
    headerRight: "",
    hints: ["Hold OK", "Reset", "Back", "Cancel"],
    popup: m.popup,
    question: "Reset " + m.machine.nameOf(id) + "?",
    warning: "All changes in this profile will be lost.",
    outcome: "It starts again from base " + m.machine.baseOf(id) + ".",
    hold: holdProgress(m),
  };
}
