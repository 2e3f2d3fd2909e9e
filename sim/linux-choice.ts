// Which Linux runs after U-Boot: the quick stand-in (or a stage the options give), or the real
// Debian under QEMU (linux: "real", sim/linux/live.ts), each with the FlipCTL that fits it.
import type { Simulation } from "./engine";
import { FlipCtl } from "./flipctl";
import { RealLinux } from "./linux/live";
import { GuestFlipCtl } from "./linux/live-flipctl";
import { type LinuxStage, StandinLinux } from "./linux-stage";
import type { SimulationOptions } from "./types";

export interface LinuxChoice {
  /** The real Linux, or null with the stand-in. */
  real: RealLinux | null;
  flipctl: FlipCtl;
  linux: LinuxStage;
}

/** `mcuTty`: the SoC end of the MCU's UART, which the real guest opens as its second serial port. */
export function chooseLinux(sim: Simulation, o: SimulationOptions, mcuTty: () => string): LinuxChoice {
  const log = (line: string) => sim.log("sim", line);
  const changed = () => {
    sim.emit("state");
  };
  if (o.linux === "real") {
    const real = new RealLinux({
      log: (source, line) => sim.log(source, line),
      emit: (event) => sim.emit(event),
      mcuTty,
      beforeBoot: () => stopHostBridge(sim),
      mcuMarkedGood: (profile) => mcuMarkedGood(sim, profile),
    });
    return { real, flipctl: new GuestFlipCtl(sim.storeDir, log, changed, real), linux: real };
  }
  const flipctl = new FlipCtl(sim.storeDir, log, changed);
  const makeLinux = o.linuxStage ?? ((host) => new StandinLinux(host));
  const linux = makeLinux({ flipctl, bridge: () => sim.bridge, mcuPresent: () => sim.mcu !== null });
  return { real: null, flipctl, linux };
}

/** The host's bridge steps aside for good: the guest's flipper-boot.service is the bridge now. */
async function stopHostBridge(sim: Simulation): Promise<void> {
  if (!sim.bridge) return;
  await sim.killBridge();
  sim.log("sim", "the host bridge stopped: the real Linux's flipper-boot.service is the bridge now");
}

/** Whether the MCU holds this boot of `profile` as marked good (null: it cannot tell). */
async function mcuMarkedGood(sim: Simulation, profile: string | null): Promise<boolean | null> {
  if (!sim.mcu || profile === null) return null;
  // NodeMcu directly; the VM through the guest's own bridge (the host's bridge is stopped).
  const st = await sim.mcuState();
  return st?.lastBoot ? st.lastBoot.id === profile && st.lastBoot.good : null;
}
