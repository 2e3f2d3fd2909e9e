// What the test image adds to the Debian base besides flipper-boot itself: the bridge's settings
// for the guest, a health check a profile can make fail, and a report unit that prints what the
// boot looked like on the console (`fbreport: key=value` lines) and then powers off when asked.

/** /etc/default/flipper-boot in the test base: the MCU is on the guest's second serial port. */
export const GUEST_DEFAULTS = `# flipper-boot test guest: the MCU link is the second serial port (a host pty to the MCU)
FLIPPER_BOOT_PORT=/dev/ttyS1
FLIPPER_BOOT_BAUD=115200
FLIPPER_BOOT_STORE=/run/flipper/top
FLIPPER_BOOT_BOOT_DIR=none
FLIPPER_BOOT_FW_SETENV=
FLIPPER_BOOT_SOCKET=/run/flipper-boot.sock
FLIPPER_BOOT_STATE_DIR=/var/lib/flipper-boot
`;

/** Fails (so boot-complete.target is not reached) when the profile holds /etc/flipper-test-unhealthy. */
export const HEALTH_UNIT = `[Unit]
Description=Test health check: fails when /etc/flipper-test-unhealthy exists
Before=boot-complete.target
After=local-fs.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'if [ -e /etc/flipper-test-unhealthy ]; then echo "health check failed: /etc/flipper-test-unhealthy"; exit 1; fi'

[Install]
RequiredBy=boot-complete.target
WantedBy=multi-user.target
`;

export const REPORT_UNIT = `[Unit]
Description=Test report: what this boot mounted and marked, on the console
After=flipper-boot-mark-good.service boot-complete.target flipper-boot.service multi-user.target
Wants=boot-complete.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/flipper-test-report
StandardOutput=tty
TTYPath=/dev/ttyS0

[Install]
WantedBy=multi-user.target
`;

/** Runs in the guest as root; one fbreport line per fact. */
export const REPORT_SCRIPT = `#!/bin/sh
# Waits for the mark-good unit to finish (it may still be starting when multi-user is reached).
i=0
while [ $i -lt 120 ]; do
  s=$(systemctl show -p ActiveState --value flipper-boot-mark-good.service)
  case "$s" in activating|deactivating) sleep 0.5; i=$((i + 1)) ;; *) break ;; esac
done
r() { echo "fbreport: $1=$2"; }
while IFS= read -r l; do r booted "$l"; done </run/flipper/booted
while IFS= read -r l; do r initramfs "$l"; done </run/flipper/initramfs.log
r root "$(findmnt -no FSTYPE,OPTIONS /)"
r home "$(findmnt -no SOURCE /home)"
r top "$(findmnt -no FSTYPE /run/flipper/top)"
r markers "$(cd /etc && ls -d flipper-marker-* 2>/dev/null | tr '\\n' ' ')"
r base-version "$(cat /etc/flipper-base-version 2>/dev/null)"
r data "$(ls /home | tr '\\n' ' ')"
r machine-id "$(cat /etc/machine-id)"
r profiles "$(ls /run/flipper/top/@profiles | tr '\\n' ' ')"
r snapshots "$(cd /run/flipper/top/@snapshots 2>/dev/null && ls -d */* 2>/dev/null | tr '\\n' ' ')"
r staged "$(ls /run/flipper/top/@staged 2>/dev/null | tr '\\n' ' ')"
r boot-complete "$(systemctl is-active boot-complete.target)"
r mark-good "$(systemctl show -p Result --value flipper-boot-mark-good.service) $(systemctl is-active flipper-boot-mark-good.service)"
r daemon "$(systemctl is-active flipper-boot.service)"
journalctl -b -o cat -u flipper-boot-mark-good.service -u flipper-boot.service --no-pager 2>/dev/null | tail -n 12 | while IFS= read -r l; do r journal "$l"; done
mono() { systemctl show -p "$2" --value "$1"; }
r t-initrd "$(systemctl show -p InitRDTimestampMonotonic --value)"
r t-userspace "$(systemctl show -p UserspaceTimestampMonotonic --value)"
r t-boot-complete "$(mono boot-complete.target ActiveEnterTimestampMonotonic)"
r t-mark-good "$(mono flipper-boot-mark-good.service ActiveEnterTimestampMonotonic)"
r t-now "$(cut -d' ' -f1 /proc/uptime)"
# fbtest.run=NAME[,NAME]: test actions baked into the base (/usr/local/lib/flipper-test/NAME).
for a in $(cat /proc/cmdline); do
  case "$a" in
    fbtest.run=*)
      for n in $(echo "\${a#fbtest.run=}" | tr ',' ' '); do
        case "$n" in *[!a-z0-9-]*) r run-error "bad name $n"; continue ;; esac
        /usr/local/lib/flipper-test/"$n" 2>&1 | while IFS= read -r l; do r "run-$n" "$l"; done
      done ;;
  esac
done
r end 1
sync
case " $(cat /proc/cmdline) " in
  *" fbtest.poweroff "*) systemctl --no-block poweroff ;;
esac
`;

