// A fault-injecting relay between two pseudo-terminals: bytes from one side reach the other with
// drops, corruptions and duplicates at configurable rates (seeded PRNG, so a failure can be
// replayed), and whole frames can be duplicated. Observers see the frames as they were sent.
import { type Frame, FrameDecoder, MAX_WIRE_FRAME } from "../../protocol/frame";
import type { Transport } from "../../soc-bridge/link";
import { openSerial } from "../../soc-bridge/serial";
import { prng } from "./fuzz";

export interface FaultRates {
  /** Per byte. */
  drop: number;
  corrupt: number;
  duplicate: number;
  /** Per frame: the whole frame is sent twice. */
  duplicateFrame: number;
}

export const NO_FAULTS: FaultRates = { drop: 0, corrupt: 0, duplicate: 0, duplicateFrame: 0 };

export interface FaultProxy {
  /** Rates from the bridge to the MCU and back; change them at any time. */
  toMcu: FaultRates;
  toBridge: FaultRates;
  /** Called with every intact frame the bridge sends (before faults). */
  onBridgeFrame: (f: Frame) => void;
  onMcuFrame: (f: Frame) => void;
  stats: { bytesToMcu: number; bytesToBridge: number; faults: number };
  close(): Promise<void>;
}

/** Relays between `bridgeSide` and `mcuSide` (pty paths: the far ends of two socat pairs). */
export async function startFaultProxy(
  bridgeSide: string,
  mcuSide: string,
  seed: number,
): Promise<FaultProxy> {
  const rand = prng(seed);
  const a: Transport = await openSerial(bridgeSide);
  const b: Transport = await openSerial(mcuSide);
  a.onClose(() => {});
  b.onClose(() => {});
  const decA = new FrameDecoder(MAX_WIRE_FRAME);
  const decB = new FrameDecoder(MAX_WIRE_FRAME);
  const proxy: FaultProxy = {
    toMcu: { ...NO_FAULTS },
    toBridge: { ...NO_FAULTS },
    onBridgeFrame: () => {},
    onMcuFrame: () => {},
    stats: { bytesToMcu: 0, bytesToBridge: 0, faults: 0 },
    close: async () => {
      await a.close();
      await b.close();
    },
  };
  const pending: { a: number[]; b: number[] } = { a: [], b: [] };
  function relay(chunk: Uint8Array, rates: FaultRates, frame: number[], out: Transport): number {
    const o: number[] = [];
    for (const byte of chunk) {
      frame.push(byte);
      const r = rand();
      if (r < rates.drop) {
        proxy.stats.faults++;
      } else if (r < rates.drop + rates.corrupt) {
        o.push(byte ^ (1 + Math.floor(rand() * 255)));
        proxy.stats.faults++;
      } else if (r < rates.drop + rates.corrupt + rates.duplicate) {
        o.push(byte, byte);
        proxy.stats.faults++;
      } else {
        o.push(byte);
      }
      if (byte === 0) {
        if (rand() < rates.duplicateFrame) {
          for (const x of frame) o.push(x);
          proxy.stats.faults++;
        }
        frame.length = 0;
      }
    }
    out.write(Uint8Array.from(o)).catch(() => {});
    return o.length;
  }
  a.onData((chunk) => {
    decA.push(
      Array.from(chunk),
      (f) => proxy.onBridgeFrame(f),
      () => {},
    );
    proxy.stats.bytesToMcu += relay(chunk, proxy.toMcu, pending.a, b);
  });
  b.onData((chunk) => {
    decB.push(
      Array.from(chunk),
      (f) => proxy.onMcuFrame(f),
      () => {},
    );
    proxy.stats.bytesToBridge += relay(chunk, proxy.toBridge, pending.b, a);
  });
  return proxy;
}
