//! Alibaba Cloud RPC-style request signing (VOD 2017-03-21, STS 2015-04-01), protocol.md §6.3.

use std::collections::BTreeMap;
use std::time::SystemTime;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;

use super::credentials::{Credentials, format_utc_time};

/// VOD OpenAPI version.
pub const VOD_API_VERSION: &str = "2017-03-21";
/// STS API version.
pub const STS_API_VERSION: &str = "2015-04-01";

/// RFC 3986: only unreserved characters (`A-Z a-z 0-9 - _ . ~`) stay as they are.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes UTF-8 per RFC 3986 with upper-case hex (space is `%20`, `*` is `%2A`,
/// `~` stays).
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// The sorted, encoded `name=value&...` query (without `Signature`).
fn canonical_query(params: &BTreeMap<String, String>) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k.as_str() != "Signature")
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    // Sorted by *encoded* name (protocol.md §6.3 step 3).
    pairs.sort_unstable();
    let mut out = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// `METHOD&%2F&percentEncode(canonical query)`; a `Signature` parameter is ignored.
pub fn rpc_string_to_sign(method: &str, params: &BTreeMap<String, String>) -> String {
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode("/"),
        percent_encode(&canonical_query(params))
    )
}

/// `base64(HMAC-SHA1(secret + "&", string_to_sign))`.
pub fn rpc_signature(secret: &str, string_to_sign: &str) -> String {
    let mut key = String::with_capacity(secret.len() + 1);
    key.push_str(secret);
    key.push('&');
    let mut mac = match Hmac::<Sha1>::new_from_slice(key.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Adds the common parameters to `params` (the caller gives `Action`, `Version` and the
/// action's own parameters) and returns the complete signed query string, without `?`:
/// `Format=JSON`, `SignatureMethod=HMAC-SHA1`, `SignatureVersion=1.0`, `SignatureNonce=nonce`,
/// `Timestamp` (UTC `YYYY-MM-DDThh:mm:ssZ` of `now`), `AccessKeyId`, and `SecurityToken` for
/// STS credentials; then `&Signature=...`. The result contains the token and must never be
/// logged.
pub fn signed_query(
    method: &str,
    params: &BTreeMap<String, String>,
    creds: &Credentials,
    now: SystemTime,
    nonce: &str,
) -> String {
    let mut all = params.clone();
    all.insert("Format".into(), "JSON".into());
    all.insert("SignatureMethod".into(), "HMAC-SHA1".into());
    all.insert("SignatureVersion".into(), "1.0".into());
    all.insert("SignatureNonce".into(), nonce.into());
    all.insert("Timestamp".into(), format_utc_time(now));
    all.insert("AccessKeyId".into(), creds.access_key_id.clone());
    match creds.security_token.as_ref().filter(|t| !t.is_empty()) {
        Some(token) => {
            all.insert("SecurityToken".into(), token.expose().into());
        }
        None => {
            all.remove("SecurityToken");
        }
    }
    all.remove("Signature");
    let sts = rpc_string_to_sign(method, &all);
    let signature = rpc_signature(creds.access_key_secret.expose(), &sts);
    let mut query = canonical_query(&all);
    query.push_str("&Signature=");
    query.push_str(&percent_encode(&signature));
    query
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::credentials::parse_utc_time;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn percent_encoding_is_rfc3986() {
        assert_eq!(
            percent_encode("a b*c~d/e+f=g&h%"),
            "a%20b%2Ac~d%2Fe%2Bf%3Dg%26h%25"
        );
        assert_eq!(percent_encode("测"), "%E6%B5%8B");
        assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
    }

    // §6.3: the VOD API documentation's vector.
    #[test]
    fn official_vector() {
        let p = params(&[
            ("AccessKeyId", "testAccessKeyId"),
            ("Action", "GetVideoPlayAuth"),
            ("Format", "JSON"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "8f8a035d-6496-4268-afd4-67c22837e38d"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2017-10-10T12:02:54Z"),
            ("Version", "2017-03-21"),
            ("VideoId", "5aed81b74ba84920be578cdfe004af4b"),
        ]);
        let sts = rpc_string_to_sign("GET", &p);
        assert_eq!(
            sts,
            "GET&%2F&AccessKeyId%3DtestAccessKeyId%26Action%3DGetVideoPlayAuth%26Format%3DJSON\
             %26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D8f8a035d-6496-4268-afd4-67c22837e38d\
             %26SignatureVersion%3D1.0%26Timestamp%3D2017-10-10T12%253A02%253A54Z\
             %26Version%3D2017-03-21%26VideoId%3D5aed81b74ba84920be578cdfe004af4b"
        );
        assert_eq!(
            rpc_signature("testAccessKeySecret", &sts),
            "Ibgh7y8Vp47LBuAsf5Xhi1SvDss="
        );

        // The same through signed_query, which adds the common parameters itself.
        let own = params(&[
            ("Action", "GetVideoPlayAuth"),
            ("Version", "2017-03-21"),
            ("VideoId", "5aed81b74ba84920be578cdfe004af4b"),
        ]);
        let creds = Credentials::access_key("testAccessKeyId", "testAccessKeySecret");
        let q = signed_query(
            "GET",
            &own,
            &creds,
            parse_utc_time("2017-10-10T12:02:54Z").unwrap(),
            "8f8a035d-6496-4268-afd4-67c22837e38d",
        );
        assert!(
            q.ends_with("&Signature=Ibgh7y8Vp47LBuAsf5Xhi1SvDss%3D"),
            "{q}"
        );
        assert!(q.contains("Timestamp=2017-10-10T12%3A02%3A54Z"));
        assert!(!q.contains("SecurityToken"));
    }

    // §6.3: the derived STS / non-ASCII vector (cross-checked with aliyunsdkcore).
    #[test]
    fn sts_non_ascii_vector() {
        let own = params(&[
            ("Action", "CreateUploadVideo"),
            ("FileName", "my video(1).mp4"),
            ("FileSize", "10485760"),
            ("RegionId", "cn-shanghai"),
            ("Title", "测试 video"),
            ("Version", "2017-03-21"),
        ]);
        let creds = Credentials::sts(
            "STS.NTestAccessKeyId",
            "TestAccessKeySecret",
            "CAIS_test_security_token",
            None,
        );
        let q = signed_query(
            "GET",
            &own,
            &creds,
            parse_utc_time("2025-06-02T08:00:00Z").unwrap(),
            "c4a3b1e0-5f7e-4d3a-9a43-0b6b2f3f9e11",
        );
        assert!(q.contains("FileName=my%20video%281%29.mp4"), "{q}");
        assert!(q.contains("Title=%E6%B5%8B%E8%AF%95%20video"), "{q}");
        assert!(q.contains("SecurityToken=CAIS_test_security_token"), "{q}");
        assert!(
            q.ends_with("&Signature=UWnbTs0XuFPercc%2FSVj7b0yYQX4%3D"),
            "{q}"
        );

        let mut all = own.clone();
        for (k, v) in [
            ("AccessKeyId", "STS.NTestAccessKeyId"),
            ("Format", "JSON"),
            ("SecurityToken", "CAIS_test_security_token"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "c4a3b1e0-5f7e-4d3a-9a43-0b6b2f3f9e11"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2025-06-02T08:00:00Z"),
        ] {
            all.insert(k.into(), v.into());
        }
        let sts = rpc_string_to_sign("GET", &all);
        assert_eq!(
            rpc_signature("TestAccessKeySecret", &sts),
            "UWnbTs0XuFPercc/SVj7b0yYQX4="
        );
    }
}
