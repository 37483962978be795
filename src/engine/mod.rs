//! The upload engine: a persistent file queue with start/stop/pause/resume, events, retries,
//! credential renewal and a network policy.
//!
//! Structure:
//! * [`Engine`] is a cheap handle; every method is non-blocking on network I/O (they touch
//!   in-memory state and, briefly, SQLite).
//! * One scheduler task starts a worker task per file (at most `max_parallel_files`).
//! * Each worker ([`worker`]) runs one file: credentials, multipart session, parts in parallel,
//!   complete. It is cancelled by dropping its future (pause, stop, network policy, cancel,
//!   delete, shutdown), which closes its connections at once; checkpoints are already on disk.
//! * Every worker run has a generation number; a worker whose run was cancelled can no
//!   longer change its file's state, so a late result never overwrites a newer decision.
//! * Events go through [`events::EventSink`] to one dispatcher thread.

mod credentials;
mod events;
pub mod network;
pub mod retry;
mod worker;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::SystemTime;

use tokio::runtime::Handle;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

pub use credentials::{
    CredentialProvider, CredentialReason, CredentialRequest, ProvidedCredentials,
};
pub use events::{Event, EventListener};

use crate::error::{Error, Result};
use crate::model::{
    Config, FileError, FileId, FileInfo, FileStatus, NetworkPolicy, NetworkState, UploadTarget,
    VodInfo, WaitingReason, limits,
};
use crate::protocol::credentials::{Credentials, Secret, UploadAddress, UploadAuth};
use crate::store::{FileRow, NewFile, Store};
use crate::transport::http::{HttpConfig, build_client, validate_endpoint};
use crate::transport::oss::OssClient;
use crate::transport::vod::{VodClient, default_vod_endpoint};
use events::EventSink;
use retry::RetryPolicy;

/// The engine's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineStatus {
    /// Created or restored; nothing uploads until `start`.
    Idle,
    /// Uploading the queue (files added now start by themselves).
    Running,
    /// `pause()`: in-flight requests cancelled, checkpoints kept; `resume()` continues.
    Paused,
    /// `stop()`: like pause, but `start()` continues.
    Stopped,
}

/// The upload engine. Clone it freely: clones share one engine.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) retry: RetryPolicy,
    pub(crate) runtime: Handle,
    pub(crate) store: Store,
    pub(crate) oss: OssClient,
    pub(crate) vod: VodClient,
    pub(crate) state: Mutex<State>,
    pub(crate) events: EventSink,
    listener: Arc<RwLock<Option<Arc<dyn EventListener>>>>,
    pub(crate) provider: RwLock<Option<Arc<dyn CredentialProvider>>>,
    /// Serialises credential-provider calls and VOD refreshes, so concurrent expiries cause one
    /// renewal.
    pub(crate) refresh_lock: tokio::sync::Mutex<()>,
    /// Bumped whenever the app supplies credentials; workers waiting for them watch it.
    pub(crate) credentials_changed: watch::Sender<u64>,
    /// Wakes the scheduler (its own Arc: the scheduler waits on it without keeping the engine
    /// alive).
    wake: Arc<Notify>,
    /// Cellular bytes spent under a `CellularBudget` policy.
    pub(crate) cellular_used: AtomicU64,
    /// Mirrors `state.network` for the per-chunk progress path, which must not lock.
    pub(crate) on_cellular: AtomicBool,
    shutdown: CancellationToken,
    recovered: Option<PathBuf>,
}

pub(crate) struct State {
    pub(crate) status: EngineStatus,
    pub(crate) files: Vec<Entry>,
    pub(crate) network: NetworkState,
    pub(crate) policy: NetworkPolicy,
    /// Mode 2 (or own-bucket) credentials. Memory only: never persisted.
    pub(crate) sts: Option<Credentials>,
    /// Bumped when `sts` changes, to deduplicate renewals.
    pub(crate) sts_generation: u64,
    /// The `sts_generation` the service rejected as expired: wait for a new token.
    pub(crate) sts_dead: Option<u64>,
    /// VOD region; an UploadAuth's `Region` overrides the configured one (as the native SDKs).
    pub(crate) region: String,
    /// Set when work is queued; `AllDone` fires once when the queue then drains.
    all_done_pending: bool,
    next_generation: u64,
}

