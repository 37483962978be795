//! The crate's error type and the retry classification every layer shares.
//!
//! Protocol, transport, store and engine all return [`Error`]; the FFI layer maps it to a
//! flat, app-facing enum. [`Error::class`] is the one place that decides what the engine does
//! about a failure (protocol.md §5.3 and §6.5).

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which service answered with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Object Storage Service (the upload itself).
    Oss,
    /// ApsaraVideo VOD OpenAPI (CreateUploadVideo, ...).
    Vod,
    /// Security Token Service (AssumeRole).
    Sts,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Oss => "OSS",
            Service::Vod => "VOD",
            Service::Sts => "STS",
        })
    }
}

/// An error response from OSS, VOD or STS, with what the app needs to report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub service: Service,
    /// HTTP status.
    pub status: u16,
    /// Service error code, e.g. `SecurityTokenExpired`, `InvalidVideo.NotFound`; when the body
    /// was not a parsable error document, a synthetic `Http<status>` code.
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    pub host_id: Option<String>,
    /// OSS detailed error code (`EC`, e.g. `0002-00000040`).
    pub ec: Option<String>,
    /// OSS's own string-to-sign on `SignatureDoesNotMatch`: the best aid to debug a signer.
    /// It never contains a secret.
    pub string_to_sign: Option<String>,
    /// The response `Date`, used to correct the clock on `RequestTimeTooSkewed`.
    pub server_date: Option<SystemTime>,
}

/// What kind of transport failure happened (all are retried with back-off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// DNS, refused or unreachable.
    Connect,
    /// Connect, request or stall timeout.
    Timeout,
    /// The connection broke while sending or receiving.
    Reset,
    /// TLS handshake or certificate failure.
    Tls,
    /// Anything else reqwest/hyper reports.
    Other,
}

/// Why a server certificate was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateProblem {
    /// Not signed by a trusted root (a private CA missing from `extra_root_certificates`,
    /// or an interception proxy).
    UnknownIssuer,
    /// Expired, or not valid yet (also when the device clock is far off).
    Expired,
    /// Valid, but for another host name.
    WrongHost,
    /// Revoked by its issuer.
    Revoked,
    /// Anything else the verifier refused (bad signature, bad encoding, wrong purpose).
    Other,
}

impl std::fmt::Display for CertificateProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CertificateProblem::UnknownIssuer => "unknown issuer",
            CertificateProblem::Expired => "expired or not yet valid",
            CertificateProblem::WrongHost => "not valid for this host name",
            CertificateProblem::Revoked => "revoked",
            CertificateProblem::Other => "invalid",
        })
    }
}

/// What the engine should do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Credentials expired or were rejected as stale: ask the app (or provider) for new ones,
    /// then continue the same multipart upload.
    TokenExpired,
    /// Our clock is off: correct it from the server's `Date` and retry at once.
    ClockSkew,
    /// Transient: retry with back-off.
    Retryable,
    /// The multipart upload is gone (`NoSuchUpload`): start a new one.
    RestartUpload,
    /// Retrying cannot help: fail the file with code and message.
    Fatal,
}

/// Every failure in the crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The UploadAuth string could not be decoded; the message names the problem and field.
    #[error("invalid UploadAuth: {0}")]
    InvalidUploadAuth(String),
    /// The UploadAddress string could not be decoded; the message names the problem and field.
    #[error("invalid UploadAddress: {0}")]
    InvalidUploadAddress(String),
    /// A caller-supplied value is invalid (configuration, id, endpoint...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The service answered with an error.
    #[error("{} error {} (HTTP {}): {}", .0.service, .0.code, .0.status, .0.message)]
    Service(Box<ServiceError>),
    /// The request did not get a response.
    #[error("network error ({kind:?}): {message}")]
    Transport {
        kind: TransportKind,
        message: String,
    },
    /// The server's TLS certificate did not verify: a wrong or missing CA, an expired
    /// certificate, a wrong host name. Not transient on a validated network (the only kind
    /// the engine sends on): the file fails at once instead of retrying for the whole retry
    /// budget.
    #[error("the server's TLS certificate was rejected ({problem}): {message}")]
    Certificate {
        problem: CertificateProblem,
        message: String,
    },
    /// A CRC-64 the server computed differs from ours: the data was corrupted in transit.
    #[error("integrity check failed for {what}: local CRC-64 {local}, server CRC-64 {server}")]
    Integrity {
        what: String,
        local: u64,
        server: u64,
    },
    /// A local file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The local file changed (size, mtime or content) since its upload started.
    #[error("file changed on disk since its upload started: {}", .0.display())]
    FileChanged(PathBuf),
    /// The server answered something we cannot understand (bad XML/JSON, missing header).
    #[error("unexpected response from {service}: {message}")]
    Protocol { service: Service, message: String },
    /// The checkpoint database failed.
    #[error("checkpoint database error: {0}")]
    Store(StoreError),
    /// The multipart upload cannot continue where it is (the upload address changed): start a
    /// new one.
    #[error("the upload must start again: {0}")]
    UploadMoved(String),
    /// A bug of ours: a background task panicked.
    #[error("internal error: {0}")]
    Internal(String),
    /// The operation was cancelled (pause, network policy, shutdown).
    #[error("cancelled")]
    Cancelled,
}

