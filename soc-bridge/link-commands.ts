// The one table of link commands (status, list, set-default, next, clear-next, mark-good, sync,
// options), as store/commands.ts is for the store: the CLI turns its words into a request
// {cmd, args}; the daemon's control socket and the CLI's direct mode (no daemon) both run that
// request here against a LinkContext, and the CLI prints its result with the entry's `human`.
// Requests from the socket are untrusted: every argument is type-checked here, every value by ops.ts.
import { MAX_TRIES_LIMIT, MENU_TIMEOUT_MAX, SHOW_MENU_NAMES, showMenuName } from "../protocol/messages";
import { describeBooted, markGoodDecision } from "./booted";
import { BridgeError } from "./errors";
import type { McuLink } from "./link";
import {
  clearNext,
  describeRecord,
  describeState,
  getState,
  markGood,
  type OptionsChange,
  readMcuList,
  setDefault,
  setNext,
  setOptions,
} from "./ops";
import { listStaged } from "./store/profiles";

type Args = Record<string, unknown>;

/** What a link command runs against: the daemon, or the CLI's own link when no daemon runs. */
export interface LinkContext {
  /** The link to the MCU (a `timeout` error when it is down). */
  link(): McuLink;
  /** Why the MCU cannot be asked now (the daemon answers `status` from what it knows), or "". */
  mcuUnavailable(): string;
  /** The daemon's own status, or null in the CLI's direct mode. */
  daemonStatus(): unknown;
  /** A full sync now (read back, transfer if different). */
  sync(): Promise<unknown>;
  store: string;
  /** After a change on the MCU: `line` says what; the daemon logs it and looks at the fallback again. */
  changed(line: string, affectsFallback: boolean): void;
}

/** What the CLI parsed beside the command words. */
export interface LinkCliValues {
  action: string;
  timeout: string | null;
  show: string | null;
  maxTries: string | null;
  booted: string;
  cmdline: string;
}

export interface LinkCommand {
  usage: string;
  summary: string;
  /** CLI words after the command -> its arguments (usage errors here). */
  request(words: string[], o: LinkCliValues): Args;
  run(ctx: LinkContext, args: Args): Promise<unknown>;
  human(r: Record<string, unknown>): string;
}

type Described = ReturnType<typeof describeState>;

function noWords(cmd: string, words: string[], what = "no arguments"): Args {
  if (words.length !== 0) throw new BridgeError("usage", cmd + " needs " + what);
  return {};
}

function oneWord(cmd: string, words: string[], what: string): string {
  if (words.length !== 1) throw new BridgeError("usage", cmd + " needs " + what);
  return words[0];
}

function str(args: Args, key: string): string {
  const v = args[key];
  if (typeof v !== "string") throw new BridgeError("usage", key + " must be a string");
  return v;
}

function wholeNumber(flag: string, v: string, min: number, max: number, rule: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new BridgeError("usage", flag + " " + JSON.stringify(v) + " is invalid: must be " + rule);
  }
  return n;
}

function optionsChange(o: LinkCliValues): OptionsChange {
  const change: OptionsChange = {};
  if (o.timeout !== null) {
    change.timeoutSeconds = wholeNumber(
      "--timeout",
      o.timeout,
      0,
      MENU_TIMEOUT_MAX,
      "0 to " + MENU_TIMEOUT_MAX + " seconds",
    );
  }
  if (o.show !== null) {
    const show = SHOW_MENU_NAMES.indexOf(o.show);
    if (show < 0) {
      throw new BridgeError(
        "usage",
        "--show " + JSON.stringify(o.show) + " is invalid: must be always or on-key",
      );
    }
    change.showMenu = show;
  }
  if (o.maxTries !== null) {
    change.maxTries = wholeNumber("--max-tries", o.maxTries, 1, MAX_TRIES_LIMIT, "1 to " + MAX_TRIES_LIMIT);
  }
  if (Object.keys(change).length === 0) {
    throw new BridgeError("usage", "options needs at least one of --timeout, --show, --max-tries");
  }
  return change;
}

function statusLines(r: Record<string, unknown>): string[] {
  const lines: string[] = [];
  const d = r.daemon as Record<string, unknown> | null | undefined;
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
    const next = m.next ? m.next.id + (m.next.action !== "boot" ? " (" + m.next.action + ")" : "") : "-";
    lines.push("next:      " + next);
    const o = m.options;
    lines.push("menu:      timeout " + o.timeoutSeconds + " s, show " + o.show + ", max tries " + o.maxTries);
    lines.push("last good: " + (m.lastGood ?? "-"));
    const b = m.lastBoot;
    const boot = b
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
      : "-";
    lines.push("last boot: " + boot);
  } else if (r.mcuError) {
    lines.push("mcu:       " + r.mcuError);
  }
  for (const s of (r.staged ?? []) as Array<{ id: string; action: string; stamp?: string }>)
    lines.push("staged:    " + s.action + (s.stamp ? " to " + s.stamp : "") + " at the next boot of " + s.id);
  lines.push(...describeBooted(r.booted as Parameters<typeof describeBooted>[0]));
  return lines;
}

function listLines(r: Record<string, unknown>): string {
  const st = r.state as Described;
  const ps = r.profiles as Array<ReturnType<typeof describeRecord>>;
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
      p.id.padEnd(20) +
      " " +
      p.name.padEnd(24) +
      " " +
      p.base.padEnd(11) +
      (flags ? " " + flags : "")
    );
  });
  return rows.join("\n") + "\n(* default, > next boot, + last good; generation " + r.generation + ")";
}

