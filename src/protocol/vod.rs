//! VOD OpenAPI parameters and response models (protocol.md §6.4), the `x-oss-notification`
//! header (§4.11), STS AssumeRole models, and content types.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::rpc::{STS_API_VERSION, VOD_API_VERSION};
use crate::error::{Error, Result};
use crate::model::{BusinessType, UploadTarget, VodInfo};

/// File extensions CreateUploadVideo takes (VOD's "supported formats", video then audio;
/// anything else gets `InvalidFileName.Extension`). The one list: `add_file` checks against
/// it, and vod-sim refuses the same.
pub const VIDEO_EXTENSIONS: &[&str] = &[
    "3gp", "asf", "avi", "dat", "dv", "f4v", "flv", "gif", "m2t", "m3u8", "m4v", "mj2", "mjpeg",
    "mkv", "mov", "mp4", "mpe", "mpeg", "mpg", "mts", "mxf", "ogg", "qt", "rm", "rmvb", "swf",
    "ts", "vob", "webm", "wmv", // audio
    "aac", "ac3", "acm", "amr", "ape", "caf", "flac", "m4a", "mp3", "ra", "wav", "wma",
];

/// CreateUploadImage's `ImageExt` values.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif"];

/// CreateUploadAttachedMedia's `MediaExt` values per business type.
pub fn attached_media_extensions(business: BusinessType) -> &'static [&'static str] {
    match business {
        BusinessType::Watermark => &["png", "gif", "apng", "mov"],
        BusinessType::Subtitle => &["srt", "ass", "stl", "ttml", "vtt"],
        BusinessType::Material => &["jpg", "gif", "png", "mp4", "mat", "zip"],
    }
}

/// The lower-case extension of a file name.
pub fn extension_of(file_name: &str) -> Option<String> {
    Path::new(file_name)
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| !e.is_empty())
        .map(str::to_ascii_lowercase)
}

/// Refuses a file whose extension VOD refuses for its type (checked when it is added, not at
/// the server). Own-bucket objects take anything, and so does a name without an extension.
pub fn check_extension(target: &UploadTarget, file_name: &str, info: &VodInfo) -> Result<()> {
    let (ext, allowed, what): (Option<String>, &[&str], &str) = match target {
        UploadTarget::Object { .. } => return Ok(()),
        UploadTarget::Video => (
            extension_of(file_name),
            VIDEO_EXTENSIONS,
            "a video or audio file (CreateUploadVideo)",
        ),
        UploadTarget::Image => (
            info.image_ext
                .as_deref()
                .map(str::to_ascii_lowercase)
                .or_else(|| extension_of(file_name)),
            IMAGE_EXTENSIONS,
            "an image (CreateUploadImage)",
        ),
        UploadTarget::AttachedMedia {
            business_type,
            media_ext,
        } => (
            media_ext
                .as_deref()
                .map(str::to_ascii_lowercase)
                .or_else(|| extension_of(file_name)),
            attached_media_extensions(*business_type),
            "this attached media type (CreateUploadAttachedMedia)",
        ),
    };
    match ext {
        Some(e) if allowed.contains(&e.as_str()) => Ok(()),
        Some(e) => Err(Error::InvalidArgument(format!(
            "VOD does not take .{e} files as {what}; it takes: {}",
            allowed.join(", ")
        ))),
        // A content URI often has no name to go by; in mode 1 the app server names the file
        // to VOD anyway, so only a known-wrong extension is refused here.
        None => Ok(()),
    }
}

