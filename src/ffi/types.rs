//! Records and enums of the foreign API, mirroring [`crate::model`], with the conversions.
//!
//! They are separate types (not derives on the model) so the model stays FFI-free and the
//! foreign API can be shaped for apps: optional configuration fields instead of duplicated
//! defaults, millisecond integers instead of durations, `object_key` instead of a field named
//! after a Kotlin keyword.

use std::time::{Duration, SystemTime};

use crate::model;
use crate::protocol;

use super::error::VodUploadError;

/// VOD metadata for a video, audio or image (the native SDK's `VodInfo`). Every field is
/// optional; empty ones are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct VodInfo {
    /// Title; defaults to the file name.
    #[uniffi(default = None)]
    pub title: Option<String>,
    #[uniffi(default = None)]
    pub description: Option<String>,
    /// VOD category id.
    #[uniffi(default = None)]
    pub cate_id: Option<i64>,
    /// At most 16 tags of at most 32 characters each.
    #[uniffi(default)]
    pub tags: Vec<String>,
    #[uniffi(default = None)]
    pub cover_url: Option<String>,
    /// A JSON string (callback configuration, `Extend`, ...).
    #[uniffi(default = None)]
    pub user_data: Option<String>,
    #[uniffi(default = None)]
    pub template_group_id: Option<String>,
    #[uniffi(default = None)]
    pub storage_location: Option<String>,
    #[uniffi(default = None)]
    pub workflow_id: Option<String>,
    #[uniffi(default = None)]
    pub app_id: Option<String>,
    /// Transcode after upload (VOD's default: true).
    #[uniffi(default = None)]
    pub is_process: Option<bool>,
    #[uniffi(default = None)]
    pub is_show_watermark: Option<bool>,
    /// Transcoding priority 1..=10 (VOD's default: 6).
    #[uniffi(default = None)]
    pub priority: Option<i32>,
    /// Images: CreateUploadImage's `ImageType` (default `Default`).
    #[uniffi(default = None)]
    pub image_type: Option<ImageType>,
    /// Images: `png`, `jpg`, `jpeg` or `gif` (default: the file name's extension).
    #[uniffi(default = None)]
    pub image_ext: Option<String>,
}

/// CreateUploadImage's `ImageType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ImageType {
    Default,
    /// A video's cover (the native SDKs' choice).
    Cover,
}

/// CreateUploadAttachedMedia's `BusinessType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum BusinessType {
    Watermark,
    Subtitle,
    Material,
}

impl From<ImageType> for model::ImageType {
    fn from(t: ImageType) -> Self {
        match t {
            ImageType::Default => model::ImageType::Default,
            ImageType::Cover => model::ImageType::Cover,
        }
    }
}

impl From<model::ImageType> for ImageType {
    fn from(t: model::ImageType) -> Self {
        match t {
            model::ImageType::Default => ImageType::Default,
            model::ImageType::Cover => ImageType::Cover,
        }
    }
}

impl From<BusinessType> for model::BusinessType {
    fn from(t: BusinessType) -> Self {
        match t {
            BusinessType::Watermark => model::BusinessType::Watermark,
            BusinessType::Subtitle => model::BusinessType::Subtitle,
            BusinessType::Material => model::BusinessType::Material,
        }
    }
}

impl From<model::BusinessType> for BusinessType {
    fn from(t: model::BusinessType) -> Self {
        match t {
            model::BusinessType::Watermark => BusinessType::Watermark,
            model::BusinessType::Subtitle => BusinessType::Subtitle,
            model::BusinessType::Material => BusinessType::Material,
        }
    }
}

impl VodInfo {
    pub(crate) fn into_model(self) -> Result<model::VodInfo, VodUploadError> {
        let priority = self.priority.map(u8::try_from).transpose().map_err(|_| {
            VodUploadError::InvalidArgument {
                detail: "priority must be 1..=10".into(),
            }
        })?;
        Ok(model::VodInfo {
            title: self.title,
            description: self.description,
            cate_id: self.cate_id,
            tags: self.tags,
            cover_url: self.cover_url,
            user_data: self.user_data,
            template_group_id: self.template_group_id,
            storage_location: self.storage_location,
            workflow_id: self.workflow_id,
            app_id: self.app_id,
            is_process: self.is_process,
            is_show_watermark: self.is_show_watermark,
            priority,
            image_type: self.image_type.map(Into::into),
            image_ext: self.image_ext,
        })
    }
}

