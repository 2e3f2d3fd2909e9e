// The actions of a profile (long OK): boot once, make default, reset (asks to confirm; a protected
// profile says no), recovery mode; one line says what the selected action does.
import { DefaultMode } from "../../../protocol/messages";
import { ProfileFlag } from "../../../protocol/profile";
import { BlockAction, BlockFlag, BlockReason } from "../../../protocol/register-block";
import { type InputEvent, InputType, Key } from "../keys";
import type { Menu } from "../menu";
import { decide, findProfile } from "../policy";
import { type ActionRow, type ActionsView, Screen } from "../view";

/** Actions offered by long OK on a profile, in menu order. */
const ACTIONS = ["Boot once", "Make default", "Reset profile", "Recovery mode"];
const ActionItem = { BOOT_ONCE: 0, MAKE_DEFAULT: 1, RESET: 2, RECOVERY: 3 } as const;
/** One line under the actions saying what the selected one does. */
const ACTION_HELP = [
  "Boot it now; the default stays as it is",
  "Boot this profile from now on",
  "Start it again from its base (hold OK)",
  "Boot it in recovery mode",
];

export function actionsInput(m: Menu, ev: InputEvent): void {
  const k = ev.key;
  const type = ev.type;
  if ((k === Key.UP || k === Key.DOWN) && (type === InputType.SHORT || type === InputType.REPEAT)) {
    const n = ACTIONS.length;
    m.actionSel = (m.actionSel + (k === Key.UP ? n - 1 : 1)) % n;
    m.dirty = true;
  } else if (k === Key.BACK && type === InputType.SHORT) {
    m.screen = Screen.LIST;
    m.dirty = true;
  } else if (k === Key.OK && type === InputType.SHORT) {
    runAction(m, m.entries[m.selected]);
  }
}

function protectedProfile(m: Menu, id: string): boolean {
  const i = findProfile(m.machine.st, id);
  return i >= 0 && (m.machine.st.profiles[i].flags & ProfileFlag.PROTECTED) !== 0;
}

function runAction(m: Menu, id: string): void {
  const a = m.actionSel;
  const hf = m.machine.hiddenFlag(id);
  if (a === ActionItem.BOOT_ONCE) {
    m.machine.finalize(
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
    m.machine.setDefault({ mode: DefaultMode.FIXED, id: id }, true);
    m.screen = Screen.LIST;
    m.showPopup("Default: " + m.machine.nameOf(id));
  } else if (a === ActionItem.RESET) {
    if (protectedProfile(m, id)) {
      m.showPopup("Protected: cannot be reset");
    } else {
      m.holdStart = -1;
      m.screen = Screen.CONFIRM;
      m.dirty = true;
    }
  } else if (a === ActionItem.RECOVERY) {
    m.machine.finalize(
      { id: id, action: BlockAction.RECOVERY, reason: BlockReason.USER, flags: hf, empty: false },
      BlockFlag.USER_CHOSEN,
    );
  }
}

export function actionsView(m: Menu): ActionsView {
  const id = m.entries[m.selected];
  const isDefault = decide(m.machine.st).id === id;
  const locked = protectedProfile(m, id);
  const rows: ActionRow[] = [];
  for (let k = 0; k < ACTIONS.length; k++) {
    rows.push({
      title: ACTIONS[k],
      note: k === ActionItem.MAKE_DEFAULT && isDefault ? "is default" : "",
      recovery: k === ActionItem.RECOVERY,
      locked: k === ActionItem.RESET && locked,
    });
  }
  return {
    kind: Screen.ACTIONS,
    header: m.machine.nameOf(id),
    headerRight: "",
    hints: ["OK", "Select", "Back", "Close"],
    popup: m.popup,
    rows: rows,
    selected: m.actionSel,
    help: m.popup === "" ? ACTION_HELP[m.actionSel] : "",
  };
}
