// The one table of store commands (`flipper-boot profile ...`, `base ...` from base-commands.ts): the CLI turns its
// words into a request {cmd, args}; the daemon's control socket and the CLI's direct mode both run
// that request through runStoreCommand, so there is one implementation. Requests from the socket are
// untrusted: every argument is type-checked here and every value by the store code.
import { describeText } from "../../protocol/bytes";
import { StoreError } from "./errors";
import {
  cloneProfile,
  createProfile,
  deleteProfile,
  listStaged,
  profileSnapshots,
  renameProfile,
  resetProfile,
  type SnapshotInfo,
  type StagedChange,
  type StoreContext,
  snapshotProfile,
  undoProfile,
  unstageProfile,
} from "./profiles";

/** Options of store commands the CLI accepts (beside its own); `--booted` sets the context. */
export const STORE_VALUE_OPTIONS = ["--name", "--base", "--to", "--note", "--booted"] as const;
export const STORE_FLAG_OPTIONS = ["--auto", "--purge", "--force"] as const;

/** What the CLI collected: option name without dashes -> value (true for flags). */
export type StoreOptions = Record<string, string | true>;

type Args = Record<string, unknown>;

export interface StoreCommand {
  /** One usage line, e.g. `profile create ID --name N --base V`. */
  usage: string;
  summary: string;
  /** Positional argument names (after the two command words); a trailing `?` marks optional. */
  positional: string[];
  /** Options it accepts, without dashes (`name`, `purge`, ...). */
  options: string[];
  /** Options that must be given. */
  required?: string[];
  run(ctx: StoreContext, args: Args): Promise<unknown>;
  human(result: Record<string, unknown>): string;
}

function str(args: Args, key: string): string {
  const v = args[key];
  if (typeof v !== "string") throw new StoreError("invalid", key + " must be given as a string");
  return v;
}
function optStr(args: Args, key: string): string | undefined {
  return args[key] === undefined || args[key] === null ? undefined : str(args, key);
}
function flag(args: Args, key: string): boolean {
  const v = args[key];
  if (v === undefined || v === null || v === false) return false;
  if (v === true) return true;
  throw new StoreError("invalid", key + " must be true or false");
}

function cleanedLines(r: Record<string, unknown>): string {
  const c = (r.cleaned as string[] | undefined) ?? [];
  return c.map((l) => "cleaned up: " + l + "\n").join("");
}

function stagedLine(st: StagedChange): string {
  return st.action + (st.stamp ? " to snapshot " + st.stamp : "") + " staged for the next boot of " + st.id;
}

function snapshotRow(s: SnapshotInfo): string {
  return (
    s.stamp.padEnd(22) +
    " " +
    s.reason.padEnd(7) +
    " base " +
    s.base.padEnd(11) +
    " " +
    JSON.stringify(s.name) +
    (s.note ? "  note " + describeText(s.note) : "")
  );
}

