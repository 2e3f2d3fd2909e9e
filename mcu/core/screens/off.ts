// The SoC is off: a dark screen; keys do nothing here (power-on comes from the adapter).
import type { Menu } from "../menu";
import { type OffView, Screen } from "../view";

export function offView(_m: Menu): OffView {
  return { kind: Screen.OFF };
}
