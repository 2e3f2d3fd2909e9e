# Shell helpers for setup.sh and setup-overlay.sh (sourced, POSIX sh). Every Debian mirror they use
# is the one this machine's apt sources already name: nothing here names a host.

# The repository root and the folder the U-Boot builds go to ($0 is the sourcing script: it lives in
# uboot-script/, as this file does).
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
CACHE="$ROOT/build/uboot"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
# Where apt's sources and the release name are read from (tests point these at sample files).
APT_ETC=${FLIPPER_APT_ETC:-/etc/apt}
OS_RELEASE=${FLIPPER_OS_RELEASE:-/etc/os-release}

apt_updated=0
# `apt-get update` once per run (again after the sources changed: set apt_updated=0).
apt_update() {
  if [ "$apt_updated" = 0 ]; then
    # A mirror mid-sync can fail one index (seen for the armhf security index): tolerate it.
    $SUDO apt-get update -q >/dev/null || echo "setup: apt-get update reported an error; continuing" >&2
    apt_updated=1
  fi
}

# Installs the named Debian packages that are not installed yet (quiet when all are).
apt_install_missing() {
  missing=""
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    apt_update
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
  fi
}

# The URI of this machine's Debian archive: the first `deb` source for its own release
# (deb822 files in /etc/apt/sources.list.d/, then one-line /etc/apt/sources.list entries).
debian_mirror() {
  codename=$(. "$OS_RELEASE" && echo "${VERSION_CODENAME:-}")
  uri=""
  for f in "$APT_ETC"/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk -v want="$codename" '
      BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^#/) continue
          key = tolower(line); sub(/:.*/, "", key)
          val = line; sub(/^[^:]*:[ \t]*/, "", val)
          if (key == "types") types = " " val " "
          else if (key == "uris") uris = val
          else if (key == "suites") suites = " " val " "
          else if (key == "enabled") enabled = tolower(val)
        }
        if (enabled != "no" && types ~ / deb / && suites ~ (" " want " ")) {
          split(uris, u, /[ \t]+/); print u[1]; exit
        }
      }' "$f")
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ] && [ -f "$APT_ETC/sources.list" ]; then
    uri=$(awk -v want="$codename" '
      $1 == "deb" {
        line = $0; sub(/\[[^]]*\]/, "", line); n = split(line, w, /[ \t]+/)
        if (n >= 3 && w[3] == want) { print w[2]; exit }
      }' "$APT_ETC/sources.list")
  fi
  if [ -z "$uri" ]; then
    echo "setup: no Debian source for release '$codename' in $APT_ETC/sources.list.d/*.sources or $APT_ETC/sources.list" >&2
    return 1
  fi
  echo "$uri"
}

# Downloads Debian package PKG for ARCH from SUITE of this machine's mirror into DIR, with a throwaway apt
# configuration (own sources, lists and cache): the host's sources, lists and packages stay as they are.
#   apt_download_from_suite trixie u-boot-imx armhf DIR
apt_download_from_suite() {
  suite=$1
  pkg=$2
  arch=$3
  dir=$4
  mirror=$(debian_mirror) || return 1
  tmp=$(mktemp -d)
  mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
  cat >"$tmp/suite.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  set -- -q -o Dir::Etc::SourceList="$tmp/suite.sources" -o Dir::Etc::SourceParts=/nonexistent \
    -o Dir::State::Lists="$tmp/lists" -o Dir::Cache="$tmp/cache" -o Dir::State::status=/dev/null \
    -o APT::Architecture="$arch" -o APT::Architectures="$arch" -o APT::Sandbox::User=root
  ok=0
  # A mirror mid-sync can fail one index: the download below says whether the one needed is there.
  apt-get "$@" update >"$tmp/log" 2>&1 || true
  if (cd "$dir" && apt-get "$@" download "$pkg") >>"$tmp/log" 2>&1; then
    ok=1
  else
    cat "$tmp/log" >&2
  fi
  rm -rf "$tmp"
  [ "$ok" = 1 ]
}

# Prints deb822 deb-src stanzas mirroring this machine's deb822 deb stanzas (same mirrors, suites, keys).
deb_src_stanzas() {
  for f in "$APT_ETC"/sources.list.d/*.sources; do
    [ -f "$f" ] && [ "$(basename "$f")" != flipper-deb-src.sources ] || continue
    awk 'BEGIN { RS = ""; ORS = "\n\n" } /(^|\n)Types:[^\n]*deb([ \t\n]|$)/ && !/(^|\n)Types:[^\n]*deb-src/ {
      sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' "$f"
  done
}

# Prints one-line deb-src entries mirroring this machine's one-line deb entries.
deb_src_lines() {
  if [ -f "$APT_ETC/sources.list" ]; then
    sed -n 's/^deb\([ \t]\)/deb-src\1/p' "$APT_ETC/sources.list"
  fi
}

# Adds deb-src entries mirroring this machine's deb entries when apt knows no source for package SRC.
ensure_deb_src() {
  src=$1
  if apt-cache showsrc "$src" 2>/dev/null | grep -q '^Version:'; then return 0; fi
  tmp=$(mktemp -d)
  deb_src_stanzas >"$tmp/flipper-deb-src.sources"
  deb_src_lines >"$tmp/flipper-deb-src.list"
  for f in "$tmp"/*; do
    if [ -s "$f" ]; then $SUDO cp "$f" "$APT_ETC/sources.list.d/"; fi
  done
  rm -rf "$tmp"
  apt_updated=0
  apt_update
}
