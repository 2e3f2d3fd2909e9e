// A 5x8 bitmap font (ASCII 0x20..0x7e, column bytes, bit 0 = top row, row 7 for descenders) and a few icons, drawn with
// fillRect runs so a DeviceScript Image and the Node framebuffer show identical text. Three sizes:
// SMALL (6 px advance), BOLD (each column doubled: 7 px advance), BIG (2x scale: 12 px advance).
import type { Canvas } from "./canvas";

export const FontId = { SMALL: 0, BOLD: 1, BIG: 2 } as const;

// 95 glyphs x 5 columns, as hex text (the VM has no typed arrays; a string is compact).
const GLYPHS =
  "0000000000" +
  "00005f0000" +
  "0007000700" +
  "147f147f14" +
  "242a7f2a12" +
  "2313086462" +
  "3649552250" +
  "0005030000" +
  "001c224100" +
  "0041221c00" +
  "082a1c2a08" +
  "08083e0808" +
  "0050300000" +
  "0808080808" +
  "0060600000" +
  "2010080402" +
  "3e5149453e" +
  "00427f4000" +
  "4261514946" +
  "2141454b31" +
  "1814127f10" +
  "2745454539" +
  "3c4a494930" +
  "0171090503" +
  "3649494936" +
  "064949291e" +
  "0036360000" +
  "0056360000" +
  "0008142241" +
  "1414141414" +
  "4122140800" +
  "0201510906" +
  "324979413e" +
  "7e1111117e" +
  "7f49494936" +
  "3e41414122" +
  "7f4141221c" +
  "7f49494941" +
  "7f09090101" +
  "3e41415132" +
  "7f0808087f" +
  "00417f4100" +
  "2040413f01" +
  "7f08142241" +
  "7f40404040" +
  "7f0204027f" +
  "7f0408107f" +
  "3e4141413e" +
  "7f09090906" +
  "3e4151215e" +
  "7f09192946" +
  "4649494931" +
  "01017f0101" +
  "3f4040403f" +
  "1f2040201f" +
  "7f2018207f" +
  "6314081463" +
  "0304780403" +
  "6151494543" +
  "00007f4141" +
  "0204081020" +
  "41417f0000" +
  "0402010204" +
  "4040404040" +
  "0001020400" +
  "2054545478" +
  "7f48444438" +
  "3844444420" +
  "384444487f" +
  "3854545418" +
  "087e090102" +
  "18a4a4a47c" +
  "7f08040478" +
  "00447d4000" +
  "4080847d00" +
  "007f102844" +
  "00417f4000" +
  "7c04180478" +
  "7c08040478" +
  "3844444438" +
  "fc24242418" +
  "18242418fc" +
  "7c08040408" +
  "4854545420" +
  "043f444020" +
  "3c4040207c" +
  "1c2040201c" +
  "3c4030403c" +
  "4428102844" +
  "1ca0a0a07c" +
  "4464544c44" +
  "0008364100" +
  "00007f0000" +
  "0041360800" +
  "0804081008";

/** Icons (7 columns each, 7 rows), drawn with drawIcon. */
export const Icon = {
  STAR: 0,
  CROSS: 1,
  LOCK: 2,
  HIDDEN: 3,
  RECOVERY: 4,
  ARROW: 5,
  CHECK: 6,
  UNKNOWN: 7,
} as const;
const ICONS =
  "046c3e1f3e6c04" + // star
  "41221408142241" + // cross
  "78784f494f7878" + // lock
  "081422552a1408" + // hidden (crossed eye)
  "1c14774177141c" + // recovery (a first-aid cross)
  "080808083e1c08" + // arrow right
  "10204020100804" + // check
  "7f4141414141" +
  "7f"; // placeholder box for characters the font does not have

/** What a character the font lacks looks like (non-ASCII names). */
const BOX_GLYPH = "7f4141417f";

function hexByte(s: string, at: number): number {
  return (hexNibble(s.charCodeAt(at)) << 4) | hexNibble(s.charCodeAt(at + 1));
}