/// A file in the queue, with its runtime state.
pub(crate) struct Entry {
    pub(crate) info: FileInfo,
    pub(crate) run: Option<Run>,
    /// Mode 1 credentials and address for this file (memory only).
    pub(crate) auth: Option<FileAuth>,
    /// Set when the service rejected `auth` as expired: the next `resume_with_auth` is for this
    /// file.
    pub(crate) auth_expired: bool,
    /// A `Retry` event was sent and no `RetryResume` yet.
    pub(crate) in_retry: bool,
    /// Highest progress value reported (progress never goes back).
    pub(crate) reported: u64,
    /// `Started` was sent for the current pass through the queue.
    started: bool,
}

pub(crate) struct Run {
    pub(crate) generation: u64,
    cancel: CancellationToken,
}

/// Credentials and address for one file's OSS upload.
#[derive(Clone)]
pub(crate) struct FileAuth {
    pub(crate) auth: UploadAuth,
    pub(crate) address: UploadAddress,
    pub(crate) video_id: Option<String>,
    pub(crate) image_url: Option<String>,
    /// The `State::sts_generation` these credentials are, for own-bucket targets signed with
    /// the app's STS token directly.
    pub(crate) sts_generation: Option<u64>,
    /// When they were obtained (to renew short-lived credentials at half-life).
    pub(crate) obtained_at: SystemTime,
}

impl Engine {
    /// Opens (or creates) the checkpoint database, restores the queue (files that were
    /// uploading come back ready, with their checkpoints), and starts the scheduler on
    /// `runtime`. Nothing uploads until [`Engine::start`].
    pub fn new(config: Config, runtime: Handle) -> Result<Engine> {
        validate_config(&config)?;
        // Before the store: a bad setting (extra roots) must be refused with no side effect.
        let http_config = HttpConfig::from_config(&config);
        let http = build_client(&http_config)?;
        let oss = OssClient::new(http.clone(), http_config);
        let (store, recovered) = match &config.database_path {
            Some(path) => Store::open_or_recover(path)?,
            None => (Store::open_in_memory()?, None),
        };
        if let Some(p) = &recovered {
            tracing::warn!(
                "checkpoint database was unreadable; moved aside to {}",
                p.display()
            );
        }
        let vod_endpoint = config
            .vod_endpoint
            .clone()
            .unwrap_or_else(|| default_vod_endpoint(&config.region));
        let vod = VodClient::new(http, validate_endpoint(&vod_endpoint, config.allow_http)?);

        let mut files = Vec::new();
        for row in store.list_files()? {
            files.push(Entry::restored(row));
        }
        // Files interrupted mid-upload by a kill come back ready: their checkpoints are kept.
        for e in &mut files {
            if matches!(
                e.info.status,
                FileStatus::Uploading | FileStatus::Waiting | FileStatus::Paused
            ) {
                e.info.status = FileStatus::Ready;
                e.info.waiting = None;
                store.set_status(&e.info.id, FileStatus::Ready, e.info.last_error.as_ref())?;
            }
        }
        let listener: Arc<RwLock<Option<Arc<dyn EventListener>>>> = Arc::new(RwLock::new(None));
        let inner = Arc::new(Inner {
            retry: RetryPolicy::from_config(&config),
            runtime: runtime.clone(),
            store,
            oss,
            vod,
            state: Mutex::new(State {
                status: EngineStatus::Idle,
                files,
                network: NetworkState::UNKNOWN,
                policy: config.network_policy,
                sts: None,
                sts_generation: 0,
                sts_dead: None,
                region: config.region.clone(),
                all_done_pending: false,
                next_generation: 1,
            }),
            events: EventSink::start(listener.clone()),
            listener,
            provider: RwLock::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
            credentials_changed: watch::channel(0).0,
            wake: Arc::new(Notify::new()),
            cellular_used: AtomicU64::new(0),
            on_cellular: AtomicBool::new(false),
            shutdown: CancellationToken::new(),
            recovered,
            config,
        });
        // The scheduler holds only a weak reference, so dropping every Engine handle shuts it
        // down.
        let weak = Arc::downgrade(&inner);
        let shutdown = inner.shutdown.clone();
        let wake = Arc::clone(&inner.wake);
        runtime.spawn(async move {
            loop {
                let notified = wake.notified();
                let Some(inner) = weak.upgrade() else { return };
                inner.schedule();
                drop(inner);
                tokio::select! {
                    _ = notified => {}
                    _ = shutdown.cancelled() => return,
                }
            }
        });
        Ok(Engine { inner })
    }

