#!/usr/bin/env bash
# Runs every test of the project, as CI does (.ci/run calls this script).
# Needs: Rust (rustup), Python 3.11+, Java 17 + Maven, Go. Everything else it installs itself
# (Python packages into virtualenvs under target/, Maven artifacts into ~/.m2, the Android Rust
# target through rustup, clang and aarch64 libc headers through apt, Swift 6.0 into a Debian 13
# tree under /var/cache through debootstrap, which needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n=== %s ===\n' "$*"; }

# Every row of docs/parity.md names a test that exists (python3 stdlib, well under a second).
step "parity table"
python3 scripts/check-parity.py

step "rustfmt"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "clippy for Android (aarch64-linux-android)"
bash scripts/check-android.sh

# One release build serves the Rust tests, the simulator, the CLI and the bindings. Every later
# step reuses it (a build without --all-targets would resolve other dependency features and
# compile the whole tree again).
step "release build"
cargo build --release --workspace --all-targets
cargo build --release -p uniffi-bindgen
export VOD_SIM_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/vod-sim"
export VOD_UPLOAD_SKIP_BUILD=1

step "Rust tests"
cargo test --release --workspace

# A short pass over every cargo-fuzz target (nightly; docs/fuzzing.md), VOD_FUZZ_SECONDS each.
step "fuzzing"
bash scripts/fuzz.sh "${VOD_FUZZ_SECONDS:-10}"

# bindings/swift/test-linux.sh: the Swift package compiled and tested on Linux (Swift 6.0 from
# Debian 13 in a chroot kept in /var/cache, set up on the first run; needs root, as CI is).
for extra in tests/conformance/run.sh bindings/test.sh bindings/swift/test-linux.sh; do
  if [ -x "$extra" ]; then
    step "$extra"
    "$extra"
  fi
done
echo
echo "all test suites passed"