function hexNibble(c: number): number {
  return c <= 0x39 ? c - 0x30 : c - 0x57;
}

/** Column byte `k` (0..4) of the glyph for character code `c`; characters the font lacks get a box. */
function glyphColumn(c: number, k: number): number {
  if (c < 0x20 || c > 0x7e) return hexByte(BOX_GLYPH, k * 2);
  return hexByte(GLYPHS, ((c - 0x20) * 5 + k) * 2);
}

function fontAdvance(font: number): number {
  return font === FontId.BIG ? 12 : font === FontId.BOLD ? 7 : 6;
}

function fontHeight(font: number): number {
  return font === FontId.BIG ? 16 : 8;
}

/** Number of glyphs a string shows (a surrogate pair is one glyph). */
function glyphCount(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) i++;
    n++;
  }
  return n;
}

export function textWidth(text: string, font: number): number {
  const n = glyphCount(text);
  return n === 0 ? 0 : n * fontAdvance(font) - 1;
}

/**
 * Draws one column byte as vertical runs (one fillRect per run of set bits). No lookup tables:
 * on the VM every number in an array costs 8 bytes of a 64 KB heap.
 */
function drawColumn(
  cv: Canvas,
  x: number,
  y: number,
  bits: number,
  w: number,
  scale: number,
  gray: number,
): void {
  let row = 0;
  while (bits !== 0) {
    if (bits & 1) {
      let len = 0;
      while (bits & 1) {
        len++;
        bits = bits >> 1;
      }
      cv.fillRect(x, y + row * scale, w, len * scale, gray);
      row += len;
    } else {
      bits = bits >> 1;
      row++;
    }
  }
}

/** Draws `text` with its top-left at (x, y); returns the x after the last glyph. */
/** True when rows y .. y+h-1 are wholly outside the canvas's band (if it has one). */
function outsideBand(cv: Canvas, y: number, h: number): boolean {
  const top = cv.clipTop;
  const bottom = cv.clipBottom;
  if (top === undefined || bottom === undefined) return false;
  return y >= bottom || y + h <= top;
}

export function drawText(cv: Canvas, x: number, y: number, text: string, font: number, gray: number): number {
  cv.text(x, y, text, font);
  if (outsideBand(cv, y, fontHeight(font))) return x + glyphCount(text) * fontAdvance(font);
  const scale = font === FontId.BIG ? 2 : 1;
  const colW = font === FontId.BOLD ? 2 : scale;
  const adv = fontAdvance(font);
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      i++;
      c = 0xfffd;
    }
    if (x >= cv.width) break;
    if (c !== 0x20) {
      for (let k = 0; k < 5; k++) {
        const bits = glyphColumn(c, k);
        if (bits !== 0) drawColumn(cv, x + k * scale, y, bits, colW, scale, gray);
      }
    }
    x += adv;
  }
  return x;
}

/** Draws a 7x7 icon with its top-left at (x, y). */
export function drawIcon(cv: Canvas, x: number, y: number, icon: number, gray: number): void {
  if (outsideBand(cv, y, 8)) return;
  const at = icon * 14;
  for (let k = 0; k < 7; k++) {
    const bits = hexByte(ICONS, at + k * 2);
    if (bits !== 0) drawColumn(cv, x + k, y, bits, 1, 1, gray);
  }
}

/**
 * The longest prefix of `text` (whole glyphs) that fits in `maxWidth` pixels, with "..." appended
 * when it had to be cut.
 */
export function fitText(text: string, font: number, maxWidth: number): string {
  if (textWidth(text, font) <= maxWidth) return text;
  const adv = fontAdvance(font);
  const room = Math.floor((maxWidth + 1) / adv) - 3;
  let out = "";
  let n = 0;
  for (let i = 0; i < text.length && n < room; i++) {
    const c = text.charCodeAt(i);
    out += text.charAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      i++;
      out += text.charAt(i);
    }
    n++;
  }
  // No trailing space before the ellipsis.
  while (out.length > 0 && out.charCodeAt(out.length - 1) === 0x20) out = out.slice(0, out.length - 1);
  return out + "...";
}
