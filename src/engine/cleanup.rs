//! The cleanup outbox: aborts of multipart uploads that a delete, a cancel or a restart left
//! open on the server (their parts are billed until aborted).
//!
//! An abort is persisted (`Store::discard_session` writes it in the transaction that forgets
//! the session) before it is attempted, so neither a 503 nor a kill right after `delete_file`
//! forgets it. One task works through the outbox, with capped exponential back-off per
//! upload, across restarts, until OSS confirms; it never blocks the queue. Credentials are
//! never persisted: an attempt uses those the file had in this process, else the mode-2 STS
//! token (directly for own-bucket targets, through RefreshUploadVideo for videos). A cleanup
//! with no usable credentials waits for the app to give some.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::Inner;
use crate::error::Error;
use crate::model::UploadTarget;
use crate::protocol::credentials::UploadAuth;
use crate::store::Cleanup;
use crate::transport::oss::{OssAuth, OssLocation};

/// The longest wait between two attempts at one cleanup, and between two passes when nothing
/// is due.
const MAX_INTERVAL: Duration = Duration::from_secs(600);

/// After this long a cleanup is given up: OSS lifecycle rules for unfinished multipart
/// uploads (7 days is the usual setting) remove what is left.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The outbox's memory: credentials seen for an upload in this process, and the wake-up.
pub(crate) struct Outbox {
    auth: Mutex<HashMap<String, UploadAuth>>,
    /// Its own Arc, so the task waits on it without keeping the engine alive.
    wake: Arc<Notify>,
}

/// What one attempt came to.
#[derive(Debug)]
enum Outcome {
    /// The server confirmed: the upload is gone.
    Done,
    /// Nothing to try with yet; waits for credentials.
    NoCredentials(String),
    /// Try again after a back-off.
    Failed(String),
}

impl Outbox {
    pub(crate) fn new() -> Outbox {
        Outbox {
            auth: Mutex::new(HashMap::new()),
            wake: Arc::new(Notify::new()),
        }
    }

    /// A cleanup was just persisted: remember the credentials it can use and attempt it.
    pub(crate) fn owe(&self, cleanup: &Cleanup, auth: Option<UploadAuth>) {
        if let Some(a) = auth {
            lock(&self.auth).insert(cleanup.upload_id.clone(), a);
        }
        self.wake.notify_one();
    }

    /// New credentials from the app: cleanups waiting for some can be attempted.
    pub(crate) fn kick(&self) {
        self.wake.notify_one();
    }
}

/// Starts the outbox task; it ends with the engine.
pub(crate) fn start(inner: &Arc<Inner>) {
    let weak = Arc::downgrade(inner);
    let wake = Arc::clone(&inner.outbox.wake);
    let shutdown = inner.shutdown.clone();
    inner.runtime.spawn(run(weak, wake, shutdown));
}

