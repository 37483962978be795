// swift-tools-version:5.9
// The VodUpload Swift package: the Rust library's C interface, the generated Swift
// (Sources/VodUpload/Generated) and the hand-written Swift around it. Nothing generated is
// committed; where the native part comes from depends on the platform the package is built on:
//
// - Apple platforms (Xcode, `swift test` on a Mac): VodUploadFFI.xcframework, static libraries
//   for iOS, the iOS simulator and macOS, written by `bindings/swift/build.sh`.
// - Linux (CI, `bindings/swift/test-linux.sh`): the host-built libvod_upload.so through a
//   system-library target, Sources/VodUploadFFI (a committed module.modulemap that links
//   `vod_upload`, next to the generated VodUploadFFI.h). The script passes the library's
//   directory with `-Xlinker -L`.
//
// The manifest is compiled for the machine that builds, so `os(Linux)` is the build host;
// an iOS build always happens on macOS and gets the XCFramework.
import PackageDescription

#if os(Linux)
let ffiTarget: Target = .systemLibrary(name: "VodUploadFFI", path: "Sources/VodUploadFFI")
let platformLinkerSettings: [LinkerSetting] = []
#else
// `module VodUploadFFI` modulemap + VodUploadFFI.h in each slice's Headers.
let ffiTarget: Target = .binaryTarget(name: "VodUploadFFI", path: "VodUploadFFI.xcframework")
let platformLinkerSettings: [LinkerSetting] = [
    // TLS certificate checks use the platform verifier (rustls-platform-verifier).
    .linkedFramework("Security"),
    .linkedFramework("CoreFoundation"),
]
#endif

let package = Package(
    name: "VodUpload",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "VodUpload", targets: ["VodUpload"]),
        // The iOS sample's upload logic (screen state, event reducer, background rules), kept
        // free of SwiftUI/UIKit so it is tested on every platform. Apps may use it or not.
        .library(name: "VodUploadSampleKit", targets: ["VodUploadSampleKit"]),
    ],
    targets: [
        ffiTarget,
        // Generated bindings + the Swift face: AsyncStream of events, async upload, NetworkMonitor.
        .target(
            name: "VodUpload",
            dependencies: ["VodUploadFFI"],
            path: "Sources/VodUpload",
            linkerSettings: platformLinkerSettings
        ),
        .target(
            name: "VodUploadSampleKit",
            dependencies: ["VodUpload"],
            path: "Sources/VodUploadSampleKit"
        ),
        // XCTest against vod-sim ($VOD_UPLOAD_SIM, e.g. target/release/vod-sim); the tests
        // that need it are skipped without the variable.
        .testTarget(
            name: "VodUploadTests",
            dependencies: ["VodUpload"],
            path: "Tests/VodUploadTests"
        ),
        .testTarget(
            name: "VodUploadSampleKitTests",
            dependencies: ["VodUploadSampleKit"],
            path: "Tests/VodUploadSampleKitTests"
        ),
    ]
)
