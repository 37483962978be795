//! The HTTP client (reqwest over rustls with the ring provider), endpoint validation, the
//! server-corrected clock, and the mapping of reqwest failures to [`Error::Transport`].

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::Url;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::error::{CertificateProblem, Error, Result, TransportKind};
use crate::model::Config;

/// Network settings shared by the OSS and VOD clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Upper bound for one request that streams no file (Initiate, Complete, ListParts,
    /// Abort, Head, VOD/STS calls), response body included.
    pub request_timeout: Duration,
    /// A file upload fails with a `Timeout` when no body byte moves (and no response arrives)
    /// for this long.
    pub stall_timeout: Duration,
    /// Permit `http://` endpoints (simulator, tests). HTTPS only otherwise.
    pub allow_http: bool,
    /// PEM roots trusted in addition to the platform's ([`Config::extra_root_certificates`]).
    pub extra_root_certificates: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig::from_config(&Config::default())
    }
}

impl HttpConfig {
    /// The network part of the engine configuration.
    pub fn from_config(config: &Config) -> HttpConfig {
        HttpConfig {
            connect_timeout: config.connect_timeout,
            request_timeout: config.request_timeout,
            stall_timeout: config.stall_timeout,
            allow_http: config.allow_http,
            extra_root_certificates: config.extra_root_certificates.clone(),
        }
    }
}

/// Builds the HTTP client: rustls with the `ring` provider (pure Rust, cross-compiles for
/// Android and iOS without cmake/NASM); trust roots from the OS verifier
/// (`rustls-platform-verifier`: Security.framework on iOS/macOS, the system store elsewhere),
/// except on Android, where that verifier needs a JNI context our JNA bindings never have, so
/// Mozilla's roots (`webpki-roots`) are compiled in. HTTP/1.1 only, no proxies from the
/// environment, no redirects (a redirected signed request cannot verify anyway).
/// `extra_root_certificates` are trusted on top of either root set.
pub fn build_client(config: &HttpConfig) -> Result<reqwest::Client> {
    let tls = tls_config(parse_root_certificates(&config.extra_root_certificates)?)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(config.connect_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(16)
        .tcp_nodelay(true)
        .tcp_keepalive(Duration::from_secs(30))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("vod-upload/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::InvalidArgument(format!("cannot build the HTTP client: {e}")))
}

/// The certificates in PEM strings, refused with the index of the string at fault when one
/// holds no certificate or a malformed one.
pub fn parse_root_certificates(pems: &[String]) -> Result<Vec<CertificateDer<'static>>> {
    let mut roots = Vec::new();
    for (i, pem) in pems.iter().enumerate() {
        roots.extend(root_certificates_from_pem(pem).map_err(|e| match e {
            Error::InvalidArgument(why) => {
                Error::InvalidArgument(format!("extra_root_certificates[{i}]: {why}"))
            }
            other => other,
        })?);
    }
    Ok(roots)
}

/// The CA certificates in one PEM text (one or more `BEGIN CERTIFICATE` blocks).
pub fn root_certificates_from_pem(pem: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bad = |why: String| Error::InvalidArgument(why);
    let mut roots = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| bad(format!("invalid PEM: {e}")))?;
        // Refuse garbage now rather than as a handshake failure on the first upload.
        rustls::RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| bad(format!("not a usable CA certificate: {e}")))?;
        roots.push(cert);
    }
    if roots.is_empty() {
        return Err(bad("no \"-----BEGIN CERTIFICATE-----\" block found".into()));
    }
    Ok(roots)
}

fn tls_config(extra_roots: Vec<CertificateDer<'static>>) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::InvalidArgument(format!("TLS configuration: {e}")))?;
    let trust_error = |e: rustls::Error| Error::InvalidArgument(format!("TLS trust store: {e}"));
    #[cfg(target_os = "android")]
    let builder = {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for cert in extra_roots {
            roots.add(cert).map_err(trust_error)?;
        }
        builder.with_root_certificates(roots)
    };
    #[cfg(not(target_os = "android"))]
    let builder = {
        let provider = builder.crypto_provider().clone();
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider)
                .map_err(trust_error)?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
    };
    let mut tls = builder.with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

