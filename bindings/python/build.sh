#!/usr/bin/env bash
# Builds the release library and writes an importable `vod_upload` module to OUT_DIR: the
# generated vod_upload.py with the native library beside it (the generated loader looks for
# the library in the module's own directory, not on LD_LIBRARY_PATH).
#
#   bindings/python/build.sh OUT_DIR        then: PYTHONPATH=OUT_DIR python3 -c 'import vod_upload'
#
# Honours CARGO_TARGET_DIR; VOD_UPLOAD_SKIP_BUILD=1 reuses an existing release build.
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"

[ $# -eq 1 ] || die "usage: $0 OUT_DIR"
out="$1"
build_release
"$ROOT/bindings/scripts/generate.sh" python "$out"
cp "$RELEASE_LIB" "$out/$LIB_FILE"
# The release profile keeps line tables (~50 MB); the module needs only the exported symbols.
# (The bindings above were generated from the unstripped file, which the bindgen requires.)
if command -v strip >/dev/null; then
  case "$(uname -s)" in
    Darwin) strip -S -x "$out/$LIB_FILE" ;;
    *) strip --strip-debug "$out/$LIB_FILE" ;;
  esac
fi
check_nonempty "$out/vod_upload.py" "$out/$LIB_FILE"
