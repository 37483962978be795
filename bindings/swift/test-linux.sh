#!/usr/bin/env bash
# Compiles the Swift package on Linux and runs its XCTests against vod-sim, as CI does
# (scripts/test-all.sh calls it). Needs root (debootstrap, chroot, mount) and Debian's
# registry; fails on any compile error, warning or failed test.
#
#   1. Swift 6.0.3 from Debian 13 ("trixie", package swiftlang) in a minimal trixie tree, since
#      its binaries need trixie's glibc. The tree lives outside the checkout ($SWIFT_ROOTFS,
#      default /var/cache/swift-trixie, ~2.6 GB) and is reused when present; it is built into
#      a `.partial` directory first, so an interrupted setup is never taken for a finished one.
#   2. The release library and vod-sim (skipped under VOD_UPLOAD_SKIP_BUILD=1, as in CI), then
#      the generated Swift and C header into the package (Sources/VodUpload/Generated,
#      Sources/VodUploadFFI; not committed).
#   3. `swift test` inside the tree, with the checkout bind-mounted at the same path, the
#      library linked from the cargo target directory, and `-strict-concurrency=targeted`
#      (Debian's 6.0.3 asserts with `complete`). The build goes to
#      $CARGO_TARGET_DIR/swift-linux, so a second run recompiles only what changed.
#
# Unmount before deleting the tree by hand: while this script runs, the checkout is mounted
# inside it (the script unmounts on every exit it can trap).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../scripts/common.sh"

rootfs="${SWIFT_ROOTFS:-/var/cache/swift-trixie}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
swift_bin=/usr/libexec/swift/bin
swift_lib=/usr/libexec/swift/lib/swift/linux
scratch="$TARGET_DIR/swift-linux"
log_dir="$TARGET_DIR/swift-linux-logs"
started=$SECONDS

step() { printf -- '--- swift: %s (%ss)\n' "$*" "$((SECONDS - started))"; }

[ "$(uname -s)" = Linux ] || die "this script is for Linux; on a Mac run bindings/swift/build.sh and swift test"
[ "$(id -u)" = 0 ] || die "needs root: it runs debootstrap, chroot and mount"
mkdir -p "$log_dir"
case "$rootfs" in /?*/?*) ;; *) die "SWIFT_ROOTFS=$rootfs: give a directory at least two levels deep" ;; esac
# A directory without Swift in it is not ours to replace.
if [ -e "$rootfs" ] && [ ! -x "$rootfs$swift_bin/swiftc" ]; then
  die "$rootfs exists but holds no $swift_bin/swiftc: remove it (after unmounting anything in it) or set SWIFT_ROOTFS"
fi

# One run at a time per tree: runs share its /proc mount (and apt, during setup).
mkdir -p "$(dirname "$rootfs")"
exec 9>"$rootfs.lock"
flock 9

# Mount points at or below $1.
mounts_under() { findmnt -rn -o TARGET | awk -v p="$1" '$0 == p || index($0, p "/") == 1'; }

# --- 1. the toolchain ------------------------------------------------------------------------
# Besides swiftlang (without its Recommends, which nothing here uses): libc6-dev, which linking
# needs (crt files, headers) and gcc only recommends; ca-certificates, because the library's
# TLS verifier refuses to create a client without any system root, even for plain HTTP.
tree_packages="libc6-dev ca-certificates"
tree_has_packages() { [ -e "$1/usr/include/stdio.h" ] && [ -s "$1/etc/ssl/certs/ca-certificates.crt" ]; }
tree_install() {
  local tree="$1"
  shift
  chroot "$tree" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@" >"$log_dir/apt-tree.log" 2>&1 \
    || { tail -30 "$log_dir/apt-tree.log"; die "installing $* into $tree failed"; }
  chroot "$tree" apt-get clean
}
if [ ! -x "$rootfs$swift_bin/swiftc" ]; then
  step "setting up Swift 6.0 (Debian trixie swiftlang) in $rootfs"
  if ! command -v debootstrap >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap) \
      >"$log_dir/apt-debootstrap.log" 2>&1 || { cat "$log_dir/apt-debootstrap.log"; die "could not install debootstrap"; }
  fi
  partial="$rootfs.partial"
  # Never delete a tree something is mounted in (a killed run's bind mount of a checkout).
  [ -z "$(mounts_under "$partial")" ] || die "$partial has mounts: $(mounts_under "$partial")"
  rm -rf "$partial"
  debootstrap --variant=minbase trixie "$partial" "$mirror" >"$log_dir/debootstrap.log" 2>&1 \
    || { tail -30 "$log_dir/debootstrap.log"; die "debootstrap failed (log: $log_dir/debootstrap.log)"; }
  tree_install "$partial" swiftlang $tree_packages
  [ -x "$partial$swift_bin/swiftc" ] || die "swiftlang installed no $swift_bin/swiftc"
  mv "$partial" "$rootfs"
