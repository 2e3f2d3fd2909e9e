// The guest's store as the simulator reads it (sim/linux/guest-store.ts): the shell listing the
// guest runs, here run by the host's sh on a real folder, and its copy must give readStore the same
// profiles and the same skipped entries as the folder itself; a cut listing replaces nothing.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { listProfilesScript, writeProfileListing } from "../sim/linux/guest-store";
import { PROFILE_FILE_MAX, readStore } from "../soc-bridge/profile-store";

function profile(id: string, name: string): string {
  return `${JSON.stringify({ id, name, base: "1.1", created: 1764547200 }, null, 2)}\n`;
}

function makeStore(top: string): void {
  const p = join(top, "@profiles");
  mkdirSync(p, { recursive: true });
  const add = (folder: string, text: string) => {
    mkdirSync(join(p, folder));
    writeFileSync(join(p, folder, "profile.json"), text);
  };
  add("main", profile("main", "Main"));
  add("work", profile("work", 'Work "day"'));
  add("mismatch", profile("other", "Folder and id differ"));
  add("bad json", "{ not json");
  add(".hidden", profile("hidden", "Dot folder"));
  add("big", "x".repeat(PROFILE_FILE_MAX + 10));
  mkdirSync(join(p, "empty"));
  mkdirSync(join(p, "line\nbreak"));
  mkdirSync(join(p, "linked-json"));
  symlinkSync("/etc/hostname", join(p, "linked-json", "profile.json"));
  symlinkSync("main", join(p, "alias"));
  writeFileSync(join(p, "stray-file"), "");
}

test("the guest's listing copies @profiles so readStore lists and skips exactly as on the store", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "flipper-guest-store-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const top = join(dir, "top");
  makeStore(top);
  const r = spawnSync("sh", ["-c", listProfilesScript(top)], { encoding: "utf8" });
  t.is(r.status, 0, r.stderr);
  const mirror = join(dir, "mirror");
  t.is(writeProfileListing(r.stdout, mirror), 11);
  const want = await readStore(top);
  const have = await readStore(mirror);
  t.deepEqual(
    have.profiles.map((p) => p.record),
    want.profiles.map((p) => p.record),
  );
  t.deepEqual(
    have.profiles.map((p) => p.record.id).sort(),
    ["main", "work"],
    "a dot folder and a folder whose id differs are skipped, as on the store",
  );
  // Same entries skipped for the same reasons; an oversize profile.json is copied one byte over the
  // limit (its size in the message is not its own), and the paths name their folders.
  const reasons = (s: typeof want, root: string) =>
    s.skipped
      .map((k) =>
        k.message
          .split(root)
          .join("<store>")
          .replace(/is \d+ bytes/, "is N bytes"),
      )
      .sort();
  t.deepEqual(reasons(have, mirror), reasons(want, top));
  t.is(want.skipped.length, 9);
});

test("a listing that was cut or garbled replaces nothing", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "flipper-guest-store-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const mirror = join(dir, "mirror");
  t.is(writeProfileListing("D bWFpbg==\nEND\n", mirror), 1);
  t.throws(() => writeProfileListing("D d29yaw==\n", mirror), { message: /did not end/ });
  t.throws(() => writeProfileListing("X d29yaw==\nEND\n", mirror), { message: /cannot read/ });
  t.throws(() => writeProfileListing(`D ${Buffer.from("../up").toString("base64")}\nEND\n`, mirror), {
    message: /cannot read/,
  });
  t.true(existsSync(join(mirror, "@profiles", "main")), "the last whole listing stays");
});
