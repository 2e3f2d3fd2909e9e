#!/bin/sh
# Prepares the two arm64 U-Boot 2023.01 builds the overlay / arm64 tests use (called by setup.sh).
# Idempotent: a second run with both in place does nothing but check.
#   build/uboot/qemu_arm64/u-boot.bin          Debian's u-boot-qemu, qemu_arm64 build, unmodified (no
#                                              compiling). For qemu-system-aarch64 -M virt. Has setexpr with
#                                              regex, env import, crc32, itest, booti, virtio; no i2c and no
#                                              CONFIG_OF_LIBFDT_OVERLAY (`fdt apply` is missing).
#   build/uboot/qemu_arm64-overlay/u-boot.bin  The same qemu_arm64 board built from Debian's source package
#                                              (same version, deb-src) with Debian's own .config for it (shipped
#                                              in that .deb) plus CONFIG_OF_LIBFDT_OVERLAY=y, with Debian's
#                                              cross compiler gcc-aarch64-linux-gnu. ~1-1.5 min on 2 cores, once.
#   sh uboot-script/setup-overlay.sh       # from the repository root (as root, or with sudo available)
# Silent when both are in place.
set -eu

# shellcheck source=uboot-script/setup-apt.sh
. "$(dirname -- "$0")/setup-apt.sh"
QBIN="$CACHE/qemu_arm64/u-boot.bin"
QCFG="$CACHE/qemu_arm64/config.qemu_arm64.gz"
OBIN="$CACHE/qemu_arm64-overlay/u-boot.bin"
mkdir -p "$CACHE"

# Concurrent runs (several test runs in one checkout) wait for each other instead of sharing a build.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.setup-overlay.lock"
  flock 9
fi

if ! command -v qemu-system-aarch64 >/dev/null 2>&1; then
  apt_install_missing qemu-system-arm
fi

# 1. Debian's u-boot-qemu: its qemu_arm64 build and the .config it was built with.
if [ ! -f "$QBIN" ] || [ ! -f "$QCFG" ]; then
  if ! ls "$CACHE"/u-boot-qemu_*_all.deb >/dev/null 2>&1; then
    apt_update
    (cd "$CACHE" && apt-get download -q -o APT::Sandbox::User=root u-boot-qemu >/dev/null)
  fi
  deb=$(ls "$CACHE"/u-boot-qemu_*_all.deb | head -n 1)
  rm -rf "$CACHE/deb-qemu"
  dpkg-deb -x "$deb" "$CACHE/deb-qemu"
  mkdir -p "$CACHE/qemu_arm64"
  cp "$CACHE/deb-qemu/usr/share/doc/u-boot-qemu/configs/config.qemu_arm64.gz" "$QCFG"
  cp "$CACHE/deb-qemu/usr/lib/u-boot/qemu_arm64/u-boot.bin" "$QBIN.tmp"
  mv "$QBIN.tmp" "$QBIN"
  rm -rf "$CACHE/deb-qemu"
  echo "setup-overlay.sh: $QBIN ready (from $(basename "$deb"))"
fi

# 2. The same board with overlay support, from Debian's source package.
if [ ! -f "$OBIN" ]; then
  apt_install_missing gcc-aarch64-linux-gnu bison flex bc make gcc libc6-dev python3-dev python3-setuptools \
    python3-pyelftools python3-libfdt swig libssl-dev libgnutls28-dev uuid-dev dpkg-dev xz-utils
  # Source entries for the same mirrors and suites as this machine's binary ones.
  ensure_deb_src u-boot
  deb=$(ls "$CACHE"/u-boot-qemu_*_all.deb 2>/dev/null | head -n 1 || true)
  ver=""
  if [ -n "$deb" ]; then ver=$(dpkg-deb -f "$deb" Version); fi
  src=$(mktemp -d "$CACHE/arm64-src.XXXXXX")
  trap 'rm -rf "$src"' EXIT
  # The version the packaged binaries were built from, else the newest source.
  if [ -n "$ver" ]; then
    (cd "$src" && apt-get source -q --only-source "u-boot=$ver" >/dev/null 2>&1) ||
      (cd "$src" && apt-get source -q --only-source u-boot >/dev/null)
  else
    (cd "$src" && apt-get source -q --only-source u-boot >/dev/null)
  fi
  tree=$(find "$src" -mindepth 1 -maxdepth 1 -type d -name 'u-boot-*' | head -n 1)
  obj="$src/obj"
  mkdir -p "$obj"
  zcat "$QCFG" >"$obj/.config"
  "$tree/scripts/config" --file "$obj/.config" -e OF_LIBFDT_OVERLAY
  make -C "$tree" O="$obj" CROSS_COMPILE=aarch64-linux-gnu- olddefconfig >/dev/null
  grep -qx 'CONFIG_OF_LIBFDT_OVERLAY=y' "$obj/.config" || {
    echo "setup-overlay.sh: qemu_arm64 config did not take CONFIG_OF_LIBFDT_OVERLAY" >&2
    exit 1
  }
  echo "setup-overlay.sh: building qemu_arm64 with overlays from $(basename "$tree") (about 1-1.5 min on 2 cores)"
  make -C "$tree" O="$obj" CROSS_COMPILE=aarch64-linux-gnu- -j"$(nproc)" >"$src/build.log" 2>&1 || {
    tail -n 40 "$src/build.log" >&2
    exit 1
  }
  mkdir -p "$(dirname "$OBIN")"
  cp "$obj/.config" "$(dirname "$OBIN")/config"
  cp "$obj/u-boot.bin" "$OBIN.tmp"
  mv "$OBIN.tmp" "$OBIN"
  echo "setup-overlay.sh: $OBIN ready"
fi
