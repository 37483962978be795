//! The VOD (2017-03-21) and STS (2015-04-01) RPC APIs.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::Response;
use serde_json::{Map, Value, json};

use vod_upload::protocol::credentials::{
    UploadAddress, UploadAuth, format_utc_time, parse_utc_time,
};
use vod_upload::protocol::rpc::{
    STS_API_VERSION, VOD_API_VERSION, rpc_signature, rpc_string_to_sign,
};
// VOD's accepted extensions are the engine's own lists, so the two cannot drift apart.
use vod_upload::BusinessType;
use vod_upload::protocol::vod::{
    AssumeRoleResponse, AssumedRoleUser, CreateUploadImageResponse, CreateUploadVideoResponse,
    IMAGE_EXTENSIONS, RefreshUploadVideoResponse, StsCredentials, VIDEO_EXTENSIONS,
    attached_media_extensions,
};

use crate::auth::{CredError, MAX_SKEW, Principal, TokenScope};
use crate::body::SimBody;
use crate::oss::finish;
use crate::state::Shared;
use crate::{stats, util};

/// An RPC error (`{"RequestId","HostId","Code","Message","Recommend"}`).
#[derive(Debug)]
pub(crate) struct RpcError {
    status: u16,
    code: String,
    message: String,
}

impl RpcError {
    fn new(status: u16, code: &str, message: &str) -> RpcError {
        RpcError {
            status,
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }

    fn missing(name: &str) -> RpcError {
        RpcError::new(
            400,
            &format!("Missing{name}"),
            &format!("{name} is mandatory for this action."),
        )
    }

    fn invalid(name: &str, message: &str) -> RpcError {
        RpcError::new(400, &format!("InvalidParameter.{name}"), message)
    }

    /// A default code for an injected status.
    pub fn injected(status: u16, code: Option<String>, message: Option<String>) -> RpcError {
        let code = code.unwrap_or_else(|| {
            match status {
                400 => "InvalidParameter",
                403 => "Forbidden",
                404 => "InvalidApi.NotFound",
                500 => "InternalError",
                503 => "ServiceUnAvailable",
                _ => "InjectedFault",
            }
            .to_owned()
        });
        RpcError {
            status,
            message: message.unwrap_or_else(|| format!("Injected fault: {code}.")),
            code,
        }
    }
}

impl From<CredError> for RpcError {
    fn from(e: CredError) -> RpcError {
        match e {
            CredError::UnknownKey => RpcError::new(
                404,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            ),
            CredError::MissingToken => RpcError::new(
                400,
                "MissingSecurityToken",
                "SecurityToken is mandatory for this action.",
            ),
            CredError::Malformed => RpcError::new(
                400,
                "InvalidSecurityToken.Malformed",
                "Specified SecurityToken is malformed.",
            ),
            CredError::Mismatch => RpcError::new(
                400,
                "InvalidSecurityToken.MismatchWithAccessKey",
                "Specified SecurityToken mismatch with the AccessKey.",
            ),
            CredError::Expired => RpcError::new(
                400,
                "InvalidSecurityToken.Expired",
                "Specified SecurityToken is expired.",
            ),
        }
    }
}

/// A video created by CreateUploadVideo.
#[derive(Clone)]
struct Video {
    id: String,
    title: String,
    description: Option<String>,
    cate_id: Option<i64>,
    tags: Option<String>,
    cover_url: Option<String>,
    file_size: Option<u64>,
    template_group_id: Option<String>,
    app_id: String,
    key: String,
    created: SystemTime,
}

/// Nonces seen in the last 15 minutes (a replay window like the gateway's).
#[derive(Default)]
struct Nonces {
    seen: HashMap<String, SystemTime>,
    order: VecDeque<(SystemTime, String)>,
}

impl Nonces {
    /// False when `nonce` was already used.
    fn insert(&mut self, nonce: &str) -> bool {
        let now = SystemTime::now();
        while let Some((t, _)) = self.order.front() {
            if now.duration_since(*t).unwrap_or_default() <= MAX_SKEW * 2 {
                break;
            }
            if let Some((_, n)) = self.order.pop_front() {
                self.seen.remove(&n);
            }
        }
        if self.seen.contains_key(nonce) {
            return false;
        }
        self.seen.insert(nonce.to_owned(), now);
        self.order.push_back((now, nonce.to_owned()));
        true
    }
}

#[derive(Default)]
pub(crate) struct Vod {
    videos: Mutex<HashMap<String, Video>>,
    nonces: Mutex<Nonces>,
}

/// Parameters of one RPC request (query and form body merged; the body wins on duplicates).
pub(crate) struct RpcCall {
    pub shared: Arc<Shared>,
    pub method: String,
    pub params: Vec<(String, String)>,
    pub request_id: String,
}

pub(crate) fn merge_params(
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = query
        .into_iter()
        .filter(|(k, _)| !form.iter().any(|(f, _)| f == k))
        .collect();
    out.extend(form);
    out
}

fn is_sts(action: &str) -> bool {
    matches!(action, "AssumeRole" | "GetCallerIdentity")
}

impl RpcCall {
    pub fn action(&self) -> &str {
        self.get("Action").unwrap_or("")
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn opt(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    fn required(&self, name: &str) -> Result<String, RpcError> {
        self.opt(name).ok_or_else(|| RpcError::missing(name))
    }

    fn host_id(&self) -> &'static str {
        if is_sts(self.action()) {
            "sts.aliyuncs.com"
        } else {
            "vod.cn-shanghai.aliyuncs.com"
        }
    }

    fn xml_format(&self) -> bool {
        !self
            .get("Format")
            .is_some_and(|f| f.eq_ignore_ascii_case("json"))
    }

    pub fn error_response(&self, e: &RpcError) -> Response<SimBody> {
        let doc = json!({
            "RequestId": self.request_id,
            "HostId": self.host_id(),
            "Code": e.code,
            "Message": e.message,
            "Recommend": format!("https://api.aliyun.com/troubleshoot?q={}", e.code),
        });
        self.respond(e.status, "Error", doc)
    }

    fn respond(&self, status: u16, root: &str, doc: Value) -> Response<SimBody> {
        let (ctype, body) = if self.xml_format() {
            let mut x = String::from("<?xml version='1.0' encoding='UTF-8'?>");
            to_xml(root, &doc, &mut x);
            ("text/xml;charset=utf-8", x)
        } else {
            ("application/json;charset=utf-8", doc.to_string())
        };
        finish(
            http::Response::builder()
                .status(status)
                .header("date", httpdate::fmt_http_date(SystemTime::now()))
                .header("content-type", ctype)
                .header("x-acs-request-id", self.request_id.as_str()),
            SimBody::full(body),
        )
    }

    pub fn run(&self) -> Response<SimBody> {
        match self.dispatch() {
            Ok(mut doc) => {
                if let Value::Object(m) = &mut doc {
                    m.insert("RequestId".into(), Value::String(self.request_id.clone()));
                }
                self.respond(200, &format!("{}Response", self.action()), doc)
            }
            Err(e) => self.error_response(&e),
        }
    }

    fn dispatch(&self) -> Result<Value, RpcError> {
        let action = self.required("Action")?;
        let (version, known) = if is_sts(&action) {
            (STS_API_VERSION, true)
        } else {
            (
                VOD_API_VERSION,
                matches!(
                    action.as_str(),
                    "CreateUploadVideo"
                        | "RefreshUploadVideo"
                        | "CreateUploadImage"
                        | "CreateUploadAttachedMedia"
                        | "GetVideoInfo"
                ),
            )
        };
        let principal = self.authenticate(version)?;
        if !known {
            return Err(RpcError::new(
                404,
                "InvalidAction.NotFound",
                "Specified api is not found, please check your url and method.",
            ));
        }
        if let Principal::Sts(t) = &principal
            && t.scope != TokenScope::Role
        {
            // UploadAuth credentials only grant OSS access to one object.
            return Err(RpcError::new(
                403,
                "Forbidden.RAM",
                "User not authorized to operate on the specified resource, or this API doesn't support RAM.",
            ));
        }
        match action.as_str() {
            "CreateUploadVideo" => self.create_upload_video(),
            "RefreshUploadVideo" => self.refresh_upload_video(),
            "CreateUploadImage" => self.create_upload_image(),
            "CreateUploadAttachedMedia" => self.create_upload_attached_media(),
            "GetVideoInfo" => self.get_video_info(),
            "AssumeRole" => self.assume_role(),
            _ => self.get_caller_identity(&principal),
        }
    }

    /// Common-parameter checks and signature verification (protocol.md §6.2–6.3).
    fn authenticate(&self, version: &str) -> Result<Principal, RpcError> {
        let access_key_id = self.required("AccessKeyId")?;
        let signature = self.required("Signature")?;
        let method = self.required("SignatureMethod")?;
        if method != "HMAC-SHA1" {
            return Err(RpcError::new(
                400,
                "InvalidSignatureMethod",
                "Specified signature method is not valid.",
            ));
        }
        if let Some(v) = self.opt("SignatureVersion")
            && v != "1.0"
        {
            return Err(RpcError::new(
                400,
                "InvalidSignatureVersion",
                "Specified signature version is not valid.",
            ));
        }
        if self.required("Version")? != version {
            return Err(RpcError::new(
                400,
                "InvalidVersion",
                "Specified parameter Version is not valid.",
            ));
        }
        // The mobile SDKs omit Timestamp and rely on the nonce, which the gateway accepts.
        if let Some(ts) = self.opt("Timestamp") {
            let t = parse_utc_time(&ts).ok_or_else(|| {
                RpcError::new(
                    400,
                    "InvalidTimeStamp.Format",
                    "Specified time stamp or date value is not well formatted.",
                )
            })?;
            if util::skew(SystemTime::now(), t) > MAX_SKEW {
                return Err(RpcError::new(
                    400,
                    "InvalidTimeStamp.Expired",
                    "Specified time stamp or date value is expired.",
                ));
            }
        }
        let (secret, principal) = self
            .shared
            .creds
            .lookup(&access_key_id, self.get("SecurityToken"))?;
        // Every received parameter is signed, empty ones included (`SignatureType=` from
        // aliyun-python-sdk-core).
        let params: BTreeMap<String, String> = self.params.iter().cloned().collect();
        let string_to_sign = rpc_string_to_sign(&self.method, &params);
        if rpc_signature(&secret, &string_to_sign) != signature {
            return Err(RpcError::new(
                400,
                "SignatureDoesNotMatch",
                &format!(
                    "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
                ),
            ));
        }
        if let Some(nonce) = self.opt("SignatureNonce") {
            let fresh = self
                .shared
                .vod
                .nonces
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(&nonce);
            if !fresh {
                return Err(RpcError::new(
                    400,
                    "SignatureNonceUsed",
                    "Specified signature nonce was used already.",
                ));
            }
        }
        Ok(principal)
    }

    fn upload_address(&self, key: &str) -> String {
        UploadAddress {
            endpoint: self.shared.info.oss_endpoint.clone(),
            bucket: self.shared.vod_bucket.clone(),
            file_name: key.to_owned(),
            object_prefix: None,
        }
        .encode()
    }

    /// Fresh STS credentials for one object, as UploadAuth.
    fn upload_auth(&self, key: &str) -> String {
        let ttl = self.shared.token_ttl;
        let token = self.shared.creds.issue(
            ttl,
            TokenScope::Upload {
                bucket: self.shared.vod_bucket.clone(),
                key: key.to_owned(),
            },
        );
        stats::inc(&self.shared.stats.sts_tokens_issued);
        UploadAuth {
            credentials: token.credentials(),
            region: Some(self.shared.info.region.clone()),
        }
        // Issue time, so `Expiration` is exactly the TTL in seconds.
        .encode(token.expires_at() - ttl)
    }

    fn check_storage_location(&self) -> Result<(), RpcError> {
        if let Some(loc) = self.opt("StorageLocation") {
            let bucket = loc.split('.').next().unwrap_or("");
            if bucket != self.shared.vod_bucket {
                return Err(RpcError::new(
                    404,
                    "InvalidStorage.NotFound",
                    "The storage location does not exist.",
                ));
            }
        }
        Ok(())
    }

    fn check_common_media(&self) -> Result<(), RpcError> {
        if let Some(title) = self.get("Title")
            && title.chars().count() > 128
        {
            return Err(RpcError::new(
                400,
                "LengthExceededMax",
                "The length of Title exceeds the maximum.",
            ));
        }
        if let Some(d) = self.get("Description")
            && d.chars().count() > 1024
        {
            return Err(RpcError::new(
                400,
                "LengthExceededMax",
                "The length of Description exceeds the maximum.",
            ));
        }
        if let Some(tags) = self.opt("Tags") {
            let tags: Vec<&str> = tags.split(',').collect();
            if tags.len() > 16 || tags.iter().any(|t| t.chars().count() > 32) {
                return Err(RpcError::new(
                    400,
                    "TagsExceededMax",
                    "The number or length of tags exceeds the maximum.",
                ));
            }
        }
        self.check_storage_location()
    }

    fn cate_id(&self) -> Result<Option<i64>, RpcError> {
        self.opt("CateId")
            .map(|c| {
                c.parse::<i64>()
                    .map_err(|_| RpcError::invalid("CateId", "The CateId is not a number."))
            })
            .transpose()
    }

    fn create_upload_video(&self) -> Result<Value, RpcError> {
        let title = self.required("Title")?;
        let file_name = self.required("FileName")?;
        self.check_common_media()?;
        let ext = file_name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .filter(|e| VIDEO_EXTENSIONS.contains(&e.as_str()))
            .ok_or_else(|| {
                RpcError::new(
                    400,
                    "InvalidFileName.Extension",
                    "The file extension of FileName is not supported.",
                )
            })?;
        let file_size = self
            .opt("FileSize")
            .map(|s| {
                s.parse::<u64>()
                    .map_err(|_| RpcError::invalid("FileSize", "The FileSize is not a number."))
            })
            .transpose()?;
        let cate_id = self.cate_id()?;
        let id = util::hex_lower(32);
        let dir = format!("{}-{}", util::hex_lower(8), util::hex_lower(11));
        let key = format!("sv/{dir}/{dir}.{ext}");
        let video = Video {
            id: id.clone(),
            title,
            description: self.opt("Description"),
            cate_id,
            tags: self.opt("Tags"),
            cover_url: self.opt("CoverURL"),
            file_size,
            template_group_id: self.opt("TemplateGroupId"),
            app_id: self.opt("AppId").unwrap_or_else(|| "app-1000000".into()),
            key: key.clone(),
            created: SystemTime::now(),
        };
        self.shared
            .vod
            .videos
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), video);
        stats::inc(&self.shared.stats.videos);
        to_value(CreateUploadVideoResponse {
            request_id: self.request_id.clone(),
            video_id: id,
            upload_address: self.upload_address(&key),
            upload_auth: self.upload_auth(&key),
        })
    }

