#!/usr/bin/env bash
# Makes sure the LDAP tests and the benchmark have a working OpenLDAP: slapd and slapadd that answer
# as OpenLDAP 2.x, the modules and schema files the test harness loads, ldapsearch / ldapmodify and
# openssl. Installs the Debian packages when missing; reinstalls slapd, restoring deleted config files
# (schemas live under /etc/ldap/schema, dpkg conffiles), when it is installed but incomplete.
set -euo pipefail

SCHEMAS=(core cosine inetorgperson nis msuser)
MODULES=(back_mdb memberof ppolicy)

fail() { printf 'provision slapd: %s\n' "$*" >&2; exit 1; }
# shellcheck source=apt.sh
source "$(dirname "$0")/apt.sh"

# Prints what is missing or broken, one item per line; nothing when all is well.
problems() {
  local bin
  if [ ! -x /usr/sbin/slapd ]; then echo "/usr/sbin/slapd is missing"
  elif ! timeout 10 /usr/sbin/slapd -VV 2>&1 | grep -q 'OpenLDAP: slapd 2\.'; then echo "/usr/sbin/slapd does not answer -VV as OpenLDAP 2.x"; fi
  [ -x /usr/sbin/slapadd ] || echo "/usr/sbin/slapadd is missing"
  for bin in ldapsearch ldapmodify openssl; do command -v "$bin" >/dev/null 2>&1 || echo "$bin is missing"; done
  local s m
  for s in "${SCHEMAS[@]}"; do [ -s "/etc/ldap/schema/$s.schema" ] || echo "/etc/ldap/schema/$s.schema is missing"; done
  for m in "${MODULES[@]}"; do [ -e "/usr/lib/ldap/$m.so" ] || [ -e "/usr/lib/ldap/$m.la" ] || echo "/usr/lib/ldap/$m.so is missing"; done
}

missing="$(problems)"
if [ -z "$missing" ]; then
  echo "OpenLDAP: $(/usr/sbin/slapd -VV 2>&1 | grep -m1 -o 'slapd [0-9.]*')"
  exit 0
fi
printf 'OpenLDAP needs repair or installing:\n%s\n' "$missing" | sed 's/^/  /'

NO_APT="install OpenLDAP 2.5+ (slapd, slapadd, ldapsearch, ldapmodify) and openssl with your package manager"
apt_install "$NO_APT" slapd ldap-utils openssl
if [ -n "$(problems)" ]; then
  # Installed but incomplete (e.g. a schema file deleted): reinstall, restoring missing conffiles.
  apt_install "$NO_APT" --reinstall -o Dpkg::Options::=--force-confmiss slapd ldap-utils
fi
missing="$(problems)"
[ -z "$missing" ] || fail "still broken after installing:
$missing
Fix: apt-get install --reinstall -o Dpkg::Options::=--force-confmiss slapd ldap-utils"
echo "OpenLDAP: $(/usr/sbin/slapd -VV 2>&1 | grep -m1 -o 'slapd [0-9.]*')"
