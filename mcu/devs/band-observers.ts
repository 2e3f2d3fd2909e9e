// What the test and simulation entries add to the program: they look at each band of a frame once it
// is drawn. Only those entries import this file, so the real program (main.ts) carries none of it.
import { suspend } from "@devicescript/core";
import type { Image } from "@devicescript/graphics";
import { hex } from "../../protocol/bytes";
import { SCREEN_H, SCREEN_W } from "../core/canvas";
import { BAND_H, type BandObserver } from "./adapter";

/**
 * Prints `FRAMEHASH n <8 hex digits>` after each frame: h = (h * 31 + index) >>> 0 over every
 * pixel's 4-bit gray index, row by row (test/mcu-devs-vm.test.ts compares it with the Node
 * Framebuffer's pixels >> 2). Slow (a get() per pixel): test entry only (pixels.devs.ts).
 */
export class BandHasher implements BandObserver {
  hash = 0;

  async band(img: Image, _frame: number, top: number): Promise<void> {
    const rows = SCREEN_H - top < BAND_H ? SCREEN_H - top : BAND_H;
    let h = this.hash;
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < SCREEN_W; x++) h = (h * 31 + img.get(x, y)) >>> 0;
      if ((y & 3) === 3) await suspend(0);
    }
    this.hash = h;
  }

  frameDone(frame: number): void {
    console.log("FRAMEHASH " + frame + " " + hex(this.hash, 8));
    this.hash = 0;
  }
}

/** Columns of a band per `PIX` line (16 columns = 128 bytes = 256 hex digits). */
const MIRROR_COLS = 16;

/**
 * Prints each band's pixels as `PIX f top rows x hex` lines: frame f, the band's top row and height,
 * its first column x, then MIRROR_COLS columns of the band Image's buffer in hex (its own layout:
 * column by column, rows / 2 bytes a column, the even row in the low nibble). The simulator rebuilds
 * the frame from them (sim/devs-vm.ts). A console line holds at most 296 characters in the VM, hence
 * the short lines. Simulation entry only (sim.devs.ts).
 */
export class BandMirror implements BandObserver {
  async band(img: Image, frame: number, top: number): Promise<void> {
    const buf = img.buffer;
    const colBytes = BAND_H / 2;
    const prefix = "PIX " + frame + " " + top + " " + BAND_H + " ";
    for (let x = 0; x < SCREEN_W; x += MIRROR_COLS) {
      const at = x * colBytes;
      console.log(prefix + x + " " + buf.slice(at, at + MIRROR_COLS * colBytes).toString("hex"));
    }
  }

  frameDone(_frame: number): void {}
}
