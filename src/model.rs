//! The engine's data model: what an app adds, configures, observes and gets back.
//!
//! Plain Rust types with serde, shared by the store (persisted as JSON where noted), the engine,
//! the FFI layer (which mirrors them as UniFFI records) and the CLI.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::protocol::SignatureVersion;
use crate::source::FileSource;

/// A stable file id: survives deletes of other files and app restarts (unlike the native SDK's
/// list index).
pub type FileId = String;

/// VOD metadata for a video, audio or image (CreateUploadVideo / CreateUploadImage parameters,
/// and the `x-oss-notification` payload for own-bucket uploads). Empty fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VodInfo {
    /// Title; defaults to the file name when empty.
    pub title: Option<String>,
    pub description: Option<String>,
    pub cate_id: Option<i64>,
    /// Tags, sent comma-joined (at most 16, each at most 32 characters).
    pub tags: Vec<String>,
    pub cover_url: Option<String>,
    /// A JSON string (callback configuration, `Extend`, ...).
    pub user_data: Option<String>,
    pub template_group_id: Option<String>,
    pub storage_location: Option<String>,
    pub workflow_id: Option<String>,
    pub app_id: Option<String>,
    /// Transcode after upload (native SDK default: true).
    pub is_process: Option<bool>,
    pub is_show_watermark: Option<bool>,
    /// 1..=10 (native SDK default: 6).
    pub priority: Option<u8>,
    /// CreateUploadImage's `ImageType` (default: `default`; the native SDKs send `cover`).
    pub image_type: Option<ImageType>,
    /// CreateUploadImage's `ImageExt` (`png`, `jpg`, `jpeg` or `gif`); by default the file
    /// name's extension.
    pub image_ext: Option<String>,
}

/// CreateUploadImage's `ImageType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageType {
    Default,
    /// A video's cover (thumbnail).
    Cover,
}

impl ImageType {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageType::Default => "default",
            ImageType::Cover => "cover",
        }
    }
}

/// CreateUploadAttachedMedia's `BusinessType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusinessType {
    Watermark,
    Subtitle,
    Material,
}

impl BusinessType {
    pub fn as_str(self) -> &'static str {
        match self {
            BusinessType::Watermark => "watermark",
            BusinessType::Subtitle => "subtitle",
            BusinessType::Material => "material",
        }
    }
}

impl VodInfo {
    /// The `paramData` / `userData` JSON the JS and mini-program SDKs document,
    /// `{"Vod":{"Title":"…","CateId":"234","UserData":{…},…}}`, with CreateUploadVideo's
    /// parameter names (a bare object without `Vod` is taken too). Numbers may be given as
    /// strings (the seeds' own sample does), `Tags` as a comma-joined string or an array,
    /// `UserData` as a JSON string or an object. Unknown names are refused, so a typo is an
    /// error and not a silently dropped field.
    pub fn from_json(json: &str) -> crate::Result<VodInfo> {
        crate::protocol::vod::vod_info_from_json(json)
    }
}

/// Where a file goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UploadTarget {
    /// A VOD video or audio (CreateUploadVideo / RefreshUploadVideo).
    Video,
    /// A VOD image (CreateUploadImage).
    Image,
    /// A watermark, subtitle or material file (CreateUploadAttachedMedia). `media_ext` is
    /// the file name's extension unless given.
    AttachedMedia {
        business_type: BusinessType,
        media_ext: Option<String>,
    },
    /// An object in an own bucket, with the account's or an STS key (the native SDK's
    /// `addFile(path, endpoint, bucket, object)`).
    Object {
        endpoint: String,
        bucket: String,
        object: String,
    },
}

impl UploadTarget {
    /// The target implied by the file's extension: images go to CreateUploadImage, everything
    /// else to CreateUploadVideo (the native SDKs do the same by MIME type).
    pub fn for_path(path: &std::path::Path) -> UploadTarget {
        UploadTarget::for_name(&path.to_string_lossy())
    }

    /// [`for_path`](Self::for_path) for a path or a URI (by its last segment's extension; a
    /// URI without one is a video unless the app says otherwise).
    pub fn for_source(source: &FileSource) -> UploadTarget {
        UploadTarget::for_name(&source.file_name().unwrap_or_default())
    }

    fn for_name(name: &str) -> UploadTarget {
        let mime = mime_guess::from_path(name).first_or_octet_stream();
        if mime.type_() == mime_guess::mime::IMAGE {
            UploadTarget::Image
        } else {
            UploadTarget::Video
        }
    }
}