    fn find_video(&self) -> Result<Video, RpcError> {
        let id = self.required("VideoId")?;
        self.shared
            .vod
            .videos
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
            .ok_or_else(|| RpcError::new(404, "InvalidVideo.NotFound", "The video does not exist."))
    }

    fn refresh_upload_video(&self) -> Result<Value, RpcError> {
        let video = self.find_video()?;
        to_value(RefreshUploadVideoResponse {
            request_id: self.request_id.clone(),
            upload_address: self.upload_address(&video.key),
            upload_auth: self.upload_auth(&video.key),
            video_id: video.id,
        })
    }

    fn create_upload_image(&self) -> Result<Value, RpcError> {
        let image_type = self.required("ImageType")?;
        if !matches!(image_type.as_str(), "default" | "cover") {
            return Err(RpcError::invalid(
                "ImageType",
                "The ImageType must be default or cover.",
            ));
        }
        let ext = self
            .opt("ImageExt")
            .unwrap_or_else(|| "png".into())
            .to_ascii_lowercase();
        if !IMAGE_EXTENSIONS.contains(&ext.as_str()) {
            return Err(RpcError::invalid(
                "ImageExt",
                "The ImageExt must be one of png, jpg, jpeg and gif.",
            ));
        }
        self.check_common_media()?;
        self.cate_id()?;
        let id = util::hex_lower(32);
        let key = format!("image/{image_type}/{}.{ext}", util::hex_upper(32));
        let url = format!(
            "{}/{}/{}",
            self.shared.info.oss_endpoint, self.shared.vod_bucket, key
        );
        stats::inc(&self.shared.stats.images);
        to_value(CreateUploadImageResponse {
            request_id: self.request_id.clone(),
            image_id: id,
            image_url: url.clone(),
            file_url: url,
            upload_address: self.upload_address(&key),
            upload_auth: self.upload_auth(&key),
        })
    }

