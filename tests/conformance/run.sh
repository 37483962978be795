#!/usr/bin/env bash
# Conformance test: Alibaba's official Python SDKs (oss2, aliyun-python-sdk-core/-vod/-sts) run
# against vod-sim. Self-contained and idempotent: makes its own virtualenv, installs the pinned
# SDKs, builds the simulator, runs pytest. Extra arguments go to pytest (e.g. -k v4 -x).
#
# Environment: VOD_VENV (virtualenv dir, default <repo>/target/conformance-venv),
# CARGO_TARGET_DIR (honoured by the build and by the tests), VOD_SIM_BIN (use this binary and
# skip the build), PYTHON (interpreter for the venv, default python3; needs >= 3.8).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${VOD_VENV:-$repo/target/conformance-venv}"
python="${PYTHON:-python3}"

log() { echo "conformance: $*" >&2; }

# 1. Virtualenv with the pinned SDKs.
# shellcheck source=venv.sh
. "$here/venv.sh"
venv_ready || { log "virtualenv setup failed"; exit 1; }

# 2. The simulator (cargo is a no-op when it is up to date).
if [ -z "${VOD_SIM_BIN:-}" ]; then
    log "building vod-sim (release)"
    (cd "$repo" && cargo build --release --quiet -p vod-sim)
    VOD_SIM_BIN="${CARGO_TARGET_DIR:-$repo/target}/release/vod-sim"
fi
if [ ! -x "$VOD_SIM_BIN" ]; then
    log "no vod-sim binary at $VOD_SIM_BIN"
    exit 1
fi
export VOD_SIM_BIN

# 3. pytest. Exit 5 (nothing collected) is a failure: a conformance run that ran nothing
# proves nothing.
cd "$here"
set +e
"$venv/bin/python" -m pytest "$here" "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    log "pytest collected no tests"
    exit 1
fi
exit "$status"
