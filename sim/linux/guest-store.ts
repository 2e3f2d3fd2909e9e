// The guest's profile store as the simulator shows it: after the real Linux booted, the profiles
// live in the guest's btrfs (/run/flipper/top/@profiles), changed by the guest's own flipper-boot.
// One small shell command (no Node in the guest: it starts in seconds under TCG) lists every entry of
// @profiles with its profile.json; the host writes them into a folder laid out like the store, so
// the simulator's readStore (the bridge's own reader) lists them and skips what it would skip.
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROFILE_FILE_MAX } from "../../soc-bridge/profile-store";

/** A folder's profile.json that is not a regular file, as the copy shows it (never followed). */
const NOT_A_FILE = "/nonexistent (not a regular file in the guest's store)";

/** Where the initramfs leaves the btrfs top level in the guest (soc-bridge/initramfs). */
export const GUEST_TOP = "/run/flipper/top";

/** One byte more than the bridge reads of a profile.json, so an oversize one stays oversize. */
const PROFILE_JSON_BYTES = PROFILE_FILE_MAX + 1;

/**
 * One line per entry of @profiles: `<kind> <name, base64> [<data, base64>]`, kind P (a folder with a
 * regular profile.json; data: its text), J (a folder whose profile.json is something else), D (a
 * folder without one), L (a symbolic link; data: its target), F (anything else). Names travel in
 * base64: a folder name may hold spaces or newlines.
 */
export function listProfilesScript(top = GUEST_TOP): string {
  return `exec 2>/dev/null
cd '${top.replace(/'/g, "'\\''")}/@profiles' || exit 3
for e in * .[!.]* ..?*; do
  [ -e "$e" ] || [ -L "$e" ] || continue
  n=$(printf %s "$e" | base64 -w0)
  if [ -L "$e" ]; then echo "L $n $(readlink -n "$e" | head -c 4096 | base64 -w0)"
  elif [ -d "$e" ] && [ -f "$e/profile.json" ] && [ ! -L "$e/profile.json" ]; then
    echo "P $n $(head -c ${PROFILE_JSON_BYTES} "$e/profile.json" | base64 -w0)"
  elif [ -d "$e" ] && { [ -e "$e/profile.json" ] || [ -L "$e/profile.json" ]; }; then echo "J $n"
  elif [ -d "$e" ]; then echo "D $n"
  else echo "F $n"
  fi
done
echo END`;
}

/**
 * Writes the listing into `dir` (made afresh) as `<dir>/@profiles/<name>/profile.json`, links with
 * their targets (readStore never follows them) and other entries as empty files; returns the number
 * of entries. A listing that did not end (a cut output) or has a line it cannot read throws before
 * `dir` is touched.
 */
export function writeProfileListing(output: string, dir: string): number {
  const lines = output.split("\n").filter((l) => l !== "");
  if (lines[lines.length - 1] !== "END") throw new Error("the guest's profile listing did not end");
  const entries = lines.slice(0, -1).map((line) => {
    const [kind, name64, json64] = line.split(" ");
    const name = Buffer.from(name64 ?? "", "base64").toString("utf8");
    if (!/^[PJDLF]$/.test(kind ?? "") || name === "" || name.includes("/") || name === "." || name === "..") {
      throw new Error(`the guest's profile listing has a line it cannot read: ${JSON.stringify(line)}`);
    }
    return { kind, name, data: Buffer.from(json64 ?? "", "base64") };
  });
  rmSync(dir, { recursive: true, force: true });
  const profiles = join(dir, "@profiles");
  mkdirSync(profiles, { recursive: true });
  for (const { kind, name, data } of entries) {
    const at = join(profiles, name);
    if (kind === "P" || kind === "J" || kind === "D") mkdirSync(at);
    if (kind === "P") writeFileSync(join(at, "profile.json"), data);
    if (kind === "J") symlinkSync(NOT_A_FILE, join(at, "profile.json"));
    if (kind === "L") symlinkSync(data.toString("utf8") || NOT_A_FILE, at);
    if (kind === "F") writeFileSync(at, "");
  }
  return entries.length;
}
