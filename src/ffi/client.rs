//! `VodUploadClient`: the one exported object, the native SDK's `VODUploadClient`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::runtime::Runtime;

use crate::engine::Engine;
use crate::model;

use super::credentials::{CredentialProvider, ProviderBridge};
use super::error::VodUploadError;
use super::events::{EventBridge, EventSubscription, UploadEventListener};
use super::listener::{ListenerBridge, UploadListener};
use super::source::{Opener, SourceOpener};
use super::types::{
    Checkpoint, ClientConfig, ClientStatus, FileInfo, NetworkPolicy, NetworkState, UploadTarget,
    VodInfo,
};

type Result<T, E = VodUploadError> = std::result::Result<T, E>;

/// A persistent, network-aware upload queue for ApsaraVideo VOD.
///
/// Create one per app (an app-scoped singleton) and keep it: it owns a small thread pool and
/// the checkpoint database. Every method returns at once, from any thread: none waits for
/// the network, and events arrive on the `UploadListener`. `shutdown()` (or Kotlin's
/// `close()`, Swift's `deinit`) stops everything; checkpoints stay, so a new client on the
/// same database continues where this one stopped.
#[derive(uniffi::Object)]
pub struct VodUploadClient {
    engine: Engine,
    /// The subscription of the `setListener` listener.
    listener: Mutex<Option<crate::engine::Subscription>>,
    /// Taken by `shutdown`/`Drop`. Dropping a tokio runtime from inside an async context
    /// panics, so it is shut down with `shutdown_background` instead.
    runtime: Mutex<Option<Runtime>>,
    closed: AtomicBool,
    credential_timeout: Duration,
}

#[uniffi::export]
impl VodUploadClient {
    /// Opens (or creates) the checkpoint database and restores the queue: files that were
    /// uploading come back ready, with their progress. Nothing uploads until `start()`.
    #[uniffi::constructor]
    pub fn new(config: ClientConfig) -> Result<Arc<Self>> {
        let (config, ffi) = config.into_parts()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(ffi.worker_threads)
            .thread_name("vod-upload")
            .enable_all()
            .build()
            .map_err(|e| VodUploadError::InvalidArgument {
                detail: format!("cannot start the client's threads: {e}"),
            })?;
        let engine = Engine::new(config, runtime.handle().clone())?;
        Ok(Arc::new(VodUploadClient {
            engine,
            listener: Mutex::new(None),
            runtime: Mutex::new(Some(runtime)),
            closed: AtomicBool::new(false),
            credential_timeout: ffi.credential_timeout,
        }))
    }

    /// The path an unreadable checkpoint database was moved to when this client opened (it
    /// then started with an empty queue), so the app can report it.
    pub fn recovered_database(&self) -> Option<String> {
        self.engine
            .recovered_database()
            .map(|p| p.display().to_string())
    }

    /// Sets (or with `null`, removes) the native-style listener. There is one; setting another
    /// replaces it. Subscribers (`subscribe`) are independent of it.
    pub fn set_listener(&self, listener: Option<Arc<dyn UploadListener>>) -> Result<()> {
        self.check_open()?;
        let sub = listener.map(|l| self.engine.subscribe(Arc::new(ListenerBridge(l))));
        *self.listener.lock().unwrap_or_else(|p| p.into_inner()) = sub;
        Ok(())
    }

    /// Subscribes `listener` to every event from now on; any number may subscribe. Keep the
    /// returned subscription: cancelling or releasing it unsubscribes.
    pub fn subscribe(
        &self,
        listener: Arc<dyn UploadEventListener>,
    ) -> Result<Arc<EventSubscription>> {
        self.check_open()?;
        Ok(EventSubscription::new(
            self.engine.subscribe(Arc::new(EventBridge(listener))),
        ))
    }

    /// Sets (or removes) the credential provider, asked for new credentials before a file
    /// would pause with `tokenExpired`.
    pub fn set_credential_provider(
        &self,
        provider: Option<Arc<dyn CredentialProvider>>,
    ) -> Result<()> {
        self.check_open()?;
        let timeout = self.credential_timeout;
        self.engine.set_credential_provider(
            provider.map(|provider| Arc::new(ProviderBridge { provider, timeout }) as _),
        );
        Ok(())
    }

    /// Mode 2 (the native `init(accessKeyId, accessKeySecret, securityToken, expireTime)`):
    /// the STS token with which the client calls CreateUploadVideo / CreateUploadImage
    /// itself. Without a security token it is a plain AccessKey (not recommended in apps).
    #[uniffi::method(default(security_token = None, expiration = None))]
    pub fn set_sts_token(
        &self,
        access_key_id: String,
        access_key_secret: String,
        security_token: Option<String>,
        expiration: Option<SystemTime>,
    ) -> Result<()> {
        self.check_open()?;
        Ok(self.engine.set_sts_token(
            access_key_id,
            access_key_secret,
            security_token,
            expiration,
        )?)
    }

