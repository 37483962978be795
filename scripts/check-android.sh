#!/usr/bin/env bash
# Type-checks and lints the library for Android (aarch64-linux-android), so the code behind
# `cfg(target_os = "android")` (its TLS roots, for one) is compiled on every run, not only in an
# Android build nobody runs here.
#
# No Android NDK is needed: `cargo clippy` links nothing, and the only C it compiles (ring's
# build script) is given clang and the Debian aarch64 libc headers. The objects are thrown away,
# so they need not be Android-exact; a real APK build uses the NDK (android-sample/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
target=aarch64-linux-android

rustup target add "$target" >/dev/null
if ! command -v clang >/dev/null || [ ! -d /usr/aarch64-linux-gnu/include ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  # A fresh machine may have no package lists yet: update once if the install cannot resolve.
  $sudo apt-get install -y -q clang libc6-dev-arm64-cross >/dev/null 2>&1 || {
    $sudo apt-get update -q >/dev/null
    $sudo apt-get install -y -q clang libc6-dev-arm64-cross >/dev/null
  }
fi

export CC_aarch64_linux_android="clang --target=${target}21"
export CFLAGS_aarch64_linux_android="-isystem /usr/aarch64-linux-gnu/include"
export AR_aarch64_linux_android=ar
# A target dir of its own: host and Android artefacts would otherwise evict each other's
# build-script outputs.
cargo clippy --lib --target "$target" --target-dir "${CARGO_TARGET_DIR:-$PWD/target}/android-check" \
  -- -D warnings
