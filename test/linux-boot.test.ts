// The whole chain with a real Debian (trixie, amd64) under QEMU: the MCU (NodeMcu, the real core)
// decides, the real boot.scr in real U-Boot turns its block into flipper.* options, the guest's
// initramfs hook mounts the profile, and inside the guest the packaged flipper-boot.service syncs the
// MCU over the guest's second serial port and flipper-boot-mark-good.service marks the boot good.
// Every boot checks several things at once (a boot costs 30-40 s of TCG on an idle machine).
import test from "ava";
import { BlockAction, BlockReason } from "../protocol/register-block";
import { bootedRecord, reportValue } from "../sim/linux/guest";
import { LinuxRig, type PowerOnResult } from "../sim/linux/rig";

const log = process.env.FLIPPER_LINUX_LOG ? (l: string) => console.error(l) : undefined;

function describe(r: PowerOnResult): string {
  return [
    `options: ${r.flipperOptions}`,
    ...(r.uboot?.flipperLines ?? []).map((l) => `uboot: ${l}`),
    ...r.guest.flipperLines.map((l) => `guest: ${l}`),
    ...[...r.guest.report.entries()].map(([k, v]) => `report ${k}: ${v.join(" | ")}`),
    `exit ${r.guest.exitCode} after ${r.guest.ms} ms; QEMU said: ${r.guest.stderr.trim()}`,
    r.guest.report.size === 0 ? r.guest.console.slice(-3000) : "",
  ].join("\n");
}

function markedGood(r: PowerOnResult): boolean {
  return reportValue(r.guest, "mark-good") === "success active";
}

test.serial(
  "profiles boot their own overlays; one-shot, menu pick, reset and recovery; mark-good on the MCU",
  async (t) => {
    t.timeout(120 * 60_000, "five boots of a real Debian under TCG");
    const rig = await LinuxRig.create({ log });
    t.teardown(() => rig.close());
    // The list as the bridge keeps it, and a one-shot for lab (as `flipper-boot next lab` would set).
    await rig.bridge(async (d) => {
      await d.setNext("lab", "boot");
    });

    // 1. one-shot: lab, on base 1.1; @data at /home; the guest's daemon speaks to the MCU; marked good
    const lab = await rig.powerOn();
    const info1 = describe(lab);
    t.is(lab.selection?.profileId, "lab", info1);
    t.is(lab.selection?.reason, BlockReason.ONE_SHOT);
    t.is(lab.flipperOptions, "flipper.profile=lab flipper.base=1.1", info1);
    t.deepEqual(lab.guest.flipperLines, ["flipper: booted profile lab on base 1.1 (action boot)"], info1);
    t.like(bootedRecord(lab.guest), {
      profile: "lab",
      base: "1.1",
      action: "boot",
      deviation: "",
      staged: "",
    });
    t.is(reportValue(lab.guest, "markers").trim(), "flipper-marker-lab", info1);
    t.is(reportValue(lab.guest, "base-version"), "1.1");
    t.regex(
      reportValue(lab.guest, "root"),
      /^overlay .*lowerdir=\/run\/flipper\/top\/@base\/1\.1,upperdir=\/run\/flipper\/top\/@profiles\/lab\/upper/,
    );
    t.is(reportValue(lab.guest, "home"), "/dev/vda[/@data]");
    t.is(reportValue(lab.guest, "data").trim(), "owner-notes.txt");
    t.is(reportValue(lab.guest, "top"), "btrfs");
    t.regex(
      reportValue(lab.guest, "machine-id"),
      /^[0-9a-f]{32}$/,
      "first boot of the profile wrote its own machine-id",
    );
    t.true(markedGood(lab), info1);
    t.is(lab.mcuState.lastBoot.id, "lab");
    t.is(lab.mcuState.lastBoot.good, 1, info1);
    t.deepEqual(lab.mcuState.tries, []);

    // 2. the one-shot is spent: the default (first profile, main on 1.0) boots
    const main = await rig.powerOn();
    const info2 = describe(main);
    t.is(main.selection?.profileId, "main", info2);
    t.is(reportValue(main.guest, "markers").trim(), "flipper-marker-main", info2);
    t.is(reportValue(main.guest, "base-version"), "1.0");
    t.true(markedGood(main), info2);
    t.is(main.mcuState.lastGoodId, "main");

    // 3. picked from the menu: work; a file written in it
    const work = await rig.powerOn({ pick: "Work", extra: "fbtest.run=write-file" });
    const info3 = describe(work);
    t.is(work.selection?.profileId, "work", info3);
    t.is(work.selection?.reason, BlockReason.USER);
    t.is(reportValue(work.guest, "markers").trim(), "flipper-marker-work", info3);
    t.is(reportValue(work.guest, "run-write-file"), "wrote /etc/flipper-test-written", info3);
    t.true(markedGood(work), info3);

    // 4. reset from the menu (hold OK): the old upper becomes a snapshot, the profile starts empty
    const reset = await rig.powerOn({ pick: "Work", pickAction: "reset", extra: "fbtest.run=show-file" });
    const info4 = describe(reset);
    t.is(reset.selection?.action, BlockAction.RESET, info4);
    t.is(reset.flipperOptions, "flipper.profile=work flipper.base=1.1 flipper.action=reset", info4);
    const b4 = bootedRecord(reset.guest);
    t.is(b4.action, "reset", info4);
    t.regex(b4.staged, /^reset, snapshot \d{8}T\d{6}Z/, info4);
    t.is(reportValue(reset.guest, "markers").trim(), "", info4);
    t.is(reportValue(reset.guest, "run-show-file"), "absent", info4);
    t.regex(reportValue(reset.guest, "snapshots"), /work\/\d{8}T\d{6}Z/, info4);
    t.true(markedGood(reset), info4);

    // 5. recovery from the menu: newest base, throwaway upper, never marked good, every profile reachable
    const rec = await rig.powerOn({ pick: "recovery" });
    const info5 = describe(rec);
    t.is(rec.selection?.action, BlockAction.RECOVERY, info5);
    t.is(rec.flipperOptions, "flipper.action=recovery", info5);
    t.like(bootedRecord(rec.guest), { profile: "", base: "1.1", action: "recovery", deviation: "" });
    t.regex(reportValue(rec.guest, "root"), /^overlay .*upperdir=\/run\/flipper\/recovery\/upper/, info5);
    t.is(reportValue(rec.guest, "profiles").trim(), "broken lab main work");
    t.regex(rec.guest.console, /Flipper OS recovery/, "the login prompt says recovery");
    t.false(markedGood(rec), info5);
    t.regex(
      reportValue(rec.guest, "journal") + (rec.guest.report.get("journal") ?? []).join("\n"),
      /recovery: only boot and reset boots are marked good/,
    );
    t.is(
      rec.mcuState.lastGoodId,
      "work",
      "recovery does not change the last good profile (work, picked in 3)",
    );
  },
);