impl From<model::VodInfo> for VodInfo {
    fn from(v: model::VodInfo) -> Self {
        VodInfo {
            title: v.title,
            description: v.description,
            cate_id: v.cate_id,
            tags: v.tags,
            cover_url: v.cover_url,
            user_data: v.user_data,
            template_group_id: v.template_group_id,
            storage_location: v.storage_location,
            workflow_id: v.workflow_id,
            app_id: v.app_id,
            is_process: v.is_process,
            is_show_watermark: v.is_show_watermark,
            priority: v.priority.map(i32::from),
            image_type: v.image_type.map(Into::into),
            image_ext: v.image_ext,
        }
    }
}

/// Where a file goes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum UploadTarget {
    /// A VOD video or audio (CreateUploadVideo / RefreshUploadVideo).
    Video,
    /// A VOD image (CreateUploadImage).
    Image,
    /// A watermark, subtitle or material file (CreateUploadAttachedMedia); its MediaId and
    /// URL arrive as the file's `video_id` and `image_url`.
    AttachedMedia {
        business_type: BusinessType,
        /// Default: the file name's extension.
        media_ext: Option<String>,
    },
    /// An object in the app's own OSS bucket, signed with the STS token (the native SDK's
    /// `addFile(path, endpoint, bucket, object)`).
    OwnBucket {
        endpoint: String,
        bucket: String,
        object_key: String,
    },
}

impl From<UploadTarget> for model::UploadTarget {
    fn from(t: UploadTarget) -> Self {
        match t {
            UploadTarget::Video => model::UploadTarget::Video,
            UploadTarget::Image => model::UploadTarget::Image,
            UploadTarget::AttachedMedia {
                business_type,
                media_ext,
            } => model::UploadTarget::AttachedMedia {
                business_type: business_type.into(),
                media_ext,
            },
            UploadTarget::OwnBucket {
                endpoint,
                bucket,
                object_key,
            } => model::UploadTarget::Object {
                endpoint,
                bucket,
                object: object_key,
            },
        }
    }
}

impl From<model::UploadTarget> for UploadTarget {
    fn from(t: model::UploadTarget) -> Self {
        match t {
            model::UploadTarget::Video => UploadTarget::Video,
            model::UploadTarget::Image => UploadTarget::Image,
            model::UploadTarget::AttachedMedia {
                business_type,
                media_ext,
            } => UploadTarget::AttachedMedia {
                business_type: business_type.into(),
                media_ext,
            },
            model::UploadTarget::Object {
                endpoint,
                bucket,
                object,
            } => UploadTarget::OwnBucket {
                endpoint,
                bucket,
                object_key: object,
            },
        }
    }
}

/// A file's state in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FileStatus {
    /// Queued, not started yet.
    Ready,
    /// Being uploaded.
    Uploading,
    /// Started but not sending bytes; `FileInfo.waiting` says why.
    Waiting,
    /// Paused (`pause()`) or stopped (`stop()`).
    Paused,
    /// Skipped with `cancelFile`; `resumeFile` queues it again.
    Canceled,
    Succeeded,
    Failed,
}

impl From<model::FileStatus> for FileStatus {
    fn from(s: model::FileStatus) -> Self {
        match s {
            model::FileStatus::Ready => FileStatus::Ready,
            model::FileStatus::Uploading => FileStatus::Uploading,
            model::FileStatus::Waiting => FileStatus::Waiting,
            model::FileStatus::Paused => FileStatus::Paused,
            model::FileStatus::Canceled => FileStatus::Canceled,
            model::FileStatus::Succeeded => FileStatus::Succeeded,
            model::FileStatus::Failed => FileStatus::Failed,
        }
    }
}

/// Why a started file is not sending bytes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum WaitingReason {
    /// The network policy forbids the current network (e.g. cellular with Wi-Fi only), or
    /// there is no validated network.
    Network,
    /// Waiting for its first credentials: `setUploadAuthAndAddress` (mode 1, the answer to
    /// `started`) or the credential provider.
    Credentials,
    /// Backing off after a failure; the next attempt is at `until`.
    Backoff { until: SystemTime },
    /// Paused by the app.
    Paused,
    /// The credentials expired: call `resumeWithAuth` (mode 1) or `resumeWithToken` (mode
    /// 2); the same upload continues.
    TokenExpired,
}

