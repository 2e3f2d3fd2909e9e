// flipper-boot: the command line for people and FlipCTL. Talks to the daemon's control socket when
// a daemon runs, and directly to the MCU's serial port when none does. See README.md for exit codes.
import { ShowMenu } from "../protocol/messages";
import { bootedForStatus, describeBooted, markGoodDecision } from "./booted";
import type { McuState } from "../protocol/messages";
import { ControlConnectError, controlRequest, controlWatch, DEFAULT_SOCKET } from "./control";
import type { McuLink } from "./link";
import type { OptionsChange } from "./ops";
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
import { runsInProcess, storeExitCode } from "./store/base-commands";
import { STORE_ERRORS } from "./store/errors";
import { DEFAULT_BOOTED, DEFAULT_STORE } from "./store/layout";
import { listStaged } from "./store/profiles";
import { notifyReady } from "./notify";

export const EXIT = {
  OK: 0,
  /** The MCU refused the request, or a sync failed. */
  FAILED: 1,
  USAGE: 2,
  /** The MCU does not answer, or its serial port cannot be opened. */
  NOT_RESPONDING: 3,
  /** The control socket refused this user. */
  PERMISSION: 4,
  /** The profile store cannot be used (more profiles than the MCU holds, unreadable store). */
  STORE: 5,
  /** The MCU speaks no protocol version this bridge knows. */
  VERSION: 6,
} as const;

