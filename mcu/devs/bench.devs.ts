// Bench entry (bench/mcu-vm.ts): mcu/devs/main.ts plus a heap probe when PTT (Key 12) is pressed.
// Keep the options identical to main.ts (the roles are shared: roles.ts).
import { DevsMcu } from "./adapter";
import { keyButtons, pttButton, uart } from "./roles";
import { probeHeap } from "./heap";

const mcu = new DevsMcu({
  buttons: keyButtons,
  uart: uart,
  logRegister: true,
  logFrames: true,
  logKeys: true,
  hashFrames: false,
  mirrorFrames: false,
});
pttButton.down.subscribe(async () => {
  await probeHeap("program");
});
await mcu.run();