impl From<model::WaitingReason> for WaitingReason {
    fn from(w: model::WaitingReason) -> Self {
        match w {
            model::WaitingReason::Network => WaitingReason::Network,
            model::WaitingReason::Credentials => WaitingReason::Credentials,
            model::WaitingReason::Backoff { until } => WaitingReason::Backoff { until },
            model::WaitingReason::Paused => WaitingReason::Paused,
            model::WaitingReason::TokenExpired => WaitingReason::TokenExpired,
        }
    }
}

/// The last error a file had (the native SDK's `onUploadFailed` code and message).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FileError {
    /// The service's error code, or a client code (`FileNotExist`, `InvalidArgument`, ...).
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl From<model::FileError> for FileError {
    fn from(e: model::FileError) -> Self {
        FileError {
            code: e.code,
            message: e.message,
            request_id: e.request_id,
        }
    }
}

/// One file in the queue (the native SDK's `UploadFileInfo`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FileInfo {
    /// Stable id: survives restarts and the deletion of other files (unlike an index).
    pub id: String,
    /// The local path, or the URI for a file added with `addUri`.
    pub path: String,
    /// Added with `addUri`: `path` is a URI read through the app's `SourceOpener`.
    #[uniffi(default = false)]
    pub is_uri: bool,
    pub target: UploadTarget,
    pub vod_info: VodInfo,
    pub status: FileStatus,
    pub waiting: Option<WaitingReason>,
    /// Bytes the server has confirmed; never above `bytes_total`.
    pub bytes_uploaded: i64,
    pub bytes_total: i64,
    /// OSS endpoint, bucket and object key, once known.
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    pub object_key: Option<String>,
    pub video_id: Option<String>,
    pub image_url: Option<String>,
    pub last_error: Option<FileError>,
    /// CRC-64/XZ (ECMA) of the uploaded object, once the file succeeded: unsigned decimal, as
    /// OSS's `x-oss-hash-crc64ecma` header writes it (it does not fit a signed 64-bit integer).
    pub crc64: Option<String>,
    pub added_at: SystemTime,
}

/// A file's resumable state (the JS SDK's `getCheckpoint`): its multipart upload and the
/// parts the server confirmed. Never holds credentials.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Checkpoint {
    pub file_id: String,
    /// `null` while InitiateMultipartUpload has not answered.
    pub upload_id: Option<String>,
    pub endpoint: String,
    pub bucket: String,
    pub object_key: String,
    pub video_id: Option<String>,
    pub part_size: i64,
    pub parts_done: i32,
    pub bytes_done: i64,
    /// The file's size when the upload began.
    pub file_size: i64,
    pub created_at: SystemTime,
}

impl From<model::Checkpoint> for Checkpoint {
    fn from(c: model::Checkpoint) -> Self {
        Checkpoint {
            file_id: c.file_id,
            upload_id: c.upload_id,
            endpoint: c.endpoint,
            bucket: c.bucket,
            object_key: c.object,
            video_id: c.video_id,
            part_size: size(c.part_size),
            // At most 10,000 parts.
            parts_done: c.parts_done as i32,
            bytes_done: size(c.bytes_done),
            file_size: size(c.file_size),
            created_at: c.created_at,
        }
    }
}

impl From<model::FileInfo> for FileInfo {
    fn from(f: model::FileInfo) -> Self {
        FileInfo {
            id: f.id,
            path: f.source.location(),
            is_uri: matches!(f.source, crate::source::FileSource::Uri(_)),
            target: f.target.into(),
            vod_info: f.vod_info.into(),
            status: f.status.into(),
            waiting: f.waiting.map(Into::into),
            bytes_uploaded: size(f.bytes_uploaded),
            bytes_total: size(f.bytes_total),
            endpoint: f.endpoint,
            bucket: f.bucket,
            object_key: f.object,
            video_id: f.video_id,
            image_url: f.image_url,
            last_error: f.last_error.map(Into::into),
            crc64: f.crc64.map(|c| c.to_string()),
            added_at: f.added_at,
        }
    }
}

/// What a successful upload produced (the native SDK's `VodUploadResult`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UploadResult {
    pub video_id: Option<String>,
    pub image_url: Option<String>,
    pub endpoint: String,
    pub bucket: String,
    pub object_key: String,
    pub bytes: i64,
    /// CRC-64/XZ (ECMA) of the whole object, checked against OSS's: unsigned decimal, as in
    /// `x-oss-hash-crc64ecma`.
    pub crc64: String,
}