/**
 * The quick test boot (`init=` this script, see QUICK_INIT): no systemd, no bridge; it runs as the
 * first process of the root the initramfs mounted, prints what the initramfs did and what every
 * profile holds (`fbreport:` lines) and powers off. For cases about the initramfs alone.
 */
export const QUICK_INIT = "/usr/local/sbin/flipper-test-quick";

export const QUICK_SCRIPT = `#!/bin/sh
# PID 1 of a quick test boot: /proc, /sys, /dev and /run were moved here by the initramfs.
r() { echo "fbreport: $1=$2"; }
r quick 1
while IFS= read -r l; do r booted "$l"; done </run/flipper/booted
while IFS= read -r l; do r initramfs "$l"; done </run/flipper/initramfs.log
r root "$(findmnt -no FSTYPE,OPTIONS /)"
r home "$(findmnt -no SOURCE /home)"
r markers "$(cd /etc && ls -d flipper-marker-* 2>/dev/null | tr '\\n' ' ')"
r base-version "$(cat /etc/flipper-base-version 2>/dev/null)"
r profiles "$(ls /run/flipper/top/@profiles | tr '\\n' ' ')"
# What each profile holds: a failed boot must change none of them.
for p in /run/flipper/top/@profiles/*; do
  r upper "\${p##*/}: $(cd "$p/upper" && find . -mindepth 1 | LC_ALL=C sort | tr '\\n' ' ')"
done
r snapshots "$(cd /run/flipper/top/@snapshots 2>/dev/null && ls -d */* 2>/dev/null | tr '\\n' ' ')"
r staged "$(ls /run/flipper/top/@staged 2>/dev/null | tr '\\n' ' ')"
r t-now "$(cut -d' ' -f1 /proc/uptime)"
r end 1
sync
# Power off at once (QEMU runs with -no-reboot); PID 1 must not exit before.
echo o >/proc/sysrq-trigger
while :; do sleep 1; done
`;

/** Test actions a boot can run (fbtest.run=NAME), each a small sh script. */
export const TEST_ACTIONS: Record<string, string> = {
  // Stages a reset of the running profile the way protocol/STORE.md describes (@staged/<id>).
  "stage-reset": `#!/bin/sh
id=$(sed -n 's/^profile=//p' /run/flipper/booted)
printf 'action=reset\\nrequested=test\\n' > /run/flipper/top/@staged/"$id" && echo "staged reset of $id"
sync
`,
  // A file written inside the running profile: it must survive a reboot and vanish on reset.
  "write-file": `#!/bin/sh
echo written > /etc/flipper-test-written && sync && echo "wrote /etc/flipper-test-written"
`,
  "show-file": `#!/bin/sh
cat /etc/flipper-test-written 2>/dev/null || echo absent
`,
  // A direct overlay mount of this boot's base (a fresh tmpfs upper), timed: what mounting costs
  // without the hook's checks, to compare with the hook's took_ms (bench/linux.ts).
  "overlay-time": `#!/bin/sh
base=$(sed -n 's/^base=//p' /run/flipper/booted)
d=$(mktemp -d /run/overlay-time.XXXXXX)
mount -t tmpfs tmpfs "$d" && mkdir "$d/u" "$d/w" "$d/m"
t0=$(date +%s%N)
mount -t overlay -o "lowerdir=/run/flipper/top/@base/$base,upperdir=$d/u,workdir=$d/w" overlay "$d/m"
t1=$(date +%s%N)
umount "$d/m"; umount "$d"; rmdir "$d"
echo "direct_us=$(( (t1 - t0) / 1000 ))"
`,
  // apt inside the running profile: a snapshot first, a package (made here with dpkg-deb: the VM
  // has no network) installed with apt-get, then `profile undo`, which stages the undo.
  "apt-install": `#!/bin/sh
id=$(sed -n 's/^profile=//p' /run/flipper/booted)
flipper-boot profile snapshot "$id" --note "before apt" 2>&1
d=$(mktemp -d)
mkdir -p "$d/pkg/DEBIAN" "$d/pkg/usr/share/flipper-test-hello"
printf 'Package: flipper-test-hello\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: flipper-boot tests <tests@localhost>\\nDescription: installed by the Linux test\\n' >"$d/pkg/DEBIAN/control"
echo hello >"$d/pkg/usr/share/flipper-test-hello/hello.txt"
dpkg-deb --root-owner-group --build "$d/pkg" "$d/hello.deb" >/dev/null
apt-get install -y -q "$d/hello.deb" >/dev/null 2>&1 || echo "apt-get failed"
dpkg-query -W -f='\${Status}\\n' flipper-test-hello 2>&1
flipper-boot profile undo "$id" 2>&1
echo "staged: $(ls /run/flipper/top/@staged)"
sync
`,
  "show-package": `#!/bin/sh
if dpkg-query -W -f='\${Status}' flipper-test-hello 2>/dev/null | grep -q 'ok installed'; then echo installed; else echo "not installed"; fi
`,
  // The bridge's own view of this boot.
  status: `#!/bin/sh
flipper-boot status 2>&1 | head -n 20
`,
};
