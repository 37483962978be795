//! VOD OpenAPI (CreateUploadVideo, RefreshUploadVideo, CreateUploadImage) and STS AssumeRole
//! over signed RPC GET requests (protocol.md §6).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use reqwest::Url;
use serde::de::DeserializeOwned;

use super::http::{Clock, map_reqwest_error, redact_url};
use crate::error::{Error, ErrorClass, Result, Service};
use crate::model::{BusinessType, VodInfo};
use crate::protocol::credentials::{Credentials, UploadAddress, UploadAuth, parse_utc_time};
use crate::protocol::error::{parse_date, parse_vod_error};
use crate::protocol::rpc::signed_query;
use crate::protocol::vod::{
    AssumeRoleResponse, CreateUploadAttachedMediaResponse, CreateUploadImageResponse,
    CreateUploadVideoResponse, RefreshUploadVideoResponse, assume_role_params,
    create_upload_attached_media_params, create_upload_image_params, create_upload_video_params,
    refresh_upload_video_params,
};

/// Default timeout of one RPC call.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// RPC responses are small JSON documents.
const MAX_BODY: usize = 1024 * 1024;

/// `https://vod.{region}.aliyuncs.com`.
pub fn default_vod_endpoint(region: &str) -> String {
    format!("https://vod.{region}.aliyuncs.com")
}

/// `https://sts.aliyuncs.com` (the global STS endpoint).
pub fn default_sts_endpoint() -> String {
    "https://sts.aliyuncs.com".into()
}

/// What CreateUploadVideo / RefreshUploadVideo return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoTicket {
    pub video_id: String,
    pub upload_address: UploadAddress,
    pub upload_auth: UploadAuth,
    pub request_id: String,
}

/// What CreateUploadImage returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageTicket {
    pub image_id: String,
    pub image_url: String,
    pub upload_address: UploadAddress,
    pub upload_auth: UploadAuth,
    pub request_id: String,
}

/// What CreateUploadAttachedMedia returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaTicket {
    pub media_id: String,
    /// The file's URL (`MediaURL`, else `FileURL`).
    pub media_url: String,
    pub upload_address: UploadAddress,
    pub upload_auth: UploadAuth,
    pub request_id: String,
}

/// Shared RPC plumbing for VOD and STS.
#[derive(Debug, Clone)]
pub(super) struct RpcClient {
    http: reqwest::Client,
    endpoint: Url,
    service: Service,
    region: Option<String>,
    timeout: Duration,
    clock: Clock,
}

impl RpcClient {
    /// Signs with `creds` and GETs; a timestamp rejection corrects the clock from the
    /// response `Date` and repeats the call once (with a new nonce).
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        creds: &Credentials,
        mut params: BTreeMap<String, String>,
    ) -> Result<T> {
        if let Some(region) = &self.region {
            params
                .entry("RegionId".into())
                .or_insert_with(|| region.clone());
        }
        let mut retried = false;
        loop {
            match self.attempt(creds, &params).await {
                Err(Error::Service(e))
                    if !retried
                        && e.server_date.is_some()
                        && Error::Service(e.clone()).class(creds.is_sts())
                            == ErrorClass::ClockSkew =>
                {
                    if let Some(date) = e.server_date {
                        self.clock.correct(date);
                    }
                    retried = true;
                }
                other => return other,
            }
        }
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        creds: &Credentials,
        params: &BTreeMap<String, String>,
    ) -> Result<T> {
        let nonce = uuid::Uuid::new_v4().to_string();
        let query = signed_query("GET", params, creds, self.clock.now(), &nonce);
        let mut url = self.endpoint.clone();
        // The query is fully percent-encoded already, so Url keeps it byte for byte.
        url.set_query(Some(&query));
        let response = self
            .http
            .get(url)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| map_reqwest_error(e, &self.endpoint))?;
        let status = response.status();
        let date = response
            .headers()
            .get("date")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        let mut response = response;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| map_reqwest_error(e, &self.endpoint))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(self.protocol_error(format!("response larger than {MAX_BODY} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let mut err = parse_vod_error(self.service, status.as_u16(), &body);
            err.server_date = parse_date(date.as_deref());
            return Err(err.into());
        }
        serde_json::from_slice(&body).map_err(|e| {
            self.protocol_error(format!(
                "cannot parse the response (HTTP {}): {e}",
                status.as_u16()
            ))
        })
    }

    fn protocol_error(&self, message: String) -> Error {
        Error::Protocol {
            service: self.service,
            message: format!("{message} ({})", redact_url(&self.endpoint)),
        }
    }
}