/// A file's state in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Queued, not started yet.
    Ready,
    /// Being uploaded (or about to be: credentials requested).
    Uploading,
    /// Started but waiting; see [`FileInfo::waiting`] for why.
    Waiting,
    /// Paused by the app (`pause()`), or stopped (`stop()`).
    Paused,
    /// Skipped by `cancel_file`; `resume_file` queues it again.
    Canceled,
    Succeeded,
    Failed,
}

impl FileStatus {
    /// Succeeded, failed or canceled: the queue will not pick it up by itself.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            FileStatus::Succeeded | FileStatus::Failed | FileStatus::Canceled
        )
    }
}

/// Why a started file is not sending bytes right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum WaitingReason {
    /// The network policy forbids the current network (e.g. cellular with Wi-Fi only).
    Network,
    /// Waiting for its first credentials: `set_upload_auth_and_address` (mode 1, the answer to
    /// `Started`) or the credential provider.
    Credentials,
    /// Backing off after a failure; the next attempt is at `until`.
    Backoff { until: SystemTime },
    /// Paused by the app.
    Paused,
    /// The service rejected the credentials as expired: `resume_with_auth` (mode 1) or
    /// `resume_with_token` (mode 2); the same multipart upload continues.
    TokenExpired,
}

/// One file in the queue, as `list_files` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub id: FileId,
    /// The local path, or the URI of an app-supplied source.
    pub source: FileSource,
    pub target: UploadTarget,
    pub vod_info: VodInfo,
    pub status: FileStatus,
    pub waiting: Option<WaitingReason>,
    /// Bytes the server has confirmed (finished parts); never above `bytes_total`.
    pub bytes_uploaded: u64,
    pub bytes_total: u64,
    /// OSS endpoint, bucket and object once known (from UploadAddress or the target).
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    pub object: Option<String>,
    pub video_id: Option<String>,
    pub image_url: Option<String>,
    pub last_error: Option<FileError>,
    /// CRC-64/XZ of the uploaded object, once the file succeeded.
    pub crc64: Option<u64>,
    pub added_at: SystemTime,
}

/// The last error a file had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileError {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

/// A file's resumable state ([`Engine::checkpoint`](crate::Engine::checkpoint)). Credentials
/// are never part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub file_id: FileId,
    /// The multipart upload; `None` while InitiateMultipartUpload has not answered.
    pub upload_id: Option<String>,
    pub endpoint: String,
    pub bucket: String,
    pub object: String,
    pub video_id: Option<String>,
    pub part_size: u64,
    /// Parts the server confirmed.
    pub parts_done: u32,
    pub bytes_done: u64,
    /// The file's size when the upload began.
    pub file_size: u64,
    pub created_at: SystemTime,
}

/// What a successful upload produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadResult {
    pub video_id: Option<String>,
    pub image_url: Option<String>,
    pub endpoint: String,
    pub bucket: String,
    pub object: String,
    pub bytes: u64,
    /// CRC-64/XZ of the whole object, checked against OSS's when it sent one.
    pub crc64: u64,
}

/// The kind of network the app reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkType {
    Wifi,
    Cellular,
    Ethernet,
    /// No network at all.
    None,
    /// The app does not know (the engine's start-up state); treated as allowed.
    Unknown,
}

/// What the app knows about the current network (Android `NetworkCapabilities`,
/// iOS `NWPath`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkState {
    pub network_type: NetworkType,
    /// Charged by volume (cellular, hotspot Wi-Fi, iOS `isExpensive`/`isConstrained`).
    pub metered: bool,
    pub roaming: bool,
    /// Has validated internet access (false behind a captive portal).
    pub validated: bool,
}

impl NetworkState {
    pub const UNKNOWN: NetworkState = NetworkState {
        network_type: NetworkType::Unknown,
        metered: false,
        roaming: false,
        validated: true,
    };
}

/// Which networks may carry upload bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum NetworkPolicy {
    /// Wi-Fi and Ethernet only (Alibaba's documents ask apps to pause on 3G/4G).
    WifiOnly,
    /// Any network with internet access.
    Any,
    /// Any network that is not metered and not roaming.
    UnmeteredOnly,
    /// Wi-Fi and Ethernet freely, plus at most `bytes` on cellular in this engine's lifetime
    /// (or until the policy is set again).
    CellularBudget { bytes: u64 },
}

