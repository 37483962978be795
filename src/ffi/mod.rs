//! The UniFFI surface for Kotlin, Swift and Python: the only module that knows UniFFI.
//!
//! A thin facade over [`crate::engine`]:
//!
//! * [`client::VodUploadClient`]: the one object, with the native SDK's method names; it owns
//!   its tokio runtime;
//! * [`events::UploadEvent`], one enum of every event, and `subscribe` for any number of
//!   [`events::UploadEventListener`]s;
//! * [`listener::UploadListener`], [`credentials::CredentialProvider`], [`logging::LogSink`],
//!   [`source::SourceOpener`] / [`source::ByteSource`]:
//!   traits the app implements; every method returns `Result`, so a foreign exception never
//!   becomes a Rust panic;
//! * [`types`]: records and enums mirroring [`crate::model`];
//! * [`error::VodUploadError`]: the one error apps see.
//!
//! No panic crosses the boundary: the exported functions return `Result` and hold no lock
//! while calling foreign code; UniFFI turns anything unexpected into a foreign exception.

mod client;
mod credentials;
mod error;
mod events;
mod listener;
mod logging;
mod source;
mod types;

/// A VodInfo from the JSON the JS and mini-program SDKs take as `paramData` / `userData`,
/// `{"Vod":{"Title":"…","CateId":"234","UserData":{…}}}` (CreateUploadVideo's parameter
/// names). Throws `InvalidArgument` naming what is wrong.
#[uniffi::export]
pub fn vod_info_from_json(json: String) -> Result<types::VodInfo, error::VodUploadError> {
    Ok(crate::model::VodInfo::from_json(&json)?.into())
}

/// The library's name and version, e.g. `vod-upload 0.1.0`: lets an app log which native
/// build it loaded.
#[uniffi::export]
pub fn core_version() -> String {
    format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
}
