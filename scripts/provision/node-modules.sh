#!/usr/bin/env bash
# Makes node_modules match package-lock.json for this Node.js: installs with `npm ci` when it is
# missing, was installed from another lockfile or for another Node ABI / platform (native modules such
# as libsql are built per ABI), or fails to load. File times are not trusted (a fresh clone has new ones).
set -euo pipefail
cd "$(dirname "$0")/../.."
STAMP=node_modules/.dirbridge-installed

fail() { printf 'provision node modules: %s\n' "$*" >&2; exit 1; }

node -e 'const [maj, min] = process.versions.node.split(".").map(Number); process.exit(maj > 20 || (maj === 20 && min >= 19) ? 0 : 1)' ||
  fail "Node.js $(node --version) is too old. Fix: install Node.js 20.19 or newer (package.json engines)"
want="$(node -p 'process.versions.modules + " " + process.platform + "-" + process.arch') $(sha256sum package-lock.json | cut -c1-64)"
# The native store driver and the toolchain must load, not merely exist; the SMTP tests' server too.
loads() { node -e 'require("libsql"); require("typescript"); require.resolve("vitest/package.json"); require.resolve("smtp-server")' >/dev/null 2>&1; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && loads; then
  echo "node_modules matches package-lock.json (Node ABI $(node -p process.versions.modules))"
  exit 0
fi
if [ -d node_modules ]; then echo "node_modules is missing, stale or broken for this lockfile and Node.js: reinstalling with npm ci"; fi
npm ci --no-audit --no-fund || fail "npm ci failed (see above). Fix: check the npm registry (npm config get registry); for a corrupt cache run \`npm cache verify\`"
loads || fail "node_modules was installed but libsql, typescript, vitest or smtp-server does not load. Fix: rm -rf node_modules && npm ci, and check that Node.js $(node --version) is supported by libsql"
echo "$want" >"$STAMP"