/// A VOD OpenAPI client (mode 2: the app's STS token or an access key signs the calls).
#[derive(Debug, Clone)]
pub struct VodClient {
    pub(super) rpc: RpcClient,
}

impl VodClient {
    /// A client for `endpoint` (check it first with
    /// [`validate_endpoint`](super::http::validate_endpoint)). `RegionId` is sent when the
    /// host is `vod.<region>.aliyuncs.com` or [`with_region`](Self::with_region) sets one.
    pub fn new(http: reqwest::Client, endpoint: Url) -> VodClient {
        let region = region_from_vod_host(endpoint.host_str().unwrap_or_default());
        VodClient {
            rpc: RpcClient {
                http,
                endpoint,
                service: Service::Vod,
                region,
                timeout: DEFAULT_TIMEOUT,
                clock: Clock::new(),
            },
        }
    }

    /// This client's settings (HTTP client, clock, timeout) for another region: `endpoint`
    /// and `RegionId=region`.
    pub fn for_region(&self, endpoint: Url, region: &str) -> VodClient {
        let mut rpc = self.rpc.clone();
        rpc.endpoint = endpoint;
        rpc.region = Some(region.to_owned());
        VodClient { rpc }
    }

    /// Sends `RegionId=region` with every call.
    pub fn with_region(mut self, region: impl Into<String>) -> VodClient {
        self.rpc.region = Some(region.into());
        self
    }

    /// Per-call timeout (default 30 s).
    pub fn with_timeout(mut self, timeout: Duration) -> VodClient {
        self.rpc.timeout = timeout;
        self
    }

    /// Shares `clock` (e.g. the OSS client's) for request timestamps.
    pub fn with_clock(mut self, clock: Clock) -> VodClient {
        self.rpc.clock = clock;
        self
    }

    /// CreateUploadVideo for a video or audio file. `file_name` must carry the extension.
    pub async fn create_upload_video(
        &self,
        creds: &Credentials,
        file_name: &str,
        file_size: u64,
        info: &VodInfo,
    ) -> Result<VideoTicket> {
        let params = create_upload_video_params(file_name, file_size, info);
        let r: CreateUploadVideoResponse = self.rpc.call(creds, params).await?;
        video_ticket(r.video_id, &r.upload_address, &r.upload_auth, r.request_id)
    }

    /// RefreshUploadVideo: new credentials for the same upload address.
    pub async fn refresh_upload_video(
        &self,
        creds: &Credentials,
        video_id: &str,
    ) -> Result<VideoTicket> {
        let params = refresh_upload_video_params(video_id);
        let r: RefreshUploadVideoResponse = self.rpc.call(creds, params).await?;
        let id = if r.video_id.is_empty() {
            video_id.to_owned()
        } else {
            r.video_id
        };
        video_ticket(id, &r.upload_address, &r.upload_auth, r.request_id)
    }

    /// CreateUploadImage (`ImageType=default`, `ImageExt` from the file name).
    pub async fn create_upload_image(
        &self,
        creds: &Credentials,
        file_name: &str,
        info: &VodInfo,
    ) -> Result<ImageTicket> {
        let params = create_upload_image_params(file_name, info);
        let r: CreateUploadImageResponse = self.rpc.call(creds, params).await?;
        Ok(ImageTicket {
            image_id: r.image_id,
            image_url: r.image_url,
            upload_address: UploadAddress::decode(&r.upload_address)?,
            upload_auth: UploadAuth::decode(&r.upload_auth, SystemTime::now())?,
            request_id: r.request_id,
        })
    }

