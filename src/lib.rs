//! # vod-upload
//!
//! A resumable, network-aware upload engine for Alibaba Cloud ApsaraVideo VOD. Files go to the
//! OSS buckets VOD owns (multipart upload), in either credential mode:
//!
//! * mode 1: the app's server hands over an `UploadAuth` + `UploadAddress` pair;
//! * mode 2: the app holds an STS token and the engine calls CreateUploadVideo /
//!   RefreshUploadVideo / CreateUploadImage itself.
//!
//! Layers, bottom up (only [`ffi`] knows UniFFI):
//!
//! * [`protocol`]: pure wire protocol: credentials, OSS V1/V4 and VOD RPC signing, CRC-64,
//!   error documents;
//! * [`transport`]: OSS and VOD clients over reqwest (streaming parts, timeouts, clock skew);
//! * [`store`]: the SQLite checkpoint database (queue, multipart sessions, part ledger);
//! * [`engine`]: queue, control, events, retries, credentials and network policy;
//! * [`source`]: where a file's bytes come from (a path, or an app-supplied byte source);
//! * `ffi`: the UniFFI surface for Kotlin, Swift and Python.

pub mod engine;
pub mod error;
mod ffi;
pub(crate) mod media;
pub mod model;
pub mod protocol;
pub mod source;
pub mod store;
pub mod transport;

pub use engine::{
    CredentialProvider, CredentialReason, CredentialRequest, Engine, EngineStatus, Event,
    EventListener, ProvidedCredentials,
};
pub use error::{
    Error, ErrorClass, Result, Service, ServiceError, StoreError, StoreErrorKind, TransportKind,
};
pub use model::*;
pub use source::{ByteSource, FileSource, SourceOpener};

uniffi::setup_scaffolding!("vod_upload");
