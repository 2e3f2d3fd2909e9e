// The menu renderer: draws a View onto a Canvas in Flipper style (header, 16 px rows, inverted
// rounded selection, scrollbar, button hints in the footer, countdown bar). Only fillRect spans:
// a full frame is a few thousand calls, well inside the VM's step budget.
import { type Canvas, Gray, SCREEN_H, SCREEN_W } from "./canvas";
import { drawIcon, drawText, fitText, FontId, Icon, textWidth } from "./font";
import { type DetailsView, type ListView, ROWS_VISIBLE, Screen, type View } from "./view";

const HEADER_H = 16;
const ROW_H = 16;
const LIST_Y = HEADER_H;
const FOOTER_Y = LIST_Y + ROWS_VISIBLE * ROW_H;
const INK = Gray.BLACK;
const PAPER = Gray.WHITE;
const SOFT = 20;
const SOFT_INV = 46;
/** Width of the last-used column: "2026-11-26" + gap. */
const DATE_COL = 68;

function roundBox(cv: Canvas, x: number, y: number, w: number, h: number, gray: number): void {
  cv.fillRect(x + 2, y, w - 4, h, gray);
  cv.fillRect(x + 1, y + 1, w - 2, h - 2, gray);
  cv.fillRect(x, y + 2, w, h - 4, gray);
}

function roundFrame(cv: Canvas, x: number, y: number, w: number, h: number, gray: number): void {
  cv.fillRect(x + 2, y, w - 4, 1, gray);
  cv.fillRect(x + 2, y + h - 1, w - 4, 1, gray);
  cv.fillRect(x, y + 2, 1, h - 4, gray);
  cv.fillRect(x + w - 1, y + 2, 1, h - 4, gray);
  cv.fillRect(x + 1, y + 1, 1, 1, gray);
  cv.fillRect(x + w - 2, y + 1, 1, 1, gray);
  cv.fillRect(x + 1, y + h - 2, 1, 1, gray);
  cv.fillRect(x + w - 2, y + h - 2, 1, 1, gray);
}

function centerText(cv: Canvas, y: number, text: string, font: number, gray: number): void {
  const t = fitText(text, font, SCREEN_W - 8);
  drawText(cv, Math.floor((SCREEN_W - textWidth(t, font)) / 2), y, t, font, gray);
}

function drawHeader(cv: Canvas, v: Exclude<View, { kind: typeof Screen.OFF }>): void {
  let rightW = 0;
  if (v.headerRight !== "") {
    rightW = textWidth(v.headerRight, FontId.BOLD);
    drawText(cv, SCREEN_W - 4 - rightW, 4, v.headerRight, FontId.BOLD, INK);
    rightW += 8;
  }
  drawText(cv, 4, 4, fitText(v.header, FontId.BOLD, SCREEN_W - 8 - rightW), FontId.BOLD, INK);
  cv.fillRect(0, HEADER_H - 2, SCREEN_W, 1, INK);
}

/** Flipper-style button hints: the key in a small inverted box, then what it does. */
function drawHints(cv: Canvas, hints: string[]): void {
  let x = 4;
  const y = FOOTER_Y + 4;
  for (let i = 0; i + 1 < hints.length; i += 2) {
    const kw = textWidth(hints[i], FontId.SMALL);
    roundBox(cv, x, y - 2, kw + 6, 11, INK);
    drawText(cv, x + 3, y, hints[i], FontId.SMALL, PAPER);
    x += kw + 9;
    x = drawText(cv, x, y, hints[i + 1], FontId.SMALL, INK) + 10;
  }
}

const COUNTDOWN_BAR_X = 196;
const COUNTDOWN_BAR_W = SCREEN_W - 4 - COUNTDOWN_BAR_X;
const HOLD_BAR_FILL = SCREEN_W - 62;

/** Pixels of the countdown bar filled for `frac` (1 .. 0) left: the core redraws only when it changes. */
export function countdownFill(frac: number): number {
  return Math.floor((COUNTDOWN_BAR_W - 4) * frac);
}

/** Pixels of the hold-to-confirm bar filled for progress 0..1. */
export function holdFill(progress: number): number {
  return progress > 0 ? Math.floor(HOLD_BAR_FILL * progress) : 0;
}

