//! Credentials, and the base64 JSON `UploadAuth` / `UploadAddress` pair VOD hands out
//! (protocol.md §2).

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::error::{Error, Result};

/// Validity VOD documents for an upload credential, used when `UploadAuth` carries no usable
/// expiry (protocol.md §2.5).
pub const DEFAULT_UPLOAD_AUTH_VALIDITY: Duration = Duration::from_secs(3000);

/// Standard alphabet; padding optional because some app servers strip it.
const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A secret string (AccessKeySecret, SecurityToken). `Debug` and `Display` print `***` so it
/// cannot leak through logs or error messages; read it with [`Secret::expose`] only where it is
/// used (signing). Deliberately not `Serialize`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret value. Call it only to sign or to send it where the protocol requires.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// An access key, or an STS triple when `security_token` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: Secret,
    pub security_token: Option<Secret>,
    /// When the credentials stop working, if known.
    pub expires_at: Option<SystemTime>,
}

impl Credentials {
    /// A long-lived account (or RAM user) key without token or expiry.
    pub fn access_key(access_key_id: impl Into<String>, secret: impl Into<String>) -> Credentials {
        Credentials {
            access_key_id: access_key_id.into(),
            access_key_secret: Secret::new(secret),
            security_token: None,
            expires_at: None,
        }
    }

    /// STS credentials (AccessKeyId, AccessKeySecret, SecurityToken).
    pub fn sts(
        access_key_id: impl Into<String>,
        secret: impl Into<String>,
        security_token: impl Into<String>,
        expires_at: Option<SystemTime>,
    ) -> Credentials {
        Credentials {
            access_key_id: access_key_id.into(),
            access_key_secret: Secret::new(secret),
            security_token: Some(Secret::new(security_token)),
            expires_at,
        }
    }

    /// Whether these are STS credentials (a security token is sent with every request).
    pub fn is_sts(&self) -> bool {
        self.security_token.as_ref().is_some_and(|t| !t.is_empty())
    }
}

/// A decoded `UploadAuth`: the STS credentials for OSS, and the VOD region if given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadAuth {
    /// Always STS credentials with `expires_at` set after [`UploadAuth::decode`].
    pub credentials: Credentials,
    /// `Region`: the VOD region for later calls (RefreshUploadVideo), when present.
    pub region: Option<String>,
}

impl UploadAuth {
    /// Decodes the base64 JSON `UploadAuth` tolerantly (protocol.md §2.1, §2.2, §2.5).
    ///
    /// ASCII whitespace is ignored; standard base64 with or without padding; unknown members
    /// are ignored. `expires_at` is `ExpireUTCTime` when it parses as ISO-8601 UTC, else
    /// `now + Expiration` seconds when that is an integer, else `now + 3000 s`.
    /// Errors ([`Error::InvalidUploadAuth`]) say what is wrong and name the field, never
    /// include a secret.
    pub fn decode(b64: &str, now: SystemTime) -> Result<UploadAuth> {
        let obj = decode_object(b64).map_err(Error::InvalidUploadAuth)?;
        let field = |name: &str| required_str(&obj, name).map_err(Error::InvalidUploadAuth);
        let access_key_id = field("AccessKeyId")?;
        let secret = field("AccessKeySecret")?;
        let token = field("SecurityToken")?;
        let expires_at = optional_str(&obj, "ExpireUTCTime")
            .and_then(|s| parse_utc_time(&s))
            .or_else(|| {
                optional_str(&obj, "Expiration")
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    // An Expiration too large for a SystemTime falls back to the default.
                    .and_then(|secs| now.checked_add(Duration::from_secs(secs)))
            })
            .unwrap_or(now + DEFAULT_UPLOAD_AUTH_VALIDITY);
        Ok(UploadAuth {
            credentials: Credentials::sts(access_key_id, secret, token, Some(expires_at)),
            region: optional_str(&obj, "Region"),
        })
    }

