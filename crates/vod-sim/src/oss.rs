//! The OSS object API: multipart upload, PutObject, GetObject (Range), HeadObject.

use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use vod_upload::protocol::xml;

use crate::auth::{self, OssRequestView, Principal, TokenScope};
use crate::body::{CollectError, ReqBody, SimBody};
use crate::state::Shared;
use crate::stats;
use crate::storage::{self, CompleteError, CompleteSpec, Object, Part};
use crate::util::{self, xml_text};

/// Largest part or PutObject body OSS accepts.
const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Largest CompleteMultipartUpload document we buffer (10000 parts fit in ~1 MiB).
const MAX_COMPLETE_XML: usize = 8 << 20;
const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// An OSS error response (protocol.md §5.1).
#[derive(Debug, Clone)]
pub(crate) struct OssError {
    pub status: u16,
    pub code: String,
    pub message: String,
    ec: Option<String>,
    extra: Vec<(String, String)>,
}

impl OssError {
    pub fn new(status: u16, code: &str, message: &str) -> OssError {
        OssError {
            status,
            code: code.to_owned(),
            message: message.to_owned(),
            ec: None,
            extra: Vec::new(),
        }
    }

    pub fn ec(mut self, ec: &str) -> OssError {
        self.ec = Some(ec.to_owned());
        self
    }

