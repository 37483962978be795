//! Credentials (the account key and issued STS tokens) and OSS request authentication.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use http::HeaderMap;

use vod_upload::protocol::credentials::format_utc_time;
use vod_upload::protocol::sign::{
    OssRequest, ParsedAuthorization, parse_authorization, parse_v4_date, v1_signature,
    v1_string_to_sign, v4_canonical_request, v4_signature, v4_string_to_sign,
};

use crate::oss::OssError;
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

    /// The triple as client-side credentials.
    pub fn credentials(&self) -> vod_upload::protocol::Credentials {
        vod_upload::protocol::Credentials::sts(
            self.access_key_id.clone(),
            self.secret.clone(),
            self.token.clone(),
            Some(self.expires_at()),
        )
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

impl OssRequestView<'_> {
    /// The protocol crate's request model: lower-case header names, repeated headers joined
    /// with `,` (as OSS canonicalizes them).
    fn to_model(&self) -> OssRequest {
        let mut req = OssRequest::new(self.method, self.bucket, self.key);
        req.query = self
            .query
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        for name in self.headers.keys() {
            let joined = self
                .headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
                .collect::<Vec<_>>()
                .join(",");
            req.set_header(name.as_str(), joined);
        }
        req
    }
}

/// Constant-time comparison of two signatures.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
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
        .extra("ServerTime", &format_utc_time(now))
        .extra("MaxAllowedSkewMilliseconds", "900000"));
    }
    Ok(())
}

