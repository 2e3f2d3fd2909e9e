// The VM rig moved to sim/devs-vm.ts (the simulator's `--mcu vm` uses it, and production code must
// not import test helpers); tests and benchmarks keep importing it from here.
export { acquireVmLock, HUB_PORT, SerialPeer, type VmLine, VmRig } from "../../sim/devs-vm";
