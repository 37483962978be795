//! OSS request signing, V1 (HMAC-SHA1) and V4 (OSS4-HMAC-SHA256), protocol.md §3.
//!
//! The building blocks are public so the simulator verifies requests with the same code that
//! signs them; [`sign_request`] is the client side.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::SystemTime;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;

use super::SignatureVersion;
use super::credentials::Credentials;

/// The V4 algorithm name (Authorization prefix and first string-to-sign line).
pub const V4_ALGORITHM: &str = "OSS4-HMAC-SHA256";
/// The V4 payload hash OSS clients send instead of hashing the body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Query parameters that are part of the V1 canonical resource: oss2's full list (2.19), plus
/// `resourceGroup` and the Android list's `bucketInfo`/`objectMeta`, so that every request an
/// official SDK makes verifies. Anything else (`max-parts`, `Expires`, ...) is not signed in V1.
const V1_SUB_RESOURCES: &[&str] = &[
    "acl",
    "append",
    "asyncFetch",
    "bucketInfo",
    "callback",
    "callback-var",
    "cname",
    "comp",
    "continuation-token",
    "cors",
    "delete",
    "encryption",
    "endTime",
    "group",
    "inventory",
    "inventoryId",
    "lifecycle",
    "link",
    "live",
    "location",
    "logging",
    "metaQuery",
    "objectInfo",
    "objectMeta",
    "partNumber",
    "policy",
    "position",
    "qos",
    "qosInfo",
    "referer",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "requestPayment",
    "resourceGroup",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "security-token",
    "sequential",
    "startTime",
    "stat",
    "status",
    "symlink",
    "tagging",
    "transferAcceleration",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "vod",
    "website",
    "worm",
    "wormExtend",
    "wormId",
    "x-oss-process",
    "x-oss-request-payer",
    "x-oss-traffic-limit",
];

/// RFC 3986 unreserved characters stay, everything else is `%XX` (upper-case hex).
const V4_QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Same, but `/` stays (object keys in the URI).
const V4_PATH_SET: &AsciiSet = &V4_QUERY_SET.remove(b'/');

/// What a signature covers: a request without its body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OssRequest {
    /// Upper-case HTTP method.
    pub method: String,
    /// `None` for service-level calls.
    pub bucket: Option<String>,
    /// The raw (not percent-encoded) object key; `None` for bucket-level calls.
    pub key: Option<String>,
    /// Decoded query parameters in request order; `None` (or empty) value = bare `name`.
    pub query: Vec<(String, Option<String>)>,
    /// Headers by lower-case name.
    pub headers: BTreeMap<String, String>,
}

impl OssRequest {
    pub fn new(method: &str, bucket: Option<&str>, key: Option<&str>) -> OssRequest {
        OssRequest {
            method: method.to_ascii_uppercase(),
            bucket: bucket.map(str::to_owned),
            key: key.map(str::to_owned),
            query: Vec::new(),
            headers: BTreeMap::new(),
        }
    }

    /// Adds a query parameter (builder style).
    pub fn with_query(mut self, name: &str, value: Option<&str>) -> OssRequest {
        self.query.push((name.to_owned(), value.map(str::to_owned)));
        self
    }

    /// Sets a header; the name is stored lower-case (builder style).
    pub fn with_header(mut self, name: &str, value: &str) -> OssRequest {
        self.set_header(name, value);
        self
    }

    /// Sets a header; the name is stored lower-case.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.insert(name.to_ascii_lowercase(), value.into());
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }

    fn bucket(&self) -> Option<&str> {
        self.bucket.as_deref().filter(|b| !b.is_empty())
    }

    fn key(&self) -> Option<&str> {
        self.key.as_deref().filter(|k| !k.is_empty())
    }
}

