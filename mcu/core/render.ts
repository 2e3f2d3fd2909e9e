// The menu renderer: draws a View onto a Canvas in Flipper style (header, 16 px rows, inverted
// rounded selection, scrollbar, button hints in the footer, countdown bar). Only fillRect spans:
// a full frame is a few thousand calls, well inside the VM's step budget.
import { type Canvas, Gray, SCREEN_H, SCREEN_W } from "./canvas";
import { drawIcon, drawText, fitText, FontId, Icon, textWidth } from "./font";
import { ROWS_VISIBLE, type RowView, Screen, type View } from "./view";

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

export function roundBox(cv: Canvas, x: number, y: number, w: number, h: number, gray: number): void {
  cv.fillRect(x + 2, y, w - 4, h, gray);
  cv.fillRect(x + 1, y + 1, w - 2, h - 2, gray);
  cv.fillRect(x, y + 2, w, h - 4, gray);
}

export function roundFrame(cv: Canvas, x: number, y: number, w: number, h: number, gray: number): void {
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

function drawHeader(cv: Canvas, v: View): void {
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

function drawCountdown(cv: Canvas, v: View): void {
  const y = FOOTER_Y + 3;
  const barX = COUNTDOWN_BAR_X;
  const barW = COUNTDOWN_BAR_W;
  // "Booting <name> in 3 s": the name is cut to fit, the seconds always show.
  const name = v.lines.length > 0 ? v.lines[0] : "";
  const tail = v.lines.length > 1 ? v.lines[1] : "";
  const room = barX - 10 - textWidth("Booting  " + tail, FontId.SMALL);
  drawText(cv, 4, y + 2, "Booting " + fitText(name, FontId.SMALL, room) + " " + tail, FontId.SMALL, INK);
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

function drawRow(cv: Canvas, r: RowView, y: number, right: number, selected: boolean): void {
  const fg = selected ? PAPER : INK;
  const soft = selected ? SOFT_INV : SOFT;
  if (selected) roundBox(cv, 1, y + 1, right - 2, ROW_H - 2, INK);
  let icon = -1;
  if (r.failed) icon = Icon.CROSS;
  else if (r.isDefault) icon = Icon.STAR;
  else if (r.recovery) icon = Icon.RECOVERY;
  else if (r.locked) icon = Icon.LOCK;
  else if (r.hidden) icon = Icon.HIDDEN;
  if (icon >= 0) drawIcon(cv, 5, y + 4, icon, fg);
  // Two right-aligned columns: base version (or FAILED) and last use.
  let used = 0;
  if (r.right2 !== "") {
    const w2 = textWidth(r.right2, FontId.SMALL);
    drawText(cv, right - 6 - w2, y + 5, r.right2, FontId.SMALL, soft);
    used = DATE_COL;
  }
  if (r.right !== "") {
    const w = textWidth(r.right, FontId.SMALL);
    const rx = right - 6 - used - w;
    if (r.failed) {
      roundBox(cv, rx - 3, y + 3, w + 6, 11, fg);
      drawText(cv, rx, y + 5, r.right, FontId.SMALL, selected ? INK : PAPER);
    } else {
      drawText(cv, rx, y + 5, r.right, FontId.SMALL, soft);
    }
    used += w + 12;
  } else if (used > 0) {
    used = textWidth(r.right2, FontId.SMALL) + 8;
  }
  const rightW = used + 6;
  const title = fitText(r.title, FontId.BOLD, right - rightW - 16);
  drawText(cv, 16, y + 4, title, FontId.BOLD, fg);
  if (r.isDefault && r.failed) drawIcon(cv, 16 + textWidth(title, FontId.BOLD) + 4, y + 4, Icon.STAR, fg);
}

function drawDetail(cv: Canvas, v: View, i: number): void {
  if (2 * i + 1 >= v.details.length) return;
  const y = LIST_Y + 6 + i * 15;
  drawText(cv, 8, y + 1, v.details[2 * i], FontId.SMALL, SOFT);
  drawText(cv, 84, y, fitText(v.details[2 * i + 1], FontId.BOLD, SCREEN_W - 92), FontId.BOLD, INK);
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
  if (v.screen === Screen.OFF) {
    if (part === 0) cv.fillRect(0, 0, SCREEN_W, SCREEN_H, INK);
    return more;
  }
  if (part === 0) {
    cv.fillRect(0, 0, SCREEN_W, SCREEN_H, PAPER);
    drawHeader(cv, v);
    return more;
  }
  if (v.screen === Screen.BOOTING) {
    if (part === 1 && v.lines.length > 0) centerText(cv, 38, v.lines[0], FontId.BIG, INK);
    if (part === 2 && v.lines.length > 1) centerText(cv, 68, v.lines[1], FontId.BOLD, INK);
    if (part === 3) {
      if (v.lines.length > 2) centerText(cv, 84, v.lines[2], FontId.SMALL, SOFT);
      cv.fillRect(40, 100, SCREEN_W - 80, 1, SOFT_INV);
      if (v.lines.length > 3) centerText(cv, 108, v.lines[3], FontId.SMALL, SOFT);
    }
    return more;
  }
  if (part <= ROWS_VISIBLE) {
    const i = part - 1;
    if (v.screen === Screen.LIST || v.screen === Screen.ACTIONS) {
      const right = v.rowCount > ROWS_VISIBLE ? SCREEN_W - 7 : SCREEN_W - 1;
      if (i < v.rows.length) drawRow(cv, v.rows[i], LIST_Y + i * ROW_H, right, v.top + i === v.selected);
    } else if (v.screen === Screen.DETAILS) {
      drawDetail(cv, v, i);
    } else if (v.screen === Screen.CONFIRM) {
      if (i === 0) centerText(cv, 28, v.lines[0], FontId.BOLD, INK);
      if (i === 1) {
        centerText(cv, 46, v.lines[1], FontId.SMALL, INK);
        centerText(cv, 56, v.lines[2], FontId.SMALL, INK);
      }
      if (i === 2) {
        roundFrame(cv, 28, 76, SCREEN_W - 56, 16, INK);
        const fill = holdFill(v.hold);
        if (fill > 0) cv.fillRect(31, 79, fill, 10, INK);
        centerText(
          cv,
          98,
          v.hold > 0 ? "Keep holding OK..." : "Hold OK for 1.5 s to reset",
          FontId.SMALL,
          SOFT,
        );
      }
    }
    return more;
  }
  if ((v.screen === Screen.LIST || v.screen === Screen.ACTIONS) && v.rowCount > ROWS_VISIBLE) {
    drawScrollbar(cv, v.rowCount, v.top);
  }
  if (v.screen === Screen.LIST && v.rowCount === 1 && v.lines.length > 0) {
    // No profiles yet: say so in the empty space under the recovery entry.
    const n = v.lines.length;
    centerText(cv, 62, v.lines[n - 2], FontId.BOLD, INK);
    centerText(cv, 78, v.lines[n - 1], FontId.SMALL, SOFT);
  }
  if (v.screen === Screen.ACTIONS && v.lines.length > 0) {
    cv.fillRect(16, 96, SCREEN_W - 32, 1, SOFT_INV);
    centerText(cv, 104, v.lines[0], FontId.SMALL, SOFT);
  }
  cv.fillRect(0, FOOTER_Y, SCREEN_W, 1, INK);
  if (v.countdown >= 0) drawCountdown(cv, v);
  else drawHints(cv, v.hints);
  if (v.popup !== "") drawPopup(cv, v.popup);
  return more;
}