const USAGE = `usage: flipper-boot [options] COMMAND [ARGS]

commands:
  status                     link, sync and MCU state (default, next, last boot, options)
  list                       the profiles the MCU holds, in menu order
  set-default ID|last-used   the profile booted when nobody picks one
  next ID [--action A]       one-shot: boot ID at the next power-on only (A: boot, recovery, reset)
  clear-next                 cancel the one-shot
  mark-good                  confirm the running boot (run after boot-complete.target)
  sync                       full sync of the profile store to the MCU now
  watch                      print MCU events (boot, default-changed, synced, link) as they come (needs the daemon)
  options [--timeout S] [--show always|on-key] [--max-tries N]
  daemon                     run the daemon in the foreground

profile store (through the daemon when it runs, else directly on the store):
${storeUsage()}

options:
  --json                 machine-readable output (one JSON object on stdout)
  --socket PATH          daemon control socket (default ${DEFAULT_SOCKET}; env FLIPPER_BOOT_SOCKET)
  --port DEV             MCU UART when no daemon runs, or for the daemon (default /dev/ttyS4; env FLIPPER_BOOT_PORT)
  --baud N               (default 1500000; env FLIPPER_BOOT_BAUD)
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

class CliError extends Error {
  constructor(
    message: string,
    readonly exit: number,
  ) {
    super(message);
  }
}

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
    baud: Number(env.FLIPPER_BOOT_BAUD || 1500000),
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
        if (i + 1 >= argv.length) throw new CliError(name + " needs a value", EXIT.USAGE);
        v = argv[++i];
      }
      if (key === "baud" || key === "timeoutMs") {
        const n = Number(v);
        if (!Number.isInteger(n) || n <= 0)
          throw new CliError(name + " " + JSON.stringify(v) + " must be a positive whole number", EXIT.USAGE);
        (o as unknown as Record<string, unknown>)[key] = n;
      } else if (key === "bootDir") {
        o.bootDir = v === "none" ? null : v;
      } else {
        (o as unknown as Record<string, unknown>)[key] = v;
      }
    } else if ((STORE_VALUE_OPTIONS as readonly string[]).includes(name)) {
      if (eq < 0 && i + 1 >= argv.length) throw new CliError(name + " needs a value", EXIT.USAGE);
      o.storeOpts[name.slice(2)] = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (name === "--booted") o.booted = o.storeOpts.booted as string;
    } else if ((STORE_FLAG_OPTIONS as readonly string[]).includes(a)) o.storeOpts[a.slice(2)] = true;
    else if (a === "--json") o.json = true;
    else if (a === "--verbose" || a === "-v") o.verbose = true;
    else if (a === "--direct") o.direct = true;
    else if (a === "--help" || a === "-h") o.args.unshift("help");
    else if (a.startsWith("-") && a !== "-") throw new CliError("unknown option " + a, EXIT.USAGE);
    else o.args.push(a);
  }
  return o;
}

function exitFor(code: string | undefined): number {
  switch (code) {
    case "usage":
      return EXIT.USAGE;
    case "timeout":
    case "closed":
      return EXIT.NOT_RESPONDING;
    case "version":
      return EXIT.VERSION;
    case "limit":
    case "store":
      return EXIT.STORE;
    default:
      if (code !== undefined && Object.hasOwn(STORE_ERRORS, code))
        return STORE_ERRORS[code as keyof typeof STORE_ERRORS];
      return EXIT.FAILED;
  }
}

function parseOptionsChange(o: Opts): OptionsChange {
  const change: OptionsChange = {};
  if (o.timeout !== null) {
    const n = Number(o.timeout);
    if (!Number.isInteger(n) || n < 0 || n > 60) {
      throw new CliError(
        "--timeout " + JSON.stringify(o.timeout) + " is invalid: must be 0 to 60 seconds",
        EXIT.USAGE,
      );
    }
    change.timeoutSeconds = n;
  }
  if (o.show !== null) {
    if (o.show !== "always" && o.show !== "on-key") {
      throw new CliError(
        "--show " + JSON.stringify(o.show) + " is invalid: must be always or on-key",
        EXIT.USAGE,
      );
    }
    change.showMenu = o.show === "always" ? ShowMenu.ALWAYS : ShowMenu.ON_KEY;
  }
  if (o.maxTries !== null) {
    const n = Number(o.maxTries);
    if (!Number.isInteger(n) || n < 1 || n > 10) {
      throw new CliError(
        "--max-tries " + JSON.stringify(o.maxTries) + " is invalid: must be 1 to 10",
        EXIT.USAGE,
      );
    }
    change.maxTries = n;
  }
  if (Object.keys(change).length === 0) {
    throw new CliError("options needs at least one of --timeout, --show, --max-tries", EXIT.USAGE);
  }
  return change;
}

/** The control-socket request for a command (also validates its arguments). */
function toRequest(cmd: string, o: Opts): { cmd: string; args: Record<string, unknown> } {
  for (const k of Object.keys(o.storeOpts))
    if (k !== "booted" && !isStoreGroup(cmd))
      throw new CliError("option --" + k + " does not apply to " + cmd, EXIT.USAGE);
  const need = (n: number, what: string) => {
    if (o.args.length !== n + 1) throw new CliError(cmd + " needs " + what, EXIT.USAGE);
  };
  switch (cmd) {
    case "status":
    case "list":
    case "clear-next":
    case "sync":
      need(0, "no arguments");
      return { cmd, args: {} };
    case "set-default":
      need(1, "one argument: a profile id or last-used");
      return { cmd, args: { target: o.args[1] } };
    case "next":
      need(1, "one argument: a profile id");
      return { cmd, args: { id: o.args[1], action: o.action } };
    case "mark-good": {
      need(0, "no arguments");
      // /run/flipper/booted decides (boot or reset, no deviation); without it, the command line.
      const d = markGoodDecision(o.booted, o.cmdline);
      if (d.refuse) throw new CliError(d.refuse, EXIT.FAILED);
      return { cmd, args: { running: d.running } };
    }
    case "options":
      need(0, "only --timeout, --show, --max-tries");
      return { cmd, args: parseOptionsChange(o) as Record<string, unknown> };
    default:
      if (isStoreGroup(cmd)) return storeRequest(o.args, o.storeOpts);
      throw new CliError("unknown command " + JSON.stringify(cmd) + "\n" + USAGE, EXIT.USAGE);
  }
}

// ---- human output -----------------------------------------------------------------------------

type Described = ReturnType<typeof import("./ops").describeState>;

function human(cmd: string, r: Record<string, unknown>): string {
  switch (cmd) {
    case "status": {
      const lines: string[] = [];
      const d = r.daemon as Record<string, unknown> | undefined;
      if (d) {
        const ls = d.lastSync as { kind: string; generation: number; ms: number } | null;
        lines.push("daemon:    running, link " + d.link + (d.linkError ? " (" + d.linkError + ")" : ""));
        lines.push(
          "sync:      " +
            (d.inSync ? "in sync" : "not in sync") +
            ", " +
            d.profiles +
            " profiles, generation " +
            d.generation +
            (ls ? " (last " + ls.kind + " sync " + ls.ms + " ms)" : ""),
        );
        if (d.error) lines.push("error:     " + d.error);
        for (const s of d.skipped as string[]) lines.push("skipped:   " + s);
        for (const s of (d.pending as string[] | undefined) ?? [])
          lines.push("pending:   " + s + " (being written)");
      } else {
        lines.push("daemon:    not running (talked to the port directly)");
      }
      const m = r.mcu as Described | null;
      if (m) {
        lines.push(
          "mcu:       " + m.profileCount + " of " + m.maxProfiles + " profiles, generation " + m.generation,
        );
        lines.push("default:   " + m.default);
        lines.push(
          "next:      " +
            (m.next ? m.next.id + (m.next.action !== "boot" ? " (" + m.next.action + ")" : "") : "-"),
        );
        lines.push(
          "menu:      timeout " +
            m.options.timeoutSeconds +
            " s, show " +
            m.options.show +
            ", max tries " +
            m.options.maxTries,
        );
        lines.push("last good: " + (m.lastGood ?? "-"));
        const b = m.lastBoot;
        lines.push(
          "last boot: " +
            (b
              ? b.id +
                " (sequence " +
                b.sequence +
                ", " +
                b.reason +
                ", try " +
                b.try +
                "/" +
                b.maxTries +
                (b.good ? ", good" : ", not yet marked good") +
                ")"
              : "-"),
        );
      } else if (r.mcuError) {
        lines.push("mcu:       " + r.mcuError);
      }
      for (const s of (r.staged ?? []) as Array<{ id: string; action: string; stamp?: string }>)
        lines.push(
          "staged:    " + s.action + (s.stamp ? " to " + s.stamp : "") + " at the next boot of " + s.id,
        );
      lines.push(...describeBooted(r.booted as Parameters<typeof describeBooted>[0]));
      return lines.join("\n");
    }
    case "list": {
      const st = r.state as Described;
      const ps = r.profiles as Array<Record<string, unknown>>;
      if (ps.length === 0) return "the MCU holds no profiles (generation " + r.generation + ")";
      const rows = ps.map((p) => {
        const marks =
          (st.default === p.id ? "*" : " ") +
          (st.next && st.next.id === p.id ? ">" : " ") +
          (st.lastGood === p.id ? "+" : " ");
        const flags = [p.hidden ? "hidden" : "", p.protected ? "protected" : ""].filter((x) => x).join(",");
        return (
          marks +
          " " +
          String(p.id).padEnd(20) +
          " " +
          String(p.name).padEnd(24) +
          " " +
          String(p.base).padEnd(11) +
          (flags ? " " + flags : "")
        );
      });
      return rows.join("\n") + "\n(* default, > next boot, + last good; generation " + r.generation + ")";
    }
    case "set-default":
      return "default: " + r.default;
    case "next":
      return "next boot: " + r.next + " (once)";
    case "clear-next":
      return "next boot cleared";
    case "mark-good":
      return String(r.message);
    case "sync": {
      const k = r.kind === "verified" ? "already in sync" : r.kind === "full" ? "synced" : "sent changes";
      return (
        k +
        ": " +
        r.count +
        " profiles, generation " +
        r.generation +
        ", " +
        r.ms +
        " ms, " +
        r.bytes +
        " wire bytes"
      );
    }
    case "options": {
      return (
        "menu: timeout " +
        r.timeoutSeconds +
        " s, show " +
        (r.showMenu === 1 ? "always" : "on-key") +
        ", max tries " +
        r.maxTries
      );
    }
    default:
      return storeHuman(cmd, r);
  }
}

// ---- direct mode (no daemon) ------------------------------------------------------------------

async function direct(req: { cmd: string; args: Record<string, unknown> }, o: Opts): Promise<unknown> {
  if (isStoreCommand(req.cmd))
    return runStoreCommand(req.cmd, req.args, { store: o.store, booted: o.booted, cmdline: o.cmdline });
  const { openSerial } = await import("./serial");
  const { McuLink } = await import("./link");
  const ops = await import("./ops");
  let transport: Awaited<ReturnType<typeof openSerial>>;
  try {
    transport = await openSerial(o.port, o.baud);
  } catch (e) {
    throw new CliError(
      (e as Error).message + " (and no daemon answers on " + o.socket + ")",
      EXIT.NOT_RESPONDING,
    );
  }
  transport.onClose(() => {});
  const link: McuLink = new McuLink(transport, {
    timeoutMs: o.timeoutMs,
    verbose: o.verbose,
    log: (l) => process.stderr.write(l + "\n"),
  });
  try {
    await link.hello();
    const a = req.args;
    switch (req.cmd) {
      case "status":
        return {
          daemon: null,
          mcu: ops.describeState(await ops.getState(link)),
          staged: await listStaged(o.store),
        };
      case "list": {
        const st: McuState = await ops.getState(link);
        const l = await ops.readMcuList(link);
        return {
          generation: l.generation,
          state: ops.describeState(st),
          profiles: l.records.map(ops.describeRecord),
        };
      }
      case "set-default":
        await ops.setDefault(link, a.target as string);
        return { default: a.target };
      case "next":
        await ops.setNext(link, a.id as string, a.action as string);
        return { next: a.id };
      case "clear-next":
        await ops.clearNext(link);
        return { next: null };
      case "mark-good":
        return await ops.markGood(link, (a.running as string | null) ?? null);
      case "options":
        return await ops.setOptions(link, a as OptionsChange);
      case "sync":
        return await directSync(link, o);
      default:
        throw new CliError("unknown command " + req.cmd, EXIT.USAGE);
    }
  } finally {
    await link.close().catch(() => {});
  }
}

async function directSync(link: McuLink, o: Opts): Promise<unknown> {
  const ops = await import("./ops");
  const { readStoreSettled, records } = await import("./profile-store");
  const { writeFragments } = await import("./boot-files");
  const { MAX_PROFILES } = await import("../protocol/profile");
  const t0 = performance.now();
  const b0 = link.stats.bytesIn + link.stats.bytesOut;
  // A profile.json caught mid-write is read again once it settles, not synced as a bad profile.
  const snap = await readStoreSettled(o.store);
  if (snap.error) throw new CliError(snap.error, EXIT.STORE);
  for (const s of snap.skipped) process.stderr.write("flipper-boot: " + s.message + "\n");
  if (o.bootDir) {
    const r = await writeFragments(o.bootDir, snap.profiles);
    for (const e of [...r.errors, ...r.warnings]) process.stderr.write("flipper-boot: " + e + "\n");
  }
  const want = records(snap.profiles);
  const limit = Math.min(MAX_PROFILES, link.peer ? link.peer.maxProfiles : MAX_PROFILES);
  if (want.length > limit) {
    throw new CliError(
      "too many profiles: " + want.length + " valid profiles on disk, the MCU holds at most " + limit,
      EXIT.STORE,
    );
  }
  const { kind, generation } = await ops.syncWholeList(link, want);
  return {
    kind,
    generation,
    count: want.length,
    ms: Math.round(performance.now() - t0),
    bytes: link.stats.bytesIn + link.stats.bytesOut - b0,
    skipped: snap.skipped.map((s) => s.message),
  };
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
  return EXIT.OK;
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
    return EXIT.OK;
  } catch (e) {
    if (e instanceof ControlConnectError) {
      if (e.reason === "denied") return fail(e.message, EXIT.PERMISSION);
      return fail(e.message + " (watch needs the daemon)", EXIT.NOT_RESPONDING);
    }
    return fail((e as Error).message, EXIT.FAILED);
  }
}

// ---- main -------------------------------------------------------------------------------------

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let o: Opts;
  try {
    o = parseArgs(argv, env);
  } catch (e) {
    process.stderr.write("flipper-boot: " + (e as Error).message + "\n" + USAGE + "\n");
    return EXIT.USAGE;
  }
  const cmd = o.args[0] ?? "status";
  if (cmd === "help") {
    process.stdout.write(USAGE + "\n");
    return EXIT.OK;
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
      return fail((e as Error).message, EXIT.FAILED);
    }
  }
  if (cmd === "watch") return watch(o, fail);
  let req: { cmd: string; args: Record<string, unknown> };
  try {
    req = toRequest(cmd, o);
  } catch (e) {
    return fail((e as Error).message, e instanceof CliError ? e.exit : EXIT.USAGE);
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
        if (e.reason === "denied") return fail(e.message, EXIT.PERMISSION);
        if (e.reason !== "absent") return fail(e.message, EXIT.FAILED);
      }
    }
    if (!viaDaemon) result = await direct(req, o);
  } catch (e) {
    if (e instanceof CliError) return fail(e.message, e.exit);
    return fail((e as Error).message, exitFor((e as { code?: string }).code));
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
      process.exitCode = EXIT.FAILED;
    },
  );
}
