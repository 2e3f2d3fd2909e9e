#!/usr/bin/env bash
# Installs what one npm command needs on a Debian 12 machine with Node 20, and nothing more:
#   bash .ci/install-deps.sh start   # `npm start` (prestart): the simulator
#   bash .ci/install-deps.sh test    # `npm test` (pretest, CI): everything the tests use (the default)
# Debian packages (when missing), npm packages (when node_modules is missing or older than the lock
# file) and the U-Boot builds the harness runs (uboot-script/setup.sh: the simulator needs one SABRE Lite
# build; the tests also need the 2025.01 one and the arm64 builds, one of which is compiled once, ~1-1.5 min).
# Idempotent, and silent when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-test}
# command:package pairs; a command found on PATH (or in /usr/sbin, /sbin) means its package is there.
sim_pairs="socat:socat qemu-system-arm:qemu-system-arm mkimage:u-boot-tools mkenvimage:u-boot-tools mcopy:mtools
  sfdisk:fdisk mkfs.vfat:dosfstools fw_setenv:libubootenv-tool dtc:device-tree-compiler mkfs.btrfs:btrfs-progs"
case "$what" in
start)
  pairs=$sim_pairs
  uboot=sim
  ;;
test)
  # The profile store and the real-Linux tests: btrfs, Debian roots made with mmdebstrap (armhf
  # through qemu-user), the x86_64 guest, the package checked by lintian.
  pairs="$sim_pairs chromium:chromium setpriv:util-linux systemd-analyze:systemd getfattr:attr
    mmdebstrap:mmdebstrap qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils qemu-arm-static:qemu-user-static
    update-binfmts:binfmt-support cpio:cpio zstd:zstd lintian:lintian readelf:binutils man:man-db"
  uboot=all
  ;;
*)
  echo "usage: bash .ci/install-deps.sh start|test (got '$what')" >&2
  exit 2
  ;;
esac

need_pkgs=()
for pair in $pairs; do
  cmd=${pair%%:*}
  pkg=${pair##*:}
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] && [ ! -x "/sbin/$cmd" ]; then
    [[ " ${need_pkgs[*]} " == *" $pkg "* ]] || need_pkgs+=("$pkg")
  fi
done

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "install-deps: installing Debian packages: ${need_pkgs[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root (or sudo) to install ${need_pkgs[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  # A mirror mid-sync can fail one index (seen for the armhf security index); the packages
  # we need still install from the others, so do not stop on update's exit code.
  $SUDO apt-get update -q >/dev/null || echo "install-deps: apt-get update reported errors; continuing"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# npm packages: install when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci"
  npm ci --no-audit --no-fund
fi

# The U-Boot builds under QEMU (the simulator's, or every one the tests run).
sh uboot-script/setup.sh "$uboot"
