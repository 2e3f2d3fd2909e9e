// Test entry (test/mcu-devs-vm.test.ts): mcu/devs/main.ts with FRAMEHASH lines, so the VM's pixels
// can be compared with the Node Framebuffer's. Keep the options identical to main.ts (the roles are shared: roles.ts).
import { DevsMcu } from "./adapter";
import { keyButtons, uart } from "./roles";

const mcu = new DevsMcu({
  buttons: keyButtons,
  uart: uart,
  logRegister: true,
  logFrames: true,
  logKeys: true,
  hashFrames: true,
  mirrorFrames: false,
});
await mcu.run();
