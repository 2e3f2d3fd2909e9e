// The daemon's side of the control socket (control.ts carries the lines): a request runs the one
// link-command table (link-commands.ts) or the store-command table (store/commands.ts); `watch`
// subscribes the connection to the daemon's events.
import type { EventEmitter } from "node:events";
import type { SetDefault } from "../protocol/messages";
import { type ControlServer, serveControl } from "./control";
import { BridgeError } from "./errors";
import { type LinkContext, linkCommand, runLinkCommand } from "./link-commands";
import { defaultName } from "./ops";
import { isStoreCommand, runStoreCommand } from "./store/commands";
import type { StoreContext } from "./store/profiles";

export interface DaemonSocketHooks {
  context: LinkContext;
  store: StoreContext;
  status(): unknown;
  linkError(): string;
  /** The daemon: boot, default-changed, synced and link events. */
  events: EventEmitter;
}

export function serveDaemonSocket(
  path: string,
  group: string | number | null,
  hooks: DaemonSocketHooks,
): Promise<ControlServer> {
  const command = async (cmd: string, args: Record<string, unknown>): Promise<unknown> => {
    if (linkCommand(cmd)) return runLinkCommand(cmd, args, hooks.context);
    if (isStoreCommand(cmd)) return runStoreCommand(cmd, args, hooks.store);
    throw new BridgeError("usage", "unknown command " + JSON.stringify(cmd));
  };
  // Forwards events to a watcher; returns the unsubscribe function.
  const watch = (emit: (ev: { event: string; data: unknown }) => void): (() => void) => {
    const on: Array<[string, (x: unknown) => void]> = [
      ["boot", (b) => emit({ event: "boot", data: b })],
      [
        "default-changed",
        (m) => {
          const v = m as SetDefault;
          emit({ event: "default-changed", data: { default: defaultName(v.mode, v.id) } });
        },
      ],
      ["synced", (s) => emit({ event: "synced", data: s })],
      ["link", (l) => emit({ event: "link", data: { link: l, error: hooks.linkError() } })],
    ];
    for (const [name, fn] of on) hooks.events.on(name, fn);
    // The current status first, so a watcher starts from the truth (and knows it is subscribed).
    emit({ event: "status", data: hooks.status() });
    return () => {
      for (const [name, fn] of on) hooks.events.off(name, fn);
    };
  };
  return serveControl(path, group, command, watch);
}
