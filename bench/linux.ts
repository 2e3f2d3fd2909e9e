// Figures for the real Linux chain (npx tsx bench/linux.ts, or npm run bench -- linux): power-on to
// mark-good with the test guest under QEMU, split into stages; what the initramfs hook costs against
// its own overlay mount (several quick boots: one boot's 10 ms steps and the host's load move it by
// tens of ms) and against a direct mount in the booted guest; the image build times.
// FLIPPER_BENCH_HOOK_BOOTS sets the number of quick boots (default 5).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { hookSteps, hookStepTimes, reportValue } from "../sim/linux/guest";
import { LinuxRig } from "../sim/linux/rig";
import { buildTimes, LINUX_BUILD_DIR } from "../sim/linux/rootfs";
import { buildPackages } from "../soc-bridge/package";

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The hook's figures from one boot's initramfs.log lines: whole script, its overlay mount, ms. */
function hookFigures(initramfs: string[]): { hookMs: number; overlayMs: number; hookEnd: number } {
  const value = (k: string) =>
    Number(initramfs.find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1) ?? Number.NaN);
  // The hook's own overlay mount (klibc mount; the kernel loads the overlay module on first use):
  // what a root on this overlay costs in the initramfs without any of the hook's checks.
  const steps = new Map(hookStepTimes(initramfs));
  const overlayMs = (steps.get("overlay") ?? Number.NaN) - (steps.get("workdir") ?? Number.NaN);
  return { hookMs: value("took_ms"), overlayMs, hookEnd: value("at_ms") };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const load = () => loadavg()[0].toFixed(1);

/** The Debian package for each architecture: its size, what dpkg says it installs, its build time. */
async function packageRows(): Promise<Array<[string, string]>> {
  const out = mkdtempSync(join(tmpdir(), "flipper-bench-deb-"));
  try {
    const t0 = Date.now();
    const built = await buildPackages({ outDir: out, log: () => {} });
    const rows: Array<[string, string]> = built.map((p) => {
      const installed = execFileSync("dpkg-deb", ["-f", p.file, "Installed-Size"], {
        encoding: "utf8",
      }).trim();
      return [
        `package ${p.file.slice(out.length + 1)}`,
        `${(statSync(p.file).size / 1024).toFixed(0)} KiB, installs ${installed} KiB, ${p.files.length} files`,
      ];
    });
    rows.push([`npm run package (${built.length} architectures)`, s(Date.now() - t0)]);
    return rows;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export async function bench(): Promise<Array<[string, string]>> {
  const packages = await packageRows();
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
    const initramfs = g.report.get("initramfs") ?? [];
    const { hookMs, overlayMs: overlayStepMs, hookEnd } = hookFigures(initramfs);
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
      ["this boot's initramfs hook, whole script (/proc/uptime, 10 ms steps)", `${hookMs} ms`],
      ["this boot's hook, step by step (ms since the previous step)", hookSteps(initramfs)],
      ["this boot's hook: its own overlay mount (module load included)", `${overlayStepMs} ms`],
      ["direct overlay mount of the same base in the booted guest (util-linux)", `${directMs.toFixed(1)} ms`],
      [
        "this boot's hook minus that booted-system mount (the older figure)",
        `${(hookMs - directMs).toFixed(0)} ms`,
      ],
    ];
    // The hook alone, over several quick boots (initramfs, report, power-off: seconds each).
    const boots = Math.max(1, Number(process.env.FLIPPER_BENCH_HOOK_BOOTS ?? 5) || 5);
    const added: number[] = [];
    const whole: number[] = [];
    const loadBefore = load();
    for (let i = 0; i < boots; i++) {
      const q = await rig.powerOn({ cmdline: "flipper.profile=main flipper.base=1.0", quick: true });
      const f = hookFigures(q.guest.report.get("initramfs") ?? []);
      if (!Number.isFinite(f.hookMs - f.overlayMs)) throw new Error(`quick boot ${i + 1} gave no hook steps`);
      added.push(f.hookMs - f.overlayMs);
      whole.push(f.hookMs);
    }
    rows.push(
      [
        `the hook over ${boots} quick boots, whole script: median, min-max (host load ${loadBefore} -> ${load()})`,
        `${median(whole)} ms, ${Math.min(...whole)}-${Math.max(...whole)} ms`,
      ],
      [
        "what the hook adds over its own overlay mount: median, min-max (like with like; goal < 100 ms)",
        `${median(added)} ms, ${Math.min(...added)}-${Math.max(...added)} ms (${added.join(", ")})`,
      ],
    );
    const times = buildTimes();
    rows.push(
      ["image build: rootfs (mmdebstrap, last build)", times.rootfs ? s(times.rootfs) : "not built here"],
      ["image build: disk, package, initramfs (last build)", times.image ? s(times.image) : "not built here"],
      ["this run's preparation (cached image: package check)", s(prepareMs)],
      ...packages,
    );
    return rows;
  } finally {
    await rig.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const [label, value] of await bench()) console.log(`${label.padEnd(80)} ${value}`);
}
