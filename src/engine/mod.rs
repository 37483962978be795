//! The upload engine: a persistent file queue with start/stop/pause/resume, events, retries,
//! credential renewal and a network policy.
//!
//! Structure:
//! * [`state`] owns every state: the queue's and each file's, changed only by its pure
//!   transition functions. This module carries out their effects ([`Inner::apply`]).
//! * [`Engine`] is a cheap handle; every method is non-blocking on network I/O (they touch
//!   in-memory state and, briefly, SQLite). A call that does not apply in the current state is
//!   ignored, as the native SDK does.
//! * One scheduler task starts a worker task per file (at most `max_parallel_files`).
//! * Each worker ([`worker`]) runs one file: credentials, multipart session, parts in parallel,
//!   complete. It is cancelled by its run's token (pause, stop, network policy, cancel,
//!   delete, shutdown), which closes its connections at once; checkpoints are already on disk.
//!   It reports what it sees as inputs tagged with its run id, so a report from a run that was
//!   stopped changes nothing.
//! * Events go through [`events::EventSink`] to one dispatcher thread and every subscriber.

mod cleanup;
mod credentials;
mod decide;
mod events;
pub mod network;
pub mod retry;
mod state;
mod worker;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::SystemTime;

use tokio::runtime::Handle;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

pub use credentials::{
    CredentialProvider, CredentialReason, CredentialRequest, ProvidedCredentials,
};
pub use events::{Event, EventListener, Subscription};

pub use state::EngineStatus;

use crate::error::{Error, Result};
use crate::model::{
    Checkpoint, Config, FileError, FileId, FileInfo, NetworkPolicy, NetworkState, UploadTarget,
    VodInfo, limits,
};
use crate::protocol::credentials::{Credentials, Secret, UploadAddress, UploadAuth};
use crate::source::{FileSource, SourceOpener};
use crate::store::{FileRow, NewFile, Store};
use crate::transport::http::{HttpConfig, build_client, validate_endpoint};
use crate::transport::oss::OssClient;
use crate::transport::vod::{VodClient, default_vod_endpoint};
use events::EventSink;
use retry::RetryPolicy;
use state::{Effect, FileState, Input, Notice, QueueInput, QueueState, RunId};

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
    pub(crate) provider: RwLock<Option<Arc<dyn CredentialProvider>>>,
    /// Opens files added by URI.
    pub(crate) opener: RwLock<Option<Arc<dyn SourceOpener>>>,
    /// Files whose checkpointed parts were checked against the file in this process (or whose
    /// upload began in it): a checkpoint from an earlier process is re-read once before it is
    /// trusted.
    pub(crate) verified: Mutex<std::collections::HashSet<FileId>>,
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
    /// Parts in flight the last finished part called for (`part_lanes`), 0 before the first:
    /// the next file of the queue starts with it rather than finding the link's round trip
    /// out again. Forgotten when the network type changes.
    pub(crate) lanes_hint: AtomicUsize,
    shutdown: CancellationToken,
    recovered: Option<PathBuf>,
    /// Aborts owed to the server (persisted in the store's `cleanups`).
    pub(crate) outbox: cleanup::Outbox,
}

pub(crate) struct State {
    pub(crate) queue: QueueState,
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
    next_run: RunId,
}

/// A file in the queue: its state (owned by [`state`]) and its data.
pub(crate) struct Entry {
    /// The file's data. Its `status` and `waiting` are not kept here: [`Entry::view`] derives
    /// them from `state`.
    pub(crate) info: FileInfo,
    pub(crate) state: FileState,
    /// Cancels the current run's requests.
    cancel: Option<CancellationToken>,
    /// Credentials and address for this file's OSS upload (memory only: secrets).
    pub(crate) auth: Option<FileAuth>,
    /// Set when the service rejected `auth` as expired: the next `resume_with_auth` is for this
    /// file.
    pub(crate) auth_expired: bool,
    /// The UploadAddress of an upload begun before a restart (persisted in `files`), so a
    /// mode-1 app can continue it with `resume_with_auth` alone.
    pub(crate) known_address: Option<UploadAddress>,
    /// Highest progress value reported (progress never goes back).
    pub(crate) reported: u64,
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
        let vod_endpoint = config.vod_endpoint.as_ref().map_or_else(
            || default_vod_endpoint(&config.region),
            |e| e.replace("{region}", &config.region),
        );
        let vod = VodClient::new(http, validate_endpoint(&vod_endpoint, config.allow_http)?);

