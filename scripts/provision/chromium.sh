#!/usr/bin/env bash
# Makes sure the console's browser tests have a headless Chromium: Debian's chromium package, driven by
# playwright-core through its executable (no browser download). Installs it when missing; checks that
# `chromium --version` answers as Chromium. CHROMIUM_PATH names another executable.
set -euo pipefail

BIN="${CHROMIUM_PATH:-/usr/bin/chromium}"

fail() { printf 'provision chromium: %s\n' "$*" >&2; exit 1; }
# shellcheck source=apt.sh
source "$(dirname "$0")/apt.sh"

# The version line, or nothing. Debian's wrapper script may print a shell warning on stderr; the
# version line on stdout is what counts.
version() { [ -x "$BIN" ] && timeout 30 "$BIN" --version 2>/dev/null | grep -m1 -E '^(Chromium|Google Chrome) [0-9]+' || true; }

found="$(version)"
if [ -n "$found" ]; then
  echo "Chromium: $found ($BIN)"
  exit 0
fi
[ -n "${CHROMIUM_PATH:-}" ] && fail "CHROMIUM_PATH=$CHROMIUM_PATH does not answer --version as Chromium. Fix: point CHROMIUM_PATH at a Chromium or Chrome executable, or unset it to use Debian's chromium"
echo "Chromium is missing or broken at $BIN: installing Debian's chromium package"

NO_APT="install Chromium with your package manager and set CHROMIUM_PATH to its executable"
apt_install "$NO_APT" chromium
[ -n "$(version)" ] || apt_install "$NO_APT" --reinstall chromium
found="$(version)"
[ -n "$found" ] || fail "chromium was installed but \`$BIN --version\` does not answer. Fix: apt-get install --reinstall chromium, and check that its shared libraries load: ldd /usr/lib/chromium/chromium | grep 'not found'"
echo "Chromium: $found ($BIN)"