    fn create_upload_attached_media(&self) -> Result<Value, RpcError> {
        let business = match self.required("BusinessType")?.as_str() {
            "watermark" => BusinessType::Watermark,
            "subtitle" => BusinessType::Subtitle,
            "material" => BusinessType::Material,
            _ => {
                return Err(RpcError::invalid(
                    "BusinessType",
                    "The BusinessType must be watermark, subtitle or material.",
                ));
            }
        };
        let allowed = attached_media_extensions(business);
        let ext = self.required("MediaExt")?.to_ascii_lowercase();
        if !allowed.contains(&ext.as_str()) {
            return Err(RpcError::invalid(
                "MediaExt",
                &format!(
                    "The MediaExt of {} must be one of {}.",
                    business.as_str(),
                    allowed.join(", ")
                ),
            ));
        }
        self.check_common_media()?;
        if let Some(ids) = self.opt("CateIds")
            && (ids.split(',').count() > 5 || ids.split(',').any(|c| c.parse::<i64>().is_err()))
        {
            return Err(RpcError::invalid(
                "CateIds",
                "The CateIds must be at most 5 comma-separated numbers.",
            ));
        }
        let id = util::hex_lower(32);
        let key = format!(
            "attached/{}/{}.{ext}",
            business.as_str(),
            util::hex_upper(32)
        );
        let url = format!(
            "{}/{}/{}",
            self.shared.info.oss_endpoint, self.shared.vod_bucket, key
        );
        to_value(json!({
            "RequestId": self.request_id,
            "MediaId": id,
            "MediaURL": url,
            "FileURL": url,
            "UploadAddress": self.upload_address(&key),
            "UploadAuth": self.upload_auth(&key),
        }))
    }

