// The install steps around the U-Boot harness: uboot-script/setup-apt.sh finds the machine's own Debian
// mirror and mirrors its deb entries as deb-src (run on sample apt configurations in temp dirs, with Debian's
// real sh, awk and sed); setup.sh and .ci/install-deps.sh refuse an unknown argument with one message and
// are silent when everything is in place (the test run itself had them install everything: pretest).
import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../uboot-script/qemu";

const HELPERS = join(REPO_ROOT, "uboot-script", "setup-apt.sh");

interface AptSample {
  release: string;
  sources?: Record<string, string>;
  list?: string;
}

/** Runs `fn` (a shell function of setup-apt.sh) against a sample apt configuration. */
function withApt(t: { teardown: (f: () => void) => void }, sample: AptSample, fn: string) {
  const dir = mkdtempSync(join(tmpdir(), "flipper-apt-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "etc", "sources.list.d"), { recursive: true });
  for (const [name, text] of Object.entries(sample.sources ?? {}))
    writeFileSync(join(dir, "etc", "sources.list.d", name), text);
  if (sample.list !== undefined) writeFileSync(join(dir, "etc", "sources.list"), sample.list);
  writeFileSync(join(dir, "os-release"), 'ID=debian\nVERSION_CODENAME="' + sample.release + '"\n');
  const r = spawnSync("sh", ["-c", '. "$0"; ' + fn, HELPERS], {
    encoding: "utf8",
    env: { ...process.env, FLIPPER_APT_ETC: join(dir, "etc"), FLIPPER_OS_RELEASE: join(dir, "os-release") },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const SECURITY =
  "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n" +
  "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";
const MAIN =
  "Types: deb\n# a comment inside the stanza\nURIs: http://mirror.example/debian http://second.example/debian\n" +
  "Suites: bookworm bookworm-updates\nComponents: main contrib\n" +
  "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";

test("debian_mirror: the first deb822 deb source for the machine's release, not security, not disabled", (t) => {
  const disabled = MAIN.replace("http://mirror.example", "http://disabled.example") + "Enabled: no\n";
  const src = MAIN.replace("Types: deb", "Types: deb-src").replace(
    "http://mirror.example",
    "http://src.example",
  );
  const r = withApt(
    t,
    { release: "bookworm", sources: { "a.sources": SECURITY + "\n" + disabled + "\n" + src + "\n" + MAIN } },
    "debian_mirror",
  );
  t.is(r.code, 0, r.err);
  t.is(r.out, "http://mirror.example/debian\n");
});

test("debian_mirror: a one-line sources.list entry (with options) when no deb822 file names the release", (t) => {
  const list =
    "# deb http://commented.example/debian bookworm main\n" +
    "deb http://security.example/debian-security bookworm-security main\n" +
    "deb [arch=amd64,armhf signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://line.example/debian bookworm main\n";
  const other = SECURITY.replace(/bookworm/g, "trixie");
  const r = withApt(t, { release: "bookworm", sources: { "x.sources": other }, list }, "debian_mirror");
  t.is(r.code, 0, r.err);
  t.is(r.out, "http://line.example/debian\n");
});

test("debian_mirror: no source for the release fails with one message naming it", (t) => {
  const r = withApt(t, { release: "trixie", sources: { "a.sources": MAIN }, list: "" }, "debian_mirror");
  t.is(r.code, 1);
  t.is(r.out, "");
  t.regex(
    r.err,
    /^setup: no Debian source for release 'trixie' in .*sources\.list\.d\/\*\.sources or .*sources\.list\n$/,
  );
});

test("deb-src entries mirror the deb ones (same mirrors, suites, components, key); existing deb-src are not doubled", (t) => {
  const src = MAIN.replace("Types: deb", "Types: deb-src");
  const r = withApt(
    t,
    {
      release: "bookworm",
      sources: { "a.sources": MAIN + "\n" + src + "\n" + SECURITY },
      list: "deb http://line.example/debian bookworm main\ndeb-src http://line.example/debian bookworm main\n",
    },
    "deb_src_stanzas; echo ---; deb_src_lines",
  );
  t.is(r.code, 0, r.err);
  const [stanzas, lines] = r.out.split("---\n");
  t.is(
    stanzas,
    MAIN.replace("Types: deb", "Types: deb-src") +
      "\n" +
      SECURITY.replace("Types: deb", "Types: deb-src") +
      "\n",
  );
  t.is(lines, "deb-src http://line.example/debian bookworm main\n");
});

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: REPO_ROOT, encoding: "utf8" });
  return { code: r.status, out: r.stdout + r.stderr };
}

test("setup.sh and install-deps.sh refuse an unknown argument with a usage line naming it", (t) => {
  const s = run("sh", ["uboot-script/setup.sh", "everything"]);
  t.is(s.code, 2);
  t.is(s.out, "usage: sh uboot-script/setup.sh [sim|all] (got 'everything')\n");
  const d = run("bash", [".ci/install-deps.sh", "serve"]);
  t.is(d.code, 2);
  t.is(d.out, "usage: bash .ci/install-deps.sh start|test (got 'serve')\n");
});

test("setup.sh is silent when every U-Boot build is in place (sim and all)", (t) => {
  for (const what of ["sim", "all"]) {
    const r = run("sh", ["uboot-script/setup.sh", what]);
    t.is(r.code, 0, r.out);
    t.is(r.out, "", what);
  }
});
