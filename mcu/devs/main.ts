// The DeviceScript program for the RP2350 (`npm run mcu:build` compiles it): 13 Button roles for the
// keys, a Serial role for the UART link, the settings service as flash, an Image for the screen
// (program.ts has the roles).
import { runProgram } from "./program";

await runProgram(null);
