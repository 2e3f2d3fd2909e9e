// What the renderer draws: a typed view per screen (built by screens/*.ts), and the date format.
import { decimal } from "../../protocol/bytes";

export const Screen = { OFF: 0, LIST: 1, DETAILS: 2, ACTIONS: 3, CONFIRM: 4, BOOTING: 5 } as const;
export const SCREEN_NAMES = ["off", "list", "details", "actions", "confirm", "booting"];

/** What every screen but OFF has: the header line, the footer hints and an optional popup. */
interface ScreenFrame {
  header: string;
  /** Right side of the header (countdown seconds, "+hidden"), "" for none. */
  headerRight: string;
  /** Button hints in the footer: key, what it does, key, what it does... */
  hints: string[];
  /** A short popup over the screen, "" for none. */
  popup: string;
}

/** The screen is dark (the SoC is off). */
export interface OffView {
  kind: typeof Screen.OFF;
}

/** One entry of the profile list. */
export interface ListRow {
  title: string;
  /** Base version ("" for the recovery entry); a failed profile shows FAILED instead. */
  base: string;
  /** At the right edge: the date of last use, or what the recovery entry starts. */
  note: string;
  isDefault: boolean;
  failed: boolean;
  hidden: boolean;
  recovery: boolean;
}

export interface ListView extends ScreenFrame {
  kind: typeof Screen.LIST;
  /** The rows on screen (at most ROWS_VISIBLE): entries top .. top + rows.length - 1. */
  rows: ListRow[];
  /** Number of entries in the whole list (for the scrollbar). */
  rowCount: number;
  selected: number;
  top: number;
  /** Fraction of the countdown left (1 .. 0), or -1 without a countdown. */
  countdown: number;
  /** What boots when the countdown ends, and "in N s". */
  countdownName: string;
  countdownLeft: string;
  /** Said under the recovery entry when there are no profiles at all ("" otherwise). */
  emptyTitle: string;
  emptyHint: string;
}

export interface DetailField {
  label: string;
  value: string;
}

export interface DetailsView extends ScreenFrame {
  kind: typeof Screen.DETAILS;
  fields: DetailField[];
}

/** One action offered by long OK on a profile. */
export interface ActionRow {
  title: string;
  /** At the right edge ("is default"), "" for none. */
  note: string;
  recovery: boolean;
  locked: boolean;
}

export interface ActionsView extends ScreenFrame {
  kind: typeof Screen.ACTIONS;
  rows: ActionRow[];
  selected: number;
  /** One line saying what the selected action does ("" while a popup shows). */
  help: string;
}

export interface ConfirmView extends ScreenFrame {
  kind: typeof Screen.CONFIRM;
  question: string;
  warning: string;
  /** What the profile starts again from. */
  outcome: string;
  /** Hold-to-confirm progress 0..1, -1 when OK is not held. */
  hold: number;
}

export interface BootingView extends ScreenFrame {
  kind: typeof Screen.BOOTING;
  /** "Booting", "Resetting", "Recovery" (or "Starting" when nothing was chosen). */
  title: string;
  name: string;
  /** Base and try count ("" when nothing was chosen). */
  info: string;
  /** Why this boot ("" when nothing was chosen). */
  reason: string;
}

/** What the renderer draws: one typed view per screen, told apart by `kind`. */
export type View = OffView | ListView | DetailsView | ActionsView | ConfirmView | BootingView;

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
