// The systemd units are valid (systemd-analyze verify) and wire mark-good after boot-complete.target.
import test from "ava";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";

const DIR = path.resolve(import.meta.dirname, "..", "soc-bridge", "systemd");

test("systemd-analyze verify accepts both units", async (t) => {
  const units = ["flipper-boot.service", "flipper-boot-mark-good.service"].map((u) => path.join(DIR, u));
  const r = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile("systemd-analyze", ["verify", "--man=no", ...units], (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code) : 0, out: stdout + stderr }),
    );
  });
  t.is(r.code, 0, r.out);
  t.is(r.out.trim(), "");
});

test("mark-good runs after boot-complete.target and calls flipper-boot mark-good", (t) => {
  const u = readFileSync(path.join(DIR, "flipper-boot-mark-good.service"), "utf8");
  t.regex(u, /^Requires=boot-complete\.target$/m);
  t.regex(u, /^After=boot-complete\.target/m);
  t.regex(u, /^Type=oneshot$/m);
  t.regex(u, /^ExecStart=\S+ \S+flipper-boot\.mjs mark-good$/m);
  const d = readFileSync(path.join(DIR, "flipper-boot.service"), "utf8");
  t.regex(d, /^ExecStart=\S+ \S+flipper-boot\.mjs daemon$/m);
  t.regex(d, /^EnvironmentFile=-\/etc\/default\/flipper-boot$/m);
});