/// The V1 string-to-sign (protocol.md §3.1).
///
/// The date slot is the `date` header; without one, `x-oss-date` (what oss2 prefers), and for
/// presigned URLs (no date header at all) the `Expires` query parameter.
pub fn v1_string_to_sign(req: &OssRequest) -> String {
    let date = req
        .header("date")
        .or_else(|| req.header("x-oss-date"))
        .or_else(|| req.query_value("Expires"))
        .unwrap_or("");
    let mut s = String::with_capacity(256);
    s.push_str(&req.method);
    s.push('\n');
    s.push_str(req.header("content-md5").unwrap_or(""));
    s.push('\n');
    s.push_str(req.header("content-type").unwrap_or(""));
    s.push('\n');
    s.push_str(date);
    s.push('\n');
    for (name, value) in canonical_headers(req, |n| n.starts_with("x-oss-")) {
        let _ = writeln!(s, "{name}:{value}");
    }
    push_v1_resource(&mut s, req);
    s
}

fn push_v1_resource(s: &mut String, req: &OssRequest) {
    s.push('/');
    if let Some(bucket) = req.bucket() {
        s.push_str(bucket);
        s.push('/');
        if let Some(key) = req.key() {
            s.push_str(key);
        }
    }
    let mut subs: Vec<(&str, &str)> = req
        .query
        .iter()
        .filter(|(k, _)| V1_SUB_RESOURCES.binary_search(&k.as_str()).is_ok())
        .map(|(k, v)| (k.as_str(), v.as_deref().unwrap_or("")))
        .collect();
    subs.sort_unstable();
    for (i, (k, v)) in subs.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        if !v.is_empty() {
            s.push('=');
            s.push_str(v);
        }
    }
}

/// Canonical headers selected by `include` (called with the lower-case name): lower-case names,
/// values trimmed of spaces, sorted by name.
fn canonical_headers(req: &OssRequest, include: impl Fn(&str) -> bool) -> Vec<(String, &str)> {
    let mut out: Vec<(String, &str)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim_matches(' ')))
        .filter(|(k, _)| include(k))
        .collect();
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    out
}

/// `base64(HMAC-SHA1(secret, string_to_sign))`.
pub fn v1_signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = hmac_sha1(secret.as_bytes());
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The V4 canonical request (protocol.md §3.3). `additional_headers` are extra signed header
/// names (lower-case, besides `x-oss-*`, `content-type`, `content-md5`), usually empty.
pub fn v4_canonical_request(req: &OssRequest, additional_headers: &[String]) -> String {
    let mut additional: Vec<String> = additional_headers
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .filter(|h| !is_default_v4_header(h))
        .collect();
    additional.sort_unstable();
    additional.dedup();

    let mut s = String::with_capacity(512);
    s.push_str(&req.method);
    s.push('\n');
    s.push('/');
    if let Some(bucket) = req.bucket() {
        s.extend(utf8_percent_encode(bucket, V4_PATH_SET));
        s.push('/');
        if let Some(key) = req.key() {
            s.extend(utf8_percent_encode(key, V4_PATH_SET));
        }
    }
    s.push('\n');

    let mut query: Vec<(String, String)> = req
        .query
        .iter()
        .map(|(k, v)| {
            let v = v.as_deref().unwrap_or("");
            (
                utf8_percent_encode(k, V4_QUERY_SET).to_string(),
                utf8_percent_encode(v, V4_QUERY_SET).to_string(),
            )
        })
        .collect();
    query.sort_unstable();
    for (i, (k, v)) in query.iter().enumerate() {
        if i > 0 {
            s.push('&');
        }
        s.push_str(k);
        if !v.is_empty() {
            s.push('=');
            s.push_str(v);
        }
    }
    s.push('\n');

    let headers = canonical_headers(req, |n| {
        is_default_v4_header(n) || additional.iter().any(|a| a == n)
    });
    for (name, value) in headers {
        let _ = writeln!(s, "{name}:{value}");
    }
    s.push('\n');
    s.push_str(&additional.join(";"));
    s.push('\n');
    s.push_str(
        req.header("x-oss-content-sha256")
            .unwrap_or(UNSIGNED_PAYLOAD),
    );
    s
}

fn is_default_v4_header(name: &str) -> bool {
    name.starts_with("x-oss-") || name == "content-type" || name == "content-md5"
}

