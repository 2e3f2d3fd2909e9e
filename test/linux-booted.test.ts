// soc-bridge/booted.ts: /run/flipper/booted as the initramfs writes it, what `status` shows and what
// `mark-good` may mark; and the CLI refusing to mark a recovery or deviated boot (before it opens
// any port or socket).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { describeBooted, markGoodDecision, parseBooted, readBooted } from "../soc-bridge/booted";

const BOOT =
  "profile=work\nbase=1.2\naction=boot\nrequested=profile=work base=1.2 action=boot\ndeviation=\nstaged=\n";

function tmp(t: { teardown: (f: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), "flipper-booted-"));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test("parses the initramfs's record; refuses malformed ones naming the line and the rule", (t) => {
  t.deepEqual(parseBooted(BOOT).value, {
    profile: "work",
    base: "1.2",
    action: "boot",
    requested: "profile=work base=1.2 action=boot",
    deviation: "",
    staged: "",
  });
  for (const [text, re] of [
    ["profile=work\naction=explode\n", /action "explode" is invalid: must be boot, reset or recovery/],
    ["profile=a;b\naction=boot\n", /profile "a;b" is invalid/],
    ["profile=\naction=boot\n", /profile is empty: action boot needs a profile/],
    ["hello\n", /line "hello" is invalid/],
    ["profile=work\nbase=1.2.3.4.5\naction=boot\n", /base "1\.2\.3\.4\.5" is invalid/],
  ] as Array<[string, RegExp]>) {
    const r = parseBooted(text);
    t.is(r.value, null, text);
    t.regex(r.error ?? "", re, text);
  }
});

test("mark-good: boot and reset without a deviation only; no file = the command line", (t) => {
  const d = tmp(t);
  const booted = join(d, "booted");
  const cmdline = join(d, "cmdline");
  writeFileSync(cmdline, "quiet flipper.profile=lab flipper.base=1.2\n");
  writeFileSync(booted, BOOT);
  t.deepEqual(markGoodDecision(booted, cmdline), { running: "work", refuse: null });
  writeFileSync(booted, BOOT.replace("action=boot\n", "action=reset\n"));
  t.deepEqual(markGoodDecision(booted, cmdline), { running: "work", refuse: null });
  writeFileSync(
    booted,
    "profile=\nbase=1.2\naction=recovery\nrequested=profile= base= action=recovery\ndeviation=\nstaged=\n",
  );
  t.regex(
    markGoodDecision(booted, cmdline).refuse ?? "",
    /this boot is recovery: only boot and reset boots are marked good/,
  );
  writeFileSync(
    booted,
    "profile=\nbase=1.2\naction=recovery\nrequested=(invalid)\ndeviation=profile ghost is missing (no @profiles/ghost)\nstaged=\n",
  );
  t.regex(
    markGoodDecision(booted, cmdline).refuse ?? "",
    /deviated from its request \(profile ghost is missing/,
  );
  writeFileSync(booted, "garbage\n");
  t.regex(markGoodDecision(booted, cmdline).refuse ?? "", /not marking this boot good/);
  t.deepEqual(markGoodDecision(join(d, "absent"), cmdline), { running: "lab", refuse: null });
  t.is(readBooted(join(d, "absent")), null);
});

test("status lines say what booted, the deviation and the staged change", (t) => {
  t.deepEqual(describeBooted(parseBooted(BOOT).value), ["booted:    profile work base 1.2"]);
  t.deepEqual(
    describeBooted({
      profile: "",
      base: "1.1",
      action: "recovery",
      requested: "(invalid)",
      deviation: 'flipper.profile "a;b" is invalid',
      staged: "",
    }),
    ["booted:    recovery on base 1.1", 'deviation: flipper.profile "a;b" is invalid (asked: (invalid))'],
  );
  t.regex(describeBooted(null)[0], /unknown \(no \/run\/flipper\/booted/);
  t.regex(describeBooted({ error: "x: bad" })[0], /unreadable: x: bad/);
});

test("the CLI refuses mark-good for a recovery boot with exit 1, before opening the port", (t) => {
  const d = tmp(t);
  const booted = join(d, "booted");
  writeFileSync(
    booted,
    "profile=\nbase=1.1\naction=recovery\nrequested=profile= base= action=recovery\ndeviation=\nstaged=\n",
  );
  const r = spawnSync(
    "npx",
    [
      "tsx",
      "soc-bridge/cli.ts",
      "mark-good",
      "--booted",
      booted,
      "--direct",
      "--port",
      join(d, "no-such-port"),
    ],
    { encoding: "utf8" },
  );
  t.is(r.status, 1, r.stderr);
  t.regex(r.stderr, /this boot is recovery: only boot and reset boots are marked good/);
  t.notRegex(r.stderr, /no-such-port/);
});
