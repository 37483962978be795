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
use crate::error::{Error, ErrorClass};
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

/// How far before a lost Initiate was sent an upload OSS lists may have been initiated (the
/// server's clock against ours) and still be the one it began.
pub(crate) const CLOCK_SLACK: Duration = Duration::from_secs(15 * 60);

/// The outbox's memory: credentials seen for a cleanup in this process (by outbox id), and
/// the wake-up.
pub(crate) struct Outbox {
    auth: Mutex<HashMap<i64, UploadAuth>>,
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
    /// Try again after a back-off, with the same credentials (a 503, a reset).
    Failed(String),
    /// The credentials were refused (expired, revoked): try again after a back-off with
    /// others, if any can be had.
    Refused(String),
}

impl Outcome {
    fn of_error(e: &Error, auth: &OssAuth, what: &str) -> Outcome {
        match e.class(auth.credentials.is_sts()) {
            ErrorClass::TokenExpired | ErrorClass::Fatal => {
                Outcome::Refused(format!("{what}: {e}"))
            }
            _ => Outcome::Failed(format!("{what}: {e}")),
        }
    }
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
            lock(&self.auth).insert(cleanup.id, a);
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
                attempts = c.attempts,
                last_error = c.last_error.as_deref().unwrap_or(""),
                "giving up the cleanup of {}; left to OSS lifecycle rules",
                c.describe()
            );
            forget(inner, c.id);
            continue;
        }
        match attempt(inner, &c).await {
            Outcome::Done => forget(inner, c.id),
            Outcome::NoCredentials(why) => {
                // No back-off: it stays due and waits for `kick` (or the next pass). The reason
                // is recorded (and counted) once per change, not on every pass.
                tracing::debug!(
                    "the cleanup of {} waits for credentials: {why}",
                    c.describe()
                );
                if c.last_error.as_deref() != Some(why.as_str())
                    && let Err(e) = inner.store.cleanup_failed(c.id, &why, c.next_at)
                {
                    tracing::warn!("cannot record a cleanup attempt: {e}");
                }
            }
            Outcome::Failed(why) | Outcome::Refused(why) => {
                let wait = backoff(inner, c.attempts + 1);
                tracing::info!(
                    attempt = c.attempts + 1,
                    "the cleanup of {} failed ({why}); again in {wait:?}",
                    c.describe()
                );
                if let Err(e) = inner.store.cleanup_failed(c.id, &why, now + wait) {
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

fn forget(inner: &Inner, id: i64) {
    lock(&inner.outbox.auth).remove(&id);
    if let Err(e) = inner.store.cleanup_done(id) {
        tracing::warn!("cannot remove a finished cleanup from the outbox: {e}");
    }
}

async fn attempt(inner: &Arc<Inner>, c: &Cleanup) -> Outcome {
    let known = lock(&inner.outbox.auth).get(&c.id).cloned();
    let auth = match known {
        Some(a) => a,
        None => match credentials(inner, c).await {
            Ok(a) => {
                lock(&inner.outbox.auth).insert(c.id, a.clone());
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
    let outcome = match &c.upload_id {
        Some(upload_id) => abort(inner, &loc, &oss_auth, upload_id).await,
        None => find_and_abort(inner, c, &loc, &oss_auth).await,
    };
    if let Outcome::Refused(_) = &outcome {
        // Next time, get credentials afresh (mode 2, or from the app); a transient failure
        // keeps these, as mode 1 may have no others.
        lock(&inner.outbox.auth).remove(&c.id);
    }
    outcome
}

async fn abort(inner: &Inner, loc: &OssLocation, auth: &OssAuth, upload_id: &str) -> Outcome {
    match inner.oss.abort_multipart(loc, auth, upload_id).await {
        Ok(()) => {
            tracing::info!(upload = %upload_id, "multipart upload aborted");
            Outcome::Done
        }
        // Gone already: aborted by an earlier attempt whose answer was lost, or completed.
        // Ask which, so a completed object is never a silent leftover.
        Err(Error::Service(e)) if e.code == "NoSuchUpload" => {
            match inner.oss.head_object(loc, auth).await {
                Ok(meta) => tracing::warn!(
                    upload = %upload_id,
                    object = %loc.key,
                    size = meta.size,
                    "the multipart upload to abort had completed: its object exists"
                ),
                Err(e) => {
                    tracing::info!(upload = %upload_id, "multipart upload already gone ({e})")
                }
            }
            Outcome::Done
        }
        Err(e) => Outcome::of_error(&e, auth, "AbortMultipartUpload"),
    }
}

/// A lost Initiate answer: abort every upload of the object OSS lists as begun since it was
/// sent (less the clock slack).
async fn find_and_abort(inner: &Inner, c: &Cleanup, loc: &OssLocation, auth: &OssAuth) -> Outcome {
    let since = c.since.unwrap_or(c.created_at);
    let open = match inner.oss.list_multipart_uploads(loc, auth).await {
        Ok(open) => open,
        Err(e) if e.class(auth.credentials.is_sts()) == ErrorClass::Fatal => {
            // VOD's upload credentials are for one object and may not list the bucket. What a
            // lost Initiate began holds no part (none was sent without its id), so nothing is
            // billed; the bucket's lifecycle rule removes it.
            tracing::info!(
                object = %loc.key,
                "cannot look for uploads a lost Initiate began ({e}); an empty upload may stay until the lifecycle rule"
            );
            return Outcome::Done;
        }
        Err(e) => return Outcome::of_error(&e, auth, "ListMultipartUploads"),
    };
    let threshold = since.checked_sub(CLOCK_SLACK).unwrap_or(since);
    for u in open
        .iter()
        .filter(|u| u.initiated.is_none_or(|t| t >= threshold))
    {
        // Never one a file of this database went on to use (the same object added again).
        if inner.store.upload_in_use(&u.upload_id).unwrap_or(true) {
            continue;
        }
        match abort(inner, loc, auth, &u.upload_id).await {
            Outcome::Done => {}
            failed => return failed,
        }
    }
    Outcome::Done
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
            let region = crate::protocol::sign::region_from_endpoint(&c.endpoint);
            let vod = match inner.vod_for(region.as_deref()) {
                Ok(vod) => vod,
                Err(e) => return Err(Outcome::Failed(format!("RefreshUploadVideo: {e}"))),
            };
            match vod.refresh_upload_video(&sts, video_id).await {
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