    /// The path an unreadable checkpoint database was moved to when this engine opened, if it
    /// had to start afresh.
    pub fn recovered_database(&self) -> Option<PathBuf> {
        self.inner.recovered.clone()
    }

    /// Sets (or removes) the event listener.
    pub fn set_listener(&self, listener: Option<Arc<dyn EventListener>>) {
        *write(&self.inner.listener) = listener;
    }

    /// Sets (or removes) the credential provider, used before pausing on an expiry.
    pub fn set_credential_provider(&self, provider: Option<Arc<dyn CredentialProvider>>) {
        *write(&self.inner.provider) = provider;
        self.inner.bump_credentials();
    }

    /// Mode 2: the STS token with which the engine calls CreateUploadVideo /
    /// RefreshUploadVideo / CreateUploadImage itself (also the key for own-bucket targets).
    pub fn set_sts_token(
        &self,
        access_key_id: String,
        access_key_secret: String,
        security_token: Option<String>,
        expiration: Option<SystemTime>,
    ) -> Result<()> {
        let creds = sts_credentials(access_key_id, access_key_secret, security_token, expiration)?;
        {
            let mut st = self.inner.lock();
            st.sts = Some(creds);
            st.sts_generation += 1;
        }
        self.inner.bump_credentials();
        Ok(())
    }

    /// After `token_expired` in mode 2: a new STS token. Files waiting for credentials continue
    /// their multipart uploads where they stopped.
    pub fn resume_with_token(
        &self,
        access_key_id: String,
        access_key_secret: String,
        security_token: Option<String>,
        expiration: Option<SystemTime>,
    ) -> Result<()> {
        self.set_sts_token(access_key_id, access_key_secret, security_token, expiration)
    }

    /// After `token_expired` in mode 1: a new UploadAuth (from RefreshUploadVideo on the app's
    /// server). It applies to the file(s) whose credentials expired, which continue the same
    /// multipart upload.
    pub fn resume_with_auth(&self, upload_auth: &str) -> Result<()> {
        let auth = UploadAuth::decode(upload_auth, SystemTime::now())?;
        {
            let mut st = self.inner.lock();
            let expired: Vec<usize> = (0..st.files.len())
                .filter(|&i| st.files[i].auth_expired && st.files[i].auth.is_some())
                .collect();
            // Without a flagged file, the app renews ahead of time: the uploading files take it.
            let targets = if expired.is_empty() {
                (0..st.files.len())
                    .filter(|&i| st.files[i].run.is_some() && st.files[i].auth.is_some())
                    .collect()
            } else {
                expired
            };
            if targets.is_empty() {
                return Err(Error::InvalidArgument(
                    "no file is waiting for new credentials: give a file its first UploadAuth with \
                     set_upload_auth_and_address"
                        .into(),
                ));
            }
            if let Some(region) = &auth.region {
                st.region = region.clone();
            }
            for i in targets {
                let e = &mut st.files[i];
                if let Some(fa) = &mut e.auth {
                    fa.auth = auth.clone();
                    fa.obtained_at = SystemTime::now();
                    fa.sts_generation = None;
                }
                e.auth_expired = false;
            }
        }
        self.inner.bump_credentials();
        Ok(())
    }

