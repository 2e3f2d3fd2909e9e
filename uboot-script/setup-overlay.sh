#!/bin/sh
# Prepares the two extra U-Boot 2023.01 builds the overlay / arm64 tests use (called by setup.sh).
# Idempotent: a second run with both in place does nothing but check.
#   build/uboot/qemu_arm64/u-boot.bin   Debian's u-boot-qemu (qemu_arm64, for qemu-system-aarch64 -M virt);
#                                       no compiling. Has setexpr+regex, env import, crc32, itest, booti,
#                                       virtio; no i2c and no CONFIG_OF_LIBFDT_OVERLAY.
#   build/uboot/sandbox/u-boot(.dtb)    U-Boot "sandbox" (a Linux program) built from Debian's source
#                                       package u-boot (deb-src, same version), sandbox_defconfig +
#                                       LEGACY_IMAGE_FORMAT (for `source`); its DTB without the alarm
#                                       watchdog's u-boot,autostart (SIGALRM would kill an idle prompt).
#                                       Has CONFIG_OF_LIBFDT_OVERLAY. ~1.5-2 min on 2 cores. The harness
#                                       runs it on a pty through socat.
#   sh uboot-script/setup-overlay.sh       # from the repository root (as root, or with sudo available)
set -eu

ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
CACHE="$ROOT/build/uboot"
QBIN="$CACHE/qemu_arm64/u-boot.bin"
SBIN="$CACHE/sandbox/u-boot"
SDTB="$CACHE/sandbox/u-boot.dtb"
mkdir -p "$CACHE"

# Concurrent runs (several test runs in one checkout) wait for each other instead of sharing a build.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.setup-overlay.lock"
  flock 9
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

updated=0
apt_update() {
  if [ "$updated" = 0 ]; then
    # A mirror mid-sync can fail one index (seen for the armhf security index): tolerate it.
    $SUDO apt-get update || echo "setup-overlay.sh: apt-get update reported an error; continuing" >&2
    updated=1
  fi
}

need_pkgs=""
for pair in qemu-system-aarch64:qemu-system-arm socat:socat fdtput:device-tree-compiler dpkg-deb:dpkg; do
  if ! command -v "${pair%%:*}" >/dev/null 2>&1; then need_pkgs="$need_pkgs ${pair#*:}"; fi
done
if [ -n "$need_pkgs" ]; then
  apt_update
  # shellcheck disable=SC2086
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need_pkgs
fi

# 1. Debian's u-boot-qemu: only its qemu_arm64 build is kept.
if [ ! -f "$QBIN" ]; then
  if ! ls "$CACHE"/u-boot-qemu_*_all.deb >/dev/null 2>&1; then
    apt_update
    (cd "$CACHE" && apt-get download u-boot-qemu)
  fi
  deb=$(ls "$CACHE"/u-boot-qemu_*_all.deb | head -n 1)
  rm -rf "$CACHE/deb-qemu"
  dpkg-deb -x "$deb" "$CACHE/deb-qemu"
  mkdir -p "$CACHE/qemu_arm64"
  cp "$CACHE/deb-qemu/usr/lib/u-boot/qemu_arm64/u-boot.bin" "$QBIN.tmp"
  mv "$QBIN.tmp" "$QBIN"
  rm -rf "$CACHE/deb-qemu"
  echo "setup-overlay.sh: $QBIN ready (from $(basename "$deb"))"
fi

# 2. U-Boot sandbox from Debian's source package.
if [ ! -f "$SBIN" ] || [ ! -f "$SDTB" ]; then
  need=""
  for p in bison flex bc swig python3-dev python3-setuptools python3-libfdt python3-pyelftools libssl-dev \
    libgnutls28-dev uuid-dev dpkg-dev gcc make xz-utils; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
  done
  if [ -n "$need" ]; then
    apt_update
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need
  fi
  if ! apt-cache showsrc u-boot 2>/dev/null | grep -q '^Version:'; then
    # Source entries for the same Debian suites as the binary ones.
    $SUDO sh -c 'cat >/etc/apt/sources.list.d/flipper-deb-src.sources' <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    updated=0
    apt_update
  fi
  # The same version as the packaged builds (u-boot-qemu's candidate), else the newest source.
  ver=$(apt-cache policy u-boot-qemu | awk '/Candidate:/ {print $2}')
  src=$(mktemp -d "$CACHE/sandbox-src.XXXXXX")
  trap 'rm -rf "$src"' EXIT
  if [ -n "$ver" ] && [ "$ver" != "(none)" ]; then
    (cd "$src" && apt-get source --only-source "u-boot=$ver") || (cd "$src" && apt-get source --only-source u-boot)
  else
    (cd "$src" && apt-get source --only-source u-boot)
  fi
  tree=$(find "$src" -mindepth 1 -maxdepth 1 -type d -name 'u-boot-*' | head -n 1)
  obj="$src/obj"
  make -C "$tree" O="$obj" sandbox_defconfig >/dev/null
  "$tree/scripts/config" --file "$obj/.config" -e LEGACY_IMAGE_FORMAT
  make -C "$tree" O="$obj" olddefconfig >/dev/null
  grep -qx 'CONFIG_OF_LIBFDT_OVERLAY=y' "$obj/.config" || {
    echo "setup-overlay.sh: sandbox config lacks CONFIG_OF_LIBFDT_OVERLAY" >&2
    exit 1
  }
  echo "setup-overlay.sh: building U-Boot sandbox from $(basename "$tree") (about 1.5 min on 2 cores)"
  make -C "$tree" O="$obj" NO_SDL=1 -j"$(nproc)" >"$src/build.log" 2>&1 || {
    tail -n 40 "$src/build.log" >&2
    exit 1
  }
  mkdir -p "$CACHE/sandbox"
  cp "$obj/u-boot.dtb" "$SDTB.tmp"
  mv "$SDTB.tmp" "$SDTB"
  cp "$obj/u-boot" "$SBIN.tmp"
  mv "$SBIN.tmp" "$SBIN"
  rm -rf "$src"
  echo "setup-overlay.sh: $SBIN ready"
fi

# The sandbox DTB starts an alarm watchdog (SIGALRM after 5 s without servicing, which kills U-Boot
# while it waits at the prompt): drop its autostart.
if fdtget -p "$SDTB" /alarm-wdt 2>/dev/null | grep -qx 'u-boot,autostart'; then
  fdtput -d "$SDTB" /alarm-wdt u-boot,autostart
fi

echo "setup-overlay.sh: ok ($QBIN, $SBIN)"
