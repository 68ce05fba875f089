#!/usr/bin/env bash
# Debian packages the test suite needs. Installs only what is missing; needs root (as in CI) or sudo.
# Quiet when it works; when apt fails, its own output is shown, with what to do.
set -euo pipefail
packages=(chromium postgresql)
if ! command -v dpkg >/dev/null 2>&1; then
  echo "system-deps: not a Debian/Ubuntu system: install Chromium and PostgreSQL (server and initdb) with your" \
       "package manager, see the README ('Running the tests elsewhere')" >&2
  exit 0
fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing Debian packages: ${missing[*]}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
       --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "system-deps: apt could not install ${missing[*]} (its messages are above)" >&2
  exit 1
fi