function drawCountdown(cv: Canvas, v: ListView): void {
  const y = FOOTER_Y + 3;
  const barX = COUNTDOWN_BAR_X;
  const barW = COUNTDOWN_BAR_W;
  // "Booting <name> in 3 s": the name is cut to fit, the seconds always show.
  const tail = v.countdownLeft;
  const room = barX - 10 - textWidth("Booting  " + tail, FontId.SMALL);
  drawText(
    cv,
    4,
    y + 2,
    "Booting " + fitText(v.countdownName, FontId.SMALL, room) + " " + tail,
    FontId.SMALL,
    INK,
  );
  roundFrame(cv, barX, y, barW, 11, INK);
  const fill = countdownFill(v.countdown);
  if (fill > 0) cv.fillRect(barX + 2, y + 2, fill, 7, INK);
}

function drawScrollbar(cv: Canvas, count: number, top: number): void {
  const x = SCREEN_W - 4;
  const y0 = LIST_Y + 1;
  const h = ROWS_VISIBLE * ROW_H - 2;
  for (let y = y0; y < y0 + h; y += 2) cv.fillRect(x + 1, y, 1, 1, INK);
  let th = Math.floor((h * ROWS_VISIBLE) / count);
  if (th < 6) th = 6;
  const ty = y0 + Math.floor(((h - th) * top) / (count - ROWS_VISIBLE));
  cv.fillRect(x, ty, 3, th, INK);
}

/** What one row of a list shows (one object: the VM limits how many arguments a call takes). */
interface RowCells {
  icon: number;
  title: string;
  /** First right-aligned column (base version, or a status word), "" for none. */
  status: string;
  /** Boxed status (FAILED). */
  alarm: boolean;
  /** Second column at the right edge, "" for none. */
  note: string;
  /** A star after the title. */
  starAfter: boolean;
}

function drawRow(cv: Canvas, y: number, right: number, selected: boolean, r: RowCells): void {
  const fg = selected ? PAPER : INK;
  const soft = selected ? SOFT_INV : SOFT;
  if (selected) roundBox(cv, 1, y + 1, right - 2, ROW_H - 2, INK);
  if (r.icon >= 0) drawIcon(cv, 5, y + 4, r.icon, fg);
  const note = r.note;
  const status = r.status;
  let used = 0;
  if (note !== "") {
    const w2 = textWidth(note, FontId.SMALL);
    drawText(cv, right - 6 - w2, y + 5, note, FontId.SMALL, soft);
    used = DATE_COL;
  }
  if (status !== "") {
    const w = textWidth(status, FontId.SMALL);
    const rx = right - 6 - used - w;
    if (r.alarm) {
      roundBox(cv, rx - 3, y + 3, w + 6, 11, fg);
      drawText(cv, rx, y + 5, status, FontId.SMALL, selected ? INK : PAPER);
    } else {
      drawText(cv, rx, y + 5, status, FontId.SMALL, soft);
    }
    used += w + 12;
  } else if (used > 0) {
    used = textWidth(note, FontId.SMALL) + 8;
  }
  const rightW = used + 6;
  const t = fitText(r.title, FontId.BOLD, right - rightW - 16);
  drawText(cv, 16, y + 4, t, FontId.BOLD, fg);
  if (r.starAfter) drawIcon(cv, 16 + textWidth(t, FontId.BOLD) + 4, y + 4, Icon.STAR, fg);
}

function drawDetail(cv: Canvas, v: DetailsView, i: number): void {
  if (i >= v.fields.length) return;
  const f = v.fields[i];
  const y = LIST_Y + 6 + i * 15;
  drawText(cv, 8, y + 1, f.label, FontId.SMALL, SOFT);
  drawText(cv, 84, y, fitText(f.value, FontId.BOLD, SCREEN_W - 92), FontId.BOLD, INK);
}

function drawPopup(cv: Canvas, text: string): void {
  const t = fitText(text, FontId.BOLD, SCREEN_W - 40);
  const w = textWidth(t, FontId.BOLD) + 24;
  const x = Math.floor((SCREEN_W - w) / 2);
  roundBox(cv, x - 1, 79, w + 2, 32, INK);
  roundBox(cv, x + 1, 81, w - 2, 28, PAPER);
  drawText(cv, x + 12, 92, t, FontId.BOLD, INK);
}

/** Parts of a frame: 0 background and header, 1..7 one row each, 8 scrollbar, footer and popup. */
export const FRAME_PARTS = 2 + ROWS_VISIBLE;

/** Draws the whole frame for `v`. */
export function drawScreen(cv: Canvas, v: View): void {
  for (let part = 0; part < FRAME_PARTS; part++) drawPart(cv, v, part);
}