async fn run(weak: Weak<Inner>, wake: Arc<Notify>, shutdown: CancellationToken) {
    loop {
        let notified = wake.notified();
        let Some(inner) = weak.upgrade() else { return };
        let pause = tokio::select! {
            pause = pass(&inner) => pause,
            _ = shutdown.cancelled() => return,
        };
        drop(inner);
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Attempts every due cleanup once; returns how long until the next one is due.
async fn pass(inner: &Arc<Inner>) -> Duration {
    let owed = match inner.store.cleanups() {
        Ok(owed) => owed,
        Err(e) => {
            tracing::warn!("cannot read the cleanup outbox: {e}");
            return MAX_INTERVAL;
        }
    };
    let mut next = MAX_INTERVAL;
    for c in owed {
        let now = SystemTime::now();
        if let Ok(wait) = c.next_at.duration_since(now)
            && !wait.is_zero()
        {
            next = next.min(wait);
            continue;
        }
        if now.duration_since(c.created_at).unwrap_or_default() > MAX_AGE {
            tracing::warn!(
                upload = %c.upload_id,
                attempts = c.attempts,
                last_error = c.last_error.as_deref().unwrap_or(""),
                "giving up aborting a multipart upload; left to OSS lifecycle rules"
            );
            forget(inner, &c.upload_id);
            continue;
        }
        match attempt(inner, &c).await {
            Outcome::Done => forget(inner, &c.upload_id),
            Outcome::NoCredentials(why) => {
                // Not an attempt: it waits for `kick` (or the next pass), due as before.
                tracing::debug!(upload = %c.upload_id, "abort waits for credentials: {why}");
                if c.last_error.as_deref() != Some(why.as_str())
                    && let Err(e) = inner.store.cleanup_failed(&c.upload_id, &why, c.next_at)
                {
                    tracing::warn!("cannot record a cleanup attempt: {e}");
                }
            }
            Outcome::Failed(why) => {
                let wait = backoff(inner, c.attempts + 1);
                tracing::info!(
                    upload = %c.upload_id,
                    attempt = c.attempts + 1,
                    "could not abort the multipart upload ({why}); again in {wait:?}"
                );
                if let Err(e) = inner.store.cleanup_failed(&c.upload_id, &why, now + wait) {
                    tracing::warn!("cannot record a cleanup attempt: {e}");
                }
                next = next.min(wait);
            }
        }
    }
    next
}

/// The engine's retry back-off (`retry_base_interval` doubling, with jitter), allowed to grow
/// to [`MAX_INTERVAL`]: a cleanup has no deadline, only a cost per attempt.
fn backoff(inner: &Inner, attempt: u32) -> Duration {
    let mut policy = inner.retry;
    policy.max = policy.max.max(MAX_INTERVAL);
    policy.delay(attempt, fastrand::f64())
}

fn forget(inner: &Inner, upload_id: &str) {
    lock(&inner.outbox.auth).remove(upload_id);
    if let Err(e) = inner.store.cleanup_done(upload_id) {
        tracing::warn!("cannot remove a finished cleanup from the outbox: {e}");
    }
}

async fn attempt(inner: &Arc<Inner>, c: &Cleanup) -> Outcome {
    let known = lock(&inner.outbox.auth).get(&c.upload_id).cloned();
    let auth = match known {
        Some(a) => a,
        None => match credentials(inner, c).await {
            Ok(a) => {
                lock(&inner.outbox.auth).insert(c.upload_id.clone(), a.clone());
                a
            }
            Err(outcome) => return outcome,
        },
    };
    let loc = OssLocation {
        endpoint: c.endpoint.clone(),
        bucket: c.bucket.clone(),
        key: c.object.clone(),
    };
    let region = auth
        .region
        .clone()
        .or_else(|| crate::protocol::sign::region_from_endpoint(&c.endpoint))
        .unwrap_or_else(|| inner.config.region.clone());
    let oss_auth = OssAuth {
        credentials: auth.credentials.clone(),
        version: inner.config.signature_version,
        region,
    };
    match inner
        .oss
        .abort_multipart(&loc, &oss_auth, &c.upload_id)
        .await
    {
        Ok(()) => {
            tracing::info!(upload = %c.upload_id, "multipart upload aborted");
            Outcome::Done
        }
        // Gone already: aborted by an earlier attempt whose answer was lost, or completed.
        // Ask which, so a completed object is never a silent leftover.
        Err(Error::Service(e)) if e.code == "NoSuchUpload" => {
            match inner.oss.head_object(&loc, &oss_auth).await {
                Ok(meta) => tracing::warn!(
                    upload = %c.upload_id,
                    object = %c.object,
                    size = meta.size,
                    "the multipart upload to abort had completed: its object exists"
                ),
                Err(e) => {
                    tracing::info!(upload = %c.upload_id, "multipart upload already gone ({e})")
                }
            }
            Outcome::Done
        }
        Err(e) => {
            let using_sts = oss_auth.credentials.is_sts();
            if matches!(
                e.class(using_sts),
                crate::error::ErrorClass::TokenExpired | crate::error::ErrorClass::Fatal
            ) {
                // Next time, get credentials afresh (mode 2) instead of these.
                lock(&inner.outbox.auth).remove(&c.upload_id);
            }
            Outcome::Failed(e.to_string())
        }
    }
}

/// Credentials for a cleanup when this process saw none for its upload (after a restart).
async fn credentials(inner: &Arc<Inner>, c: &Cleanup) -> Result<UploadAuth, Outcome> {
    let sts = inner.lock().sts.clone();
    let Some(sts) = sts else {
        return Err(Outcome::NoCredentials("no STS token set".into()));
    };
    match (&c.target, &c.video_id) {
        (UploadTarget::Object { .. }, _) => Ok(UploadAuth {
            credentials: sts,
            region: None,
        }),
        (UploadTarget::Video, Some(video_id)) => {
            match inner.vod.refresh_upload_video(&sts, video_id).await {
                Ok(t) if t.upload_address.file_name == c.object => Ok(t.upload_auth),
                Ok(t) => Err(Outcome::NoCredentials(format!(
                    "RefreshUploadVideo for {video_id} names another object ({})",
                    t.upload_address.file_name
                ))),
                Err(e) => Err(Outcome::Failed(format!("RefreshUploadVideo: {e}"))),
            }
        }
        _ => Err(Outcome::NoCredentials(
            "no credentials for this upload in this process".into(),
        )),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