const table: Record<string, StoreCommand> = {
  "profile-create": {
    usage: "profile create ID --name N --base V",
    summary: "a new empty profile on base V",
    positional: ["id"],
    options: ["name", "base"],
    required: ["name", "base"],
    run: (ctx, a) => createProfile(ctx, str(a, "id"), str(a, "name"), str(a, "base")),
    human: (r) =>
      cleanedLines(r) + "created profile " + r.id + " (" + JSON.stringify(r.name) + ", base " + r.base + ")",
  },
  "profile-clone": {
    usage: "profile clone SRC NEW [--name N]",
    summary: "NEW as a copy of SRC (a btrfs snapshot; new machine id)",
    positional: ["source", "id"],
    options: ["name"],
    run: (ctx, a) => cloneProfile(ctx, str(a, "source"), str(a, "id"), optStr(a, "name")),
    human: (r) =>
      cleanedLines(r) + "cloned " + r.origin + " to " + r.id + " (" + JSON.stringify(r.name) + ")",
  },
  "profile-rename": {
    usage: "profile rename ID --name N",
    summary: "change the name the menu shows",
    positional: ["id"],
    options: ["name"],
    required: ["name"],
    run: (ctx, a) => renameProfile(ctx, str(a, "id"), str(a, "name")),
    human: (r) => cleanedLines(r) + "renamed " + r.id + " to " + JSON.stringify(r.name),
  },
  "profile-delete": {
    usage: "profile delete ID [--purge]",
    summary: "remove the profile, keeping a final snapshot unless --purge",
    positional: ["id"],
    options: ["purge"],
    run: (ctx, a) => deleteProfile(ctx, str(a, "id"), flag(a, "purge")),
    human: (r) =>
      cleanedLines(r) +
      "deleted " +
      r.id +
      (r.snapshot ? " (final snapshot " + r.snapshot + ")" : " (purged, no snapshot kept)") +
      (r.unstaged ? "; its staged change was dropped" : ""),
  },
  "profile-reset": {
    usage: "profile reset ID",
    summary: "back to its bare base (a snapshot is kept); staged when ID is running",
    positional: ["id"],
    options: [],
    run: (ctx, a) => resetProfile(ctx, str(a, "id")),
    human: (r) =>
      cleanedLines(r) +
      (r.staged
        ? stagedLine(r.staged as StagedChange) + " (it is the running profile)"
        : "reset " + r.id + " (snapshot " + r.snapshot + " keeps what it held)"),
  },
  "profile-snapshot": {
    usage: "profile snapshot ID [--auto --note TEXT]",
    summary: "a read-only snapshot now (--auto: taken by the apt hook)",
    positional: ["id"],
    options: ["auto", "note"],
    run: (ctx, a) => snapshotProfile(ctx, str(a, "id"), { auto: flag(a, "auto"), note: optStr(a, "note") }),
    human: (r) => {
      const s = r.snapshot as SnapshotInfo;
      return cleanedLines(r) + "snapshot " + s.stamp + " of " + s.id + " (" + s.reason + ")";
    },
  },
  "profile-snapshots": {
    usage: "profile snapshots ID",
    summary: "the profile's snapshots, oldest first",
    positional: ["id"],
    options: [],
    run: (ctx, a) => profileSnapshots(ctx, str(a, "id")),
    human: (r) => {
      const list = r.snapshots as SnapshotInfo[];
      if (list.length === 0) return "no snapshots of " + r.id;
      return list.map(snapshotRow).join("\n");
    },
  },
  "profile-undo": {
    usage: "profile undo ID [--to STAMP]",
    summary: "back to a snapshot (default the newest), after a snapshot of now; staged when running",
    positional: ["id"],
    options: ["to"],
    run: (ctx, a) => undoProfile(ctx, str(a, "id"), optStr(a, "to")),
    human: (r) =>
      cleanedLines(r) +
      (r.staged
        ? stagedLine(r.staged as StagedChange) + " (it is the running profile)"
        : "restored " +
          r.id +
          " to snapshot " +
          r.to +
          " (base " +
          r.base +
          "); the state before is snapshot " +
          r.snapshot),
  },
  "profile-unstage": {
    usage: "profile unstage ID",
    summary: "drop the change staged for the next boot of ID",
    positional: ["id"],
    options: [],
    run: (ctx, a) => unstageProfile(ctx, str(a, "id")),
    human: (r) =>
      cleanedLines(r) +
      (r.removed ? "dropped: " + stagedLine(r.removed as StagedChange) : "nothing staged for " + r.id),
  },
  "profile-staged": {
    usage: "profile staged",
    summary: "changes waiting for the next boot of their profile",
    positional: [],
    options: [],
    run: async (ctx) => ({ staged: await listStaged(ctx.store) }),
    human: (r) => {
      const l = r.staged as StagedChange[];
      return l.length
        ? l.map((s) => (s.invalid ? s.id + ": unreadable (" + s.id + ".invalid)" : stagedLine(s))).join("\n")
        : "nothing staged";
    },
  },
};

/** Adds commands (e.g. `base ...`) to the table; a name taken already is an error. */
export function registerStoreCommands(more: Record<string, StoreCommand>): void {
  for (const [name, c] of Object.entries(more)) {
    if (table[name]) throw new Error("store command " + name + " is defined twice");
    table[name] = c;
  }
}

function storeCommand(cmd: string): StoreCommand | null {
  return Object.hasOwn(table, cmd) ? table[cmd] : null;
}

export function isStoreCommand(cmd: string): boolean {
  return storeCommand(cmd) !== null;
}

/** The first words of store commands (`profile`, `base`). */
export function isStoreGroup(word: string): boolean {
  return Object.keys(table).some((k) => k.startsWith(word + "-"));
}

export function storeUsage(): string {
  return Object.values(table)
    .map((c) => "  " + c.usage.padEnd(42) + " " + c.summary)
    .join("\n");
}

/** `profile create work --name W --base 1.2` (CLI words and options) -> a request. */
export function storeRequest(words: string[], opts: StoreOptions): { cmd: string; args: Args } {
  const group = words[0];
  if (words.length < 2) {
    throw new StoreError("invalid", group + " needs a command:\n" + storeUsage());
  }
  const cmd = group + "-" + words[1];
  const c = storeCommand(cmd);
  if (!c)
    throw new StoreError(
      "invalid",
      "unknown command " + describeText(group + " " + words[1]) + ":\n" + storeUsage(),
    );
  const pos = words.slice(2);
  const required = c.positional.filter((p) => !p.endsWith("?")).length;
  if (pos.length < required || pos.length > c.positional.length) {
    throw new StoreError("invalid", "usage: flipper-boot " + c.usage);
  }
  const args: Args = {};
  c.positional.forEach((p, i) => {
    if (i < pos.length) args[p.replace(/\?$/, "")] = pos[i];
  });
  for (const [k, v] of Object.entries(opts)) {
    if (k === "booted") continue;
    if (!c.options.includes(k))
      throw new StoreError("invalid", "option --" + k + " does not apply: usage: flipper-boot " + c.usage);
    args[k] = v;
  }
  for (const k of c.required ?? []) {
    if (args[k] === undefined)
      throw new StoreError("invalid", "--" + k + " is required: usage: flipper-boot " + c.usage);
  }
  return { cmd, args };
}

/** Runs one request (from the socket or the CLI's direct mode). */
export async function runStoreCommand(cmd: string, args: Args, ctx: StoreContext): Promise<unknown> {
  const c = storeCommand(cmd);
  if (!c) throw new StoreError("invalid", "unknown command " + describeText(cmd));
  return c.run(ctx, args);
}

export function storeHuman(cmd: string, result: Record<string, unknown>): string {
  const c = storeCommand(cmd);
  return c ? c.human(result) : JSON.stringify(result);
}
