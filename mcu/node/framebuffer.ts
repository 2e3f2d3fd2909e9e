// A 256x144 framebuffer of gray levels 0..63 implementing the core's Canvas, with PNG output.
import { PNG } from "pngjs";
import { type Canvas, SCREEN_H, SCREEN_W } from "../core/canvas";

export interface DrawnText {
  x: number;
  y: number;
  text: string;
  font: number;
}

export class Framebuffer implements Canvas {
  width: number;
  height: number;
  pixels: Uint8Array;
  /** Strings drawn since the last clear (through the Canvas text hook). */
  texts: DrawnText[] = [];
  fillCalls = 0;

  constructor(width = SCREEN_W, height = SCREEN_H) {
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height);
  }

  fillRect(x: number, y: number, w: number, h: number, gray: number): void {
    this.fillCalls++;
    // A full-screen fill starts a new frame: forget the text of the previous one.
    if (x <= 0 && y <= 0 && x + w >= this.width && y + h >= this.height) this.texts = [];
    const x0 = Math.max(0, Math.floor(x));
    const y0 = Math.max(0, Math.floor(y));
    const x1 = Math.min(this.width, Math.floor(x + w));
    const y1 = Math.min(this.height, Math.floor(y + h));
    const g = gray < 0 ? 0 : gray > 63 ? 63 : Math.floor(gray);
    for (let yy = y0; yy < y1; yy++) this.pixels.fill(g, yy * this.width + x0, yy * this.width + x1);
  }

  text(x: number, y: number, text: string, font: number): void {
    this.texts.push({ x, y, text, font });
  }

  get(x: number, y: number): number {
    return this.pixels[y * this.width + x];
  }

  /** The text drawn on the frame, one string per line, top to bottom and left to right. */
  lines(): string[] {
    const sorted = [...this.texts].sort((a, b) => a.y - b.y || a.x - b.x);
    const rows: DrawnText[][] = [];
    for (const t of sorted) {
      const row = rows.length > 0 ? rows[rows.length - 1] : null;
      if (row !== null && Math.abs(t.y - row[0].y) <= 2) row.push(t);
      else rows.push([t]);
    }
    return rows.map((r) =>
      r
        .sort((a, b) => a.x - b.x)
        .map((t) => t.text)
        .join(" "),
    );
  }

  /** PNG (8-bit grayscale, levels scaled to 0..255), optionally scaled up by an integer factor. */
  toPng(scale = 1): Buffer {
    const w = this.width * scale;
    const h = this.height * scale;
    const png = new PNG({ width: w, height: h, colorType: 0, inputColorType: 0, bitDepth: 8 });
    const data = Buffer.alloc(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const g = this.pixels[Math.floor(y / scale) * this.width + Math.floor(x / scale)];
        data[y * w + x] = Math.round((g * 255) / 63);
      }
    }
    png.data = data;
    return PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  }

  /** Reads a grayscale PNG written by toPng(1) back into gray levels 0..63. */
  static fromPng(buf: Buffer): Framebuffer {
    const png = PNG.sync.read(buf);
    const fb = new Framebuffer(png.width, png.height);
    for (let i = 0; i < png.width * png.height; i++) fb.pixels[i] = Math.round((png.data[i * 4] * 63) / 255);
    return fb;
  }
}