/// A checkpoint-database failure: what kind (what the app can do about it) and what we were
/// doing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    pub kind: StoreErrorKind,
    pub message: String,
}

/// The kinds of database failure an app can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// No space left on the device.
    DiskFull,
    /// The file or directory is read-only, or permission is denied.
    ReadOnly,
    /// Another connection holds the database.
    Locked,
    /// The file is damaged or not a database (`open_or_recover` moves it aside).
    Corrupt,
    /// A SQLite file that is not ours, or of a newer schema version: left untouched.
    Incompatible,
    /// Anything else (I/O, an unexpected row).
    Other,
}

impl StoreError {
    pub(crate) fn new(kind: StoreErrorKind, message: impl Into<String>) -> StoreError {
        StoreError {
            kind,
            message: message.into(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

impl From<ServiceError> for Error {
    fn from(e: ServiceError) -> Self {
        Error::Service(Box::new(e))
    }
}

impl Error {
    /// Classifies the failure. `using_sts` says whether the request carried an STS security
    /// token: only then is `InvalidAccessKeyId` an expiry rather than a wrong key.
    pub fn class(&self, using_sts: bool) -> ErrorClass {
        match self {
            Error::Service(e) => classify_service(e, using_sts),
            Error::Transport { .. } => ErrorClass::Retryable,
            // Not transient: the engine sends only on networks the OS reports as validated,
            // so a captive portal's interception never gets here (the file waits for the
            // network instead).
            Error::Certificate { .. } => ErrorClass::Fatal,
            // Corrupted in transit: send the part again.
            Error::Integrity { .. } => ErrorClass::Retryable,
            // A garbled response (proxy page, truncated body) is usually transient.
            Error::Protocol { .. } => ErrorClass::Retryable,
            Error::InvalidUploadAuth(_)
            | Error::InvalidUploadAddress(_)
            | Error::InvalidArgument(_)
            | Error::File { .. }
            | Error::FileChanged(_)
            | Error::Store(_)
            | Error::Internal(_)
            | Error::Cancelled => ErrorClass::Fatal,
            Error::UploadMoved(_) => ErrorClass::RestartUpload,
        }
    }

    /// The code an app sees in `failed(code, message)`: the service's code, or one of the
    /// native SDK's client codes (`FileNotExist`, `InvalidArgument`, ...).
    pub fn code(&self) -> String {
        match self {
            Error::Service(e) => e.code.clone(),
            Error::InvalidUploadAuth(_) | Error::InvalidUploadAddress(_) => {
                "MissingArgument".into()
            }
            Error::InvalidArgument(_) => "InvalidArgument".into(),
            Error::Transport { kind, .. } => match kind {
                TransportKind::Timeout => "RequestTimeOut".into(),
                _ => "ClientException".into(),
            },
            Error::Certificate { problem, .. } => match problem {
                CertificateProblem::UnknownIssuer => "CertificateUntrusted".into(),
                CertificateProblem::Expired => "CertificateExpired".into(),
                CertificateProblem::WrongHost => "CertificateNameMismatch".into(),
                CertificateProblem::Revoked => "CertificateRevoked".into(),
                CertificateProblem::Other => "CertificateInvalid".into(),
            },
            Error::Integrity { .. } => "InconsistentCRC".into(),
            Error::File { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => "FileNotExist".into(),
                std::io::ErrorKind::PermissionDenied => "PermissionDenied".into(),
                _ => "FileReadError".into(),
            },
            Error::FileChanged(_) => "FileChanged".into(),
            Error::Protocol { .. } => "InvalidResponse".into(),
            Error::Store(_) => "DatabaseError".into(),
            Error::UploadMoved(_) => "NoSuchUpload".into(),
            Error::Internal(_) => "ClientException".into(),
            Error::Cancelled => "Cancelled".into(),
        }
    }

    /// The service's request id, when there is one (for support tickets).
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Service(e) => e.request_id.as_deref(),
            _ => None,
        }
    }
}

fn classify_service(e: &ServiceError, using_sts: bool) -> ErrorClass {
    let code = e.code.as_str();
    match code {
        "SecurityTokenExpired" | "InvalidSecurityToken.Expired" => ErrorClass::TokenExpired,
        "InvalidAccessKeyId" | "InvalidAccessKeyId.NotFound" if using_sts => {
            ErrorClass::TokenExpired
        }
        c if c.starts_with("InvalidSecurityToken") && using_sts => ErrorClass::TokenExpired,
        "RequestTimeTooSkewed" | "InvalidTimeStamp.Expired" => ErrorClass::ClockSkew,
        "InvalidArgument" if e.message.contains("signing date") => ErrorClass::ClockSkew,
        "NoSuchUpload" => ErrorClass::RestartUpload,
        "RequestTimeout" | "InvalidDigest" | "InternalError" | "ServiceUnavailable"
        | "ServiceUnAvailable" | "Throttling" | "Throttling.User" => ErrorClass::Retryable,
        _ if e.status >= 500 || e.status == 429 => ErrorClass::Retryable,
        _ => ErrorClass::Fatal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(status: u16, code: &str, message: &str) -> Error {
        ServiceError {
            service: Service::Oss,
            status,
            code: code.into(),
            message: message.into(),
            request_id: Some("rid".into()),
            host_id: None,
            ec: None,
            string_to_sign: None,
            server_date: None,
        }
        .into()
    }

    #[test]
    fn classification_follows_protocol_rules() {
        use ErrorClass::*;
        assert_eq!(
            svc(403, "SecurityTokenExpired", "").class(false),
            TokenExpired
        );
        assert_eq!(svc(403, "InvalidAccessKeyId", "").class(true), TokenExpired);
        assert_eq!(svc(403, "InvalidAccessKeyId", "").class(false), Fatal);
        assert_eq!(
            svc(403, "InvalidSecurityToken.Expired", "").class(false),
            TokenExpired
        );
        assert_eq!(
            svc(403, "InvalidSecurityToken.Malformed", "").class(true),
            TokenExpired
        );
        assert_eq!(svc(403, "RequestTimeTooSkewed", "").class(true), ClockSkew);
        assert_eq!(
            svc(
                400,
                "InvalidArgument",
                "Invalid signing date in Authorization header."
            )
            .class(true),
            ClockSkew
        );
        assert_eq!(svc(404, "NoSuchUpload", "").class(true), RestartUpload);
        assert_eq!(svc(500, "InternalError", "").class(true), Retryable);
        assert_eq!(svc(503, "Http503", "").class(true), Retryable);
        assert_eq!(svc(400, "RequestTimeout", "").class(true), Retryable);
        assert_eq!(svc(403, "SignatureDoesNotMatch", "").class(true), Fatal);
        assert_eq!(svc(403, "AccessDenied", "").class(true), Fatal);
        assert_eq!(svc(400, "EntityTooSmall", "").class(true), Fatal);
        let t = Error::Transport {
            kind: TransportKind::Reset,
            message: "reset".into(),
        };
        assert_eq!(t.class(true), Retryable);
    }

    #[test]
    fn codes_match_native_sdk_client_codes() {
        let e = Error::File {
            path: "/nope".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert_eq!(e.code(), "FileNotExist");
        assert!(e.to_string().contains("/nope"));
        assert_eq!(svc(403, "AccessDenied", "no").code(), "AccessDenied");
        assert_eq!(svc(403, "AccessDenied", "no").request_id(), Some("rid"));
    }
}