    pub fn extra(mut self, name: &str, value: &str) -> OssError {
        self.extra.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn invalid_argument(name: &str, value: &str, message: &str) -> OssError {
        OssError::new(400, "InvalidArgument", message)
            .extra("ArgumentName", name)
            .extra("ArgumentValue", value)
    }

    fn no_such_upload(upload_id: &str) -> OssError {
        OssError::new(
            404,
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        )
        .extra("UploadId", upload_id)
    }

    fn no_such_bucket(bucket: &str) -> OssError {
        OssError::new(404, "NoSuchBucket", "The specified bucket does not exist.")
            .ec("0015-00000101")
            .extra("BucketName", bucket)
    }

    fn access_denied() -> OssError {
        OssError::new(
            403,
            "AccessDenied",
            "You have no right to access this object because of bucket acl.",
        )
    }

    fn internal(e: impl std::fmt::Display) -> OssError {
        tracing::error!(error = %e, "storage error");
        OssError::new(
            500,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    }

    /// A default code for an injected status.
    pub fn injected(status: u16, code: Option<String>, message: Option<String>) -> OssError {
        let code = code.unwrap_or_else(|| {
            match status {
                400 => "InvalidArgument",
                403 => "AccessDenied",
                404 => "NoSuchKey",
                409 => "OperationConflict",
                500 => "InternalError",
                501 => "NotImplemented",
                502 => "BadGateway",
                503 => "ServiceUnavailable",
                504 => "GatewayTimeout",
                _ => "InjectedFault",
            }
            .to_owned()
        });
        OssError {
            status,
            message: message.unwrap_or_else(|| format!("Injected fault: {code}.")),
            code,
            ec: None,
            extra: Vec::new(),
        }
    }

    pub fn xml(&self, request_id: &str, host_id: &str) -> String {
        let mut x = format!(
            "{XML_DECL}<Error>\n  <Code>{}</Code>\n  <Message>{}</Message>\n  <RequestId>{}</RequestId>\n  <HostId>{}</HostId>\n",
            xml_text(&self.code),
            xml_text(&self.message),
            request_id,
            xml_text(host_id)
        );
        for (k, v) in &self.extra {
            x.push_str(&format!("  <{k}>{}</{k}>\n", xml_text(v)));
        }
        if let Some(ec) = &self.ec {
            x.push_str(&format!(
                "  <EC>{ec}</EC>\n  <RecommendDoc>https://api.aliyun.com/troubleshoot?q={ec}</RecommendDoc>\n"
            ));
        }
        x.push_str("</Error>\n");
        x
    }

    /// The error response; HEAD gets no body and the XML base64-encoded in `x-oss-err`.
    pub fn response(&self, ctx: &Ctx) -> Response<SimBody> {
        let xml = self.xml(&ctx.request_id, &ctx.host_id);
        let mut b = base(self.status, &ctx.request_id).header("content-type", "application/xml");
        if let Some(ec) = &self.ec {
            b = b.header("x-oss-ec", ec.as_str());
        }
        if ctx.is_head {
            b = b
                .header("x-oss-err", B64.encode(xml.as_bytes()))
                .header("content-length", "0");
            return finish(b, SimBody::Empty);
        }
        finish(b, SimBody::full(xml))
    }
}

/// Per-request context for responses.
pub(crate) struct Ctx {
    pub request_id: String,
    pub host_id: String,
    pub is_head: bool,
}

pub(crate) fn base(status: u16, request_id: &str) -> http::response::Builder {
    Response::builder()
        .status(status)
        .header("server", "AliyunOSS")
        .header("date", httpdate::fmt_http_date(SystemTime::now()))
        .header("x-oss-request-id", request_id)
}

pub(crate) fn finish(b: http::response::Builder, body: SimBody) -> Response<SimBody> {
    b.body(body).unwrap_or_else(|e| {
        // Only reachable with an invalid header value we built ourselves.
        tracing::error!(error = %e, "building a response failed");
        let mut r = Response::new(SimBody::Empty);
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

fn xml_response(request_id: &str, xml: String) -> Response<SimBody> {
    finish(
        base(200, request_id).header("content-type", "application/xml"),
        SimBody::full(xml),
    )
}

/// Which object or bucket a request addresses.
pub(crate) struct Target {
    pub bucket: Option<String>,
    pub key: Option<String>,
}

/// Splits a raw (percent-encoded) path into bucket and key, path style, unless the `Host`
/// already named the bucket (virtual-hosted style).
pub(crate) fn parse_target(
    vhost_bucket: Option<String>,
    raw_path: &str,
) -> Result<Target, OssError> {
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    let decode = |s: &str| {
        util::pct_decode(s).ok_or_else(|| {
            OssError::new(
                400,
                "InvalidObjectName",
                "The object name is not valid UTF-8.",
            )
        })
    };
    if let Some(bucket) = vhost_bucket {
        let key = if path.is_empty() {
            None
        } else {
            Some(decode(path)?)
        };
        return Ok(Target {
            bucket: Some(bucket),
            key,
        });
    }
    if path.is_empty() {
        return Ok(Target {
            bucket: None,
            key: None,
        });
    }
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) => (b, (!k.is_empty()).then_some(k)),
        None => (path, None),
    };
    Ok(Target {
        bucket: Some(decode(bucket)?),
        key: key.map(decode).transpose()?,
    })
}

/// The bucket named by a virtual-hosted `Host` (`bucket.127.0.0.1:port`,
/// `bucket.localhost`, `bucket.oss-cn-shanghai.aliyuncs.com`), if any.
pub(crate) fn vhost_bucket(host: &str) -> Option<String> {
    let name = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(']') => h,
        _ => host,
    };
    let (label, rest) = name.split_once('.')?;
    let rest_is_service = rest.parse::<std::net::IpAddr>().is_ok()
        || rest == "localhost"
        || rest.ends_with("aliyuncs.com");
    (rest_is_service && valid_bucket(label) && name.parse::<std::net::IpAddr>().is_err())
        .then(|| label.to_owned())
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !b.starts_with('-')
        && !b.ends_with('-')
}

fn q<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn has(query: &[(String, String)], name: &str) -> bool {
    q(query, name).is_some()
}

/// The OSS operation name of a request (used by stats and fault rules).
pub(crate) fn classify(
    method: &Method,
    target: &Target,
    query: &[(String, String)],
) -> &'static str {
    match (&target.bucket, &target.key) {
        (None, _) => match *method {
            Method::GET => "ListBuckets",
            _ => "UnsupportedServiceOperation",
        },
        (Some(_), None) => match *method {
            Method::GET if has(query, "uploads") => "ListMultipartUploads",
            Method::GET => "ListObjects",
            Method::PUT => "PutBucket",
            Method::HEAD => "HeadBucket",
            Method::DELETE => "DeleteBucket",
            _ => "UnsupportedBucketOperation",
        },
        (Some(_), Some(_)) => match *method {
            Method::POST if has(query, "uploads") => "InitiateMultipartUpload",
            Method::POST if has(query, "uploadId") => "CompleteMultipartUpload",
            Method::POST if has(query, "append") => "AppendObject",
            Method::PUT if has(query, "partNumber") || has(query, "uploadId") => "UploadPart",
            Method::PUT if has(query, "acl") => "PutObjectACL",
            Method::PUT => "PutObject",
            Method::GET if has(query, "uploadId") => "ListParts",
            Method::GET if has(query, "objectMeta") => "GetObjectMeta",
            Method::GET if has(query, "acl") => "GetObjectACL",
            Method::GET => "GetObject",
            Method::HEAD => "HeadObject",
            Method::DELETE if has(query, "uploadId") => "AbortMultipartUpload",
            Method::DELETE => "DeleteObject",
            _ => "UnsupportedObjectOperation",
        },
    }
}

/// One OSS request after routing.
pub(crate) struct OssCall {
    pub shared: Arc<Shared>,
    pub ctx: Ctx,
    pub method: Method,
    pub headers: HeaderMap,
    pub target: Target,
    pub query: Vec<(String, String)>,
    pub op: &'static str,
    pub body: ReqBody,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl OssCall {
    /// Authenticates, authorizes and runs the call; errors become OSS error responses (after the
    /// request body is drained, so the client reads the error instead of a broken pipe).
    pub async fn run(mut self) -> Response<SimBody> {
        match self.dispatch().await {
            Ok(resp) => resp,
            Err(e) => {
                self.body.drain().await;
                e.response(&self.ctx)
            }
        }
    }

    async fn dispatch(&mut self) -> Result<Response<SimBody>, OssError> {
        let principal = auth::authenticate(
            &self.shared.creds,
            &self.shared.info.region,
            &OssRequestView {
                method: self.method.as_str(),
                headers: &self.headers,
                bucket: self.target.bucket.as_deref(),
                key: self.target.key.as_deref(),
                query: &self.query,
            },
        )?;
        self.authorize(&principal)?;
        if let ("ListMultipartUploads", Some(bucket)) = (self.op, self.target.bucket.clone()) {
            return self.list_uploads(&bucket);
        }
        let (Some(bucket), Some(key)) = (self.target.bucket.clone(), self.target.key.clone())
        else {
            return Err(OssError::new(
                501,
                "NotImplemented",
                &format!("{} is not implemented by vod-sim.", self.op),
            ));
        };
        if !valid_bucket(&bucket) {
            return Err(OssError::new(
                400,
                "InvalidBucketName",
                "The specified bucket is not valid.",
            )
            .extra("BucketName", &bucket));
        }
        if key.len() > 1023 || key.starts_with('/') || key.starts_with('\\') {
            return Err(OssError::new(
                400,
                "InvalidObjectName",
                "The specified object is not valid.",
            )
            .extra("ObjectName", &key));
        }
        match self.op {
            "InitiateMultipartUpload" => self.initiate(&bucket, &key),
            "UploadPart" => self.upload_part(&bucket, &key).await,
            "CompleteMultipartUpload" => self.complete(&bucket, &key).await,
            "ListParts" => self.list_parts(&bucket, &key),
            "AbortMultipartUpload" => self.abort(&bucket, &key),
            "PutObject" => self.put_object(&bucket, &key).await,
            "GetObject" | "HeadObject" | "GetObjectMeta" => self.get_object(&bucket, &key),
            "DeleteObject" => {
                self.shared.store.delete_object(&bucket, &key);
                Ok(finish(base(204, &self.ctx.request_id), SimBody::Empty))
            }
            op => Err(OssError::new(
                501,
                "NotImplemented",
                &format!("{op} is not implemented by vod-sim."),
            )),
        }
    }

    fn authorize(&self, principal: &Principal) -> Result<(), OssError> {
        match principal {
            Principal::Account => Ok(()),
            // Buckets behave as public-read (like VOD's CDN-fronted media), never public-write.
            Principal::Anonymous => match self.op {
                "GetObject" | "HeadObject" | "GetObjectMeta" => Ok(()),
                _ => Err(OssError::access_denied()),
            },
            Principal::Sts(token) => match &token.scope {
                TokenScope::Role => Ok(()),
                TokenScope::Upload { bucket, key } => {
                    if self.target.bucket.as_deref() == Some(bucket.as_str())
                        && self.target.key.as_deref() == Some(key.as_str())
                    {
                        Ok(())
                    } else {
                        Err(OssError::access_denied())
                    }
                }
            },
        }
    }

    fn content_type(&self, key: &str) -> String {
        header(&self.headers, "content-type")
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                mime_guess::from_path(key)
                    .first_or_octet_stream()
                    .essence_str()
                    .to_owned()
            })
    }

