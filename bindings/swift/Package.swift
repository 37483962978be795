// swift-tools-version:5.9
// The VodUpload Swift package: the Rust library as an XCFramework plus the generated and
// hand-written Swift. Build the native part first with `bindings/swift/build.sh` (macOS), which
// writes VodUploadFFI.xcframework and Sources/VodUpload/Generated/VodUpload.swift; neither is
// committed.
import PackageDescription

let package = Package(
    name: "VodUpload",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "VodUpload", targets: ["VodUpload"]),
    ],
    targets: [
        // Static libraries for iOS, the iOS simulator and macOS, with VodUploadFFI.h and a
        // `module VodUploadFFI` modulemap, which the generated Swift imports.
        .binaryTarget(name: "VodUploadFFI", path: "VodUploadFFI.xcframework"),
        // Generated bindings (Sources/VodUpload/Generated) + the AsyncStream wrapper.
        .target(
            name: "VodUpload",
            dependencies: ["VodUploadFFI"],
            path: "Sources/VodUpload",
            linkerSettings: [
                // TLS certificate checks use the platform verifier (rustls-platform-verifier).
                .linkedFramework("Security"),
                .linkedFramework("CoreFoundation"),
            ]
        ),
        // XCTest on macOS against vod-sim ($VOD_UPLOAD_SIM, e.g. target/release/vod-sim).
        .testTarget(
            name: "VodUploadTests",
            dependencies: ["VodUpload"],
            path: "Tests/VodUploadTests"
        ),
    ]
)
