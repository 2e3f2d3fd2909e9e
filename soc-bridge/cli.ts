// flipper-boot: the command line for people and FlipCTL. Talks to the daemon's control socket when
// a daemon runs, and directly to the MCU's serial port when none does; either way a request runs
// the one command table (link-commands.ts, store/commands.ts). Exit codes come from errors.ts.
import { bootedForStatus } from "./booted";
import { ControlConnectError, controlRequest, controlWatch, DEFAULT_SOCKET } from "./control";
import { BridgeError, ERROR_EXITS, EXIT_OK, exitFor } from "./errors";
import { LINK_COMMANDS, type LinkContext, linkCommand, runLinkCommand } from "./link-commands";
import { notifyReady } from "./notify";
import { UART_BAUD } from "../protocol/frame";
import { runsInProcess, storeExitCode } from "./store/base-commands";
import {
  isStoreCommand,
  isStoreGroup,
  runStoreCommand,
  STORE_FLAG_OPTIONS,
  STORE_VALUE_OPTIONS,
  type StoreOptions,
  storeHuman,
  storeRequest,
  storeUsage,
} from "./store/commands";
import { DEFAULT_BOOTED, DEFAULT_STORE } from "./store/layout";

function linkUsage(): string {
  return Object.values(LINK_COMMANDS)
    .map(
      (c) => "  " + (c.usage.length > 26 ? c.usage + "\n" + "".padEnd(29) : c.usage.padEnd(27)) + c.summary,
    )
    .join("\n");
}

const USAGE = `usage: flipper-boot [options] COMMAND [ARGS]

commands:
${linkUsage()}
  watch                      print MCU events (boot, default-changed, synced, link) as they come (needs the daemon)
  daemon                     run the daemon in the foreground

profile store (through the daemon when it runs, else directly on the store):
${storeUsage()}

options:
  --json                 machine-readable output (one JSON object on stdout)
  --socket PATH          daemon control socket (default ${DEFAULT_SOCKET}; env FLIPPER_BOOT_SOCKET)
  --port DEV             MCU UART when no daemon runs, or for the daemon (default /dev/ttyS4; env FLIPPER_BOOT_PORT)
  --baud N               (default ${UART_BAUD}; env FLIPPER_BOOT_BAUD)
  --store DIR            btrfs top level with @profiles (default ${DEFAULT_STORE}; env FLIPPER_BOOT_STORE)
  --boot-dir DIR         FAT boot partition (daemon, sync; default /boot; env FLIPPER_BOOT_BOOT_DIR; "none" = off)
  --fw-setenv CMD        write the U-Boot fallback with CMD (daemon; env FLIPPER_BOOT_FW_SETENV; default off)
  --fw-env-config FILE   passed to fw_setenv as -c FILE
  --state-dir DIR        daemon state (default /var/lib/flipper-boot)
  --group NAME           daemon: control socket mode 0660 for this group (default 0600, root only)
  --direct               do not use the daemon's socket; open the port
  --timeout-ms N         first reply timeout (default 250; doubles on each of 4 tries)
  --verbose              log frames (hex) on stderr
  --cmdline FILE         mark-good: where to read flipper.profile= (default /proc/cmdline)
  --booted FILE          what the initramfs booted (default ${DEFAULT_BOOTED}; env FLIPPER_BOOT_BOOTED)

exit codes: 0 ok, 1 refused or failed, 2 usage, 3 MCU not responding, 4 permission denied,
            5 profile store error (e.g. more profiles than the MCU holds), 6 protocol version mismatch,
            7 exists, 8 no such profile, 9 no such base, 10 no such snapshot, 11 filesystem full,
            12 store not btrfs, 13 bad send stream, 14 running profile, 15 conflicts, 16 busy, 17 in use`;

interface Opts {
  json: boolean;
  socket: string;
  port: string;
  baud: number;
  store: string;
  bootDir: string | null;
  fwSetenv: string | null;
  fwEnvConfig: string | null;
  stateDir: string;
  group: string | null;
  direct: boolean;
  timeoutMs: number;
  verbose: boolean;
  cmdline: string;
  action: string;
  timeout: string | null;
  show: string | null;
  maxTries: string | null;
  booted: string;
  storeOpts: StoreOptions;
  args: string[];
}

const VALUE_OPTS: Record<string, keyof Opts> = {
  "--socket": "socket",
  "--port": "port",
  "--baud": "baud",
  "--store": "store",
  "--boot-dir": "bootDir",
  "--fw-setenv": "fwSetenv",
  "--fw-env-config": "fwEnvConfig",
  "--state-dir": "stateDir",
  "--group": "group",
  "--timeout-ms": "timeoutMs",
  "--cmdline": "cmdline",
  "--action": "action",
  "--timeout": "timeout",
  "--show": "show",
  "--max-tries": "maxTries",
};

