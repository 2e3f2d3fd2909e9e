// Heap probe for the benchmark (bench/mcu-vm.ts), never used by the real program: the VM exposes no
// heap statistics, so the probe allocates 512-byte buffers until the heap is exhausted, printing the
// running total as `HEAPFREE <bytes>`; the last line printed is the free heap (within 512 bytes).
// The VM then stops with an OutOfMemory panic, by design.
import { delay } from "@devicescript/core";

export async function probeHeap(label: string): Promise<void> {
  const keep: Buffer[] = [];
  console.log("HEAPPROBE " + label);
  while (true) {
    keep.push(Buffer.alloc(512));
    console.log("HEAPFREE " + keep.length * 512);
    await delay(0);
  }
}
