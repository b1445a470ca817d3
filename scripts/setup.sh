#!/usr/bin/env bash
# Set-up: fetch the Go modules the build needs. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
go version
go mod download
go build ./...