test.serial(
  "a failing health check is not marked good; after the allowed tries the MCU falls back to the last good profile; a hostile command line boots recovery",
  async (t) => {
    t.timeout(120 * 60_000, "four boots of a real Debian under TCG");
    const rig = await LinuxRig.create({ log });
    t.teardown(() => rig.close());
    await rig.bridge(async (d) => {
      await d.setOptions({ maxTries: 1 });
    });

    // main boots and is marked good: the last good profile
    const main = await rig.powerOn();
    t.true(markedGood(main), describe(main));
    t.is(main.mcuState.lastGoodId, "main");

    // broken becomes the default; its health check fails: boot-complete.target is never reached
    await rig.bridge((d) => d.setDefault("broken").then(() => {}));
    const broken = await rig.powerOn();
    const info = describe(broken);
    t.is(broken.selection?.profileId, "broken", info);
    t.is(reportValue(broken.guest, "boot-complete"), "inactive", info);
    t.false(markedGood(broken), info);
    t.is(broken.mcuState.lastBoot.good, 0, info);
    t.deepEqual(
      broken.mcuState.tries.map((x) => [x.id, x.tries]),
      [["broken", 1]],
    );

    // out of tries: the MCU falls back to main, which boots and is marked good
    const back = await rig.powerOn();
    const info2 = describe(back);
    t.is(back.selection?.profileId, "main", info2);
    t.is(back.selection?.reason, BlockReason.FALLBACK, info2);
    t.regex(back.uboot?.flipperLines.join("\n") ?? "", /booting profile main base 1\.0 \(reason fallback/);
    t.true(markedGood(back), info2);

    // a command line no U-Boot of ours would write: one flipper: line, recovery, never marked good
    const hostile = await rig.powerOn({ cmdline: "flipper.profile=main;reboot flipper.base=1.0" });
    const info3 = describe(hostile);
    t.deepEqual(
      hostile.guest.flipperLines.slice(0, 1),
      [
        `flipper: flipper.profile "main;reboot" is invalid: must be 1 to 31 characters of a-z, 0-9, '_' and '-', starting with a letter or digit; booting recovery`,
      ],
      info3,
    );
    t.like(bootedRecord(hostile.guest), { action: "recovery", profile: "" });
    t.false(markedGood(hostile), info3);
    t.is(reportValue(hostile.guest, "markers").trim(), "");
  },
);

test.serial(
  "an apt install inside a profile, then profile undo: staged, applied by the initramfs at the next boot",
  async (t) => {
    t.timeout(60 * 60_000, "two boots of a real Debian under TCG");
    const rig = await LinuxRig.create({ log });
    t.teardown(() => rig.close());
    await rig.seed();

    const a = await rig.powerOn({ extra: "fbtest.run=apt-install" });
    const info = describe(a);
    const lines = a.guest.report.get("run-apt-install") ?? [];
    t.true(
      lines.some((l) => /^snapshot \d{8}T\d{6}Z/.test(l)),
      info,
    );
    t.true(lines.includes("install ok installed"), info);
    t.true(
      lines.some((l) => /^undo .*staged for the next boot of main/.test(l)),
      info,
    );
    t.true(lines.includes("staged: main"), info);

    const b = await rig.powerOn({ extra: "fbtest.run=show-package" });
    const info2 = describe(b);
    t.regex(bootedRecord(b.guest).staged, /^undo to \d{8}T\d{6}Z, snapshot \d{8}T\d{6}Z/, info2);
    t.deepEqual(b.guest.report.get("run-show-package"), ["not installed"], info2);
    t.is(reportValue(b.guest, "staged").trim(), "", info2);
    t.true(markedGood(b), info2);
  },
);
