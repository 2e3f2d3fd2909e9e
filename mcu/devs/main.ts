// The DeviceScript program for the RP2350 (`npm run mcu:build` compiles it): 13 Button roles for the
// keys, a Serial role for the UART link, the settings service as flash, an Image for the screen.
// Roles bind in alphabetical order of their names, so the key roles are named k00..k12 in Key order.
import { DevsMcu } from "./adapter";
import { keyButtons, uart } from "./roles";

const mcu = new DevsMcu({
  buttons: keyButtons,
  uart: uart,
  logRegister: true,
  logFrames: true,
  logKeys: true,
  hashFrames: false,
  mirrorFrames: false,
});
await mcu.run();
