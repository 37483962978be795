//! OSS XML documents (protocol.md §4, §5.1), usable both to parse (client) and to write
//! (simulator). Unknown elements are ignored when parsing.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result, Service};

const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Response of InitiateMultipartUpload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "InitiateMultipartUploadResult", rename_all = "PascalCase")]
pub struct InitiateMultipartUploadResult {
    #[serde(default)]
    pub bucket: String,
    #[serde(default)]
    pub key: String,
    pub upload_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
}

/// One part in a CompleteMultipartUpload request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletePart {
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    /// As returned by UploadPart, quotes included.
    #[serde(rename = "ETag")]
    pub etag: String,
}

/// The CompleteMultipartUpload request body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "CompleteMultipartUpload")]
pub struct CompleteMultipartUpload {
    #[serde(rename = "Part", default)]
    pub parts: Vec<CompletePart>,
}

/// Response of CompleteMultipartUpload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "CompleteMultipartUploadResult", rename_all = "PascalCase")]
pub struct CompleteMultipartUploadResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default)]
    pub bucket: String,
    #[serde(default)]
    pub key: String,
    /// `"<32 hex>-<part count>"`, quotes included.
    #[serde(rename = "ETag", default)]
    pub etag: String,
}

/// One part in a ListParts response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPart {
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    /// ISO-8601, e.g. `2012-02-23T07:01:34.000Z`.
    #[serde(
        rename = "LastModified",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_modified: Option<String>,
    /// Quoted, as UploadPart returned it.
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "Size")]
    pub size: u64,
    /// Newer services only; not to be relied on.
    #[serde(
        rename = "HashCrc64ecma",
        default,
        deserialize_with = "lenient_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub hash_crc64ecma: Option<u64>,
}

/// Response of ListParts (one page).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "ListPartsResult", rename_all = "PascalCase")]
pub struct ListPartsResult {
    #[serde(default)]
    pub bucket: String,
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub upload_id: String,
    #[serde(
        default,
        deserialize_with = "lenient_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub part_number_marker: Option<u32>,
    #[serde(
        default,
        deserialize_with = "lenient_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_part_number_marker: Option<u32>,
    #[serde(
        default,
        deserialize_with = "lenient_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_parts: Option<u32>,
    #[serde(default)]
    pub is_truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
    #[serde(rename = "Part", default)]
    pub parts: Vec<ListPart>,
}

/// One open multipart upload in a ListMultipartUploads page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListedUpload {
    pub key: String,
    pub upload_id: String,
    /// ISO-8601, e.g. `2012-02-23T04:18:23.000Z`.
    #[serde(default)]
    pub initiated: String,
}

/// Response of ListMultipartUploads (one page; a bucket-level call).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "ListMultipartUploadsResult", rename_all = "PascalCase")]
pub struct ListMultipartUploadsResult {
    #[serde(default)]
    pub bucket: String,
    #[serde(default)]
    pub key_marker: String,
    #[serde(default)]
    pub upload_id_marker: String,
    #[serde(default)]
    pub next_key_marker: String,
    #[serde(default)]
    pub next_upload_id_marker: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(
        default,
        deserialize_with = "lenient_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_uploads: Option<u32>,
    #[serde(default)]
    pub is_truncated: bool,
    #[serde(rename = "Upload", default)]
    pub uploads: Vec<ListedUpload>,
}

/// The OSS `<Error>` document. Only `Code`, `Message`, `RequestId`, `HostId`, `EC` are common;
/// the rest appear for specific codes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "Error")]
pub struct OssErrorDocument {
    #[serde(rename = "Code")]
    pub code: String,
    #[serde(rename = "Message", default)]
    pub message: String,
    #[serde(rename = "RequestId", default)]
    pub request_id: String,
    #[serde(rename = "HostId", default)]
    pub host_id: String,
    #[serde(rename = "EC", default, skip_serializing_if = "Option::is_none")]
    pub ec: Option<String>,
    #[serde(
        rename = "RecommendDoc",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub recommend_doc: Option<String>,
    /// SignatureDoesNotMatch / InvalidAccessKeyId.
    #[serde(
        rename = "OSSAccessKeyId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub oss_access_key_id: Option<String>,
    #[serde(
        rename = "SignatureProvided",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub signature_provided: Option<String>,
    #[serde(
        rename = "StringToSign",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub string_to_sign: Option<String>,
    #[serde(
        rename = "StringToSignBytes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub string_to_sign_bytes: Option<String>,
    /// V4 SignatureDoesNotMatch.
    #[serde(
        rename = "CanonicalRequest",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub canonical_request: Option<String>,
    /// InvalidArgument.
    #[serde(
        rename = "ArgumentName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub argument_name: Option<String>,
    #[serde(
        rename = "ArgumentValue",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub argument_value: Option<String>,
    /// NoSuchBucket.
    #[serde(
        rename = "BucketName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub bucket_name: Option<String>,
    /// NoSuchUpload.
    #[serde(rename = "UploadId", default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
}

/// Serialises a document with the XML declaration in front.
pub fn to_xml<T: Serialize>(value: &T) -> Result<String> {
    let body = quick_xml::se::to_string(value).map_err(|e| Error::Protocol {
        service: Service::Oss,
        message: format!("cannot write XML: {e}"),
    })?;
    let mut out = String::with_capacity(XML_DECLARATION.len() + body.len());
    out.push_str(XML_DECLARATION);
    out.push_str(&body);
    Ok(out)
}

/// Parses a document; a failure is an [`Error::Protocol`] from OSS naming the document.
pub fn from_xml<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    let what = std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or("document");
    let text = std::str::from_utf8(body).map_err(|_| Error::Protocol {
        service: Service::Oss,
        message: format!("{what} is not UTF-8"),
    })?;
    quick_xml::de::from_str(text).map_err(|e| Error::Protocol {
        service: Service::Oss,
        message: format!("cannot parse {what}: {e}"),
    })
}

