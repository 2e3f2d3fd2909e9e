// The profile list: Up/Down move (wrapping), OK boots, long OK opens the actions, Right the details.
// With a timeout the footer counts down to the default; with no profiles it says how they arrive.
import { decimal } from "../../../protocol/bytes";
import { ProfileFlag } from "../../../protocol/profile";
import { BlockAction, BlockFlag, BlockReason } from "../../../protocol/register-block";
import { type InputEvent, InputType, Key } from "../keys";
import type { Menu } from "../menu";
import { type Choice, decide, findProfile, isFailed } from "../policy";
import { formatDate, type ListRow, type ListView, ROWS_VISIBLE, Screen } from "../view";

export function listInput(m: Menu, ev: InputEvent): void {
  const k = ev.key;
  const type = ev.type;
  const id = m.entries[m.selected];
  if ((k === Key.UP || k === Key.DOWN) && (type === InputType.SHORT || type === InputType.REPEAT)) {
    m.step(k === Key.UP, m.entries.length);
  } else if (k === Key.OK && type === InputType.SHORT) {
    if (id === "") {
      m.machine.finalize(
        { id: "", action: BlockAction.RECOVERY, reason: BlockReason.USER, flags: 0, empty: false },
        BlockFlag.USER_CHOSEN,
      );
    } else {
      m.machine.finalize(
        {
          id: id,
          action: BlockAction.BOOT,
          reason: BlockReason.USER,
          flags: m.machine.hiddenFlag(id),
          empty: false,
        },
        BlockFlag.USER_CHOSEN,
      );
    }
  } else if (k === Key.OK && type === InputType.LONG && id !== "") {
    m.actionSel = 0;
    m.screen = Screen.ACTIONS;
    m.dirty = true;
  } else if (k === Key.RIGHT && type === InputType.SHORT && id !== "") {
    m.screen = Screen.DETAILS;
    m.dirty = true;
  }
}

function listRow(m: Menu, id: string, eff: Choice): ListRow {
  if (id === "") {
    return {
      title: "Recovery",
      base: "",
      note: "base system",
      isDefault: false,
      failed: false,
      hidden: false,
      recovery: true,
    };
  }
  const p = m.machine.st.profiles[findProfile(m.machine.st, id)];
  return {
    title: p.name,
    base: p.base,
    note: formatDate(p.lastUsed),
    isDefault: eff.id === id,
    failed: isFailed(m.machine.st, id),
    hidden: (p.flags & ProfileFlag.HIDDEN) !== 0,
    recovery: false,
  };
}

export function listView(m: Menu): ListView {
  const eff = decide(m.machine.st);
  const v: ListView = {
    kind: Screen.LIST,
    header: "Boot profile",
    headerRight: "",
    hints:
      m.entries[m.selected] === ""
        ? ["OK", "Boot recovery"]
        : ["OK", "Boot", "Hold OK", "Actions", ">", "Details"],
    popup: m.popup,
    rows: [],
    rowCount: m.entries.length,
    selected: m.selected,
    top: m.top,
    countdown: -1,
    countdownName: "",
    countdownLeft: "",
    emptyTitle: "",
    emptyHint: "",
  };
  // Only the rows on screen (the VM heap is small).
  for (let k = m.top; k < m.entries.length && k < m.top + ROWS_VISIBLE; k++) {
    v.rows.push(listRow(m, m.entries[k], eff));
  }
  if (m.countdownEnd >= 0) {
    const left = m.countdownEnd - m.now;
    v.countdown = left <= 0 ? 0 : left / m.countdownTotal;
    v.headerRight = decimal(Math.ceil(left / 1000)) + "s";
    v.countdownName = eff.id === "" ? "recovery" : m.machine.nameOf(eff.id);
    v.countdownLeft = "in " + decimal(Math.ceil(left / 1000)) + " s";
  } else if (m.showHidden) {
    v.headerRight = "+hidden";
  }
  if (m.machine.st.profiles.length === 0) {
    v.emptyTitle = "No profiles yet";
    v.emptyHint = "Flipper OS sends them once it runs";
  }
  return v;
}
