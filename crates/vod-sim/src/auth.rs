//! Credentials (the account key and issued STS tokens) and OSS request authentication.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use http::HeaderMap;

use crate::StsCredentials;
use crate::oss::OssError;
use crate::sign;
use crate::util;

/// OSS rejects a request whose date is more than 15 minutes off.
pub(crate) const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// What an STS token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenScope {
    /// AssumeRole credentials: VOD API and any OSS object.
    Role,
    /// UploadAuth credentials: OSS only, and only this object.
    Upload { bucket: String, key: String },
}

pub(crate) struct StsToken {
    pub access_key_id: String,
    pub secret: String,
    pub token: String,
    pub scope: TokenScope,
    /// Unix milliseconds; `expire_all` moves it to "now".
    expires_at_ms: AtomicU64,
}

fn unix_ms(t: SystemTime) -> u64 {
    u64::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(u64::MAX)
}

impl StsToken {
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.expires_at_ms.load(Ordering::Relaxed))
    }

    pub fn expired(&self) -> bool {
        unix_ms(SystemTime::now()) >= self.expires_at_ms.load(Ordering::Relaxed)
    }

    pub fn public(&self) -> StsCredentials {
        StsCredentials {
            access_key_id: self.access_key_id.clone(),
            access_key_secret: self.secret.clone(),
            security_token: self.token.clone(),
            expiration: util::iso8601(self.expires_at()),
        }
    }
}

/// Who signed a request.
#[derive(Clone)]
pub(crate) enum Principal {
    Account,
    Sts(Arc<StsToken>),
    Anonymous,
}

#[derive(Default)]
struct Tokens {
    by_key: HashMap<String, Arc<StsToken>>,
    by_token: HashMap<String, String>,
}

pub(crate) struct Credentials {
    pub account_id: String,
    pub account_secret: String,
    tokens: Mutex<Tokens>,
}

/// Why a credential lookup failed (mapped to OSS or RPC codes by the caller).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CredError {
    UnknownKey,
    MissingToken,
    /// The token belongs to another AccessKeyId.
    Mismatch,
    /// The token is not one we issued.
    Malformed,
    Expired,
}

