#!/usr/bin/env bash
# Writes the Swift bindings to OUT_DIR on any machine (no Swift toolchain needed):
#   VodUpload.swift       the Swift module's generated sources
#   VodUploadFFI.h        the C header of the FFI functions
#   module.modulemap      `module VodUploadFFI`, for the XCFramework's Headers directory
# and checks them: files present and non-empty, the header is valid C (gcc, clang's
# nullability qualifiers defined away), and every function it declares is exported by the
# library. Compiling the Swift needs macOS: see build.sh and Package.swift.
#
#   bindings/swift/generate.sh OUT_DIR
#
# Does not build the library (run `cargo build --release` first); builds the bindgen if needed.
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"

[ $# -eq 1 ] || die "usage: $0 OUT_DIR"
out="$1"
"$ROOT/bindings/scripts/generate.sh" swift "$out"

grep -q 'public class VodUploadClient\|public func coreVersion' "$out/VodUpload.swift" \
  || die "VodUpload.swift does not contain the expected API"

if command -v cc >/dev/null; then
  probe="$(mktemp -d)"
  trap 'rm -rf "$probe"' EXIT
  printf '#include "VodUploadFFI.h"\n' >"$probe/check.c"
  cc -std=c11 -Wall -Werror -fsyntax-only -D_Nullable= -D_Nonnull= -I"$out" "$probe/check.c" \
    || die "VodUploadFFI.h is not valid C"
fi

if command -v nm >/dev/null; then
  declared="$(grep -oE '\b(uniffi|ffi)_vod_upload_[A-Za-z0-9_]+' "$out/VodUploadFFI.h" | sort -u)"
  case "$(uname -s)" in
    Darwin) exported="$(nm -gU "$RELEASE_LIB" | awk '{print $3}' | sed 's/^_//' | sort -u)" ;;
    *) exported="$(nm -D --defined-only "$RELEASE_LIB" | awk '{print $3}' | sort -u)" ;;
  esac
  missing="$(comm -23 <(echo "$declared") <(echo "$exported"))"
  [ -z "$missing" ] || die "declared in VodUploadFFI.h but not exported by $RELEASE_LIB: $missing"
  echo "swift bindings in $out: $(echo "$declared" | wc -l) FFI symbols, all exported"
fi