    fn user_meta(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(k, _)| k.as_str().starts_with("x-oss-meta-"))
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect()
    }

    fn forbid_overwrite(&self) -> bool {
        header(&self.headers, "x-oss-forbid-overwrite")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn file_exists(key: &str) -> OssError {
        OssError::new(
            409,
            "FileAlreadyExists",
            "The object you specified already exists and can not be overwritten.",
        )
        .extra("ObjectName", key)
    }

    /// The key as the response shows it, URL-encoded when `encoding-type=url` was asked for.
    fn encode_key(&self, key: &str) -> (String, Option<String>) {
        if q(&self.query, "encoding-type") == Some("url") {
            (util::pct_path(key), Some("url".to_owned()))
        } else {
            (key.to_owned(), None)
        }
    }

    fn document(&self, doc: &impl serde::Serialize) -> Result<Response<SimBody>, OssError> {
        let xml = xml::to_xml(doc).map_err(OssError::internal)?;
        Ok(xml_response(&self.ctx.request_id, xml))
    }

    fn initiate(&mut self, bucket: &str, key: &str) -> Result<Response<SimBody>, OssError> {
        if self.forbid_overwrite() && self.shared.store.object_exists(bucket, key) {
            return Err(Self::file_exists(key));
        }
        let id = self
            .shared
            .store
            .initiate(bucket, key, self.content_type(key), self.user_meta());
        stats::inc(&self.shared.stats.initiated);
        let (key, encoding_type) = self.encode_key(key);
        self.document(&xml::InitiateMultipartUploadResult {
            bucket: bucket.to_owned(),
            key,
            upload_id: id,
            encoding_type,
        })
    }

    fn upload_id(&self) -> Result<String, OssError> {
        match q(&self.query, "uploadId") {
            Some(id) if !id.is_empty() => Ok(id.to_owned()),
            _ => Err(OssError::no_such_upload("")),
        }
    }

    fn check_length(&self) -> Result<(), OssError> {
        if let Some(len) =
            header(&self.headers, "content-length").and_then(|v| v.parse::<u64>().ok())
            && len > MAX_OBJECT_SIZE
        {
            return Err(OssError::new(
                400,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size.",
            )
            .extra("MaxSizeAllowed", &MAX_OBJECT_SIZE.to_string())
            .extra("ProposedSize", &len.to_string()));
        }
        Ok(())
    }

    /// Streams the request body to a new blob and checks `Content-MD5` when sent.
    async fn receive(&mut self) -> Result<storage::Written, OssError> {
        let expected_md5 = match header(&self.headers, "content-md5") {
            None => None,
            Some(v) => match B64.decode(v.trim()).ok().filter(|d| d.len() == 16) {
                Some(d) => Some(d),
                None => {
                    return Err(OssError::new(
                        400,
                        "InvalidDigest",
                        "The Content-MD5 you specified is not valid.",
                    ));
                }
            },
        };
        let mut sink = self.shared.store.sink();
        self.body.count_as_object_data();
        loop {
            match self.body.chunk().await {
                Ok(Some(chunk)) => sink.write(chunk).await.map_err(OssError::internal)?,
                Ok(None) => break,
                Err(e) => {
                    // The client went away; nobody will read this response.
                    return Err(OssError::new(
                        400,
                        "RequestTimeout",
                        &format!(
                            "Your socket connection to the server was not read from or written to: {}",
                            e.0
                        ),
                    ));
                }
            }
        }
        let written = sink.finish().await.map_err(OssError::internal)?;
        if written.size() > MAX_OBJECT_SIZE {
            return Err(OssError::new(
                400,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size.",
            ));
        }
        if let Some(md5) = expected_md5
            && md5 != written.md5
        {
            return Err(OssError::new(
                400,
                "InvalidDigest",
                "The Content-MD5 you specified did not match what we received.",
            )
            .extra("CalculatedDigest", &B64.encode(written.md5)));
        }
        Ok(written)
    }

    async fn upload_part(
        &mut self,
        bucket: &str,
        key: &str,
    ) -> Result<Response<SimBody>, OssError> {
        let id = self.upload_id()?;
        let raw = q(&self.query, "partNumber").unwrap_or("");
        let number = raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| {
                OssError::invalid_argument(
                    "partNumber",
                    raw,
                    "Part number must be an integer between 1 and 10000, inclusive.",
                )
            })?;
        if !self.shared.store.upload_exists(&id, bucket, key) {
            return Err(OssError::no_such_upload(&id));
        }
        self.check_length()?;
        let written = self.receive().await?;
        let part = Part {
            md5: written.md5,
            crc64: written.crc64,
            last_modified: SystemTime::now(),
            blob: written.blob,
        };
        let etag = part.etag();
        let crc = part.crc64;
        let md5 = B64.encode(part.md5);
        if !self.shared.store.put_part(&id, bucket, key, number, part) {
            return Err(OssError::no_such_upload(&id));
        }
        stats::inc(&self.shared.stats.parts_uploaded);
        Ok(finish(
            base(200, &self.ctx.request_id)
                .header("etag", etag)
                .header("content-md5", md5)
                .header("x-oss-hash-crc64ecma", crc.to_string())
                .header("content-length", "0"),
            SimBody::Empty,
        ))
    }

    async fn complete(&mut self, bucket: &str, key: &str) -> Result<Response<SimBody>, OssError> {
        let id = self.upload_id()?;
        let body = match self.body.collect(MAX_COMPLETE_XML).await {
            Ok(b) => b,
            Err(CollectError::TooLarge) => {
                return Err(OssError::new(
                    400,
                    "MalformedXML",
                    "The XML you provided was too large.",
                ));
            }
            Err(CollectError::Body(e)) => {
                return Err(OssError::new(400, "RequestTimeout", &e.0.to_string()));
            }
        };
        let complete_all = header(&self.headers, "x-oss-complete-all")
            .is_some_and(|v| v.eq_ignore_ascii_case("yes"));
        let spec = if complete_all {
            if !body.is_empty() {
                return Err(OssError::invalid_argument(
                    "x-oss-complete-all",
                    "yes",
                    "Should not specify both complete all header and http body.",
                )
                .ec("0042-00000216"));
            }
            CompleteSpec::All
        } else {
            CompleteSpec::List(parse_complete_xml(&body)?)
        };
        let result = self
            .shared
            .store
            .complete(&id, bucket, key, spec, self.forbid_overwrite());
        let object = result.map_err(|e| match e {
            CompleteError::NoSuchUpload => OssError::no_such_upload(&id),
            CompleteError::InvalidPartOrder => OssError::new(
                400,
                "InvalidPartOrder",
                "The list of parts was not in ascending order. Parts list must specified in order by part number.",
            )
            .extra("UploadId", &id),
            CompleteError::InvalidPart(n, etag) => OssError::new(
                400,
                "InvalidPart",
                "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.",
            )
            .extra("UploadId", &id)
            .extra("PartNumber", &n.to_string())
            .extra("ETag", &etag),
            CompleteError::EntityTooSmall(n, size) => OssError::new(
                400,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed size.",
            )
            .ec("0042-00000213")
            .extra("MinSizeAllowed", &storage::MIN_PART_SIZE.to_string())
            .extra("ProposedSize", &size.to_string())
            .extra("PartNumber", &n.to_string()),
            CompleteError::NoParts => OssError::new(
                400,
                "InvalidPart",
                "You must specify at least one part.",
            )
            .extra("UploadId", &id),
            CompleteError::FileAlreadyExists => Self::file_exists(key),
        })?;
        stats::inc(&self.shared.stats.completed);
        let (key_text, encoding_type) = self.encode_key(key);
        let location = format!(
            "{}/{bucket}/{}",
            self.shared.info.oss_endpoint,
            util::pct_path(key)
        );
        let xml = xml::to_xml(&xml::CompleteMultipartUploadResult {
            encoding_type,
            location: Some(location),
            bucket: bucket.to_owned(),
            key: key_text,
            etag: object.etag.clone(),
        })
        .map_err(OssError::internal)?;
        Ok(finish(
            base(200, &self.ctx.request_id)
                .header("content-type", "application/xml")
                .header("etag", object.etag.as_str())
                .header("x-oss-hash-crc64ecma", object.crc64.to_string()),
            SimBody::full(xml),
        ))
    }

    /// A listing's page size (`max-parts`, `max-uploads`): 1 to 1000, default 1000.
    fn page_size(&self, name: &str) -> Result<usize, OssError> {
        let raw = q(&self.query, name).unwrap_or("1000");
        raw.parse::<usize>()
            .ok()
            .filter(|m| (1..=1000).contains(m))
            .ok_or_else(|| {
                OssError::invalid_argument(
                    name,
                    raw,
                    &format!("Argument {name} must be an integer between 1 and 1000."),
                )
            })
    }

    fn list_uploads(&mut self, bucket: &str) -> Result<Response<SimBody>, OssError> {
        if !self.shared.store.bucket_exists(bucket) {
            return Err(
                OssError::new(404, "NoSuchBucket", "The specified bucket does not exist.")
                    .extra("BucketName", bucket),
            );
        }
        let max = self.page_size("max-uploads")?;
        let prefix = q(&self.query, "prefix").unwrap_or("").to_owned();
        let key_marker = q(&self.query, "key-marker").unwrap_or("").to_owned();
        let id_marker = q(&self.query, "upload-id-marker").unwrap_or("").to_owned();
        let (rows, truncated) =
            self.shared
                .store
                .list_uploads(bucket, &prefix, (&key_marker, &id_marker), max);
        let (next_key, next_id) = match (truncated, rows.last()) {
            (true, Some(last)) => (last.key.clone(), last.upload_id.clone()),
            _ => (String::new(), String::new()),
        };
        self.document(&xml::ListMultipartUploadsResult {
            bucket: bucket.to_owned(),
            key_marker,
            upload_id_marker: id_marker,
            next_key_marker: next_key,
            next_upload_id_marker: next_id,
            prefix,
            max_uploads: Some(max as u32),
            is_truncated: truncated,
            uploads: rows
                .into_iter()
                .map(|r| xml::ListedUpload {
                    key: r.key,
                    upload_id: r.upload_id,
                    initiated: util::iso8601_millis(r.initiated),
                })
                .collect(),
        })
    }

    fn list_parts(&mut self, bucket: &str, key: &str) -> Result<Response<SimBody>, OssError> {
        let id = self.upload_id()?;
        let max = self.page_size("max-parts")?;
        let marker_raw = q(&self.query, "part-number-marker").unwrap_or("");
        let marker = if marker_raw.is_empty() {
            0
        } else {
            marker_raw.parse::<u32>().map_err(|_| {
                OssError::invalid_argument(
                    "part-number-marker",
                    marker_raw,
                    "Argument part-number-marker must be an integer.",
                )
            })?
        };
        let page = self
            .shared
            .store
            .list_parts(&id, bucket, key, marker, max)
            .ok_or_else(|| OssError::no_such_upload(&id))?;
        let next = page.parts.last().map_or(0, |(n, _)| *n);
        let (key, encoding_type) = self.encode_key(key);
        self.document(&xml::ListPartsResult {
            bucket: bucket.to_owned(),
            key,
            upload_id: id,
            part_number_marker: Some(marker),
            next_part_number_marker: Some(next),
            max_parts: u32::try_from(max).ok(),
            is_truncated: page.truncated,
            encoding_type,
            parts: page
                .parts
                .iter()
                .map(|(n, p)| xml::ListPart {
                    part_number: *n,
                    last_modified: Some(util::iso8601_millis(p.last_modified)),
                    etag: p.etag(),
                    size: p.size(),
                    hash_crc64ecma: Some(p.crc64),
                })
                .collect(),
        })
    }

    fn abort(&mut self, bucket: &str, key: &str) -> Result<Response<SimBody>, OssError> {
        let id = self.upload_id()?;
        if !self.shared.store.abort(&id, bucket, key) {
            return Err(OssError::no_such_upload(&id));
        }
        stats::inc(&self.shared.stats.aborted);
        Ok(finish(base(204, &self.ctx.request_id), SimBody::Empty))
    }

    async fn put_object(&mut self, bucket: &str, key: &str) -> Result<Response<SimBody>, OssError> {
        if header(&self.headers, "x-oss-copy-source").is_some() {
            return Err(OssError::new(
                501,
                "NotImplemented",
                "CopyObject is not implemented by vod-sim.",
            ));
        }
        if self.forbid_overwrite() && self.shared.store.object_exists(bucket, key) {
            return Err(Self::file_exists(key));
        }
        self.check_length()?;
        let written = self.receive().await?;
        let etag = format!("\"{}\"", util::to_hex_upper(&written.md5));
        let md5 = B64.encode(written.md5);
        let crc = written.crc64;
        let object = Object {
            size: written.size(),
            blobs: vec![written.blob],
            etag: etag.clone(),
            crc64: crc,
            content_type: self.content_type(key),
            last_modified: SystemTime::now(),
            multipart: false,
            content_md5: Some(md5.clone()),
            user_meta: self.user_meta(),
        };
        if !self
            .shared
            .store
            .put_object(bucket, key, object, self.forbid_overwrite())
        {
            return Err(Self::file_exists(key));
        }
        stats::inc(&self.shared.stats.put_objects);
        Ok(finish(
            base(200, &self.ctx.request_id)
                .header("etag", etag)
                .header("content-md5", md5)
                .header("x-oss-hash-crc64ecma", crc.to_string())
                .header("content-length", "0"),
            SimBody::Empty,
        ))
    }

    fn get_object(&mut self, bucket: &str, key: &str) -> Result<Response<SimBody>, OssError> {
        if !self.shared.store.bucket_exists(bucket) {
            return Err(OssError::no_such_bucket(bucket));
        }
        let object = self.shared.store.get_object(bucket, key).ok_or_else(|| {
            OssError::new(404, "NoSuchKey", "The specified key does not exist.")
                .ec("0026-00000001")
                .extra("Key", key)
        })?;
        let mut b = base(200, &self.ctx.request_id)
            .header("content-type", object.content_type.as_str())
            .header("etag", object.etag.as_str())
            .header(
                "last-modified",
                httpdate::fmt_http_date(object.last_modified),
            )
            .header("accept-ranges", "bytes")
            .header("x-oss-object-type", object.object_type())
            .header("x-oss-storage-class", "Standard")
            .header("x-oss-hash-crc64ecma", object.crc64.to_string());
        if let Some(md5) = &object.content_md5 {
            b = b.header("content-md5", md5.as_str());
        }
        for (k, v) in &object.user_meta {
            b = b.header(k.as_str(), v.as_str());
        }
        if self.op == "GetObjectMeta" {
            return Ok(finish(b.header("content-length", "0"), SimBody::Empty));
        }
        let (start, len, status) =
            match header(&self.headers, "range").map(|r| parse_range(r, object.size)) {
                None | Some(RangeSpec::Ignore) => (0, object.size, 200),
                Some(RangeSpec::Bytes(s, e)) => {
                    b = b.header("content-range", format!("bytes {s}-{e}/{}", object.size));
                    (s, e - s + 1, 206)
                }
                Some(RangeSpec::Unsatisfiable) => {
                    return Err(OssError::new(
                        416,
                        "InvalidRange",
                        "The requested range cannot be satisfied",
                    )
                    .extra(
                        "RangeRequested",
                        header(&self.headers, "range").unwrap_or(""),
                    )
                    .extra("ActualObjectSize", &object.size.to_string()));
                }
            };
        b = b.status(status).header("content-length", len.to_string());
        if self.ctx.is_head || len == 0 {
            return Ok(finish(b, SimBody::Empty));
        }
        let rx = storage::read_range(object.blobs.clone(), start, len);
        Ok(finish(
            b,
            SimBody::Stream {
                rx,
                remaining: len,
                shared: self.shared.clone(),
            },
        ))
    }
}