impl Credentials {
    pub fn new(account_id: String, account_secret: String) -> Credentials {
        Credentials {
            account_id,
            account_secret,
            tokens: Mutex::new(Tokens::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Issues a fresh STS triple valid for `ttl`.
    pub fn issue(&self, ttl: Duration, scope: TokenScope) -> Arc<StsToken> {
        // Real tokens are long base64 strings starting with "CAIS".
        let mut raw = [0u8; 96];
        raw.iter_mut().for_each(|b| *b = fastrand::u8(..));
        let token = format!(
            "CAIS{}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        );
        let sts = Arc::new(StsToken {
            access_key_id: format!("STS.N{}", util::alnum(24)),
            secret: util::alnum(44),
            token: token.clone(),
            scope,
            expires_at_ms: AtomicU64::new(unix_ms(SystemTime::now() + ttl)),
        });
        let mut tokens = self.lock();
        tokens.by_token.insert(token, sts.access_key_id.clone());
        tokens.by_key.insert(sts.access_key_id.clone(), sts.clone());
        sts
    }

    /// Expires every issued token now; returns how many were still valid.
    pub fn expire_all(&self) -> usize {
        let now = unix_ms(SystemTime::now());
        let tokens = self.lock();
        tokens
            .by_key
            .values()
            .filter(|t| t.expires_at_ms.fetch_min(now, Ordering::Relaxed) > now)
            .count()
    }

    /// Finds the secret for `access_key_id`, checking the security token for STS keys.
    pub fn lookup(
        &self,
        access_key_id: &str,
        security_token: Option<&str>,
    ) -> Result<(String, Principal), CredError> {
        if access_key_id == self.account_id {
            // The account key ignores a stray token, as OSS does for long-term keys.
            return Ok((self.account_secret.clone(), Principal::Account));
        }
        let tokens = self.lock();
        let Some(sts) = tokens.by_key.get(access_key_id).cloned() else {
            return Err(CredError::UnknownKey);
        };
        let Some(given) = security_token.filter(|t| !t.is_empty()) else {
            return Err(CredError::MissingToken);
        };
        if given != sts.token {
            return Err(if tokens.by_token.contains_key(given) {
                CredError::Mismatch
            } else {
                CredError::Malformed
            });
        }
        drop(tokens);
        if sts.expired() {
            return Err(CredError::Expired);
        }
        Ok((sts.secret.clone(), Principal::Sts(sts)))
    }
}

/// The parts of an OSS request that signatures cover.
pub(crate) struct OssRequestView<'a> {
    pub method: &'a str,
    pub headers: &'a HeaderMap,
    pub bucket: Option<&'a str>,
    pub key: Option<&'a str>,
    pub query: &'a [(String, String)],
}

/// OSS V1 sub-resources (oss2's list, a superset of the Go and Android ones).
const SUBRESOURCES: &[&str] = &[
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

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// `name:value\n` for every header selected by `pick` (lower-case names, trimmed values,
/// duplicates joined with `,`), sorted by name.
fn canonical_headers(headers: &HeaderMap, pick: impl Fn(&str) -> bool) -> String {
    let mut names: Vec<&str> = headers
        .keys()
        .map(|k| k.as_str())
        .filter(|k| pick(k))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .iter()
        .map(|name| {
            let values: Vec<String> = headers
                .get_all(*name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
                .collect();
            format!("{name}:{}\n", values.join(","))
        })
        .collect()
}

/// V1 canonicalized resource: raw key, signed sub-resources sorted, unencoded.
fn v1_resource(req: &OssRequestView<'_>) -> String {
    let mut out = match (req.bucket, req.key) {
        (None, _) => "/".to_owned(),
        (Some(b), None) => format!("/{b}/"),
        (Some(b), Some(k)) => format!("/{b}/{k}"),
    };
    let mut subs: Vec<&(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| SUBRESOURCES.contains(&k.as_str()))
        .collect();
    subs.sort();
    if !subs.is_empty() {
        out.push('?');
        let parts: Vec<String> = subs
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    out
}

fn v1_string_to_sign(req: &OssRequestView<'_>, date: &str) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}{}",
        req.method,
        header(req.headers, "content-md5"),
        header(req.headers, "content-type"),
        date,
        canonical_headers(req.headers, |k| k.starts_with("x-oss-")),
        v1_resource(req)
    )
}

/// Parsed `Authorization` header.
enum AuthHeader<'a> {
    V1 {
        access_key_id: &'a str,
        signature: &'a str,
    },
    V4 {
        access_key_id: &'a str,
        date: &'a str,
        region: &'a str,
        product: &'a str,
        additional: Vec<String>,
        signature: &'a str,
    },
}

fn parse_authorization(value: &str) -> Result<AuthHeader<'_>, OssError> {
    if let Some(rest) = value.strip_prefix("OSS4-HMAC-SHA256 ") {
        let mut credential = None;
        let mut signature = None;
        let mut additional = Vec::new();
        for item in rest.split(',').map(str::trim) {
            if let Some(v) = item.strip_prefix("Credential=") {
                credential = Some(v);
            } else if let Some(v) = item.strip_prefix("Signature=") {
                signature = Some(v);
            } else if let Some(v) = item.strip_prefix("AdditionalHeaders=") {
                additional = v
                    .split(';')
                    .filter(|h| !h.is_empty())
                    .map(|h| h.to_ascii_lowercase())
                    .collect();
            }
        }
        let (Some(credential), Some(signature)) = (credential, signature) else {
            return Err(OssError::invalid_argument(
                "Authorization",
                value,
                "Invalid Authorization header: Credential and Signature are required.",
            ));
        };
        let mut parts = credential.split('/');
        let fields: Vec<&str> = parts.by_ref().take(5).collect();
        if fields.len() != 5 || parts.next().is_some() || fields[4] != "aliyun_v4_request" {
            return Err(OssError::invalid_argument(
                "Credential",
                credential,
                "Invalid credential in Authorization header.",
            ));
        }
        return Ok(AuthHeader::V4 {
            access_key_id: fields[0],
            date: fields[1],
            region: fields[2],
            product: fields[3],
            additional,
            signature,
        });
    }
    if let Some(rest) = value.strip_prefix("OSS ")
        && let Some((ak, sig)) = rest.trim().rsplit_once(':')
    {
        return Ok(AuthHeader::V1 {
            access_key_id: ak,
            signature: sig,
        });
    }
    Err(OssError::invalid_argument(
        "Authorization",
        value,
        "Authorization header is invalid or of an unsupported signature version.",
    ))
}

fn cred_error(e: CredError, access_key_id: &str) -> OssError {
    match e {
        CredError::UnknownKey | CredError::MissingToken => OssError::new(
            403,
            "InvalidAccessKeyId",
            "The OSS Access Key Id you provided does not exist in our records.",
        )
        .ec("0002-00000002")
        .extra("OSSAccessKeyId", access_key_id),
        CredError::Expired => OssError::new(
            403,
            "SecurityTokenExpired",
            "The security token you provided has expired.",
        )
        .ec("0002-00000007"),
        CredError::Mismatch => OssError::new(
            403,
            "InvalidSecurityToken",
            "The security token you provided does not match your AccessKeyId.",
        )
        .ec("0002-00000006"),
        CredError::Malformed => OssError::new(
            403,
            "InvalidSecurityToken",
            "The security token you provided is invalid.",
        )
        .ec("0002-00000004"),
    }
}

fn check_skew(request_time: SystemTime, raw: &str) -> Result<(), OssError> {
    let now = SystemTime::now();
    if util::skew(now, request_time) > MAX_SKEW {
        return Err(OssError::new(
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        )
        .extra("RequestTime", raw)
        .extra("ServerTime", &util::iso8601(now))
        .extra("MaxAllowedSkewMilliseconds", "900000"));
    }
    Ok(())
}

/// Verifies the request's signature (header V1 or V4, or a V1 presigned URL). Requests without
/// any signature are anonymous.
pub(crate) fn authenticate(
    creds: &Credentials,
    region: &str,
    req: &OssRequestView<'_>,
) -> Result<Principal, OssError> {
    let Some(auth) = req.headers.get("authorization") else {
        return authenticate_presigned(creds, req);
    };
    let auth = auth.to_str().map_err(|_| {
        OssError::invalid_argument("Authorization", "", "Authorization header is not ASCII.")
    })?;
    let token = req
        .headers
        .get("x-oss-security-token")
        .and_then(|v| v.to_str().ok());
    match parse_authorization(auth)? {
        AuthHeader::V1 {
            access_key_id,
            signature,
        } => {
            let (secret, principal) = creds
                .lookup(access_key_id, token)
                .map_err(|e| cred_error(e, access_key_id))?;
            let date = header(req.headers, "date");
            let oss_date = header(req.headers, "x-oss-date");
            let effective = if date.is_empty() { oss_date } else { date };
            let Some(when) = httpdate::parse_http_date(effective).ok() else {
                return Err(OssError::new(
                    403,
                    "AccessDenied",
                    "The Date header is missing or not an RFC 1123 date.",
                ));
            };
            check_skew(when, effective)?;
            let primary = v1_string_to_sign(req, date);
            if sign::same(&sign::v1_signature(&secret, &primary), signature) {
                return Ok(principal);
            }
            // SDKs disagree on the date slot when x-oss-date is sent (Python uses it, Go uses
            // Date); accept either, like the service's tolerance for both SDKs.
            if !oss_date.is_empty() {
                let alt = v1_string_to_sign(req, oss_date);
                if sign::same(&sign::v1_signature(&secret, &alt), signature) {
                    return Ok(principal);
                }
            }
            Err(signature_mismatch(access_key_id, signature, &primary, None))
        }
        AuthHeader::V4 {
            access_key_id,
            date,
            region: signed_region,
            product,
            additional,
            signature,
        } => {
            let (secret, principal) = creds
                .lookup(access_key_id, token)
                .map_err(|e| cred_error(e, access_key_id))?;
            let oss_date = header(req.headers, "x-oss-date");
            let when = util::parse_v4_date(oss_date).ok_or_else(|| {
                OssError::invalid_argument(
                    "x-oss-date",
                    oss_date,
                    "Invalid signing date in Authorization header.",
                )
            })?;
            if oss_date.get(..8) != Some(date) {
                return Err(OssError::invalid_argument(
                    "Credential",
                    date,
                    "Invalid signing date in Authorization header.",
                ));
            }
            if signed_region != region {
                return Err(OssError::invalid_argument(
                    "Credential",
                    signed_region,
                    "Invalid signing region in Authorization header.",
                ));
            }
            if product != "oss" {
                return Err(OssError::invalid_argument(
                    "Credential",
                    product,
                    "Invalid signing product in Authorization header.",
                ));
            }
            check_skew(when, oss_date)?;
            let canonical = v4_canonical_request(req, &additional);
            let string_to_sign = format!(
                "OSS4-HMAC-SHA256\n{oss_date}\n{date}/{region}/oss/aliyun_v4_request\n{}",
                sign::sha256_hex(canonical.as_bytes())
            );
            let expected = sign::v4_signature(&secret, date, region, product, &string_to_sign);
            if sign::same(&expected, signature) {
                Ok(principal)
            } else {
                Err(signature_mismatch(
                    access_key_id,
                    signature,
                    &string_to_sign,
                    Some(&canonical),
                ))
            }
        }
    }
}

fn v4_canonical_request(req: &OssRequestView<'_>, additional: &[String]) -> String {
    let uri = match (req.bucket, req.key) {
        (None, _) => "/".to_owned(),
        (Some(b), None) => format!("/{b}/"),
        (Some(b), Some(k)) => format!("/{b}/{}", util::pct_path(k)),
    };
    let mut query: Vec<(String, String)> = req
        .query
        .iter()
        .map(|(k, v)| (util::pct(k), util::pct(v)))
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join("&");
    let headers = canonical_headers(req.headers, |k| {
        k.starts_with("x-oss-")
            || k == "content-type"
            || k == "content-md5"
            || additional.iter().any(|a| a == k)
    });
    let mut additional = additional.to_vec();
    additional.sort();
    format!(
        "{}\n{uri}\n{query}\n{headers}\n{}\n{}",
        req.method,
        additional.join(";"),
        header(req.headers, "x-oss-content-sha256")
    )
}

fn signature_mismatch(
    access_key_id: &str,
    provided: &str,
    string_to_sign: &str,
    canonical: Option<&str>,
) -> OssError {
    let bytes = string_to_sign
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut e = OssError::new(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
    .ec("0002-00000040")
    .extra("OSSAccessKeyId", access_key_id)
    .extra("SignatureProvided", provided)
    .extra("StringToSign", string_to_sign)
    .extra("StringToSignBytes", &bytes);
    if let Some(c) = canonical {
        e = e.extra("CanonicalRequest", c);
    }
    e
}

/// V1 presigned URL: `OSSAccessKeyId`, `Expires`, `Signature` (and `security-token`).
fn authenticate_presigned(
    creds: &Credentials,
    req: &OssRequestView<'_>,
) -> Result<Principal, OssError> {
    let get = |name: &str| {
        req.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (Some(ak), Some(signature), Some(expires)) =
        (get("OSSAccessKeyId"), get("Signature"), get("Expires"))
    else {
        return Ok(Principal::Anonymous);
    };
    let (secret, principal) = creds
        .lookup(ak, get("security-token"))
        .map_err(|e| cred_error(e, ak))?;
    let expires_at: u64 = expires
        .parse()
        .map_err(|_| OssError::invalid_argument("Expires", expires, "Expires is not a number."))?;
    if unix_ms(SystemTime::now()) / 1000 > expires_at {
        return Err(OssError::new(403, "AccessDenied", "Request has expired.")
            .extra("Expires", expires)
            .extra("ServerTime", &util::iso8601(SystemTime::now())));
    }
    let sts = v1_string_to_sign(req, expires);
    if sign::same(&sign::v1_signature(&secret, &sts), signature) {
        Ok(principal)
    } else {
        Err(signature_mismatch(ak, signature, &sts, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn v1_derived_sts_vectors() {
        // protocol.md §3.2 (c).
        let creds = Credentials::new("acct".into(), "acct-secret".into());
        let h = headers(&[
            ("content-type", "video/mp4"),
            ("date", "Mon, 02 Jun 2025 08:00:00 GMT"),
            ("x-oss-security-token", "CAIS_test_security_token"),
        ]);
        let q = vec![("uploads".to_owned(), String::new())];
        let req = OssRequestView {
            method: "POST",
            headers: &h,
            bucket: Some("outin-test"),
            key: Some("sv/abc/abc.mp4"),
            query: &q,
        };
        let sts = v1_string_to_sign(&req, "Mon, 02 Jun 2025 08:00:00 GMT");
        assert_eq!(
            sign::v1_signature("TestAccessKeySecret", &sts),
            "EGfgO1wnKV8CaQykpcmzE+cjgAs="
        );
        let _ = creds;
        let q = vec![
            (
                "uploadId".to_owned(),
                "0004B9894A22E5B1888A1E29F823****".to_owned(),
            ),
            ("partNumber".to_owned(), "1".to_owned()),
        ];
        let h = headers(&[
            ("content-type", "application/octet-stream"),
            ("x-oss-security-token", "CAIS_test_security_token"),
        ]);
        let req = OssRequestView {
            method: "PUT",
            headers: &h,
            bucket: Some("outin-test"),
            key: Some("sv/abc/abc.mp4"),
            query: &q,
        };
        let sts = v1_string_to_sign(&req, "Mon, 02 Jun 2025 08:00:00 GMT");
        assert_eq!(
            sign::v1_signature("TestAccessKeySecret", &sts),
            "s0g8gsqqTKVsEd7BbJb2ooMRY80="
        );
    }

    #[test]
    fn v4_go_vector_through_canonicalization() {
        let h = headers(&[
            ("x-oss-head1", "value"),
            ("abc", "value"),
            ("zabc", "value"),
            ("xyz", "value"),
            ("content-type", "text/plain"),
            ("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-oss-date", "20231216T162057Z"),
        ]);
        let q: Vec<(String, String)> = [
            ("param1", "value1"),
            ("+param1", "value3"),
            ("|param1", "value4"),
            ("+param2", ""),
            ("|param2", ""),
            ("param2", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let req = OssRequestView {
            method: "PUT",
            headers: &h,
            bucket: Some("bucket"),
            key: Some("1234+-/123/1.txt"),
            query: &q,
        };
        let canonical = v4_canonical_request(&req, &[]);
        let sts = format!(
            "OSS4-HMAC-SHA256\n20231216T162057Z\n20231216/cn-hangzhou/oss/aliyun_v4_request\n{}",
            sign::sha256_hex(canonical.as_bytes())
        );
        assert_eq!(
            sign::v4_signature("sk", "20231216", "cn-hangzhou", "oss", &sts),
            "e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe"
        );
    }

    #[test]
    fn token_lookup() {
        let creds = Credentials::new("acct".into(), "s".into());
        let a = creds.issue(Duration::from_secs(60), TokenScope::Role);
        let b = creds.issue(Duration::from_secs(60), TokenScope::Role);
        assert!(creds.lookup(&a.access_key_id, Some(&a.token)).is_ok());
        assert_eq!(
            creds.lookup(&a.access_key_id, Some(&b.token)).err(),
            Some(CredError::Mismatch)
        );
        assert_eq!(
            creds.lookup(&a.access_key_id, Some("CAISnope")).err(),
            Some(CredError::Malformed)
        );
        assert_eq!(
            creds.lookup(&a.access_key_id, None).err(),
            Some(CredError::MissingToken)
        );
        assert_eq!(
            creds.lookup("nope", None).err(),
            Some(CredError::UnknownKey)
        );
        assert_eq!(creds.expire_all(), 2);
        assert_eq!(creds.expire_all(), 0);
        assert_eq!(
            creds.lookup(&a.access_key_id, Some(&a.token)).err(),
            Some(CredError::Expired)
        );
        assert!(creds.lookup("acct", None).is_ok());
    }
}
