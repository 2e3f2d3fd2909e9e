// Bench entry (bench/mcu-vm.ts): main.ts plus a heap probe when PTT (Key 12) is pressed.
import { probeHeap } from "./heap";
import { pttButton, runProgram } from "./program";

pttButton.down.subscribe(async () => {
  await probeHeap("program");
});
await runProgram(null);
