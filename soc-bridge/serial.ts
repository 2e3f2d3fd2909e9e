// The serial-port transport for the link: the `serialport` package with its real bindings.
import { SerialPort } from "serialport";
import { UART_BAUD } from "../protocol/frame";
import type { Transport } from "./link";

/** Opens `path` raw at `baud`; rejects with a message naming the device when it cannot. */
export function openSerial(path: string, baud: number = UART_BAUD): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path: path, baudRate: baud, autoOpen: false, hupcl: false });
    port.open((err) => {
      if (err) {
        reject(new Error("cannot open serial port " + path + ": " + err.message));
        return;
      }
      let closing = false;
      let onClose: (why: string) => void = () => {};
      port.on("close", (e: Error | null) => {
        if (!closing) onClose(e ? e.message : "the port was closed");
      });
      port.on("error", (e: Error) => {
        if (!closing) onClose(e.message);
      });
      resolve({
        write(data: Uint8Array): Promise<void> {
          return new Promise((res, rej) => {
            port.write(Buffer.from(data), (e) => (e ? rej(e) : res()));
          });
        },
        onData(cb: (chunk: Uint8Array) => void): void {
          port.on("data", (chunk: Buffer) => cb(chunk));
        },
        onClose(cb: (why: string) => void): void {
          onClose = cb;
        },
        close(): Promise<void> {
          closing = true;
          return new Promise((res) => {
            if (!port.isOpen) {
              res();
              return;
            }
            port.close(() => res());
          });
        },
      });
    });
  });
}
