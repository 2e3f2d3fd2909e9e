// The REAL MCU endpoint (mcu/core BootCore with mcu/node MemoryFlash) on one end of a socat pty pair,
// driven the way the Node adapter drives it: UART bytes in, frames out, flash writes applied in order
// after every input. (When mcu/node NodeMcu lands, this helper switches to it; the interface stays.)
import { BootCore } from "../../mcu/core/core";
import { MemoryFlash } from "../../mcu/node/flash";
import type { McuState } from "../../protocol/messages";
import type { ProfileRecord } from "../../protocol/profile";
import type { Transport } from "../../soc-bridge/link";
import { openSerial } from "../../soc-bridge/serial";
import { openPtyPair, type PtyPair } from "./pty";

export interface McuEndpoint {
  /** Where the bridge connects (a pty path). */
  port: string;
  flash: MemoryFlash;
  profiles(): ProfileRecord[];
  state(): McuState;
  /** Simulated MCU reset: RAM lost, flash kept, new instance, EVENT_HELLO sent. */
  restart(): Promise<void>;
  /** Bytes received from the bridge, every chunk (for observers). */
  onRx: (chunk: Uint8Array) => void;
  close(): Promise<void>;
}

/** Runs the real MCU core on `mcuSide` (a pty path); `port` reported to the bridge is `bridgeSide`. */
export async function startMcuOn(
  mcuSide: string,
  bridgeSide: string,
  flash = new MemoryFlash(),
): Promise<McuEndpoint> {
  const t: Transport = await openSerial(mcuSide);
  t.onClose(() => {});
  let instance = 0x5eed0001;
  let core: BootCore;
  const t0 = Date.now();
  const boot = () => {
    core = new BootCore(
      {
        send: (bytes) => {
          t.write(Uint8Array.from(bytes)).catch(() => {});
        },
        final: () => {},
      },
      { instance: instance++ },
    );
    core.load(flash);
    core.start(Date.now() - t0);
    flash.writeAll(core.takeWrites());
  };
  boot();
  const tick = setInterval(() => {
    core.tick(Date.now() - t0);
    flash.writeAll(core.takeWrites());
  }, 20);
  const ep: McuEndpoint = {
    port: bridgeSide,
    flash,
    profiles: () => core.profiles(),
    state: () => core.state(),
    restart: async () => {
      boot();
    },
    onRx: () => {},
    close: async () => {
      clearInterval(tick);
      await t.close();
    },
  };
  t.onData((chunk) => {
    ep.onRx(chunk);
    core.uartReceive(Array.from(chunk), Date.now() - t0);
    flash.writeAll(core.takeWrites());
  });
  return ep;
}

/** A pty pair with the real MCU core on one end; the bridge connects to `port`. */
export async function realMcuOnPty(flash?: MemoryFlash): Promise<McuEndpoint & { pty: PtyPair }> {
  const pty = await openPtyPair();
  const ep = await startMcuOn(pty.b, pty.a, flash);
  const close = ep.close;
  return Object.assign(ep, {
    pty,
    close: async () => {
      await close();
      await pty.close();
    },
  });
}
