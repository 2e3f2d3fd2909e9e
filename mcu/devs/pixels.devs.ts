// Test entry (test/mcu-devs-vm.test.ts): main.ts with FRAMEHASH lines, so the VM's pixels can be
// compared with the Node Framebuffer's.
import { BandHasher } from "./band-observers";
import { runProgram } from "./program";

await runProgram(new BandHasher());
