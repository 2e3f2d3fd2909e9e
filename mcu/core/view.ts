// What the renderer draws: a plain description of one screen, built by BootCore.view().
import { decimal } from "../../protocol/bytes";

export const Screen = { OFF: 0, LIST: 1, DETAILS: 2, ACTIONS: 3, CONFIRM: 4, BOOTING: 5 } as const;
export const SCREEN_NAMES = ["off", "list", "details", "actions", "confirm", "booting"];

export interface RowView {
  title: string;
  /** Small text in the base-version column (or a status word like FAILED). */
  right: string;
  /** Small text in the last-used column at the right edge. */
  right2: string;
  isDefault: boolean;
  failed: boolean;
  hidden: boolean;
  recovery: boolean;
  locked: boolean;
}

export interface View {
  screen: number;
  header: string;
  /** Right side of the header (countdown seconds, "hidden shown"), "" for none. */
  headerRight: string;
  /** The rows on screen (at most ROWS_VISIBLE): entries top .. top + rows.length - 1. */
  rows: RowView[];
  /** Number of entries in the whole list (for the scrollbar). */
  rowCount: number;
  selected: number;
  /** Index of the first row shown. */
  top: number;
  /** Fraction of the countdown left (1 .. 0), or -1 without a countdown. */
  countdown: number;
  /** Label-value pairs for the details screen. */
  details: string[];
  /** Hold-to-confirm progress 0..1 (confirm screen), -1 when OK is not held. */
  hold: number;
  /** Lines for the confirm and booting screens, and the empty-list hint. */
  lines: string[];
  /** A short popup over the screen, "" for none. */
  popup: string;
  /** Button hints in the footer. */
  hints: string[];
}

export const ROWS_VISIBLE = 7;

/** "YYYY-MM-DD" of Unix seconds (UTC), "never" for 0. No Date on the MCU: civil-from-days by hand. */
export function formatDate(seconds: number): string {
  if (!(seconds > 0)) return "never";
  const days = Math.floor(seconds / 86400);
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return decimal(y) + "-" + (m < 10 ? "0" : "") + decimal(m) + "-" + (d < 10 ? "0" : "") + decimal(d);
}
