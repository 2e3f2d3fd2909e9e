// After the choice: what boots, how and why (keys do nothing until the next power-on).
import { decimal } from "../../../protocol/bytes";
import { ACTION_NAMES, BlockAction, BlockStatus } from "../../../protocol/register-block";
import type { Menu } from "../menu";
import { type BootingView, Screen } from "../view";

/** Why this boot, in words, indexed by BlockReason. */
const REASON_TEXT = [
  "",
  "the default",
  "the last profile used",
  "chosen in the menu",
  "one time only",
  "fallback: the default did not work",
];

export function bootingView(m: Menu): BootingView {
  const s = m.machine.sel;
  const v: BootingView = {
    kind: Screen.BOOTING,
    header: "Flipper One",
    headerRight: "",
    hints: [],
    popup: m.popup,
    title: "Starting",
    name: "No profiles: the base system starts",
    info: "",
    reason: "",
  };
  if (s.status !== BlockStatus.FINAL) return v;
  v.title =
    s.action === BlockAction.BOOT ? "Booting" : s.action === BlockAction.RESET ? "Resetting" : "Recovery";
  v.name = s.profileId === "" ? "Base system recovery" : m.machine.nameOf(s.profileId);
  let info = s.profileId === "" ? "" : "base " + s.base + "  ";
  info += "try " + decimal(s.tryNumber) + " of " + decimal(s.maxTries);
  if (s.profileId === "") info = ACTION_NAMES[s.action];
  v.info = info;
  v.reason = REASON_TEXT[s.reason];
  return v;
}
