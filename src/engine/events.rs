//! Events and their delivery.
//!
//! The engine never calls the app's code itself: it queues events to one dispatcher thread,
//! which hands each event, in order, to every subscriber. So a listener never runs while an
//! engine lock is held, a slow listener never stalls an upload, and a panicking listener is
//! contained (it keeps receiving later events).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, RwLock, Weak};
use std::thread;

use crate::model::{FileId, FileInfo, UploadResult, WaitingReason};

/// What the engine reports to the app. The native SDK's callbacks, plus `Waiting`,
/// `Canceled` (the JS SDK's `onUploadCanceled`) and `AllDone`.
///
/// Every file that starts ends with exactly one of `Succeeded`, `Failed` or `Canceled` per
/// pass through the queue, so a waiter never has to infer the end from `AllDone`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A file was picked from the queue. In mode 1 the app answers with
    /// `set_upload_auth_and_address` (it may do so later; the file waits for it). When
    /// `file.video_id` is set the file already has a video (e.g. after an app restart): the
    /// app server should answer with RefreshUploadVideo for it, and the upload continues.
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
    /// The file was canceled (`cancel_file`) or removed from the queue (`delete_file`,
    /// `clear_files`; then `deleted`). Sent only for a file that had not finished.
    Canceled { file: FileInfo, deleted: bool },
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

impl Event {
    /// The id of the file the event is about (`None` for `AllDone`).
    pub fn file_id(&self) -> Option<&str> {
        match self {
            Event::Progress { file, .. } => Some(file),
            Event::Started { file }
            | Event::Succeeded { file, .. }
            | Event::Failed { file, .. }
            | Event::Canceled { file, .. }
            | Event::TokenExpired { file }
            | Event::Retry { file, .. }
            | Event::RetryResume { file }
            | Event::Waiting { file, .. } => Some(&file.id),
            Event::AllDone => None,
        }
    }
}

/// Receives the engine's events, one at a time, on the engine's dispatcher thread.
pub trait EventListener: Send + Sync {
    fn on_event(&self, event: Event);
}

type Subscribers = RwLock<Vec<(u64, Arc<dyn EventListener>)>>;

/// A subscription to the engine's events; dropping it (or [`Subscription::cancel`])
/// unsubscribes. Events already being delivered may still arrive once.
#[must_use = "dropping the subscription unsubscribes at once"]
pub struct Subscription {
    id: u64,
    subscribers: Weak<Subscribers>,
}

impl Subscription {
    /// Keeps the listener subscribed for the engine's whole life (until `shutdown`).
    pub fn detach(self) {
        std::mem::forget(self);
    }

    /// Unsubscribes now (idempotent).
    pub fn cancel(&self) {
        if let Some(s) = self.subscribers.upgrade() {
            let gone: Vec<_> = {
                let mut subs = write(&s);
                let (gone, kept) = std::mem::take(&mut *subs)
                    .into_iter()
                    .partition(|(id, _)| *id == self.id);
                *subs = kept;
                gone
            };
            // Dropped after the lock: a foreign listener's finalizer may call back into the
            // client (and subscribe or cancel) while it is released.
            drop(gone);
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// Queues events for the dispatcher thread, and keeps the subscribers.
#[derive(Clone)]
pub(crate) struct EventSink {
    /// Taken at shutdown, which ends the dispatcher thread once it has delivered what was
    /// queued (an engine kept alive by an app's handle does not keep an idle thread).
    tx: Arc<std::sync::Mutex<Option<mpsc::Sender<Event>>>>,
    subscribers: Arc<Subscribers>,
    next_id: Arc<std::sync::atomic::AtomicU64>,
}

impl EventSink {
    /// Starts the dispatcher thread. It ends when every `EventSink` clone is dropped, after
    /// delivering what was queued.
    pub(crate) fn start() -> EventSink {
        let (tx, rx) = mpsc::channel::<Event>();
        let subscribers: Arc<Subscribers> = Arc::default();
        let weak = Arc::downgrade(&subscribers);
        let spawned = thread::Builder::new()
            .name("vod-upload-events".into())
            .spawn(move || {
                for event in rx {
                    let Some(subs) = weak.upgrade() else { return };
                    // A snapshot: a listener may subscribe or unsubscribe from inside a callback.
                    let current: Vec<_> = read(&subs).iter().map(|(_, l)| l.clone()).collect();
                    drop(subs);
                    for l in current {
                        // A listener bug must not take the engine's events down with it.
                        let e = event.clone();
                        if catch_unwind(AssertUnwindSafe(|| l.on_event(e))).is_err() {
                            tracing::error!("event listener panicked; it keeps its subscription");
                        }
                    }
                }
                // Closed: release the listeners, outside the lock (see `Subscription::cancel`).
                if let Some(subs) = weak.upgrade() {
                    let gone = std::mem::take(&mut *write(&subs));
                    drop(gone);
                }
            });
        if let Err(e) = spawned {
            // Without a thread the receiver is dropped and events are discarded; uploads go on.
            tracing::error!("cannot start the event thread: {e}");
        }
        EventSink {
            tx: Arc::new(std::sync::Mutex::new(Some(tx))),
            subscribers,
            next_id: Arc::default(),
        }
    }

    pub(crate) fn subscribe(&self, listener: Arc<dyn EventListener>) -> Subscription {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        write(&self.subscribers).push((id, listener));
        Subscription {
            id,
            subscribers: Arc::downgrade(&self.subscribers),
        }
    }

    /// Shutdown: no more events; the dispatcher thread ends after delivering what was queued,
    /// and then drops every subscriber (breaking listener → engine reference cycles).
    pub(crate) fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    pub(crate) fn send(&self, event: Event) {
        if let Some(tx) = &*self.tx.lock().unwrap_or_else(|p| p.into_inner()) {
            // Fails only when the dispatcher thread could not start.
            let _ = tx.send(event);
        }
    }
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Noop;
    impl EventListener for Noop {
        fn on_event(&self, _: Event) {}
    }

    /// A listener whose drop subscribes again (as a foreign finalizer calling back into the
    /// client may): cancel must release it outside the subscribers' lock.
    struct Reenters(EventSink);
    impl EventListener for Reenters {
        fn on_event(&self, _: Event) {}
    }
    impl Drop for Reenters {
        fn drop(&mut self) {
            self.0.subscribe(Arc::new(Noop)).detach();
        }
    }

    #[test]
    fn a_listener_released_by_cancel_may_call_back_in() {
        let sink = EventSink::start();
        let sub = sink.subscribe(Arc::new(Reenters(sink.clone())));
        let (done, finished) = mpsc::channel();
        let s = sink.clone();
        thread::spawn(move || {
            sub.cancel();
            let _ = done.send(read(&s.subscribers).len());
        });
        let left = finished
            .recv_timeout(Duration::from_secs(10))
            .expect("cancel deadlocked");
        assert_eq!(left, 1, "the listener's drop subscribed once");
    }

    #[test]
    fn close_ends_delivery_and_releases_the_listeners() {
        let sink = EventSink::start();
        sink.subscribe(Arc::new(Noop)).detach();
        sink.send(Event::AllDone);
        sink.close();
        sink.send(Event::AllDone); // dropped: nobody listens after shutdown
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !read(&sink.subscribers).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "listeners not released"
            );
            // Polls the dispatcher thread's last step, which has no event of its own.
            thread::sleep(Duration::from_millis(5));
        }
    }
}