    /// After `tokenExpired` in mode 1: a new UploadAuth (RefreshUploadVideo on the app
    /// server). The file continues the same multipart upload.
    pub fn resume_with_auth(&self, upload_auth: String) -> Result<()> {
        self.check_open()?;
        Ok(self.engine.resume_with_auth(&upload_auth)?)
    }

    /// After `tokenExpired` in mode 2: a new STS token.
    #[uniffi::method(default(security_token = None, expiration = None))]
    pub fn resume_with_token(
        &self,
        access_key_id: String,
        access_key_secret: String,
        security_token: Option<String>,
        expiration: Option<SystemTime>,
    ) -> Result<()> {
        self.check_open()?;
        Ok(self.engine.resume_with_token(
            access_key_id,
            access_key_secret,
            security_token,
            expiration,
        )?)
    }

    /// Mode 1: the UploadAuth and UploadAddress for a file (CreateUploadVideo /
    /// CreateUploadImage on the app server), in answer to its `started` event or ahead of it.
    #[uniffi::method(default(video_id = None))]
    pub fn set_upload_auth_and_address(
        &self,
        file_id: String,
        upload_auth: String,
        upload_address: String,
        video_id: Option<String>,
    ) -> Result<()> {
        self.check_open()?;
        Ok(self.engine.set_upload_auth_and_address(
            &file_id,
            &upload_auth,
            &upload_address,
            video_id,
        )?)
    }

    /// Adds a file to the end of the queue and returns its id. `target` defaults to the
    /// file's type: images go to CreateUploadImage, everything else to CreateUploadVideo.
    /// The file must exist and be readable by the app (for a `content://` Uri or an asset, use
    /// `addUri`: no copy needed).
    #[uniffi::method(default(target = None, vod_info))]
    pub fn add_file(
        &self,
        path: String,
        vod_info: VodInfo,
        target: Option<UploadTarget>,
    ) -> Result<String> {
        self.check_open()?;
        let path = std::path::PathBuf::from(path);
        let target = target.map_or_else(|| model::UploadTarget::for_path(&path), Into::into);
        Ok(self.engine.add_file(path, target, vod_info.into_model()?)?)
    }

    /// Adds a file the app's `SourceOpener` reads (a `content://` Uri, a PHAsset id, ...) and
    /// returns its id. The opener must be set (`setSourceOpener`); it opens the URI now to
    /// check it, and again whenever the upload (re)starts, also after an app restart. `target`
    /// defaults by the source's `name()` (else the URI's last segment) as for `addFile`.
    #[uniffi::method(default(target = None, vod_info))]
    pub fn add_uri(
        &self,
        uri: String,
        vod_info: VodInfo,
        target: Option<UploadTarget>,
    ) -> Result<String> {
        self.check_open()?;
        if uri.trim().is_empty() {
            return Err(VodUploadError::InvalidArgument {
                detail: "the URI is empty".into(),
            });
        }
        let source = crate::source::FileSource::Uri(uri);
        let target = target.map_or_else(|| model::UploadTarget::for_source(&source), Into::into);
        Ok(self
            .engine
            .add_file(source, target, vod_info.into_model()?)?)
    }

    /// Sets (or removes, with null) the opener of files added by URI. Set it right after
    /// creating the client, before `start`, so files restored from the database can be read.
    pub fn set_source_opener(&self, opener: Option<Arc<dyn SourceOpener>>) -> Result<()> {
        self.check_open()?;
        self.engine.set_source_opener(
            opener.map(|o| Arc::new(Opener(o)) as Arc<dyn crate::source::SourceOpener>),
        );
        Ok(())
    }

    /// Removes a file from the queue, cancelling its upload (and aborting it on the server);
    /// an unfinished file gets `canceled(deleted = true)`. Ignored for an unknown id.
    pub fn delete_file(&self, file_id: String) -> Result<()> {
        self.check_open()?;
        Ok(self.engine.delete_file(&file_id)?)
    }

    /// `deleteFile` by position in `listFiles()` (the native SDK's `deleteFile(int)`).
    pub fn delete_file_at(&self, index: i32) -> Result<()> {
        match self.id_at(index)? {
            Some(id) => Ok(self.engine.delete_file(&id)?),
            None => Ok(()),
        }
    }