function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Opts {
  const bootEnv = env.FLIPPER_BOOT_BOOT_DIR ?? "/boot";
  const o: Opts = {
    json: false,
    socket: env.FLIPPER_BOOT_SOCKET || DEFAULT_SOCKET,
    port: env.FLIPPER_BOOT_PORT || "/dev/ttyS4",
    baud: Number(env.FLIPPER_BOOT_BAUD || UART_BAUD),
    store: env.FLIPPER_BOOT_STORE || DEFAULT_STORE,
    bootDir: bootEnv === "none" ? null : bootEnv,
    fwSetenv: env.FLIPPER_BOOT_FW_SETENV || null,
    fwEnvConfig: env.FLIPPER_BOOT_FW_ENV_CONFIG || null,
    stateDir: env.FLIPPER_BOOT_STATE_DIR || "/var/lib/flipper-boot",
    group: env.FLIPPER_BOOT_GROUP || null,
    direct: false,
    timeoutMs: 250,
    verbose: false,
    cmdline: "/proc/cmdline",
    action: "boot",
    timeout: null,
    show: null,
    maxTries: null,
    booted: env.FLIPPER_BOOT_BOOTED || DEFAULT_BOOTED,
    storeOpts: {},
    args: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf("=");
    const name = a.startsWith("--") && eq > 0 ? a.slice(0, eq) : a;
    const key = VALUE_OPTS[name];
    if (key) {
      let v: string;
      if (eq > 0 && a.startsWith("--")) v = a.slice(eq + 1);
      else {
        if (i + 1 >= argv.length) throw new BridgeError("usage", name + " needs a value");
        v = argv[++i];
      }
      if (key === "baud" || key === "timeoutMs") {
        const n = Number(v);
        if (!Number.isInteger(n) || n <= 0)
          throw new BridgeError("usage", name + " " + JSON.stringify(v) + " must be a positive whole number");
        (o as unknown as Record<string, unknown>)[key] = n;
      } else if (key === "bootDir") {
        o.bootDir = v === "none" ? null : v;
      } else {
        (o as unknown as Record<string, unknown>)[key] = v;
      }
    } else if ((STORE_VALUE_OPTIONS as readonly string[]).includes(name)) {
      if (eq < 0 && i + 1 >= argv.length) throw new BridgeError("usage", name + " needs a value");
      o.storeOpts[name.slice(2)] = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (name === "--booted") o.booted = o.storeOpts.booted as string;
    } else if ((STORE_FLAG_OPTIONS as readonly string[]).includes(a)) o.storeOpts[a.slice(2)] = true;
    else if (a === "--json") o.json = true;
    else if (a === "--verbose" || a === "-v") o.verbose = true;
    else if (a === "--direct") o.direct = true;
    else if (a === "--help" || a === "-h") o.args.unshift("help");
    else if (a.startsWith("-") && a !== "-") throw new BridgeError("usage", "unknown option " + a);
    else o.args.push(a);
  }
  return o;
}

/** The request for a command (its arguments validated). */
function toRequest(cmd: string, o: Opts): { cmd: string; args: Record<string, unknown> } {
  for (const k of Object.keys(o.storeOpts))
    if (k !== "booted" && !isStoreGroup(cmd))
      throw new BridgeError("usage", "option --" + k + " does not apply to " + cmd);
  const c = linkCommand(cmd);
  if (c) return { cmd, args: c.request(o.args.slice(1), o) };
  if (isStoreGroup(cmd)) return storeRequest(o.args, o.storeOpts);
  throw new BridgeError("usage", "unknown command " + JSON.stringify(cmd) + "\n" + USAGE);
}

function human(cmd: string, r: Record<string, unknown>): string {
  const c = linkCommand(cmd);
  return c ? c.human(r) : storeHuman(cmd, r);
}

// ---- direct mode (no daemon): the same command table on the CLI's own link ----------------------

async function direct(req: { cmd: string; args: Record<string, unknown> }, o: Opts): Promise<unknown> {
  if (isStoreCommand(req.cmd))
    return runStoreCommand(req.cmd, req.args, { store: o.store, booted: o.booted, cmdline: o.cmdline });
  const { openSerial } = await import("./serial");
  const { McuLink } = await import("./link");
  const { syncStoreOnce } = await import("./sync");
  let transport: Awaited<ReturnType<typeof openSerial>>;
  try {
    transport = await openSerial(o.port, o.baud);
  } catch (e) {
    throw new BridgeError("port", (e as Error).message + " (and no daemon answers on " + o.socket + ")");
  }
  transport.onClose(() => {});
  const say = (l: string) => process.stderr.write("flipper-boot: " + l + "\n");
  const link = new McuLink(transport, {
    timeoutMs: o.timeoutMs,
    verbose: o.verbose,
    log: (l) => process.stderr.write(l + "\n"),
  });
  const ctx: LinkContext = {
    link: () => link,
    mcuUnavailable: () => "",
    daemonStatus: () => null,
    sync: () => syncStoreOnce(link, { store: o.store, bootDir: o.bootDir, say }),
    store: o.store,
    // The CLI prints the result itself.
    changed: () => {},
  };
  try {
    await link.hello();
    return await runLinkCommand(req.cmd, req.args, ctx);
  } finally {
    await link.close().catch(() => {});
  }
}

// ---- daemon -----------------------------------------------------------------------------------