    /// Encodes as VOD does: base64 of a JSON object with `AccessKeyId`, `AccessKeySecret`,
    /// `SecurityToken`, `Expiration` (seconds from `now`, as a decimal string), `ExpireUTCTime`
    /// (`YYYY-MM-DDThh:mm:ssZ`) and `Region` (the last three only when known).
    pub fn encode(&self, now: SystemTime) -> String {
        let c = &self.credentials;
        let mut obj = Map::new();
        obj.insert("AccessKeyId".into(), c.access_key_id.clone().into());
        obj.insert(
            "AccessKeySecret".into(),
            c.access_key_secret.expose().into(),
        );
        let token = c.security_token.as_ref().map(Secret::expose).unwrap_or("");
        obj.insert("SecurityToken".into(), token.into());
        if let Some(exp) = c.expires_at {
            let secs = exp.duration_since(now).unwrap_or_default().as_secs();
            obj.insert("Expiration".into(), secs.to_string().into());
            obj.insert("ExpireUTCTime".into(), format_utc_time(exp).into());
        }
        if let Some(region) = &self.region {
            obj.insert("Region".into(), region.clone().into());
        }
        base64::engine::general_purpose::STANDARD.encode(Value::Object(obj).to_string())
    }
}

/// A decoded `UploadAddress`: where the object goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadAddress {
    /// OSS endpoint with scheme and without trailing slash, e.g.
    /// `https://oss-cn-shanghai.aliyuncs.com`.
    pub endpoint: String,
    pub bucket: String,
    /// The object key (`FileName`).
    pub file_name: String,
    /// `ObjectPrefix`, for multi-file assets.
    pub object_prefix: Option<String>,
}

impl UploadAddress {
    /// Decodes the base64 JSON `UploadAddress` (protocol.md §2.3). `Endpoint` may come with or
    /// without a scheme (`https://` is assumed); a trailing slash is removed. Missing `Endpoint`,
    /// `Bucket` or `FileName` is an [`Error::InvalidUploadAddress`] naming the field.
    pub fn decode(b64: &str) -> Result<UploadAddress> {
        let obj = decode_object(b64).map_err(Error::InvalidUploadAddress)?;
        let field = |name: &str| required_str(&obj, name).map_err(Error::InvalidUploadAddress);
        let endpoint = normalize_endpoint(&field("Endpoint")?);
        Ok(UploadAddress {
            endpoint,
            bucket: field("Bucket")?,
            file_name: field("FileName")?,
            object_prefix: optional_str(&obj, "ObjectPrefix"),
        })
    }

    /// Encodes as VOD does (`Endpoint`, `Bucket`, `FileName`, and `ObjectPrefix` when set).
    pub fn encode(&self) -> String {
        let mut obj = Map::new();
        obj.insert("Endpoint".into(), self.endpoint.clone().into());
        obj.insert("Bucket".into(), self.bucket.clone().into());
        obj.insert("FileName".into(), self.file_name.clone().into());
        if let Some(prefix) = &self.object_prefix {
            obj.insert("ObjectPrefix".into(), prefix.clone().into());
        }
        base64::engine::general_purpose::STANDARD.encode(Value::Object(obj).to_string())
    }
}

/// Adds `https://` when the endpoint has no scheme and removes trailing slashes (and any
/// whitespace between them).
pub fn normalize_endpoint(endpoint: &str) -> String {
    let endpoint = endpoint.trim();
    // Any scheme is kept (an unsupported one is refused later, by endpoint validation).
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("https", endpoint));
    let rest = rest.trim_end_matches(|c: char| c == '/' || c.is_whitespace());
    format!("{scheme}://{rest}")
}