/// Verifies the request's signature (header V1 or V4, or a V1 presigned URL). Requests without
/// any signature are anonymous.
pub(crate) fn authenticate(
    creds: &Credentials,
    region: &str,
    view: &OssRequestView<'_>,
) -> Result<Principal, OssError> {
    let Some(auth) = view.headers.get("authorization") else {
        return authenticate_presigned(creds, view);
    };
    let auth = auth.to_str().unwrap_or("");
    let token = view
        .headers
        .get("x-oss-security-token")
        .and_then(|v| v.to_str().ok());
    let parsed = parse_authorization(auth).ok_or_else(|| {
        OssError::invalid_argument(
            "Authorization",
            auth,
            "Authorization header is invalid or of an unsupported signature version.",
        )
    })?;
    let req = view.to_model();
    match parsed {
        ParsedAuthorization::V1 {
            access_key_id,
            signature,
        } => {
            let (secret, principal) = creds
                .lookup(&access_key_id, token)
                .map_err(|e| cred_error(e, &access_key_id))?;
            let date = header(view.headers, "date");
            let oss_date = header(view.headers, "x-oss-date");
            let effective = if date.is_empty() { oss_date } else { date };
            let Ok(when) = httpdate::parse_http_date(effective) else {
                return Err(OssError::new(
                    403,
                    "AccessDenied",
                    "The Date header is missing or not an RFC 1123 date.",
                ));
            };
            check_skew(when, effective)?;
            let primary = v1_string_to_sign(&req);
            if same(&v1_signature(&secret, &primary), &signature) {
                return Ok(principal);
            }
            // SDKs disagree on the date slot when x-oss-date is sent (oss2 signs it, Go signs
            // Date), so accept either.
            if !oss_date.is_empty() && !date.is_empty() {
                let mut alt = req.clone();
                alt.headers.remove("date");
                if same(&v1_signature(&secret, &v1_string_to_sign(&alt)), &signature) {
                    return Ok(principal);
                }
            }
            Err(signature_mismatch(
                &access_key_id,
                &signature,
                &primary,
                None,
            ))
        }
        ParsedAuthorization::V4 {
            access_key_id,
            date,
            region: signed_region,
            additional_headers,
            signature,
        } => {
            let (secret, principal) = creds
                .lookup(&access_key_id, token)
                .map_err(|e| cred_error(e, &access_key_id))?;
            let oss_date = header(view.headers, "x-oss-date");
            let when = parse_v4_date(oss_date).ok_or_else(|| {
                OssError::invalid_argument(
                    "x-oss-date",
                    oss_date,
                    "Invalid signing date in Authorization header.",
                )
            })?;
            if oss_date.get(..8) != Some(date.as_str()) {
                return Err(OssError::invalid_argument(
                    "Credential",
                    &date,
                    "Invalid signing date in Authorization header.",
                ));
            }
            if signed_region != region {
                return Err(OssError::invalid_argument(
                    "Credential",
                    &signed_region,
                    "Invalid signing region in Authorization header.",
                ));
            }
            check_skew(when, oss_date)?;
            let canonical = v4_canonical_request(&req, &additional_headers);
            let string_to_sign = v4_string_to_sign(oss_date, region, &canonical);
            if same(
                &v4_signature(&secret, &date, region, &string_to_sign),
                &signature,
            ) {
                Ok(principal)
            } else {
                Err(signature_mismatch(
                    &access_key_id,
                    &signature,
                    &string_to_sign,
                    Some(&canonical),
                ))
            }
        }
    }
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
    view: &OssRequestView<'_>,
) -> Result<Principal, OssError> {
    let get = |name: &str| {
        view.query
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
    let expires_at: u64 = expires.parse().map_err(|_| {
        OssError::invalid_argument("Expires", expires, "Expires is not a number.")
            .ec("0002-00000070")
    })?;
    if unix_ms(SystemTime::now()) / 1000 > expires_at {
        return Err(OssError::new(403, "AccessDenied", "Request has expired.")
            .ec("0002-00000069")
            .extra("Expires", expires)
            .extra("ServerTime", &format_utc_time(SystemTime::now())));
    }
    // The Expires value takes the date slot (the model uses it when no date header is set).
    let mut req = view.to_model();
    req.headers.remove("date");
    req.headers.remove("x-oss-date");
    let sts = v1_string_to_sign(&req);
    if same(&v1_signature(&secret, &sts), signature) {
        Ok(principal)
    } else {
        Err(signature_mismatch(ak, signature, &sts, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vod_upload::protocol::SignatureVersion;
    use vod_upload::protocol::sign::sign_request;

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
    fn view_reproduces_the_derived_sts_vectors() {
        // protocol.md §3.2 (c): what arrives over HTTP must canonicalize like what was signed.
        let h = headers(&[
            ("content-type", "video/mp4"),
            ("date", "Mon, 02 Jun 2025 08:00:00 GMT"),
            ("x-oss-security-token", "CAIS_test_security_token"),
            ("user-agent", "x"),
        ]);
        let q = vec![("uploads".to_owned(), String::new())];
        let view = OssRequestView {
            method: "POST",
            headers: &h,
            bucket: Some("outin-test"),
            key: Some("sv/abc/abc.mp4"),
            query: &q,
        };
        let sts = v1_string_to_sign(&view.to_model());
        assert_eq!(
            v1_signature("TestAccessKeySecret", &sts),
            "EGfgO1wnKV8CaQykpcmzE+cjgAs="
        );
        let q = vec![
            (
                "uploadId".to_owned(),
                "0004B9894A22E5B1888A1E29F823****".to_owned(),
            ),
            ("partNumber".to_owned(), "1".to_owned()),
        ];
        let h = headers(&[
            ("content-type", "application/octet-stream"),
            ("date", "Mon, 02 Jun 2025 08:00:00 GMT"),
            ("x-oss-security-token", "CAIS_test_security_token"),
        ]);
        let view = OssRequestView {
            method: "PUT",
            headers: &h,
            bucket: Some("outin-test"),
            key: Some("sv/abc/abc.mp4"),
            query: &q,
        };
        assert_eq!(
            v1_signature("TestAccessKeySecret", &v1_string_to_sign(&view.to_model())),
            "s0g8gsqqTKVsEd7BbJb2ooMRY80="
        );
    }

    fn signed(
        creds: &vod_upload::protocol::Credentials,
        version: SignatureVersion,
        region: &str,
    ) -> HeaderMap {
        let mut req = OssRequest::new("PUT", Some("bk"), Some("a b/c+d.mp4"))
            .with_query("partNumber", Some("1"))
            .with_query("uploadId", Some("U"))
            .with_header("content-type", "video/mp4");
        sign_request(&mut req, creds, version, region, SystemTime::now());
        let pairs: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        headers(&pairs)
    }

    fn check(creds: &Credentials, h: &HeaderMap) -> Result<Principal, OssError> {
        let q = vec![
            ("partNumber".to_owned(), "1".to_owned()),
            ("uploadId".to_owned(), "U".to_owned()),
        ];
        authenticate(
            creds,
            "cn-shanghai",
            &OssRequestView {
                method: "PUT",
                headers: h,
                bucket: Some("bk"),
                key: Some("a b/c+d.mp4"),
                query: &q,
            },
        )
    }

    #[test]
    fn verifies_v1_and_v4_for_account_and_sts() {
        let creds = Credentials::new("acct".into(), "secret".into());
        let sts = creds.issue(Duration::from_secs(60), TokenScope::Role);
        let account = vod_upload::protocol::Credentials::access_key("acct", "secret");
        for version in [SignatureVersion::V1, SignatureVersion::V4] {
            assert!(matches!(
                check(&creds, &signed(&account, version, "cn-shanghai")),
                Ok(Principal::Account)
            ));
            assert!(matches!(
                check(&creds, &signed(&sts.credentials(), version, "cn-shanghai")),
                Ok(Principal::Sts(_))
            ));
            let wrong = vod_upload::protocol::Credentials::access_key("acct", "nope");
            let e = check(&creds, &signed(&wrong, version, "cn-shanghai"))
                .err()
                .unwrap();
            assert_eq!(e.code, "SignatureDoesNotMatch");
        }
        let e = check(
            &creds,
            &signed(&account, SignatureVersion::V4, "cn-hangzhou"),
        )
        .err()
        .unwrap();
        assert_eq!(e.code, "InvalidArgument");
        let unknown = vod_upload::protocol::Credentials::access_key("who", "secret");
        let e = check(
            &creds,
            &signed(&unknown, SignatureVersion::V1, "cn-shanghai"),
        )
        .err()
        .unwrap();
        assert_eq!(e.code, "InvalidAccessKeyId");
        creds.expire_all();
        let e = check(
            &creds,
            &signed(&sts.credentials(), SignatureVersion::V1, "cn-shanghai"),
        )
        .err()
        .unwrap();
        assert_eq!((e.status, e.code.as_str()), (403, "SecurityTokenExpired"));
    }

    #[test]
    fn rejects_a_skewed_date() {
        let creds = Credentials::new("acct".into(), "secret".into());
        let account = vod_upload::protocol::Credentials::access_key("acct", "secret");
        let mut req = OssRequest::new("GET", Some("bk"), Some("k"));
        sign_request(
            &mut req,
            &account,
            SignatureVersion::V1,
            "cn-shanghai",
            SystemTime::now() - Duration::from_secs(16 * 60),
        );
        let pairs: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let h = headers(&pairs);
        let e = authenticate(
            &creds,
            "cn-shanghai",
            &OssRequestView {
                method: "GET",
                headers: &h,
                bucket: Some("bk"),
                key: Some("k"),
                query: &[],
            },
        )
        .err()
        .unwrap();
        assert_eq!(e.code, "RequestTimeTooSkewed");
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