/// Parameters of `CreateUploadVideo` (with `Action` and `Version`; the client adds `RegionId`
/// and the common parameters). `Title` defaults to `file_name`; empty fields are omitted.
/// `TranscodeMode=NoTranscode` is sent, as the native SDKs do, when `is_process` is
/// `Some(false)` and neither a template group nor a workflow is given.
pub fn create_upload_video_params(
    file_name: &str,
    file_size: u64,
    info: &VodInfo,
) -> BTreeMap<String, String> {
    let mut p = base_params("CreateUploadVideo");
    put(&mut p, "Title", Some(title_or(info, file_name)));
    put(&mut p, "FileName", Some(file_name));
    p.insert("FileSize".into(), file_size.to_string());
    put_common(&mut p, info, "CateId");
    put(&mut p, "CoverURL", info.cover_url.as_deref());
    put(&mut p, "TemplateGroupId", info.template_group_id.as_deref());
    put(&mut p, "WorkflowId", info.workflow_id.as_deref());
    if info.is_process == Some(false)
        && !p.contains_key("TemplateGroupId")
        && !p.contains_key("WorkflowId")
    {
        p.insert("TranscodeMode".into(), "NoTranscode".into());
    }
    p
}

/// Parameters of `RefreshUploadVideo` (with `Action` and `Version`).
pub fn refresh_upload_video_params(video_id: &str) -> BTreeMap<String, String> {
    let mut p = base_params("RefreshUploadVideo");
    p.insert("VideoId".into(), video_id.into());
    p
}

/// Parameters of `CreateUploadImage` (with `Action` and `Version`): `ImageType` (`default`
/// unless the VodInfo says), `ImageExt` (the VodInfo's, else the file name's extension,
/// lower-case; omitted without one, VOD then assumes png), `OriginalFileName`, `Title`
/// (defaults to the file name) and the VodInfo fields the action accepts. Empty fields are
/// omitted.
pub fn create_upload_image_params(file_name: &str, info: &VodInfo) -> BTreeMap<String, String> {
    let mut p = base_params("CreateUploadImage");
    let image_type = info.image_type.unwrap_or(crate::model::ImageType::Default);
    p.insert("ImageType".into(), image_type.as_str().into());
    let ext = info
        .image_ext
        .as_deref()
        .map(str::to_ascii_lowercase)
        .or_else(|| extension_of(file_name));
    put(&mut p, "ImageExt", ext.as_deref());
    put(&mut p, "OriginalFileName", Some(file_name));
    put(&mut p, "Title", Some(title_or(info, file_name)));
    put_common(&mut p, info, "CateId");
    p
}

/// Parameters of `CreateUploadAttachedMedia` (with `Action` and `Version`): `BusinessType`,
/// `MediaExt` (given, else the file name's extension), `FileName`, `FileSize`, `Title`
/// (defaults to the file name) and the VodInfo fields the action accepts (`CateId` is sent as
/// `CateIds`). Empty fields are omitted.
pub fn create_upload_attached_media_params(
    file_name: &str,
    file_size: u64,
    business: BusinessType,
    media_ext: Option<&str>,
    info: &VodInfo,
) -> BTreeMap<String, String> {
    let mut p = base_params("CreateUploadAttachedMedia");
    p.insert("BusinessType".into(), business.as_str().into());
    let ext = media_ext
        .map(str::to_ascii_lowercase)
        .or_else(|| extension_of(file_name));
    put(&mut p, "MediaExt", ext.as_deref());
    put(&mut p, "FileName", Some(file_name));
    p.insert("FileSize".into(), file_size.to_string());
    put(&mut p, "Title", Some(title_or(info, file_name)));
    put_common(&mut p, info, "CateIds");
    p
}

/// Parameters of STS `AssumeRole` (with `Action` and `Version`).
pub fn assume_role_params(
    role_arn: &str,
    session_name: &str,
    duration_seconds: u64,
) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    p.insert("Action".into(), "AssumeRole".into());
    p.insert("Version".into(), STS_API_VERSION.into());
    p.insert("RoleArn".into(), role_arn.into());
    p.insert("RoleSessionName".into(), session_name.into());
    p.insert("DurationSeconds".into(), duration_seconds.to_string());
    p
}

fn base_params(action: &str) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    p.insert("Action".into(), action.into());
    p.insert("Version".into(), VOD_API_VERSION.into());
    p
}

