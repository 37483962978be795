//! Credentials the app hands to the engine, and the optional provider that renews them
//! without pausing.

use std::time::SystemTime;

use futures_util::future::BoxFuture;

use crate::model::FileInfo;

/// Why the engine asks the provider for credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialReason {
    /// The file has none yet (mode 1: no `set_upload_auth_and_address` so far).
    Initial,
    /// The service rejected the current ones as expired.
    Expired,
    /// The current ones expire soon (`Config::refresh_ahead`); renewing now avoids a pause.
    Refresh,
}

/// A request to the app's [`CredentialProvider`].
#[derive(Debug, Clone)]
pub struct CredentialRequest {
    pub file: FileInfo,
    pub reason: CredentialReason,
    /// The file's VOD video id, when known: the app server calls RefreshUploadVideo with it
    /// so the upload continues into the same object.
    pub video_id: Option<String>,
}

/// What a provider returns.
#[derive(Clone)]
pub enum ProvidedCredentials {
    /// Mode 1: a new UploadAuth, with the UploadAddress when it is the first one for the file.
    UploadAuth {
        upload_auth: String,
        upload_address: Option<String>,
        video_id: Option<String>,
    },
    /// Mode 2: an STS token (the engine calls the VOD API with it).
    StsToken {
        access_key_id: String,
        access_key_secret: String,
        security_token: Option<String>,
        expiration: Option<SystemTime>,
    },
}

impl std::fmt::Debug for ProvidedCredentials {
    // Never print a secret, even in debug logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProvidedCredentials::UploadAuth { video_id, .. } => f
                .debug_struct("UploadAuth")
                .field("video_id", video_id)
                .finish_non_exhaustive(),
            ProvidedCredentials::StsToken {
                access_key_id,
                expiration,
                ..
            } => f
                .debug_struct("StsToken")
                .field("access_key_id", access_key_id)
                .field("expiration", expiration)
                .finish_non_exhaustive(),
        }
    }
}

/// Renews credentials on the engine's behalf (e.g. by calling the app's server), so uploads
/// continue without `token_expired` pauses. The engine calls it one request at a time.
pub trait CredentialProvider: Send + Sync {
    fn fetch(
        &self,
        request: CredentialRequest,
    ) -> BoxFuture<'static, Result<ProvidedCredentials, String>>;
}
