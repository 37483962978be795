#!/usr/bin/env bash
# Generates the bindings for one language from the host release library (library mode: the
# proc-macro metadata is read from the unstripped .so; uniffi.toml at the root is picked up).
#
#   bindings/scripts/generate.sh kotlin|python|swift OUT_DIR [extra bindgen args...]
#
# It does not build the library (see build_release in common.sh); it does build the bindgen.
set -euo pipefail
source "$(dirname "$0")/common.sh"

[ $# -ge 2 ] || die "usage: $0 kotlin|python|swift OUT_DIR [bindgen args...]"
lang="$1"
out="$2"
shift 2
[ -f "$RELEASE_LIB" ] || die "$RELEASE_LIB is missing: run \`cargo build --release\` first"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# Library mode runs `cargo metadata` to find uniffi.toml, so run from inside the workspace.
cd "$ROOT"
case "$lang" in
  kotlin)
    "$(bindgen_bin uniffi-bindgen)" generate --no-format "$RELEASE_LIB" --language kotlin --out-dir "$out" "$@" >/dev/null
    check_nonempty "$out/dev/vodupload/vod_upload.kt"
    ;;
  python)
    "$(bindgen_bin uniffi-bindgen)" generate --no-format "$RELEASE_LIB" --language python --out-dir "$out" "$@" >/dev/null
    check_nonempty "$out/vod_upload.py"
    ;;
  swift)
    # The Swift bindgen emits the three parts separately. The modulemap is a plain
    # `module VodUploadFFI` (no --xcframework, which would make it a `framework module`): a
    # static-library XCFramework's Headers directory needs exactly that, under this name.
    "$(bindgen_bin uniffi-bindgen-swift)" "$RELEASE_LIB" "$out" --swift-sources --headers --modulemap \
      --module-name VodUploadFFI --modulemap-filename module.modulemap "$@" >/dev/null
    check_nonempty "$out/VodUpload.swift" "$out/VodUploadFFI.h" "$out/module.modulemap"
    ;;
  *) die "unknown language $lang (kotlin, python or swift)" ;;
esac
