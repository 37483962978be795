//! Events and their delivery.
//!
//! The engine never calls the app's listener itself: it queues events to one dispatcher
//! thread, which calls the listener in order. So the listener never runs while an engine lock
//! is held, a slow listener never stalls an upload, and a panicking listener is contained.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::thread;

use crate::model::{FileId, FileInfo, UploadResult, WaitingReason};

/// What the engine reports to the app. The native SDK's callbacks, plus `Waiting` and
/// `AllDone`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A file was picked from the queue. In mode 1 the app answers with
    /// `set_upload_auth_and_address` (it may do so later; the file waits for it).
    Started { file: FileInfo },
    /// Bytes confirmed or in flight for a file: monotonic, never above `total`, throttled.
    Progress {
        file: FileId,
        uploaded: u64,
        total: u64,
    },
    Succeeded {
        file: FileInfo,
        result: UploadResult,
    },
    Failed {
        file: FileInfo,
        code: String,
        message: String,
    },
    /// The credentials expired and no provider could renew them: call `resume_with_auth`
    /// (mode 1) or `resume_with_token` (mode 2). Only this file waits.
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

/// Receives the engine's events, one at a time, on the engine's dispatcher thread.
pub trait EventListener: Send + Sync {
    fn on_event(&self, event: Event);
}

/// Queues events for the dispatcher thread.
#[derive(Clone)]
pub(crate) struct EventSink {
    tx: mpsc::Sender<Event>,
}

impl EventSink {
    /// Starts the dispatcher thread. It ends when every `EventSink` clone is dropped, after
    /// delivering what was queued.
    pub(crate) fn start(listener: Arc<RwLock<Option<Arc<dyn EventListener>>>>) -> EventSink {
        let (tx, rx) = mpsc::channel::<Event>();
        let spawned = thread::Builder::new()
            .name("vod-upload-events".into())
            .spawn(move || {
                for event in rx {
                    let current = listener
                        .read()
                        .map(|l| l.clone())
                        .unwrap_or_else(|p| p.into_inner().clone());
                    if let Some(l) = current {
                        // A listener bug must not take the engine's events down with it.
                        if catch_unwind(AssertUnwindSafe(|| l.on_event(event))).is_err() {
                            tracing::error!("event listener panicked; event dropped");
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            // Without a thread the receiver is dropped and events are discarded; uploads go on.
            tracing::error!("cannot start the event thread: {e}");
        }
        EventSink { tx }
    }

    pub(crate) fn send(&self, event: Event) {
        // Fails only after shutdown, when nobody listens any more.
        let _ = self.tx.send(event);
    }
}
