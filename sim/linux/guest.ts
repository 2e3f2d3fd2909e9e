// Boots the test guest once under QEMU (x86_64): the kernel and initramfs from build/linux, the disk
// as a qcow2 overlay over build/linux/disk.img (the cached image is never written), the console on
// the first serial port (read line by line) and the MCU link on the second (a host pty, opened by
// the caller). KVM is tried first where it works; otherwise TCG.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, linkSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { QUICK_INIT } from "./guest-files";
import { DISK_IMAGE, INITRD, KERNEL } from "./image";
import { LINUX_BUILD_DIR } from "./rootfs";
import { sh } from "./run";

export type Accel = "kvm" | "tcg";

export interface GuestFiles {
  disk: string;
  kernel: string;
  initrd: string;
}

/**
 * A disk for a series of boots in `dir`: writes go to a qcow2 overlay, the cached image stays as it
 * is. The image, kernel and initramfs are hard-linked into `dir` first, so a rebuild of the cache
 * (which renames new files into place) never changes what this series boots.
 */
export function makeGuestFiles(dir: string): GuestFiles {
  const pin = (f: string) => {
    const to = join(dir, basename(f));
    linkSync(f, to);
    return to;
  };
  const base = pin(DISK_IMAGE);
  const disk = join(dir, "disk.qcow2");
  sh("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", base, disk]);
  return { disk, kernel: pin(KERNEL), initrd: pin(INITRD) };
}

let accelCache: { accel: Accel; why: string } | null = null;

/**
 * KVM when /dev/kvm runs this kernel (a probe boot must print the kernel banner within 20 s),
 * else TCG. FLIPPER_LINUX_ACCEL=kvm|tcg skips the probe. The answer is kept in build/linux/accel.json
 * for the host kernel it was found on.
 */
export function chooseAccel(): { accel: Accel; why: string } {
  if (accelCache) return accelCache;
  const forced = process.env.FLIPPER_LINUX_ACCEL;
  if (forced === "kvm" || forced === "tcg") {
    accelCache = { accel: forced, why: "FLIPPER_LINUX_ACCEL" };
    return accelCache;
  }
  if (!existsSync("/dev/kvm")) {
    accelCache = { accel: "tcg", why: "no /dev/kvm" };
    return accelCache;
  }
  const host = sh("uname", ["-r"]).trim();
  const file = join(LINUX_BUILD_DIR, "accel.json");
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, "utf8")) as { host: string; accel: Accel; why: string };
    if (saved.host === host) {
      accelCache = { accel: saved.accel, why: saved.why };
      return accelCache;
    }
  }
  const probe = spawnSync(
    "qemu-system-x86_64",
    [
      "-accel",
      "kvm",
      "-cpu",
      "host",
      "-m",
      "256",
      "-nodefaults",
      "-display",
      "none",
      "-no-reboot",
      "-kernel",
      KERNEL,
      "-append",
      "console=ttyS0 panic=-1",
      "-serial",
      "stdio",
    ],
    { timeout: 20_000, encoding: "utf8" },
  );
  const ok = /Linux version/.test(probe.stdout ?? "");
  accelCache = ok
    ? { accel: "kvm", why: "KVM booted the kernel" }
    : {
        accel: "tcg",
        why: `KVM did not boot the kernel (${(probe.stderr ?? "").trim().split("\n")[0] || "no banner in 20 s"})`,
      };
  mkdirSync(LINUX_BUILD_DIR, { recursive: true });
  writeFileSync(file, JSON.stringify({ host, ...accelCache }));
  return accelCache;
}

export interface GuestOptions {
  /** From makeGuestFiles. */
  files: GuestFiles;
  /** Appended to the fixed part (console, root=LABEL=flipper rootflags=subvolid=5). */
  cmdline: string;
  /** Called with the MCU link's host pty once QEMU made it. */
  onMcuPty?: (path: string) => void | Promise<void>;
  /** Each console line (ANSI codes removed). */
  onLine?: (line: string) => void;
  /** Gives up (kills QEMU) after this long; default 15 minutes (a loaded 2-core machine is slow). */
  timeoutMs?: number;
  /** Kernel messages too (default: `quiet`, which keeps TCG's slow serial console short). */
  verbose?: boolean;
  /**
   * The quick test boot: the guest-files quick script instead of systemd reports what the initramfs
   * did and powers off (no bridge, no mark-good). For cases about the initramfs alone.
   */
  quick?: boolean;
}

export interface GuestResult {
  /** The whole console. */
  console: string;
  /** Every `flipper:` line the initramfs printed. */
  flipperLines: string[];
  /** `fbreport: key=value` lines from the guest's report unit, key -> values in order. */
  report: Map<string, string[]>;
  accel: Accel;
  /** QEMU start to QEMU exit, ms. */
  ms: number;
  /** QEMU start to the first kernel line / first flipper: line, ms (null when not seen). */
  firstFlipperLineMs: number | null;
  exitCode: number | null;
  /** What QEMU itself said (errors). */
  stderr: string;
}

/** QEMUs still running: killed when this process exits, so a failed or timed-out test leaves none. */
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

/**
 * `tsc=unstable`: with a stable TSC the kernel switches sched_clock to "stable" a few seconds into the
 * boot by patching its code while the second vCPU runs; under TCG that vCPU now and then still
 * executes the patch's int3 ("Oops: int3" in sched_clock_cpu, a panic): 2 of 30 quick boots on a
 * loaded host, none of 40 with this option.
 */