/// The VodInfo fields every Create* action takes; the category goes as `cate_param`.
fn put_common(p: &mut BTreeMap<String, String>, info: &VodInfo, cate_param: &str) {
    put(p, "Description", info.description.as_deref());
    if let Some(cate) = info.cate_id {
        p.insert(cate_param.into(), cate.to_string());
    }
    put(p, "Tags", tags(info).as_deref());
    put(p, "StorageLocation", info.storage_location.as_deref());
    put(p, "UserData", info.user_data.as_deref());
    put(p, "AppId", info.app_id.as_deref());
}

fn put(p: &mut BTreeMap<String, String>, name: &str, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
        p.insert(name.into(), v.into());
    }
}

fn title_or<'a>(info: &'a VodInfo, file_name: &'a str) -> &'a str {
    info.title
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or(file_name)
}

fn tags(info: &VodInfo) -> Option<String> {
    let joined = info
        .tags
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(",");
    (!joined.is_empty()).then_some(joined)
}

/// `CreateUploadVideo` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUploadVideoResponse {
    pub request_id: String,
    pub video_id: String,
    /// Base64 JSON, decode with `UploadAddress::decode`.
    pub upload_address: String,
    /// Base64 JSON, decode with `UploadAuth::decode`.
    pub upload_auth: String,
}

/// `RefreshUploadVideo` response (same address, new credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RefreshUploadVideoResponse {
    pub request_id: String,
    pub video_id: String,
    pub upload_address: String,
    pub upload_auth: String,
}

/// `CreateUploadImage` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateUploadImageResponse {
    #[serde(rename = "RequestId")]
    pub request_id: String,
    #[serde(rename = "ImageId")]
    pub image_id: String,
    #[serde(rename = "ImageURL")]
    pub image_url: String,
    #[serde(rename = "FileURL", default)]
    pub file_url: String,
    #[serde(rename = "UploadAddress")]
    pub upload_address: String,
    #[serde(rename = "UploadAuth")]
    pub upload_auth: String,
}

/// `CreateUploadAttachedMedia` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateUploadAttachedMediaResponse {
    #[serde(rename = "RequestId")]
    pub request_id: String,
    #[serde(rename = "MediaId")]
    pub media_id: String,
    #[serde(rename = "MediaURL", default)]
    pub media_url: String,
    #[serde(rename = "FileURL", default)]
    pub file_url: String,
    #[serde(rename = "UploadAddress")]
    pub upload_address: String,
    #[serde(rename = "UploadAuth")]
    pub upload_auth: String,
}

/// STS `AssumeRole` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleResponse {
    pub request_id: String,
    pub credentials: StsCredentials,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumed_role_user: Option<AssumedRoleUser>,
}

/// The `Credentials` member of an AssumeRole response. Its `Debug` hides the secret and token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StsCredentials {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: String,
    /// ISO-8601 UTC, e.g. `2025-06-02T09:00:00Z`.
    pub expiration: String,
}

impl std::fmt::Debug for StsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"***")
            .field("security_token", &"***")
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// The `AssumedRoleUser` member of an AssumeRole response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumedRoleUser {
    pub arn: String,
    pub assumed_role_id: String,
}

/// The `x-oss-notification` value for uploads into a VOD-bound bucket without a VOD call
/// (protocol.md §4.11): base64 of `{"Vod":{...}}` with `Title`, `Description`, `CateId`,
/// `Tags`, `CoverUrl` (when set), `IsProcess` (`"true"` unless disabled) and `UserData`
/// (the app's JSON string, else `{"IsShowWaterMark":"false","Priority":"6"}` from the fields).
pub fn notification_header(info: &VodInfo) -> String {
    let mut vod = Map::new();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
            vod.insert(name.into(), Value::String(v));
        }
    };
    put("Title", info.title.clone());
    put("Description", info.description.clone());
    put("CateId", info.cate_id.map(|c| c.to_string()));
    put("Tags", tags(info));
    put("CoverUrl", info.cover_url.clone());
    put(
        "IsProcess",
        Some(info.is_process.unwrap_or(true).to_string()),
    );
    match info.user_data.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(user_data) => put("UserData", Some(user_data.to_owned())),
        None => {
            let mut ud = Map::new();
            ud.insert(
                "IsShowWaterMark".into(),
                info.is_show_watermark.unwrap_or(false).to_string().into(),
            );
            ud.insert(
                "Priority".into(),
                info.priority.unwrap_or(6).to_string().into(),
            );
            vod.insert("UserData".into(), Value::Object(ud));
        }
    }
    let mut root = Map::new();
    root.insert("Vod".into(), Value::Object(vod));
    base64::engine::general_purpose::STANDARD.encode(Value::Object(root).to_string())
}