async function runDaemon(o: Opts): Promise<number> {
  const { startDaemon } = await import("./daemon");
  const d = await startDaemon({
    port: o.port,
    baud: o.baud,
    store: o.store,
    bootDir: o.bootDir,
    fwSetenv: o.fwSetenv,
    fwEnvConfig: o.fwEnvConfig,
    stateDir: o.stateDir,
    socket: o.socket,
    socketGroup: o.group,
    timeoutMs: o.timeoutMs,
    verbose: o.verbose,
    booted: o.booted,
    cmdline: o.cmdline,
  });
  process.stderr.write(
    "flipper-boot: daemon started on " + o.port + ", store " + o.store + ", socket " + o.socket + "\n",
  );
  const notifyError = await notifyReady("serving " + o.socket + ", MCU on " + o.port);
  if (notifyError) process.stderr.write("flipper-boot: " + notifyError + "\n");
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  await d.stop();
  process.stderr.write("flipper-boot: daemon stopped\n");
  return EXIT_OK;
}

// ---- watch ------------------------------------------------------------------------------------

function describeEvent(ev: { event: string; data: unknown }): string {
  const d = ev.data as Record<string, unknown>;
  switch (ev.event) {
    case "boot":
      return "boot: " + d.id + " (sequence " + d.sequence + ", try " + d.tryNumber + "/" + d.maxTries + ")";
    case "default-changed":
      return "default changed in the menu: " + d.default;
    case "synced":
      return d.kind + " sync: " + d.count + " profiles, generation " + d.generation + ", " + d.ms + " ms";
    case "link":
      return "link: " + d.link + (d.error ? " (" + d.error + ")" : "");
    case "status":
      return "watching: link " + d.link + ", " + d.profiles + " profiles, generation " + d.generation;
    default:
      return ev.event + ": " + JSON.stringify(d);
  }
}

async function watch(o: Opts, fail: (m: string, code: number) => number): Promise<number> {
  try {
    const w = await controlWatch(o.socket, (ev) => {
      process.stdout.write((o.json ? JSON.stringify(ev) : describeEvent(ev)) + "\n");
    });
    const stop = () => w.stop();
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    await w.done;
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
    return EXIT_OK;
  } catch (e) {
    if (e instanceof ControlConnectError && e.reason === "absent")
      return fail(e.message + " (watch needs the daemon)", e.exit);
    return fail((e as Error).message, exitOf(e));
  }
}

/** The exit code for anything thrown: a BridgeError's own, else a failure. */
function exitOf(e: unknown): number {
  return e instanceof BridgeError ? e.exit : ERROR_EXITS.internal;
}

// ---- main -------------------------------------------------------------------------------------

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let o: Opts;
  try {
    o = parseArgs(argv, env);
  } catch (e) {
    process.stderr.write("flipper-boot: " + (e as Error).message + "\n" + USAGE + "\n");
    return ERROR_EXITS.usage;
  }
  const cmd = o.args[0] ?? "status";
  if (cmd === "help") {
    process.stdout.write(USAGE + "\n");
    return EXIT_OK;
  }
  const fail = (message: string, code: number): number => {
    if (o.json) process.stdout.write(JSON.stringify({ ok: false, error: message, exit: code }) + "\n");
    process.stderr.write("flipper-boot: " + message + "\n");
    return code;
  };
  if (cmd === "daemon") {
    try {
      return await runDaemon(o);
    } catch (e) {
      return fail((e as Error).message, exitOf(e));
    }
  }
  if (cmd === "watch") return watch(o, fail);
  let req: { cmd: string; args: Record<string, unknown> };
  try {
    req = toRequest(cmd, o);
  } catch (e) {
    return fail((e as Error).message, e instanceof BridgeError ? e.exit : ERROR_EXITS.usage);
  }
  let result: unknown;
  try {
    let viaDaemon = false;
    if (!o.direct && !runsInProcess(req.cmd)) {
      try {
        const reply = await controlRequest(o.socket, req.cmd, req.args);
        viaDaemon = true;
        if (!reply.ok) return fail(reply.error ?? "the daemon refused", exitFor(reply.code));
        result = reply.result;
      } catch (e) {
        if (!(e instanceof ControlConnectError)) throw e;
        if (e.reason !== "absent") return fail(e.message, e.exit);
      }
    }
    if (!viaDaemon) result = await direct(req, o);
  } catch (e) {
    return fail((e as Error).message, exitOf(e));
  }
  if (req.cmd === "status") result = { ...(result as object), booted: bootedForStatus(o.booted) };
  if (o.json) process.stdout.write(JSON.stringify({ ok: true, command: req.cmd, result }) + "\n");
  else process.stdout.write(human(req.cmd, result as Record<string, unknown>) + "\n");
  return storeExitCode(req.cmd, result);
}

const isMain = (() => {
  const argv1 = process.argv[1] ?? "";
  return /(^|[/\\])(cli\.ts|flipper-boot(\.mjs)?)$/.test(argv1);
})();

if (isMain) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write("flipper-boot: internal error: " + ((e as Error).stack ?? String(e)) + "\n");
      process.exitCode = ERROR_EXITS.internal;
    },
  );
}