export const FIXED_CMDLINE = "console=ttyS0 root=LABEL=flipper rootflags=subvolid=5 rw panic=-1 tsc=unstable";

/** QEMU's machine for the test guest: the kernel, initramfs and disk of `files`, the console on stdio. */
export function guestMachineArgs(accel: string, files: GuestFiles, cmdline: string): string[] {
  return [
    "-accel",
    accel,
    ...(accel === "kvm" ? ["-cpu", "host"] : []),
    "-m",
    "1024",
    "-smp",
    "2",
    "-nodefaults",
    "-display",
    "none",
    "-no-reboot",
    "-kernel",
    files.kernel,
    "-initrd",
    files.initrd,
    "-append",
    cmdline,
    "-drive",
    `file=${files.disk},format=qcow2,if=virtio`,
    "-serial",
    "stdio",
  ];
}

/** One boot, until the guest powers off (the report unit does with fbtest.poweroff) or the timeout. */
export function bootGuest(opts: GuestOptions): Promise<GuestResult> {
  const { accel } = chooseAccel();
  const quick = opts.quick ? ` init=${QUICK_INIT}` : "";
  const cmdline = `${FIXED_CMDLINE}${opts.verbose ? "" : " quiet"}${quick} ${opts.cmdline}`.trim();
  const args = [
    ...guestMachineArgs(accel, opts.files, cmdline),
    "-chardev",
    "pty,id=mcu",
    "-serial",
    "chardev:mcu",
  ];
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "pipe", "pipe"] });
    live.add(child);
    child.on("exit", () => live.delete(child));
    let text = "";
    let partial = "";
    let firstFlipper: number | null = null;
    let stderr = "";
    let ptySeen = false;
    const flipperLines: string[] = [];
    const report = new Map<string, string[]>();
    const timer = setTimeout(
      () => {
        child.kill("SIGKILL");
      },
      opts.timeoutMs ?? 15 * 60_000,
    );
    const onLine = (raw: string) => {
      const line = raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "");
      const f = /(flipper: .*)$/.exec(line);
      if (f && !/fbreport:/.test(line)) {
        flipperLines.push(f[1]);
        if (firstFlipper === null) firstFlipper = Date.now() - t0;
      }
      const r = /fbreport: ([a-z0-9-]+)=(.*)$/.exec(line);
      if (r) {
        const list = report.get(r[1]) ?? [];
        list.push(r[2]);
        report.set(r[1], list);
      }
      opts.onLine?.(line);
    };
    // QEMU names the MCU link's pty on stdout or stderr (depending on its version).
    let heads = "";
    const lookForPty = (s: string) => {
      if (ptySeen) return;
      heads += s;
      const m = /char device redirected to (\/dev\/pts\/\d+) \(label mcu\)/.exec(heads);
      if (!m) return;
      ptySeen = true;
      Promise.resolve(opts.onMcuPty?.(m[1])).catch((e) => {
        opts.onLine?.(`(host) MCU link: ${(e as Error).message}`);
      });
    };
    child.stdout?.on("data", (b: Buffer) => {
      const s = b.toString("utf8");
      lookForPty(s);
      text += s;
      partial += s;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) onLine(l);
    });
    child.stderr?.on("data", (b: Buffer) => {
      const s = b.toString("utf8");
      stderr += s;
      lookForPty(s);
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`qemu-system-x86_64 could not start: ${e.message} (install qemu-system-x86)`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (partial) onLine(partial);
      const ms = Date.now() - t0;
      if (code !== 0 && !text) {
        reject(
          new Error(
            `qemu-system-x86_64 exited with ${code}: ${stderr.trim().split("\n").slice(-3).join(" ")}`,
          ),
        );
        return;
      }
      resolve({
        console: text,
        flipperLines,
        report,
        accel,
        ms,
        firstFlipperLineMs: firstFlipper,
        exitCode: code,
        stderr,
      });
    });
  });
}

/** The one value of a report key (the last one when repeated), or "". */
export function reportValue(r: GuestResult, key: string): string {
  const v = r.report.get(key);
  return v && v.length > 0 ? v[v.length - 1] : "";
}

/** /run/flipper/booted as the guest reported it. */
export function bootedRecord(r: GuestResult): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of r.report.get("booted") ?? []) {
    const i = l.indexOf("=");
    if (i > 0) out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

/** The hook's `steps=name:uptime ...` line as [name, ms since boot] pairs, in order ([] without one). */
export function hookStepTimes(initramfsLog: string[]): Array<readonly [string, number]> {
  const line = initramfsLog.find((l) => l.startsWith("steps="));
  if (!line) return [];
  return line
    .slice("steps=".length)
    .split(" ")
    .map((p) => p.split(":"))
    .map(([n, v]) => [n, Math.round(Number(v) * 1000)] as const);
}

/** The initramfs hook's steps as "name +ms" from its steps= line (/proc/uptime: 10 ms steps). */
export function hookSteps(initramfsLog: string[]): string {
  const pts = hookStepTimes(initramfsLog);
  if (pts.length === 0) return "no steps";
  return pts
    .slice(1)
    .map(([n, v], i) => `${n} +${v - pts[i][1]}`)
    .join(", ");
}
