// Leftovers of killed commands in `.flipper-tmp/` (protocol/STORE.md, "Work in progress"), dealt
// with at the start of every session: work that had not reached its commit point is removed (the
// old state stays); work that had is finished (its snapshot put in place, the old subvolume
// deleted); a profile cut between two renames is put back. Each folder gives one line.
import { promises as fsp } from "node:fs";
import path from "node:path";
import { isSubvolume, removeAny, renameInto, rootId } from "./btrfs";
import { exists, readJson } from "./files";
import { SNAPSHOT_JSON, type StorePaths, TMP_DIR } from "./layout";
import type { Intent } from "./session";
import { placeSnapshot } from "./snapshots";

/**
 * Deals with every work folder in `.flipper-tmp/` (the caller holds the lock): removes unfinished
 * work, finishes work that passed its commit point. Returns one line per folder.
 */
export async function recoverLeftovers(P: StorePaths): Promise<string[]> {
  const lines: string[] = [];
  const names = await fsp.readdir(P.tmp).catch(() => [] as string[]);
  for (const name of names.sort()) {
    const dir = path.join(P.tmp, name);
    const rel = TMP_DIR + "/" + name;
    const intent = (await readJson(path.join(dir, "intent.json"), "intent").catch(
      () => null,
    )) as Intent | null;
    const op = intent?.op ?? "";
    let committed = false;
    if (intent && typeof intent.id === "string") {
      if (typeof intent.before === "number") {
        // It replaces or removes @profiles/<id> (delete, reset, undo, and any later op that records
        // `before`): done once the profile's subvolume id is no longer the one it had.
        const cur = (await isSubvolume(P.profile(intent.id))) ? await rootId(P.profile(intent.id)) : null;
        committed = cur !== intent.before;
        const old = path.join(dir, "old");
        if (cur === null && (await isSubvolume(old)) && (await isSubvolume(path.join(dir, "new")))) {
          // Cut between two renames (the profile moved out, its replacement not yet in; the
          // initramfs works that way, having no renameat2): the replacement never arrived, so
          // the profile goes back.
          try {
            await renameInto(old, P.profile(intent.id));
          } catch (e) {
            lines.push(
              "could not put profile " + intent.id + " back from " + rel + ": " + (e as Error).message,
            );
            continue;
          }
          lines.push(
            "put profile " +
              intent.id +
              " back from " +
              rel +
              " (its " +
              op +
              " was cut between two renames)",
          );
          committed = false;
        }
      } else if (op === "create" || op === "clone") {
        // Done once `new` was moved into place; nothing to finish then.
        committed = !(await exists(path.join(dir, "new"))) && (await isSubvolume(P.profile(intent.id)));
      }
      // A snapshot op either placed its snapshot or not: its folder is just removed.
    }
    let finished = "";
    if (committed && intent && (await exists(path.join(dir, "snap")))) {
      const j = await readJson(path.join(dir, "snap", SNAPSHOT_JSON), "snapshot.json").catch(() => null);
      const stamp = j && typeof j.stamp === "string" ? j.stamp : "";
      if (stamp && !(await exists(P.snapshot(intent.id, stamp)))) {
        try {
          await placeSnapshot(P, path.join(dir, "snap"), { id: intent.id, stamp });
          finished = ", snapshot @snapshots/" + intent.id + "/" + stamp + " put in place";
        } catch (e) {
          lines.push("could not finish " + rel + ": " + (e as Error).message);
          continue;
        }
      }
    }
    try {
      await removeAny(dir);
    } catch (e) {
      // Reported, not fatal: work folders have unique names, so a leftover blocks nothing.
      lines.push("could not remove " + rel + ": " + (e as Error).message);
      continue;
    }
    lines.push(
      committed
        ? "finished an interrupted " + op + " of " + intent?.id + finished + " (removed " + rel + ")"
        : "removed " +
            rel +
            ", left by an interrupted " +
            (op || "command") +
            (intent ? " of " + intent.id : ""),
    );
  }
  return lines;
}