/// [`VodInfo::from_json`]: the seeds' `{"Vod":{…}}` paramData.
pub(crate) fn vod_info_from_json(json: &str) -> Result<VodInfo> {
    let bad = |why: String| Error::InvalidArgument(format!("VodInfo JSON: {why}"));
    let root: Value = serde_json::from_str(json).map_err(|e| bad(format!("not JSON ({e})")))?;
    let Value::Object(mut root) = root else {
        return Err(bad(
            "expected an object like {\"Vod\":{\"Title\":\"…\"}}".into()
        ));
    };
    let vod = match root.remove("Vod") {
        Some(Value::Object(vod)) if root.is_empty() => vod,
        Some(Value::Object(_)) => {
            let extra: Vec<_> = root.keys().cloned().collect();
            return Err(bad(format!(
                "unknown names beside \"Vod\": {}",
                extra.join(", ")
            )));
        }
        Some(_) => return Err(bad("\"Vod\" must be an object".into())),
        None => root,
    };
    let text = |name: &str, v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(bad(format!("{name} must be a string"))),
    };
    let boolean = |name: &str, v: &Value| match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(bad(format!("{name} must be true or false"))),
    };
    let mut info = VodInfo::default();
    for (name, v) in &vod {
        if v.is_null() {
            continue;
        }
        match name.as_str() {
            "Title" => info.title = Some(text(name, v)?),
            "Description" => info.description = Some(text(name, v)?),
            "CateId" => {
                let t = text(name, v)?;
                info.cate_id = Some(
                    t.trim()
                        .parse()
                        .map_err(|_| bad(format!("CateId must be a number, not {t:?}")))?,
                );
            }
            "Tags" => {
                info.tags = match v {
                    Value::Array(items) => items
                        .iter()
                        .map(|t| text("Tags", t))
                        .collect::<Result<_>>()?,
                    other => text(name, other)?
                        .split(',')
                        .map(|t| t.trim().to_owned())
                        .filter(|t| !t.is_empty())
                        .collect(),
                }
            }
            "CoverURL" | "CoverUrl" => info.cover_url = Some(text(name, v)?),
            "UserData" => {
                info.user_data = Some(match v {
                    Value::Object(_) => v.to_string(),
                    Value::String(s) => match serde_json::from_str::<Value>(s) {
                        Ok(Value::Object(_)) => s.clone(),
                        _ => {
                            return Err(bad(
                                "UserData must be a JSON object (or a string holding one)".into(),
                            ));
                        }
                    },
                    _ => return Err(bad("UserData must be a JSON object".into())),
                })
            }
            "TemplateGroupId" => info.template_group_id = Some(text(name, v)?),
            "StorageLocation" => info.storage_location = Some(text(name, v)?),
            "WorkflowId" => info.workflow_id = Some(text(name, v)?),
            "AppId" => info.app_id = Some(text(name, v)?),
            "IsProcess" => info.is_process = Some(boolean(name, v)?),
            "IsShowWaterMark" => info.is_show_watermark = Some(boolean(name, v)?),
            "Priority" => {
                let t = text(name, v)?;
                info.priority = match t.trim().parse::<u8>() {
                    Ok(p @ 1..=10) => Some(p),
                    _ => return Err(bad(format!("Priority must be 1 to 10, not {t:?}"))),
                };
            }
            "ImageType" => {
                info.image_type = Some(match text(name, v)?.as_str() {
                    "default" => crate::model::ImageType::Default,
                    "cover" => crate::model::ImageType::Cover,
                    t => {
                        return Err(bad(format!(
                            "ImageType must be default or cover, not {t:?}"
                        )));
                    }
                })
            }
            "ImageExt" => info.image_ext = Some(text(name, v)?),
            // Sent by the SDK itself, from the file.
            "FileName" | "FileSize" => {}
            other => {
                return Err(bad(format!(
                    "unknown name {other:?} (CreateUploadVideo's parameter names are expected: \
                     Title, Description, CateId, Tags, CoverURL, UserData, TemplateGroupId, \
                     StorageLocation, WorkflowId, AppId, IsProcess, IsShowWaterMark, Priority, \
                     ImageType, ImageExt)"
                )));
            }
        }
    }
    Ok(info)
}

