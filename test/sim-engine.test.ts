// Unit tests of the simulator's helpers (no QEMU, no browser).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { parseBootargs, Simulation } from "../sim/engine";
import { comparePng, partialMatch } from "../sim/scenario";
import { memWriteLines, readTree, SimUboot } from "../sim/uboot";
import { BlockAction, BlockReason, BlockStatus, encodeBlock } from "../protocol/register-block";
import { Framebuffer } from "../mcu/node/framebuffer";

test("parseBootargs splits options; the last one wins", (t) => {
  t.deepEqual(parseBootargs("console=ttyS0 flipper.profile=a  quiet flipper.profile=b"), {
    console: "ttyS0",
    "flipper.profile": "b",
    quiet: "",
  });
  t.deepEqual(parseBootargs(""), {});
});

test("partialMatch names the first path that differs", (t) => {
  const act = { a: 1, b: { c: "x", d: [1, 2] }, e: null };
  t.is(partialMatch({ a: 1 }, act), null);
  t.is(partialMatch({ b: { d: [1, 2] } }, act), null);
  t.is(partialMatch({ e: null }, act), null);
  t.is(partialMatch({ b: { c: "y" } }, act, "s"), 's.b.c: expected "y", actual "x"');
  t.is(partialMatch({ b: { d: [1] } }, act), "b.d: expected 1 entries [1], actual [1,2]");
  t.is(partialMatch({ z: 1 }, act), "z: expected 1, actual undefined");
  t.is(partialMatch({ a: 1 }, null, "mcu"), 'mcu: expected {"a":1}, actual null');
});

test("memWriteLines puts exactly the bytes (little-endian words) at the address, in short lines", (t) => {
  const bytes = Buffer.from(Array.from({ length: 67 }, (_, i) => (i * 37 + 5) & 0xff));
  const lines = memWriteLines(0x10900000, bytes);
  const mem = Buffer.alloc(68);
  for (const line of lines) {
    t.true(line.length <= 400, "console line of " + line.length + " characters");
    for (const cmd of line.split("; ")) {
      const m = /^mw\.l ([0-9a-f]+) ([0-9a-f]+)$/.exec(cmd);
      if (!m) throw new Error("unexpected command " + cmd);
      mem.writeUInt32LE(Number.parseInt(m[2], 16), Number.parseInt(m[1], 16) - 0x10900000);
    }
  }
  t.deepEqual(mem.subarray(0, 67), bytes);
  t.is(mem[67], 0);
});

test("readTree reads the boot folder and skips dotfiles (atomic-write leftovers)", (t) => {
  const d = mkdtempSync(join(tmpdir(), "flipper-sim-tree-"));
  try {
    mkdirSync(join(d, "flipper", "overlays"), { recursive: true });
    writeFileSync(join(d, "flipper", "a.env"), "flipper_kopts=quiet\n");
    writeFileSync(join(d, "flipper", ".a.env.tmp"), "half");
    writeFileSync(join(d, "flipper", "overlays", "x.dtbo"), "dtbo");
    const tree = readTree(d);
    t.deepEqual(Object.keys(tree).sort(), ["flipper/a.env", "flipper/overlays/x.dtbo"]);
    t.is(String(tree["flipper/a.env"]), "flipper_kopts=quiet\n");
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("comparePng counts differing pixels and names the first", (t) => {
  const d = mkdtempSync(join(tmpdir(), "flipper-sim-png-"));
  try {
    const a = new Framebuffer(256, 144);
    a.fillRect(0, 0, 256, 144, 0);
    const f = join(d, "a.png");
    writeFileSync(f, a.toPng());
    t.is(comparePng(f, a.toPng()), null);
    a.fillRect(10, 20, 2, 1, 63);
    t.is(comparePng(f, a.toPng()), "2 pixels differ, first at (10,20)");
    t.regex(comparePng(join(d, "missing.png"), a.toPng())!, /^cannot read /);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("FlipCTL refuses a profile id that cannot be a folder name, and names it", async (t) => {
  const sim = new Simulation();
  try {
    for (const id of ["", "a/b", "..", "."]) {
      await t.throwsAsync(() => sim.writeProfile({ id, name: "x", base: "1.2" }), {
        message: "profile id " + JSON.stringify(id) + " cannot be a folder name",
      });
    }
    await t.throwsAsync(() => sim.deleteProfile("nope"), { message: 'no profile "nope" in the store' });
  } finally {
    await sim.close();
  }
});

test("a dead U-Boot session is dropped: the boot after it starts a new QEMU and works", async (t) => {
  t.timeout(240000);
  const u = new SimUboot();
  const d = mkdtempSync(join(tmpdir(), "flipper-sim-boot-"));
  try {
    const block = encodeBlock({
      status: BlockStatus.FINAL,
      action: BlockAction.BOOT,
      reason: BlockReason.USER,
      flags: 0,
      tryNumber: 1,
      maxTries: 3,
      sequence: 5,
      profileId: "desktop",
      base: "1.2",
    });
    const first = await u.boot({ block, savedEnv: {}, bootDir: d });
    t.true(first.coldStartMs > 0);
    t.is(first.bootargs, "", "no DTB on this partition: the board's (empty) bootargs restored, not booting");
    t.true(first.flipperLines.includes("flipper: booting profile desktop base 1.2 (reason user)"));
    // Kill QEMU under the runner.
    (u as unknown as { sessions: { present: { q: { close(): void } } } }).sessions.present.q.close();
    await t.throwsAsync(() => u.boot({ block, savedEnv: {}, bootDir: d }), {
      message: /QEMU is not running/,
    });
    const again = await u.boot({ block, savedEnv: {}, bootDir: d });
    t.true(again.coldStartMs > 0, "a new QEMU was started");
    t.true(again.flipperLines.includes("flipper: booting profile desktop base 1.2 (reason user)"));
  } finally {
    u.close();
    rmSync(d, { recursive: true, force: true });
  }
});
