#!/usr/bin/env bash
# Runs the Python binding tests: builds the module into $TARGET_DIR/bindings-python, keeps a
# virtualenv with pytest in $TARGET_DIR/venv-bindings-python, and runs tests/ against vod-sim.
#
#   bindings/python/run_tests.sh [pytest args...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../scripts/common.sh"

out="$TARGET_DIR/bindings-python"
rm -rf "$out"
"$here/build.sh" "$out"

venv="$TARGET_DIR/venv-bindings-python"
if [ ! -x "$venv/bin/pytest" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements-test.txt"
fi

export VOD_UPLOAD_PY_DIR="$out"
export VOD_UPLOAD_SIM="$TARGET_DIR/release/vod-sim"
cd "$here"
exec "$venv/bin/pytest" -q "$@" tests
