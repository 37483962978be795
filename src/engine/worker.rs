//! One file's upload: credentials, multipart session, parts in parallel, complete. Its
//! decisions (what after a failure, where credentials come from, which parts) are the pure
//! functions of [`super::decide`]; this module does the I/O.
//!
//! The worker is cancelled by dropping its future; everything it must not lose (upload id,
//! each finished part) is committed to the store the moment it happens, so a cancel or a kill
//! loses at most the parts in flight.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::decide::{
    CredentialPlan, CredentialView, Fallback, Reason, Recovery, after_failure, credential_plan,
    first_lanes, part_lanes, parts_to_send, use_put_object,
};
use super::state::{Input, RunId, Wait};
use super::{
    CredentialReason, CredentialRequest, Entry, Event, FileAuth, Inner, ProvidedCredentials,
};
use crate::error::{Error, ErrorClass, Result, TransportKind};
use crate::model::{FileId, FileInfo, UploadResult, UploadTarget, VodInfo, effective_part_size};
use crate::protocol::crc64;
use crate::protocol::credentials::{Credentials, UploadAddress, UploadAuth};
use crate::protocol::vod::{content_type_for, notification_header};
use crate::source::{FileSource, Source};
use crate::store::{Cleanup, Fingerprint, PartRecord, Session, Settled};
use crate::transport::oss::{OssAuth, OssLocation};

use super::retry::Streak;

/// Runs one file to success or failure and reports the outcome; the state machine ignores it
/// if the run was stopped meanwhile (the canceller already decided the file's state).
pub(crate) async fn run(inner: &Arc<Inner>, id: &str, run: RunId) {
    let outcome = match FileCtx::new(inner, id, run) {
        Some(ctx) => ctx.upload().await,
        None => return,
    };
    let input = match outcome {
        Ok(result) => Input::Succeeded { run, result },
        // Only reachable when the run was stopped: its state is decided already.
        Err(Error::Cancelled) => return,
        Err(err) => {
            let error = FileInfo::error_from(&err);
            tracing::warn!(file = %id, code = %error.code, "upload failed: {}", error.message);
            Input::Failed { run, error }
        }
    };
    inner.report(id, input);
}

/// What a worker knows about its file, shared with its part tasks.
struct FileCtx {
    inner: Arc<Inner>,
    id: FileId,
    generation: u64,
    /// Cancelled (under the engine lock) the moment this run is stopped: by pause, stop, a
    /// disallowed network, a credential wait. Checked before every request.
    cancel: CancellationToken,
    location: FileSource,
    /// Opened when the run begins (for a URI, through the app's opener).
    source: OnceLock<Source>,
    target: UploadTarget,
    vod_info: VodInfo,
    total: AtomicU64,
    /// The credentials parts sign with; replaced in place when renewed.
    auth: Mutex<Option<FileAuth>>,
    /// The quickest bodiless OSS request of this run (Initiate, ListParts): the round trip
    /// each part waits for its response, which more parts in flight cover.
    round_trip: Mutex<Option<Duration>>,
    progress: Progress,
}

/// Monotonic, throttled progress of one file.
struct Progress {
    started: Instant,
    /// Bytes of finished parts.
    confirmed: AtomicU64,
    /// Bytes of parts in flight (dropped again when an attempt fails).
    inflight: AtomicU64,
    /// The highest value reported; the lock orders concurrent emitters so events never go
    /// back.
    reported: Mutex<u64>,
    /// When the last event went out (ms since `started`).
    last_emit_ms: AtomicU64,
    interval_ms: u64,
}

impl FileCtx {
    fn new(inner: &Arc<Inner>, id: &str, generation: u64) -> Option<Arc<FileCtx>> {
        let mut st = inner.lock();
        let e = st.current(id, generation)?;
        Some(Arc::new(FileCtx {
            inner: Arc::clone(inner),
            id: id.to_owned(),
            generation,
            cancel: e.cancel.clone()?,
            location: e.info.source.clone(),
            source: OnceLock::new(),
            target: e.info.target.clone(),
            vod_info: e.info.vod_info.clone(),
            total: AtomicU64::new(e.info.bytes_total),
            auth: Mutex::new(None),
            round_trip: Mutex::new(None),
            progress: Progress {
                started: Instant::now(),
                confirmed: AtomicU64::new(0),
                inflight: AtomicU64::new(0),
                reported: Mutex::new(e.reported),
                last_emit_ms: AtomicU64::new(0),
                interval_ms: inner.config.progress_interval.as_millis().max(1) as u64,
            },
        }))
    }

    /// Runs `f` on this worker's entry if the run is still current.
    fn with_entry<R>(&self, f: impl FnOnce(&mut Entry) -> R) -> Result<R> {
        let mut st = self.inner.lock();
        st.current(&self.id, self.generation)
            .map(f)
            .ok_or(Error::Cancelled)
    }

    fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// The opened source; [`upload`](Self::upload) opens it first.
    fn source(&self) -> Result<&Source> {
        self.source
            .get()
            .ok_or_else(|| Error::Internal("the file's source is read before it is opened".into()))
    }

    async fn open_source(&self) -> Result<()> {
        let (location, opener) = (
            self.location.clone(),
            super::read(&self.inner.opener).clone(),
        );
        let source = tokio::task::spawn_blocking(move || location.open(opener.as_ref()))
            .await
            .map_err(|e| Error::Internal(format!("source task failed: {e}")))??;
        let _ = self.source.set(source);
        Ok(())
    }

    async fn upload(self: Arc<Self>) -> Result<UploadResult> {
        self.open_source().await?;
        let mut restarts = 0;
        loop {
            let ticket = self.ticket().await?;
            let using_sts = ticket.auth.credentials.is_sts();
            let err = match self.transfer(&ticket).await {
                Ok(r) => return Ok(r),
                Err(e) => e,
            };
            let recovery = after_failure(&err, using_sts, restarts);
            if !matches!(recovery, Recovery::Renew | Recovery::Fail) {
                restarts += 1;
            }
            match recovery {
                Recovery::Renew => self.mark_expired(&ticket)?,
                Recovery::NewUpload => {
                    tracing::info!(file = %self.id, "multipart upload gone ({err}); starting a new one");
                    self.inner.store.delete_session(&self.id)?;
                }
                // The ledger was cleared: the next pass rebuilds it from ListParts.
                Recovery::Reconcile => {}
                Recovery::StartOver => {
                    tracing::info!(file = %self.id, "file changed on disk; uploading it again from the start");
                    let same_bucket = self
                        .inner
                        .store
                        .get_session(&self.id)?
                        .is_some_and(|s| s.bucket == ticket.address.bucket);
                    self.discard_session(same_bucket)?;
                }
                Recovery::Fail => return Err(err),
            }
        }
    }

