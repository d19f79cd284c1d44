#!/usr/bin/env bash
# Makes sure the store tests can run FerretDB on its PostgreSQL backend: PostgreSQL server binaries
# (initdb, postgres, psql) of version 13 or newer under /usr/lib/postgresql/N/bin (Debian's layout;
# PG_BIN may name another directory), and a non-root user to run them as when the tests run as root
# (PostgreSQL refuses root; the Debian package creates the `postgres` user). Installs the Debian
# package when missing; reinstalls it when installed but incomplete. The test helper starts its own
# throwaway cluster: no system cluster is created, started or needed.
set -euo pipefail

MIN_MAJOR=13

fail() { printf 'provision postgresql: %s\n' "$*" >&2; exit 1; }
# shellcheck source=apt.sh
source "$(dirname "$0")/apt.sh"

# The newest directory holding working server binaries, or nothing.
find_bin() {
  local dir
  if [ -n "${PG_BIN:-}" ]; then
    [ -x "$PG_BIN/postgres" ] && [ -x "$PG_BIN/initdb" ] && echo "$PG_BIN"
    return 0
  fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
    if [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ] && [ -x "$dir/psql" ]; then echo "$dir"; return 0; fi
  done
}

# Prints what is missing or broken, one item per line; nothing when all is well.
problems() {
  local bin version major
  bin="$(find_bin)"
  if [ -z "$bin" ]; then echo "no PostgreSQL server binaries (initdb, postgres, psql) under ${PG_BIN:-/usr/lib/postgresql/*/bin}"; return; fi
  if ! version="$(timeout 10 "$bin/postgres" --version 2>&1)" || ! grep -qE '^postgres \(PostgreSQL\) [0-9]+' <<<"$version"; then
    echo "$bin/postgres does not answer --version as PostgreSQL ($(head -n1 <<<"$version" | cut -c1-120))"; return
  fi
  major="$(sed -nE 's/^postgres \(PostgreSQL\) ([0-9]+).*/\1/p' <<<"$version" | head -n1)"
  [ "$major" -ge "$MIN_MAJOR" ] || echo "$bin/postgres is PostgreSQL $major; FerretDB 1.x needs $MIN_MAJOR or newer"
  if [ "$(id -u)" = 0 ] && ! id -u postgres >/dev/null 2>&1 && ! id -u nobody >/dev/null 2>&1; then
    echo "running as root, and there is no postgres or nobody user to run PostgreSQL as"
  fi
}

missing="$(problems)"
if [ -z "$missing" ]; then
  echo "PostgreSQL: $("$(find_bin)/postgres" --version) in $(find_bin)"
  exit 0
fi
[ -z "${PG_BIN:-}" ] || fail "PG_BIN=$PG_BIN: $missing. Fix: point PG_BIN at a PostgreSQL $MIN_MAJOR+ bin directory, or unset it to use Debian's package"
printf 'PostgreSQL needs installing or repair:\n%s\n' "$missing" | sed 's/^/  /'

NO_APT="install PostgreSQL $MIN_MAJOR+ server binaries with your package manager and set PG_BIN to their directory"
apt_install "$NO_APT" postgresql
if [ -n "$(problems)" ]; then
  # Installed but incomplete (a binary deleted): reinstall the server package of the newest version.
  pkgs="$(dpkg-query -W -f='${Package}\n' 'postgresql-[0-9]*' 2>/dev/null | sort -V | tail -n1)"
  apt_install "$NO_APT" --reinstall postgresql ${pkgs:+"$pkgs"}
fi
missing="$(problems)"
[ -z "$missing" ] || fail "still broken after installing:
$missing
Fix: apt-get install --reinstall postgresql postgresql-common"
echo "PostgreSQL: $("$(find_bin)/postgres" --version) in $(find_bin)"