    fn get_video_info(&self) -> Result<Value, RpcError> {
        let v = self.find_video()?;
        let object = self
            .shared
            .store
            .get_object(&self.shared.vod_bucket, &v.key);
        let mut doc = Map::new();
        doc.insert("VideoId".into(), json!(v.id));
        doc.insert("Title".into(), json!(v.title));
        doc.insert(
            "Status".into(),
            json!(if object.is_some() {
                "Normal"
            } else {
                "Uploading"
            }),
        );
        doc.insert("CreationTime".into(), json!(format_utc_time(v.created)));
        doc.insert(
            "ModificationTime".into(),
            json!(format_utc_time(
                object.as_ref().map_or(v.created, |o| o.last_modified)
            )),
        );
        if let Some(size) = object.as_ref().map(|o| o.size).or(v.file_size) {
            doc.insert("Size".into(), json!(size));
        }
        if let Some(d) = &v.description {
            doc.insert("Description".into(), json!(d));
        }
        if let Some(c) = v.cate_id {
            doc.insert("CateId".into(), json!(c));
        }
        if let Some(t) = &v.tags {
            doc.insert("Tags".into(), json!(t));
        }
        if let Some(c) = &v.cover_url {
            doc.insert("CoverURL".into(), json!(c));
        }
        if let Some(t) = &v.template_group_id {
            doc.insert("TemplateGroupId".into(), json!(t));
        }
        doc.insert(
            "StorageLocation".into(),
            json!(format!(
                "{}.oss-{}.aliyuncs.com",
                self.shared.vod_bucket, self.shared.info.region
            )),
        );
        doc.insert("AppId".into(), json!(v.app_id));
        doc.insert("RegionId".into(), json!(self.shared.info.region));
        Ok(json!({ "Video": Value::Object(doc) }))
    }

