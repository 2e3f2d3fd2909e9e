// A profile's details: id, base, dates, origin, tries, flags; Up/Down browse the neighbouring
// profiles (the recovery entry has none), Back or Left return to the list.
import { decimal } from "../../../protocol/bytes";
import { ProfileFlag } from "../../../protocol/profile";
import { type InputEvent, InputType, Key } from "../keys";
import type { Menu } from "../menu";
import { decide, findProfile, findTries } from "../policy";
import { type DetailsView, formatDate, Screen } from "../view";

export function detailsInput(m: Menu, ev: InputEvent): void {
  const k = ev.key;
  const type = ev.type;
  if ((k === Key.BACK || k === Key.LEFT) && type === InputType.SHORT) {
    m.screen = Screen.LIST;
    m.dirty = true;
  } else if ((k === Key.UP || k === Key.DOWN) && (type === InputType.SHORT || type === InputType.REPEAT)) {
    const n = m.entries.length - 1;
    if (n > 1) m.step(k === Key.UP, n);
  }
}

function field(v: DetailsView, label: string, value: string): void {
  v.fields.push({ label: label, value: value });
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
  const id = m.entries[m.selected];
  const i = findProfile(m.machine.st, id);
  if (i < 0) return v;
  const st = m.machine.st;
  const p = st.profiles[i];
  const t = findTries(st, id);
  v.header = p.name;
  field(v, "Id", p.id);
  field(v, "Base", p.base);
  field(v, "Created", formatDate(p.created));
  field(v, "Last used", formatDate(p.lastUsed));
  field(v, "Origin", p.origin === "" ? "-" : p.origin);
  let tries = decimal(t === null ? 0 : t.tries) + " of " + decimal(st.config.maxTries);
  if (t !== null && t.failed) tries += "  FAILED";
  field(v, "Tries", tries);
  let flags = "";
  if (decide(m.machine.st).id === id) flags += "default ";
  if ((p.flags & ProfileFlag.HIDDEN) !== 0) flags += "hidden ";
  if ((p.flags & ProfileFlag.PROTECTED) !== 0) flags += "protected";
  field(v, "Flags", flags === "" ? "-" : flags);
  return v;
}
