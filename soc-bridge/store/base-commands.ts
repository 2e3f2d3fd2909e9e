// `base list|receive|gc|remove` and `profile check|rebase` in the one store command table
// (commands.ts): importing this module registers them, for the CLI and the daemon's socket alike.
import path from "node:path";
import { aptSnapshot, parseKeep } from "./apt";
import { cleanedLines, flag, str } from "./args";
import { receiveBase } from "./base-receive";
import { type BaseList, gcBases, listBases, removeBase } from "./bases";
import {
  registerStoreCommands,
  STORE_FLAG_OPTIONS,
  STORE_VALUE_OPTIONS,
  type StoreCommand,
} from "./commands";
import { STORE_ERRORS } from "./errors";
import { type CheckReport, checkProfile, summary } from "./profile-check";
import { type RebaseResult, rebaseProfile } from "./rebase";

// `--dry-run` (base gc) and `--keep N` (profile apt-snapshot) are options only these commands take;
// the CLI learns store options from these lists (commands.ts has no registration call for them).
if (!(STORE_FLAG_OPTIONS as readonly string[]).includes("--dry-run")) {
  (STORE_FLAG_OPTIONS as unknown as string[]).push("--dry-run");
}
if (!(STORE_VALUE_OPTIONS as readonly string[]).includes("--keep")) {
  (STORE_VALUE_OPTIONS as unknown as string[]).push("--keep");
}

function checkText(r: CheckReport): string {
  const lines = [
    "profile " + r.id + ": base " + r.from + " -> " + r.to + ": " + (r.clean ? "clean" : summary(r)),
  ];
  const what = { added: "adds", removed: "removes", changed: "changes" } as const;
  const holds = {
    file: "a file",
    symlink: "a symlink",
    whiteout: "a deletion",
    opaque: "an opaque folder",
    folder: "a folder",
    other: "a special file",
  } as const;
  for (const f of r.files) {
    lines.push(
      "  file     " +
        f.path +
        "  (the profile holds " +
        holds[f.upper] +
        "; " +
        r.to +
        " " +
        what[f.change] +
        " it)",
    );
  }
  for (const p of r.packages) {
    lines.push(
      "  package  " +
        p.package +
        "  (the profile has " +
        (p.profile || "removed it") +
        "; " +
        r.from +
        " has " +
        (p.from || "none") +
        ", " +
        r.to +
        " has " +
        (p.to || "none") +
        ")",
    );
  }
  return lines.join("\n");
}

