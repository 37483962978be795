//! The client's events as one value type, and subscriptions to them.
//!
//! Kotlin gets `UploadEvent` as a generated sealed class and Swift as an enum, so every face
//! matches on the same type and none keeps a hand-written copy. Any number of subscribers each
//! receive every event, in order, on the library's event thread.

use std::sync::{Arc, Mutex};

use crate::engine::{self, Event, EventListener};

use super::error::CallbackError;
use super::types::{FileInfo, UploadResult, WaitingReason, size};

/// One event of the client (the native SDK's `VODUploadCallback` methods, plus `Canceled`,
/// `Waiting` and `AllDone`). Each file that starts ends with one of `Succeeded`, `Failed` or
/// `Canceled`.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum UploadEvent {
    /// A file was picked from the queue. Mode 1: answer with `setUploadAuthAndAddress` (now or
    /// later; the file waits). If `file.videoId` is set, the file already has a video (an
    /// upload begun before the app restarted): get its credentials with RefreshUploadVideo and
    /// the same upload continues.
    Started { file: FileInfo },
    /// Bytes uploaded so far: monotonic, never above `total`, throttled by
    /// `ClientConfig.progressIntervalMs`.
    Progress {
        file_id: String,
        uploaded: i64,
        total: i64,
    },
    /// The file is uploaded.
    Succeeded {
        file: FileInfo,
        result: UploadResult,
    },
    /// The file failed for good; `code` is the service's or a client code (`FileNotExist`, ...).
    Failed {
        file: FileInfo,
        code: String,
        message: String,
    },
    /// The file was canceled (`cancelFile`), or removed from the queue (`deleteFile`,
    /// `clearFiles`: `deleted`) before it finished.
    Canceled { file: FileInfo, deleted: bool },
    /// The credentials expired and no provider renewed them: call `resumeWithAuth` (mode 1) or
    /// `resumeWithToken` (mode 2). Only this file waits.
    TokenExpired { file: FileInfo },
    /// A healthy upload started failing and is being retried (once per streak).
    Retry {
        file: FileInfo,
        code: String,
        message: String,
    },
    /// The upload recovered after `Retry`.
    RetryResume { file: FileInfo },
    /// A started file is not sending bytes, and why.
    Waiting {
        file: FileInfo,
        reason: WaitingReason,
    },
    /// Every file in the queue is finished (succeeded, failed or canceled).
    AllDone,
}

impl From<Event> for UploadEvent {
    fn from(e: Event) -> Self {
        match e {
            Event::Started { file } => UploadEvent::Started { file: file.into() },
            Event::Progress {
                file,
                uploaded,
                total,
            } => UploadEvent::Progress {
                file_id: file,
                uploaded: size(uploaded),
                total: size(total),
            },
            Event::Succeeded { file, result } => UploadEvent::Succeeded {
                file: file.into(),
                result: result.into(),
            },
            Event::Failed {
                file,
                code,
                message,
            } => UploadEvent::Failed {
                file: file.into(),
                code,
                message,
            },
            Event::Canceled { file, deleted } => UploadEvent::Canceled {
                file: file.into(),
                deleted,
            },
            Event::TokenExpired { file } => UploadEvent::TokenExpired { file: file.into() },
            Event::Retry {
                file,
                code,
                message,
            } => UploadEvent::Retry {
                file: file.into(),
                code,
                message,
            },
            Event::RetryResume { file } => UploadEvent::RetryResume { file: file.into() },
            Event::Waiting { file, reason } => UploadEvent::Waiting {
                file: file.into(),
                reason: reason.into(),
            },
            Event::AllDone => UploadEvent::AllDone,
        }
    }
}

/// Receives every event of the client, one at a time, on a background thread of the library
/// (never the main thread: post to it before touching UI). An exception it throws is logged
/// and it keeps receiving events.
#[uniffi::export(foreign)]
pub trait UploadEventListener: Send + Sync {
    fn on_event(&self, event: UploadEvent) -> Result<(), CallbackError>;
}

/// A subscription from `VodUploadClient.subscribe`. `cancel()` (or releasing it: Swift's
/// `deinit`, Kotlin's `close()`) unsubscribes.
#[derive(uniffi::Object)]
pub struct EventSubscription {
    inner: Mutex<Option<engine::Subscription>>,
}

impl EventSubscription {
    pub(crate) fn new(s: engine::Subscription) -> Arc<Self> {
        Arc::new(EventSubscription {
            inner: Mutex::new(Some(s)),
        })
    }
}

#[uniffi::export]
impl EventSubscription {
    /// Stops the events (idempotent). One already being delivered may still arrive.
    pub fn cancel(&self) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// Adapts a foreign [`UploadEventListener`] to the engine's [`EventListener`].
pub(crate) struct EventBridge(pub(crate) Arc<dyn UploadEventListener>);

impl EventListener for EventBridge {
    fn on_event(&self, event: Event) {
        if let Err(e) = self.0.on_event(event.into()) {
            // The app's bug, not ours: report it and keep delivering events.
            tracing::warn!("event listener failed: {e}");
        }
    }
}