/// The V4 scope: `yyyymmdd/region/oss/aliyun_v4_request`.
pub fn v4_scope(yyyymmdd: &str, region: &str) -> String {
    format!("{yyyymmdd}/{region}/oss/aliyun_v4_request")
}

/// The V4 string-to-sign; the scope date is the first 8 characters of `x_oss_date`
/// (`yyyymmddThhmmssZ`).
pub fn v4_string_to_sign(x_oss_date: &str, region: &str, canonical_request: &str) -> String {
    let day = x_oss_date.get(..8).unwrap_or(x_oss_date);
    v4_string_to_sign_with_day(x_oss_date, day, region, canonical_request)
}

/// The V4 string-to-sign with an explicit scope day, for signers whose timestamp line is not
/// `x-oss-date` (aliyun-oss-go-sdk 3.0.2 puts the raw `Date` header there).
pub fn v4_string_to_sign_with_day(
    timestamp: &str,
    yyyymmdd: &str,
    region: &str,
    canonical_request: &str,
) -> String {
    let hash = Sha256::digest(canonical_request.as_bytes());
    format!(
        "{V4_ALGORITHM}\n{timestamp}\n{}\n{}",
        v4_scope(yyyymmdd, region),
        hex(&hash)
    )
}

/// `hex(HMAC-SHA256(signing_key, string_to_sign))` with the V4 key derivation.
pub fn v4_signature(secret: &str, yyyymmdd: &str, region: &str, string_to_sign: &str) -> String {
    let mut key_material = String::with_capacity(9 + secret.len());
    key_material.push_str("aliyun_v4");
    key_material.push_str(secret);
    let k_date = hmac_sha256(key_material.as_bytes(), yyyymmdd.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, b"oss");
    let k_signing = hmac_sha256(&k_service, b"aliyun_v4_request");
    hex(&hmac_sha256(&k_signing, string_to_sign.as_bytes()))
}

/// A parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedAuthorization {
    /// `OSS <AccessKeyId>:<Signature>`
    V1 {
        access_key_id: String,
        signature: String,
    },
    /// `OSS4-HMAC-SHA256 Credential=<AK>/<date>/<region>/oss/aliyun_v4_request,
    /// [AdditionalHeaders=a;b,]Signature=<hex>` (any order; `,` or `, ` separators).
    V4 {
        access_key_id: String,
        /// `yyyymmdd` from the credential scope.
        date: String,
        region: String,
        additional_headers: Vec<String>,
        signature: String,
    },
}

/// Parses an OSS `Authorization` header value; `None` when it is neither V1 nor a well-formed V4.
pub fn parse_authorization(value: &str) -> Option<ParsedAuthorization> {
    let value = value.trim();
    if let Some(rest) = value.strip_prefix("OSS ") {
        let (ak, sig) = rest.trim().rsplit_once(':')?;
        if ak.is_empty() || sig.is_empty() {
            return None;
        }
        return Some(ParsedAuthorization::V1 {
            access_key_id: ak.to_owned(),
            signature: sig.to_owned(),
        });
    }
    let rest = value.strip_prefix(V4_ALGORITHM)?.strip_prefix(' ')?;
    let mut credential = None;
    let mut signature = None;
    let mut additional = Vec::new();
    for item in rest.split(',') {
        let (name, val) = item.trim().split_once('=')?;
        match name {
            "Credential" => credential = Some(val),
            "Signature" => signature = Some(val),
            "AdditionalHeaders" => {
                additional = val
                    .split(';')
                    .filter(|h| !h.is_empty())
                    .map(|h| h.to_ascii_lowercase())
                    .collect()
            }
            _ => return None,
        }
    }
    // The access key id itself never contains '/', so split from the left.
    let mut parts = credential?.splitn(5, '/');
    let ak = parts.next()?;
    let date = parts.next()?;
    let region = parts.next()?;
    let (product, terminator) = (parts.next()?, parts.next()?);
    if ak.is_empty() || product != "oss" || terminator != "aliyun_v4_request" {
        return None;
    }
    Some(ParsedAuthorization::V4 {
        access_key_id: ak.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        additional_headers: additional,
        signature: signature?.to_owned(),
    })
}

