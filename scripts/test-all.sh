#!/usr/bin/env bash
# Provisions what the test suite needs when it is missing or broken, then runs build, lint and every
# test. Idempotent: a machine that has everything only runs the checks. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "Node.js dependencies (npm ci when node_modules does not match the lockfile and this Node.js)"
bash scripts/provision/node-modules.sh

step "OpenLDAP slapd for the LDAP tests (Debian packages slapd and ldap-utils, when missing or incomplete)"
bash scripts/provision/slapd.sh

step "MongoDB-wire server for the store tests (FerretDB built with Go, when no working one is present)"
bash scripts/provision/ferretdb.sh

step "PostgreSQL for FerretDB's postgresql backend in the store tests (Debian package postgresql, when missing or incomplete)"
bash scripts/provision/postgresql.sh

step "Headless Chromium for the console's browser tests (Debian package chromium, when missing)"
bash scripts/provision/chromium.sh

step "build, typecheck, lint"
npm run build
npx tsc -p tsconfig.json --noEmit
npx eslint .

step "tests"
REPORT="$(mktemp)"
trap 'rm -f "$REPORT"' EXIT
npx vitest run --reporter=default --reporter=json --outputFile="$REPORT"
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`)' "$REPORT"

step "benchmark, small mode (so that it cannot rot; figures are not asserted)"
npm run bench -- --users 10000 --groups 100 --store sqlite --group-scaling
npm run bench -- --users 2000 --groups 40 --store mongo