    /// Mode 1: the UploadAuth and UploadAddress for a file (the answer to its `started`
    /// event, or given ahead of time). `video_id` is the VOD video they belong to.
    pub fn set_upload_auth_and_address(
        &self,
        file: &str,
        upload_auth: &str,
        upload_address: &str,
        video_id: Option<String>,
    ) -> Result<()> {
        let auth = UploadAuth::decode(upload_auth, SystemTime::now())?;
        let address = UploadAddress::decode(upload_address)?;
        validate_endpoint(&address.endpoint, self.inner.config.allow_http)?;
        {
            let mut st = self.inner.lock();
            if let Some(region) = &auth.region {
                st.region = region.clone();
            }
            let e = st.entry_mut(file)?;
            if let Some(v) = &video_id {
                e.info.video_id = Some(v.clone());
            }
            e.info.endpoint = Some(address.endpoint.clone());
            e.info.bucket = Some(address.bucket.clone());
            e.info.object = Some(address.file_name.clone());
            e.auth = Some(FileAuth {
                auth,
                address,
                video_id: video_id.or_else(|| e.info.video_id.clone()),
                image_url: None,
                sts_generation: None,
                obtained_at: SystemTime::now(),
            });
            e.auth_expired = false;
        }
        self.inner.bump_credentials();
        Ok(())
    }

