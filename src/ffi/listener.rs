//! The upload listener apps implement, and its bridge to the engine's events.
//!
//! The engine queues events to one dispatcher thread of its own, which calls the listener in
//! order; so a slow listener delays only later events (never an upload), and the listener
//! never runs while an engine lock is held. Every method returns `Result`, so an exception
//! thrown by Kotlin, Swift or Python code comes back as [`CallbackError`] and is logged: it
//! cannot panic or wedge the engine.

use std::sync::Arc;

use crate::engine::{Event, EventListener};

use super::error::CallbackError;
use super::types::{FileInfo, UploadResult, WaitingReason, size};

/// Receives the client's events (the native SDK's `VODUploadCallback`), one method per event,
/// one at a time, on a background thread of the library: never on the app's main thread. Post
/// to the main thread before touching UI. `setListener` takes one; for any number of
/// listeners, and events as one `UploadEvent` value, use `subscribe`.
///
/// Avoid a reference cycle: if the listener holds the client, call `shutdown()` (or `close()`)
/// when done, which also removes the listener.
#[uniffi::export(foreign)]
pub trait UploadListener: Send + Sync {
    /// A file was picked from the queue. Mode 1: answer with `setUploadAuthAndAddress` (now
    /// or later; the file waits).
    fn started(&self, file: FileInfo) -> Result<(), CallbackError>;
    /// Bytes uploaded so far: monotonic, never above `total`, throttled by
    /// `ClientConfig.progressIntervalMs`.
    fn progress(&self, file_id: String, uploaded: i64, total: i64) -> Result<(), CallbackError>;
    /// The file is uploaded.
    fn succeeded(&self, file: FileInfo, result: UploadResult) -> Result<(), CallbackError>;
    /// The file failed for good; `code` is the service's or a client code (`FileNotExist`, ...).
    fn failed(&self, file: FileInfo, code: String, message: String) -> Result<(), CallbackError>;
    /// The file was canceled (`cancelFile`) or, with `deleted`, removed from the queue before
    /// it finished (the JS SDK's `onUploadCanceled`).
    fn canceled(&self, file: FileInfo, deleted: bool) -> Result<(), CallbackError>;
    /// The credentials expired and no provider renewed them: call `resumeWithAuth` (mode 1)
    /// or `resumeWithToken` (mode 2). Only this file waits.
    fn token_expired(&self, file: FileInfo) -> Result<(), CallbackError>;
    /// A healthy upload started failing and is being retried (once per streak).
    fn retry(&self, file: FileInfo, code: String, message: String) -> Result<(), CallbackError>;
    /// The upload recovered after `retry`.
    fn retry_resume(&self, file: FileInfo) -> Result<(), CallbackError>;
    /// A started file is not sending bytes, and why (network policy, credentials, backoff,
    /// paused, queue).
    fn waiting(&self, file: FileInfo, reason: WaitingReason) -> Result<(), CallbackError>;
    /// Every file in the queue is finished (succeeded, failed or canceled).
    fn all_done(&self) -> Result<(), CallbackError>;
}

/// Adapts a foreign [`UploadListener`] to the engine's [`EventListener`].
pub(crate) struct ListenerBridge(pub(crate) Arc<dyn UploadListener>);

impl EventListener for ListenerBridge {
    fn on_event(&self, event: Event) {
        let l = &self.0;
        let (name, outcome) = match event {
            Event::Started { file } => ("started", l.started(file.into())),
            Event::Progress {
                file,
                uploaded,
                total,
            } => ("progress", l.progress(file, size(uploaded), size(total))),
            Event::Succeeded { file, result } => {
                ("succeeded", l.succeeded(file.into(), result.into()))
            }
            Event::Failed {
                file,
                code,
                message,
            } => ("failed", l.failed(file.into(), code, message)),
            Event::Canceled { file, deleted } => ("canceled", l.canceled(file.into(), deleted)),
            Event::TokenExpired { file } => ("token_expired", l.token_expired(file.into())),
            Event::Retry {
                file,
                code,
                message,
            } => ("retry", l.retry(file.into(), code, message)),
            Event::RetryResume { file } => ("retry_resume", l.retry_resume(file.into())),
            Event::Waiting { file, reason } => ("waiting", l.waiting(file.into(), reason.into())),
            Event::AllDone => ("all_done", l.all_done()),
        };
        if let Err(e) = outcome {
            // The app's bug, not ours: report it and keep delivering events.
            tracing::warn!("upload listener `{name}` failed: {e}");
        }
    }
}
