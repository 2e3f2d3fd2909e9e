// The REAL MCU endpoint for soc-bridge tests: mcu/node NodeMcu (the mcu/core BootCore with a
// MemoryFlash and a real-clock tick) on one end of a socat pty pair, opened with the real
// serialport bindings. The bridge connects to `port`.
import { MemoryFlash } from "../../mcu/node/flash";
import { type Frame, FrameDecoder, MAX_WIRE_FRAME } from "../../protocol/frame";
import { NodeMcu } from "../../mcu/node/mcu";
import type { McuState } from "../../protocol/messages";
import type { ProfileRecord } from "../../protocol/profile";
import { openPtyPair, type PtyPair } from "./pty";

export interface McuEndpoint {
  /** Where the bridge connects (a pty path). */
  port: string;
  mcu: NodeMcu;
  flash: MemoryFlash;
  profiles(): ProfileRecord[];
  state(): McuState;
  /** Simulated MCU reset: RAM lost, flash kept, new instance, EVENT_HELLO sent. */
  restart(): Promise<void>;
  /** Every intact frame the MCU received from the bridge, in order. */
  received: Frame[];
  close(): Promise<void>;
}

/** Runs NodeMcu on `mcuSide` (a pty path); the bridge is told to use `bridgeSide`. */
export async function startMcuOn(
  mcuSide: string,
  bridgeSide: string,
  flash = new MemoryFlash(),
  start = true,
): Promise<McuEndpoint> {
  const mcu = new NodeMcu({ serialPath: mcuSide, flash });
  const received: Frame[] = [];
  const dec = new FrameDecoder(MAX_WIRE_FRAME);
  mcu.on("uart-rx", (bytes) =>
    dec.push(
      bytes,
      (f) => received.push(f),
      () => {},
    ),
  );
  if (start) await mcu.start();
  return {
    received,
    port: bridgeSide,
    mcu,
    flash,
    profiles: () => mcu.profiles(),
    state: () => mcu.state(),
    restart: () => mcu.restart(),
    close: () => mcu.stop(),
  };
}

/** A pty pair with NodeMcu on one end. */
export async function realMcuOnPty(
  flash?: MemoryFlash,
  start = true,
): Promise<McuEndpoint & { pty: PtyPair }> {
  const pty = await openPtyPair();
  const ep = await startMcuOn(pty.b, pty.a, flash, start);
  return {
    ...ep,
    pty,
    close: async () => {
      await ep.close();
      await pty.close();
    },
  };
}
