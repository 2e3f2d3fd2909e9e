// What the core's VM test programs share (devs-check.devs.ts here, mcu/devs/core.test.devs.ts):
// a check that logs, and flash as the settings service keeps it. Runs in the VM: DeviceScript subset.
import type { FlashReader, FlashWrite } from "./store";

/** Logs `ok <what>`, or `FAILED: <what>` and throws (the VM does not print why a test failed). */
export function check(what: string, cond: boolean): void {
  if (!cond) {
    console.log("FAILED: " + what);
    throw new Error("FAILED: " + what);
  }
  console.log("ok " + what);
}

/** Flash kept as native Buffers (1 byte per byte), as the settings service keeps it on the device. */
export class KvFlash implements FlashReader {
  keys: string[] = [];
  values: Buffer[] = [];
  writes = 0;
  bytes = 0;
  read(key: string): number[] | null {
    const i = this.keys.indexOf(key);
    if (i < 0) return null;
    const b = this.values[i];
    const out: number[] = [];
    for (let k = 0; k < b.length; k++) out.push(b[k]);
    return out;
  }
  apply(ws: FlashWrite[]): void {
    for (const w of ws) this.write(w);
  }
  write(w: FlashWrite): void {
    {
      this.writes++;
      const i = this.keys.indexOf(w.key);
      if (w.value === null) {
        if (i >= 0) {
          this.keys[i] = "";
          this.values[i] = Buffer.alloc(0);
        }
        return;
      }
      const b = Buffer.alloc(w.value.length);
      for (let k = 0; k < w.value.length; k++) b[k] = w.value[k];
      if (i >= 0) this.values[i] = b;
      else {
        this.keys.push(w.key);
        this.values.push(b);
      }
    }
  }
  /** A copy of what is stored now (a power cut: later writes do not reach it). */
  clone(): KvFlash {
    const f = new KvFlash();
    for (let i = 0; i < this.keys.length; i++) {
      f.keys.push(this.keys[i]);
      f.values.push(this.values[i]);
    }
    return f;
  }
  used(): number {
    let n = 0;
    for (let i = 0; i < this.keys.length; i++)
      if (this.keys[i] !== "") n += this.keys[i].length + this.values[i].length;
    return n;
  }
}
