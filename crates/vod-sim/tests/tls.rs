//! HTTPS: the simulator serves TLS with a private CA's certificate, trusted by nothing but a
//! client given that CA, and can present certificates a client must refuse.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::start_with;
use vod_sim::{SimConfig, TlsOptions};

/// A client that trusts `ca_pem` only (no system roots, so the result never depends on the
/// machine).
fn client(ca_pem: Option<&str>) -> reqwest::Client {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in ca_pem
        .into_iter()
        .flat_map(|p| CertificateDer::pem_slice_iter(p.as_bytes()))
    {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn get_stats(client: &reqwest::Client, base: &str) -> Result<u16, String> {
    client
        .get(format!("{base}/_sim/stats"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test]
async fn https_with_the_private_ca() {
    let sim = start_with(SimConfig {
        tls: Some(TlsOptions::default()),
        ..SimConfig::default()
    })
    .await;
    let base = sim.endpoint().to_owned();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    assert_eq!(sim.info().vod_endpoint, base);
    let ca = sim.tls_ca_pem().expect("a CA").to_owned();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(get_stats(&client(Some(&ca)), &base).await, Ok(200));
    // localhost is in the certificate too.
    let local = base.replace("127.0.0.1", "localhost");
    assert_eq!(get_stats(&client(Some(&ca)), &local).await, Ok(200));
    // Without the CA the handshake fails, and plain HTTP gets no answer.
    let refused = get_stats(&client(None), &base).await.unwrap_err();
    assert!(refused.contains("UnknownIssuer"), "{refused}");
    let plain = base.replace("https://", "http://");
    assert!(get_stats(&client(Some(&ca)), &plain).await.is_err());
    assert!(sim.stats().connections >= 3);
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused() {
    let sim = start_with(SimConfig {
        tls: Some(TlsOptions::for_names(["oss-cn-shanghai.example"])),
        ..SimConfig::default()
    })
    .await;
    let ca = sim.tls_ca_pem().unwrap().to_owned();
    let err = get_stats(&client(Some(&ca)), sim.endpoint())
        .await
        .unwrap_err();
    assert!(err.contains("NotValidForName"), "{err}");
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let sim = start_with(SimConfig {
        tls: Some(TlsOptions::expired()),
        ..SimConfig::default()
    })
    .await;
    let ca = sim.tls_ca_pem().unwrap().to_owned();
    let err = get_stats(&client(Some(&ca)), sim.endpoint())
        .await
        .unwrap_err();
    assert!(err.contains("Expired"), "{err}");
}

#[tokio::test]
async fn plain_http_has_no_ca() {
    let sim = start_with(SimConfig::default()).await;
    assert!(sim.tls_ca_pem().is_none());
    assert!(sim.endpoint().starts_with("http://"));
}
