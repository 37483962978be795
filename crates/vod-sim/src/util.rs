//! Small helpers: ids, time formats, query parsing, XML text escaping.

use std::time::{Duration, SystemTime};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// RFC 3986 unreserved characters are kept, everything else is `%XY`-encoded.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Like [`RFC3986`] but keeps `/` (object keys in paths).
pub(crate) const RFC3986_PATH: &AsciiSet = &RFC3986.remove(b'/');

/// Percent-encodes an object key for a URL path (keeps `/`).
pub(crate) fn pct_path(s: &str) -> String {
    utf8_percent_encode(s, RFC3986_PATH).to_string()
}

/// Decodes `%XY` escapes (not `+`); `None` when the result is not UTF-8.
pub(crate) fn pct_decode(s: &str) -> Option<String> {
    percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Decodes a form-urlencoded component (`+` is a space).
pub(crate) fn form_decode(s: &str) -> Option<String> {
    pct_decode(&s.replace('+', " "))
}

/// Splits a query string into decoded `(name, value)` pairs; a bare `name` gets an empty value.
/// `form` decodes `+` as a space (RPC); OSS keeps `+`.
pub(crate) fn parse_query(query: &str, form: bool) -> Option<Vec<(String, String)>> {
    let decode = if form { form_decode } else { pct_decode };
    let mut out = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.push((decode(k)?, decode(v)?));
    }
    Some(out)
}

/// Random upper-case hex string of `len` characters.
pub(crate) fn hex_upper(len: usize) -> String {
    (0..len)
        .map(|_| char::from(b"0123456789ABCDEF"[fastrand::usize(..16)]))
        .collect()
}

/// Random lower-case hex string of `len` characters.
pub(crate) fn hex_lower(len: usize) -> String {
    hex_upper(len).to_ascii_lowercase()
}

/// Random alphanumeric string.
pub(crate) fn alnum(len: usize) -> String {
    (0..len).map(|_| fastrand::alphanumeric()).collect()
}

/// Hex-encodes bytes in upper case.
pub(crate) fn to_hex_upper(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}

/// OSS request ids look like 24 upper-case hex characters.
pub(crate) fn oss_request_id() -> String {
    hex_upper(24)
}

/// RPC request ids are upper-case UUIDs.
pub(crate) fn rpc_request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_ascii_uppercase()
}

/// `YYYY-MM-DDThh:mm:ss.000Z` (OSS LastModified in XML).
pub(crate) fn iso8601_millis(t: SystemTime) -> String {
    let s = vod_upload::protocol::credentials::format_utc_time(t);
    format!("{}.000Z", s.trim_end_matches('Z'))
}

/// Absolute difference between two instants.
pub(crate) fn skew(a: SystemTime, b: SystemTime) -> Duration {
    a.duration_since(b)
        .or_else(|_| b.duration_since(a))
        .unwrap_or(Duration::ZERO)
}

/// Escapes text content for XML (`<`, `>`, `&`); quotes stay literal like OSS sends them.
pub(crate) fn xml_text(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::partial_escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_millis() {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(1_702_784_856);
        assert_eq!(iso8601_millis(t), "2023-12-17T03:47:36.000Z");
    }

    #[test]
    fn query_parsing() {
        let q = parse_query("uploads&partNumber=1&uploadId=a%2Bb+c", false).unwrap();
        assert_eq!(
            q,
            vec![
                ("uploads".into(), "".into()),
                ("partNumber".into(), "1".into()),
                ("uploadId".into(), "a+b+c".into())
            ]
        );
        let q = parse_query("Title=a+b%20c", true).unwrap();
        assert_eq!(q, vec![("Title".into(), "a b c".into())]);
        assert_eq!(pct_path("sv/a b+"), "sv/a%20b%2B");
    }
}
