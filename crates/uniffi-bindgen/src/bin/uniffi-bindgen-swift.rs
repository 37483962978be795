//! The Swift-specific bindgen (library mode only): emits Swift sources, headers and an
//! XCFramework-style `module.modulemap` separately, which `bindings/swift/build.sh` needs.

fn main() {
    uniffi::uniffi_bindgen_swift()
}
