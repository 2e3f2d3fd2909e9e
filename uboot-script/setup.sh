#!/bin/sh
# Installs what the U-Boot harness needs and prepares build/uboot/u-boot-dtb.bin
# (Debian's i.MX6 SABRE Lite U-Boot 2023.01 without its i.MX boot header). Idempotent:
# a second run with everything in place does nothing but check.
#   sh uboot-script/setup.sh            # from the repository root (as root, or with sudo available)
#   UBOOT_DEB=/path/u-boot-imx_*.deb     # optional: use this .deb instead of apt-get download
set -eu

ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
CACHE="$ROOT/build/uboot"
BIN="$CACHE/u-boot-dtb.bin"
mkdir -p "$CACHE"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need_pkgs=""
for pair in qemu-system-arm:qemu-system-arm mkimage:u-boot-tools mcopy:mtools mformat:mtools \
  sfdisk:fdisk mkfs.vfat:dosfstools dtc:device-tree-compiler; do
  cmd=${pair%%:*}
  pkg=${pair#*:}
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] && [ ! -x "/sbin/$cmd" ]; then
    need_pkgs="$need_pkgs $pkg"
  fi
done

have_deb() { ls "$CACHE"/u-boot-imx_*_armhf.deb >/dev/null 2>&1; }

if [ -z "${UBOOT_DEB:-}" ] && [ ! -f "$BIN" ] && ! have_deb; then
  for f in /tmp/u-boot-imx_*_armhf.deb; do
    if [ -f "$f" ]; then UBOOT_DEB=$f; fi
  done
fi

updated=0
apt_update() {
  if [ "$updated" = 0 ]; then
    # The armhf security index can fail with a mirror-size error: tolerate a partial update.
    $SUDO apt-get update || echo "setup.sh: apt-get update reported an error; continuing" >&2
    updated=1
  fi
}

if [ -n "$need_pkgs" ]; then
  apt_update
  # shellcheck disable=SC2086
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need_pkgs
fi

if [ ! -f "$BIN" ]; then
  if [ -n "${UBOOT_DEB:-}" ]; then
    cp "$UBOOT_DEB" "$CACHE/"
  elif ! have_deb; then
    if ! dpkg --print-foreign-architectures | grep -qx armhf; then
      $SUDO dpkg --add-architecture armhf
      updated=0
    fi
    apt_update
    (cd "$CACHE" && apt-get download u-boot-imx:armhf)
  fi
  deb=$(ls "$CACHE"/u-boot-imx_*_armhf.deb | head -n 1)
  rm -rf "$CACHE/deb"
  dpkg-deb -x "$deb" "$CACHE/deb"
  imx="$CACHE/deb/usr/lib/u-boot/mx6qsabrelite/u-boot-dtb.imx"
  # i.MX IVT: word 1 = entry address, word 5 = the IVT's own address (file offset 0).
  entry=$(od -An -tu4 -j4 -N4 "$imx" | tr -d ' ')
  self=$(od -An -tu4 -j20 -N4 "$imx" | tr -d ' ')
  skip=$((entry - self))
  tail -c +$((skip + 1)) "$imx" >"$BIN.tmp"
  mv "$BIN.tmp" "$BIN"
  echo "setup.sh: $BIN ready (header of $skip bytes stripped from $(basename "$deb"))"
fi

# The overlay / arm64 boards (Debian's u-boot-qemu for qemu_arm64, the U-Boot sandbox built from
# Debian's source): test/uboot-overlay.test.ts.
# A failure here must not stop the SABRE Lite tests (everything else still runs); the overlay tests
# then report themselves as not run, which `npm test` counts as failed, so it is never hidden.
sh "$ROOT/uboot-script/setup-overlay.sh" || echo "setup.sh: the overlay board could not be prepared; test/uboot-overlay.test.ts will not run" >&2

echo "setup.sh: ok ($BIN)"
