use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::FutureExt;
use vod_sim::ThrottleSettings;
use vod_upload::protocol::credentials::Credentials;
use vod_upload::{
    CredentialProvider, CredentialRequest, Event, ProvidedCredentials, VodInfo, WaitingReason,
};

use crate::common::*;

fn started(ev: &[Event], id: &str) -> bool {
    ev.iter()
        .any(|e| matches!(e, Event::Started { file } if file.id == id))
}

/// Mode 1: the app answers `started` with set_upload_auth_and_address; the token expires
/// mid-file; resume_with_auth continues the same multipart upload without re-sending parts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode1_token_expiry_then_resume_with_auth() {
    let h = Harness::new(|_| {}).await;
    let (vod, account) = h.app_server();
    h.sim.throttle(ThrottleSettings {
        bandwidth: Some(512 * 1024),
        latency_ms: 0,
    });
    let (path, data) = h.file("expiring.mp4", 2 * 1024 * 1024);
    let id = h.add(&path);
    h.engine.start();

    h.events.wait_for("started", |ev| started(ev, &id)).await;
    let ticket = vod
        .create_upload_video(
            &account,
            "expiring.mp4",
            data.len() as u64,
            &VodInfo::default(),
        )
        .await
        .unwrap();
    let now = SystemTime::now();
    h.engine
        .set_upload_auth_and_address(
            &id,
            &ticket.upload_auth.encode(now),
            &ticket.upload_address.encode(),
            Some(ticket.video_id.clone()),
        )
        .unwrap();
    h.events.wait_progress(&id, 300 * 1024).await;

    h.sim.expire_tokens();
    h.events
        .wait_for("token_expired", |ev| {
            ev.iter()
                .any(|e| matches!(e, Event::TokenExpired { file } if file.id == id))
        })
        .await;
    let waiting = h.engine.file(&id).unwrap();
    assert_eq!(waiting.waiting, Some(WaitingReason::TokenExpired));

    // The app's server renews the credential for the same video.
    let renewed = vod
        .refresh_upload_video(&account, &ticket.video_id)
        .await
        .unwrap();
    h.sim.throttle(ThrottleSettings {
        bandwidth: None,
        latency_ms: 0,
    });
    h.engine
        .resume_with_auth(&renewed.upload_auth.encode(SystemTime::now()))
        .unwrap();
    let result = h.events.wait_succeeded(&id).await;

    assert_eq!(result.video_id.as_deref(), Some(ticket.video_id.as_str()));
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
    let stats = h.sim.stats();
    assert_eq!(
        stats.multipart_uploads_initiated, 1,
        "the same multipart upload continued"
    );
    let parts = (data.len() as u64).div_ceil(100 * 1024);
    assert!(
        stats.parts_uploaded <= parts + 3,
        "{} part uploads for {parts} parts",
        stats.parts_uploaded
    );
    assert_eq!(h.events.count(|e| matches!(e, Event::Failed { .. })), 0);
}

/// Mode 2 with an STS token: when the token itself expires, token_expired fires and
/// resume_with_token continues.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode2_sts_expiry_then_resume_with_token() {
    let h = Harness::new(|_| {}).await;
    let sts = h.sim.issue_sts_credentials(Duration::from_secs(3600));
    let (ak, sk, token) = parts(sts);
    h.engine.set_sts_token(ak, sk, token, None).unwrap();
    h.sim.throttle(ThrottleSettings {
        bandwidth: Some(512 * 1024),
        latency_ms: 0,
    });
    let (path, data) = h.file("sts.mp4", 1536 * 1024);
    let id = h.add(&path);
    h.engine.start();
    h.events.wait_progress(&id, 300 * 1024).await;

    h.sim.expire_tokens();
    h.events
        .wait_for("token_expired", |ev| {
            ev.iter()
                .any(|e| matches!(e, Event::TokenExpired { file } if file.id == id))
        })
        .await;
    let fresh = h.sim.issue_sts_credentials(Duration::from_secs(3600));
    h.sim.throttle(ThrottleSettings {
        bandwidth: None,
        latency_ms: 0,
    });
    let (ak, sk, token) = parts(fresh);
    h.engine.resume_with_token(ak, sk, token, None).unwrap();
    h.events.wait_succeeded(&id).await;
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
    assert_eq!(h.sim.stats().multipart_uploads_initiated, 1);
}

/// An app provider that asks its "server" (the simulator) for a fresh STS token.
struct SimProvider {
    sim: Arc<vod_sim::Simulator>,
    calls: std::sync::atomic::AtomicUsize,
}

impl CredentialProvider for SimProvider {
    fn fetch(
        &self,
        _request: CredentialRequest,
    ) -> futures_util::future::BoxFuture<'static, Result<ProvidedCredentials, String>> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let c = self.sim.issue_sts_credentials(Duration::from_secs(3600));
        async move {
            Ok(ProvidedCredentials::StsToken {
                access_key_secret: c.access_key_secret.expose().to_owned(),
                security_token: c.security_token.as_ref().map(|t| t.expose().to_owned()),
                access_key_id: c.access_key_id,
                expiration: None,
            })
        }
        .boxed()
    }
}

/// With a credential provider, an expiry is renewed without pausing: no token_expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_renews_without_token_expired() {
    let h = Harness::new(|_| {}).await;
    let first = h.sim.issue_sts_credentials(Duration::from_secs(3600));
    let (ak, sk, token) = parts(first);
    h.engine.set_sts_token(ak, sk, token, None).unwrap();
    let provider = Arc::new(SimProvider {
        sim: h.sim.clone(),
        calls: Default::default(),
    });
    h.engine.set_credential_provider(Some(provider.clone()));
    h.sim.throttle(ThrottleSettings {
        bandwidth: Some(512 * 1024),
        latency_ms: 0,
    });
    let (path, data) = h.file("provided.mp4", 1024 * 1024);
    let id = h.add(&path);
    h.engine.start();
    h.events.wait_progress(&id, 200 * 1024).await;
    h.sim.expire_tokens();
    h.sim.throttle(ThrottleSettings {
        bandwidth: None,
        latency_ms: 0,
    });
    h.events.wait_succeeded(&id).await;
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
    assert_eq!(
        h.events.count(|e| matches!(e, Event::TokenExpired { .. })),
        0,
        "{:?}",
        h.events.summary()
    );
    assert!(provider.calls.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert_eq!(h.sim.stats().multipart_uploads_initiated, 1);
}

/// The strings an app would hand over from its STS response.
fn parts(c: Credentials) -> (String, String, Option<String>) {
    let token = c.security_token.as_ref().map(|t| t.expose().to_owned());
    (
        c.access_key_id,
        c.access_key_secret.expose().to_owned(),
        token,
    )
}