    fn assume_role(&self) -> Result<Value, RpcError> {
        let role_arn = self.required("RoleArn")?;
        let session = self.required("RoleSessionName")?;
        if !role_arn.starts_with("acs:ram::") || !role_arn.contains(":role/") {
            return Err(RpcError::invalid(
                "RoleArn",
                "The parameter RoleArn is wrongly formed.",
            ));
        }
        if !(2..=64).contains(&session.len())
            || !session
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.@=,".contains(&b))
        {
            return Err(RpcError::invalid(
                "RoleSessionName",
                "The parameter RoleSessionName is wrongly formed.",
            ));
        }
        let ttl = match self.opt("DurationSeconds") {
            None => self.shared.token_ttl,
            Some(d) => {
                let secs = d.parse::<u64>().ok().filter(|s| (900..=43_200).contains(s));
                Duration::from_secs(secs.ok_or_else(|| {
                    RpcError::invalid(
                        "DurationSeconds",
                        "The Min/Max value of DurationSeconds is 15min/12hr.",
                    )
                })?)
            }
        };
        let token = self.shared.creds.issue(ttl, TokenScope::Role);
        stats::inc(&self.shared.stats.sts_tokens_issued);
        let account = role_arn
            .strip_prefix("acs:ram::")
            .and_then(|r| r.split(':').next())
            .unwrap_or("0");
        let role = role_arn.rsplit('/').next().unwrap_or("");
        to_value(AssumeRoleResponse {
            request_id: self.request_id.clone(),
            credentials: StsCredentials {
                access_key_id: token.access_key_id.clone(),
                access_key_secret: token.secret.clone(),
                security_token: token.token.clone(),
                expiration: format_utc_time(token.expires_at()),
            },
            assumed_role_user: Some(AssumedRoleUser {
                arn: format!("acs:ram::{account}:assumed-role/{role}/{session}"),
                assumed_role_id: format!("3{}:{session}", util::hex_lower(17)),
            }),
        })
    }

