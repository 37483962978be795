#!/usr/bin/env bash
# Builds the Android native libraries with cargo-ndk, laid out as jniLibs:
#
#   OUT_DIR/{arm64-v8a,armeabi-v7a,x86_64,x86}/libvod_upload.so
#
#   bindings/scripts/build-android.sh [OUT_DIR]     (default: bindings/kotlin/android/build/rustJniLibs)
#
# Env: ANDROID_NDK_HOME (cargo-ndk finds Android Studio's NDK otherwise), ANDROID_ABIS to build a
# subset (e.g. "x86_64" for an emulator), ANDROID_MIN_SDK (default 24, the AAR's minSdk),
# PROFILE (default release-small: fat LTO, opt-level s, stripped; keeps unwinding, which UniFFI
# needs to turn panics into exceptions).
# Needs: rustup, `cargo install cargo-ndk`, an NDK (r27+; r28+ aligns to 16 KiB by itself).
set -euo pipefail
source "$(dirname "$0")/common.sh"

out="${1:-$ROOT/bindings/kotlin/android/build/rustJniLibs}"
profile="${PROFILE:-release-small}"
min_sdk="${ANDROID_MIN_SDK:-24}"
read -r -a abis <<<"${ANDROID_ABIS:-arm64-v8a armeabi-v7a x86_64 x86}"

command -v cargo-ndk >/dev/null || die "cargo-ndk not found: cargo install cargo-ndk"
declare -A triple=(
  [arm64-v8a]=aarch64-linux-android
  [armeabi-v7a]=armv7-linux-androideabi
  [x86_64]=x86_64-linux-android
  [x86]=i686-linux-android
)
targets=()
ndk_args=()
for abi in "${abis[@]}"; do
  [ -n "${triple[$abi]:-}" ] || die "unknown ABI $abi (arm64-v8a, armeabi-v7a, x86_64, x86)"
  targets+=("${triple[$abi]}")
  ndk_args+=(-t "$abi")
done
rustup target add "${targets[@]}" >/dev/null

# Android 15+ devices may use 16 KiB pages, and Google Play requires 16 KiB-aligned libraries
# for apps targeting it; older NDKs link at 4 KiB unless told. Only target builds see these
# flags (cargo-ndk passes --target), so host build scripts are unaffected.
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-z,max-page-size=16384"

mkdir -p "$out"
cd "$ROOT"
cargo ndk "${ndk_args[@]}" --platform "$min_sdk" -o "$out" \
  build -p vod-upload --lib --profile "$profile"

for abi in "${abis[@]}"; do
  check_nonempty "$out/$abi/libvod_upload.so"
done
echo "wrote ${abis[*]} to $out"
