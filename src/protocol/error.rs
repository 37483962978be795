//! Parsing OSS (XML) and VOD/STS (JSON) error responses into [`ServiceError`]
//! (protocol.md §5.1, §6.5). Lenient: whatever can be read is kept, the rest falls back to the
//! HTTP status.

use std::time::SystemTime;

use base64::Engine as _;
use quick_xml::events::Event;
use serde::{Deserialize, Serialize};

use crate::error::{Service, ServiceError};

/// The JSON error body of RPC services (VOD, STS).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RpcErrorDocument {
    #[serde(default)]
    pub request_id: String,
    #[serde(default)]
    pub host_id: String,
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommend: Option<String>,
}

/// Builds a [`ServiceError`] from an OSS error response.
///
/// `Code`, `Message`, `RequestId`, `HostId`, `EC` and `StringToSign` are taken by element name
/// from the body, or, when the body is empty (HEAD), from the base64 XML in the `x-oss-err`
/// header. A response without a readable `Code` gets the synthetic code `Http<status>`.
/// `request_id_header` (`x-oss-request-id`) fills in a missing `RequestId`; `date_header` (the
/// response `Date`) becomes `server_date` for clock-skew correction.
pub fn parse_oss_error(
    status: u16,
    request_id_header: Option<&str>,
    date_header: Option<&str>,
    x_oss_err_header: Option<&str>,
    body: &[u8],
) -> ServiceError {
    let decoded_header;
    let xml: &[u8] = if body.trim_ascii().is_empty() {
        decoded_header = x_oss_err_header
            .and_then(|h| {
                base64::engine::general_purpose::STANDARD
                    .decode(h.trim())
                    .ok()
            })
            .unwrap_or_default();
        &decoded_header
    } else {
        body
    };
    let fields = ErrorFields::from_xml(xml);
    ServiceError {
        service: Service::Oss,
        status,
        code: fields.code.unwrap_or_else(|| format!("Http{status}")),
        message: fields.message.unwrap_or_else(|| status_message(status)),
        request_id: fields.request_id.or_else(|| non_empty(request_id_header)),
        host_id: fields.host_id,
        ec: fields.ec,
        string_to_sign: fields.string_to_sign,
        server_date: parse_date(date_header),
    }
}

/// Builds a [`ServiceError`] from a VOD or STS error response (JSON `Code`, `Message`,
/// `RequestId`, `HostId`). A body that is not such a JSON object gives code `Http<status>`.
pub fn parse_vod_error(service: Service, status: u16, body: &[u8]) -> ServiceError {
    let doc = parse_rpc_error_document(body);
    let non_empty_owned = |s: String| (!s.trim().is_empty()).then_some(s);
    match doc {
        Some(doc) => ServiceError {
            service,
            status,
            code: doc.code,
            message: non_empty_owned(doc.message).unwrap_or_else(|| status_message(status)),
            request_id: non_empty_owned(doc.request_id),
            host_id: non_empty_owned(doc.host_id),
            ec: None,
            string_to_sign: None,
            server_date: None,
        },
        None => ServiceError {
            service,
            status,
            code: format!("Http{status}"),
            message: status_message(status),
            request_id: None,
            host_id: None,
            ec: None,
            string_to_sign: None,
            server_date: None,
        },
    }
}

/// The RPC error document, when `body` is a JSON object with a non-empty `Code`.
pub fn parse_rpc_error_document(body: &[u8]) -> Option<RpcErrorDocument> {
    serde_json::from_slice::<RpcErrorDocument>(body)
        .ok()
        .filter(|d| !d.code.trim().is_empty())
}

/// Parses an HTTP `Date` header (IMF-fixdate and the obsolete forms).
pub fn parse_date(value: Option<&str>) -> Option<SystemTime> {
    value.and_then(|v| httpdate::parse_http_date(v.trim()).ok())
}

fn status_message(status: u16) -> String {
    match http_reason(status) {
        Some(reason) => format!("HTTP {status} {reason}"),
        None => format!("HTTP {status}"),
    }
}

