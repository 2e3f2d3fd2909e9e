// The program's screen, rebuilt from the `PIX` lines it prints when it mirrors its frames
// (mcu/devs/sim.devs.ts), so tests and the simulator compare the VM's real pixels.

export interface VmLine {
  at: number;
  text: string;
  /**
   * On a `FRAME n` line of a program that mirrors its frames (mcu/devs/sim.devs.ts): frame n's
   * pixels, 256x144 4-bit gray indices row by row; null when some of its `PIX` lines were missing.
   * Kept on the latest KEEP_FRAMES frame lines only.
   */
  pixels?: Uint8Array | null;
}

/** Frame lines that keep their pixels (older ones drop them: a long session draws many frames). */
export const KEEP_FRAMES = 16;
const SCREEN_W = 256;
const SCREEN_H = 144;

/**
 * Rebuilds the program's frames from its `PIX f top rows x hex` lines (mcu/devs/band-observers.ts,
 * `BandMirror`): each is `hex.length / rows` columns of one band, column by column, rows / 2
 * bytes a column, the even row in the low nibble (DeviceScript's 4-bit Image buffer).
 */
export class FrameMirror {
  private frame = -1;
  private pixels = new Uint8Array(SCREEN_W * SCREEN_H);
  private filled = 0;

  /** Takes a `PIX` line; false when the line is not one (or is malformed). */
  take(text: string): boolean {
    const m = /^PIX (\d+) (\d+) (\d+) (\d+) ([0-9a-f]*)$/.exec(text);
    if (!m) return false;
    const [f, top, rows, x0] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
    const bytes = Buffer.from(m[5], "hex");
    const colBytes = rows >> 1;
    if (rows < 2 || rows % 2 !== 0 || m[5].length % 2 !== 0 || bytes.length % colBytes !== 0) return false;
    if (f !== this.frame) {
      this.frame = f;
      this.pixels = new Uint8Array(SCREEN_W * SCREEN_H);
      this.filled = 0;
    }
    const cols = bytes.length / colBytes;
    for (let c = 0; c < cols; c++) {
      const x = x0 + c;
      if (x >= SCREEN_W) break;
      for (let r = 0; r < rows; r++) {
        const y = top + r;
        if (y >= SCREEN_H) break;
        const b = bytes[c * colBytes + (r >> 1)];
        this.pixels[y * SCREEN_W + x] = r & 1 ? b >> 4 : b & 15;
        this.filled++;
      }
    }
    return true;
  }

  /** At the `FRAME n` line: frame n's pixels when every one of them arrived, else null. */
  finish(n: number): Uint8Array | null {
    const done = n === this.frame && this.filled === SCREEN_W * SCREEN_H ? this.pixels : null;
    this.frame = -1;
    this.filled = 0;
    return done;
  }
}