    fn get_caller_identity(&self, principal: &Principal) -> Result<Value, RpcError> {
        let (identity, arn) = match principal {
            Principal::Sts(t) => (
                "AssumedRoleUser",
                format!(
                    "acs:ram::1000000000000000:assumed-role/vod-sim/{}",
                    t.access_key_id
                ),
            ),
            _ => ("Account", "acs:ram::1000000000000000:root".to_owned()),
        };
        Ok(json!({
            "AccountId": "1000000000000000",
            "IdentityType": identity,
            "Arn": arn,
        }))
    }
}

fn to_value(doc: impl serde::Serialize) -> Result<Value, RpcError> {
    serde_json::to_value(doc).map_err(|e| RpcError::new(500, "InternalError", &e.to_string()))
}

/// Renders a JSON document the way POP renders XML responses.
fn to_xml(name: &str, v: &Value, out: &mut String) {
    match v {
        Value::Array(items) => {
            for item in items {
                to_xml(name, item, out);
            }
        }
        Value::Object(m) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in m {
                to_xml(k, v, out);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Null => out.push_str(&format!("<{name}/>")),
        Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", util::xml_text(s))),
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_window() {
        let mut n = Nonces::default();
        assert!(n.insert("a"));
        assert!(!n.insert("a"));
        assert!(n.insert("b"));
    }

    #[test]
    fn merge_prefers_body() {
        let q = vec![
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "2".to_owned()),
        ];
        let f = vec![("B".to_owned(), "3".to_owned())];
        assert_eq!(
            merge_params(q, f),
            vec![
                ("A".to_owned(), "1".to_owned()),
                ("B".to_owned(), "3".to_owned())
            ]
        );
    }

    #[test]
    fn xml_rendering() {
        let mut s = String::new();
        to_xml("R", &json!({"A": "x<y", "B": {"C": 1}}), &mut s);
        assert_eq!(s, "<R><A>x&lt;y</A><B><C>1</C></B></R>");
    }
}
