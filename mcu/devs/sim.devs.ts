// The simulator's entry (sim/mcu-vm.ts, `--mcu vm`): main.ts with each frame's pixels mirrored as
// `PIX` lines, so the simulator shows and compares the pixels the program drew.
import { BandMirror } from "./band-observers";
import { runProgram } from "./program";

await runProgram(new BandMirror());