fi

# A tree made by an earlier version of this script may lack a package added since.
if ! tree_has_packages "$rootfs"; then
  step "adding $tree_packages to $rootfs"
  tree_install "$rootfs" $tree_packages
fi

# --- 2. library, vod-sim, generated sources ---------------------------------------------------
# The same build as scripts/test-all.sh (hence a no-op after it, see bindings/test.sh).
if [ "${VOD_UPLOAD_SKIP_BUILD:-0}" != 1 ]; then
  step "cargo build --release --workspace --all-targets"
  (cd "$ROOT" && cargo build --release --quiet --workspace --all-targets)
fi
[ -f "$RELEASE_LIB" ] || die "$RELEASE_LIB is missing: run \`cargo build --release\` first"
sim="$TARGET_DIR/release/vod-sim"
[ -x "$sim" ] || die "$sim is missing: run \`cargo build --release\` first"

step "generating the Swift bindings"
gen="$TARGET_DIR/bindings-swift"
"$here/generate.sh" "$gen" >/dev/null
# Copied only when changed: a new mtime would make SwiftPM recompile the whole module.
install_if_changed() { cmp -s "$1" "$2" || { mkdir -p "$(dirname "$2")" && cp "$1" "$2"; }; }
install_if_changed "$gen/VodUpload.swift" "$here/Sources/VodUpload/Generated/VodUpload.swift"
install_if_changed "$gen/VodUploadFFI.h" "$here/Sources/VodUploadFFI/VodUploadFFI.h"

# --- 3. swift test inside the tree ------------------------------------------------------------
mounted=()
cleanup() {
  local i p
  # Whatever still runs inside the tree (a test binary, vod-sim) after an interrupted run is
  # ours (runs are serialized by the lock) and would keep the mounts busy.
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$rootfs" ] && kill -9 "${p#/proc/}" 2>/dev/null
  done
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# swift-frontend dies with SIGILL without /proc. The tree's own /dev (made by debootstrap)
# suffices, so the host's /dev is not mounted into it.
if ! mountpoint -q "$rootfs/proc"; then
  mount -t proc proc "$rootfs/proc"
fi
mounted+=("$rootfs/proc")
# The checkout (and the target directory, when elsewhere) at the same paths inside the tree,
# so paths in compiler messages, the -L/-rpath flags and $VOD_UPLOAD_SIM mean the same.
binds=("$ROOT")
case "$TARGET_DIR/" in "$ROOT"/*) ;; *) binds+=("$TARGET_DIR") ;; esac
for dir in "${binds[@]}"; do
  mkdir -p "$rootfs$dir"
  mountpoint -q "$rootfs$dir" || mount --bind "$dir" "$rootfs$dir"
  mounted+=("$rootfs$dir")
done

lib_dir="$(dirname "$RELEASE_LIB")"
swift_flags=(
  --package-path "$here" --scratch-path "$scratch"
  -Xswiftc -strict-concurrency=targeted -Xswiftc -warnings-as-errors
  -Xlinker -L"$lib_dir" -Xlinker -rpath -Xlinker "$lib_dir"
)
in_tree() {
  chroot "$rootfs" /usr/bin/env -i PATH="$swift_bin:/usr/bin:/bin" LD_LIBRARY_PATH="$swift_lib" \
    HOME=/root TMPDIR=/tmp LANG=C.UTF-8 VOD_UPLOAD_SIM="$sim" "$@"
}

step "swift build (Swift $(in_tree swift --version 2>/dev/null | sed -n 's/.*Swift version \([^ ]*\).*/\1/p'))"
if ! in_tree swift build --build-tests "${swift_flags[@]}" 2>&1 | tee "$log_dir/build.log"; then
  die "swift build failed"
fi
# Warnings are errors for our code; this also catches the ones the driver prints itself.
if grep -E '(^|: )warning:' "$log_dir/build.log"; then
  die "the Swift build printed warnings"
fi

step "swift test (vod-sim: $sim)"
set +e
in_tree swift test --skip-build --disable-swift-testing "${swift_flags[@]}" 2>&1 | tee "$log_dir/test.log"
status=${PIPESTATUS[0]}
set -e
# XCTest's total, the line after "Test Suite 'All tests' passed/failed".
summary="$(grep -A1 "^Test Suite 'All tests'" "$log_dir/test.log" | grep -E 'Executed [0-9]+ tests?' | tail -1)"
[ "$status" = 0 ] || die "swift test failed (exit $status): ${summary:-no XCTest summary}"
[ -n "$summary" ] || die "swift test printed no XCTest summary"
# A skipped test means vod-sim was not found: in CI that is a failure, not a pass.
if grep -qE 'with [1-9][0-9]* tests? skipped' <<<"$summary"; then
  die "tests were skipped: $summary"
fi
step "passed: $(sed 's/^[[:space:]]*//' <<<"$summary")"