#[derive(Debug, PartialEq, Eq)]
enum RangeSpec {
    /// Inclusive byte range.
    Bytes(u64, u64),
    /// Malformed or multi-range: OSS answers with the whole object.
    Ignore,
    Unsatisfiable,
}

fn parse_range(h: &str, size: u64) -> RangeSpec {
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return RangeSpec::Ignore;
    };
    if spec.contains(',') {
        return RangeSpec::Ignore;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeSpec::Ignore;
    };
    let (a, b) = (a.trim(), b.trim());
    match (a.parse::<u64>().ok(), b.parse::<u64>().ok()) {
        (Some(s), Some(e)) if s <= e => {
            if s >= size {
                RangeSpec::Unsatisfiable
            } else {
                RangeSpec::Bytes(s, e.min(size - 1))
            }
        }
        (Some(s), None) if b.is_empty() => {
            if s >= size {
                RangeSpec::Unsatisfiable
            } else {
                RangeSpec::Bytes(s, size - 1)
            }
        }
        (None, Some(n)) if a.is_empty() => {
            if n == 0 || size == 0 {
                RangeSpec::Unsatisfiable
            } else {
                RangeSpec::Bytes(size.saturating_sub(n), size - 1)
            }
        }
        _ => RangeSpec::Ignore,
    }
}