/// Formats a time as `YYYY-MM-DDThh:mm:ssZ` (UTC, whole seconds), the form VOD, STS and the
/// RPC `Timestamp` use.
///
/// A time outside the years the format can write (beyond ±9999) gives an empty string.
pub fn format_utc_time(t: SystemTime) -> String {
    // Not OffsetDateTime::from(t): that panics for times beyond year 9999, which a server's
    // `Expiration` (seconds from now) can reach.
    let nanos = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    };
    let Ok(dt) = OffsetDateTime::from_unix_timestamp_nanos(nanos) else {
        return String::new();
    };
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    // Formatting a valid OffsetDateTime with a fixed description cannot fail for years 0..9999.
    dt.format(&fmt).unwrap_or_default()
}

/// Parses an ISO-8601 UTC time: RFC 3339 (`2025-06-02T08:00:00Z`, with optional fraction or
/// offset) or the zone-less `2025-06-02T08:00:00` OSS Android assumes to be UTC.
pub fn parse_utc_time(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    if let Ok(dt) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(dt.into());
    }
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s, &fmt)
        .ok()
        .map(|p| p.assume_utc().into())
}

/// Strips whitespace, base64-decodes and JSON-parses; the error names the failing step.
fn decode_object(b64: &str) -> std::result::Result<Map<String, Value>, String> {
    let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Err("the string is empty".into());
    }
    // The decode error names an offset only, never the content.
    let bytes = B64_LENIENT
        .decode(compact.as_bytes())
        .map_err(|e| format!("not valid base64 ({})", describe_b64_error(&e)))?;
    // serde_json's message names line and column only.
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("not valid JSON ({e})"))?;
    match value {
        Value::Object(obj) => Ok(obj),
        _ => Err("the JSON is not an object".into()),
    }
}

fn describe_b64_error(e: &base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(offset, _) => {
            format!("invalid character at offset {offset}")
        }
        base64::DecodeError::InvalidLength(_) => "invalid length".into(),
        base64::DecodeError::InvalidLastSymbol(offset, _) => {
            format!("invalid last symbol at offset {offset}")
        }
        base64::DecodeError::InvalidPadding => "invalid padding".into(),
    }
}

