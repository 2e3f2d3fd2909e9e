// The simulated hardware the VM talks to, hosted by jacdac-ts: the keys are its ButtonServers, the
// UART peer a serial service (SerialPeer) whose bytes the rig reads and writes.
import { createRequire } from "node:module";
// Types from the declaration files directly: the package's exports map gives the ESM entry no types.
import type * as JacdacTypes from "../../node_modules/jacdac-ts/dist/types/src/jacdac";
import { UART_BAUD } from "../../protocol/frame";

// The CommonJS build on purpose: the ESM build's node socket transport calls require("net"), which
// does not exist in an ES module, so it never connects.
export const jd = createRequire(import.meta.url)("jacdac-ts") as typeof JacdacTypes;
export const {
  ButtonServer,
  createNodeSocketTransport,
  JDBus,
  JDServerServiceProvider,
  JDServiceServer,
  Packet,
  SRV_SERIAL,
  SRV_SETTINGS,
} = jd;
export type ButtonServer = JacdacTypes.ButtonServer;
export type JDBus = JacdacTypes.JDBus;
export type Packet = JacdacTypes.Packet;
export type JDService = JacdacTypes.JDService;

/** Device id of the simulated keys and UART (the VM is the other device on the bus). */
export const RIG_DEVICE_ID = "f1f1f1f1f1f1f1f1";
/** Settings service: command `get` (key) and its report (key, NUL, value). */
export const SETTINGS_GET = 0x80;
/** Keys the rig simulates (the Flipper One's 13). */
export const KEY_COUNT = 13;

/** ButtonServer's private press state (jacdac-ts 1.33), driven directly by keyDown/keyUp. */
export interface ButtonInternals {
  _downTime: number | undefined;
  _nextHold: number | undefined;
}

/** A Jacdac serial service whose bytes the test reads and writes. */
export class SerialPeer extends JDServiceServer {
  received: number[] = [];
  private dataListeners: Array<() => void> = [];
  constructor() {
    super(SRV_SERIAL);
    this.addRegister(1, [true]); // connected / enabled
    this.addRegister(0x80, [UART_BAUD]); // baud rate
    this.addRegister(0x81, [8]);
    this.addRegister(0x82, [1]);
    this.addRegister(0x83, [0]);
    this.addRegister(0x84, [256]);
    this.addCommand(0x80, (pkt: Packet) => {
      for (const b of pkt.data) this.received.push(b);
      for (const l of this.dataListeners) l();
    });
  }
  /** Sends bytes to the program (the "received" report, at most 200 bytes a packet). */
  async write(bytes: number[]): Promise<void> {
    for (let at = 0; at < bytes.length; at += 200) {
      await this.sendPacketAsync(Packet.from(0x80, Uint8Array.from(bytes.slice(at, at + 200))));
    }
  }
  onData(l: () => void): () => void {
    this.dataListeners.push(l);
    return () => {
      this.dataListeners = this.dataListeners.filter((x) => x !== l);
    };
  }
}
