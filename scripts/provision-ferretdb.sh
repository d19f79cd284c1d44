#!/usr/bin/env bash
# Makes a FerretDB v1.24.2 binary (SQLite backend) available for the MongoDB store tests, when no
# MongoDB-wire server is (MONGODB_URI, mongod or ferretdb on PATH). Built with Go from the Go module
# proxy and cached in ${XDG_CACHE_HOME:-$HOME/.cache}/dirbridge/bin.
#
# `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` is tried first. Where the module
# proxy refuses the version list that go install consults, the module is downloaded by its exact
# version instead and built from the module source with build/version/version.txt filled in (the
# file FerretDB's own build generates; without it the binary refuses to start).
set -euo pipefail
VERSION=v1.24.2
CACHE_BIN="${XDG_CACHE_HOME:-$HOME/.cache}/dirbridge/bin"
TARGET="$CACHE_BIN/ferretdb"

if [ -n "${MONGODB_URI:-}" ] || command -v mongod >/dev/null 2>&1 || command -v ferretdb >/dev/null 2>&1; then
  echo "a MongoDB-wire server is available; not building FerretDB"
  exit 0
fi
if [ -x "$TARGET" ] && "$TARGET" --version 2>/dev/null | grep -q "version: $VERSION"; then
  echo "FerretDB $VERSION cached at $TARGET"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "Go is needed to build FerretDB for the store tests: install it (e.g. apt-get install golang-go), or set MONGODB_URI" >&2
  exit 1
fi
mkdir -p "$CACHE_BIN"
GOBIN_DIR="$(go env GOPATH)/bin"
if go install "github.com/FerretDB/FerretDB/cmd/ferretdb@$VERSION" 2>/dev/null && "$GOBIN_DIR/ferretdb" --version >/dev/null 2>&1; then
  cp "$GOBIN_DIR/ferretdb" "$TARGET"
else
  echo "go install was refused; building FerretDB $VERSION from its module source"
  SRC="$(go mod download -json "github.com/FerretDB/FerretDB@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  WORK="$(mktemp -d)"
  trap 'chmod -R u+w "$WORK"; rm -rf "$WORK"' EXIT
  cp -r "$SRC" "$WORK/ferretdb"
  chmod -R u+w "$WORK/ferretdb"
  echo "$VERSION" > "$WORK/ferretdb/build/version/version.txt"
  (cd "$WORK/ferretdb" && go build -o "$TARGET" ./cmd/ferretdb)
fi
"$TARGET" --version | head -1