impl From<model::UploadResult> for UploadResult {
    fn from(r: model::UploadResult) -> Self {
        UploadResult {
            video_id: r.video_id,
            image_url: r.image_url,
            endpoint: r.endpoint,
            bucket: r.bucket,
            object_key: r.object,
            bytes: size(r.bytes),
            crc64: r.crc64.to_string(),
        }
    }
}

/// The kind of network the app reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum NetworkType {
    Wifi,
    Cellular,
    Ethernet,
    /// No network at all. (Not `None`: Swift would confuse it with `Optional.none`.)
    Offline,
    /// The app does not know; treated as allowed (the start-up state).
    Unknown,
}

/// What the app knows about the current network: Android `NetworkCapabilities`
/// (transport, `NOT_METERED`, `NOT_ROAMING`, `VALIDATED`), iOS `NWPath` (`isExpensive` or
/// `isConstrained` as metered, `status == .satisfied` as validated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct NetworkState {
    pub network_type: NetworkType,
    /// Charged by volume (cellular, a phone's hotspot, Low Data Mode).
    #[uniffi(default = false)]
    pub metered: bool,
    #[uniffi(default = false)]
    pub roaming: bool,
    /// Has validated internet access (false behind a captive portal).
    #[uniffi(default = true)]
    pub validated: bool,
}

impl From<NetworkState> for model::NetworkState {
    fn from(s: NetworkState) -> Self {
        model::NetworkState {
            network_type: match s.network_type {
                NetworkType::Wifi => model::NetworkType::Wifi,
                NetworkType::Cellular => model::NetworkType::Cellular,
                NetworkType::Ethernet => model::NetworkType::Ethernet,
                NetworkType::Offline => model::NetworkType::None,
                NetworkType::Unknown => model::NetworkType::Unknown,
            },
            metered: s.metered,
            roaming: s.roaming,
            validated: s.validated,
        }
    }
}

/// Which networks may carry upload bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum NetworkPolicy {
    /// Wi-Fi and Ethernet only (the default; Alibaba asks apps to pause on cellular).
    WifiOnly,
    /// Any network with internet access.
    Any,
    /// Any network that is neither metered nor roaming.
    UnmeteredOnly,
    /// Wi-Fi and Ethernet freely, plus at most `bytes` on cellular (reset when the policy is
    /// set again).
    CellularBudget { bytes: i64 },
}

impl From<NetworkPolicy> for model::NetworkPolicy {
    fn from(p: NetworkPolicy) -> Self {
        match p {
            NetworkPolicy::WifiOnly => model::NetworkPolicy::WifiOnly,
            NetworkPolicy::Any => model::NetworkPolicy::Any,
            NetworkPolicy::UnmeteredOnly => model::NetworkPolicy::UnmeteredOnly,
            // A negative budget is no budget.
            NetworkPolicy::CellularBudget { bytes } => model::NetworkPolicy::CellularBudget {
                bytes: u64::try_from(bytes).unwrap_or(0),
            },
        }
    }
}

/// OSS request signature version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SignatureVersion {
    /// HMAC-SHA1, what VOD's own SDKs send (the default).
    V1,
    /// OSS4-HMAC-SHA256, required by newer OSS accounts.
    V4,
}