/// Parses and checks an endpoint: `https://` (or `http://` when `allow_http`), with a host.
/// A missing scheme means `https://`. The error never echoes a query string.
pub fn validate_endpoint(url: &str, allow_http: bool) -> Result<Url> {
    let normalized = crate::protocol::credentials::normalize_endpoint(url);
    let parsed = Url::parse(&normalized).map_err(|e| {
        Error::InvalidArgument(format!(
            "invalid endpoint {}: {e}",
            strip_query(&normalized)
        ))
    })?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(Error::InvalidArgument(format!(
                "endpoint {} uses plain http; only https is allowed unless allow_http is set",
                redact_url(&parsed)
            )));
        }
        other => {
            return Err(Error::InvalidArgument(format!(
                "endpoint scheme {other:?} is not supported (use https)"
            )));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::InvalidArgument(format!(
            "endpoint {} has no host",
            redact_url(&parsed)
        )));
    }
    Ok(parsed)
}

/// The URL without query, fragment or user info: safe for errors and logs (RPC queries carry
/// `SecurityToken` and `Signature`).
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

fn strip_query(s: &str) -> &str {
    s.split(['?', '#']).next().unwrap_or(s)
}

/// Maps a reqwest failure to [`Error::Transport`]. The message holds the error chain and the
/// URL without its query; never a secret.
pub fn map_reqwest_error(err: reqwest::Error, url: &Url) -> Error {
    let (kind, certificate) = classify(&err);
    let err = err.without_url();
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message.push_str(" (");
    message.push_str(&redact_url(url));
    message.push(')');
    match certificate {
        Some(problem) => Error::Certificate { problem, message },
        None => Error::Transport { kind, message },
    }
}

/// What a rustls error says about the server's certificate, if it is about it.
fn certificate_problem(e: &rustls::Error) -> Option<CertificateProblem> {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(c) = e else {
        return None;
    };
    Some(match c {
        C::UnknownIssuer => CertificateProblem::UnknownIssuer,
        C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => {
            CertificateProblem::Expired
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => CertificateProblem::WrongHost,
        C::Revoked => CertificateProblem::Revoked,
        _ => CertificateProblem::Other,
    })
}

fn classify(err: &reqwest::Error) -> (TransportKind, Option<CertificateProblem>) {
    if err.is_timeout() {
        return (TransportKind::Timeout, None);
    }
    let mut io_kind = None;
    let mut tls = false;
    let mut certificate = None;
    let mut saw = |e: &rustls::Error| {
        certificate = certificate.or_else(|| certificate_problem(e));
    };
    let mut text = String::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(e) = s.downcast_ref::<rustls::Error>() {
            tls = true;
            saw(e);
        }
        // `io::Error::source()` skips the error it wraps, and the TLS connector nests one
        // io::Error in another, so walk the wrapped errors by hand.
        let mut io = s.downcast_ref::<std::io::Error>();
        while let Some(e) = io {
            io_kind.get_or_insert(e.kind());
            let inner = e.get_ref();
            if let Some(e) = inner.and_then(|i| i.downcast_ref::<rustls::Error>()) {
                tls = true;
                saw(e);
            }
            io = inner.and_then(|i| i.downcast_ref::<std::io::Error>());
        }
        text.push_str(&s.to_string().to_ascii_lowercase());
        text.push('\n');
        source = s.source();
    }
    let kind = kind_of(err, tls, io_kind, &text);
    (kind, certificate)
}