const SYNC_WORDS: Record<string, string> = {
  verified: "already in sync",
  full: "synced",
  delta: "sent changes",
};

export const LINK_COMMANDS: Record<string, LinkCommand> = {
  status: {
    usage: "status",
    summary: "link, sync and MCU state (default, next, last boot, options)",
    request: (w) => noWords("status", w),
    run: async (ctx) => {
      const daemon = ctx.daemonStatus();
      let mcu: Described | null = null;
      // The daemon answers at once from what it knows instead of waiting out the retries again.
      let mcuError = ctx.mcuUnavailable();
      if (mcuError === "") {
        try {
          mcu = describeState(await getState(ctx.link()));
        } catch (e) {
          if (daemon === null) throw e;
          mcuError = (e as Error).message;
        }
      }
      const staged = await listStaged(ctx.store);
      return daemon === null ? { daemon, mcu, staged } : { daemon, mcu, mcuError, staged };
    },
    human: (r) => statusLines(r).join("\n"),
  },
  list: {
    usage: "list",
    summary: "the profiles the MCU holds, in menu order",
    request: (w) => noWords("list", w),
    run: async (ctx) => {
      const link = ctx.link();
      const st = await getState(link);
      const l = await readMcuList(link);
      return { generation: l.generation, state: describeState(st), profiles: l.records.map(describeRecord) };
    },
    human: listLines,
  },
  "set-default": {
    usage: "set-default ID|last-used",
    summary: "the profile booted when nobody picks one",
    request: (w) => ({ target: oneWord("set-default", w, "one argument: a profile id or last-used") }),
    run: async (ctx, a) => {
      const target = str(a, "target");
      await setDefault(ctx.link(), target);
      ctx.changed("default set to " + target, true);
      return { default: target };
    },
    human: (r) => "default: " + r.default,
  },
  next: {
    usage: "next ID [--action A]",
    summary: "one-shot: boot ID at the next power-on only (A: boot, recovery, reset)",
    request: (w, o) => ({ id: oneWord("next", w, "one argument: a profile id"), action: o.action }),
    run: async (ctx, a) => {
      const id = str(a, "id");
      const action = typeof a.action === "string" ? a.action : "boot";
      await setNext(ctx.link(), id, action);
      ctx.changed("next boot set to " + id + (action !== "boot" ? " (" + action + ")" : ""), false);
      return { next: id };
    },
    human: (r) => "next boot: " + r.next + " (once)",
  },
  "clear-next": {
    usage: "clear-next",
    summary: "cancel the one-shot",
    request: (w) => noWords("clear-next", w),
    run: async (ctx) => {
      await clearNext(ctx.link());
      ctx.changed("next boot cleared", false);
      return { next: null };
    },
    human: () => "next boot cleared",
  },
  "mark-good": {
    usage: "mark-good",
    summary: "confirm the running boot (run after boot-complete.target)",
    request: (w, o) => {
      noWords("mark-good", w);
      // /run/flipper/booted decides (boot or reset, no deviation); without it, the command line.
      const d = markGoodDecision(o.booted, o.cmdline);
      if (d.refuse) throw new BridgeError("failed", d.refuse);
      return { running: d.running };
    },
    run: async (ctx, a) => {
      const r = await markGood(ctx.link(), typeof a.running === "string" ? a.running : null);
      ctx.changed(r.message, r.marked);
      return r;
    },
    human: (r) => String(r.message),
  },
  sync: {
    usage: "sync",
    summary: "full sync of the profile store to the MCU now",
    request: (w) => noWords("sync", w),
    run: (ctx) => ctx.sync(),
    human: (r) =>
      SYNC_WORDS[r.kind as string] +
      ": " +
      r.count +
      " profiles, generation " +
      r.generation +
      ", " +
      r.ms +
      " ms, " +
      r.bytes +
      " wire bytes",
  },
  options: {
    usage: "options [--timeout S] [--show always|on-key] [--max-tries N]",
    summary: "the menu's timeout, when it shows, and tries before the fallback",
    request: (w, o) => {
      noWords("options", w, "only --timeout, --show, --max-tries");
      return optionsChange(o) as Args;
    },
    run: async (ctx, a) => {
      const o = await setOptions(ctx.link(), a as OptionsChange);
      const line = "menu options: timeout " + o.timeoutSeconds + " s, show " + showMenuName(o.showMenu);
      ctx.changed(line, false);
      return o;
    },
    human: (r) =>
      "menu: timeout " +
      r.timeoutSeconds +
      " s, show " +
      showMenuName(r.showMenu as number) +
      ", max tries " +
      r.maxTries,
  },
};

export function linkCommand(cmd: string): LinkCommand | null {
  return Object.hasOwn(LINK_COMMANDS, cmd) ? LINK_COMMANDS[cmd] : null;
}

/** Runs one request (from the socket or the CLI's direct mode). */
export function runLinkCommand(cmd: string, args: Args, ctx: LinkContext): Promise<unknown> {
  const c = linkCommand(cmd);
  if (!c) throw new BridgeError("usage", "unknown command " + JSON.stringify(cmd));
  return c.run(ctx, args);
}