        // Succeeded files past their retention go first, so the database stays small.
        if let Some(keep) = config.keep_succeeded
            && let Some(before) = SystemTime::now().checked_sub(keep)
        {
            match store.prune_succeeded(before) {
                Ok(0) => {}
                Ok(n) => tracing::info!("removed {n} file(s) that succeeded over {keep:?} ago"),
                Err(e) => tracing::warn!("cannot remove old succeeded files: {e}"),
            }
        }
        // Files interrupted mid-upload by a kill come back ready, with their checkpoints.
        let files = store
            .list_files()?
            .into_iter()
            .map(Entry::restored)
            .collect();
        let inner = Arc::new(Inner {
            retry: RetryPolicy::from_config(&config),
            runtime: runtime.clone(),
            store,
            oss,
            vod,
            state: Mutex::new(State {
                queue: QueueState {
                    status: EngineStatus::Idle,
                    all_done_pending: false,
                },
                files,
                network: NetworkState::UNKNOWN,
                policy: config.network_policy,
                sts: None,
                sts_generation: 0,
                sts_dead: None,
                region: config.region.clone(),
                next_run: 1,
            }),
            events: EventSink::start(),
            provider: RwLock::new(None),
            opener: RwLock::new(None),
            verified: Mutex::new(Default::default()),
            refresh_lock: tokio::sync::Mutex::new(()),
            credentials_changed: watch::channel(0).0,
            wake: Arc::new(Notify::new()),
            cellular_used: AtomicU64::new(0),
            on_cellular: AtomicBool::new(false),
            lanes_hint: AtomicUsize::new(0),
            shutdown: CancellationToken::new(),
            recovered,
            outbox: cleanup::Outbox::new(),
            config,
        });
        cleanup::start(&inner);
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