/// The client's configuration. Every field is optional: `null`/`nil`/`None` means the
/// engine's default, given in each field's documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct ClientConfig {
    /// SQLite checkpoint database, so uploads survive app restarts (e.g.
    /// `context.noBackupFilesDir/vod-upload.db`). Default: memory only.
    #[uniffi(default = None)]
    pub database_path: Option<String>,
    /// Part size in bytes, at least 100 KiB (raised so no file needs more than 10,000
    /// parts). Default 1 MiB.
    #[uniffi(default = None)]
    pub part_size: Option<i64>,
    /// Parts uploaded in parallel per file, 1..=32. Default 5. On a long round trip up to twice
    /// as many are kept in flight.
    #[uniffi(default = None)]
    pub parallel_parts: Option<i32>,
    /// Files uploaded in parallel, 1..=8. Default 1 (as the native SDK).
    #[uniffi(default = None)]
    pub max_parallel_files: Option<i32>,
    /// The JS SDK's `retryCount`: retries of one request after a network or server error
    /// before the file fails. Default 10 (the JS SDK's: 3).
    #[uniffi(default = None)]
    pub retry_count: Option<i32>,
    /// The JS SDK's `retryDuration`: a fixed wait between retries (sets both the first
    /// and the longest delay, so there is no back-off). Default: unset, so the wait starts at
    /// `retry_base_interval_ms` and doubles.
    #[uniffi(default = None)]
    pub retry_duration_ms: Option<i64>,
    /// First retry delay; doubles with jitter up to `retry_max_interval_ms`. Default 500.
    #[uniffi(default = None)]
    pub retry_base_interval_ms: Option<i64>,
    /// Default 30,000.
    #[uniffi(default = None)]
    pub retry_max_interval_ms: Option<i64>,
    /// A file that keeps failing for this long fails. Default 15 minutes.
    #[uniffi(default = None)]
    pub retry_time_budget_ms: Option<i64>,
    /// Default 15,000.
    #[uniffi(default = None)]
    pub connect_timeout_ms: Option<i64>,
    /// Upper bound for a request without a body (Initiate, Complete, VOD calls). Default
    /// 60,000.
    #[uniffi(default = None)]
    pub request_timeout_ms: Option<i64>,
    /// A body that makes no progress for this long is abandoned and retried. Default 30,000.
    #[uniffi(default = None)]
    pub stall_timeout_ms: Option<i64>,
    /// VOD region for mode 2. Default `cn-shanghai`; an UploadAuth's `Region` wins.
    #[uniffi(default = None)]
    pub region: Option<String>,
    /// VOD OpenAPI endpoint. Default `https://vod.{region}.aliyuncs.com`.
    #[uniffi(default = None)]
    pub vod_endpoint: Option<String>,
    /// Default V1.
    #[uniffi(default = None)]
    pub signature_version: Option<SignatureVersion>,
    /// Default Wi-Fi only.
    #[uniffi(default = None)]
    pub network_policy: Option<NetworkPolicy>,
    /// Permit plain-http endpoints (simulators and tests only). Default false.
    #[uniffi(default = None)]
    pub allow_http: Option<bool>,
    /// PEM certificates trusted as roots in addition to the platform's (on Android: Mozilla's
    /// bundled set), e.g. a private CA or a corporate TLS proxy. Default none.
    #[uniffi(default = None)]
    pub extra_root_certificates: Option<Vec<String>>,
    /// Files below this size, and files that fit in one part, go up in one PutObject. Default
    /// 100 KiB.
    #[uniffi(default = None)]
    pub put_object_threshold: Option<i64>,
    /// Renew credentials this long before their known expiry. Default 5 minutes.
    #[uniffi(default = None)]
    pub refresh_ahead_ms: Option<i64>,
    /// Minimum interval between two progress events of a file. Default 250.
    #[uniffi(default = None)]
    pub progress_interval_ms: Option<i64>,
    /// Threads of the client's own runtime (network I/O, timers, database). Default 2.
    #[uniffi(default = None)]
    pub worker_threads: Option<i32>,
    /// How long a credential provider may take before the file waits for
    /// `resumeWithAuth`/`resumeWithToken` instead. Default 30,000.
    #[uniffi(default = None)]
    pub credential_timeout_ms: Option<i64>,
    /// How long a succeeded file stays listed (and in the database) after it succeeded;
    /// older ones are removed when the client opens. Default 7 days; `Long.MAX_VALUE` /
    /// `Int64.max` keeps them until deleted. Failed and canceled files are always kept.
    #[uniffi(default = None)]
    pub keep_succeeded_ms: Option<i64>,
    /// Mode 2: send the video's measured Duration, Bitrate, Fps, Width and Height in
    /// CreateUploadVideo's `UserData`, as the native SDKs do. Default true.
    #[uniffi(default = None)]
    pub measure_media: Option<bool>,
}

/// Settings of the FFI layer itself, not of the engine.
pub(crate) struct FfiSettings {
    pub worker_threads: usize,
    pub credential_timeout: Duration,
}