const commands: Record<string, StoreCommand> = {
  "base-list": {
    usage: "base list",
    summary: "the bases, newest marked, with the profiles, snapshots and staged changes using each",
    positional: [],
    options: [],
    run: (ctx) => listBases(ctx),
    human: (raw) => {
      const r = raw as unknown as BaseList;
      const rows = r.bases.map((b) => {
        const uses: string[] = [];
        if (b.profiles.length) uses.push("profiles " + b.profiles.join(", "));
        if (b.snapshots.length) uses.push("snapshots " + b.snapshots.join(", "));
        if (b.staged.length) uses.push("staged " + b.staged.join(", "));
        return (
          (b.newest ? "* " : "  ") +
          b.version.padEnd(12) +
          (b.readonly ? "" : " (NOT read-only)") +
          " " +
          (uses.length ? uses.join("; ") : "unused")
        );
      });
      if (rows.length === 0) rows.push("no bases in @base");
      for (const s of r.skipped) rows.push("skipped: " + s);
      for (const m of r.missing) rows.push("missing: base " + m.version + " used by " + m.usedBy.join(", "));
      return rows.join("\n") + "\n(* newest: recovery boots it, gc never removes it)";
    },
  },
  "base-receive": {
    usage: "base receive FILE|-",
    summary: "a btrfs send stream (a file, or - for standard input) becomes @base/<its name>",
    positional: ["file"],
    options: [],
    run: (ctx, a) => {
      const f = str(a, "file");
      return receiveBase(ctx, f === "-" ? "-" : path.resolve(f));
    },
    human: (r) =>
      cleanedLines(r) +
      "received base " +
      r.version +
      (r.incremental ? " (incremental)" : "") +
      ": " +
      r.bytes +
      " bytes in " +
      r.ms +
      " ms",
  },
  "base-gc": {
    usage: "base gc [--dry-run]",
    summary: "remove bases no profile, snapshot or staged change uses (never the newest)",
    positional: [],
    options: ["dry-run"],
    run: (ctx, a) => gcBases(ctx, { dryRun: flag(a, "dry-run") }),
    human: (r) => {
      const removed = r.removed as string[];
      const kept = r.kept as Array<{ version: string; why: string }>;
      const verb = r.dryRun ? "would remove" : "removed";
      return (
        cleanedLines(r) +
        (removed.length ? verb + ": " + removed.join(", ") : "nothing to remove") +
        kept.map((k) => "\nkept " + k.version + ": " + k.why).join("")
      );
    },
  },
  "base-remove": {
    usage: "base remove V",
    summary: "remove one base (refused while anything uses it, and for the newest)",
    positional: ["version"],
    options: [],
    run: (ctx, a) => removeBase(ctx, str(a, "version")),
    human: (r) => cleanedLines(r) + "removed base " + r.removed,
  },
  "profile-check": {
    usage: "profile check ID --base V",
    summary: "what moving ID to base V would get wrong (exit 15 when anything)",
    positional: ["id"],
    options: ["base"],
    required: ["base"],
    run: (ctx, a) => checkProfile(ctx, str(a, "id"), str(a, "base")),
    human: (r) => checkText(r as unknown as CheckReport),
  },
  "profile-rebase": {
    usage: "profile rebase ID --base V [--force]",
    summary: "move ID to base V after a snapshot; refused on conflicts unless --force",
    positional: ["id"],
    options: ["base", "force"],
    required: ["base"],
    run: (ctx, a) => rebaseProfile(ctx, str(a, "id"), str(a, "base"), { force: flag(a, "force") }),
    human: (raw) => {
      const r = raw as unknown as RebaseResult & { cleaned?: string[] };
      if (r.snapshot === null)
        return cleanedLines(raw) + "profile " + r.id + " is on base " + r.to + " already";
      return (
        cleanedLines(raw) +
        "rebased " +
        r.id +
        " from base " +
        r.from +
        " to " +
        r.to +
        (r.forced ? " despite " + summary(r.check) + " (--force)" : "") +
        "; snapshot " +
        r.snapshot +
        " keeps the state before (profile undo goes back)" +
        (r.forced ? "\n" + checkText(r.check) : "")
      );
    },
  },
  "profile-apt-snapshot": {
    usage: "profile apt-snapshot [--keep N] [--note TEXT]",
    summary: "the apt hook: snapshot the running profile (auto), keep the newest N automatic ones",
    positional: [],
    options: ["keep", "note"],
    run: (ctx, a) =>
      aptSnapshot(ctx, {
        ...(a.keep !== undefined ? { keep: parseKeep(a.keep) } : {}),
        ...(a.note !== undefined ? { note: str(a, "note") } : {}),
      }),
    human: (r) =>
      cleanedLines(r) +
      (r.skipped
        ? String(r.skipped)
        : "snapshot " +
          r.snapshot +
          " of " +
          r.id +
          " before this apt run" +
          ((r.pruned as string[]).length
            ? "; removed the older automatic " +
              (r.pruned as string[]).join(", ") +
              " (keeping " +
              r.keep +
              ")"
            : "")),
  },
};

registerStoreCommands(commands);

/**
 * Commands the CLI runs in its own process even when a daemon listens: `base receive` reads a file
 * or the CLI's standard input, which the daemon cannot see.
 */
export function runsInProcess(cmd: string): boolean {
  return cmd === "base-receive";
}

/** The exit code a successful store command still returns: 15 for a check that found conflicts. */
export function storeExitCode(cmd: string, result: unknown): number {
  if (cmd === "profile-check" && result && (result as CheckReport).clean === false)
    return STORE_ERRORS.conflicts;
  return 0;
}
