#!/bin/sh
# Installs what the U-Boot harness needs and prepares the U-Boot builds it runs, in build/uboot/.
# Idempotent and silent when everything is in place.
#   sh uboot-script/setup.sh [sim|all]     # from the repository root (as root, or with sudo available)
#   sim: Debian 12's SABRE Lite U-Boot 2023.01 only (build/uboot/u-boot-dtb.bin): what the simulator runs.
#   all (default, what the tests need): also Debian 13's SABRE Lite U-Boot 2025.01
#        (build/uboot/sabrelite-2025.01/u-boot-dtb.bin) and qemu_arm64 U-Boot 2025.01
#        (build/uboot/qemu_arm64-2025.01/u-boot.bin), both from the trixie suite of this machine's mirror with
#        a throwaway apt configuration (the host is not upgraded), and the 2023.01 arm64 builds (setup-overlay.sh).
#   UBOOT_DEB=/path/u-boot-imx_2023.01*.deb, UBOOT_2025_DEB=/path/u-boot-imx_2025.01*.deb   # optional: no download
set -eu

what=${1:-all}
case "$what" in
sim | all) ;;
*)
  echo "usage: sh uboot-script/setup.sh [sim|all] (got '$what')" >&2
  exit 2
  ;;
esac

# shellcheck source=uboot-script/setup-apt.sh
. "$(dirname -- "$0")/setup-apt.sh"
BIN="$CACHE/u-boot-dtb.bin"
DIR2025="$CACHE/sabrelite-2025.01"
BIN2025="$DIR2025/u-boot-dtb.bin"
mkdir -p "$CACHE"

need_pkgs=""
for pair in qemu-system-arm:qemu-system-arm mkimage:u-boot-tools mcopy:mtools mformat:mtools \
  sfdisk:fdisk mkfs.vfat:dosfstools dtc:device-tree-compiler; do
  cmd=${pair%%:*}
  pkg=${pair#*:}
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] && [ ! -x "/sbin/$cmd" ]; then
    need_pkgs="$need_pkgs $pkg"
  fi
done
if [ -n "$need_pkgs" ]; then
  # shellcheck disable=SC2086
  apt_install_missing $need_pkgs
fi

# Writes OUT from a u-boot-imx .deb: the SABRE Lite image without its i.MX boot header.
extract_sabrelite() {
  deb=$1
  out=$2
  tmp=$(mktemp -d)
  dpkg-deb -x "$deb" "$tmp"
  imx="$tmp/usr/lib/u-boot/mx6qsabrelite/u-boot-dtb.imx"
  # i.MX IVT: word 1 = entry address, word 5 = the IVT's own address (file offset 0).
  entry=$(od -An -tu4 -j4 -N4 "$imx" | tr -d ' ')
  self=$(od -An -tu4 -j20 -N4 "$imx" | tr -d ' ')
  skip=$((entry - self))
  tail -c +$((skip + 1)) "$imx" >"$out.tmp"
  rm -rf "$tmp"
  mv "$out.tmp" "$out"
  echo "setup.sh: $out ready (header of $skip bytes stripped from $(basename "$deb"))"
}

# 1. Debian 12's u-boot-imx 2023.01 (this machine's own release; armhf as a foreign architecture).
if [ ! -f "$BIN" ]; then
  if [ -n "${UBOOT_DEB:-}" ]; then
    cp "$UBOOT_DEB" "$CACHE/"
  elif ! ls "$CACHE"/u-boot-imx_*_armhf.deb >/dev/null 2>&1; then
    if ! dpkg --print-foreign-architectures | grep -qx armhf; then
      $SUDO dpkg --add-architecture armhf
      apt_updated=0
    fi
    apt_update
    (cd "$CACHE" && apt-get download -q -o APT::Sandbox::User=root u-boot-imx:armhf >/dev/null)
  fi
  extract_sabrelite "$(ls "$CACHE"/u-boot-imx_*_armhf.deb | head -n 1)" "$BIN"
fi

[ "$what" = all ] || exit 0

# 2. Debian 13's u-boot-imx 2025.01 for the same board. A failure here must not stop the other tests:
#    the 2025.01 tests then fail, naming the missing file.
if [ ! -f "$BIN2025" ]; then
  mkdir -p "$DIR2025"
  if [ -n "${UBOOT_2025_DEB:-}" ]; then
    cp "$UBOOT_2025_DEB" "$DIR2025/"
  elif ! ls "$DIR2025"/u-boot-imx_*_armhf.deb >/dev/null 2>&1; then
    echo "setup.sh: downloading u-boot-imx:armhf from trixie"
    apt_download_from_suite trixie u-boot-imx armhf "$DIR2025" ||
      echo "setup.sh: could not download u-boot-imx from trixie; the U-Boot 2025.01 tests will fail" >&2
  fi
  deb=$(ls "$DIR2025"/u-boot-imx_*_armhf.deb 2>/dev/null | head -n 1 || true)
  if [ -n "$deb" ]; then
    ver=$(dpkg-deb -f "$deb" Version)
    case "$ver" in
    2025.01*) extract_sabrelite "$deb" "$BIN2025" ;;
    *) echo "setup.sh: $(basename "$deb") is version $ver, not 2025.01; the U-Boot 2025.01 tests will fail" >&2 ;;
    esac
  fi
fi

# 3. Debian 13's u-boot-qemu 2025.01: its qemu_arm64 build (the arm64 board, MCU-absent path and booti).
QBIN2025="$CACHE/qemu_arm64-2025.01/u-boot.bin"
if [ ! -f "$QBIN2025" ]; then
  mkdir -p "$(dirname "$QBIN2025")"
  if ! ls "$DIR2025"/u-boot-qemu_*_all.deb >/dev/null 2>&1; then
    echo "setup.sh: downloading u-boot-qemu from trixie"
    apt_download_from_suite trixie u-boot-qemu "$(dpkg --print-architecture)" "$DIR2025" ||
      echo "setup.sh: could not download u-boot-qemu from trixie; the arm64 U-Boot 2025.01 tests will fail" >&2
  fi
  deb=$(ls "$DIR2025"/u-boot-qemu_*_all.deb 2>/dev/null | head -n 1 || true)
  if [ -n "$deb" ]; then
    tmp=$(mktemp -d)
    dpkg-deb -x "$deb" "$tmp"
    cp "$tmp/usr/lib/u-boot/qemu_arm64/u-boot.bin" "$QBIN2025.tmp"
    rm -rf "$tmp"
    mv "$QBIN2025.tmp" "$QBIN2025"
    echo "setup.sh: $QBIN2025 ready (from $(basename "$deb"))"
  fi
fi

# 4. The overlay / arm64 boards (Debian's u-boot-qemu for qemu_arm64, and the same built with overlay
#    support): test/uboot-overlay.test.ts. A failure here must not stop the SABRE Lite tests either.
sh "$ROOT/uboot-script/setup-overlay.sh" ||
  echo "setup.sh: the arm64 boards could not be prepared; test/uboot-overlay.test.ts will fail" >&2
