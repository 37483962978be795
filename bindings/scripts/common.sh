# Shared by the binding scripts (sourced, not run). Sets:
#   ROOT        the repository root (the cargo workspace)
#   TARGET_DIR  cargo's target directory ($CARGO_TARGET_DIR, else $ROOT/target)
#   RELEASE_LIB the host release cdylib the bindings are generated from and tested against
# and defines the helpers below. Callers `set -euo pipefail` themselves.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$(uname -s)" in
  Darwin) LIB_FILE=libvod_upload.dylib ;;
  *) LIB_FILE=libvod_upload.so ;;
esac
RELEASE_LIB="$TARGET_DIR/release/$LIB_FILE"

die() {
  echo "error: $*" >&2
  exit 1
}

# `cargo build --release` (the library, vod-sim and the CLI) unless VOD_UPLOAD_SKIP_BUILD=1,
# which CI sets when an earlier step already built them.
build_release() {
  if [ "${VOD_UPLOAD_SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && cargo build --release --quiet)
  fi
  [ -f "$RELEASE_LIB" ] || die "$RELEASE_LIB is missing: run \`cargo build --release\` first"
}

# Path of a bindgen binary (uniffi-bindgen or uniffi-bindgen-swift), built if needed. It is
# pinned to the library's uniffi version by the workspace's Cargo.lock.
bindgen_bin() {
  local bin="$TARGET_DIR/release/$1"
  if [ "${VOD_UPLOAD_SKIP_BUILD:-0}" != 1 ] || [ ! -x "$bin" ]; then
    (cd "$ROOT" && cargo build --release --quiet -p uniffi-bindgen) >&2
  fi
  echo "$bin"
}

# Fails unless every given file exists and is non-empty.
check_nonempty() {
  local f
  for f in "$@"; do
    [ -s "$f" ] || die "expected generated file $f is missing or empty"
  done
}