/// Signs `req` in place: sets `date` (V1, IMF-fixdate) or `x-oss-date` and
/// `x-oss-content-sha256: UNSIGNED-PAYLOAD` (V4), `x-oss-security-token` for STS credentials,
/// and `authorization`. Every other header that is signed (`content-type`, `content-md5`,
/// `x-oss-*`) must already be set to exactly what will be sent. `region` is only used by V4.
pub fn sign_request(
    req: &mut OssRequest,
    creds: &Credentials,
    version: SignatureVersion,
    region: &str,
    now: SystemTime,
) {
    req.headers.remove("authorization");
    match creds.security_token.as_ref().filter(|t| !t.is_empty()) {
        Some(token) => req.set_header("x-oss-security-token", token.expose()),
        None => {
            req.headers.remove("x-oss-security-token");
        }
    }
    let secret = creds.access_key_secret.expose();
    let authorization = match version {
        SignatureVersion::V1 => {
            // Python V1 would sign x-oss-date instead of Date (protocol.md §3.1): never send it.
            req.headers.remove("x-oss-date");
            req.set_header("date", httpdate::fmt_http_date(now));
            let sts = v1_string_to_sign(req);
            format!("OSS {}:{}", creds.access_key_id, v1_signature(secret, &sts))
        }
        SignatureVersion::V4 => {
            let x_oss_date = format_v4_date(now);
            req.set_header("x-oss-date", x_oss_date.clone());
            req.set_header("x-oss-content-sha256", UNSIGNED_PAYLOAD);
            let canonical = v4_canonical_request(req, &[]);
            let sts = v4_string_to_sign(&x_oss_date, region, &canonical);
            let day = x_oss_date.get(..8).unwrap_or_default();
            format!(
                "{V4_ALGORITHM} Credential={}/{},Signature={}",
                creds.access_key_id,
                v4_scope(day, region),
                v4_signature(secret, day, region, &sts)
            )
        }
    };
    req.set_header("authorization", authorization);
}

/// `yyyymmddThhmmssZ` (UTC), the V4 `x-oss-date`.
pub fn format_v4_date(t: SystemTime) -> String {
    let fmt = format_description!("[year][month][day]T[hour][minute][second]Z");
    OffsetDateTime::from(t).format(&fmt).unwrap_or_default()
}

/// Parses a V4 `x-oss-date` (`yyyymmddThhmmssZ`).
pub fn parse_v4_date(s: &str) -> Option<SystemTime> {
    let fmt = format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, &fmt)
        .ok()
        .map(|p| p.assume_utc().into())
}

