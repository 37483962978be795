//! HTTPS: a private CA and a server certificate generated at start (rcgen), served with rustls.
//!
//! The CA is fresh for every simulator, so nothing but a client told about it (its PEM, from
//! [`Simulator::tls_ca_pem`](crate::Simulator::tls_ca_pem) or `vod-sim --tls-cert-out`) trusts
//! the server. [`TlsOptions`] can also issue a certificate a correct client must refuse: for
//! another host, or outside its validity period.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::SimError;

/// The server certificate the simulator presents over HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Names the certificate is issued for: DNS names or IP literals (`127.0.0.1`). Default:
    /// `127.0.0.1`, `::1` and `localhost`, what the printed endpoints point at. Anything else
    /// (e.g. `["other.example"]`) makes a certificate that fails hostname verification.
    pub subject_alt_names: Vec<String>,
    /// Start of the certificate's validity.
    pub not_before: OffsetDateTime,
    /// End of the certificate's validity (a past instant: an expired certificate).
    pub not_after: OffsetDateTime,
}

impl Default for TlsOptions {
    fn default() -> Self {
        let now = OffsetDateTime::now_utc();
        TlsOptions {
            subject_alt_names: vec!["127.0.0.1".into(), "::1".into(), "localhost".into()],
            not_before: now - Duration::from_secs(3600),
            not_after: now + Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl TlsOptions {
    /// A certificate for `names` only (valid dates): a client connecting to 127.0.0.1 sees a
    /// hostname mismatch unless `names` holds it.
    pub fn for_names<S: Into<String>>(names: impl IntoIterator<Item = S>) -> TlsOptions {
        TlsOptions {
            subject_alt_names: names.into_iter().map(Into::into).collect(),
            ..TlsOptions::default()
        }
    }

    /// A certificate for the default names that expired a day ago (valid for the 30 days
    /// before). The CA itself stays valid, so the leaf's dates are what a client refuses.
    pub fn expired() -> TlsOptions {
        let now = OffsetDateTime::now_utc();
        TlsOptions {
            not_before: now - Duration::from_secs(31 * 24 * 3600),
            not_after: now - Duration::from_secs(24 * 3600),
            ..TlsOptions::default()
        }
    }
}

/// A generated CA and the rustls server configuration with the certificate it issued.
pub(crate) struct SimTls {
    pub ca_pem: String,
    pub acceptor: tokio_rustls::TlsAcceptor,
}

impl SimTls {
    pub fn generate(options: &TlsOptions) -> Result<SimTls, SimError> {
        let fail =
            |what: &str, e: &dyn std::fmt::Display| SimError::Config(format!("TLS {what}: {e}"));
        let now = OffsetDateTime::now_utc();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|e| fail("CA parameters", &e))?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "vod-sim private CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        // The CA covers the leaf's period and now, so only the leaf decides expiry.
        ca_params.not_before = options.not_before.min(now) - Duration::from_secs(24 * 3600);
        ca_params.not_after = options.not_after.max(now) + Duration::from_secs(24 * 3600);
        let ca_key = rcgen::KeyPair::generate().map_err(|e| fail("CA key", &e))?;
        let ca = ca_params
            .self_signed(&ca_key)
            .map_err(|e| fail("CA certificate", &e))?;
        let issuer = rcgen::Issuer::new(ca_params, ca_key);

        let mut leaf_params = rcgen::CertificateParams::new(options.subject_alt_names.clone())
            .map_err(|e| fail("server certificate names", &e))?;
        leaf_params.distinguished_name.push(
            rcgen::DnType::CommonName,
            options
                .subject_alt_names
                .first()
                .cloned()
                .unwrap_or_else(|| "vod-sim".into()),
        );
        leaf_params.not_before = options.not_before;
        leaf_params.not_after = options.not_after;
        leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = rcgen::KeyPair::generate().map_err(|e| fail("server key", &e))?;
        let leaf = leaf_params
            .signed_by(&leaf_key, &issuer)
            .map_err(|e| fail("server certificate", &e))?;

        let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| fail("protocol versions", &e))?
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .map_err(|e| fail("server configuration", &e))?;
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(SimTls {
            ca_pem: ca.pem(),
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
        })
    }
}