/// A non-empty string member (numbers are accepted and stringified: tolerant of servers that
/// send `Expiration` as a number).
fn optional_str(obj: &Map<String, Value>, name: &str) -> Option<String> {
    match obj.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn required_str(obj: &Map<String, Value>, name: &str) -> std::result::Result<String, String> {
    match obj.get(name) {
        None | Some(Value::Null) => Err(format!("missing field {name}")),
        Some(Value::String(s)) if s.trim().is_empty() => Err(format!("empty field {name}")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("field {name} is not a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_748_851_200) // 2025-06-02T08:00:00Z
    }

    #[test]
    fn secret_never_prints() {
        let c = Credentials::sts("STS.x", "topsecret", "CAIStoken", None);
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("topsecret") && !dbg.contains("CAIStoken"),
            "{dbg}"
        );
        assert_eq!(Secret::new("x").to_string(), "***");
        assert!(c.is_sts());
        assert!(!Credentials::access_key("a", "b").is_sts());
    }

    #[test]
    fn upload_auth_prefers_expire_utc_time() {
        let json = r#"{"AccessKeyId":"STS.a","AccessKeySecret":"s","SecurityToken":"CAIS",
            "Expiration":"3600","ExpireUTCTime":"2025-06-02T09:00:00Z","Region":"cn-beijing",
            "SomethingNew":{"x":1}}"#;
        let auth = UploadAuth::decode(&b64(json), t0()).unwrap();
        assert_eq!(auth.credentials.access_key_id, "STS.a");
        assert_eq!(auth.credentials.access_key_secret.expose(), "s");
        assert_eq!(
            auth.credentials.security_token.as_ref().unwrap().expose(),
            "CAIS"
        );
        assert_eq!(
            auth.credentials.expires_at,
            Some(t0() + Duration::from_secs(3600))
        );
        assert_eq!(auth.region.as_deref(), Some("cn-beijing"));
    }

    #[test]
    fn upload_auth_expiry_fallbacks() {
        let base = r#""AccessKeyId":"a","AccessKeySecret":"s","SecurityToken":"t""#;
        let with_exp = format!(r#"{{{base},"Expiration":"1200","ExpireUTCTime":"garbage"}}"#);
        let auth = UploadAuth::decode(&b64(&with_exp), t0()).unwrap();
        assert_eq!(
            auth.credentials.expires_at,
            Some(t0() + Duration::from_secs(1200))
        );
        let none = format!("{{{base}}}");
        let auth = UploadAuth::decode(&b64(&none), t0()).unwrap();
        assert_eq!(
            auth.credentials.expires_at,
            Some(t0() + DEFAULT_UPLOAD_AUTH_VALIDITY)
        );
        assert_eq!(auth.region, None);
        let naive = format!(r#"{{{base},"ExpireUTCTime":"2025-06-02T08:30:00"}}"#);
        let auth = UploadAuth::decode(&b64(&naive), t0()).unwrap();
        assert_eq!(
            auth.credentials.expires_at,
            Some(t0() + Duration::from_secs(1800))
        );
    }

    #[test]
    fn upload_auth_tolerates_whitespace_and_missing_padding() {
        let json = r#"{"AccessKeyId":"a","AccessKeySecret":"s","SecurityToken":"t1"}"#;
        let enc = b64(json);
        assert!(enc.ends_with('='), "test needs a padded encoding: {enc}");
        let unpadded = enc.trim_end_matches('=');
        let wrapped: String = unpadded
            .as_bytes()
            .chunks(20)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\r\n ");
        let auth = UploadAuth::decode(&format!(" {wrapped}\n"), t0()).unwrap();
        assert_eq!(auth.credentials.access_key_id, "a");
    }

    #[test]
    fn upload_auth_errors_name_the_problem() {
        let err = |s: &str| UploadAuth::decode(s, t0()).unwrap_err().to_string();
        assert!(err("!!!notbase64").contains("base64"), "{}", err("!!!"));
        assert!(err(&b64("{not json")).contains("JSON"));
        assert!(err(&b64("[1,2]")).contains("not an object"));
        let e = err(&b64(r#"{"AccessKeyId":"a","SecurityToken":"t"}"#));
        assert!(
            e.contains("AccessKeySecret") && e.starts_with("invalid UploadAuth"),
            "{e}"
        );
        let e = err(&b64(
            r#"{"AccessKeyId":"a","AccessKeySecret":"sec","SecurityToken":""}"#,
        ));
        assert!(e.contains("SecurityToken") && !e.contains("sec\""), "{e}");
        let e = err(&b64(
            r#"{"AccessKeyId":"","AccessKeySecret":"s","SecurityToken":"t"}"#,
        ));
        assert!(e.contains("AccessKeyId"), "{e}");
    }

    #[test]
    fn upload_auth_round_trips() {
        let auth = UploadAuth {
            credentials: Credentials::sts(
                "STS.k",
                "sec\"ret",
                "CAIS+/=",
                Some(t0() + Duration::from_secs(3000)),
            ),
            region: Some("cn-shanghai".into()),
        };
        let enc = auth.encode(t0());
        let json: Value = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(&enc)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(json["Expiration"], "3000");
        assert_eq!(json["ExpireUTCTime"], "2025-06-02T08:50:00Z");
        assert_eq!(UploadAuth::decode(&enc, t0()).unwrap(), auth);
    }

    #[test]
    fn upload_address_normalises_endpoint() {
        let dec = |ep: &str| {
            let json = format!(r#"{{"Endpoint":"{ep}","Bucket":"outin-x","FileName":"sv/a.mp4"}}"#);
            UploadAddress::decode(&b64(&json)).unwrap()
        };
        assert_eq!(
            dec("https://oss-cn-shanghai.aliyuncs.com").endpoint,
            "https://oss-cn-shanghai.aliyuncs.com"
        );
        assert_eq!(
            dec("oss-cn-shanghai.aliyuncs.com/").endpoint,
            "https://oss-cn-shanghai.aliyuncs.com"
        );
        assert_eq!(
            dec("http://127.0.0.1:9000/").endpoint,
            "http://127.0.0.1:9000"
        );
        let a = dec("oss-cn-shanghai.aliyuncs.com");
        assert_eq!(
            (a.bucket.as_str(), a.file_name.as_str()),
            ("outin-x", "sv/a.mp4")
        );
        assert_eq!(a.object_prefix, None);
        assert_eq!(UploadAddress::decode(&a.encode()).unwrap(), a);
    }

    #[test]
    fn upload_address_errors_name_the_field() {
        for (json, field) in [
            (r#"{"Bucket":"b","FileName":"f"}"#, "Endpoint"),
            (r#"{"Endpoint":"e","FileName":"f"}"#, "Bucket"),
            (r#"{"Endpoint":"e","Bucket":"b","FileName":""}"#, "FileName"),
        ] {
            let e = UploadAddress::decode(&b64(json)).unwrap_err();
            assert!(matches!(e, Error::InvalidUploadAddress(_)));
            assert!(e.to_string().contains(field), "{e}");
        }
        let with_prefix = r#"{"Endpoint":"e","Bucket":"b","FileName":"f","ObjectPrefix":"p/"}"#;
        let a = UploadAddress::decode(&b64(with_prefix)).unwrap();
        assert_eq!(a.object_prefix.as_deref(), Some("p/"));
        assert_eq!(UploadAddress::decode(&a.encode()).unwrap(), a);
    }

    #[test]
    fn utc_time_formats() {
        assert_eq!(format_utc_time(t0()), "2025-06-02T08:00:00Z");
        assert_eq!(parse_utc_time("2025-06-02T08:00:00Z"), Some(t0()));
        assert_eq!(parse_utc_time("2025-06-02T16:00:00+08:00"), Some(t0()));
        assert_eq!(parse_utc_time("3600"), None);
    }

    /// Found with the upload_address fuzz target (fuzz/, docs/fuzzing.md): `" x /"` became
    /// `"https://x "` (the space before the slash stayed), which encode/decode turned into
    /// `"https://x"`, so normalisation was not idempotent.
    #[test]
    fn endpoint_normalisation_is_idempotent() {
        for ep in [" x /", "x / /", "https://x\t/", "x/ "] {
            let once = normalize_endpoint(ep);
            assert_eq!(once, "https://x");
            assert_eq!(normalize_endpoint(&once), once);
        }
        let json = r#"{"Endpoint":" x /","Bucket":"b","FileName":"f"}"#;
        let a = UploadAddress::decode(&b64(json)).unwrap();
        assert_eq!(a.endpoint, "https://x");
        assert_eq!(UploadAddress::decode(&a.encode()).unwrap(), a);
    }

    /// Found by the upload_auth fuzz target (fuzz/, docs/fuzzing.md): an `Expiration` too large
    /// for a SystemTime panicked in decode ("overflow when adding duration to `SystemTime`"),
    /// and one past year 9999 panicked in encode (format_utc_time).
    #[test]
    fn huge_expiration_does_not_panic() {
        let base = r#""AccessKeyId":"a","AccessKeySecret":"s","SecurityToken":"t""#;
        let overflow = format!(r#"{{{base},"Expiration":"18446744073709551615"}}"#);
        let auth = UploadAuth::decode(&b64(&overflow), t0()).unwrap();
        assert_eq!(
            auth.credentials.expires_at,
            Some(t0() + DEFAULT_UPLOAD_AUTH_VALIDITY)
        );
        let far = format!(r#"{{{base},"Expiration":"1000000000000"}}"#);
        let auth = UploadAuth::decode(&b64(&far), t0()).unwrap();
        let expires_at = t0() + Duration::from_secs(1_000_000_000_000);
        assert_eq!(auth.credentials.expires_at, Some(expires_at));
        assert_eq!(format_utc_time(expires_at), "");
        let again = UploadAuth::decode(&auth.encode(t0()), t0()).unwrap();
        assert_eq!(again, auth);
    }
}
