#!/usr/bin/env bash
# Builds the CLI and runs its guided demo on the built-in simulator (no cloud account needed).
# Extra arguments go to `vod-upload demo` (e.g. --json).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet --release --bin vod-upload -- demo "$@"
