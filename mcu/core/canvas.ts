// The drawing interface the renderer uses. Both adapters implement it: the Node Framebuffer and a
// DeviceScript Image wrapper. Everything (text included) is drawn with fillRect, so both show the
// same pixels; text() is only a hook that reports each string drawn (for tests and accessibility).

/** Gray levels 0 (black) .. 63 (white), as the Flipper One's 6-bit display. */
export const Gray = { BLACK: 0, DARK: 16, MID: 32, LIGHT: 48, PALE: 56, WHITE: 63 } as const;

export const SCREEN_W = 256;
export const SCREEN_H = 144;

export interface Canvas {
  width: number;
  height: number;
  /** Fills a rectangle (clipped to the screen) with gray 0..63. */
  fillRect(x: number, y: number, w: number, h: number, gray: number): void;
  /** Reports a string drawn at (x, y) in `font` (FontId); may do nothing. */
  text(x: number, y: number, text: string, font: number): void;
  /**
   * Optional band (rows clipTop .. clipBottom-1) for adapters that draw the screen in horizontal
   * bands: text and icons wholly outside it are skipped (they are most of a frame's work); the
   * canvas must still clip fillRect itself.
   */
  clipTop?: number;
  clipBottom?: number;
}
