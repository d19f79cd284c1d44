#!/usr/bin/env bash
# Makes sure the MongoDB store tests have a *working* MongoDB-wire server: MONGODB_URI, a mongod or a
# FerretDB 1.x on PATH that answers --version as one, or else FerretDB v1.24.2 (SQLite backend)
# built with Go into ${XDG_CACHE_HOME:-$HOME/.cache}/dirbridge/bin/ferretdb.
#
# Why not `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`: the module zip lacks
# build/version/version.txt (FerretDB's own build generates it), so the binary `go install` makes
# panics at start ("Invalid build/version/version.txt file content"). The module is downloaded by its
# exact version and built from source with that file filled in, into a temporary directory; only a
# binary that answers --version with the expected version is moved (atomically) into the cache.
#
# States repaired or reported, never left behind:
# - a broken ferretdb where `go install` puts it ($GOBIN or $(go env GOPATH)/bin, often on PATH):
#   moved aside to ferretdb.broken, so nothing that searches PATH finds it again;
# - broken mongod / ferretdb elsewhere on PATH: named and skipped (the test helper skips them too);
# - a cached binary that is half-written or fails its check: removed and rebuilt;
# - go missing or older than 1.21 (which cannot fetch the Go toolchain FerretDB needs): the fix is printed.
set -euo pipefail
VERSION=v1.24.2
MODULE=github.com/FerretDB/FerretDB
CACHE_BIN="${XDG_CACHE_HOME:-$HOME/.cache}/dirbridge/bin"
TARGET="$CACHE_BIN/ferretdb"

say() { printf '%s\n' "$*"; }
fail() { printf 'provision ferretdb: %s\n' "$*" >&2; exit 1; }

# Prints the matching version line; fails for a binary that is missing, hangs, exits non-zero or is not what it claims.
ferretdb_version() { local out; out=$(timeout 10 "$1" --version 2>&1) || return 1; grep -m1 -E '^version: v1\.[0-9]+\.[0-9]+' <<<"$out"; }
mongod_version() { local out; out=$(timeout 10 "$1" --version 2>&1) || return 1; grep -m1 -E '^db version v[0-9]+' <<<"$out"; }
first_line() { timeout 10 "$1" --version 2>&1 | head -n 1 | cut -c1-160 || true; }

if [ -n "${MONGODB_URI:-}" ]; then
  say "MONGODB_URI is set: the store tests use it; not building FerretDB"
  exit 0
fi

# 1. A ferretdb that an earlier `go install` left where PATH finds it, and that does not work: move it aside.
if command -v go >/dev/null 2>&1; then
  gobin="$(go env GOBIN 2>/dev/null || true)"
  [ -n "$gobin" ] || gobin="$(go env GOPATH 2>/dev/null | cut -d: -f1)/bin"
  if [ -e "$gobin/ferretdb" ] && ! ferretdb_version "$gobin/ferretdb" >/dev/null; then
    mv -f "$gobin/ferretdb" "$gobin/ferretdb.broken"
    say "moved a broken $gobin/ferretdb (left by go install) aside to $gobin/ferretdb.broken"
  fi
fi

# 2. Working servers already on PATH; broken ones are named (the test helper skips them as well).
found=""
IFS=: read -r -a path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
  [ -n "$dir" ] || continue
  if [ -x "$dir/mongod" ]; then
    if v=$(mongod_version "$dir/mongod"); then found="$dir/mongod ($v)"; break
    else say "skipping $dir/mongod: it does not answer --version as mongod ($(first_line "$dir/mongod"))"; fi
  fi
  if [ -x "$dir/ferretdb" ]; then
    if v=$(ferretdb_version "$dir/ferretdb"); then found="$dir/ferretdb ($v)"; break
    else say "skipping $dir/ferretdb: it does not answer --version as FerretDB 1.x ($(first_line "$dir/ferretdb"))"; fi
  fi
done
if [ -n "$found" ]; then
  say "a working MongoDB-wire server is on PATH: $found; not building FerretDB"
  exit 0
fi

# 3. The cache: used when its binary passes the check; a half-written or broken one is removed.
if [ -e "$TARGET" ]; then
  if v=$(ferretdb_version "$TARGET") && grep -q "version: $VERSION" <<<"$v"; then
    say "FerretDB $VERSION cached at $TARGET"
    exit 0
  fi
  say "removing the cached $TARGET: it does not answer --version with $VERSION ($(first_line "$TARGET"))"
  rm -f "$TARGET"
fi

# 4. Build it.
command -v go >/dev/null 2>&1 || fail "Go is needed to build FerretDB for the store tests. Fix: install Go 1.21 or newer (https://go.dev/dl/), or set MONGODB_URI to a MongoDB you own, or put a working mongod on PATH"
go_minor="$(go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9][0-9]*\).*/\1/p')"
[ -n "$go_minor" ] && [ "$go_minor" -ge 21 ] || fail "$(go version 2>&1) cannot build FerretDB $VERSION (it needs Go 1.24, which Go 1.21+ fetches by itself). Fix: install Go 1.21 or newer (https://go.dev/dl/), or set MONGODB_URI"

say "building FerretDB $VERSION from its module source (about a minute on 2 cores with an empty Go build cache)"
WORK="$(mktemp -d)"
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
export GOFLAGS=""   # a -mod=vendor or similar from the environment must not change this build
if ! go mod download -json "$MODULE@$VERSION" >"$WORK/download.json" 2>"$WORK/download.err"; then
  cat "$WORK/download.err" >&2
  fail "the Go module download of $MODULE@$VERSION failed. Fix: check \`go env GOPROXY\` and that the Go module proxy is reachable; for a checksum or zip error, clear the module cache with \`go clean -modcache\`"
fi
SRC="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' "$WORK/download.json")"
[ -n "$SRC" ] && [ -f "$SRC/go.mod" ] || fail "the module cache holds no source for $MODULE@$VERSION at '$SRC'. Fix: \`go clean -modcache\`, then run this again"
cp -r "$SRC" "$WORK/ferretdb"
chmod -R u+w "$WORK/ferretdb"
echo "$VERSION" >"$WORK/ferretdb/build/version/version.txt"
(cd "$WORK/ferretdb" && go build -o "$WORK/ferretdb.bin" ./cmd/ferretdb) || fail "go build of FerretDB $VERSION failed (see above). Fix: check the Go installation (\`go version\`, \`go env GOROOT\`), or set MONGODB_URI"
v=$(ferretdb_version "$WORK/ferretdb.bin") || fail "the FerretDB just built does not answer --version ($(first_line "$WORK/ferretdb.bin"))"
grep -q "version: $VERSION" <<<"$v" || fail "the FerretDB just built says '$v', expected $VERSION"
mkdir -p "$CACHE_BIN"
cp "$WORK/ferretdb.bin" "$TARGET.partial.$$"
mv -f "$TARGET.partial.$$" "$TARGET"
say "FerretDB $VERSION built into $TARGET"