impl ClientConfig {
    /// Splits into the engine's configuration (defaults filled in) and the FFI layer's own.
    pub(crate) fn into_parts(self) -> Result<(model::Config, FfiSettings), VodUploadError> {
        let d = model::Config::default();
        // Negative values are refused here; the engine checks the ranges of the rest.
        let ms = |name: &str, v: Option<i64>, default: Duration| {
            v.map_or(Ok(default), |v| {
                u64::try_from(v)
                    .map(Duration::from_millis)
                    .map_err(|_| negative(name, v))
            })
        };
        let u64_of = |name: &str, v: Option<i64>, default: u64| {
            v.map_or(Ok(default), |v| {
                u64::try_from(v).map_err(|_| negative(name, v))
            })
        };
        let u32_of = |name: &str, v: Option<i32>, default: u32| {
            v.map_or(Ok(default), |v| {
                u32::try_from(v).map_err(|_| negative(name, v.into()))
            })
        };
        let worker_threads = self.worker_threads.unwrap_or(2);
        if !(1..=16).contains(&worker_threads) {
            return Err(VodUploadError::InvalidArgument {
                detail: format!("worker_threads must be 1..=16, got {worker_threads}"),
            });
        }
        let fixed_retry = match self.retry_duration_ms {
            Some(_)
                if self.retry_base_interval_ms.is_some()
                    || self.retry_max_interval_ms.is_some() =>
            {
                return Err(VodUploadError::InvalidArgument {
                    detail: "retry_duration_ms is a fixed wait; do not combine it with retry_base_interval_ms or retry_max_interval_ms".into(),
                });
            }
            Some(_) => Some(ms(
                "retry_duration_ms",
                self.retry_duration_ms,
                d.retry_base_interval,
            )?),
            None => None,
        };
        let config = model::Config {
            database_path: self.database_path.map(Into::into),
            part_size: u64_of("part_size", self.part_size, d.part_size)?,
            parallel_parts: u32_of("parallel_parts", self.parallel_parts, d.parallel_parts)?,
            max_parallel_files: u32_of(
                "max_parallel_files",
                self.max_parallel_files,
                d.max_parallel_files,
            )?,
            retry_limit: u32_of("retry_count", self.retry_count, d.retry_limit)?,
            retry_base_interval: match fixed_retry {
                Some(d) => d,
                None => ms(
                    "retry_base_interval_ms",
                    self.retry_base_interval_ms,
                    d.retry_base_interval,
                )?,
            },
            retry_max_interval: match fixed_retry {
                Some(d) => d,
                None => ms(
                    "retry_max_interval_ms",
                    self.retry_max_interval_ms,
                    d.retry_max_interval,
                )?,
            },
            retry_time_budget: ms(
                "retry_time_budget_ms",
                self.retry_time_budget_ms,
                d.retry_time_budget,
            )?,
            connect_timeout: ms(
                "connect_timeout_ms",
                self.connect_timeout_ms,
                d.connect_timeout,
            )?,
            request_timeout: ms(
                "request_timeout_ms",
                self.request_timeout_ms,
                d.request_timeout,
            )?,
            stall_timeout: ms("stall_timeout_ms", self.stall_timeout_ms, d.stall_timeout)?,
            region: self.region.unwrap_or(d.region),
            vod_endpoint: self.vod_endpoint.or(d.vod_endpoint),
            signature_version: self
                .signature_version
                .map_or(d.signature_version, |v| match v {
                    SignatureVersion::V1 => protocol::SignatureVersion::V1,
                    SignatureVersion::V4 => protocol::SignatureVersion::V4,
                }),
            network_policy: self.network_policy.map_or(d.network_policy, Into::into),
            allow_http: self.allow_http.unwrap_or(d.allow_http),
            extra_root_certificates: self
                .extra_root_certificates
                .unwrap_or(d.extra_root_certificates),
            put_object_threshold: u64_of(
                "put_object_threshold",
                self.put_object_threshold,
                d.put_object_threshold,
            )?,
            refresh_ahead: ms("refresh_ahead_ms", self.refresh_ahead_ms, d.refresh_ahead)?,
            keep_succeeded: match self.keep_succeeded_ms {
                None => d.keep_succeeded,
                Some(i64::MAX) => None,
                Some(v) => Some(ms("keep_succeeded_ms", Some(v), Duration::ZERO)?),
            },
            progress_interval: ms(
                "progress_interval_ms",
                self.progress_interval_ms,
                d.progress_interval,
            )?,
            measure_media: self.measure_media.unwrap_or(d.measure_media),
        };
        let ffi = FfiSettings {
            worker_threads: worker_threads as usize,
            credential_timeout: ms(
                "credential_timeout_ms",
                self.credential_timeout_ms,
                Duration::from_secs(30),
            )?,
        };
        Ok((config, ffi))
    }
}

