#!/usr/bin/env bash
# Set-up: fetch the Go modules the build needs and make sure PostgreSQL
# server binaries are present for the postgres backend's tests (they start
# a throwaway server from them). Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
go version
go mod download
go build ./...

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && [ -z "${ANCHORAGE_PG_BIN:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing PostgreSQL server binaries (Debian package postgresql)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) ||
      echo "setup: could not install PostgreSQL; its tests will be skipped, saying why"
  else
    echo "setup: no PostgreSQL server binaries; the postgres backend's tests will be skipped, saying why"
  fi
fi
