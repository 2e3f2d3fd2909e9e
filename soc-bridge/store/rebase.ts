// `profile rebase ID --base V [--force]` (protocol/STORE.md, "Bases"): after `profile check`, a
// snapshot (reason `rebase`, so `profile undo` goes back) and then the new base in profile.json.
// Built with the same work folder and snapshot steps as the profile commands, so a killed rebase
// is recovered like any of them.
import path from "node:path";
import { assertTopLevel, writeAtomic } from "./btrfs";
import { StoreError } from "./errors";
import { checkId, checkVersion, PROFILE_JSON } from "./layout";
import { loadProfile, runningProfile } from "./lookup";
import { type CheckReport, checkProfile, summary } from "./profile-check";
import { inWork, type StoreContext, withSession } from "./session";
import { placeSnapshot, takeSnapshot } from "./snapshots";

export interface RebaseResult {
  id: string;
  from: string;
  to: string;
  forced: boolean;
  snapshot: string | null;
  check: CheckReport;
  cleaned: string[];
}

export interface RebaseOptions {
  force?: boolean;
}

/**
 * `profile rebase ID --base V [--force]`: refuses when check finds conflicts (unless --force) and
 * for the running profile (its base is the mounted lower of /: boot another profile or recovery
 * first; nothing is staged for it); takes a snapshot (reason `rebase`, so `profile undo` goes back),
 * then pins V in profile.json.
 */
export async function rebaseProfile(
  ctx: StoreContext,
  id: string,
  target: string,
  opts: RebaseOptions = {},
): Promise<RebaseResult> {
  const store = ctx.store;
  checkId(id);
  checkVersion(target, "--base");
  await assertTopLevel(store);
  if ((await runningProfile(ctx)) === id) {
    throw new StoreError(
      "running",
      "profile " +
        id +
        " is running: its base is the mounted lower of / (boot another profile or recovery, then rebase)",
    );
  }
  return withSession(ctx, async (session) => {
    const check = await checkProfile(ctx, id, target);
    if (check.from === target) {
      return { id, from: check.from, to: target, forced: false, snapshot: null as string | null, check };
    }
    if (!check.clean && !opts.force) {
      throw Object.assign(
        new StoreError(
          "conflicts",
          "profile " +
            id +
            " conflicts with base " +
            target +
            ": " +
            summary(check) +
            " (profile check shows them; --force rebases anyway)",
        ),
        { result: check },
      );
    }
    const json = await loadProfile(session.P, id);
    const forced = !check.clean;
    const note =
      "rebase " + check.from + " -> " + target + (forced ? " (forced: " + summary(check) + ")" : "");
    // The snapshot first (in a work folder, so recovery knows it), then profile.json: a crash between
    // the two leaves one more snapshot and the profile on its old base.
    const info = await inWork(session, "rebase", id, null, async (w) => {
      const info = await takeSnapshot(session, id, json, w.snap, "rebase", { note });
      await placeSnapshot(session.P, w.snap, info);
      await writeAtomic(
        path.join(session.P.profile(id), PROFILE_JSON),
        JSON.stringify({ ...json, base: target }, null, 2) + "\n",
      );
      return info;
    });
    return { id, from: check.from, to: target, forced, snapshot: info.stamp as string | null, check };
  });
}