fn negative(name: &str, v: i64) -> VodUploadError {
    VodUploadError::InvalidArgument {
        detail: format!("{name} must not be negative, got {v}"),
    }
}

/// A byte count for the foreign side (Kotlin `Long`, Swift `Int64`): files are far below
/// `i64::MAX`, so this saturates only in theory.
pub(crate) fn size(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The client's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ClientStatus {
    /// Created or restored; nothing uploads until `start()`.
    Idle,
    /// Uploading the queue; files added now start by themselves.
    Running,
    /// `pause()`: `resume()` continues.
    Paused,
    /// `stop()`: `start()` continues.
    Stopped,
}

impl From<crate::engine::EngineStatus> for ClientStatus {
    fn from(s: crate::engine::EngineStatus) -> Self {
        use crate::engine::EngineStatus as E;
        match s {
            E::Idle => ClientStatus::Idle,
            E::Running => ClientStatus::Running,
            E::Paused => ClientStatus::Paused,
            E::Stopped => ClientStatus::Stopped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_the_engine_default() {
        let (config, ffi) = ClientConfig::default().into_parts().unwrap();
        assert_eq!(config, model::Config::default());
        assert_eq!(ffi.worker_threads, 2);
        let zero = ClientConfig {
            worker_threads: Some(0),
            ..ClientConfig::default()
        };
        assert!(matches!(
            zero.into_parts(),
            Err(VodUploadError::InvalidArgument { .. })
        ));
    }

    #[test]
    fn config_fields_reach_the_engine() {
        let (config, _) = ClientConfig {
            part_size: Some(256 * 1024),
            retry_base_interval_ms: Some(10),
            network_policy: Some(NetworkPolicy::CellularBudget { bytes: 5 }),
            signature_version: Some(SignatureVersion::V4),
            database_path: Some("/tmp/x.db".into()),
            ..ClientConfig::default()
        }
        .into_parts()
        .unwrap();
        assert_eq!(config.part_size, 256 * 1024);
        assert_eq!(config.retry_base_interval, Duration::from_millis(10));
        assert_eq!(
            config.network_policy,
            model::NetworkPolicy::CellularBudget { bytes: 5 }
        );
        assert_eq!(config.signature_version, protocol::SignatureVersion::V4);
        assert_eq!(
            config.database_path.as_deref(),
            Some(std::path::Path::new("/tmp/x.db"))
        );
    }

    #[test]
    fn retry_count_and_duration_are_the_js_sdks() {
        let (config, _) = ClientConfig {
            retry_count: Some(3),
            retry_duration_ms: Some(2000),
            measure_media: Some(false),
            ..ClientConfig::default()
        }
        .into_parts()
        .unwrap();
        assert_eq!(config.retry_limit, 3);
        let fixed = Duration::from_secs(2);
        assert_eq!(
            (config.retry_base_interval, config.retry_max_interval),
            (fixed, fixed)
        );
        assert!(!config.measure_media);
        let defaults = ClientConfig::default().into_parts().unwrap().0;
        assert_eq!(defaults, model::Config::default());
        let both = ClientConfig {
            retry_duration_ms: Some(2000),
            retry_max_interval_ms: Some(9000),
            ..ClientConfig::default()
        }
        .into_parts();
        assert!(matches!(both, Err(VodUploadError::InvalidArgument { .. })));
    }

    #[test]
    fn vod_info_round_trips_and_checks_priority() {
        let info = VodInfo {
            title: Some("t".into()),
            tags: vec!["a".into(), "b".into()],
            priority: Some(7),
            ..VodInfo::default()
        };
        let model = info.clone().into_model().unwrap();
        assert_eq!(model.priority, Some(7));
        assert_eq!(VodInfo::from(model), info);
        let too_big = VodInfo {
            priority: Some(300),
            ..VodInfo::default()
        };
        assert!(too_big.into_model().is_err());
    }

    #[test]
    fn own_bucket_target_maps_to_object() {
        let t = UploadTarget::OwnBucket {
            endpoint: "https://oss".into(),
            bucket: "b".into(),
            object_key: "k".into(),
        };
        let m = model::UploadTarget::from(t.clone());
        assert_eq!(
            m,
            model::UploadTarget::Object {
                endpoint: "https://oss".into(),
                bucket: "b".into(),
                object: "k".into()
            }
        );
        assert_eq!(UploadTarget::from(m), t);
    }
}
