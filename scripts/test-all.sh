#!/usr/bin/env bash
# Provisions what the test suite needs when it is missing, then runs build, lint and every test.
# Idempotent: a machine that has everything only runs the checks. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "node dependencies"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

step "OpenLDAP slapd for the LDAP tests (Debian packages slapd and ldap-utils, when missing)"
if ! { [ -x /usr/sbin/slapd ] && [ -x /usr/sbin/slapadd ] && command -v ldapmodify >/dev/null && command -v openssl >/dev/null; }; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends slapd ldap-utils openssl
fi

step "MongoDB-wire server for the store tests (FerretDB, when none is present)"
bash scripts/provision-ferretdb.sh

step "build, typecheck, lint"
npm run build
npx tsc -p tsconfig.json --noEmit
npx eslint .

step "tests"
REPORT="$(mktemp)"
trap 'rm -f "$REPORT"' EXIT
npx vitest run --reporter=default --reporter=json --outputFile="$REPORT"
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed`)' "$REPORT"

step "benchmark, small mode (so that it cannot rot; figures are not asserted)"
npm run bench -- --users 10000 --groups 100 --store sqlite --group-scaling
npm run bench -- --users 2000 --groups 40 --store mongo
