#!/usr/bin/env bash
# Installs what consultd needs on Debian 12 (as root), builds it, and creates
# the development secrets. Safe to run again: every step checks first.
#
#   scripts/setup.sh            packages + build + dev secrets
#   BUILD_DIR=... JOBS=...      override the build folder (build) and -j (2)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}

log() { printf '== %s\n' "$*"; }

install_packages() {
  local wanted missing=()
  wanted=$(grep -v '^\s*#' scripts/packages.txt | awk 'NF {print $1}')
  for p in $wanted; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "Debian packages: all present"
    return
  fi
  log "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "run as root (or install these first): ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # coturn's package enables a system relay on 3478; consultd's tests start
  # their own, so keep the packaged one from running.
  if systemctl list-unit-files coturn.service >/dev/null 2>&1; then
    systemctl disable --now coturn >/dev/null 2>&1 || true
  fi
}

make_secret() {  # make_secret FILE BYTES: random secret, mode 0600, never overwritten
  local file=$1 bytes=$2
  [ -s "$file" ] && return
  mkdir -p "$(dirname "$file")"
  chmod 0700 "$(dirname "$file")"
  (umask 077 && openssl rand -base64 "$bytes" | tr -d '\n' >"$file")
  log "created secret $file"
}

install_browser_test_deps() {
  # Node: any installed node >= 18 will do (this machine may have one outside
  # dpkg); otherwise Debian's.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    log "installing Debian packages: nodejs npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm
  fi
  # playwright-core only (it drives /usr/bin/chromium; it downloads no browser).
  if [ ! -d tests/browser/node_modules/playwright-core ] ||
     [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
    log "npm ci in tests/browser"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

make_recording_key() {  # make_recording_key FILE: 32 random bytes as hex, mode 0640, never overwritten
  local file=$1
  [ -s "$file" ] && return
  mkdir -p "$(dirname "$file")"
  chmod 0700 "$(dirname "$file")"
  (umask 027 && openssl rand -hex 32 >"$file")
  chmod 0640 "$file"
  log "created recording key $file (back it up apart from the recordings)"
}

build() {
  log "building in $BUILD_DIR (-j$JOBS)"
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" -j"$JOBS"
}

install_packages
install_browser_test_deps
build
make_secret state/secrets/jitsi_app_secret 48
make_secret state/secrets/turn_secret 48
make_recording_key state/secrets/recording.key
log "setup done"
