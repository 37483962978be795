//! TLS failures are classified: a certificate that does not verify fails the file at once with
//! a code naming the cause on a validated network; behind a captive portal the file waits.

use std::time::Duration;

use vod_sim::{SimConfig, TlsOptions};
use vod_upload::{Event, NetworkState, NetworkType, WaitingReason};

use crate::common::*;

/// A TLS simulator; the engine trusts its CA when `trusted`.
async fn tls_harness(options: TlsOptions, trusted: bool) -> Harness {
    let sim = SimConfig {
        tls: Some(options),
        ..SimConfig::default()
    };
    // Long back-off: a certificate error that were retried would not fail within the wait.
    let h = Harness::with_sim(sim, |c| {
        c.retry_base_interval = Duration::from_secs(5);
        c.retry_max_interval = Duration::from_secs(5);
    })
    .await;
    if trusted {
        let pem = h.sim.tls_ca_pem().expect("a CA").to_owned();
        let mut config = h.config.clone();
        config.extra_root_certificates = vec![pem];
        return reopen_with(h, config);
    }
    h
}

fn reopen_with(mut h: Harness, config: vod_upload::Config) -> Harness {
    h.engine.shutdown();
    h.config = config;
    let (engine, events) = open_engine(&h.config);
    h.engine = engine;
    h.events = events;
    h
}

fn network(validated: bool) -> NetworkState {
    NetworkState {
        network_type: NetworkType::Wifi,
        metered: false,
        roaming: false,
        validated,
    }
}

/// Uploads one file and returns the `failed` code, checking that it came without retries.
async fn fails_at_once(h: &Harness) -> String {
    h.use_account_key();
    h.engine.set_network_state(network(true));
    let (path, _) = h.file("tls.mp4", 150 * 1024);
    let id = h.add(&path);
    h.engine.start();
    let started = std::time::Instant::now();
    h.events
        .wait_for("failed", |ev| {
            ev.iter()
                .any(|e| matches!(e, Event::Failed { file, .. } if file.id == id))
        })
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "failed at once, not after back-off: {:?}",
        started.elapsed()
    );
    assert_eq!(h.events.count(|e| matches!(e, Event::Retry { .. })), 0);
    h.events
        .all()
        .into_iter()
        .find_map(|e| match e {
            Event::Failed { code, message, .. } => Some(format!("{code}: {message}")),
            _ => None,
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_ca_fails_at_once_naming_the_cause() {
    let h = tls_harness(TlsOptions::default(), false).await;
    let failed = fails_at_once(&h).await;
    assert!(failed.starts_with("CertificateUntrusted: "), "{failed}");
    assert!(failed.contains("unknown issuer"), "{failed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_host_fails_at_once() {
    let h = tls_harness(TlsOptions::for_names(["other.example"]), true).await;
    let failed = fails_at_once(&h).await;
    assert!(failed.starts_with("CertificateNameMismatch: "), "{failed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_fails_at_once() {
    let h = tls_harness(TlsOptions::expired(), true).await;
    let failed = fails_at_once(&h).await;
    assert!(failed.starts_with("CertificateExpired: "), "{failed}");
}

/// Behind a captive portal (the OS reports the network as not validated) nothing is sent, so
/// the portal's interception cannot fail the file: it waits for the network, saying so. Once
/// the network is validated and the certificate still does not verify, it fails at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_captive_portal_the_file_waits_for_the_network() {
    let h = Harness::with_sim(
        SimConfig {
            tls: Some(TlsOptions::default()),
            ..SimConfig::default()
        },
        |_| {},
    )
    .await;
    h.use_account_key();
    h.engine.set_network_state(network(false));
    let (path, _) = h.file("portal.mp4", 150 * 1024);
    let id = h.add(&path);
    h.engine.start();
    h.events
        .wait_for("waiting(network)", |ev| {
            ev.iter().any(|e| {
                matches!(e, Event::Waiting { file, reason: WaitingReason::Network } if file.id == id)
            })
        })
        .await;
    assert_eq!(
        h.sim.stats().connections,
        0,
        "nothing sent behind the portal"
    );
    h.engine.set_network_state(network(true));
    h.events
        .wait_for("failed once the network is validated", |ev| {
            ev.iter().any(
                |e| matches!(e, Event::Failed { file, code, .. } if file.id == id && code == "CertificateUntrusted"),
            )
        })
        .await;
    assert_eq!(h.events.count(|e| matches!(e, Event::Retry { .. })), 0);
}

/// The same simulator, trusted: the upload goes through (the classification refuses only
/// what does not verify).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_certificate_uploads() {
    let h = tls_harness(TlsOptions::default(), true).await;
    h.use_account_key();
    let (path, data) = h.file("ok.mp4", 150 * 1024);
    let id = h.add(&path);
    h.engine.start();
    let result = h.events.wait_succeeded(&id).await;
    assert_eq!(result.bytes, data.len() as u64);
}