/// Engine configuration. Invalid values are refused by `Engine::new` with a clear error.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// SQLite checkpoint database; `None` keeps state in memory (nothing survives a restart).
    pub database_path: Option<PathBuf>,
    /// Part size in bytes: at least 100 KiB; raised automatically so no file needs more than
    /// 10,000 parts.
    pub part_size: u64,
    /// Parts uploaded in parallel per file. On a long round trip, when parts spend much of
    /// their time waiting for their response, up to twice as many are kept in flight.
    pub parallel_parts: u32,
    /// Files uploaded in parallel (the native SDK does one).
    pub max_parallel_files: u32,
    /// Retries per request before the file fails (not counting network-policy pauses).
    pub retry_limit: u32,
    /// First retry delay; doubles each time, with jitter, up to `retry_max_interval`.
    pub retry_base_interval: Duration,
    pub retry_max_interval: Duration,
    /// A file stops retrying and fails once it has been failing for this long.
    pub retry_time_budget: Duration,
    pub connect_timeout: Duration,
    /// Upper bound for one request that sends no body (Initiate, Complete, VOD calls).
    pub request_timeout: Duration,
    /// A request whose body makes no progress for this long is abandoned and retried.
    pub stall_timeout: Duration,
    /// VOD region for mode 2 (`cn-shanghai` by default); UploadAuth's `Region` wins when set.
    pub region: String,
    /// Override of the VOD OpenAPI endpoint (`https://vod.{region}.aliyuncs.com` otherwise).
    pub vod_endpoint: Option<String>,
    pub signature_version: SignatureVersion,
    pub network_policy: NetworkPolicy,
    /// Permit plain-http endpoints (the simulator, tests). Off by default: HTTPS only.
    pub allow_http: bool,
    /// PEM certificates (each string may hold several) trusted as roots in addition to the
    /// platform's (on Android: Mozilla's bundled set): a private CA in front of a private OSS
    /// endpoint, or a corporate TLS proxy. Empty by default.
    pub extra_root_certificates: Vec<String>,
    /// Files below this size, and files that fit in one part, use one PutObject instead of a
    /// multipart upload.
    pub put_object_threshold: u64,
    /// Refresh credentials this long before their known expiry.
    pub refresh_ahead: Duration,
    /// Minimum interval between two progress events of one file.
    pub progress_interval: Duration,
    /// How long a succeeded file stays in the queue (and the database) after it succeeded:
    /// older ones are removed when the engine opens, so the database stays small after
    /// thousands of uploads. `None` keeps them until the app deletes them. Failed and canceled
    /// files are kept: the app may still resume them.
    pub keep_succeeded: Option<Duration>,
    /// Mode 2: measure a video's container (Duration, Bitrate, Fps, Width, Height) and send
    /// it in CreateUploadVideo's `UserData`, as the native SDKs do (the app's own keys win).
    pub measure_media: bool,
}

/// Default and bounds, with their reasons.
pub mod limits {
    /// OSS rejects non-last parts below 100 KiB (`EntityTooSmall`).
    pub const MIN_PART_SIZE: u64 = 100 * 1024;
    /// OSS's part size ceiling.
    pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
    /// OSS's part number ceiling.
    pub const MAX_PARTS: u64 = 10_000;
    /// The native SDKs' default part size.
    pub const DEFAULT_PART_SIZE: u64 = 1024 * 1024;
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_path: None,
            part_size: limits::DEFAULT_PART_SIZE,
            parallel_parts: 5,
            max_parallel_files: 1,
            retry_limit: 10,
            retry_base_interval: Duration::from_millis(500),
            retry_max_interval: Duration::from_secs(30),
            retry_time_budget: Duration::from_secs(15 * 60),
            connect_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(30),
            region: "cn-shanghai".into(),
            vod_endpoint: None,
            signature_version: SignatureVersion::V1,
            network_policy: NetworkPolicy::WifiOnly,
            allow_http: false,
            extra_root_certificates: Vec::new(),
            put_object_threshold: limits::MIN_PART_SIZE,
            refresh_ahead: Duration::from_secs(5 * 60),
            progress_interval: Duration::from_millis(250),
            keep_succeeded: Some(Duration::from_secs(7 * 24 * 3600)),
            measure_media: true,
        }
    }
}

