// npm run linux -- [options]: one power-on of the whole chain with the real Linux test guest, and
// what happened: the flipper: lines (U-Boot, initramfs), the mounted root, the mark-good, the MCU.
// With no options: builds what is missing (with progress) and boots the test image's default profile.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { bootedRecord, hookSteps, reportValue } from "./guest";
import { LinuxRig, type PowerOnOptions } from "./rig";

const USAGE = `npm run linux -- [options]
  --pick NAME          open the menu (OK held) and boot the row NAME (a profile's name, or "recovery")
  --reset              with --pick: the menu's "Reset profile" (hold OK) instead of booting it
  --recovery-mode      with --pick: the menu's "Recovery mode" for that profile
  --next ID            set a one-shot for profile ID first (as \`flipper-boot next ID\`)
  --default ID         set the default first (as \`flipper-boot set-default ID\`)
  --max-tries N        the MCU's allowed tries (1..10)
  --block FILE         U-Boot reads this 64-byte register block instead of the MCU's
  --cmdline "OPTS"     boot the guest with these flipper.* options (no MCU decision, no U-Boot)
  --run NAME[,NAME]    test actions to run in the guest (fbtest.run: ${"write-file, show-file, stage-reset, status"})
  --boots N            power on N times in a row (same disk and MCU): tries, fallback
  --quick              the quick test boot: the initramfs, its report, power-off (no systemd, no mark-good)
  --mcu node|vm        the MCU: mcu/core in Node (default) or the compiled program in the DeviceScript VM
  --console            print the whole guest console
  --json               one JSON object per boot instead of text`;

async function main(): Promise<number> {
  let a: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      options: {
        pick: { type: "string" },
        reset: { type: "boolean", default: false },
        "recovery-mode": { type: "boolean", default: false },
        next: { type: "string" },
        default: { type: "string" },
        "max-tries": { type: "string" },
        block: { type: "string" },
        cmdline: { type: "string" },
        run: { type: "string" },
        boots: { type: "string", default: "1" },
        quick: { type: "boolean", default: false },
        mcu: { type: "string", default: "node" },
        console: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
    }).values;
  }
  try {
    a = parse();
  } catch (e) {
    console.error(`linux: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (a.help) {
    console.log(USAGE);
    return 0;
  }
  const boots = Number(a.boots);
  if (!Number.isInteger(boots) || boots < 1 || boots > 20) {
    console.error(`linux: --boots ${JSON.stringify(a.boots)} is invalid: must be 1 to 20`);
    return 2;
  }
  const maxTries = a["max-tries"] === undefined ? undefined : Number(a["max-tries"]);
  if (maxTries !== undefined && !(Number.isInteger(maxTries) && maxTries >= 1 && maxTries <= 10)) {
    console.error(`linux: --max-tries ${JSON.stringify(a["max-tries"])} is invalid: must be 1 to 10`);
    return 2;
  }
  let block: number[] | undefined;
  if (a.block) {
    const b = readFileSync(a.block);
    if (b.length !== 64) {
      console.error(
        `linux: --block ${a.block} is invalid: must be a 64-byte register block (it has ${b.length})`,
      );
      return 2;
    }
    block = [...b];
  }
  if (a.cmdline !== undefined && /[^a-zA-Z0-9 ._=;,:/+@-]/.test(a.cmdline)) {
    console.error("linux: --cmdline may hold letters, digits, spaces and ._=;,:/+@- only");
    return 2;
  }
  if (a.mcu !== "node" && a.mcu !== "vm") {
    console.error(`linux: --mcu ${JSON.stringify(a.mcu)} is invalid: must be node or vm`);
    return 2;
  }
  const say = (l: string) => console.error(l);
  const rig = await LinuxRig.create({ log: say, mcu: a.mcu });
  try {
    await rig.bridge(async (d) => {
      if (maxTries !== undefined) await d.setOptions({ maxTries });
      if (a.default) await d.setDefault(a.default);
      if (a.next) await d.setNext(a.next, "boot");
    });
    for (let i = 0; i < boots; i++) {
      const o: PowerOnOptions = {
        pick: a.pick,
        pickAction: a.reset ? "reset" : a["recovery-mode"] ? "recovery" : undefined,
        block,
        cmdline: a.cmdline,
        extra: a.run ? `fbtest.run=${a.run}` : undefined,
        quick: a.quick,
        onLine: (l) => {
          if (/^\s*flipper: |fbreport: /.test(l)) return;
          if (a.console) console.error(`console: ${l}`);
        },
      };
      say(`linux: power-on ${i + 1} of ${boots}`);
      const r = await rig.powerOn(o);
      const b = bootedRecord(r.guest);
      if (a.json) {
        console.log(
          JSON.stringify({
            selection: r.selection,
            uboot: r.uboot,
            flipperOptions: r.flipperOptions,
            flipperLines: r.guest.flipperLines,
            booted: b,
            report: Object.fromEntries(r.guest.report),
            mcu: r.mcuState,
            accel: r.guest.accel,
            times: r.times,
          }),
        );
        continue;
      }
      for (const l of r.uboot?.flipperLines ?? []) console.log(`u-boot:    ${l}`);
      console.log(`cmdline:   ${r.flipperOptions}`);
      for (const l of r.guest.flipperLines) console.log(`initramfs: ${l}`);
      const init = r.guest.report.get("initramfs") ?? [];
      const took = init.find((l) => l.startsWith("took_ms="));
      if (took) console.log(`hook:      ${took.slice("took_ms=".length)} ms; ${hookSteps(init)}`);
      console.log(`booted:    profile=${b.profile ?? "?"} base=${b.base ?? "?"} action=${b.action ?? "?"}`);
      if (b.deviation) console.log(`deviation: ${b.deviation}`);
      if (b.staged) console.log(`staged:    ${b.staged}`);
      console.log(`root:      ${reportValue(r.guest, "root") || "(no report: see --console)"}`);
      console.log(`markers:   ${reportValue(r.guest, "markers").trim() || "-"}`);
      console.log(`home:      ${reportValue(r.guest, "home")}`);
      console.log(`health:    boot-complete.target ${reportValue(r.guest, "boot-complete")}`);
      console.log(`mark-good: ${reportValue(r.guest, "mark-good")}`);
      for (const [k, v] of r.guest.report)
        if (k.startsWith("run-")) for (const l of v) console.log(`${k}: ${l}`);
      const m = r.mcuState;
      console.log(
        `mcu:       last boot ${m.lastBoot.id || "(recovery)"} ${m.lastBoot.good ? "good" : "not marked good"}, last good ${m.lastGoodId || "-"}, tries ${m.tries.map((x) => `${x.id}:${x.tries}${x.failed ? " failed" : ""}`).join(" ") || "-"}`,
      );
      console.log(
        `time:      menu ${r.times.menuMs} ms, U-Boot ${r.times.ubootMs} ms, guest ${r.times.guestMs} ms (${r.guest.accel})`,
      );
    }
  } finally {
    await rig.close();
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`linux: ${(e as Error).message}`);
    process.exit(1);
  },
);