fn http_reason(status: u16) -> Option<&'static str> {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[derive(Default)]
struct ErrorFields {
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
    host_id: Option<String>,
    ec: Option<String>,
    string_to_sign: Option<String>,
}

impl ErrorFields {
    /// Collects the text of the root's direct children; stops quietly at the first XML error.
    fn from_xml(xml: &[u8]) -> ErrorFields {
        let mut fields = ErrorFields::default();
        let mut reader = quick_xml::Reader::from_reader(xml);
        let mut buf = Vec::new();
        let mut depth = 0usize;
        let mut current: Option<String> = None;
        let mut text = String::new();
        loop {
            match reader.read_event_into(&mut buf) {
                Ok(Event::Start(e)) => {
                    depth += 1;
                    if depth == 2 {
                        current =
                            Some(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                        text.clear();
                    }
                }
                Ok(Event::End(_)) => {
                    if depth == 2
                        && let Some(name) = current.take()
                    {
                        fields.set(&name, std::mem::take(&mut text));
                    }
                    depth = depth.saturating_sub(1);
                }
                Ok(Event::Text(t)) if depth == 2 => {
                    if let Ok(s) = t.decode() {
                        text.push_str(&s);
                    }
                }
                Ok(Event::CData(t)) if depth == 2 => {
                    text.push_str(&String::from_utf8_lossy(&t));
                }
                Ok(Event::GeneralRef(r)) if depth == 2 => {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        text.push(c);
                    } else if let Ok(name) = r.decode()
                        && let Some(s) = quick_xml::escape::resolve_predefined_entity(&name)
                    {
                        text.push_str(s);
                    }
                }
                Ok(Event::Eof) | Err(_) => break,
                Ok(_) => {}
            }
            buf.clear();
        }
        fields
    }