/**
 * Draws one part of the frame (see FRAME_PARTS), so that the DeviceScript adapter can yield between
 * parts (the VM allows about 128k steps between two awaits). Returns true while parts remain.
 */
export function drawPart(cv: Canvas, v: View, part: number): boolean {
  const more = part + 1 < FRAME_PARTS;
  if (v.kind === Screen.OFF) {
    if (part === 0) cv.fillRect(0, 0, SCREEN_W, SCREEN_H, INK);
    return more;
  }
  if (part === 0) {
    cv.fillRect(0, 0, SCREEN_W, SCREEN_H, PAPER);
    drawHeader(cv, v);
    return more;
  }
  if (v.kind === Screen.BOOTING) {
    if (part === 1) centerText(cv, 38, v.title, FontId.BIG, INK);
    if (part === 2) centerText(cv, 68, v.name, FontId.BOLD, INK);
    if (part === 3) {
      if (v.info !== "") centerText(cv, 84, v.info, FontId.SMALL, SOFT);
      cv.fillRect(40, 100, SCREEN_W - 80, 1, SOFT_INV);
      if (v.reason !== "") centerText(cv, 108, v.reason, FontId.SMALL, SOFT);
    }
    return more;
  }
  if (part <= ROWS_VISIBLE) {
    const i = part - 1;
    switch (v.kind) {
      case Screen.LIST: {
        if (i >= v.rows.length) break;
        // A profile: base version (or FAILED, boxed) and last use in two columns.
        const r = v.rows[i];
        let icon = -1;
        if (r.failed) icon = Icon.CROSS;
        else if (r.isDefault) icon = Icon.STAR;
        else if (r.recovery) icon = Icon.RECOVERY;
        else if (r.hidden) icon = Icon.HIDDEN;
        const right = v.rowCount > ROWS_VISIBLE ? SCREEN_W - 7 : SCREEN_W - 1;
        drawRow(cv, LIST_Y + i * ROW_H, right, v.top + i === v.selected, {
          icon: icon,
          title: r.title,
          status: r.failed ? "FAILED" : r.base,
          alarm: r.failed,
          note: r.note,
          starAfter: r.isDefault && r.failed,
        });
        break;
      }
      case Screen.ACTIONS: {
        if (i >= v.rows.length) break;
        const a = v.rows[i];
        drawRow(cv, LIST_Y + i * ROW_H, SCREEN_W - 1, i === v.selected, {
          icon: a.recovery ? Icon.RECOVERY : a.locked ? Icon.LOCK : -1,
          title: a.title,
          status: "",
          alarm: false,
          note: a.note,
          starAfter: false,
        });
        break;
      }
      case Screen.DETAILS:
        drawDetail(cv, v, i);
        break;
      case Screen.CONFIRM:
        if (i === 0) centerText(cv, 28, v.question, FontId.BOLD, INK);
        if (i === 1) {
          centerText(cv, 46, v.warning, FontId.SMALL, INK);
          centerText(cv, 56, v.outcome, FontId.SMALL, INK);
        }
        if (i === 2) {
          roundFrame(cv, 28, 76, SCREEN_W - 56, 16, INK);
          const fill = holdFill(v.hold);
          if (fill > 0) cv.fillRect(31, 79, fill, 10, INK);
          const say = v.hold > 0 ? "Keep holding OK..." : "Hold OK for 1.5 s to reset";
          centerText(cv, 98, say, FontId.SMALL, SOFT);
        }
        break;
    }
    return more;
  }
  if (v.kind === Screen.LIST) {
    if (v.rowCount > ROWS_VISIBLE) drawScrollbar(cv, v.rowCount, v.top);
    // No profiles at all: say so in the empty space under the recovery entry.
    if (v.emptyTitle !== "") {
      centerText(cv, 62, v.emptyTitle, FontId.BOLD, INK);
      centerText(cv, 78, v.emptyHint, FontId.SMALL, SOFT);
    }
  }
  if (v.kind === Screen.ACTIONS && v.help !== "") {
    cv.fillRect(16, 96, SCREEN_W - 32, 1, SOFT_INV);
    centerText(cv, 104, v.help, FontId.SMALL, SOFT);
  }
  cv.fillRect(0, FOOTER_Y, SCREEN_W, 1, INK);
  if (v.kind === Screen.LIST && v.countdown >= 0) drawCountdown(cv, v);
  else drawHints(cv, v.hints);
  if (v.popup !== "") drawPopup(cv, v.popup);
  return more;
}
