// The whole chain with a real Debian (trixie, amd64) under QEMU: the MCU (NodeMcu, the real core)
// decides, the real boot.scr in real U-Boot turns its block into flipper.* options, the guest's
// initramfs hook mounts the profile, and inside the guest the packaged flipper-boot.service syncs the
// MCU over the guest's second serial port and flipper-boot-mark-good.service marks the boot good.
// Every boot checks several things at once (a boot costs 30-40 s of TCG on an idle machine). Each
// case group is its own test.serial with its own rig (disk overlay and MCU), so any group can run
// or be dropped alone. Cases about the initramfs alone use the quick test boot (no systemd). The
// default path with the MCU in the DeviceScript VM, the fallback after failed boots and a reset from
// the menu run as the simulator's real-Linux scenarios (sim/scenarios/16-18, test/sim-linux-real).
import test from "ava";
import { BlockAction, BlockReason } from "../protocol/register-block";
import { bootedRecord, reportValue } from "../sim/linux/guest";
import { TEST_PROFILES } from "../sim/linux/image";
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

/** What each profile's upper holds on the freshly built test disk (find . -mindepth 1, sorted). */
const FRESH_UPPERS = TEST_PROFILES.map(
  (p) =>
    `${p.id}: ${["./etc", `./etc/flipper-marker-${p.id}`, ...Object.keys(p.files ?? {}).map((f) => `./${f}`)]
      .sort()
      .map((f) => `${f} `)
      .join("")}`,
).sort();

/** A quick boot that fell back to recovery: nothing of any profile changed, no snapshot, nothing staged. */
function assertNoProfileChanged(t: import("ava").ExecutionContext, r: PowerOnResult, info: string): void {
  t.is(reportValue(r.guest, "quick"), "1", info);
  t.deepEqual([...(r.guest.report.get("upper") ?? [])].sort(), FRESH_UPPERS, info);
  t.is(reportValue(r.guest, "snapshots").trim(), "", info);
  t.is(reportValue(r.guest, "staged").trim(), "", info);
}

test.serial(
  "one-shot, then the default: each profile boots its own overlay; mark-good on the MCU",
  async (t) => {
    t.timeout(60 * 60_000, "two boots of a real Debian under TCG");
    const rig = await LinuxRig.create({ log });
    t.teardown(() => rig.close());
    // The list as the bridge keeps it, and a one-shot for lab (as `flipper-boot next lab` would set).
    await rig.bridge(async (d) => {
      await d.setNext("lab", "boot");
    });

    // one-shot: lab, on base 1.1; @data at /home; the guest's daemon speaks to the MCU; marked good
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

    // the one-shot is spent: the default (first profile, main on 1.0) boots
    const main = await rig.powerOn();
    const info2 = describe(main);
    t.is(main.selection?.profileId, "main", info2);
    t.is(reportValue(main.guest, "markers").trim(), "flipper-marker-main", info2);
    t.is(reportValue(main.guest, "base-version"), "1.0");
    t.true(markedGood(main), info2);
    t.is(main.mcuState.lastGoodId, "main");
  },
);

test.serial(
  "recovery from the menu: newest base, throwaway upper, never marked good, every profile reachable",
  async (t) => {
    t.timeout(60 * 60_000, "one boot of a real Debian under TCG");
    const rig = await LinuxRig.create({ log });
    t.teardown(() => rig.close());
    await rig.seed();
    const before = (await rig.device.state()).lastGoodId;

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
    t.is(rec.mcuState.lastGoodId, before, "recovery does not change the last good profile");
  },
);

test.serial(
  "initramfs failures in quick boots: a hostile command line, a missing profile, a missing base each print one flipper: line and boot recovery; no profile changes",
  async (t) => {
    t.timeout(60 * 60_000, "three quick boots of a real Debian under TCG");
    const rig = await LinuxRig.create({ log });
    t.teardown(() => rig.close());

    // a command line no U-Boot of ours would write
    const hostile = await rig.powerOn({
      cmdline: "flipper.profile=main;reboot flipper.base=1.0",
      quick: true,
    });
    const info3 = describe(hostile);
    t.deepEqual(
      hostile.guest.flipperLines,
      [
        `flipper: flipper.profile "main;reboot" is invalid: must be 1 to 31 characters of a-z, 0-9, '_' and '-', starting with a letter or digit; booting recovery`,
        "flipper: recovery: base 1.1, changes are thrown away at shutdown",
      ],
      info3,
    );
    t.like(bootedRecord(hostile.guest), { action: "recovery", profile: "", base: "1.1" });
    t.is(reportValue(hostile.guest, "markers").trim(), "");
    assertNoProfileChanged(t, hostile, info3);

    // a profile the store does not hold
    const ghost = await rig.powerOn({ cmdline: "flipper.profile=ghost flipper.base=1.1", quick: true });
    const info4 = describe(ghost);
    t.deepEqual(
      ghost.guest.flipperLines,
      [
        "flipper: profile ghost is missing (no @profiles/ghost); booting recovery",
        "flipper: recovery: base 1.1, changes are thrown away at shutdown",
      ],
      info4,
    );
    t.like(
      bootedRecord(ghost.guest),
      {
        profile: "",
        base: "1.1",
        action: "recovery",
        requested: "profile=ghost base=1.1 action=boot",
        deviation: "profile ghost is missing (no @profiles/ghost)",
      },
      info4,
    );
    t.regex(
      reportValue(ghost.guest, "root"),
      /^overlay .*lowerdir=\/run\/flipper\/top\/@base\/1\.1,upperdir=\/run\/flipper\/recovery\/upper/,
      info4,
    );
    t.is(reportValue(ghost.guest, "base-version"), "1.1", info4);
    t.is(reportValue(ghost.guest, "home"), "/dev/vda[/@data]", info4);
    assertNoProfileChanged(t, ghost, info4);

    // a base the store does not hold (main exists)
    const nobase = await rig.powerOn({ cmdline: "flipper.profile=main flipper.base=9.9", quick: true });
    const info5 = describe(nobase);
    t.deepEqual(
      nobase.guest.flipperLines,
      [
        "flipper: base 9.9 is missing (no @base/9.9); booting recovery",
        "flipper: recovery: base 1.1, changes are thrown away at shutdown",
      ],
      info5,
    );
    t.like(
      bootedRecord(nobase.guest),
      { profile: "", base: "1.1", action: "recovery", deviation: "base 9.9 is missing (no @base/9.9)" },
      info5,
    );
    t.is(reportValue(nobase.guest, "markers").trim(), "", "main's upper is not mounted");
    assertNoProfileChanged(t, nobase, info5);
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