/// The OSS region of an endpoint host `oss-<region>[-internal].aliyuncs.com` (optionally with
/// a bucket label in front, a scheme, a port or a path), e.g. `cn-shanghai`. `None` for other
/// hosts, including acceleration endpoints (`oss-accelerate*.aliyuncs.com`), whose region V4
/// needs from elsewhere (UploadAuth `Region`).
pub fn region_from_endpoint(endpoint: &str) -> Option<String> {
    let rest = endpoint.trim();
    let rest = rest.split_once("://").map_or(rest, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next()?.to_ascii_lowercase();
    let label = host.strip_suffix(".aliyuncs.com")?.rsplit('.').next()?;
    let region = label.strip_prefix("oss-")?;
    let region = region.strip_suffix("-internal").unwrap_or(region);
    if region.is_empty() || region.starts_with("accelerate") {
        return None;
    }
    Some(region.to_owned())
}

type HmacSha1 = Hmac<Sha1>;
type HmacSha256 = Hmac<Sha256>;

fn hmac_sha1(key: &[u8]) -> HmacSha1 {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    match HmacSha1::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(unix: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(unix)
    }

    #[test]
    fn sub_resource_list_is_sorted_for_binary_search() {
        assert!(V1_SUB_RESOURCES.windows(2).all(|w| w[0] < w[1]));
    }

    // §3.2 (a): the OSS documentation example.
    #[test]
    fn v1_doc_vectors() {
        let secret = "OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV";
        let req = OssRequest::new("PUT", Some("oss-example"), Some("nelson"))
            .with_header(
                "Content-MD5",
                "ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=",
            )
            .with_header("Content-Type", "text/html")
            .with_header("Date", "Thu, 17 Nov 2005 18:49:58 GMT")
            .with_header("X-OSS-Meta-Author", "foo@bar.com")
            .with_header("X-OSS-Magic", "abracadabra");
        let sts = v1_string_to_sign(&req);
        assert_eq!(
            sts,
            "PUT\nODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=\ntext/html\n\
             Thu, 17 Nov 2005 18:49:58 GMT\nx-oss-magic:abracadabra\n\
             x-oss-meta-author:foo@bar.com\n/oss-example/nelson"
        );
        assert_eq!(v1_signature(secret, &sts), "26NBxoKdsyly4EDv6inkoDft/yA=");

        let service =
            OssRequest::new("PUT", None, None).with_header("date", "Thu, 17 Nov 2005 18:49:58 GMT");
        let sts = v1_string_to_sign(&service);
        assert_eq!(sts, "PUT\n\n\nThu, 17 Nov 2005 18:49:58 GMT\n/");
        assert_eq!(v1_signature(secret, &sts), "PPaaX3Rt4ntpD31O9aqkyCf2pd4=");

        // Presigned GET: Expires takes the date slot, OSSAccessKeyId/Expires are not signed.
        let presigned = OssRequest::new("GET", Some("oss-example"), Some("oss-api.pdf"))
            .with_query("OSSAccessKeyId", Some("44CF9590006BF252F707"))
            .with_query("Expires", Some("1141889120"));
        let sts = v1_string_to_sign(&presigned);
        assert_eq!(sts, "GET\n\n\n1141889120\n/oss-example/oss-api.pdf");
        assert_eq!(v1_signature(secret, &sts), "EwaNTn1erJGkimiJ9WmXgwnANLc=");
    }

    // §3.2 (b): aliyun-oss-go-sdk TestAuthV1Header.
    #[test]
    fn v1_go_sdk_header_vectors() {
        let date = "Wed, 28 Dec 2022 10:27:41 GMT";
        let full = |req: OssRequest| {
            req.with_header("Content-MD5", "eB5eJF1ptWaXm4bijSPyxw==")
                .with_header("Content-Type", "text/html")
                .with_header("x-oss-meta-author", "alice")
                .with_header("x-oss-meta-magic", "abracadabra")
                .with_header("x-oss-date", date)
                .with_header("Date", date)
        };
        let auth =
            |req: &OssRequest| format!("OSS ak:{}", v1_signature("sk", &v1_string_to_sign(req)));

        let put = full(OssRequest::new(
            "PUT",
            Some("examplebucket"),
            Some("nelson"),
        ));
        assert!(v1_string_to_sign(&put).ends_with(
            "x-oss-date:Wed, 28 Dec 2022 10:27:41 GMT\nx-oss-meta-author:alice\n\
             x-oss-meta-magic:abracadabra\n/examplebucket/nelson"
        ));
        assert_eq!(auth(&put), "OSS ak:kSHKmLxlyEAKtZPkJhG9bZb5k7M=");

        let acl = full(OssRequest::new(
            "PUT",
            Some("examplebucket"),
            Some("nelson"),
        ))
        .with_query("acl", None);
        assert_eq!(auth(&acl), "OSS ak:/afkugFbmWDQ967j1vr6zygBLQk=");

        let get = |q: &[&str]| {
            let mut r = OssRequest::new("GET", Some("examplebucket"), None)
                .with_header("x-oss-date", date)
                .with_header("Date", date);
            for name in q {
                r = r.with_query(name, None);
            }
            r
        };
        // A non-sub-resource parameter is ignored.
        let rg = get(&["resourceGroup"]).with_query("non-resousce", Some("null"));
        assert!(v1_string_to_sign(&rg).ends_with("\n/examplebucket/?resourceGroup"));
        assert_eq!(auth(&rg), "OSS ak:vkQmfuUDyi1uDi3bKt67oemssIs=");
        let both = get(&["resourceGroup", "acl"]);
        assert!(v1_string_to_sign(&both).ends_with("\n/examplebucket/?acl&resourceGroup"));
        assert_eq!(auth(&both), "OSS ak:x3E5TgOvl/i7PN618s5mEvpJDYk=");
    }

    // §3.2 (b): aliyun-oss-go-sdk TestAuthV1Query (presigned).
    #[test]
    fn v1_go_sdk_query_vectors() {
        let req = OssRequest::new("GET", Some("bucket"), Some("key"))
            .with_query("Expires", Some("1699807420"))
            .with_query("OSSAccessKeyId", Some("ak"))
            .with_query("versionId", Some("versionId"));
        let sts = v1_string_to_sign(&req);
        assert_eq!(sts, "GET\n\n\n1699807420\n/bucket/key?versionId=versionId");
        assert_eq!(v1_signature("sk", &sts), "dcLTea+Yh9ApirQ8o8dOPqtvJXQ=");

        let req = OssRequest::new("GET", Some("bucket"), Some("key+123"))
            .with_query("versionId", Some("versionId"))
            .with_query("security-token", Some("token"))
            .with_header("date", "1699808204");
        let sts = v1_string_to_sign(&req);
        assert_eq!(
            sts,
            "GET\n\n\n1699808204\n/bucket/key+123?security-token=token&versionId=versionId"
        );
        assert_eq!(v1_signature("sk", &sts), "jzKYRrM5y6Br0dRFPaTGOsbrDhY=");
    }

    // §3.2 (c): this project's calls with STS, cross-checked with oss2.
    #[test]
    fn v1_project_vectors() {
        let creds = Credentials::sts(
            "STS.NTestAccessKeyId",
            "TestAccessKeySecret",
            "CAIS_test_security_token",
            None,
        );
        let now = httpdate::parse_http_date("Mon, 02 Jun 2025 08:00:00 GMT").unwrap();
        let upload_id = "0004B9894A22E5B1888A1E29F823****";
        let key = Some("sv/abc/abc.mp4");
        let cases = [
            (
                OssRequest::new("POST", Some("outin-test"), key).with_query("uploads", None),
                "video/mp4",
                "/outin-test/sv/abc/abc.mp4?uploads",
                "EGfgO1wnKV8CaQykpcmzE+cjgAs=",
            ),
            (
                OssRequest::new("PUT", Some("outin-test"), key)
                    .with_query("uploadId", Some(upload_id))
                    .with_query("partNumber", Some("1")),
                "application/octet-stream",
                "/outin-test/sv/abc/abc.mp4?partNumber=1&uploadId=0004B9894A22E5B1888A1E29F823****",
                "s0g8gsqqTKVsEd7BbJb2ooMRY80=",
            ),
            (
                OssRequest::new("POST", Some("outin-test"), key)
                    .with_query("uploadId", Some(upload_id)),
                "application/xml",
                "/outin-test/sv/abc/abc.mp4?uploadId=0004B9894A22E5B1888A1E29F823****",
                "BeN4urJxgNKU98lqlu45mlu127Y=",
            ),
        ];
        for (req, content_type, resource, signature) in cases {
            let mut req = req.with_header("Content-Type", content_type);
            sign_request(&mut req, &creds, SignatureVersion::V1, "", now);
            assert_eq!(req.header("date"), Some("Mon, 02 Jun 2025 08:00:00 GMT"));
            let sts = v1_string_to_sign(&req);
            let method = req.method.clone();
            assert_eq!(
                sts,
                format!(
                    "{method}\n\n{content_type}\nMon, 02 Jun 2025 08:00:00 GMT\n\
                     x-oss-security-token:CAIS_test_security_token\n{resource}"
                )
            );
            assert_eq!(
                req.header("authorization").unwrap(),
                format!("OSS STS.NTestAccessKeyId:{signature}")
            );
            assert_eq!(
                parse_authorization(req.header("authorization").unwrap()),
                Some(ParsedAuthorization::V1 {
                    access_key_id: "STS.NTestAccessKeyId".into(),
                    signature: signature.into(),
                })
            );
        }
    }

    fn go_v4_request(x_oss_date: &str) -> OssRequest {
        OssRequest::new("PUT", Some("bucket"), Some("1234+-/123/1.txt"))
            .with_header("x-oss-head1", "value")
            .with_header("abc", "value")
            .with_header("ZAbc", "value")
            .with_header("XYZ", "value")
            .with_header("content-type", "text/plain")
            .with_header("x-oss-content-sha256", "UNSIGNED-PAYLOAD")
            .with_header("x-oss-date", x_oss_date)
            .with_query("param1", Some("value1"))
            .with_query("+param1", Some("value3"))
            .with_query("|param1", Some("value4"))
            .with_query("+param2", None)
            .with_query("|param2", None)
            .with_query("param2", None)
    }

    fn v4_auth(req: &OssRequest, secret: &str, region: &str, additional: &[String]) -> String {
        let date = req.header("x-oss-date").unwrap();
        let cr = v4_canonical_request(req, additional);
        let sts = v4_string_to_sign(date, region, &cr);
        v4_signature(secret, &date[..8], region, &sts)
    }

    // §3.3: aliyun-oss-go-sdk TestAuthV4Header.
    #[test]
    fn v4_go_sdk_header_vector() {
        let req =
            go_v4_request("20231216T162057Z").with_header("Date", "Sat, 16 Dec 2023 16:20:57 GMT");
        let cr = v4_canonical_request(&req, &[]);
        assert_eq!(
            cr,
            "PUT\n/bucket/1234%2B-/123/1.txt\n\
             %2Bparam1=value3&%2Bparam2&%7Cparam1=value4&%7Cparam2&param1=value1&param2\n\
             content-type:text/plain\nx-oss-content-sha256:UNSIGNED-PAYLOAD\n\
             x-oss-date:20231216T162057Z\nx-oss-head1:value\n\n\nUNSIGNED-PAYLOAD"
        );
        assert_eq!(
            v4_auth(&req, "sk", "cn-hangzhou", &[]),
            "e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe"
        );
    }

    // §3.3: aliyun-oss-go-sdk TestAuthV4HeaderToken, through sign_request.
    #[test]
    fn v4_go_sdk_token_vector() {
        let mut req = go_v4_request("ignored");
        let creds = Credentials::sts("ak", "sk", "token", None);
        sign_request(
            &mut req,
            &creds,
            SignatureVersion::V4,
            "cn-hangzhou",
            at(1_702_784_856),
        );
        assert_eq!(req.header("x-oss-date"), Some("20231217T034736Z"));
        assert_eq!(req.header("x-oss-security-token"), Some("token"));
        let expected = "OSS4-HMAC-SHA256 Credential=ak/20231217/cn-hangzhou/oss/aliyun_v4_request,\
                        Signature=b94a3f999cf85bcdc00d332fbd3734ba03e48382c36fa4d5af5df817395bd9ea";
        assert_eq!(req.header("authorization"), Some(expected));
        assert_eq!(
            parse_authorization(expected),
            Some(ParsedAuthorization::V4 {
                access_key_id: "ak".into(),
                date: "20231217".into(),
                region: "cn-hangzhou".into(),
                additional_headers: vec![],
                signature: "b94a3f999cf85bcdc00d332fbd3734ba03e48382c36fa4d5af5df817395bd9ea"
                    .into(),
            })
        );
    }

    // aliyun-oss-go-sdk TestAuthV4HeaderWithAdditionalHeaders (beyond protocol.md).
    #[test]
    fn v4_go_sdk_additional_headers_vector() {
        let req = go_v4_request(&format_v4_date(at(1_702_747_512)));
        let additional = vec!["ZAbc".to_string(), "abc".to_string()];
        assert_eq!(
            v4_auth(&req, "sk", "cn-hangzhou", &additional),
            "4a4183c187c07c8947db7620deb0a6b38d9fbdd34187b6dbaccb316fa251212f"
        );
    }

    #[test]
    fn parse_authorization_accepts_python_and_go_forms() {
        let python = "OSS4-HMAC-SHA256 Credential=STS.a/20250602/cn-shanghai/oss/aliyun_v4_request, \
                      Signature=abc, AdditionalHeaders=host;range";
        let Some(ParsedAuthorization::V4 {
            access_key_id,
            date,
            region,
            additional_headers,
            signature,
        }) = parse_authorization(python)
        else {
            panic!("not parsed");
        };
        assert_eq!(
            (
                access_key_id.as_str(),
                date.as_str(),
                region.as_str(),
                signature.as_str()
            ),
            ("STS.a", "20250602", "cn-shanghai", "abc")
        );
        assert_eq!(additional_headers, ["host", "range"]);
        let go = "OSS4-HMAC-SHA256 Credential=a/20250602/cn-shanghai/oss/aliyun_v4_request,\
                  AdditionalHeaders=host,Signature=def";
        assert!(matches!(
            parse_authorization(go),
            Some(ParsedAuthorization::V4 { .. })
        ));
        assert_eq!(parse_authorization("OSS :x"), None);
        assert_eq!(parse_authorization("Bearer x"), None);
        assert_eq!(
            parse_authorization(
                "OSS4-HMAC-SHA256 Credential=a/20250602/r/s3/aws4_request,Signature=x"
            ),
            None
        );
        assert_eq!(
            parse_authorization("OSS4-HMAC-SHA256 Credential=a/20250602/r/oss/aliyun_v4_request"),
            None
        );
    }

    #[test]
    fn sign_request_v1_without_token_drops_stale_headers() {
        let mut req = OssRequest::new("GET", Some("b"), Some("k"))
            .with_header("x-oss-security-token", "stale")
            .with_header("x-oss-date", "stale");
        let creds = Credentials::access_key("ak", "sk");
        sign_request(
            &mut req,
            &creds,
            SignatureVersion::V1,
            "",
            at(1_702_784_856),
        );
        assert_eq!(req.header("x-oss-security-token"), None);
        assert_eq!(req.header("x-oss-date"), None);
        assert_eq!(req.header("date"), Some("Sun, 17 Dec 2023 03:47:36 GMT"));
        let sig = v1_signature("sk", "GET\n\n\nSun, 17 Dec 2023 03:47:36 GMT\n/b/k");
        assert_eq!(
            req.header("authorization"),
            Some(format!("OSS ak:{sig}").as_str())
        );
    }

    #[test]
    fn region_from_endpoints() {
        let r = |e: &str| region_from_endpoint(e);
        assert_eq!(
            r("https://oss-cn-shanghai.aliyuncs.com").as_deref(),
            Some("cn-shanghai")
        );
        assert_eq!(
            r("oss-cn-hangzhou-internal.aliyuncs.com").as_deref(),
            Some("cn-hangzhou")
        );
        assert_eq!(
            r("http://bucket.oss-ap-southeast-1.aliyuncs.com:443/x").as_deref(),
            Some("ap-southeast-1")
        );
        assert_eq!(r("https://oss-accelerate.aliyuncs.com"), None);
        assert_eq!(r("https://oss-accelerate-overseas.aliyuncs.com"), None);
        assert_eq!(r("http://127.0.0.1:9000"), None);
        assert_eq!(r("https://vod.cn-shanghai.aliyuncs.com"), None);
    }

    #[test]
    fn v4_dates() {
        assert_eq!(format_v4_date(at(1_702_743_657)), "20231216T162057Z");
        assert_eq!(parse_v4_date("20231216T162057Z"), Some(at(1_702_743_657)));
        assert_eq!(parse_v4_date("Sat, 16 Dec 2023"), None);
    }
}
