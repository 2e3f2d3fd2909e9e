// Sample device trees for the tests and the simulator's example boot partition: a base DTB with
// symbols and two overlays, one that applies to it and one whose target label is missing.
import { BOARDS } from "./qemu";

/** A base DTB (with symbols) the overlays apply to; node /flipper-test labelled `ftest`. */
export const TEST_BASE_DTS =
  '/dts-v1/;\n/ {\n compatible = "flipper,test";\n #address-cells = <1>;\n #size-cells = <1>;\n' +
  ' ftest: flipper-test {\n  status = "disabled";\n };\n};\n';
/** An overlay that applies to TEST_BASE_DTS (sets /flipper-test status = "okay"). */
export const TEST_OVERLAY_OK_DTS =
  '/dts-v1/;\n/plugin/;\n&ftest {\n status = "okay";\n flipper-overlay = "applied";\n};\n';
/** An overlay whose target label does not exist in TEST_BASE_DTS. */
export const TEST_OVERLAY_BAD_DTS = '/dts-v1/;\n/plugin/;\n&nosuchlabel {\n status = "okay";\n};\n';
/** The sabrelite board's ${fdtfile} (other boards: BOARDS[board].fdtfile). */
export const TEST_FDTFILE = BOARDS.sabrelite.fdtfile;