    fn set(&mut self, name: &str, value: String) {
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        let slot = match name {
            "Code" => &mut self.code,
            "Message" => &mut self.message,
            "RequestId" => &mut self.request_id,
            "HostId" => &mut self.host_id,
            "EC" => &mut self.ec,
            "StringToSign" => &mut self.string_to_sign,
            _ => return,
        };
        *slot = Some(value.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, ErrorClass};
    use crate::protocol::xml::{OssErrorDocument, to_xml};

    const SIG_ERROR: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>SignatureDoesNotMatch</Code>
  <Message>The request signature we calculated does not match the signature you provided.</Message>
  <RequestId>5C3D9175B6FC201293AD****</RequestId>
  <HostId>bucket.oss-cn-shanghai.aliyuncs.com</HostId>
  <OSSAccessKeyId>STS.x</OSSAccessKeyId>
  <SignatureProvided>abc=</SignatureProvided>
  <StringToSign>PUT

video/mp4
Mon, 02 Jun 2025 08:00:00 GMT
/b/k&amp;x</StringToSign>
  <StringToSignBytes>50 55 54 </StringToSignBytes>
  <EC>0002-00000040</EC>
  <RecommendDoc>https://api.aliyun.com/troubleshoot?q=0002-00000040</RecommendDoc>
</Error>"#;

    #[test]
    fn oss_error_body() {
        let e = parse_oss_error(
            403,
            Some("header-rid"),
            Some("Mon, 02 Jun 2025 08:20:00 GMT"),
            None,
            SIG_ERROR.as_bytes(),
        );
        assert_eq!(e.service, Service::Oss);
        assert_eq!(e.code, "SignatureDoesNotMatch");
        assert!(e.message.starts_with("The request signature"));
        assert_eq!(e.request_id.as_deref(), Some("5C3D9175B6FC201293AD****"));
        assert_eq!(
            e.host_id.as_deref(),
            Some("bucket.oss-cn-shanghai.aliyuncs.com")
        );
        assert_eq!(e.ec.as_deref(), Some("0002-00000040"));
        assert_eq!(
            e.string_to_sign.as_deref(),
            Some("PUT\n\nvideo/mp4\nMon, 02 Jun 2025 08:00:00 GMT\n/b/k&x")
        );
        assert_eq!(
            e.server_date,
            httpdate::parse_http_date("Mon, 02 Jun 2025 08:20:00 GMT").ok()
        );
    }

    #[test]
    fn oss_error_written_by_the_model_parses_back() {
        let doc = OssErrorDocument {
            code: "RequestTimeTooSkewed".into(),
            message: "The difference between the request time and the current time is too large."
                .into(),
            request_id: "rid".into(),
            host_id: "h".into(),
            ..Default::default()
        };
        let xml = to_xml(&doc).unwrap();
        let e = parse_oss_error(
            403,
            None,
            Some("Mon, 02 Jun 2025 08:20:00 GMT"),
            None,
            xml.as_bytes(),
        );
        assert_eq!(e.code, "RequestTimeTooSkewed");
        assert_eq!(e.request_id.as_deref(), Some("rid"));
        assert_eq!(Error::from(e).class(true), ErrorClass::ClockSkew);
    }

    #[test]
    fn head_error_comes_in_x_oss_err() {
        let xml = "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>\
                   <RequestId>R1</RequestId><EC>0026-00000001</EC></Error>";
        let header = base64::engine::general_purpose::STANDARD.encode(xml);
        let e = parse_oss_error(404, Some("R2"), None, Some(&header), b"");
        assert_eq!(e.code, "NoSuchKey");
        assert_eq!(e.request_id.as_deref(), Some("R1"));
        assert_eq!(e.ec.as_deref(), Some("0026-00000001"));
    }

    #[test]
    fn oss_error_without_xml_falls_back_to_status() {
        let e = parse_oss_error(
            503,
            Some("R3"),
            None,
            None,
            b"<html><body>Bad gateway</body></html>",
        );
        assert_eq!(e.code, "Http503");
        assert_eq!(e.message, "HTTP 503 Service Unavailable");
        assert_eq!(e.request_id.as_deref(), Some("R3"));
        let e = parse_oss_error(404, None, None, Some("!!not base64"), b"");
        assert_eq!(e.code, "Http404");
        assert_eq!(e.request_id, None);
        let e = parse_oss_error(400, None, None, None, b"plain text");
        assert_eq!(e.code, "Http400");
        // Truncated XML still yields what was read before the break.
        let e = parse_oss_error(
            404,
            None,
            None,
            None,
            b"<Error><Code>NoSuchUpload</Code><Mess",
        );
        assert_eq!(e.code, "NoSuchUpload");
    }

    #[test]
    fn vod_error_json() {
        let body = br#"{"RequestId":"25818875-5F78-4A13-BEF6-D7393642CA58","HostId":"vod.cn-shanghai.aliyuncs.com",
            "Code":"InvalidSecurityToken.Expired","Message":"Specified SecurityToken is expired.",
            "Recommend":"https://next.api.aliyun.com/troubleshoot?q=InvalidSecurityToken.Expired"}"#;
        let e = parse_vod_error(Service::Vod, 403, body);
        assert_eq!(e.service, Service::Vod);
        assert_eq!(e.code, "InvalidSecurityToken.Expired");
        assert_eq!(
            e.request_id.as_deref(),
            Some("25818875-5F78-4A13-BEF6-D7393642CA58")
        );
        assert_eq!(e.host_id.as_deref(), Some("vod.cn-shanghai.aliyuncs.com"));
        assert_eq!(Error::from(e).class(true), ErrorClass::TokenExpired);

        let doc = RpcErrorDocument {
            request_id: "r".into(),
            host_id: "h".into(),
            code: "InvalidVideo.NotFound".into(),
            message: "The video does not exist.".into(),
            recommend: None,
        };
        let json = serde_json::to_vec(&doc).unwrap();
        assert_eq!(parse_rpc_error_document(&json), Some(doc));
        let e = parse_vod_error(Service::Sts, 404, &json);
        assert_eq!(
            (e.service, e.code.as_str()),
            (Service::Sts, "InvalidVideo.NotFound")
        );

        let e = parse_vod_error(Service::Vod, 502, b"<html>bad gateway</html>");
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("Http502", "HTTP 502 Bad Gateway")
        );
        assert_eq!(
            parse_vod_error(Service::Vod, 400, br#"{"Code":""}"#).code,
            "Http400"
        );
    }
}
