// Tells systemd the daemon is ready (flipper-boot.service is Type=notify, so units ordered after it,
// such as mark-good, start only once its control socket listens). The notify socket is a Unix
// datagram socket, which Node cannot open: systemd-notify(1) sends the message for us. It waits for
// systemd to take it (its barrier), so the message is never lost to the sender exiting first; the
// unit sets NotifyAccess=all because the sender is our child, not the main process.
import { execFile } from "node:child_process";

/** Sends `--ready` and a status line when $NOTIFY_SOCKET is set; returns an error text or null. */
export function notifyReady(status: string, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  if (!env.NOTIFY_SOCKET) return Promise.resolve(null);
  return new Promise((resolve) => {
    execFile(
      "systemd-notify",
      ["--ready", "--status=" + status],
      { env, timeout: 30_000 },
      (err, _out, stderr) => {
        resolve(err ? "systemd-notify --ready failed: " + (stderr.trim() || err.message) : null);
      },
    );
  });
}