fn kind_of(
    err: &reqwest::Error,
    tls: bool,
    io_kind: Option<std::io::ErrorKind>,
    text: &str,
) -> TransportKind {
    use std::io::ErrorKind as K;
    if tls {
        return TransportKind::Tls;
    }
    if io_kind == Some(K::TimedOut) {
        return TransportKind::Timeout;
    }
    if err.is_connect() {
        return TransportKind::Connect;
    }
    if matches!(
        io_kind,
        Some(
            K::ConnectionReset
                | K::ConnectionAborted
                | K::BrokenPipe
                | K::UnexpectedEof
                | K::NotConnected
        )
    ) || text.contains("connection closed")
        || text.contains("connection reset")
        || text.contains("incomplete")
    {
        return TransportKind::Reset;
    }
    TransportKind::Other
}

/// Local time corrected by the offset to server time learnt from `RequestTimeTooSkewed`
/// responses. Clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Server time minus local time, in milliseconds.
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn new() -> Clock {
        Clock::default()
    }

    /// The current server-corrected time.
    pub fn now(&self) -> SystemTime {
        let offset = self.offset_ms.load(Ordering::Relaxed);
        let local = SystemTime::now();
        if offset >= 0 {
            local + Duration::from_millis(offset.unsigned_abs())
        } else {
            local
                .checked_sub(Duration::from_millis(offset.unsigned_abs()))
                .unwrap_or(local)
        }
    }

    /// Server time minus local time.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Learns the offset from a server `Date` received just now.
    pub fn correct(&self, server_now: SystemTime) {
        let local = SystemTime::now();
        let offset = match server_now.duration_since(local) {
            Ok(ahead) => i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX),
            Err(behind) => -i64::try_from(behind.duration().as_millis()).unwrap_or(i64::MAX),
        };
        self.offset_ms.store(offset, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_require_https_unless_allowed() {
        assert_eq!(
            validate_endpoint("oss-cn-shanghai.aliyuncs.com", false)
                .unwrap()
                .as_str(),
            "https://oss-cn-shanghai.aliyuncs.com/"
        );
        let e = validate_endpoint("http://127.0.0.1:9000", false).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)));
        assert!(e.to_string().contains("allow_http"), "{e}");
        assert!(validate_endpoint("http://127.0.0.1:9000/", true).is_ok());
        let e = validate_endpoint("ftp://x?SecurityToken=secret", true).unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        let e = validate_endpoint("https://", true).unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn redaction_strips_query_and_user_info() {
        let u = Url::parse(
            "https://u:p@vod.cn-shanghai.aliyuncs.com/?SecurityToken=CAIS&Signature=x#f",
        )
        .unwrap();
        assert_eq!(redact_url(&u), "https://vod.cn-shanghai.aliyuncs.com/");
    }

    #[test]
    fn clock_offset() {
        let c = Clock::new();
        let shared = c.clone();
        c.correct(SystemTime::now() + Duration::from_secs(3600));
        let off = shared.offset_ms();
        assert!((3_599_000..=3_600_000).contains(&off), "{off}");
        let ahead = shared.now().duration_since(SystemTime::now()).unwrap();
        assert!(ahead > Duration::from_secs(3590));
        c.correct(SystemTime::now() - Duration::from_secs(60));
        assert!(c.offset_ms() <= -59_000);
    }

    #[test]
    fn client_builds_with_ring() {
        build_client(&HttpConfig::default()).unwrap();
    }

    #[tokio::test]
    async fn connect_errors_are_classified_and_redacted() {
        // Bind then drop a listener: the port is (almost certainly) closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let client = build_client(&HttpConfig::default()).unwrap();
        let url = Url::parse(&format!(
            "http://127.0.0.1:{port}/?SecurityToken=CAISsecret"
        ))
        .unwrap();
        let err = client.get(url.clone()).send().await.unwrap_err();
        let e = map_reqwest_error(err, &url);
        let Error::Transport { kind, message } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(*kind, TransportKind::Connect, "{message}");
        assert!(!message.contains("CAISsecret"), "{message}");
        assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    }
}
