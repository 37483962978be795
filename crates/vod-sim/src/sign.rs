//! Signature primitives used to verify requests (server side of protocol.md §3 and §6.3).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha1 = Hmac<sha1::Sha1>;
type HmacSha256 = Hmac<Sha256>;

fn hmac_sha1(key: &[u8], msg: &[u8]) -> [u8; 20] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha1::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// OSS V1: `base64(HMAC-SHA1(secret, string_to_sign))`.
pub(crate) fn v1_signature(secret: &str, string_to_sign: &str) -> String {
    B64.encode(hmac_sha1(secret.as_bytes(), string_to_sign.as_bytes()))
}

/// OSS V4: hex HMAC-SHA256 with the derived signing key.
pub(crate) fn v4_signature(
    secret: &str,
    date: &str,
    region: &str,
    product: &str,
    string_to_sign: &str,
) -> String {
    let k = hmac_sha256(format!("aliyun_v4{secret}").as_bytes(), date.as_bytes());
    let k = hmac_sha256(&k, region.as_bytes());
    let k = hmac_sha256(&k, product.as_bytes());
    let k = hmac_sha256(&k, b"aliyun_v4_request");
    crate::util::to_hex_lower(&hmac_sha256(&k, string_to_sign.as_bytes()))
}

/// Lower-case hex SHA-256.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    crate::util::to_hex_lower(&Sha256::digest(data))
}

/// VOD/STS RPC: `base64(HMAC-SHA1(secret + "&", string_to_sign))`.
pub(crate) fn rpc_signature(secret: &str, string_to_sign: &str) -> String {
    B64.encode(hmac_sha1(
        format!("{secret}&").as_bytes(),
        string_to_sign.as_bytes(),
    ))
}

/// RPC string to sign over every received parameter except `Signature` (empty values
/// included, as `name=`: aliyun-python-sdk-core sends and signs `SignatureType=`).
pub(crate) fn rpc_string_to_sign(method: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "Signature")
        .map(|(k, v)| (crate::util::pct(k), crate::util::pct(v)))
        .collect();
    pairs.sort();
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!("{method}&%2F&{}", crate::util::pct(&query))
}

/// Constant-time comparison of two signatures.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_doc_vector() {
        let sts = "PUT\nODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=\ntext/html\nThu, 17 Nov 2005 18:49:58 GMT\nx-oss-magic:abracadabra\nx-oss-meta-author:foo@bar.com\n/oss-example/nelson";
        assert_eq!(
            v1_signature("OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV", sts),
            "26NBxoKdsyly4EDv6inkoDft/yA="
        );
    }

    #[test]
    fn rpc_doc_vector() {
        let params: Vec<(String, String)> = [
            ("AccessKeyId", "testAccessKeyId"),
            ("Action", "GetVideoPlayAuth"),
            ("Format", "JSON"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "8f8a035d-6496-4268-afd4-67c22837e38d"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2017-10-10T12:02:54Z"),
            ("Version", "2017-03-21"),
            ("VideoId", "5aed81b74ba84920be578cdfe004af4b"),
            ("Signature", "ignored"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let sts = rpc_string_to_sign("GET", &params);
        assert!(sts.starts_with("GET&%2F&AccessKeyId%3DtestAccessKeyId%26Action"));
        assert_eq!(
            rpc_signature("testAccessKeySecret", &sts),
            "Ibgh7y8Vp47LBuAsf5Xhi1SvDss="
        );
    }

    #[test]
    fn v4_go_vector() {
        // TestAuthV4Header from aliyun-oss-go-sdk (protocol.md §3.3).
        let canonical = "PUT\n/bucket/1234%2B-/123/1.txt\n%2Bparam1=value3&%2Bparam2&%7Cparam1=value4&%7Cparam2&param1=value1&param2\ncontent-type:text/plain\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20231216T162057Z\nx-oss-head1:value\n\n\nUNSIGNED-PAYLOAD";
        let sts = format!(
            "OSS4-HMAC-SHA256\n20231216T162057Z\n20231216/cn-hangzhou/oss/aliyun_v4_request\n{}",
            sha256_hex(canonical.as_bytes())
        );
        assert_eq!(
            v4_signature("sk", "20231216", "cn-hangzhou", "oss", &sts),
            "e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe"
        );
    }
}