    /// Adds a file to the end of the queue and returns its stable id. The file must exist;
    /// if the engine is running, it starts when its turn comes.
    pub fn add_file(
        &self,
        path: PathBuf,
        target: UploadTarget,
        vod_info: VodInfo,
    ) -> Result<FileId> {
        let meta = std::fs::metadata(&path).map_err(|source| Error::File {
            path: path.clone(),
            source,
        })?;
        if !meta.is_file() {
            return Err(Error::InvalidArgument(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        if let UploadTarget::Object {
            endpoint,
            bucket,
            object,
        } = &target
        {
            validate_endpoint(endpoint, self.inner.config.allow_http)?;
            if bucket.is_empty() || object.is_empty() || object.starts_with('/') {
                return Err(Error::InvalidArgument(
                    "an own-bucket target needs a bucket and an object key that does not start with '/'".into(),
                ));
            }
        }
        if let Some(p) = vod_info.priority
            && !(1..=10).contains(&p)
        {
            return Err(Error::InvalidArgument(format!(
                "priority must be 1..=10, got {p}"
            )));
        }
        let row = self.inner.store.insert_file(&NewFile {
            id: uuid::Uuid::new_v4().to_string(),
            path,
            target,
            vod_info,
            bytes_total: meta.len(),
            added_at: SystemTime::now(),
        })?;
        let id = row.id.clone();
        {
            let mut st = self.inner.lock();
            st.files.push(Entry::restored(row));
            if st.status == EngineStatus::Running {
                st.all_done_pending = true;
            }
        }
        self.inner.wake.notify_one();
        Ok(id)
    }

    /// Removes a file from the queue, cancelling its upload (and aborting its multipart
    /// upload on the server) if it was uploading.
    pub fn delete_file(&self, id: &str) -> Result<()> {
        let abort = {
            let mut st = self.inner.lock();
            let idx = st.index_of(id)?;
            let sts = st.sts.clone();
            let mut e = st.files.remove(idx);
            e.stop_run();
            e.abort_info(&self.inner.store, sts)
        };
        self.inner.store.delete_file(id)?;
        self.inner.abort_in_background(abort);
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Skips a file: it stays listed as canceled. Its multipart upload is aborted on the
    /// server unless `keep_upload`, in which case `resume_file` continues where it stopped.
    pub fn cancel_file(&self, id: &str, keep_upload: bool) -> Result<()> {
        let abort = {
            let mut st = self.inner.lock();
            let sts = st.sts.clone();
            let e = st.entry_mut(id)?;
            if e.info.status == FileStatus::Succeeded {
                return Err(Error::InvalidArgument(format!(
                    "file {id} already succeeded"
                )));
            }
            e.stop_run();
            e.info.status = FileStatus::Canceled;
            e.info.waiting = None;
            let abort = if keep_upload {
                None
            } else {
                e.abort_info(&self.inner.store, sts)
            };
            self.inner
                .store
                .set_status(id, FileStatus::Canceled, e.info.last_error.as_ref())?;
            abort
        };
        if abort.is_some() {
            self.inner.store.delete_session(id)?;
            let mut st = self.inner.lock();
            if let Ok(e) = st.entry_mut(id) {
                e.info.bytes_uploaded = 0;
                e.reported = 0;
            }
        }
        self.inner.abort_in_background(abort);
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Queues a canceled or failed file again (the native SDK's `resumeFile`).
    pub fn resume_file(&self, id: &str) -> Result<()> {
        {
            let mut st = self.inner.lock();
            let running = st.status == EngineStatus::Running;
            let e = st.entry_mut(id)?;
            if !matches!(e.info.status, FileStatus::Canceled | FileStatus::Failed) {
                return Err(Error::InvalidArgument(format!(
                    "file {id} is {:?}; only canceled or failed files can be resumed",
                    e.info.status
                )));
            }
            e.info.status = FileStatus::Ready;
            e.info.last_error = None;
            e.started = false;
            self.inner.store.set_status(id, FileStatus::Ready, None)?;
            if running {
                st.all_done_pending = true;
            }
        }
        self.inner.wake.notify_one();
        Ok(())
    }

    /// The queue, in order.
    pub fn list_files(&self) -> Vec<FileInfo> {
        self.inner
            .lock()
            .files
            .iter()
            .map(|e| e.info.clone())
            .collect()
    }

    /// One file.
    pub fn file(&self, id: &str) -> Option<FileInfo> {
        self.inner
            .lock()
            .files
            .iter()
            .find(|e| e.info.id == id)
            .map(|e| e.info.clone())
    }

    /// The id of the file at `index` in the queue (for the native SDK's index-based calls).
    pub fn file_id_at(&self, index: usize) -> Option<FileId> {
        self.inner
            .lock()
            .files
            .get(index)
            .map(|e| e.info.id.clone())
    }

    /// Empties the queue, cancelling every upload and aborting unfinished multipart uploads.
    pub fn clear_files(&self) -> Result<()> {
        let aborts: Vec<_> = {
            let mut st = self.inner.lock();
            let sts = st.sts.clone();
            st.files
                .drain(..)
                .map(|mut e| {
                    e.stop_run();
                    e.abort_info(&self.inner.store, sts.clone())
                })
                .collect()
        };
        self.inner.store.clear_files()?;
        for a in aborts {
            self.inner.abort_in_background(a);
        }
        Ok(())
    }

    /// Starts (or continues after `stop`) uploading the queue.
    pub fn start(&self) -> Result<()> {
        {
            let mut st = self.inner.lock();
            if st.status == EngineStatus::Paused {
                return Err(Error::InvalidArgument(
                    "the engine is paused: call resume()".into(),
                ));
            }
            st.status = EngineStatus::Running;
            st.all_done_pending = true;
        }
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Stops uploading: in-flight requests are cancelled, checkpoints kept; `start` continues.
    pub fn stop(&self) -> Result<()> {
        let mut st = self.inner.lock();
        st.status = EngineStatus::Stopped;
        st.all_done_pending = false;
        self.inner
            .interrupt_active(&mut st, FileStatus::Ready, None)
    }

    /// Pauses every upload at once (no more bytes are sent); `resume` continues from the
    /// checkpoints.
    pub fn pause(&self) -> Result<()> {
        let mut st = self.inner.lock();
        if st.status != EngineStatus::Running {
            return Err(Error::InvalidArgument(format!(
                "cannot pause: the engine is {:?}",
                st.status
            )));
        }
        st.status = EngineStatus::Paused;
        self.inner
            .interrupt_active(&mut st, FileStatus::Paused, Some(WaitingReason::Paused))
    }

    /// Continues after `pause`.
    pub fn resume(&self) -> Result<()> {
        {
            let mut st = self.inner.lock();
            if st.status != EngineStatus::Paused {
                return Err(Error::InvalidArgument(format!(
                    "cannot resume: the engine is {:?}",
                    st.status
                )));
            }
            st.status = EngineStatus::Running;
            st.all_done_pending = true;
            for i in 0..st.files.len() {
                let e = &mut st.files[i];
                if e.info.status == FileStatus::Paused {
                    e.info.status = FileStatus::Ready;
                    e.info.waiting = None;
                    self.inner.store.set_status(
                        &e.info.id,
                        FileStatus::Ready,
                        e.info.last_error.as_ref(),
                    )?;
                }
            }
        }
        self.inner.wake.notify_one();
        Ok(())
    }

    pub fn status(&self) -> EngineStatus {
        self.inner.lock().status
    }

    /// The app reports the current network. When the policy forbids it, every in-flight
    /// request is cancelled at once and files wait; when it allows it again, they continue by
    /// themselves. Never counted as a failure or a retry.
    pub fn set_network_state(&self, state: NetworkState) {
        self.inner
            .on_cellular
            .store(network::is_cellular(&state), Ordering::Relaxed);
        self.inner.lock().network = state;
        self.inner.enforce_network();
    }

    /// Changes the network policy (takes effect at once, also for running uploads). Setting a
    /// `CellularBudget` starts a new budget.
    pub fn set_network_policy(&self, policy: NetworkPolicy) {
        self.inner.cellular_used.store(0, Ordering::Relaxed);
        self.inner.lock().policy = policy;
        self.inner.enforce_network();
    }

    /// Cancels every in-flight request (checkpoints are kept) and stops the engine's tasks.
    /// Idempotent; the engine is unusable afterwards.
    pub fn shutdown(&self) {
        let mut st = self.inner.lock();
        for e in &mut st.files {
            e.stop_run();
        }
        st.status = EngineStatus::Stopped;
        drop(st);
        self.inner.shutdown.cancel();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        for e in &mut st.files {
            e.stop_run();
        }
    }
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a panic elsewhere; the state itself is still consistent enough
        // to keep serving (every mutation is a few field writes).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn bump_credentials(&self) {
        self.credentials_changed.send_modify(|g| *g += 1);
    }

    /// Starts workers for runnable files; fires `AllDone` when the queue has drained.
    fn schedule(self: &Arc<Self>) {
        let mut st = self.lock();
        if st.status != EngineStatus::Running || self.shutdown.is_cancelled() {
            return;
        }
        let allowed = network::allows(
            &st.network,
            &st.policy,
            self.cellular_used.load(Ordering::Relaxed),
        );
        let mut active = st.files.iter().filter(|e| e.run.is_some()).count();
        let max = self.config.max_parallel_files as usize;
        let mut to_start = Vec::new();
        let mut waiting_network = false;
        for i in 0..st.files.len() {
            let e = &mut st.files[i];
            if e.run.is_some() || !e.is_runnable() {
                continue;
            }
            if active >= max {
                break;
            }
            active += 1;
            if !allowed {
                // Show why the next files in line do not start ("waiting for Wi-Fi").
                waiting_network = true;
                if e.info.waiting != Some(WaitingReason::Network) {
                    e.info.status = FileStatus::Waiting;
                    e.info.waiting = Some(WaitingReason::Network);
                    self.events.send(Event::Waiting {
                        file: e.info.clone(),
                        reason: WaitingReason::Network,
                    });
                }
                continue;
            }
            to_start.push(i);
        }
        for i in to_start {
            let generation = st.next_generation;
            st.next_generation += 1;
            let cancel = self.shutdown.child_token();
            let e = &mut st.files[i];
            let fresh = !e.started;
            e.started = true;
            e.run = Some(Run {
                generation,
                cancel: cancel.clone(),
            });
            e.info.status = FileStatus::Uploading;
            e.info.waiting = None;
            let id = e.info.id.clone();
            if let Err(err) =
                self.store
                    .set_status(&id, FileStatus::Uploading, e.info.last_error.as_ref())
            {
                tracing::warn!("cannot persist status: {err}");
            }
            if fresh {
                self.events.send(Event::Started {
                    file: e.info.clone(),
                });
            }
            let inner = Arc::clone(self);
            self.runtime.spawn(async move {
                tokio::select! {
                    // A stopped run must not be polled once more (it could start a request).
                    biased;
                    _ = cancel.cancelled() => {}
                    _ = worker::run(&inner, &id, generation) => {}
                }
                inner.wake.notify_one();
            });
        }
        let busy = st.files.iter().any(|e| e.run.is_some() || e.is_runnable());
        if !busy && !waiting_network && st.all_done_pending {
            st.all_done_pending = false;
            self.events.send(Event::AllDone);
        }
    }

    /// Cancels the runs of the files that are uploading or waiting and gives them `status`
    /// (persisted), announcing `waiting` when there is one. Checkpoints are kept.
    fn interrupt_active(
        &self,
        st: &mut State,
        status: FileStatus,
        waiting: Option<WaitingReason>,
    ) -> Result<()> {
        let active = |e: &Entry| {
            e.run.is_some() || matches!(e.info.status, FileStatus::Waiting | FileStatus::Uploading)
        };
        for e in st.files.iter_mut().filter(|e| active(e)) {
            e.stop_run();
            e.info.status = status;
            e.info.waiting = waiting.clone();
            self.store
                .set_status(&e.info.id, status, e.info.last_error.as_ref())?;
            if let Some(reason) = &waiting {
                self.events.send(Event::Waiting {
                    file: e.info.clone(),
                    reason: reason.clone(),
                });
            }
        }
        Ok(())
    }

    /// Cancels in-flight work if the network policy forbids the current network, or restarts
    /// waiting work if it allows it.
    pub(crate) fn enforce_network(&self) {
        let mut st = self.lock();
        let allowed = network::allows(
            &st.network,
            &st.policy,
            self.cellular_used.load(Ordering::Relaxed),
        );
        if !allowed {
            for i in 0..st.files.len() {
                let e = &mut st.files[i];
                if e.run.is_some() {
                    e.stop_run();
                    e.info.status = FileStatus::Waiting;
                    e.info.waiting = Some(WaitingReason::Network);
                    self.events.send(Event::Waiting {
                        file: e.info.clone(),
                        reason: WaitingReason::Network,
                    });
                }
            }
        }
        drop(st);
        self.wake.notify_one();
    }

    /// Records bytes handed to the network, for the cellular budget.
    pub(crate) fn count_network_bytes(&self, n: u64) {
        if self.on_cellular.load(Ordering::Relaxed) {
            let before = self.cellular_used.fetch_add(n, Ordering::Relaxed);
            let policy = self.lock().policy;
            if let NetworkPolicy::CellularBudget { bytes } = policy
                && before < bytes
                && before + n >= bytes
            {
                self.enforce_network();
            }
        }
    }

    /// Aborts a multipart upload on the server, best effort, without blocking the caller.
    fn abort_in_background(self: &Arc<Self>, abort: Option<worker::AbortInfo>) {
        if let Some(a) = abort {
            let inner = Arc::clone(self);
            self.runtime
                .spawn(async move { worker::abort_upload(&inner, a).await });
        }
    }
}

impl State {
    pub(crate) fn index_of(&self, id: &str) -> Result<usize> {
        self.files
            .iter()
            .position(|e| e.info.id == id)
            .ok_or_else(|| Error::InvalidArgument(format!("no file with id {id} in the queue")))
    }

    pub(crate) fn entry_mut(&mut self, id: &str) -> Result<&mut Entry> {
        let i = self.index_of(id)?;
        Ok(&mut self.files[i])
    }

    /// The entry of a worker's file, if that worker's run is still the current one.
    pub(crate) fn current(&mut self, id: &str, generation: u64) -> Option<&mut Entry> {
        self.files
            .iter_mut()
            .find(|e| e.info.id == id && e.run.as_ref().is_some_and(|r| r.generation == generation))
    }
}

impl Entry {
    fn restored(row: FileRow) -> Entry {
        let info = FileInfo {
            id: row.id,
            path: row.path,
            target: row.target,
            vod_info: row.vod_info,
            status: row.status,
            waiting: None,
            bytes_uploaded: row.bytes_done.min(row.bytes_total),
            bytes_total: row.bytes_total,
            endpoint: row.endpoint,
            bucket: row.bucket,
            object: row.object,
            video_id: row.video_id,
            image_url: row.image_url,
            last_error: row.last_error,
            crc64: row.crc64,
            added_at: row.added_at,
        };
        Entry {
            reported: info.bytes_uploaded,
            info,
            run: None,
            auth: None,
            auth_expired: false,
            in_retry: false,
            started: false,
        }
    }

    /// Ready, or interrupted by the network policy or the queue limit.
    fn is_runnable(&self) -> bool {
        match self.info.status {
            FileStatus::Ready => true,
            FileStatus::Waiting => {
                matches!(
                    self.info.waiting,
                    Some(WaitingReason::Network) | Some(WaitingReason::Queue) | None
                )
            }
            _ => false,
        }
    }

    fn stop_run(&mut self) {
        if let Some(run) = self.run.take() {
            run.cancel.cancel();
        }
    }

    fn abort_info(&self, store: &Store, sts: Option<Credentials>) -> Option<worker::AbortInfo> {
        let session = store.get_session(&self.info.id).ok().flatten();
        worker::AbortInfo::new(self, session, sts)
    }
}

fn validate_config(c: &Config) -> Result<()> {
    let bad = |m: String| Err(Error::InvalidArgument(m));
    if c.part_size < limits::MIN_PART_SIZE || c.part_size > limits::MAX_PART_SIZE {
        return bad(format!(
            "part_size must be between {} and {} bytes, got {}",
            limits::MIN_PART_SIZE,
            limits::MAX_PART_SIZE,
            c.part_size
        ));
    }
    if c.parallel_parts == 0 || c.parallel_parts > 32 {
        return bad(format!(
            "parallel_parts must be 1..=32, got {}",
            c.parallel_parts
        ));
    }
    if c.max_parallel_files == 0 || c.max_parallel_files > 8 {
        return bad(format!(
            "max_parallel_files must be 1..=8, got {}",
            c.max_parallel_files
        ));
    }
    if c.retry_base_interval.is_zero() || c.retry_max_interval < c.retry_base_interval {
        return bad("retry_base_interval must be > 0 and <= retry_max_interval".into());
    }
    for (name, d) in [
        ("connect_timeout", c.connect_timeout),
        ("request_timeout", c.request_timeout),
        ("stall_timeout", c.stall_timeout),
    ] {
        if d.is_zero() {
            return bad(format!("{name} must be > 0"));
        }
    }
    if c.region.trim().is_empty() {
        return bad("region must not be empty".into());
    }
    if c.put_object_threshold > limits::MAX_PART_SIZE {
        return bad("put_object_threshold must be at most 5 GiB".into());
    }
    if c.progress_interval.is_zero() {
        return bad("progress_interval must be > 0".into());
    }
    if let Some(e) = &c.vod_endpoint {
        validate_endpoint(e, c.allow_http)?;
    }
    Ok(())
}

pub(crate) fn sts_credentials(
    access_key_id: String,
    access_key_secret: String,
    security_token: Option<String>,
    expiration: Option<SystemTime>,
) -> Result<Credentials> {
    if access_key_id.trim().is_empty() || access_key_secret.is_empty() {
        return Err(Error::InvalidArgument(
            "access key id and secret must not be empty".into(),
        ));
    }
    Ok(Credentials {
        access_key_id,
        access_key_secret: Secret::new(access_key_secret),
        security_token: security_token.filter(|t| !t.is_empty()).map(Secret::new),
        expires_at: expiration,
    })
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

impl FileInfo {
    pub(crate) fn error_from(e: &Error) -> FileError {
        FileError {
            code: e.code(),
            message: e.to_string(),
            request_id: e.request_id().map(str::to_owned),
        }
    }
}