/// The Content-Type for a file, from its extension (`application/octet-stream` when unknown).
pub fn content_type_for(path: impl AsRef<Path>) -> String {
    mime_guess::from_path(path)
        .first_or_octet_stream()
        .essence_str()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_info() -> VodInfo {
        VodInfo {
            title: Some("测试 video".into()),
            description: Some("desc".into()),
            cate_id: Some(19),
            tags: vec!["a".into(), " ".into(), "b".into()],
            cover_url: Some("https://x/c.png".into()),
            user_data: Some(r#"{"Extend":{"k":"v"}}"#.into()),
            template_group_id: Some("tg".into()),
            storage_location: Some("outin-x.oss-cn-shanghai.aliyuncs.com".into()),
            workflow_id: Some("wf".into()),
            app_id: Some("app-1000000".into()),
            is_process: Some(false),
            is_show_watermark: Some(true),
            priority: Some(3),
            image_type: None,
            image_ext: None,
        }
    }

    fn get<'a>(p: &'a BTreeMap<String, String>, k: &str) -> Option<&'a str> {
        p.get(k).map(String::as_str)
    }

    #[test]
    fn video_params_carry_every_field() {
        let p = create_upload_video_params("my video(1).mp4", 10_485_760, &full_info());
        for (k, v) in [
            ("Action", "CreateUploadVideo"),
            ("Version", "2017-03-21"),
            ("Title", "测试 video"),
            ("FileName", "my video(1).mp4"),
            ("FileSize", "10485760"),
            ("Description", "desc"),
            ("CoverURL", "https://x/c.png"),
            ("CateId", "19"),
            ("Tags", "a,b"),
            ("TemplateGroupId", "tg"),
            ("WorkflowId", "wf"),
            ("StorageLocation", "outin-x.oss-cn-shanghai.aliyuncs.com"),
            ("UserData", r#"{"Extend":{"k":"v"}}"#),
            ("AppId", "app-1000000"),
        ] {
            assert_eq!(get(&p, k), Some(v), "{k}");
        }
        // A template group decides transcoding.
        assert_eq!(get(&p, "TranscodeMode"), None);
        assert_eq!(p.len(), 14);
    }

    #[test]
    fn video_params_omit_empty_fields() {
        let info = VodInfo {
            description: Some(" ".into()),
            ..Default::default()
        };
        let p = create_upload_video_params("a.mp4", 5, &info);
        let keys: Vec<&str> = p.keys().map(String::as_str).collect();
        assert_eq!(keys, ["Action", "FileName", "FileSize", "Title", "Version"]);
        assert_eq!(get(&p, "Title"), Some("a.mp4"));
        let info = VodInfo {
            is_process: Some(false),
            ..Default::default()
        };
        let p = create_upload_video_params("a.mp4", 5, &info);
        assert_eq!(get(&p, "TranscodeMode"), Some("NoTranscode"));
    }

    #[test]
    fn refresh_params() {
        let p = refresh_upload_video_params("vid");
        assert_eq!(get(&p, "Action"), Some("RefreshUploadVideo"));
        assert_eq!(get(&p, "VideoId"), Some("vid"));
        assert_eq!(get(&p, "Version"), Some("2017-03-21"));
    }

    #[test]
    fn image_params() {
        let p = create_upload_image_params("Photo.JPG", &full_info());
        for (k, v) in [
            ("Action", "CreateUploadImage"),
            ("ImageType", "default"),
            ("ImageExt", "jpg"),
            ("OriginalFileName", "Photo.JPG"),
            ("Title", "测试 video"),
            ("Description", "desc"),
            ("CateId", "19"),
            ("Tags", "a,b"),
            ("StorageLocation", "outin-x.oss-cn-shanghai.aliyuncs.com"),
            ("UserData", r#"{"Extend":{"k":"v"}}"#),
            ("AppId", "app-1000000"),
        ] {
            assert_eq!(get(&p, k), Some(v), "{k}");
        }
        assert_eq!(get(&p, "TemplateGroupId"), None);
        let p = create_upload_image_params("noext", &VodInfo::default());
        assert_eq!(get(&p, "ImageExt"), None);
        assert_eq!(get(&p, "Title"), Some("noext"));
    }

    #[test]
    fn response_models_use_vod_names() {
        let json =
            r#"{"RequestId":"r","VideoId":"v","UploadAddress":"ad","UploadAuth":"au","Extra":1}"#;
        let r: CreateUploadVideoResponse = serde_json::from_str(json).unwrap();
        assert_eq!((r.video_id.as_str(), r.upload_auth.as_str()), ("v", "au"));
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back["UploadAddress"], "ad");
        let img = CreateUploadImageResponse {
            request_id: "r".into(),
            image_id: "i".into(),
            image_url: "https://x/i.png".into(),
            file_url: "https://x/f.png".into(),
            upload_address: "ad".into(),
            upload_auth: "au".into(),
        };
        let v = serde_json::to_value(&img).unwrap();
        assert_eq!(v["ImageURL"], "https://x/i.png");
        assert_eq!(v["FileURL"], "https://x/f.png");
        assert_eq!(
            serde_json::from_value::<CreateUploadImageResponse>(v).unwrap(),
            img
        );
        let refresh: RefreshUploadVideoResponse = serde_json::from_str(json).unwrap();
        assert_eq!(refresh.request_id, "r");
    }

    #[test]
    fn assume_role_models() {
        let json = r#"{"RequestId":"r","AssumedRoleUser":{"Arn":"acs:ram::1:role/x/s","AssumedRoleId":"3:s"},
            "Credentials":{"SecurityToken":"CAIS","AccessKeyId":"STS.a","AccessKeySecret":"sec","Expiration":"2025-06-02T09:00:00Z"}}"#;
        let r: AssumeRoleResponse = serde_json::from_str(json).unwrap();
        assert_eq!(r.credentials.access_key_id, "STS.a");
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("sec\"") && !dbg.contains("CAIS"), "{dbg}");
        let p = assume_role_params("acs:ram::1:role/x", "s", 3600);
        assert_eq!(get(&p, "Version"), Some("2015-04-01"));
        assert_eq!(get(&p, "DurationSeconds"), Some("3600"));
    }

    fn decode_notification(info: &VodInfo) -> Value {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(notification_header(info))
            .unwrap();
        serde_json::from_slice(&raw).unwrap()
    }

    #[test]
    fn notification_payload() {
        let v = decode_notification(&full_info());
        assert_eq!(v["Vod"]["Title"], "测试 video");
        assert_eq!(v["Vod"]["CateId"], "19");
        assert_eq!(v["Vod"]["Tags"], "a,b");
        assert_eq!(v["Vod"]["CoverUrl"], "https://x/c.png");
        assert_eq!(v["Vod"]["IsProcess"], "false");
        assert_eq!(v["Vod"]["UserData"], r#"{"Extend":{"k":"v"}}"#);

        let v = decode_notification(&VodInfo::default());
        assert_eq!(
            v,
            serde_json::json!({"Vod":{"IsProcess":"true","UserData":{"IsShowWaterMark":"false","Priority":"6"}}})
        );
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type_for("a/b.mp4"), "video/mp4");
        assert_eq!(content_type_for("x.PNG"), "image/png");
        assert_eq!(content_type_for("x.unknownext"), "application/octet-stream");
        assert_eq!(content_type_for("noext"), "application/octet-stream");
    }
}