    /// Subscribes `listener` to every event from now on, in order, on the engine's event
    /// thread. Any number may subscribe; dropping the returned handle unsubscribes.
    pub fn subscribe(&self, listener: Arc<dyn EventListener>) -> Subscription {
        self.inner.events.subscribe(listener)
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
            // The files whose credentials expired, and those that wait for their first ones
            // but know their address from before a restart.
            let waiting: Vec<usize> = (0..st.files.len())
                .filter(|&i| {
                    let e = &st.files[i];
                    (e.auth_expired && e.auth.is_some())
                        || (e.auth.is_none()
                            && e.known_address.is_some()
                            && e.state.run().is_some())
                })
                .collect();
            // Without one, the app renews ahead of time: the uploading files take it.
            let targets = if waiting.is_empty() {
                (0..st.files.len())
                    .filter(|&i| st.files[i].state.run().is_some() && st.files[i].auth.is_some())
                    .collect()
            } else {
                waiting
            };
            if targets.is_empty() {
                tracing::debug!(
                    "resume_with_auth: no file waits for credentials or uploads; ignored"
                );
                return Ok(());
            }
            if let Some(region) = &auth.region {
                st.region = region.clone();
            }
            for i in targets {
                let e = &mut st.files[i];
                match (&mut e.auth, &e.known_address) {
                    (Some(fa), _) => {
                        fa.auth = auth.clone();
                        fa.obtained_at = SystemTime::now();
                        fa.sts_generation = None;
                    }
                    (None, Some(address)) => {
                        e.auth = Some(FileAuth {
                            auth: auth.clone(),
                            address: address.clone(),
                            video_id: e.info.video_id.clone(),
                            image_url: None,
                            sts_generation: None,
                            obtained_at: SystemTime::now(),
                        });
                    }
                    (None, None) => {}
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
            let Some(e) = st.entry_mut(file) else {
                tracing::debug!(
                    "set_upload_auth_and_address: no file {file} in the queue; ignored"
                );
                return Ok(());
            };
            if e.state.is_finished() {
                tracing::debug!("set_upload_auth_and_address: file {file} is finished; ignored");
                return Ok(());
            }
            if video_id.is_some() {
                e.info.video_id = video_id;
            }
            e.info.endpoint = Some(address.endpoint.clone());
            e.info.bucket = Some(address.bucket.clone());
            e.info.object = Some(address.file_name.clone());
            // Persisted (no secret in it) so that after a restart `started` carries the video
            // id and the same multipart upload continues.
            self.inner.store.update_target_info(
                file,
                &address.endpoint,
                &address.bucket,
                &address.file_name,
                e.info.video_id.as_deref(),
                None,
            )?;
            e.known_address = Some(address.clone());
            e.auth = Some(FileAuth {
                auth,
                address,
                video_id: e.info.video_id.clone(),
                image_url: None,
                sts_generation: None,
                obtained_at: SystemTime::now(),
            });
            e.auth_expired = false;
        }
        self.inner.bump_credentials();
        Ok(())
    }

    /// Sets (or removes) the opener of files added by URI ([`FileSource::Uri`]). Set it before
    /// adding such files, and after a restart before `start`, so restored ones can be read.
    pub fn set_source_opener(&self, opener: Option<Arc<dyn SourceOpener>>) {
        *write(&self.inner.opener) = opener;
    }

    /// Adds a file (a path, or a URI read through the [`SourceOpener`]) to the end of the
    /// queue and returns its stable id. The file must exist and be readable now; if the engine
    /// is running, it starts when its turn comes. Without a `target`, images go to
    /// CreateUploadImage and everything else to CreateUploadVideo, by the file's name (a
    /// source's display name for a URI).
    pub fn add_file(
        &self,
        source: impl Into<FileSource>,
        target: impl Into<Option<UploadTarget>>,
        vod_info: VodInfo,
    ) -> Result<FileId> {
        let source = source.into();
        let mut name = None;
        let size = match &source {
            FileSource::Path(path) => {
                let meta = std::fs::metadata(path).map_err(|e| Error::File {
                    path: path.clone(),
                    source: e,
                })?;
                if !meta.is_file() {
                    return Err(Error::InvalidArgument(format!(
                        "{} is not a regular file",
                        path.display()
                    )));
                }
                meta.len()
            }
            FileSource::Uri(_) => {
                let opened = source.open(read(&self.inner.opener).as_ref())?;
                name = Some(opened.file_name());
                opened.reader()?.size().map_err(|e| opened.error(e))?
            }
        };
        let target = target.into().unwrap_or_else(|| match &name {
            Some(name) => UploadTarget::for_path(std::path::Path::new(name)),
            None => UploadTarget::for_source(&source),
        });
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
        let file_name = name
            .clone()
            .or_else(|| source.file_name())
            .unwrap_or_default();
        crate::protocol::vod::check_extension(&target, &file_name, &vod_info)?;
        if let Some(p) = vod_info.priority
            && !(1..=10).contains(&p)
        {
            return Err(Error::InvalidArgument(format!(
                "priority must be 1..=10, got {p}"
            )));
        }
        let row = self.inner.store.insert_file(&NewFile {
            id: uuid::Uuid::new_v4().to_string(),
            source,
            target,
            vod_info,
            bytes_total: size,
            added_at: SystemTime::now(),
        })?;
        let id = row.id.clone();
        {
            let mut st = self.inner.lock();
            st.files.push(Entry::restored(row));
            state::queue_work_added(&mut st.queue);
        }
        self.inner.wake.notify_one();
        Ok(id)
    }

    /// Removes a file from the queue, cancelling its upload and aborting its multipart upload
    /// on the server. An unfinished file gets a `Canceled { deleted: true }` event. Ignored
    /// for an id that is not in the queue.
    pub fn delete_file(&self, id: &str) -> Result<()> {
        self.file_call(id, Input::Delete, "delete_file")
    }

    /// Skips a file: it stays listed as canceled (event `Canceled`). Its multipart upload is
    /// aborted on the server unless `keep_upload`, in which case `resume_file` continues where
    /// it stopped. Ignored for a finished file.
    pub fn cancel_file(&self, id: &str, keep_upload: bool) -> Result<()> {
        self.file_call(id, Input::Cancel { keep_upload }, "cancel_file")
    }

    /// Queues a canceled or failed file again (the native SDK's `resumeFile`). Ignored for
    /// any other file.
    pub fn resume_file(&self, id: &str) -> Result<()> {
        self.file_call(id, Input::ResumeFile, "resume_file")
    }

    fn file_call(&self, id: &str, input: Input, call: &str) -> Result<()> {
        let outcome = {
            let mut st = self.inner.lock();
            match st.index_of(id) {
                Some(i) => {
                    let resumed = input == Input::ResumeFile;
                    let outcome = self.inner.apply(&mut st, i, input);
                    if resumed && outcome.as_ref().is_ok_and(|applied| *applied) {
                        state::queue_work_added(&mut st.queue);
                    }
                    outcome
                }
                None => Ok(false),
            }
        };
        if !matches!(outcome, Ok(true)) {
            tracing::debug!("{call}({id}) does not apply to the file now; ignored");
        }
        self.inner.wake.notify_one();
        outcome.map(drop)
    }

    /// The queue, in order.
    pub fn list_files(&self) -> Vec<FileInfo> {
        self.inner.lock().files.iter().map(Entry::view).collect()
    }

    /// One file.
    pub fn file(&self, id: &str) -> Option<FileInfo> {
        let st = self.inner.lock();
        st.index_of(id).map(|i| st.files[i].view())
    }

    /// What a resumed upload of the file would continue from (the JS SDK's
    /// `getCheckpoint`): its multipart upload and the parts the server confirmed. `None` for
    /// a file that is not in the queue or has no upload under way (not started, finished, or
    /// uploaded in one PutObject).
    pub fn checkpoint(&self, id: &str) -> Result<Option<Checkpoint>> {
        let Some(file) = self.file(id) else {
            return Ok(None);
        };
        let Some(session) = self.inner.store.get_session(id)? else {
            return Ok(None);
        };
        let parts = self.inner.store.parts(id)?;
        Ok(Some(Checkpoint {
            file_id: file.id,
            upload_id: session.upload_id,
            endpoint: session.endpoint,
            bucket: session.bucket,
            object: session.object,
            video_id: session.video_id.or(file.video_id),
            part_size: session.part_size,
            parts_done: parts.len() as u32,
            bytes_done: parts.iter().map(|p| p.size).sum(),
            file_size: session.fingerprint.size,
            created_at: session.created_at,
        }))
    }

    /// The id of the file at `index` in the queue (for the native SDK's index-based calls).
    pub fn file_id_at(&self, index: usize) -> Option<FileId> {
        self.inner
            .lock()
            .files
            .get(index)
            .map(|e| e.info.id.clone())
    }

    /// Empties the queue: every file is deleted as by [`Engine::delete_file`] (what runs stops,
    /// unfinished multipart uploads are aborted).
    pub fn clear_files(&self) -> Result<()> {
        let mut first_error = Ok(());
        {
            let mut st = self.inner.lock();
            for i in (0..st.files.len()).rev() {
                let r = self.inner.apply(&mut st, i, Input::Delete);
                if first_error.is_ok()
                    && let Err(e) = r
                {
                    first_error = Err(e);
                }
            }
        }
        self.inner.wake.notify_one();
        first_error
    }

    /// Starts uploading the queue: every unfinished file continues, paused and stopped ones
    /// included. Ignored while running.
    pub fn start(&self) {
        self.inner.control(QueueInput::Start);
    }

    /// Stops uploading: in-flight requests are cancelled, checkpoints kept, files go back to
    /// ready; `start` continues. Ignored unless running or paused.
    pub fn stop(&self) {
        self.inner.control(QueueInput::Stop);
    }

    /// Pauses every upload at once (no more bytes are sent); `resume` (or `start`) continues
    /// from the checkpoints. Ignored unless running.
    pub fn pause(&self) {
        self.inner.control(QueueInput::Pause);
    }

    /// Continues after `pause`. Ignored unless paused.
    pub fn resume(&self) {
        self.inner.control(QueueInput::Resume);
    }

    pub fn status(&self) -> EngineStatus {
        self.inner.lock().queue.status
    }

    /// The app reports the current network. When the policy forbids it, every in-flight
    /// request is cancelled at once and files wait; when it allows it again, they continue by
    /// themselves. Never counted as a failure or a retry.
    pub fn set_network_state(&self, state: NetworkState) {
        self.inner
            .on_cellular
            .store(network::is_cellular(&state), Ordering::Relaxed);
        {
            let mut st = self.inner.lock();
            if st.network.network_type != state.network_type {
                self.inner.lanes_hint.store(0, Ordering::Relaxed);
            }
            st.network = state;
        }
        self.inner.enforce_network();
    }

    /// Changes the network policy (takes effect at once, also for running uploads). Setting a
    /// `CellularBudget` starts a new budget.
    pub fn set_network_policy(&self, policy: NetworkPolicy) {
        self.inner.cellular_used.store(0, Ordering::Relaxed);
        self.inner.lock().policy = policy;
        self.inner.enforce_network();
    }

    /// Stops everything (as `stop`), ends the engine's tasks and, once the events already
    /// queued are delivered, its event thread, which then drops every subscriber. Checkpoints
    /// are kept. Idempotent; the engine is unusable afterwards.
    pub fn shutdown(&self) {
        self.inner.control(QueueInput::Stop);
        self.inner.shutdown.cancel();
        self.inner.events.close();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        for e in &mut st.files {
            if let Some(c) = e.cancel.take() {
                c.cancel();
            }
        }
    }
}

/// A region id as VOD names them (`cn-shanghai`, `ap-southeast-1`): it becomes part of a host
/// name, and UploadAuth (where one comes from) is outside input.
fn is_region_name(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 32
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a panic elsewhere; the state itself is still consistent enough
        // to keep serving (every mutation is a few field writes).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The VOD client for calls about something in `region` (a video's own, from its
    /// UploadAuth or endpoint), else the engine's current region. With no endpoint configured
    /// it is `vod.{region}.aliyuncs.com`; a configured one may hold `{region}`.
    pub(crate) fn vod_for(&self, region: Option<&str>) -> Result<VodClient> {
        let current;
        let region = match region.filter(|r| is_region_name(r)) {
            Some(r) => r,
            None => {
                current = self.lock().region.clone();
                current.as_str()
            }
        };
        let endpoint = match &self.config.vod_endpoint {
            None => default_vod_endpoint(region),
            Some(e) => e.replace("{region}", region),
        };
        Ok(self.vod.for_region(
            validate_endpoint(&endpoint, self.config.allow_http)?,
            region,
        ))
    }

    pub(crate) fn bump_credentials(&self) {
        self.credentials_changed.send_modify(|g| *g += 1);
        self.outbox.kick();
    }

    /// Applies a queue call to the queue and then to every file.
    fn control(self: &Arc<Self>, input: QueueInput) {
        if self.shutdown.is_cancelled() {
            tracing::debug!("{input:?} after shutdown; ignored");
            return;
        }
        {
            let mut st = self.lock();
            match state::queue_step(&mut st.queue, input) {
                None => tracing::debug!(
                    "{input:?} does not apply while the queue is {:?}; ignored",
                    st.queue.status
                ),
                Some(file_input) => {
                    for i in 0..st.files.len() {
                        if let Err(e) = self.apply(&mut st, i, file_input.clone()) {
                            tracing::error!("{input:?}: {e}");
                        }
                    }
                }
            }
        }
        self.wake.notify_one();
    }

    /// A worker's report about its run of file `id`.
    pub(crate) fn report(self: &Arc<Self>, id: &str, input: Input) {
        let mut st = self.lock();
        if let Some(i) = st.index_of(id)
            && let Err(e) = self.apply(&mut st, i, input)
        {
            tracing::error!(file = %id, "cannot record the file's new state: {e}");
        }
    }

    /// Runs file `i`'s transition for `input` and carries out its effects. Returns whether
    /// the input applied (changed the state or had an effect). Every effect in memory happens
    /// even when the database fails; the first database error is returned.
    fn apply(self: &Arc<Self>, st: &mut State, i: usize, input: Input) -> Result<bool> {
        let before = st.files[i].state.clone();
        let effects = state::step(&mut st.files[i].state, input);
        let applied = !effects.is_empty() || st.files[i].state != before;
        let mut result = Ok(());
        let mut keep = |r: Result<()>| {
            if result.is_ok() {
                result = r;
            }
        };
        let mut persisted = false;
        let mut remove = false;
        for effect in effects {
            match effect {
                Effect::StopRun(_) => {
                    if let Some(c) = st.files[i].cancel.take() {
                        c.cancel();
                    }
                }
                Effect::Spawn(run) => self.spawn(&mut st.files[i], run),
                Effect::DiscardUpload => {
                    let e = &mut st.files[i];
                    match self.store.discard_session(&e.info.id) {
                        Ok(Some(c)) => self.outbox.owe(&c, e.auth.as_ref().map(|a| a.auth.clone())),
                        Ok(None) => {}
                        Err(err) => keep(Err(err)),
                    }
                    e.info.bytes_uploaded = 0;
                    e.reported = 0;
                }
                Effect::RecordResult(r) => {
                    let e = &mut st.files[i];
                    keep(self.store.set_result(&e.info.id, &r));
                    persisted = true;
                    e.record(&r);
                    if e.reported < r.bytes || r.bytes == 0 {
                        e.reported = r.bytes;
                        self.events.send(Event::Progress {
                            file: e.info.id.clone(),
                            uploaded: r.bytes,
                            total: r.bytes,
                        });
                    }
                }
                Effect::SetError(err) => st.files[i].info.last_error = err,
                Effect::Remove => remove = true,
                Effect::Notify(n) => self.events.send(st.files[i].event(n)),
            }
        }
        let e = &mut st.files[i];
        if e.state.run().is_none() {
            e.cancel = None;
        }
        if remove {
            keep(self.store.delete_file(&e.info.id).map(drop));
            st.files.remove(i);
        } else if !persisted && e.state.persisted() != before.persisted() {
            keep(self.store.set_status(
                &e.info.id,
                e.state.persisted(),
                e.info.last_error.as_ref(),
            ));
        }
        result.map(|()| applied)
    }

    /// Starts a worker for run `run` of the file.
    fn spawn(self: &Arc<Self>, e: &mut Entry, run: RunId) {
        let cancel = self.shutdown.child_token();
        e.cancel = Some(cancel.clone());
        let inner = Arc::clone(self);
        let id = e.info.id.clone();
        self.runtime.spawn(async move {
            tokio::select! {
                // A stopped run must not be polled once more (it could start a request).
                biased;
                _ = cancel.cancelled() => {}
                _ = worker::run(&inner, &id, run) => {}
            }
            inner.wake.notify_one();
        });
    }

    /// Starts workers for the files whose turn it is (or shows them waiting for the
    /// network); sends `AllDone` when the queue has drained.
    fn schedule(self: &Arc<Self>) {
        if self.shutdown.is_cancelled() {
            return;
        }
        let mut st = self.lock();
        let allowed = network::allows(
            &st.network,
            &st.policy,
            self.cellular_used.load(Ordering::Relaxed),
        );
        let picks = state::schedule(
            &st.queue,
            st.files.iter().map(|e| &e.state),
            allowed,
            self.config.max_parallel_files as usize,
        );
        for (i, start) in picks {
            let input = if start {
                st.next_run += 1;
                Input::Schedule { run: st.next_run }
            } else {
                Input::NetworkBlocked
            };
            if let Err(e) = self.apply(&mut st, i, input) {
                tracing::warn!("cannot persist a file's state: {e}");
            }
        }
        let st = &mut *st;
        if state::queue_drained(&mut st.queue, st.files.iter().map(|e| &e.state)) {
            self.events.send(Event::AllDone);
        }
    }

    /// Cancels in-flight work if the network policy forbids the current network, or restarts
    /// waiting work if it allows it.
    pub(crate) fn enforce_network(self: &Arc<Self>) {
        let mut st = self.lock();
        let allowed = network::allows(
            &st.network,
            &st.policy,
            self.cellular_used.load(Ordering::Relaxed),
        );
        if !allowed {
            for i in 0..st.files.len() {
                if st.files[i].state.run().is_some() {
                    let _ = self.apply(&mut st, i, Input::NetworkBlocked);
                }
            }
        }
        drop(st);
        self.wake.notify_one();
    }

    /// Records bytes handed to the network, for the cellular budget.
    pub(crate) fn count_network_bytes(self: &Arc<Self>, n: u64) {
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
}

impl State {
    pub(crate) fn index_of(&self, id: &str) -> Option<usize> {
        self.files.iter().position(|e| e.info.id == id)
    }

    pub(crate) fn entry_mut(&mut self, id: &str) -> Option<&mut Entry> {
        let i = self.index_of(id)?;
        Some(&mut self.files[i])
    }

    /// The entry of a worker's file, if that worker's run is still the current one.
    pub(crate) fn current(&mut self, id: &str, run: RunId) -> Option<&mut Entry> {
        self.files
            .iter_mut()
            .find(|e| e.info.id == id && e.state.run() == Some(run))
    }
}

impl Entry {
    fn restored(row: FileRow) -> Entry {
        let state = FileState::restored(row.status);
        // An unfinished file whose address is known continues the same object.
        let known_address = match (&row.endpoint, &row.bucket, &row.object) {
            (Some(endpoint), Some(bucket), Some(object)) if !state.is_finished() => {
                Some(UploadAddress {
                    endpoint: endpoint.clone(),
                    bucket: bucket.clone(),
                    file_name: object.clone(),
                    object_prefix: None,
                })
            }
            _ => None,
        };
        let (status, waiting) = state.view();
        let info = FileInfo {
            id: row.id,
            source: row.source,
            target: row.target,
            vod_info: row.vod_info,
            status,
            waiting,
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
            state,
            cancel: None,
            auth: None,
            auth_expired: false,
            known_address,
        }
    }

    /// The file as apps see it.
    pub(crate) fn view(&self) -> FileInfo {
        let (status, waiting) = self.state.view();
        FileInfo {
            status,
            waiting,
            ..self.info.clone()
        }
    }

    fn event(&self, notice: Notice) -> Event {
        let file = self.view();
        match notice {
            Notice::Started => Event::Started { file },
            Notice::Waiting(reason) => Event::Waiting { file, reason },
            Notice::TokenExpired => Event::TokenExpired { file },
            Notice::Retry { code, message } => Event::Retry {
                file,
                code,
                message,
            },
            Notice::RetryResume => Event::RetryResume { file },
            Notice::Succeeded(result) => Event::Succeeded { file, result },
            Notice::Failed { code, message } => Event::Failed {
                file,
                code,
                message,
            },
            Notice::Canceled { deleted } => Event::Canceled { file, deleted },
        }
    }

    /// Takes a successful upload's result into the file's data.
    fn record(&mut self, r: &crate::model::UploadResult) {
        let i = &mut self.info;
        i.bytes_uploaded = r.bytes;
        i.video_id = r.video_id.clone().or(i.video_id.take());
        i.image_url = r.image_url.clone();
        i.endpoint = Some(r.endpoint.clone());
        i.bucket = Some(r.bucket.clone());
        i.object = Some(r.object.clone());
        i.last_error = None;
        i.crc64 = Some(r.crc64);
        self.auth = None;
        self.known_address = None;
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
