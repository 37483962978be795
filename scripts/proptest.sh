#!/usr/bin/env bash
# Runs only the engine's random-control-sequence property test (tests/engine/random.rs) with
# CASES cases (CI runs 16). Usage: scripts/proptest.sh [CASES] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
export VOD_PROPTEST_CASES="${1:-200}"
if [ -n "${2:-}" ]; then
    export VOD_PROPTEST_SEED="$2"
fi
exec cargo test --test engine random:: -- --nocapture
