// Unit tests of the simulator's helpers (no QEMU, no browser).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { parseBootargs } from "../sim/boot";
import { Simulation } from "../sim/engine";
import { comparePng, partialMatch } from "../sim/scenario-check";
import { memWriteLines, readTree, SimUboot } from "../sim/uboot";
import { BlockAction, BlockReason, BlockStatus, encodeBlock } from "../protocol/register-block";
import { Framebuffer } from "../mcu/node/framebuffer";
import { FrameMirror } from "../mcu/vm/frame-mirror";
import { acquireVmLock } from "../mcu/vm/lock";
import { grayOfIndex } from "../sim/mcu-vm";

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
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  mkdirSync(join(d, "flipper", "overlays"), { recursive: true });
  writeFileSync(join(d, "flipper", "a.env"), "flipper_kopts=quiet\n");
  writeFileSync(join(d, "flipper", ".a.env.tmp"), "half");
  writeFileSync(join(d, "flipper", "overlays", "x.dtbo"), "dtbo");
  const tree = readTree(d);
  t.deepEqual(Object.keys(tree).sort(), ["flipper/a.env", "flipper/overlays/x.dtbo"]);
  t.is(String(tree["flipper/a.env"]), "flipper_kopts=quiet\n");
});

test("comparePng counts differing pixels and names the first", (t) => {
  const d = mkdtempSync(join(tmpdir(), "flipper-sim-png-"));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  const a = new Framebuffer(256, 144);
  a.fillRect(0, 0, 256, 144, 0);
  const f = join(d, "a.png");
  writeFileSync(f, a.toPng());
  t.is(comparePng(f, a.toPng()), null);
  a.fillRect(10, 20, 2, 1, 63);
  t.is(comparePng(f, a.toPng()), "2 pixels differ, first at (10,20)");
  t.regex(comparePng(join(d, "missing.png"), a.toPng())!, /^cannot read /);
});

test("comparePng at 4 bits (the VM's screen) matches a reference it quantizes exactly, and no other", (t) => {
  const d = mkdtempSync(join(tmpdir(), "flipper-sim-png4-"));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  // The reference: the Node renderer's grays (20 is index 5; the VM's index 5 shows as gray 21).
  const ref = new Framebuffer(256, 144);
  ref.fillRect(0, 0, 256, 144, 63);
  ref.fillRect(0, 0, 40, 10, 20);
  ref.fillRect(50, 0, 4, 4, 46);
  const f = join(d, "ref.png");
  writeFileSync(f, ref.toPng());
  const vm = new Framebuffer(256, 144);
  vm.fillRect(0, 0, 256, 144, grayOfIndex(15));
  vm.fillRect(0, 0, 40, 10, grayOfIndex(20 >> 2));
  vm.fillRect(50, 0, 4, 4, grayOfIndex(46 >> 2));
  t.is(comparePng(f, vm.toPng(), 4), null);
  t.is(comparePng(f, vm.toPng()), "400 pixels differ, first at (0,0)", "at 6 bits gray 21 is not 20");
  vm.fillRect(3, 2, 1, 1, grayOfIndex(6));
  t.is(comparePng(f, vm.toPng(), 4), "1 pixels differ at 4 bits, first at (3,2)");
  t.throws(() => comparePng(f, vm.toPng(), 8), { message: "bits 8 is invalid: use 6 or 4" });
});

test("FrameMirror rebuilds a frame from the program's PIX lines (DeviceScript's column-major 4-bit buffer)", (t) => {
  const m = new FrameMirror();
  // Column x of band `top` (16 rows, 8 bytes a column): the even row in the low nibble.
  const line = (f: number, top: number, x: number, fill: (x: number, r: number) => number) => {
    const bytes: number[] = [];
    for (let c = 0; c < 16; c++)
      for (let b = 0; b < 8; b++) bytes.push(fill(x + c, 2 * b) | (fill(x + c, 2 * b + 1) << 4));
    return `PIX ${f} ${top} 16 ${x} ${Buffer.from(bytes).toString("hex")}`;
  };
  const expected = (x: number, y: number) => (x * 7 + y * 3) & 15;
  for (let top = 0; top < 144; top += 16)
    for (let x = 0; x < 256; x += 16) t.true(m.take(line(3, top, x, (cx, r) => expected(cx, top + r))));
  const px = m.finish(3);
  t.truthy(px);
  let wrong = 0;
  for (let y = 0; y < 144; y++)
    for (let x = 0; x < 256; x++) if (px![y * 256 + x] !== expected(x, y)) wrong++;
  t.is(wrong, 0);
  // A frame with a line missing is not shown; other lines are not PIX lines.
  t.true(m.take(line(4, 0, 0, () => 1)));
  t.is(m.finish(4), null);
  t.false(m.take("FRAME 4 list render 10 latency 5 text a"));
  t.false(m.take("PIX 5 0 16 0 abc"), "an odd number of hex digits");
});

test("the VM lock serves waiters in order: an earlier live waiter goes first, a dead one's ticket is dropped", async (t) => {
  const ticket = (pid: number) =>
    join(tmpdir(), `flipper-boot-devs-tcp-8082.wait-${"1".padStart(15, "0")}-${pid}-1`);
  // A live process (this one) waiting since long ago: we are not first in line.
  const live = ticket(process.pid);
  writeFileSync(live, String(process.pid));
  try {
    await t.throwsAsync(() => acquireVmLock(700), { message: /held for too long/ });
  } finally {
    rmSync(live, { force: true });
  }
  // A waiter that died without cleaning up does not block the line.
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
    encoding: "utf8",
  });
  const dead = ticket(Number(child.stdout));
  writeFileSync(dead, child.stdout);
  const release = await acquireVmLock(700).catch(() => null); // the lock itself may be busy
  if (release) release();
  t.false(existsSync(dead), "the dead waiter's ticket was removed");
});

test("FlipCTL refuses a profile id that cannot be a folder name, and names it", async (t) => {
  const sim = new Simulation();
  t.teardown(() => sim.close());
  for (const id of ["", "a/b", "..", "."]) {
    await t.throwsAsync(() => sim.flipctl.writeProfile({ id, name: "x", base: "1.2" }), {
      message: "profile id " + JSON.stringify(id) + " cannot be a folder name",
    });
  }
  await t.throwsAsync(() => sim.flipctl.deleteProfile("nope"), {
    message: 'no profile "nope" in the store',
  });
});

test("a dead U-Boot session is dropped: the boot after it starts a new QEMU and works", async (t) => {
  t.timeout(240000);
  const u = new SimUboot();
  const d = mkdtempSync(join(tmpdir(), "flipper-sim-boot-"));
  t.teardown(() => {
    u.close();
    rmSync(d, { recursive: true, force: true });
  });
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
});
