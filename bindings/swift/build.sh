#!/usr/bin/env bash
# Builds the Swift package's native part on macOS (Xcode + rustup needed):
#
#   bindings/swift/VodUploadFFI.xcframework      static libraries + header + module.modulemap:
#       ios-arm64                 iPhone / iPad
#       ios-arm64_x86_64-simulator  the simulator on Apple silicon and Intel (lipo)
#       macos-arm64_x86_64        `swift test` on the Mac (lipo)
#   bindings/swift/Sources/VodUpload/Generated/VodUpload.swift
#
# Then `swift test --package-path bindings/swift`, or add the package to an Xcode project.
# The Swift sources come from the host release build (unstripped: the bindgen reads its
# metadata); the libraries are built with the size-optimised `release-small` profile.
#
#   bindings/swift/build.sh            (env: IOS_MIN, MACOS_MIN, PROFILE to override)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../scripts/common.sh"

[ "$(uname -s)" = Darwin ] || die "building the XCFramework needs macOS and Xcode (generate.sh works anywhere)"
command -v xcodebuild >/dev/null || die "xcodebuild not found: install Xcode"

profile="${PROFILE:-release-small}"
export IPHONEOS_DEPLOYMENT_TARGET="${IOS_MIN:-15.0}"
export MACOSX_DEPLOYMENT_TARGET="${MACOS_MIN:-12.0}"
targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin)

rustup target add "${targets[@]}" >/dev/null

# 1. One static library per target. `cargo rustc --crate-type staticlib` skips linking the
#    cdylib we do not ship on Apple platforms.
for t in "${targets[@]}"; do
  echo "building $t ($profile)"
  (cd "$ROOT" && cargo rustc --quiet -p vod-upload --lib --crate-type staticlib --profile "$profile" --target "$t")
done
lib() { echo "$TARGET_DIR/$1/$profile/libvod_upload.a"; }

# 2. Swift sources, header and modulemap from the host release build.
build_release
work="$TARGET_DIR/swift-xcframework"
rm -rf "$work"
mkdir -p "$work/headers" "$work/gen" "$work/ios-sim" "$work/macos"
"$here/generate.sh" "$work/gen"
cp "$work/gen/VodUploadFFI.h" "$work/gen/module.modulemap" "$work/headers/"

# 3. Fat libraries where one XCFramework slice covers two architectures.
lipo -create "$(lib aarch64-apple-ios-sim)" "$(lib x86_64-apple-ios)" -output "$work/ios-sim/libvod_upload.a"
lipo -create "$(lib aarch64-apple-darwin)" "$(lib x86_64-apple-darwin)" -output "$work/macos/libvod_upload.a"

# 4. The XCFramework (replacing the previous one) and the generated Swift.
xcf="$here/VodUploadFFI.xcframework"
rm -rf "$xcf"
xcodebuild -create-xcframework \
  -library "$(lib aarch64-apple-ios)" -headers "$work/headers" \
  -library "$work/ios-sim/libvod_upload.a" -headers "$work/headers" \
  -library "$work/macos/libvod_upload.a" -headers "$work/headers" \
  -output "$xcf" >/dev/null
mkdir -p "$here/Sources/VodUpload/Generated"
cp "$work/gen/VodUpload.swift" "$here/Sources/VodUpload/Generated/VodUpload.swift"

echo "wrote $xcf and Sources/VodUpload/Generated/VodUpload.swift"
echo "next: swift test --package-path $here   (VOD_UPLOAD_SIM=$TARGET_DIR/release/vod-sim for the simulator tests)"
