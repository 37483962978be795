//! The one error type apps see, and the error foreign callbacks report.
//!
//! [`VodUploadError`] is a flat view of [`crate::Error`]: one variant per thing an app can act
//! on, not per internal cause. Kotlin names it `VodUploadException`; Swift and Python keep
//! `VodUploadError`. The human text lives in `detail` (not `message`, which Kotlin's exception
//! classes already own).

use crate::error::{Error, Service};

/// What went wrong, grouped by what the app can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum VodUploadError {
    /// A value the app passed is invalid: configuration, a file that cannot be added, a
    /// malformed argument. A bug in the caller; retrying the same call will not help. (A call
    /// that merely does not apply in the current state, such as `pause` when nothing runs or
    /// `cancelFile` for a finished file, is ignored instead, as the native SDK does.)
    #[error("invalid argument: {detail}")]
    InvalidArgument { detail: String },
    /// An UploadAuth, UploadAddress or STS token could not be decoded or is incomplete: fetch
    /// new ones from the app server.
    #[error("invalid credentials: {detail}")]
    Credentials { detail: String },
    /// The local file does not exist (or is gone).
    #[error("file not found: {path}")]
    FileNotFound { path: String },
    /// The local file exists but cannot be read (permission, I/O error, not a regular file).
    #[error("cannot read {path}: {detail}")]
    FileUnreadable { path: String, detail: String },
    /// The local file changed on disk after its upload started; add it again.
    #[error("file changed on disk: {path}")]
    FileChanged { path: String },
    /// No usable response: no connection, timeout, reset, TLS failure, or a garbled answer
    /// (a captive portal's page). Retry later or on another network.
    #[error("network error: {detail}")]
    Network { detail: String },
    /// OSS, VOD or STS answered with an error. `code` is the service's code (e.g.
    /// `AccessDenied`); quote `request_id` to Alibaba Cloud support.
    #[error("{service} error {code} (HTTP {status}): {detail}")]
    Service {
        service: String,
        status: i32,
        code: String,
        detail: String,
        request_id: Option<String>,
    },
    /// The data arrived corrupted (CRC-64 mismatch); the upload is retried by itself.
    #[error("integrity check failed: {detail}")]
    Integrity { detail: String },
    /// The checkpoint database failed (disk full, unreadable file).
    #[error("checkpoint database error: {detail}")]
    Database { detail: String },
    /// The operation was cancelled (pause, stop, network policy, shutdown).
    #[error("cancelled")]
    Cancelled,
    /// The client was shut down; create a new one.
    #[error("the client is shut down")]
    Closed,
}

impl From<Error> for VodUploadError {
    fn from(e: Error) -> Self {
        let detail = e.to_string();
        match e {
            Error::InvalidArgument(d) => VodUploadError::InvalidArgument { detail: d },
            Error::InvalidUploadAuth(_) | Error::InvalidUploadAddress(_) => {
                VodUploadError::Credentials { detail }
            }
            Error::Service(s) => VodUploadError::Service {
                service: service_name(s.service).into(),
                status: i32::from(s.status),
                code: s.code,
                detail: s.message,
                request_id: s.request_id,
            },
            Error::Transport { .. } | Error::Protocol { .. } | Error::Certificate { .. } => {
                VodUploadError::Network { detail }
            }
            Error::Integrity { .. } => VodUploadError::Integrity { detail },
            Error::File { path, source } => {
                let path = path.display().to_string();
                if source.kind() == std::io::ErrorKind::NotFound {
                    VodUploadError::FileNotFound { path }
                } else {
                    VodUploadError::FileUnreadable {
                        path,
                        detail: source.to_string(),
                    }
                }
            }
            Error::FileChanged(path) => VodUploadError::FileChanged {
                path: path.display().to_string(),
            },
            Error::Store(e) => VodUploadError::Database { detail: e.message },
            Error::UploadMoved(_) | Error::Internal(_) => VodUploadError::Network { detail },
            Error::Cancelled => VodUploadError::Cancelled,
        }
    }
}

fn service_name(s: Service) -> &'static str {
    match s {
        Service::Oss => "OSS",
        Service::Vod => "VOD",
        Service::Sts => "STS",
    }
}

/// What a foreign callback (listener, log sink, credential provider) reports back.
///
/// Implementations never need to throw it: any exception they throw arrives here as
/// `Unexpected`, so a bug in app code is logged and never crashes or stalls the engine.
/// A credential provider may throw `Unavailable` to say "no credentials right now" (the file
/// then waits for `resumeWithAuth` / `resumeWithToken`, as without a provider).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum CallbackError {
    /// The callback could not do its job; `reason` says why.
    #[error("unavailable: {reason}")]
    Unavailable { reason: String },
    /// The callback threw an exception UniFFI did not expect (any app exception).
    #[error("callback threw: {reason}")]
    Unexpected { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for CallbackError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        CallbackError::Unexpected { reason: e.reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ServiceError, TransportKind};

    #[test]
    fn internal_errors_map_to_actionable_variants() {
        let not_found = Error::File {
            path: "/nope.mp4".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert_eq!(
            VodUploadError::from(not_found),
            VodUploadError::FileNotFound {
                path: "/nope.mp4".into()
            }
        );
        let denied = Error::File {
            path: "/x".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        assert!(matches!(
            VodUploadError::from(denied),
            VodUploadError::FileUnreadable { .. }
        ));
        let svc = Error::from(ServiceError {
            service: Service::Oss,
            status: 403,
            code: "AccessDenied".into(),
            message: "no".into(),
            request_id: Some("rid".into()),
            host_id: None,
            ec: None,
            string_to_sign: None,
            server_date: None,
        });
        assert_eq!(
            VodUploadError::from(svc),
            VodUploadError::Service {
                service: "OSS".into(),
                status: 403,
                code: "AccessDenied".into(),
                detail: "no".into(),
                request_id: Some("rid".into()),
            }
        );
        let net = Error::Transport {
            kind: TransportKind::Timeout,
            message: "slow".into(),
        };
        assert!(matches!(
            VodUploadError::from(net),
            VodUploadError::Network { .. }
        ));
        assert!(matches!(
            VodUploadError::from(Error::InvalidUploadAuth("bad base64".into())),
            VodUploadError::Credentials { .. }
        ));
        assert_eq!(
            VodUploadError::from(Error::InvalidArgument("x".into())),
            VodUploadError::InvalidArgument { detail: "x".into() }
        );
    }
}
