// Node flash for the MCU core: in memory or in a JSON file, with the DeviceScript settings limits
// enforced (keys <= 13 characters, values <= 200 bytes) and a way to simulate a power cut.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { FLASH_KEY_MAX, FLASH_VALUE_MAX } from "../core/records";
import type { FlashReader, FlashWrite } from "../core/store";
import { hexBytes } from "../../protocol/bytes";

export class MemoryFlash implements FlashReader {
  data = new Map<string, number[]>();
  /** Writes that landed (deletes included). */
  writeCount = 0;
  /** Bytes written (values only). */
  bytesWritten = 0;
  private cutRemaining = -1;
  private cutTorn = false;
  /** True once a simulated power cut dropped writes. */
  cut = false;

  read(key: string): number[] | null {
    const v = this.data.get(key);
    return v === undefined ? null : v.slice();
  }

  keys(): string[] {
    return [...this.data.keys()].sort();
  }

  /** Sum of key and value lengths of everything stored. */
  bytesUsed(): number {
    let n = 0;
    for (const [k, v] of this.data) n += k.length + v.length;
    return n;
  }

  valueBytes(): number {
    let n = 0;
    for (const v of this.data.values()) n += v.length;
    return n;
  }

  /**
   * Simulates a power cut: `n` more writes land, then every later write is dropped; with `torn`,
   * the first dropped write lands half-written (its first half of bytes, the rest lost).
   */
  cutAfter(n: number, torn = false): void {
    this.cutRemaining = n;
    this.cutTorn = torn;
  }

  write(key: string, value: number[] | null): void {
    if (key.length === 0 || key.length > FLASH_KEY_MAX) {
      throw new RangeError(`flash key "${key}" is invalid: must be 1 to ${FLASH_KEY_MAX} characters`);
    }
    if (value !== null && value.length > FLASH_VALUE_MAX) {
      throw new RangeError(`flash value for "${key}" is ${value.length} bytes: at most ${FLASH_VALUE_MAX}`);
    }
    if (this.cutRemaining === 0) {
      if (this.cutTorn && value !== null) {
        this.data.set(key, value.slice(0, Math.floor(value.length / 2)));
        this.cutTorn = false;
      }
      this.cut = true;
      return;
    }
    if (this.cutRemaining > 0) this.cutRemaining--;
    if (value === null) this.data.delete(key);
    else this.data.set(key, value.slice());
    this.writeCount++;
    this.bytesWritten += value === null ? 0 : value.length;
    this.persist();
  }

  writeAll(ws: FlashWrite[]): void {
    for (const w of ws) this.write(w.key, w.value);
  }

  /** Hook for FileFlash. */
  protected persist(): void {}
}

/** Flash in a JSON file `{"key": "hex bytes"}`, rewritten atomically (temp file + rename) on each write. */
export class FileFlash extends MemoryFlash {
  path: string;

  constructor(path: string) {
    super();
    this.path = path;
    if (existsSync(path)) {
      const text = readFileSync(path, "utf8");
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(text) as Record<string, unknown>;
      } catch (e) {
        throw new Error(`flash file ${path} is not valid JSON: ${(e as Error).message}`);
      }
      for (const [k, v] of Object.entries(obj)) {
        if (typeof v === "string" && /^([0-9a-f]{2})*$/.test(v)) this.data.set(k, [...Buffer.from(v, "hex")]);
      }
    }
  }

  protected override persist(): void {
    const obj: Record<string, string> = {};
    for (const k of this.keys()) obj[k] = hexBytes(this.data.get(k)!);
    const tmp = this.path + ".tmp";
    writeFileSync(tmp, JSON.stringify(obj, null, 1) + "\n");
    renameSync(tmp, this.path);
  }
}