    // ---------------------------------------------------------------- credentials

    /// The credentials and address to upload with: current ones when still good, else
    /// renewed (VOD API in mode 2, the provider), else waiting for the app.
    async fn ticket(&self) -> Result<FileAuth> {
        loop {
            let mut watch = self.inner.credentials_changed.subscribe();
            let (current, expired, sts, sts_gen, sts_dead, video_id) = {
                let mut st = self.inner.lock();
                let (sts, sts_gen, sts_dead) = (st.sts.clone(), st.sts_generation, st.sts_dead);
                let e = st
                    .current(&self.id, self.generation)
                    .ok_or(Error::Cancelled)?;
                (
                    e.auth.clone(),
                    e.auth_expired,
                    sts,
                    sts_gen,
                    sts_dead,
                    e.info.video_id.clone(),
                )
            };
            let sts_expired = sts.is_some() && sts_dead == Some(sts_gen);
            let has_provider = super::read(&self.inner.provider).is_some();
            let view = CredentialView {
                current: current.is_some(),
                expired,
                expires_soon: current
                    .as_ref()
                    .is_some_and(|a| expires_soon(a, self.inner.config.refresh_ahead)),
                sts: sts.is_some(),
                sts_expired,
                // Images and attached media get a new object per ticket, so they are never
                // renewed ahead.
                can_renew_ahead: !matches!(
                    self.target,
                    UploadTarget::Image | UploadTarget::AttachedMedia { .. }
                ) && (has_provider
                    || (sts.is_some() && matches!(self.target, UploadTarget::Video))),
            };
            match (credential_plan(view), current, sts) {
                (CredentialPlan::UseCurrent, Some(a), _) => return Ok(self.use_auth(a)),
                (CredentialPlan::FromSts, _, Some(sts)) => {
                    match self.ticket_from_sts(sts, sts_gen, video_id).await {
                        Ok(a) => return self.adopt(a),
                        Err(e) if e.class(true) == ErrorClass::TokenExpired => {
                            let mut st = self.inner.lock();
                            if st.sts_generation == sts_gen {
                                st.sts_dead = Some(sts_gen);
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
                (CredentialPlan::AskProvider { reason, fallback }, current, _) => {
                    let reason = match reason {
                        Reason::Initial => CredentialReason::Initial,
                        Reason::Refresh => CredentialReason::Refresh,
                        Reason::Expired => CredentialReason::Expired,
                    };
                    if self.ask_provider(reason).await? {
                        continue;
                    }
                    match (fallback, current) {
                        (Fallback::UseCurrent, Some(a)) => return Ok(self.use_auth(a)),
                        _ => self.wait_for_credentials(reason, &mut watch).await?,
                    }
                }
                // The plan is made from the same values.
                (CredentialPlan::UseCurrent | CredentialPlan::FromSts, ..) => {
                    return Err(Error::Internal("credential plan without its input".into()));
                }
            }
        }
    }

    fn use_auth(&self, a: FileAuth) -> FileAuth {
        self.report(Input::GotCredentials {
            run: self.generation,
        });
        *lock(&self.auth) = Some(a.clone());
        a
    }

    /// Stores credentials obtained by the worker on the entry (for aborts, `list_files`) and
    /// persists the address, restarting the session if the address changed.
    fn adopt(&self, a: FileAuth) -> Result<FileAuth> {
        self.with_entry(|e| {
            e.info.endpoint = Some(a.address.endpoint.clone());
            e.info.bucket = Some(a.address.bucket.clone());
            e.info.object = Some(a.address.file_name.clone());
            if a.video_id.is_some() {
                e.info.video_id = a.video_id.clone();
            }
            if a.image_url.is_some() {
                e.info.image_url = a.image_url.clone();
            }
            e.auth = Some(a.clone());
            e.auth_expired = false;
        })?;
        // Persisted so that after a restart the same video (and object) is continued.
        self.inner.store.update_target_info(
            &self.id,
            &a.address.endpoint,
            &a.address.bucket,
            &a.address.file_name,
            a.video_id.as_deref(),
            a.image_url.as_deref(),
        )?;
        Ok(self.use_auth(a))
    }

    /// Mode 2 (or own bucket with an STS/AK key): credentials without the app.
    async fn ticket_from_sts(
        &self,
        sts: Credentials,
        sts_gen: u64,
        video_id: Option<String>,
    ) -> Result<FileAuth> {
        let address_of = |endpoint: &str, bucket: &str, object: &str| UploadAddress {
            endpoint: endpoint.to_owned(),
            bucket: bucket.to_owned(),
            file_name: object.to_owned(),
            object_prefix: None,
        };
        match &self.target {
            UploadTarget::Object {
                endpoint,
                bucket,
                object,
            } => Ok(FileAuth {
                auth: UploadAuth {
                    credentials: sts,
                    region: None,
                },
                address: address_of(endpoint, bucket, object),
                video_id: None,
                image_url: None,
                sts_generation: Some(sts_gen),
                obtained_at: SystemTime::now(),
            }),
            UploadTarget::Video => {
                let session = self.inner.store.get_session(&self.id)?;
                let known = video_id.or_else(|| session.as_ref().and_then(|s| s.video_id.clone()));
                // The video's own region (its last UploadAuth's, else its OSS endpoint's), so
                // a refresh goes where the video lives.
                let region = lock(&self.auth)
                    .as_ref()
                    .and_then(|a| {
                        a.auth.region.clone().or_else(|| {
                            crate::protocol::sign::region_from_endpoint(&a.address.endpoint)
                        })
                    })
                    .or_else(|| {
                        session
                            .as_ref()
                            .and_then(|s| crate::protocol::sign::region_from_endpoint(&s.endpoint))
                    });
                let vod = self.inner.vod_for(region.as_deref())?;
                let name = self.source()?.file_name();
                let create = || async {
                    let info = self.vod_info_for_create().await?;
                    self.with_retry(|| {
                        let size = self.total();
                        vod.create_upload_video(&sts, &name, size, &info)
                    })
                    .await
                };
                let ticket = match known {
                    Some(v) => match self.with_retry(|| vod.refresh_upload_video(&sts, &v)).await {
                        Err(Error::Service(e)) if e.code == "InvalidVideo.NotFound" => {
                            tracing::info!(file = %self.id, "video {v} is gone; creating a new one");
                            self.inner.store.delete_session(&self.id)?;
                            create().await?
                        }
                        other => other?,
                    },
                    None => create().await?,
                };
                Ok(FileAuth {
                    auth: ticket.upload_auth,
                    address: ticket.upload_address,
                    video_id: Some(ticket.video_id),
                    image_url: None,
                    sts_generation: None,
                    obtained_at: SystemTime::now(),
                })
            }
            UploadTarget::Image => {
                let name = self.source()?.file_name();
                let vod = self.inner.vod_for(None)?;
                let ticket = self
                    .with_retry(|| vod.create_upload_image(&sts, &name, &self.vod_info))
                    .await?;
                Ok(FileAuth {
                    auth: ticket.upload_auth,
                    address: ticket.upload_address,
                    video_id: None,
                    image_url: Some(ticket.image_url),
                    sts_generation: None,
                    obtained_at: SystemTime::now(),
                })
            }
            UploadTarget::AttachedMedia {
                business_type,
                media_ext,
            } => {
                let name = self.source()?.file_name();
                let vod = self.inner.vod_for(None)?;
                let ticket = self
                    .with_retry(|| {
                        vod.create_upload_attached_media(
                            &sts,
                            &name,
                            self.total(),
                            *business_type,
                            media_ext.as_deref(),
                            &self.vod_info,
                        )
                    })
                    .await?;
                // The MediaId and its URL travel as the file's media id and URL.
                Ok(FileAuth {
                    auth: ticket.upload_auth,
                    address: ticket.upload_address,
                    video_id: Some(ticket.media_id),
                    image_url: Some(ticket.media_url),
                    sts_generation: None,
                    obtained_at: SystemTime::now(),
                })
            }
        }
    }

    /// Asks the app's provider (one call at a time across the engine). Returns whether it
    /// supplied something.
    async fn ask_provider(&self, reason: CredentialReason) -> Result<bool> {
        let provider = super::read(&self.inner.provider).clone();
        let Some(provider) = provider else {
            return Ok(false);
        };
        let before = *self.inner.credentials_changed.borrow();
        let _guard = self.inner.refresh_lock.lock().await;
        if *self.inner.credentials_changed.borrow() != before {
            return Ok(true); // someone else renewed while we waited: use that
        }
        let file = self.with_entry(|e| e.view())?;
        let video_id = file.video_id.clone();
        match provider
            .fetch(CredentialRequest {
                file,
                reason,
                video_id,
            })
            .await
        {
            Ok(ProvidedCredentials::UploadAuth {
                upload_auth,
                upload_address,
                video_id,
            }) => {
                let auth = UploadAuth::decode(&upload_auth, SystemTime::now())?;
                let address = match upload_address {
                    Some(a) => UploadAddress::decode(&a)?,
                    None => {
                        match self.with_entry(|e| e.auth.as_ref().map(|a| a.address.clone()))? {
                            Some(a) => a,
                            None => {
                                return Err(Error::InvalidArgument(
                                "the credential provider returned an UploadAuth without an UploadAddress for a file \
                                 that has none"
                                    .into(),
                            ));
                            }
                        }
                    }
                };
                {
                    let mut st = self.inner.lock();
                    if let Some(r) = &auth.region {
                        st.region = r.clone();
                    }
                }
                self.adopt(FileAuth {
                    auth,
                    address,
                    video_id,
                    image_url: None,
                    sts_generation: None,
                    obtained_at: SystemTime::now(),
                })?;
                self.inner.bump_credentials();
                Ok(true)
            }
            Ok(ProvidedCredentials::StsToken {
                access_key_id,
                access_key_secret,
                security_token,
                expiration,
            }) => {
                let creds = super::sts_credentials(
                    access_key_id,
                    access_key_secret,
                    security_token,
                    expiration,
                )?;
                {
                    let mut st = self.inner.lock();
                    st.sts = Some(creds);
                    st.sts_generation += 1;
                }
                self.with_entry(|e| e.auth_expired = false)?;
                // The file's VOD-issued UploadAuth (if any) is renewed with the new token.
                self.with_entry(|e| {
                    if e.auth.as_ref().is_some_and(|a| a.sts_generation.is_some()) {
                        e.auth = None;
                    }
                })?;
                self.inner.bump_credentials();
                Ok(true)
            }
            Err(message) => {
                tracing::warn!(file = %self.id, "credential provider failed: {message}");
                Ok(false)
            }
        }
    }

    async fn wait_for_credentials(
        &self,
        reason: CredentialReason,
        watch: &mut tokio::sync::watch::Receiver<u64>,
    ) -> Result<()> {
        // The state machine tells the app once per wait, not again when an unrelated
        // credential change wakes us.
        let wait = if reason == CredentialReason::Initial {
            Wait::Credentials
        } else {
            Wait::TokenExpired
        };
        self.ensure_running()?;
        self.report(Input::Waiting {
            run: self.generation,
            wait,
        });
        watch.changed().await.map_err(|_| Error::Cancelled)
    }

    /// The service rejected `ticket`'s credentials as expired.
    fn mark_expired(&self, ticket: &FileAuth) -> Result<()> {
        tracing::info!(file = %self.id, "credentials expired");
        let mut st = self.inner.lock();
        if let Some(g) = ticket.sts_generation
            && st.sts_generation == g
        {
            st.sts_dead = Some(g);
        }
        let e = st
            .current(&self.id, self.generation)
            .ok_or(Error::Cancelled)?;
        e.auth_expired = true;
        Ok(())
    }

    // ---------------------------------------------------------------- transfer

    async fn transfer(self: &Arc<Self>, ticket: &FileAuth) -> Result<UploadResult> {
        let loc = OssLocation {
            endpoint: ticket.address.endpoint.clone(),
            bucket: ticket.address.bucket.clone(),
            key: ticket.address.file_name.clone(),
        };
        let fingerprint = self.fingerprint().await?;
        let total = fingerprint.size;
        let resuming = self
            .inner
            .store
            .get_session(&self.id)?
            .is_some_and(|s| s.upload_id.is_some());
        let part_size = effective_part_size(self.inner.config.part_size, total);
        let single = use_put_object(
            total,
            self.inner.config.put_object_threshold,
            part_size,
            resuming,
        );
        let crc = if single {
            self.inner.store.delete_session(&self.id)?;
            self.put_object(&loc).await?
        } else {
            self.multipart(&loc, ticket, fingerprint).await?
        };
        Ok(UploadResult {
            video_id: ticket.video_id.clone(),
            image_url: ticket.image_url.clone(),
            endpoint: loc.endpoint,
            bucket: loc.bucket,
            object: loc.key,
            bytes: total,
            crc64: crc,
        })
    }

    async fn fingerprint(&self) -> Result<Fingerprint> {
        let source = self.source()?.clone();
        let fp = tokio::task::spawn_blocking(move || Fingerprint::of_source(&source))
            .await
            .map_err(|e| Error::Internal(format!("fingerprint task failed: {e}")))??;
        if fp.size != self.total() {
            self.total.store(fp.size, Ordering::Relaxed);
            self.with_entry(|e| e.info.bytes_total = fp.size)?;
            self.inner.store.set_bytes_total(&self.id, fp.size)?;
        }
        Ok(fp)
    }

    /// Refuses to begin a request once the run is stopped. Dropping the run's future stops
    /// what it awaits, but its part tasks run on other threads until the drop reaches them: a
    /// part starting or retrying in that window must not send a byte on, say, cellular.
    fn ensure_running(&self) -> Result<()> {
        if self.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        Ok(())
    }

    /// The credentials for the next OSS request; every OSS request of a run asks for them
    /// right before it starts, so this is also where a stopped run is refused.
    fn oss_auth(&self) -> Result<OssAuth> {
        self.ensure_running()?;
        let a = lock(&self.auth).clone().ok_or(Error::Cancelled)?;
        let region = a
            .auth
            .region
            .clone()
            .or_else(|| crate::protocol::sign::region_from_endpoint(&a.address.endpoint))
            .unwrap_or_else(|| self.inner.lock().region.clone());
        Ok(OssAuth {
            credentials: a.auth.credentials,
            version: self.inner.config.signature_version,
            region,
        })
    }

    /// The VodInfo for CreateUploadVideo: the app's, with the container's Duration, Bitrate,
    /// Fps, Width and Height merged into `UserData` as the native SDKs do (`measure_media`).
    /// Measuring reads a few KiB of headers; when it finds nothing (not MP4/MOV, or
    /// unreadable now: the upload reports that itself), or the app's UserData is not a JSON
    /// object (VOD will say so), the app's VodInfo goes as it is.
    async fn vod_info_for_create(&self) -> Result<VodInfo> {
        let mut info = self.vod_info.clone();
        if !self.inner.config.measure_media {
            return Ok(info);
        }
        let (source, size) = (self.source()?.clone(), self.total());
        let measured = tokio::task::spawn_blocking(move || {
            let reader = source.reader().ok()?;
            crate::media::probe(size, &mut |buf, offset| reader.read_exact_at(buf, offset))
        })
        .await
        .map_err(|e| Error::Internal(format!("media probe task failed: {e}")))?;
        let Some(media) = measured else {
            return Ok(info);
        };
        match crate::media::merge_user_data(info.user_data.as_deref(), &media) {
            Ok(user_data) => info.user_data = Some(user_data),
            Err(why) => {
                tracing::warn!(file = %self.id, "UserData sent without the media facts: {why}")
            }
        }
        Ok(info)
    }

    /// The VOD video these credentials are for (mode 2, or a video id the app gave).
    fn video_id(&self) -> Option<String> {
        lock(&self.auth).as_ref().and_then(|a| a.video_id.clone())
    }

    fn extra_headers(&self) -> Vec<(String, String)> {
        // Own-bucket uploads carry the VOD metadata in x-oss-notification (VOD already has it
        // from CreateUploadVideo otherwise).
        if matches!(self.target, UploadTarget::Object { .. }) && self.vod_info != VodInfo::default()
        {
            vec![(
                "x-oss-notification".to_owned(),
                notification_header(&self.vod_info),
            )]
        } else {
            Vec::new()
        }
    }

    async fn put_object(self: &Arc<Self>, loc: &OssLocation) -> Result<u64> {
        let content_type = content_type_for(self.source()?.file_name());
        let headers = self.extra_headers();
        let res = self
            .with_retry(|| {
                let me = Arc::clone(self);
                let sent = Arc::new(AtomicU64::new(0));
                let sent2 = Arc::clone(&sent);
                let content_type = content_type.clone();
                let headers = headers.clone();
                async move {
                    let auth = me.oss_auth()?;
                    let progress = |n: u64| me.on_bytes(&sent2, n);
                    let r = me
                        .inner
                        .oss
                        .put_object(loc, &auth, me.source()?, &content_type, &headers, &progress)
                        .await;
                    me.progress
                        .inflight
                        .fetch_sub(sent.load(Ordering::Relaxed), Ordering::Relaxed);
                    r
                }
            })
            .await?;
        Ok(res.crc64)
    }

    async fn multipart(
        self: &Arc<Self>,
        loc: &OssLocation,
        ticket: &FileAuth,
        fp: Fingerprint,
    ) -> Result<u64> {
        let total = fp.size;
        let (upload_id, part_size, ledger) = match self.session(loc, ticket, &fp).await? {
            SessionState::Ready {
                upload_id,
                part_size,
                ledger,
            } => (upload_id, part_size, ledger),
            SessionState::Completed { crc } => {
                tracing::info!(file = %self.id, "object was completed before a restart; not uploading again");
                self.inner.store.delete_session(&self.id)?;
                return Ok(crc);
            }
        };
        if !ledger.is_empty() && !lock(&self.inner.verified).contains(&self.id) {
            self.verify_ledger(&ledger, part_size).await?;
        }
        let count = total.div_ceil(part_size);
        let part_len = move |n: u64| part_size.min(total - (n - 1) * part_size);
        let mut done: std::collections::BTreeMap<u32, PartRecord> =
            ledger.into_iter().map(|p| (p.part_number, p)).collect();
        self.progress
            .confirmed
            .store(done.values().map(|p| p.size).sum(), Ordering::Relaxed);
        self.set_uploaded();
        let todo: Vec<u64> = parts_to_send(count, |n| done.contains_key(&n))
            .into_iter()
            .map(u64::from)
            .collect();

        // Parts in flight: `parallel_parts`, plus more on a long round trip (see
        // `part_lanes`), recomputed as each part finishes; the first ones as the last file's.
        let parallel = self.inner.config.parallel_parts as usize;
        let mut lanes = first_lanes(parallel, self.inner.lanes_hint.load(Ordering::Relaxed));
        let mut tasks: JoinSet<Result<(PartRecord, Duration)>> = JoinSet::new();
        let mut next = 0;
        loop {
            while tasks.len() < lanes && next < todo.len() {
                // Renew credentials ahead of expiry between parts, not in the middle of one.
                let t = self.ticket().await?;
                if t.address.file_name != loc.key || t.address.bucket != loc.bucket {
                    return Err(Error::UploadMoved(
                        "the credentials renewed mid-upload are for another object".into(),
                    ));
                }
                let n = todo[next];
                next += 1;
                let me = Arc::clone(self);
                let (loc, upload_id) = (loc.clone(), upload_id.clone());
                let cancel = self.cancel.clone();
                tasks.spawn(async move {
                    // Stop at the next poll after the run is stopped, without waiting for the
                    // run's future to be dropped (it owns this JoinSet).
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => Err(Error::Cancelled),
                        r = me.part(&loc, &upload_id, n as u32, (n - 1) * part_size, part_len(n)) => r,
                    }
                });
            }
            match tasks.join_next().await {
                None => break,
                Some(Ok(Ok((part, took)))) => {
                    lanes = part_lanes(parallel, *lock(&self.round_trip), took);
                    self.inner.lanes_hint.store(lanes, Ordering::Relaxed);
                    self.inner.store.record_part(&self.id, &part)?;
                    done.insert(part.part_number, part);
                    self.set_uploaded();
                }
                Some(Ok(Err(e))) => return Err(e),
                Some(Err(join)) => {
                    return Err(Error::Internal(format!("part task failed: {join}")));
                }
            }
        }

        // The file must still be what we uploaded before we seal the object.
        let now = self.fingerprint().await?;
        if now != fp {
            return Err(Error::FileChanged(self.location.display_path()));
        }
        let parts: Vec<(u32, String)> = done
            .values()
            .map(|p| (p.part_number, p.etag.clone()))
            .collect();
        let crc = crc64::combine_all(done.values().map(|p| (p.crc64, p.size)));
        let headers = self.extra_headers();
        let completed = self
            .with_retry(|| async {
                let auth = self.oss_auth()?;
                self.inner
                    .oss
                    .complete_multipart(loc, &auth, &upload_id, &parts, &headers)
                    .await
            })
            .await;
        match completed {
            Ok(c) => {
                if let Some(server) = c.crc64
                    && server != crc
                {
                    return Err(Error::Integrity {
                        what: format!("object {}", loc.key),
                        local: crc,
                        server,
                    });
                }
            }
            // A Complete whose response was lost may have succeeded: check the object itself.
            Err(Error::Service(e)) if e.code == "NoSuchUpload" => {
                let auth = self.oss_auth()?;
                let meta = self.inner.oss.head_object(loc, &auth).await?;
                if meta.size != total || meta.crc64.is_some_and(|c| c != crc) {
                    return Err(Error::Service(e));
                }
            }
            Err(Error::Service(e)) if e.code == "InvalidPart" => {
                // The ledger disagrees with the server: forget it and reconcile from ListParts.
                self.inner.store.delete_parts(&self.id)?;
                return Err(Error::Service(e));
            }
            Err(e) => return Err(e),
        }
        self.inner.store.delete_session(&self.id)?;
        Ok(crc)
    }

    /// Whether the object at `loc` is exactly what `ledger` describes (every part of the file,
    /// same size and combined CRC-64), i.e. an earlier run completed it.
    async fn completed_before(
        &self,
        loc: &OssLocation,
        ledger: &[PartRecord],
        part_size: u64,
        total: u64,
    ) -> Option<u64> {
        let count = total.div_ceil(part_size);
        let complete = ledger.len() as u64 == count
            && ledger
                .iter()
                .enumerate()
                .all(|(i, p)| p.part_number as u64 == i as u64 + 1);
        if !complete {
            return None;
        }
        let crc = crc64::combine_all(ledger.iter().map(|p| (p.crc64, p.size)));
        let auth = self.oss_auth().ok()?;
        let meta = self.inner.oss.head_object(loc, &auth).await.ok()?;
        (meta.size == total && meta.crc64 == Some(crc)).then_some(crc)
    }

    /// Loads or creates the multipart session, reconciles its ledger with the server, and
    /// returns the upload id, part size and finished parts (or that the object is complete).
    async fn session(
        &self,
        loc: &OssLocation,
        ticket: &FileAuth,
        fp: &Fingerprint,
    ) -> Result<SessionState> {
        let store = &self.inner.store;
        let mut session = store.get_session(&self.id)?;
        // A checkpoint keeps its part size (the configuration may have changed since), as long
        // as it is still a valid one for this file.
        let part_size = match &session {
            Some(s) if part_size_fits(s.part_size, fp.size) => s.part_size,
            _ => effective_part_size(self.inner.config.part_size, fp.size),
        };
        if let Some(s) = &session
            && (s.bucket != loc.bucket
                || s.object != loc.key
                || &s.fingerprint != fp
                || s.part_size != part_size)
        {
            tracing::info!(file = %self.id, "checkpoint does not match (file or address changed); starting afresh");
            // The old upload's abort is owed from now on, with these credentials when they
            // are for its bucket and object.
            let same_place = s.bucket == loc.bucket && s.object == loc.key;
            self.discard_session(same_place)?;
            session = None;
        }
        let mut session = match session {
            Some(s) => s,
            None => {
                let s = Session {
                    file_id: self.id.clone(),
                    upload_id: None,
                    endpoint: loc.endpoint.clone(),
                    bucket: loc.bucket.clone(),
                    object: loc.key.clone(),
                    video_id: ticket.video_id.clone(),
                    image_id: None,
                    image_url: ticket.image_url.clone(),
                    part_size,
                    content_type: Some(content_type_for(self.source()?.file_name())),
                    fingerprint: fp.clone(),
                    created_at: SystemTime::now(),
                    credentials_expire_at: ticket.auth.credentials.expires_at,
                };
                store.save_session(&s)?;
                // Parts this process uploads need no re-read.
                lock(&self.inner.verified).insert(self.id.clone());
                s
            }
        };
        let mut ledger = store.parts(&self.id)?;
        if let Some(upload_id) = session.upload_id.clone() {
            let listed = self
                .with_retry(|| async {
                    let auth = self.oss_auth()?;
                    let asked = Instant::now();
                    let listed = self.inner.oss.list_parts(loc, &auth, &upload_id).await?;
                    self.note_round_trip(asked.elapsed());
                    Ok(listed)
                })
                .await;
            match listed {
                Ok(listed) => {
                    ledger = self.reconcile(ledger, &listed, part_size, fp.size).await?;
                }
                Err(e) if e.class(true) == ErrorClass::RestartUpload => {
                    // Killed after CompleteMultipartUpload but before the result was recorded:
                    // the object is there, and the full ledger proves it is ours.
                    if let Some(crc) = self
                        .completed_before(loc, &ledger, part_size, fp.size)
                        .await
                    {
                        return Ok(SessionState::Completed { crc });
                    }
                    store.delete_parts(&self.id)?;
                    ledger.clear();
                    session.upload_id = None;
                }
                Err(e) => return Err(e),
            }
        }
        let upload_id = match session.upload_id.clone() {
            Some(u) => u,
            None => {
                let headers = self.extra_headers();
                let content_type = match &session.content_type {
                    Some(t) => t.clone(),
                    None => content_type_for(self.source()?.file_name()),
                };
                // An Initiate sent earlier (before a stop or a kill) whose answer never came
                // may have begun an upload: continue that one rather than leave it open.
                let lost = match store.initiate_sent(&self.id)? {
                    Some(sent) => self.find_lost_upload(loc, sent).await,
                    None => None,
                };
                let u = match lost {
                    Some(u) => u,
                    None => {
                        let sent = SystemTime::now();
                        store.set_initiate_sent(&self.id, Some(sent))?;
                        let attempts = AtomicU64::new(0);
                        self.with_retry(|| async {
                            // A retry may follow an answer lost after the server acted.
                            if attempts.fetch_add(1, Ordering::Relaxed) > 0
                                && let Some(u) = self.find_lost_upload(loc, sent).await
                            {
                                return Ok(u);
                            }
                            let asked = Instant::now();
                            let u = self.initiate(loc, &content_type, &headers).await?;
                            self.note_round_trip(asked.elapsed());
                            Ok(u)
                        })
                        .await?
                    }
                };
                store.set_upload_id(&self.id, Some(&u))?;
                u
            }
        };
        Ok(SessionState::Ready {
            upload_id,
            part_size,
            ledger,
        })
    }

    /// InitiateMultipartUpload, run to its end in a task of its own: a pause, stop, network
    /// change, cancel or delete that stops this run must not drop the answer after the server
    /// acted (the upload would stay open where nothing can find it; VOD's credentials cannot
    /// list a bucket). The task hands the upload id to the file's session or, if the file no
    /// longer waits for it (or took another upload meanwhile), owes the server its abort;
    /// this returns the upload the session uses. The request has no body, so finishing
    /// it sends next to nothing.
    async fn initiate(
        &self,
        loc: &OssLocation,
        content_type: &str,
        headers: &[(String, String)],
    ) -> Result<String> {
        let auth = self.oss_auth()?;
        let inner = Arc::clone(&self.inner);
        let (id, loc, target) = (self.id.clone(), loc.clone(), self.target.clone());
        // Kept with the abort, so a retry after a refused attempt (or a restart) can get the
        // video's credentials again.
        let video_id = self.video_id();
        let (content_type, headers) = (content_type.to_owned(), headers.to_vec());
        let task = self.inner.runtime.spawn(async move {
            let upload_id = inner
                .oss
                .initiate_multipart(&loc, &auth, &content_type, &headers)
                .await?;
            let cleanup = Cleanup::owed(
                Some(upload_id.clone()),
                None,
                (loc.endpoint.clone(), loc.bucket.clone(), loc.key.clone()),
                target,
                video_id,
            );
            let upload_auth = || UploadAuth {
                credentials: auth.credentials.clone(),
                region: Some(auth.region.clone()),
            };
            match inner.store.settle_initiated(cleanup, &id)? {
                Settled::Taken => Ok(upload_id),
                // Two Initiates raced (a run stopped during one, the next sent another):
                // keep the one the session took, abort this one.
                Settled::Other(current, owed) => {
                    inner.outbox.owe(&owed, Some(upload_auth()));
                    Ok(current)
                }
                Settled::Owed(owed) => {
                    tracing::info!(file = %id, upload = %upload_id, "the file no longer needs the upload its Initiate began; aborting it");
                    inner.outbox.owe(&owed, Some(upload_auth()));
                    Err(Error::Cancelled)
                }
            }
        });
        task.await
            .map_err(|e| Error::Internal(format!("initiate task failed: {e}")))?
    }

    /// The upload an InitiateMultipartUpload sent at `sent` began, if its answer was lost and
    /// OSS lists it (the newest of the object's uploads since then that no file uses); any
    /// others of them are owed aborts. `None` when there is none or listing is refused (VOD's
    /// per-object credentials may not list a bucket: such an upload holds no part, so
    /// nothing is billed, and the bucket's lifecycle rule removes it).
    async fn find_lost_upload(&self, loc: &OssLocation, sent: SystemTime) -> Option<String> {
        let auth = self.oss_auth().ok()?;
        let open = match self.inner.oss.list_multipart_uploads(loc, &auth).await {
            Ok(open) => open,
            Err(e) => {
                tracing::debug!(file = %self.id, "cannot look for an upload a lost Initiate began: {e}");
                return None;
            }
        };
        let threshold = sent
            .checked_sub(super::cleanup::CLOCK_SLACK)
            .unwrap_or(sent);
        let store = &self.inner.store;
        let mut found: Vec<_> = open
            .into_iter()
            .filter(|u| u.initiated.is_none_or(|t| t >= threshold))
            .filter(|u| !store.upload_in_use(&u.upload_id).unwrap_or(true))
            .collect();
        found.sort_by_key(|u| u.initiated);
        let newest = found.pop()?;
        tracing::info!(file = %self.id, upload = %newest.upload_id, "continuing the upload a lost Initiate answer began");
        let extra_auth = lock(&self.auth).as_ref().map(|a| a.auth.clone());
        for u in found {
            let owed = store.add_cleanup(Cleanup::owed(
                Some(u.upload_id),
                None,
                (loc.endpoint.clone(), loc.bucket.clone(), loc.key.clone()),
                self.target.clone(),
                self.video_id(),
            ));
            match owed {
                Ok(c) => self.inner.outbox.owe(&c, extra_auth.clone()),
                Err(e) => tracing::warn!(file = %self.id, "cannot owe an abort: {e}"),
            }
        }
        Some(newest.upload_id)
    }

    /// The parts both sides agree on: ledger parts the server still has (same ETag), plus
    /// parts the server has that the ledger missed (a kill between upload and commit), whose
    /// CRC is computed locally so they need not be sent again.
    async fn reconcile(
        &self,
        ledger: Vec<PartRecord>,
        listed: &[crate::transport::oss::ListedPart],
        part_size: u64,
        total: u64,
    ) -> Result<Vec<PartRecord>> {
        let expected_len = |n: u32| part_size.min(total.saturating_sub((n as u64 - 1) * part_size));
        let mut kept = Vec::new();
        let mut changed = false;
        for l in listed {
            let n = l.part_number;
            if n == 0 || (n as u64 - 1) * part_size >= total || l.size != expected_len(n) {
                changed = true;
                continue;
            }
            if let Some(p) = ledger
                .iter()
                .find(|p| p.part_number == n && p.etag == l.etag)
            {
                kept.push(p.clone());
                continue;
            }
            let (source, offset, len) =
                (self.source()?.clone(), (n as u64 - 1) * part_size, l.size);
            let crc = tokio::task::spawn_blocking(move || crc_of_range(&source, offset, len))
                .await
                .map_err(|e| Error::Internal(format!("CRC task failed: {e}")))??;
            tracing::info!(file = %self.id, part = n, "server has a part the checkpoint missed; not sending it again");
            kept.push(PartRecord {
                part_number: n,
                size: l.size,
                etag: l.etag.clone(),
                crc64: crc,
            });
            changed = true;
        }
        if changed || kept.len() != ledger.len() {
            self.inner.store.delete_parts(&self.id)?;
            for p in &kept {
                self.inner.store.record_part(&self.id, p)?;
            }
        }
        Ok(kept)
    }

    /// Re-reads the parts a checkpoint from an earlier process says are uploaded and compares
    /// their CRC-64 with the ledger's: the fingerprint (size, mtime, edges) cannot see a change
    /// in the middle with the mtime kept (editors, sync tools, restores), and completing such
    /// an upload would mix two versions of the file. One sequential pass, one buffer; a
    /// mismatch is `FileChanged` (the upload starts over).
    async fn verify_ledger(&self, ledger: &[PartRecord], part_size: u64) -> Result<()> {
        let source = self.source()?.clone();
        let mut parts: Vec<PartRecord> = ledger.to_vec();
        parts.sort_by_key(|p| p.part_number);
        let started = Instant::now();
        let bytes: u64 = parts.iter().map(|p| p.size).sum();
        let changed = tokio::task::spawn_blocking(move || -> Result<Option<u32>> {
            let reader = source.reader()?;
            let mut buf = vec![0u8; 256 * 1024];
            for p in &parts {
                let mut digest = crc64::Crc64::new();
                let (mut at, end) = (
                    (u64::from(p.part_number) - 1) * part_size,
                    (u64::from(p.part_number) - 1) * part_size + p.size,
                );
                while at < end {
                    let want = buf.len().min((end - at) as usize);
                    match reader.read_exact_at(&mut buf[..want], at) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                            return Ok(Some(p.part_number));
                        }
                        Err(e) => return Err(source.error(e)),
                    }
                    digest.update(&buf[..want]);
                    at += want as u64;
                }
                if digest.finish() != p.crc64 {
                    return Ok(Some(p.part_number));
                }
            }
            Ok(None)
        })
        .await
        .map_err(|e| Error::Internal(format!("verify task failed: {e}")))??;
        if let Some(n) = changed {
            tracing::warn!(file = %self.id, part = n, "uploaded part no longer matches the file; starting over");
            return Err(Error::FileChanged(self.location.display_path()));
        }
        tracing::info!(file = %self.id, bytes, elapsed = ?started.elapsed(), "checkpointed parts match the file");
        lock(&self.inner.verified).insert(self.id.clone());
        Ok(())
    }

    /// Forgets the checkpoint and owes the server the abort of its multipart upload (the
    /// outbox attempts it, with this file's credentials when `with_auth`).
    fn discard_session(&self, with_auth: bool) -> Result<()> {
        if let Some(c) = self.inner.store.discard_session(&self.id)? {
            let auth = with_auth
                .then(|| lock(&self.auth).as_ref().map(|a| a.auth.clone()))
                .flatten();
            self.inner.outbox.owe(&c, auth);
        }
        Ok(())
    }

    fn note_round_trip(&self, took: Duration) {
        let mut rtt = lock(&self.round_trip);
        *rtt = Some(rtt.map_or(took, |r| r.min(took)));
    }

    /// Uploads one part, retrying transient failures; returns it and how long it took.
    async fn part(
        self: Arc<Self>,
        loc: &OssLocation,
        upload_id: &str,
        n: u32,
        offset: u64,
        len: u64,
    ) -> Result<(PartRecord, Duration)> {
        let started = Instant::now();
        let up = self
            .with_retry(|| {
                let me = Arc::clone(&self);
                async move {
                    let auth = me.oss_auth()?;
                    let sent = AtomicU64::new(0);
                    let progress = |b: u64| me.on_bytes(&sent, b);
                    let r = me
                        .inner
                        .oss
                        .upload_part(
                            loc,
                            &auth,
                            upload_id,
                            n,
                            me.source()?,
                            offset,
                            len,
                            &progress,
                        )
                        .await;
                    me.progress
                        .inflight
                        .fetch_sub(sent.load(Ordering::Relaxed), Ordering::Relaxed);
                    r
                }
            })
            .await?;
        self.progress
            .confirmed
            .fetch_add(up.size, Ordering::Relaxed);
        let part = PartRecord {
            part_number: n,
            size: up.size,
            etag: up.etag,
            crc64: up.crc64,
        };
        Ok((part, started.elapsed()))
    }

    // ---------------------------------------------------------------- retries and progress

    /// Runs `op`, retrying transient failures with back-off. Fires `retry` once when a
    /// healthy file starts failing and `retry_resume` when it recovers.
    async fn with_retry<T, F, Fut>(&self, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut streak = Streak::new();
        loop {
            self.ensure_running()?;
            let err = match op().await {
                Ok(v) => {
                    self.healthy();
                    return Ok(v);
                }
                Err(e) => e,
            };
            if !matches!(
                err.class(true),
                ErrorClass::Retryable | ErrorClass::ClockSkew
            ) {
                return Err(err);
            }
            let reset = matches!(
                &err,
                Error::Transport {
                    kind: TransportKind::Reset,
                    ..
                }
            );
            let Some(delay) = streak.next_delay_after(&self.inner.retry, reset) else {
                tracing::warn!(file = %self.id, "giving up after retries: {err}");
                return Err(err);
            };
            self.failing(&err, delay)?;
            tokio::time::sleep(delay).await;
        }
    }

    fn failing(&self, err: &Error, delay: Duration) -> Result<()> {
        tracing::info!(file = %self.id, "retrying in {delay:?}: {err}");
        self.ensure_running()?;
        self.report(Input::RequestFailed {
            run: self.generation,
            until: SystemTime::now() + delay,
            code: err.code(),
            message: err.to_string(),
        });
        Ok(())
    }

    fn healthy(&self) {
        self.report(Input::RequestOk {
            run: self.generation,
        });
    }

    /// Reports what this run saw to the state machine.
    fn report(&self, input: Input) {
        self.inner.report(&self.id, input);
    }

    /// Bytes handed to the network by one request attempt.
    fn on_bytes(&self, sent: &AtomicU64, n: u64) {
        sent.fetch_add(n, Ordering::Relaxed);
        self.progress.inflight.fetch_add(n, Ordering::Relaxed);
        self.inner.count_network_bytes(n);
        self.emit_progress();
    }

    fn set_uploaded(&self) {
        let confirmed = self.progress.confirmed.load(Ordering::Relaxed);
        let _ = self.with_entry(|e| e.info.bytes_uploaded = confirmed);
        self.emit_progress();
    }

    /// Sends a progress event if the value grew and the interval has passed.
    fn emit_progress(&self) {
        let p = &self.progress;
        let total = self.total();
        let value =
            (p.confirmed.load(Ordering::Relaxed) + p.inflight.load(Ordering::Relaxed)).min(total);
        let now = p.started.elapsed().as_millis() as u64;
        let last = p.last_emit_ms.load(Ordering::Relaxed);
        // Cheap throttle first: this runs for every chunk handed to the network.
        if last != 0 && now.saturating_sub(last) < p.interval_ms {
            return;
        }
        let mut reported = lock(&p.reported);
        if value <= *reported {
            return;
        }
        *reported = value;
        p.last_emit_ms.store(now.max(1), Ordering::Relaxed);
        let _ = self.with_entry(|e| e.reported = e.reported.max(value));
        self.inner.events.send(Event::Progress {
            file: self.id.clone(),
            uploaded: value,
            total,
        });
    }
}

/// A multipart session ready to upload into, or proof that an earlier run completed it.
enum SessionState {
    Ready {
        upload_id: String,
        part_size: u64,
        ledger: Vec<PartRecord>,
    },
    Completed {
        crc: u64,
    },
}

/// A part size OSS accepts for a file of `size` bytes.
fn part_size_fits(part_size: u64, size: u64) -> bool {
    use crate::model::limits::{MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE};
    (MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) && size.div_ceil(part_size) <= MAX_PARTS
}

/// True when `a` should be renewed now: within `ahead` of its expiry, or past half its
/// lifetime when the whole lifetime is shorter than that (so short-lived credentials are not
/// renewed before every part).
fn expires_soon(a: &FileAuth, ahead: Duration) -> bool {
    let Some(expires) = a.auth.credentials.expires_at else {
        return false;
    };
    let now = SystemTime::now();
    let left = expires.duration_since(now).unwrap_or(Duration::ZERO);
    let lifetime = expires
        .duration_since(a.obtained_at)
        .unwrap_or(Duration::ZERO);
    left < ahead.min(lifetime / 2)
}

fn crc_of_range(source: &Source, offset: u64, len: u64) -> Result<u64> {
    let reader = source.reader()?;
    let mut digest = crc64::Crc64::new();
    let mut buf = vec![0u8; 256 * 1024];
    let (mut at, end) = (offset, offset + len);
    while at < end {
        let want = buf.len().min((end - at) as usize);
        match reader.read_exact_at(&mut buf[..want], at) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(Error::FileChanged(source.name().to_owned()));
            }
            Err(e) => return Err(source.error(e)),
        }
        digest.update(&buf[..want]);
        at += want as u64;
    }
    Ok(digest.finish())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
