// The simulator's entry (sim/mcu-vm.ts, `--mcu vm`): mcu/devs/main.ts with each frame's pixels
// mirrored as `PIX` lines, so the simulator shows and compares the pixels the program drew.
// Keep the other options identical to main.ts (the roles are shared: roles.ts).
import { DevsMcu } from "./adapter";
import { keyButtons, uart } from "./roles";

const mcu = new DevsMcu({
  buttons: keyButtons,
  uart: uart,
  logRegister: true,
  logFrames: true,
  logKeys: true,
  hashFrames: false,
  mirrorFrames: true,
});
await mcu.run();