    /// Skips a file; it stays listed as canceled (event `canceled`). With `keep_upload`, the
    /// server keeps the parts so `resumeFile` continues where it stopped; otherwise they are
    /// discarded. Ignored for a finished file or an unknown id.
    #[uniffi::method(default(keep_upload = false))]
    pub fn cancel_file(&self, file_id: String, keep_upload: bool) -> Result<()> {
        self.check_open()?;
        Ok(self.engine.cancel_file(&file_id, keep_upload)?)
    }

    /// `cancelFile` by position (the native SDK's `cancelFile(int)`).
    #[uniffi::method(default(keep_upload = false))]
    pub fn cancel_file_at(&self, index: i32, keep_upload: bool) -> Result<()> {
        match self.id_at(index)? {
            Some(id) => Ok(self.engine.cancel_file(&id, keep_upload)?),
            None => Ok(()),
        }
    }

    /// Queues a canceled or failed file again. Ignored for any other file.
    pub fn resume_file(&self, file_id: String) -> Result<()> {
        self.check_open()?;
        Ok(self.engine.resume_file(&file_id)?)
    }

    /// `resumeFile` by position (the native SDK's `resumeFile(int)`).
    pub fn resume_file_at(&self, index: i32) -> Result<()> {
        match self.id_at(index)? {
            Some(id) => Ok(self.engine.resume_file(&id)?),
            None => Ok(()),
        }
    }

    /// The queue, in order.
    pub fn list_files(&self) -> Vec<FileInfo> {
        self.engine
            .list_files()
            .into_iter()
            .map(Into::into)
            .collect()
    }

    /// One file, or `null` if it is not in the queue.
    pub fn file(&self, file_id: String) -> Option<FileInfo> {
        self.engine.file(&file_id).map(Into::into)
    }

    /// What a resumed upload of the file continues from (the JS SDK's `getCheckpoint`), or
    /// `null` for a file not in the queue or with no multipart upload under way.
    pub fn checkpoint(&self, file_id: String) -> Result<Option<Checkpoint>> {
        Ok(self.engine.checkpoint(&file_id)?.map(Into::into))
    }

    /// Empties the queue, cancelling every upload.
    pub fn clear_files(&self) -> Result<()> {
        self.check_open()?;
        Ok(self.engine.clear_files()?)
    }

    // The four controls never throw: a call that does not apply now (pause twice, resume
    // while running, anything after shutdown) is ignored, as the native SDK does, so an app
    // calling them from network callbacks at any time cannot crash.

    /// Starts uploading the queue: every unfinished file continues, paused and stopped ones
    /// included. Ignored while running.
    pub fn start(&self) {
        self.engine.start();
    }

    /// Stops uploading: requests in flight are cancelled, progress is kept, files go back to
    /// ready; `start()` continues. Ignored unless running or paused.
    pub fn stop(&self) {
        self.engine.stop();
    }

    /// Pauses every upload at once; `resume()` (or `start()`) continues from the checkpoints.
    /// Ignored unless running.
    pub fn pause(&self) {
        self.engine.pause();
    }

    /// Continues after `pause()`. Ignored unless paused.
    pub fn resume(&self) {
        self.engine.resume();
    }

    pub fn status(&self) -> ClientStatus {
        self.engine.status().into()
    }

    /// Reports the current network. When the policy forbids it, requests stop at once and
    /// files wait (`waiting(Network)`); when it allows it again they continue by themselves.
    /// Never counted as a failure.
    pub fn set_network_state(&self, state: NetworkState) -> Result<()> {
        self.check_open()?;
        self.engine.set_network_state(state.into());
        Ok(())
    }

    /// Changes which networks may carry uploads; takes effect at once.
    pub fn set_network_policy(&self, policy: NetworkPolicy) -> Result<()> {
        self.check_open()?;
        self.engine.set_network_policy(policy.into());
        Ok(())
    }

    /// Stops everything: requests in flight are cancelled (checkpoints stay), the listener
    /// and provider are released, the threads end. Idempotent; every later call fails with
    /// `Closed`.
    pub fn shutdown(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        // Also drops every subscriber: breaks listener → client reference cycles held by app
        // code.
        self.engine.shutdown();
        self.listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.engine.set_credential_provider(None);
        let runtime = self
            .runtime
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(rt) = runtime {
            rt.shutdown_background();
        }
    }
}

impl VodUploadClient {
    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            Err(VodUploadError::Closed)
        } else {
            Ok(())
        }
    }

    /// The id at `index`, or `None` (the call is then ignored, like one for an id that is no
    /// longer in the queue).
    fn id_at(&self, index: i32) -> Result<Option<String>> {
        self.check_open()?;
        Ok(usize::try_from(index)
            .ok()
            .and_then(|i| self.engine.file_id_at(i)))
    }
}

impl Drop for VodUploadClient {
    fn drop(&mut self) {
        self.shutdown();
    }
}
