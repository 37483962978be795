//! The optional credential provider: the app renews credentials for the engine (typically by
//! asking its own server), so uploads continue without `tokenExpired` pauses.
//!
//! The method is async on purpose: Kotlin implements it as a `suspend fun`, Swift as an
//! `async` method, so the app can call its HTTP client naturally. Python implements it as an
//! `async def`, run on the event loop given to `vod_upload.uniffi_set_event_loop(loop)`: the
//! engine calls it from its own threads, where Python has no running loop. Whatever the
//! language, a provider that throws, or does not answer within
//! `ClientConfig.credentialTimeoutMs`, leaves the file waiting for `resumeWithAuth` /
//! `resumeWithToken` (a `tokenExpired` event), exactly as without a provider.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;

use crate::engine;

use super::error::CallbackError;
use super::types::FileInfo;

/// Why the engine asks for credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CredentialReason {
    /// The file has none yet (mode 1: no `setUploadAuthAndAddress` so far).
    Initial,
    /// The service rejected the current ones as expired.
    Expired,
    /// The current ones expire soon; renewing now avoids a pause.
    Refresh,
}

/// A request to the app's [`CredentialProvider`].
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CredentialRequest {
    pub file: FileInfo,
    pub reason: CredentialReason,
    /// The file's VOD video id when known: the app server calls RefreshUploadVideo with it, so
    /// the upload continues into the same object.
    pub video_id: Option<String>,
}

/// What a provider returns.
#[derive(Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ProvidedCredentials {
    /// Mode 1: a new UploadAuth; with the UploadAddress (and video id) when it is the file's
    /// first.
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
    // Never print a secret, not even in debug logs.
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

impl From<ProvidedCredentials> for engine::ProvidedCredentials {
    fn from(c: ProvidedCredentials) -> Self {
        match c {
            ProvidedCredentials::UploadAuth {
                upload_auth,
                upload_address,
                video_id,
            } => engine::ProvidedCredentials::UploadAuth {
                upload_auth,
                upload_address,
                video_id,
            },
            ProvidedCredentials::StsToken {
                access_key_id,
                access_key_secret,
                security_token,
                expiration,
            } => engine::ProvidedCredentials::StsToken {
                access_key_id,
                access_key_secret,
                security_token,
                expiration,
            },
        }
    }
}

impl From<engine::CredentialReason> for CredentialReason {
    fn from(r: engine::CredentialReason) -> Self {
        match r {
            engine::CredentialReason::Initial => CredentialReason::Initial,
            engine::CredentialReason::Expired => CredentialReason::Expired,
            engine::CredentialReason::Refresh => CredentialReason::Refresh,
        }
    }
}

/// Renews credentials on the engine's behalf. Called one request at a time, from the
/// library's threads. Throw [`CallbackError::Unavailable`] (or anything) when there are none:
/// the file then waits for `resumeWithAuth` / `resumeWithToken`.
#[uniffi::export(foreign)]
#[async_trait::async_trait]
pub trait CredentialProvider: Send + Sync {
    async fn fetch_credentials(
        &self,
        request: CredentialRequest,
    ) -> Result<ProvidedCredentials, CallbackError>;
}

/// Adapts a foreign [`CredentialProvider`] to the engine's, with a time limit.
pub(crate) struct ProviderBridge {
    pub(crate) provider: Arc<dyn CredentialProvider>,
    pub(crate) timeout: Duration,
}

impl engine::CredentialProvider for ProviderBridge {
    fn fetch(
        &self,
        request: engine::CredentialRequest,
    ) -> BoxFuture<'static, Result<engine::ProvidedCredentials, String>> {
        let provider = self.provider.clone();
        let timeout = self.timeout;
        let request = CredentialRequest {
            file: request.file.into(),
            reason: request.reason.into(),
            video_id: request.video_id,
        };
        Box::pin(async move {
            match tokio::time::timeout(timeout, provider.fetch_credentials(request)).await {
                Ok(Ok(creds)) => Ok(creds.into()),
                Ok(Err(e)) => Err(format!("credential provider: {e}")),
                Err(_) => Err(format!(
                    "credential provider did not answer within {timeout:?}"
                )),
            }
        })
    }
}