    /// CreateUploadAttachedMedia (watermark, subtitle, material). No refresh call exists: on
    /// expiry it is created again.
    pub async fn create_upload_attached_media(
        &self,
        creds: &Credentials,
        file_name: &str,
        file_size: u64,
        business: BusinessType,
        media_ext: Option<&str>,
        info: &VodInfo,
    ) -> Result<MediaTicket> {
        let params =
            create_upload_attached_media_params(file_name, file_size, business, media_ext, info);
        let r: CreateUploadAttachedMediaResponse = self.rpc.call(creds, params).await?;
        Ok(MediaTicket {
            media_id: r.media_id,
            media_url: if r.media_url.is_empty() {
                r.file_url
            } else {
                r.media_url
            },
            upload_address: UploadAddress::decode(&r.upload_address)?,
            upload_auth: UploadAuth::decode(&r.upload_auth, SystemTime::now())?,
            request_id: r.request_id,
        })
    }
}

fn video_ticket(
    video_id: String,
    address: &str,
    auth: &str,
    request_id: String,
) -> Result<VideoTicket> {
    Ok(VideoTicket {
        video_id,
        upload_address: UploadAddress::decode(address)?,
        // Expiry relative to the local clock, which is what the engine compares it with.
        upload_auth: UploadAuth::decode(auth, SystemTime::now())?,
        request_id,
    })
}

fn region_from_vod_host(host: &str) -> Option<String> {
    let rest = host.to_ascii_lowercase();
    let region = rest
        .strip_prefix("vod.")
        .or_else(|| rest.strip_prefix("vod-vpc."))?
        .strip_suffix(".aliyuncs.com")?;
    (!region.is_empty() && !region.contains('.')).then(|| region.to_owned())
}

/// An STS client (AssumeRole with an account or RAM user key).
#[derive(Debug, Clone)]
pub struct StsClient {
    rpc: RpcClient,
}

impl StsClient {
    /// A client for `endpoint`, e.g. [`default_sts_endpoint`] or the simulator's.
    pub fn new(http: reqwest::Client, endpoint: Url) -> StsClient {
        StsClient {
            rpc: RpcClient {
                http,
                endpoint,
                service: Service::Sts,
                region: None,
                timeout: DEFAULT_TIMEOUT,
                clock: Clock::new(),
            },
        }
    }

    /// Per-call timeout (default 30 s).
    pub fn with_timeout(mut self, timeout: Duration) -> StsClient {
        self.rpc.timeout = timeout;
        self
    }

    /// AssumeRole: temporary credentials for `role_arn`, valid `duration_seconds`
    /// (STS accepts 900..=43200, capped by the role's maximum).
    pub async fn assume_role(
        &self,
        creds: &Credentials,
        role_arn: &str,
        session_name: &str,
        duration_seconds: u64,
    ) -> Result<Credentials> {
        let params = assume_role_params(role_arn, session_name, duration_seconds);
        let r: AssumeRoleResponse = self.rpc.call(creds, params).await?;
        let c = r.credentials;
        if c.access_key_id.is_empty()
            || c.access_key_secret.is_empty()
            || c.security_token.is_empty()
        {
            return Err(self
                .rpc
                .protocol_error("AssumeRole returned incomplete credentials".into()));
        }
        Ok(Credentials::sts(
            c.access_key_id,
            c.access_key_secret,
            c.security_token,
            parse_utc_time(&c.expiration),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_regions() {
        assert_eq!(
            default_vod_endpoint("cn-beijing"),
            "https://vod.cn-beijing.aliyuncs.com"
        );
        assert_eq!(
            region_from_vod_host("vod.cn-shanghai.aliyuncs.com").as_deref(),
            Some("cn-shanghai")
        );
        assert_eq!(
            region_from_vod_host("vod-vpc.ap-southeast-1.aliyuncs.com").as_deref(),
            Some("ap-southeast-1")
        );
        assert_eq!(region_from_vod_host("vod.aliyuncs.com"), None);
        assert_eq!(region_from_vod_host("127.0.0.1"), None);
        let http = super::super::http::build_client(&Default::default()).unwrap();
        let c = VodClient::new(
            http.clone(),
            Url::parse("https://vod.cn-shanghai.aliyuncs.com").unwrap(),
        );
        assert_eq!(c.rpc.region.as_deref(), Some("cn-shanghai"));
        let c = VodClient::new(http, Url::parse("http://127.0.0.1:1").unwrap())
            .with_region("cn-beijing");
        assert_eq!(c.rpc.region.as_deref(), Some("cn-beijing"));
    }
}