fn parse_complete_xml(body: &Bytes) -> Result<Vec<(u32, String)>, OssError> {
    let doc: xml::CompleteMultipartUpload = xml::from_xml(body).map_err(|_| {
        OssError::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        )
    })?;
    if doc.parts.is_empty() {
        return Err(OssError::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        ));
    }
    Ok(doc
        .parts
        .into_iter()
        .map(|p| (p.part_number, p.etag))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeSpec::Bytes(0, 9));
        assert_eq!(parse_range("bytes=90-200", 100), RangeSpec::Bytes(90, 99));
        assert_eq!(parse_range("bytes=10-", 100), RangeSpec::Bytes(10, 99));
        assert_eq!(parse_range("bytes=-10", 100), RangeSpec::Bytes(90, 99));
        assert_eq!(parse_range("bytes=-1000", 100), RangeSpec::Bytes(0, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range("bytes=9-1", 100), RangeSpec::Ignore);
        assert_eq!(parse_range("bytes=0-1,3-4", 100), RangeSpec::Ignore);
        assert_eq!(parse_range("items=0-1", 100), RangeSpec::Ignore);
    }

    #[test]
    fn targets() {
        let t = parse_target(None, "/outin-x/sv/a%20b/c%2B1.mp4").unwrap();
        assert_eq!(t.bucket.as_deref(), Some("outin-x"));
        assert_eq!(t.key.as_deref(), Some("sv/a b/c+1.mp4"));
        let t = parse_target(None, "/outin-x/").unwrap();
        assert!(t.key.is_none());
        let t = parse_target(Some("bk".into()), "/a/b").unwrap();
        assert_eq!(t.bucket.as_deref(), Some("bk"));
        assert_eq!(t.key.as_deref(), Some("a/b"));
        assert_eq!(vhost_bucket("127.0.0.1:8080"), None);
        assert_eq!(vhost_bucket("localhost:8080"), None);
        assert_eq!(
            vhost_bucket("outin-1.127.0.0.1:8080").as_deref(),
            Some("outin-1")
        );
        assert_eq!(
            vhost_bucket("bk1.oss-cn-shanghai.aliyuncs.com").as_deref(),
            Some("bk1")
        );
        assert_eq!(vhost_bucket("[::1]:80"), None);
    }

    #[test]
    fn complete_xml() {
        let xml = Bytes::from_static(
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"AB\"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&quot;CD&quot;</ETag></Part></CompleteMultipartUpload>",
        );
        assert_eq!(
            parse_complete_xml(&xml).unwrap(),
            vec![(1, "\"AB\"".to_owned()), (2, "\"CD\"".to_owned())]
        );
        assert!(parse_complete_xml(&Bytes::from_static(b"<x>")).is_err());
        assert!(parse_complete_xml(&Bytes::from_static(b"<CompleteMultipartUpload/>")).is_err());
    }

    #[test]
    fn error_xml_shape() {
        let e = OssError::new(403, "SignatureDoesNotMatch", "bad <sig>")
            .ec("0002-00000040")
            .extra("StringToSign", "PUT\n\n");
        let x = e.xml("RID", "host");
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>"));
        assert!(x.contains("<Code>SignatureDoesNotMatch</Code>"));
        assert!(x.contains("<Message>bad &lt;sig&gt;</Message>"));
        assert!(x.contains("<EC>0002-00000040</EC>"));
        assert!(x.contains("<StringToSign>PUT\n\n</StringToSign>"));
    }
}
