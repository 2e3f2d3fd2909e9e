// The TCP hub the DeviceScript CLI's `devs run --tcp` connects to: it relays length-prefixed Jacdac
// frames between every client (the VM and jacdac-ts). The CLI fixes the port, hence acquireVmLock.
import { createServer, type Server, type Socket } from "node:net";
import { hexBytes } from "../../protocol/bytes";

/** The port the DeviceScript CLI's `--tcp` connects to (fixed by the CLI). */
export const HUB_PORT = 8082;

export interface Hub {
  server: Server;
  sockets: Set<Socket>;
}

/** Relays length-prefixed Jacdac frames between every connected client (the VM and jacdac-ts). */
export function startHub(): Promise<Hub> {
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.setNoDelay(true);
    let acc = Buffer.alloc(0);
    sock.on("data", (data: Buffer) => {
      acc = Buffer.concat([acc, data]);
      while (acc.length > 0) {
        let hdr = 1;
        let len = acc[0];
        if (len === 255) {
          if (acc.length < 3) break;
          len = acc[1] | (acc[2] << 8);
          hdr = 3;
        }
        if (acc.length < hdr + len) break;
        const frame = acc.subarray(hdr, hdr + len);
        acc = acc.subarray(hdr + len);
        if (len >= 255) continue; // no Jacdac frame is that long; the VM's reader could not take it
        const out = Buffer.concat([Buffer.from([len]), frame]);
        if (process.env.HUB_DEBUG)
          console.log(`hub ${sock.remotePort} -> ${len} ${hexBytes(frame.subarray(0, 16))}`);
        for (const s of sockets) if (s !== sock && !s.destroyed) s.write(out);
      }
    });
    sock.on("error", () => sockets.delete(sock));
    sock.on("close", () => sockets.delete(sock));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(HUB_PORT, "127.0.0.1", () => resolve({ server, sockets }));
  });
}

/** Closes the hub and every connection through it. */
export async function stopHub(hub: Hub): Promise<void> {
  for (const s of hub.sockets) s.destroy();
  await new Promise<void>((r) => hub.server.close(() => r()));
}