/// The part size actually used for a file: the configured one, raised (to a multiple of
/// 4 KiB) so that the file fits in [`limits::MAX_PARTS`] parts.
pub fn effective_part_size(configured: u64, file_size: u64) -> u64 {
    let needed = file_size.div_ceil(limits::MAX_PARTS);
    let size = configured.max(needed).max(limits::MIN_PART_SIZE);
    size.div_ceil(4096) * 4096
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_size_is_raised_to_fit_ten_thousand_parts() {
        let mib = 1024 * 1024;
        assert_eq!(effective_part_size(mib, 10 * mib), mib);
        // 10,001 MiB at 1 MiB parts would need 10,001 parts.
        let size = 10_001 * mib;
        let part = effective_part_size(mib, size);
        assert!(size.div_ceil(part) <= limits::MAX_PARTS);
        assert!(part > mib && part.is_multiple_of(4096));
    }

    #[test]
    fn vod_info_from_the_seeds_json() {
        let info = VodInfo::from_json(
            r#"{"Vod":{"Title":"test","CateId":"234","Tags":"a, b","UserData":{"Extend":{"k":"v"}},
                "IsShowWaterMark":"true","Priority":7,"ImageType":"cover"}}"#,
        )
        .unwrap();
        assert_eq!(info.title.as_deref(), Some("test"));
        assert_eq!(info.cate_id, Some(234));
        assert_eq!(info.tags, ["a", "b"]);
        assert_eq!(info.user_data.as_deref(), Some(r#"{"Extend":{"k":"v"}}"#));
        assert_eq!(
            (info.is_show_watermark, info.priority, info.image_type),
            (Some(true), Some(7), Some(ImageType::Cover))
        );
        // Without the Vod wrapper, UserData as a string, Tags as an array.
        let bare =
            VodInfo::from_json(r#"{"Title":"t","UserData":"{\"a\":1}","Tags":["x"]}"#).unwrap();
        assert_eq!(
            (bare.user_data.as_deref(), bare.tags.as_slice()),
            (Some(r#"{"a":1}"#), ["x".to_owned()].as_slice())
        );
    }

    #[test]
    fn vod_info_json_errors_are_clear() {
        let err = |json: &str| VodInfo::from_json(json).unwrap_err().to_string();
        // The JS SDK document's own sample has a stray quote.
        assert!(
            err(r#"{"Vod":{"Title":"test","CateId":"234"}"}"#).contains("not JSON"),
            "{}",
            err(r#"{"Vod":{"Title":"test","CateId":"234"}"}"#)
        );
        assert!(err("[1]").contains("expected an object"));
        assert!(err(r#"{"Vod":{"CateId":"abc"}}"#).contains("CateId must be a number"));
        assert!(err(r#"{"Vod":{"Titel":"x"}}"#).contains(r#"unknown name "Titel""#));
        assert!(err(r#"{"Vod":{},"Other":1}"#).contains("beside \"Vod\": Other"));
        assert!(
            err(r#"{"Vod":{"UserData":"not json"}}"#).contains("UserData must be a JSON object")
        );
        assert!(err(r#"{"Vod":{"Priority":"11"}}"#).contains("Priority must be 1 to 10"));
        assert!(
            err(r#"{"Vod":{"ImageType":"poster"}}"#).contains("ImageType must be default or cover")
        );
        assert!(
            err("{").starts_with("invalid argument: VodInfo JSON"),
            "{}",
            err("{")
        );
    }

    #[test]
    fn extensions_vod_does_not_take_are_refused_when_added() {
        use crate::protocol::vod::check_extension;
        let none = VodInfo::default();
        assert!(check_extension(&UploadTarget::Video, "clip.MOV", &none).is_ok());
        assert!(check_extension(&UploadTarget::Video, "song.mp3", &none).is_ok());
        let e = check_extension(&UploadTarget::Video, "notes.txt", &none).unwrap_err();
        assert!(e.to_string().contains("does not take .txt files"), "{e}");
        assert!(check_extension(&UploadTarget::Image, "p.bmp", &none).is_err());
        let as_png = VodInfo {
            image_ext: Some("png".into()),
            ..VodInfo::default()
        };
        assert!(check_extension(&UploadTarget::Image, "p.bmp", &as_png).is_ok());
        let subtitle = UploadTarget::AttachedMedia {
            business_type: BusinessType::Subtitle,
            media_ext: None,
        };
        assert!(check_extension(&subtitle, "en.vtt", &none).is_ok());
        assert!(check_extension(&subtitle, "en.mp4", &none).is_err());
        // A content URI without a name, and own-bucket objects, are not judged.
        assert!(check_extension(&UploadTarget::Video, "42", &none).is_ok());
        let object = UploadTarget::Object {
            endpoint: "https://oss".into(),
            bucket: "b".into(),
            object: "o.txt".into(),
        };
        assert!(check_extension(&object, "o.txt", &none).is_ok());
    }

    #[test]
    fn target_follows_extension() {
        assert_eq!(
            UploadTarget::for_path("a/b.JPG".as_ref()),
            UploadTarget::Image
        );
        assert_eq!(
            UploadTarget::for_path("a/b.mp4".as_ref()),
            UploadTarget::Video
        );
        assert_eq!(
            UploadTarget::for_path("a/b.mp3".as_ref()),
            UploadTarget::Video
        );
    }
}
