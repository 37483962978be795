//! The UniFFI surface for Kotlin, Swift and Python: the only module that knows UniFFI.
//!
//! Everything here is a thin facade: records and enums mirror [`crate::model`], the one
//! exported error is a flat, app-actionable view of [`crate::Error`], and the client object
//! forwards to the engine.

/// The library's version, e.g. `vod-upload 0.1.0`: lets an app log which native build it loaded.
#[uniffi::export]
pub fn core_version() -> String {
    format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
}
