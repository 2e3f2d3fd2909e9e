#!/usr/bin/env bash
# Installs everything flipper-boot's simulator and tests need on a Debian 12 machine with Node 20:
# Debian packages (when missing), npm packages (when node_modules is missing or stale), and
# Debian's U-Boot build for the QEMU board. Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
for pair in socat:socat qemu-system-arm:qemu-system-arm mkimage:u-boot-tools mcopy:mtools sfdisk:fdisk \
  mkfs.vfat:dosfstools fw_setenv:libubootenv-tool chromium:chromium dtc:device-tree-compiler setpriv:util-linux; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need_pkgs+=("${pair##*:}")
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
  $SUDO apt-get update -q || echo "install-deps: apt-get update reported errors; continuing"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"
fi

# npm packages: install when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci"
  npm ci --no-audit --no-fund
fi

# Debian's U-Boot for the i.MX6 SABRE Lite, run under QEMU by the U-Boot harness.
bash uboot-script/setup.sh