/// A number that may be absent, empty or padded with spaces.
fn lenient_opt<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
{
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.and_then(|s| s.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initiate_round_trip() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
            <InitiateMultipartUploadResult>
              <Bucket>outin-x</Bucket><Key>sv/a b/x.mp4</Key>
              <UploadId>0004B999EF5A239BB9138C6227D6****</UploadId>
            </InitiateMultipartUploadResult>"#;
        let r: InitiateMultipartUploadResult = from_xml(doc).unwrap();
        assert_eq!(r.upload_id, "0004B999EF5A239BB9138C6227D6****");
        assert_eq!(r.key, "sv/a b/x.mp4");
        let again: InitiateMultipartUploadResult =
            from_xml(to_xml(&r).unwrap().as_bytes()).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn complete_body_is_what_oss_expects() {
        let body = CompleteMultipartUpload {
            parts: vec![
                CompletePart {
                    part_number: 1,
                    etag: "\"3349DC700140D7F86A0784842780****\"".into(),
                },
                CompletePart {
                    part_number: 2,
                    etag: "\"8EFDA8BE206636A695359836FE0A****\"".into(),
                },
            ],
        };
        let xml = to_xml(&body).unwrap();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUpload>\
             <Part><PartNumber>1</PartNumber><ETag>\"3349DC700140D7F86A0784842780****\"</ETag></Part>\
             <Part><PartNumber>2</PartNumber><ETag>\"8EFDA8BE206636A695359836FE0A****\"</ETag></Part>\
             </CompleteMultipartUpload>"
        );
        let parsed: CompleteMultipartUpload = from_xml(xml.as_bytes()).unwrap();
        assert_eq!(parsed, body);
        // Entity-escaped quotes (oss2 / other writers) parse to the same ETag.
        let escaped = b"<CompleteMultipartUpload><Part><PartNumber>7</PartNumber>\
            <ETag>&quot;AB&quot;</ETag></Part></CompleteMultipartUpload>";
        let parsed: CompleteMultipartUpload = from_xml(escaped).unwrap();
        assert_eq!(parsed.parts[0].etag, "\"AB\"");
        let empty: CompleteMultipartUpload = from_xml(b"<CompleteMultipartUpload/>").unwrap();
        assert!(empty.parts.is_empty());
    }

    #[test]
    fn complete_result_round_trip() {
        let doc = br#"<CompleteMultipartUploadResult>
            <Location>https://bucket.oss-cn-shanghai.aliyuncs.com/key</Location>
            <Bucket>bucket</Bucket><Key>key</Key><ETag>"097DE458AD02B5F89F9D0530231876B2-2"</ETag>
            </CompleteMultipartUploadResult>"#;
        let r: CompleteMultipartUploadResult = from_xml(doc).unwrap();
        assert_eq!(r.etag, "\"097DE458AD02B5F89F9D0530231876B2-2\"");
        assert_eq!(
            r.location.as_deref(),
            Some("https://bucket.oss-cn-shanghai.aliyuncs.com/key")
        );
        let again: CompleteMultipartUploadResult =
            from_xml(to_xml(&r).unwrap().as_bytes()).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn list_parts_round_trip() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
            <ListPartsResult xmlns="http://doc.oss-cn-hangzhou.aliyuncs.com">
              <Bucket>b</Bucket><Key>k</Key><UploadId>U</UploadId>
              <StorageClass>Standard</StorageClass>
              <PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>5</NextPartNumberMarker>
              <MaxParts>1000</MaxParts><IsTruncated>true</IsTruncated>
              <Part><PartNumber>1</PartNumber><LastModified>2012-02-23T07:01:34.000Z</LastModified>
                <ETag>"3349DC700140D7F86A0784842780****"</ETag><Size>6291456</Size></Part>
              <Part><PartNumber>5</PartNumber><LastModified>2012-02-23T07:02:03.000Z</LastModified>
                <ETag>"7265F4D211B56873A381D321F586****"</ETag><Size>1024</Size>
                <HashCrc64ecma>123</HashCrc64ecma></Part>
            </ListPartsResult>"#;
        let r: ListPartsResult = from_xml(doc).unwrap();
        assert!(r.is_truncated);
        assert_eq!(r.next_part_number_marker, Some(5));
        assert_eq!(r.parts.len(), 2);
        assert_eq!(r.parts[0].size, 6291456);
        assert_eq!(r.parts[1].hash_crc64ecma, Some(123));
        let again: ListPartsResult = from_xml(to_xml(&r).unwrap().as_bytes()).unwrap();
        assert_eq!(again, r);

        let empty = b"<ListPartsResult><Bucket>b</Bucket><Key>k</Key><UploadId>U</UploadId>\
            <NextPartNumberMarker></NextPartNumberMarker><IsTruncated>false</IsTruncated>\
            </ListPartsResult>";
        let r: ListPartsResult = from_xml(empty).unwrap();
        assert!(!r.is_truncated && r.parts.is_empty() && r.next_part_number_marker.is_none());
    }

    #[test]
    fn list_multipart_uploads_round_trip() {
        // The example of the OSS API reference (ListMultipartUploads), abridged.
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
            <ListMultipartUploadsResult xmlns="http://doc.oss-cn-hangzhou.aliyuncs.com">
              <Bucket>oss-example</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
              <NextKeyMarker>oss.avi</NextKeyMarker>
              <NextUploadIdMarker>0214A87687F040F1BA4D83AB17C9****</NextUploadIdMarker>
              <Delimiter></Delimiter><Prefix></Prefix><MaxUploads>1000</MaxUploads>
              <IsTruncated>false</IsTruncated>
              <Upload><Key>multipart.data</Key>
                <UploadId>0004B999EF518A1FE585B0C9360D****</UploadId>
                <StorageClass>Standard</StorageClass>
                <Initiated>2012-02-23T04:18:23.000Z</Initiated></Upload>
              <Upload><Key>oss.avi</Key>
                <UploadId>0214A87687F040F1BA4D83AB17C9****</UploadId>
                <StorageClass>Standard</StorageClass>
                <Initiated>2012-02-23T06:14:27.000Z</Initiated></Upload>
            </ListMultipartUploadsResult>"#;
        let r: ListMultipartUploadsResult = from_xml(doc).unwrap();
        assert!(!r.is_truncated);
        assert_eq!(r.max_uploads, Some(1000));
        assert_eq!(r.uploads.len(), 2);
        assert_eq!(r.uploads[1].key, "oss.avi");
        assert_eq!(r.uploads[1].initiated, "2012-02-23T06:14:27.000Z");
        let again: ListMultipartUploadsResult = from_xml(to_xml(&r).unwrap().as_bytes()).unwrap();
        assert_eq!(again, r);
        let empty: ListMultipartUploadsResult = from_xml(
            b"<ListMultipartUploadsResult><Bucket>b</Bucket></ListMultipartUploadsResult>",
        )
        .unwrap();
        assert!(empty.uploads.is_empty());
    }

    #[test]
    fn error_document_round_trip() {
        let e = OssErrorDocument {
            code: "SignatureDoesNotMatch".into(),
            message: "The request signature we calculated does not match.".into(),
            request_id: "5C3D9175B6FC201293AD****".into(),
            host_id: "bucket.oss-cn-shanghai.aliyuncs.com".into(),
            ec: Some("0002-00000040".into()),
            string_to_sign: Some("PUT\n\nvideo/mp4\nMon, 02 Jun 2025 08:00:00 GMT\n/b/k".into()),
            ..Default::default()
        };
        let xml = to_xml(&e).unwrap();
        assert!(xml.contains("<Code>SignatureDoesNotMatch</Code>"), "{xml}");
        assert!(!xml.contains("ArgumentName"));
        let again: OssErrorDocument = from_xml(xml.as_bytes()).unwrap();
        assert_eq!(again, e);
    }

    #[test]
    fn parse_failures_are_protocol_errors() {
        let e = from_xml::<InitiateMultipartUploadResult>(b"<html>oops</html>").unwrap_err();
        assert!(
            matches!(
                e,
                Error::Protocol {
                    service: Service::Oss,
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string().contains("InitiateMultipartUploadResult"),
            "{e}"
        );
    }
}
