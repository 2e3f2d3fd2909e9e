// A profile's details: id, base, dates, origin, tries, flags; Up/Down browse the neighbouring
// profiles (the recovery entry has none), Back or Left return to the list.
import { decimal } from "../../../protocol/bytes";
import { ProfileFlag } from "../../../protocol/profile";
import { type InputEvent, InputType, Key } from "../keys";
import type { Menu } from "../menu";
import { findTries } from "../policy";
import { type DetailsView, formatDate, Screen } from "../view";

export function detailsInput(m: Menu, ev: InputEvent): void {
  const k = ev.key;
  const type = ev.type;
  if ((k === Key.BACK || k === Key.LEFT) && type === InputType.SHORT) {
    m.open(Screen.LIST);
  } else if ((k === Key.UP || k === Key.DOWN) && (type === InputType.SHORT || type === InputType.REPEAT)) {
    const n = m.entries.length - 1;
    if (n > 1) m.step(k === Key.UP, n);
  }
}

export function detailsView(m: Menu): DetailsView {
  const v: DetailsView = {
    kind: Screen.DETAILS,
    header: "Boot profile",
    headerRight: "",
    hints: ["<", "Back", "Up/Down", "Next profile"],
    popup: m.popup,
    fields: [],
  };
  const id = m.selectedId();
  const i = m.machine.profileIndex(id);
  if (i < 0) return v;
  const st = m.machine.st;
  const p = st.profiles[i];
  const t = findTries(st, id);
  v.header = p.name;
  v.fields.push({ label: "Id", value: p.id });
  v.fields.push({ label: "Base", value: p.base });
  v.fields.push({ label: "Created", value: formatDate(p.created) });
  v.fields.push({ label: "Last used", value: formatDate(p.lastUsed) });
  v.fields.push({ label: "Origin", value: p.origin === "" ? "-" : p.origin });
  let tries = decimal(t === null ? 0 : t.tries) + " of " + decimal(st.config.maxTries);
  if (t !== null && t.failed) tries += "  FAILED";
  v.fields.push({ label: "Tries", value: tries });
  let flags = "";
  if (m.machine.decide().id === id) flags += "default ";
  if ((p.flags & ProfileFlag.HIDDEN) !== 0) flags += "hidden ";
  if ((p.flags & ProfileFlag.PROTECTED) !== 0) flags += "protected";
  v.fields.push({ label: "Flags", value: flags === "" ? "-" : flags });
  return v;
}
