// Figures for the real Linux chain (npx tsx bench/linux.ts, or npm run bench -- linux): power-on to
// mark-good with the test guest under QEMU, split into stages; what the initramfs hook costs against
// a direct mount of the same overlay inside the guest; the image build times.
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { hookSteps, reportValue } from "../sim/linux/guest";
import { LinuxRig } from "../sim/linux/rig";
import { buildTimes, LINUX_BUILD_DIR } from "../sim/linux/rootfs";

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export async function bench(): Promise<Array<[string, string]>> {
  const t0 = Date.now();
  const rig = await LinuxRig.create();
  const prepareMs = Date.now() - t0;
  try {
    await rig.seed();
    const r = await rig.powerOn({ extra: "fbtest.run=overlay-time" });
    const g = r.guest;
    if (g.report.size === 0) {
      const file = join(LINUX_BUILD_DIR, "bench-console.txt");
      writeFileSync(file, g.console);
      throw new Error(
        `(console in ${file}) ` +
          `the guest printed no report (QEMU exit ${g.exitCode}: ${g.stderr.trim() || "no message"}); console ends: ${g.console.slice(-600)}`,
      );
    }
    const mono = (k: string) => Number(reportValue(g, k)) / 1000; // guest monotonic µs -> ms
    const userspace = mono("t-userspace");
    const complete = mono("t-boot-complete");
    const marked = mono("t-mark-good");
    const hookMs = Number(
      (g.report.get("initramfs") ?? []).find((l) => l.startsWith("took_ms="))?.slice("took_ms=".length) ??
        Number.NaN,
    );
    const hookEnd = Number(
      (g.report.get("initramfs") ?? []).find((l) => l.startsWith("at_ms="))?.slice("at_ms=".length) ??
        Number.NaN,
    );
    const initramfs = g.report.get("initramfs") ?? [];
    // The hook's own overlay mount (klibc mount; the kernel loads the overlay module on first use):
    // what a root on this overlay costs in the initramfs without any of the hook's checks.
    const steps = new Map(
      (initramfs.find((l) => l.startsWith("steps="))?.slice("steps=".length) ?? "")
        .split(" ")
        .map((p) => p.split(":"))
        .map(([n, v]) => [n, Math.round(Number(v) * 1000)] as const),
    );
    const overlayStepMs = (steps.get("overlay") ?? Number.NaN) - (steps.get("workdir") ?? Number.NaN);
    const direct = (g.report.get("run-overlay-time") ?? []).find((l) => l.startsWith("direct_us="));
    const directMs = direct ? Number(direct.slice("direct_us=".length)) / 1000 : Number.NaN;
    const good = reportValue(g, "mark-good") === "success active";
    const rows: Array<[string, string]> = [
      ["accelerator", `${g.accel}`],
      ["menu: power-on to FINAL (zero-wait default)", `${r.times.menuMs} ms`],
      ["U-Boot: boot.scr in SABRE Lite U-Boot under QEMU (whole run)", s(r.times.ubootMs)],
      [
        "QEMU start to the initramfs hook's flipper: line (firmware, kernel, initramfs)",
        g.firstFlipperLineMs === null ? "not seen" : s(g.firstFlipperLineMs),
      ],
      ["guest: kernel start to systemd (monotonic)", s(userspace)],
      ["guest: systemd to boot-complete.target", complete > 0 ? s(complete - userspace) : "not reached"],
      [
        "guest: boot-complete.target to mark-good done",
        good ? `${(marked - complete).toFixed(0)} ms` : "not marked",
      ],
      [
        "power-on to mark-good (menu + U-Boot + QEMU start to the hook + hook to mark-good)",
        good && g.firstFlipperLineMs !== null
          ? s(r.times.menuMs + r.times.ubootMs + g.firstFlipperLineMs + (marked - hookEnd))
          : "not marked",
      ],
      ["initramfs hook, whole script (/proc/uptime, 10 ms steps)", `${hookMs} ms`],
      ["initramfs hook, step by step (ms since the previous step)", hookSteps(initramfs)],
      ["the hook's own overlay mount in the initramfs (module load included)", `${overlayStepMs} ms`],
      [
        "what the hook adds over its own overlay mount (like with like; goal < 100 ms)",
        `${hookMs - overlayStepMs} ms`,
      ],
      ["direct overlay mount of the same base in the booted guest (util-linux)", `${directMs.toFixed(1)} ms`],
      ["the hook minus that booted-system mount (the older figure)", `${(hookMs - directMs).toFixed(0)} ms`],
    ];
    const times = buildTimes();
    rows.push(
      ["image build: rootfs (mmdebstrap, last build)", times.rootfs ? s(times.rootfs) : "not built here"],
      ["image build: disk, package, initramfs (last build)", times.image ? s(times.image) : "not built here"],
      ["this run's preparation (cached image: package check)", s(prepareMs)],
    );
    return rows;
  } finally {
    await rig.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const [label, value] of await bench()) console.log(`${label.padEnd(80)} ${value}`);
}
