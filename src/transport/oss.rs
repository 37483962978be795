//! OSS operations over HTTP (protocol.md §4): multipart upload, PutObject, HeadObject.
//!
//! Every request is signed just before it is sent with the server-corrected [`Clock`]. A
//! clock-skew rejection corrects the clock from the response `Date` and repeats that request
//! once; nothing else is retried here (retry policy belongs to the engine). Dropping any
//! returned future cancels its request.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use tokio::sync::Notify;

use super::http::{Clock, HttpConfig, map_reqwest_error, redact_url, validate_endpoint};
use crate::error::{Error, ErrorClass, Result, Service};
use crate::protocol::crc64::{self, Crc64};
use crate::protocol::credentials::Credentials;
use crate::protocol::sign::{OssRequest, sign_request};
use crate::protocol::xml::{
    CompleteMultipartUpload, CompleteMultipartUploadResult, CompletePart,
    InitiateMultipartUploadResult, ListMultipartUploadsResult, ListPartsResult, from_xml, to_xml,
};
use crate::protocol::{SignatureVersion, parse_oss_error};
use crate::source::{Reader, Source};

/// Body chunk size read from a file and handed to the connection. The chunk is read, then
/// checksummed, then copied into the socket (or encrypted) while it is still in the core's L2
/// cache: measured on a 256 MiB upload (AMD EPYC, 512 KiB of L2 per core), 64 KiB chunks
/// spent a quarter less CPU over plain HTTP than 256 KiB ones and 7 % less over HTTPS, and
/// 32 KiB ones more than 64 KiB ones again (BENCHMARKS.md, 2026-12-07).
const CHUNK: usize = 64 * 1024;
/// The same for an app's [`ByteSource`](crate::source::ByteSource), whose every read is a call
/// into Kotlin or Swift: fewer, larger reads.
const SOURCE_CHUNK: usize = 256 * 1024;
/// Error and XML responses larger than this are cut (they are a few KiB).
const MAX_SMALL_BODY: usize = 4 * 1024 * 1024;
/// ListParts page size (OSS maximum).
const LIST_PAGE: u32 = 1000;

/// RFC 3986 unreserved characters and `/` stay as they are in the URL path.
const PATH_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');
/// RFC 3986 unreserved characters stay in query names and values.
const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `progress(delta_bytes)`, called as body bytes are handed to the connection.
pub type Progress<'a> = &'a (dyn Fn(u64) + Send + Sync);

/// Which object a request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OssLocation {
    /// OSS endpoint, e.g. `https://oss-cn-shanghai.aliyuncs.com` (scheme optional, https
    /// assumed) or the simulator's `http://127.0.0.1:PORT`.
    pub endpoint: String,
    pub bucket: String,
    /// The raw object key.
    pub key: String,
}

/// How requests are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OssAuth {
    pub credentials: Credentials,
    pub version: SignatureVersion,
    /// OSS region for V4 (`cn-shanghai`); unused by V1.
    pub region: String,
}

/// A part OSS accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    pub part_number: u32,
    /// The `ETag` header exactly as returned (quoted).
    pub etag: String,
    pub size: u64,
    /// CRC-64/XZ of the bytes sent (checked against the server's when it sent one).
    pub crc64: u64,
}

/// The result of CompleteMultipartUpload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedObject {
    pub etag: String,
    /// The server's whole-object CRC-64, when it sent one; the caller compares it with the
    /// combination of its part CRCs.
    pub crc64: Option<u64>,
    pub location: Option<String>,
}

/// A part listed by ListParts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPart {
    pub part_number: u32,
    /// Quoted, as UploadPart returned it.
    pub etag: String,
    pub size: u64,
    pub last_modified: Option<String>,
}

/// The result of PutObject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutObjectResult {
    pub etag: String,
    /// CRC-64/XZ of the bytes sent (checked against the server's when it sent one).
    pub crc64: u64,
}

/// Object metadata from HeadObject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub size: u64,
    pub etag: Option<String>,
    pub crc64: Option<u64>,
    pub content_type: Option<String>,
}

/// An OSS client. Cheap to clone; clones share the connection pool and the clock.
#[derive(Debug, Clone)]
pub struct OssClient {
    http: reqwest::Client,
    config: HttpConfig,
    clock: Clock,
    /// Body chunk buffers, recycled across every part this client (and its clones) sends.
    buffers: BufPool,
}

/// What a request sends.
enum Body<'a> {
    None,
    Bytes(Bytes),
    Source {
        source: &'a Source,
        offset: u64,
        len: u64,
    },
}

/// A successful response, body read (empty for streamed uploads' small bodies too).
struct Reply {
    headers: HeaderMap,
    body: Bytes,
    /// For file bodies: the CRC-64 of everything sent.
    sent_crc: Option<u64>,
}

impl OssClient {
    /// A client over `http` (see [`build_client`](super::http::build_client)) with its own
    /// clock.
    pub fn new(http: reqwest::Client, config: HttpConfig) -> OssClient {
        OssClient {
            http,
            config,
            clock: Clock::new(),
            buffers: BufPool::default(),
        }
    }

    /// Shares `clock` (e.g. with the VOD client) instead of a private one.
    pub fn with_clock(mut self, clock: Clock) -> OssClient {
        self.clock = clock;
        self
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// InitiateMultipartUpload; returns the upload id. `content_type` becomes the object's;
    /// `extra_headers` (e.g. `x-oss-forbid-overwrite`, `x-oss-meta-*`) are sent and signed.
    pub async fn initiate_multipart(
        &self,
        loc: &OssLocation,
        auth: &OssAuth,
        content_type: &str,
        extra_headers: &[(String, String)],
    ) -> Result<String> {
        let mut headers = vec![("content-type".to_owned(), content_type.to_owned())];
        headers.extend(extra_headers.iter().cloned());
        let query = vec![("uploads".to_owned(), None)];
        let reply = self
            .execute(
                Method::POST,
                loc,
                auth,
                query,
                headers,
                Body::Bytes(Bytes::new()),
                None,
            )
            .await?;
        let doc: InitiateMultipartUploadResult = from_xml(&reply.body)?;
        if doc.upload_id.trim().is_empty() {
            return Err(protocol_error(
                "InitiateMultipartUpload returned an empty UploadId",
            ));
        }
        Ok(doc.upload_id)
    }

    /// UploadPart from `file[offset..offset+len]`, streamed in chunks of at most 64 KiB
    /// (256 KiB from an app's source) with an explicit `Content-Length` and
    /// `Content-Type: application/octet-stream`.
    ///
    /// The CRC-64 is computed while streaming and compared with `x-oss-hash-crc64ecma` when
    /// the server sends it ([`Error::Integrity`] on mismatch). A file now shorter than
    /// `offset + len` is [`Error::FileChanged`]. No body progress (and no response) for
    /// `stall_timeout` fails with a `Timeout` transport error. `progress` gets deltas whose
    /// sum never exceeds `len` (even over the internal clock-skew retry); on error, the caller
    /// discards what was reported for this part.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part(
        &self,
        loc: &OssLocation,
        auth: &OssAuth,
        upload_id: &str,
        part_number: u32,
        source: &Source,
        offset: u64,
        len: u64,
        progress: Progress<'_>,
    ) -> Result<UploadedPart> {
        let query = vec![
            ("partNumber".to_owned(), Some(part_number.to_string())),
            ("uploadId".to_owned(), Some(upload_id.to_owned())),
        ];
        let headers = vec![(
            "content-type".to_owned(),
            "application/octet-stream".to_owned(),
        )];
        let body = Body::Source {
            source,
            offset,
            len,
        };
        let reply = self
            .execute(Method::PUT, loc, auth, query, headers, body, Some(progress))
            .await?;
        let etag = header_str(&reply.headers, "etag")
            .ok_or_else(|| protocol_error("UploadPart response without ETag"))?;
        let local = reply.sent_crc.unwrap_or(0);
        check_crc(&reply.headers, local, || {
            format!("part {part_number} of {}", loc.key)
        })?;
        Ok(UploadedPart {
            part_number,
            etag,
            size: len,
            crc64: local,
        })
    }

    /// CompleteMultipartUpload with the given `(part number, ETag)` list (sent in ascending
    /// part order; duplicates are an [`Error::InvalidArgument`]). `extra_headers` (e.g.
    /// `x-oss-notification`) are sent and signed.
    pub async fn complete_multipart(
        &self,
        loc: &OssLocation,
        auth: &OssAuth,
        upload_id: &str,
        parts: &[(u32, String)],
        extra_headers: &[(String, String)],
    ) -> Result<CompletedObject> {
        let mut sorted: Vec<CompletePart> = parts
            .iter()
            .map(|(n, etag)| CompletePart {
                part_number: *n,
                etag: etag.clone(),
            })
            .collect();
        sorted.sort_by_key(|p| p.part_number);
        if sorted
            .windows(2)
            .any(|w| w[0].part_number == w[1].part_number)
        {
            return Err(Error::InvalidArgument(
                "CompleteMultipartUpload: a part number is listed twice".into(),
            ));
        }
        let xml = to_xml(&CompleteMultipartUpload { parts: sorted })?;
        let mut headers = vec![("content-type".to_owned(), "application/xml".to_owned())];
        headers.extend(extra_headers.iter().cloned());
        let query = vec![("uploadId".to_owned(), Some(upload_id.to_owned()))];
        let reply = self
            .execute(
                Method::POST,
                loc,
                auth,
                query,
                headers,
                Body::Bytes(Bytes::from(xml)),
                None,
            )
            .await?;
        let doc: CompleteMultipartUploadResult = from_xml(&reply.body)?;
        let etag = if doc.etag.is_empty() {
            header_str(&reply.headers, "etag").unwrap_or_default()
        } else {
            doc.etag
        };
        Ok(CompletedObject {
            etag,
            crc64: server_crc(&reply.headers),
            location: doc.location.filter(|l| !l.is_empty()),
        })
    }

    /// ListParts, following `IsTruncated` / `NextPartNumberMarker` over all pages.
    pub async fn list_parts(
        &self,
        loc: &OssLocation,
        auth: &OssAuth,
        upload_id: &str,
    ) -> Result<Vec<ListedPart>> {
        let mut parts = Vec::new();
        let mut marker: Option<u32> = None;
        loop {
            let mut query = vec![
                ("uploadId".to_owned(), Some(upload_id.to_owned())),
                ("max-parts".to_owned(), Some(LIST_PAGE.to_string())),
            ];
            if let Some(m) = marker {
                query.push(("part-number-marker".to_owned(), Some(m.to_string())));
            }
            let reply = self
                .execute(Method::GET, loc, auth, query, Vec::new(), Body::None, None)
                .await?;
            let page: ListPartsResult = from_xml(&reply.body)?;
            parts.extend(page.parts.into_iter().map(|p| ListedPart {
                part_number: p.part_number,
                etag: p.etag,
                size: p.size,
                last_modified: p.last_modified,
            }));
            if !page.is_truncated {
                break;
            }
            // A marker that does not advance would loop forever.
            match page.next_part_number_marker {
                Some(next) if marker.is_none_or(|m| next > m) => marker = Some(next),
                _ => {
                    return Err(protocol_error(
                        "ListParts is truncated without an advancing NextPartNumberMarker",
                    ));
                }
            }
        }
        parts.sort_by_key(|p| p.part_number);
        Ok(parts)
    }

    /// ListMultipartUploads for exactly the object at `loc` (a bucket-level call: VOD's
    /// per-object upload credentials are refused it), every page. Ordered as OSS lists them.
    pub async fn list_multipart_uploads(
        &self,
        loc: &OssLocation,
        auth: &OssAuth,
    ) -> Result<Vec<OpenUpload>> {
        let target = Target::bucket(loc, self.config.allow_http)?;
        let mut uploads = Vec::new();
        let (mut key_marker, mut id_marker) = (String::new(), String::new());
        loop {
            let mut query = vec![
                ("uploads".to_owned(), None),
                ("max-uploads".to_owned(), Some(LIST_PAGE.to_string())),
                ("prefix".to_owned(), Some(loc.key.clone())),
            ];
            if !key_marker.is_empty() {
                query.push(("key-marker".to_owned(), Some(key_marker.clone())));
                query.push(("upload-id-marker".to_owned(), Some(id_marker.clone())));
            }
            let reply = self
                .execute_with_limit(
                    Method::GET,
                    &target,
                    auth,
                    query,
                    Vec::new(),
                    Body::None,
                    None,
                    MAX_SMALL_BODY,
                )
                .await?;
            let page: ListMultipartUploadsResult = from_xml(&reply.body)?;
            uploads.extend(
                page.uploads
                    .into_iter()
                    .filter(|u| u.key == loc.key)
                    .map(|u| OpenUpload {
                        initiated: crate::protocol::credentials::parse_utc_time(&u.initiated),
                        upload_id: u.upload_id,
                    }),
            );
            if !page.is_truncated {
                return Ok(uploads);
            }
            // Markers that do not advance would loop forever.
            let next = (page.next_key_marker, page.next_upload_id_marker);
            if next.0.is_empty() || next == (key_marker.clone(), id_marker.clone()) {
                return Err(protocol_error(
                    "ListMultipartUploads is truncated without advancing markers",
                ));
            }
            (key_marker, id_marker) = next;
        }
    }

    /// AbortMultipartUpload.
    pub async fn abort_multipart(
        &self,
        loc: &OssLocation,
        auth: &OssAuth,
        upload_id: &str,
    ) -> Result<()> {
        let query = vec![("uploadId".to_owned(), Some(upload_id.to_owned()))];
        self.execute(
            Method::DELETE,
            loc,
            auth,
            query,
            Vec::new(),
            Body::None,
            None,
        )
        .await?;
        Ok(())
    }

    /// PutObject of a whole (small) file, streamed like [`upload_part`](Self::upload_part),
    /// with `content_type` and `extra_headers` sent and signed.
    pub async fn put_object(
        &self,
        loc: &OssLocation,
        auth: &OssAuth,
        source: &Source,
        content_type: &str,
        extra_headers: &[(String, String)],
        progress: Progress<'_>,
    ) -> Result<PutObjectResult> {
        let len = {
            let source = source.clone();
            tokio::task::spawn_blocking(move || {
                source.reader()?.size().map_err(|e| source.error(e))
            })
            .await
        }
        .map_err(|e| source.error(std::io::Error::other(e)))??;
        let mut headers = vec![("content-type".to_owned(), content_type.to_owned())];
        headers.extend(extra_headers.iter().cloned());
        let body = Body::Source {
            source,
            offset: 0,
            len,
        };
        let reply = self
            .execute(
                Method::PUT,
                loc,
                auth,
                Vec::new(),
                headers,
                body,
                Some(progress),
            )
            .await?;
        let etag = header_str(&reply.headers, "etag")
            .ok_or_else(|| protocol_error("PutObject response without ETag"))?;
        let local = reply.sent_crc.unwrap_or(0);
        check_crc(&reply.headers, local, || loc.key.clone())?;
        Ok(PutObjectResult { etag, crc64: local })
    }

    /// HeadObject.
    pub async fn head_object(&self, loc: &OssLocation, auth: &OssAuth) -> Result<ObjectMeta> {
        let reply = self
            .execute(
                Method::HEAD,
                loc,
                auth,
                Vec::new(),
                Vec::new(),
                Body::None,
                None,
            )
            .await?;
        let size = header_str(&reply.headers, "content-length")
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| protocol_error("HeadObject response without Content-Length"))?;
        Ok(ObjectMeta {
            size,
            etag: header_str(&reply.headers, "etag"),
            crc64: server_crc(&reply.headers),
            content_type: header_str(&reply.headers, "content-type"),
        })
    }

    /// GetObject into memory, optionally a byte range (`first..=last`), for verification and
    /// tests (not used by uploads). The returned CRC is the server's whole-object CRC-64.
    pub async fn get_object(
        &self,
        loc: &OssLocation,
        auth: &OssAuth,
        range: Option<(u64, u64)>,
    ) -> Result<(Bytes, Option<u64>)> {
        let headers = range
            .map(|(a, b)| vec![("range".to_owned(), format!("bytes={a}-{b}"))])
            .unwrap_or_default();
        let target = self.target(loc)?;
        let reply = self
            .execute_with_limit(
                Method::GET,
                &target,
                auth,
                Vec::new(),
                headers,
                Body::None,
                None,
                usize::MAX,
            )
            .await?;
        let crc = server_crc(&reply.headers);
        Ok((reply.body, crc))
    }

    /// Signs and sends one request; on a clock-skew rejection corrects the clock and sends it
    /// once more.
    #[allow(clippy::too_many_arguments)]
    async fn execute(
        &self,
        method: Method,
        loc: &OssLocation,
        auth: &OssAuth,
        query: Vec<(String, Option<String>)>,
        headers: Vec<(String, String)>,
        body: Body<'_>,
        progress: Option<Progress<'_>>,
    ) -> Result<Reply> {
        let target = self.target(loc)?;
        self.execute_with_limit(
            method,
            &target,
            auth,
            query,
            headers,
            body,
            progress,
            MAX_SMALL_BODY,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn execute_with_limit(
        &self,
        method: Method,
        target: &Target,
        auth: &OssAuth,
        query: Vec<(String, Option<String>)>,
        headers: Vec<(String, String)>,
        body: Body<'_>,
        progress: Option<Progress<'_>>,
        body_limit: usize,
    ) -> Result<Reply> {
        if auth.version == SignatureVersion::V4 && auth.region.trim().is_empty() {
            return Err(Error::InvalidArgument(
                "V4 signing needs the OSS region (UploadAuth Region, or an oss-<region> endpoint)"
                    .into(),
            ));
        }
        let mut reported = 0u64;
        let mut retried = false;
        loop {
            let result = self
                .attempt(
                    &method,
                    target,
                    auth,
                    &query,
                    &headers,
                    &body,
                    progress,
                    &mut reported,
                    body_limit,
                )
                .await;
            match result {
                Err(Error::Service(e))
                    if !retried
                        && Error::Service(e.clone()).class(auth.credentials.is_sts())
                            == ErrorClass::ClockSkew
                        && e.server_date.is_some() =>
                {
                    if let Some(date) = e.server_date {
                        self.clock.correct(date);
                    }
                    retried = true;
                    tracing::debug!(
                        code = %e.code,
                        offset_ms = self.clock.offset_ms(),
                        "OSS rejected the request time; clock corrected, sending again"
                    );
                }
                other => return other,
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        method: &Method,
        target: &Target,
        auth: &OssAuth,
        query: &[(String, Option<String>)],
        headers: &[(String, String)],
        body: &Body<'_>,
        progress: Option<Progress<'_>>,
        reported: &mut u64,
        body_limit: usize,
    ) -> Result<Reply> {
        let mut req = OssRequest {
            method: method.as_str().to_owned(),
            bucket: Some(target.bucket.clone()),
            // An empty key is a bucket-level call (signed as `/bucket/`).
            key: (!target.key.is_empty()).then(|| target.key.clone()),
            query: query.to_vec(),
            headers: Default::default(),
        };
        for (name, value) in headers {
            req.set_header(name, value.clone());
        }
        sign_request(
            &mut req,
            &auth.credentials,
            auth.version,
            &auth.region,
            self.clock.now(),
        );

        let url = target.url(query)?;
        let mut header_map = HeaderMap::with_capacity(req.headers.len() + 1);
        for (name, value) in &req.headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::InvalidArgument(format!("invalid header name {name:?}")))?;
            // from_bytes: UTF-8 metadata values are legal obs-text; controls are refused.
            let v = HeaderValue::from_bytes(value.as_bytes())
                .map_err(|_| Error::InvalidArgument(format!("invalid value for header {name}")))?;
            header_map.insert(n, v);
        }
        let builder = self.http.request(method.clone(), url.clone());

        let (response, sent_crc) = match body {
            Body::None => {
                let r = builder
                    .headers(header_map)
                    .timeout(self.config.request_timeout)
                    .send()
                    .await
                    .map_err(|e| map_reqwest_error(e, &url))?;
                (r, None)
            }
            Body::Bytes(bytes) => {
                header_map.insert(
                    reqwest::header::CONTENT_LENGTH,
                    HeaderValue::from(bytes.len()),
                );
                let r = builder
                    .headers(header_map)
                    .body(bytes.clone())
                    .timeout(self.config.request_timeout)
                    .send()
                    .await
                    .map_err(|e| map_reqwest_error(e, &url))?;
                (r, None)
            }
            Body::Source {
                source,
                offset,
                len,
            } => {
                let (r, crc) = self
                    .send_file(
                        builder, header_map, &url, source, *offset, *len, progress, reported,
                    )
                    .await?;
                (r, Some(crc))
            }
        };

        let status = response.status();
        let response_headers = response.headers().clone();
        // Streamed uploads have no overall timeout: bound the (small) response body by the
        // stall timeout instead.
        let limit = if status.is_success() {
            body_limit
        } else {
            MAX_SMALL_BODY
        };
        let body_bytes = match body {
            Body::Source { .. } => {
                tokio::time::timeout(self.config.stall_timeout, read_body(response, limit, &url))
                    .await
                    .map_err(|_| stall_error(&self.config, &url))??
            }
            _ => read_body(response, limit, &url).await?,
        };
        if !status.is_success() {
            let h = |n: &str| header_str(&response_headers, n);
            let err = parse_oss_error(
                status.as_u16(),
                h("x-oss-request-id").as_deref(),
                h("date").as_deref(),
                h("x-oss-err").as_deref(),
                &body_bytes,
            );
            return Err(err.into());
        }
        Ok(Reply {
            headers: response_headers,
            body: body_bytes,
            sent_crc,
        })
    }

    /// Sends a file range as a streamed body, reporting progress and watching for stalls.
    /// Returns the response and the CRC-64 of the bytes sent.
    #[allow(clippy::too_many_arguments)]
    async fn send_file(
        &self,
        builder: reqwest::RequestBuilder,
        mut headers: HeaderMap,
        url: &Url,
        source: &Source,
        offset: u64,
        len: u64,
        progress: Option<Progress<'_>>,
        reported: &mut u64,
    ) -> Result<(reqwest::Response, u64)> {
        let opened = {
            let source = source.clone();
            tokio::task::spawn_blocking(move || -> Result<(Reader, u64)> {
                let reader = source.reader()?;
                let size = reader.size().map_err(|e| source.error(e))?;
                Ok((reader, size))
            })
            .await
        };
        let (reader, size) = opened.map_err(|e| source.error(std::io::Error::other(e)))??;
        if size < offset.saturating_add(len) {
            return Err(Error::FileChanged(source.name().to_owned()));
        }

        let shared = Arc::new(BodyState::default());
        let reader = ChunkReader::new(reader, offset, self.buffers.clone());
        let stream = file_stream(reader, len, shared.clone());
        headers.insert(reqwest::header::CONTENT_LENGTH, HeaderValue::from(len));
        let send = builder
            .headers(headers)
            .body(reqwest::Body::wrap_stream(stream))
            .send();
        tokio::pin!(send);

        let stall = self.config.stall_timeout;
        let mut deadline = tokio::time::Instant::now() + stall;
        let report = |reported: &mut u64| {
            let sent = shared.sent.load(Ordering::Acquire);
            if sent > *reported {
                if let Some(p) = progress {
                    p(sent - *reported);
                }
                *reported = sent;
            }
        };
        let result = loop {
            let notified = shared.notify.notified();
            tokio::select! {
                biased;
                r = &mut send => break r,
                _ = notified => {
                    report(reported);
                    deadline = tokio::time::Instant::now() + stall;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(stall_error(&self.config, url));
                }
            }
        };
        report(reported);
        // A failure of our own body stream explains the request failure best.
        if let Some(e) = shared.take_failure() {
            return Err(e);
        }
        let response = result.map_err(|e| map_reqwest_error(e, url))?;
        if response.status().is_success() && !shared.done.load(Ordering::Acquire) {
            // The server cannot have accepted fewer bytes than Content-Length.
            let sent = shared.sent.load(Ordering::Acquire);
            if sent != len {
                return Err(protocol_error(&format!(
                    "server accepted the body after {sent} of {len} bytes"
                )));
            }
        }
        Ok((response, shared.crc.load(Ordering::Acquire)))
    }

    fn target(&self, loc: &OssLocation) -> Result<Target> {
        Target::new(loc, self.config.allow_http)
    }
}

/// An open multipart upload of an object (ListMultipartUploads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenUpload {
    pub upload_id: String,
    /// When OSS says it was initiated (`None` if its date cannot be read).
    pub initiated: Option<SystemTime>,
}

/// Resolved addressing for one object (or, with an empty key, its bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    /// `scheme://host[:port]/` + (`bucket/` in path style) + encoded key, without query.
    base: String,
    bucket: String,
    key: String,
}

impl Target {
    /// Virtual-hosted style (`bucket.host/key`), or path style (`host/bucket/key`) when the
    /// endpoint host is an IP literal or `localhost`, as oss2 does.
    fn new(loc: &OssLocation, allow_http: bool) -> Result<Target> {
        if loc.key.is_empty() {
            return Err(Error::InvalidArgument(
                "OSS bucket and object key must not be empty".into(),
            ));
        }
        Target::addressed(loc, allow_http)
    }

    /// The bucket of `loc`, for bucket-level calls (its key is not part of the path).
    fn bucket(loc: &OssLocation, allow_http: bool) -> Result<Target> {
        Target::addressed(
            &OssLocation {
                key: String::new(),
                ..loc.clone()
            },
            allow_http,
        )
    }

    fn addressed(loc: &OssLocation, allow_http: bool) -> Result<Target> {
        if loc.bucket.is_empty() {
            return Err(Error::InvalidArgument(
                "OSS bucket and object key must not be empty".into(),
            ));
        }
        if loc.key.starts_with('/') || loc.key.starts_with('\\') {
            return Err(Error::InvalidArgument(format!(
                "object key must not start with '/' or '\\': {}",
                loc.key
            )));
        }
        let endpoint = validate_endpoint(&loc.endpoint, allow_http)?;
        let host_str = endpoint.host_str().unwrap_or_default();
        // IPv6 literals come bracketed from host_str().
        let path_style = host_str.starts_with('[')
            || host_str.parse::<std::net::IpAddr>().is_ok()
            || host_str.eq_ignore_ascii_case("localhost");
        let port = endpoint.port().map(|p| format!(":{p}")).unwrap_or_default();
        let key = utf8_percent_encode(&loc.key, PATH_SET);
        let base = if path_style {
            format!(
                "{}://{host_str}{port}/{}/{key}",
                endpoint.scheme(),
                loc.bucket
            )
        } else {
            format!(
                "{}://{}.{host_str}{port}/{key}",
                endpoint.scheme(),
                loc.bucket
            )
        };
        Ok(Target {
            base,
            bucket: loc.bucket.clone(),
            key: loc.key.clone(),
        })
    }

    fn url(&self, query: &[(String, Option<String>)]) -> Result<Url> {
        let mut s = self.base.clone();
        for (i, (name, value)) in query.iter().enumerate() {
            s.push(if i == 0 { '?' } else { '&' });
            s.extend(utf8_percent_encode(name, QUERY_SET));
            if let Some(v) = value {
                s.push('=');
                s.extend(utf8_percent_encode(v, QUERY_SET));
            }
        }
        Url::parse(&s).map_err(|e| Error::InvalidArgument(format!("cannot build OSS URL: {e}")))
    }
}

/// Shared between the body stream (inside reqwest) and the request future.
#[derive(Default)]
struct BodyState {
    /// Bytes handed to the connection so far.
    sent: AtomicU64,
    /// CRC-64 of those bytes.
    crc: AtomicU64,
    /// The stream reached the end of the range.
    done: AtomicBool,
    /// Wakes the request future on every chunk.
    notify: Notify,
    failure: Mutex<Option<Error>>,
}

impl BodyState {
    fn fail(&self, e: Error) {
        if let Ok(mut slot) = self.failure.lock() {
            slot.get_or_insert(e);
        }
    }

    fn take_failure(&self) -> Option<Error> {
        self.failure.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Chunk buffers, given back when the connection drops a chunk it has written, and shared by
/// every body of one client: a part is often a single chunk, so a per-body pool would not help.
#[derive(Clone, Default)]
struct BufPool(Arc<Mutex<Vec<Vec<u8>>>>);

/// Free buffers a pool keeps: more than the chunks in flight with 32 parts in parallel is
/// never needed; the rest is freed.
const POOLED_BUFFERS: usize = 16;

impl BufPool {
    /// A buffer of at least `len` bytes (contents unspecified).
    fn take(&self, len: usize) -> Vec<u8> {
        let recycled = self.0.lock().ok().and_then(|mut pool| pool.pop());
        match recycled {
            Some(buf) if buf.len() >= len => buf,
            // The only time a buffer is zeroed.
            _ => vec![0; len.max(CHUNK)],
        }
    }

    fn give(&self, buf: Vec<u8>) {
        if let Ok(mut pool) = self.0.lock()
            && pool.len() < POOLED_BUFFERS
        {
            pool.push(buf);
        }
    }
}

impl std::fmt::Debug for BufPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let free = self.0.lock().map(|p| p.len()).unwrap_or_default();
        write!(f, "BufPool({free} free)")
    }
}

/// A chunk handed to the connection; its buffer goes back to the pool when dropped.
struct PooledChunk {
    buf: Vec<u8>,
    len: usize,
    pool: BufPool,
}

impl AsRef<[u8]> for PooledChunk {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for PooledChunk {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.buf));
    }
}

/// Reads a source's range sequentially into recycled chunk buffers, checksumming what it reads.
///
/// The buffers come from the client's [`BufPool`] and go back to it as the connection releases
/// chunks: a fresh allocation per chunk came from `mmap` each time, and its page faults, the
/// kernel's page clearing and the zeroing cost about as much CPU as reading the file.
struct ChunkReader {
    reader: Reader,
    /// Where the next chunk starts.
    pos: u64,
    /// The buffer the next [`fill`](ChunkReader::fill) reads into, and how much of it to use.
    buf: Vec<u8>,
    want: usize,
    pool: BufPool,
    crc: Crc64,
}

impl ChunkReader {
    fn new(reader: Reader, offset: u64, pool: BufPool) -> ChunkReader {
        ChunkReader {
            reader,
            pos: offset,
            buf: Vec::new(),
            want: 0,
            pool,
            crc: Crc64::new(),
        }
    }

    /// Picks the buffer for the next `want` bytes. Called on the async side: allocating on the
    /// blocking threads would spread chunks over their per-thread malloc arenas (+3–5 MiB RSS).
    fn prepare(&mut self, want: usize) {
        let old = std::mem::replace(&mut self.buf, self.pool.take(want));
        if !old.is_empty() {
            self.pool.give(old);
        }
        self.want = want;
    }

    /// Fills the prepared buffer; `UnexpectedEof` if the file ends first (it shrank).
    fn fill(&mut self) -> std::io::Result<Bytes> {
        let mut buf = std::mem::take(&mut self.buf);
        let read = self.reader.read_exact_at(&mut buf[..self.want], self.pos);
        if let Err(e) = read {
            self.buf = buf;
            return Err(e);
        }
        self.pos += self.want as u64;
        self.crc.update(&buf[..self.want]);
        Ok(Bytes::from_owner(PooledChunk {
            buf,
            len: self.want,
            pool: self.pool.clone(),
        }))
    }
}

/// The source's range as a stream of chunks of at most [`CHUNK`] bytes ([`SOURCE_CHUNK`] for
/// an app's source).
///
/// Each chunk is read straight into a recycled buffer (no intermediate copy) and fed to the
/// CRC inside `block_in_place` (on a multi-thread runtime; on the blocking pool otherwise), so
/// neither file I/O nor checksumming holds up other tasks on the async workers.
fn file_stream(
    reader: ChunkReader,
    len: u64,
    shared: Arc<BodyState>,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let path = reader.reader.name().to_owned();
    let chunk = if reader.reader.is_file() {
        CHUNK
    } else {
        SOURCE_CHUNK
    };
    struct State {
        reader: Option<ChunkReader>,
        remaining: u64,
    }
    let init = State {
        reader: Some(reader),
        remaining: len,
    };
    futures_util::stream::try_unfold(init, move |mut st| {
        let shared = shared.clone();
        let path = path.clone();
        async move {
            if st.remaining == 0 {
                shared.done.store(true, Ordering::Release);
                return Ok(None);
            }
            let want = usize::try_from(st.remaining.min(chunk as u64)).unwrap_or(chunk);
            let Some(mut reader) = st.reader.take() else {
                return Err(std::io::Error::other("body stream polled after a failure"));
            };
            reader.prepare(want);
            // Where the connection polls its body (the runtime the connection was made on).
            let multi_thread = tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
            let joined = if multi_thread {
                // The read, the CRC and then the socket write all run on this core, with the
                // chunk hot in its cache; the worker's other tasks move to another thread
                // meanwhile, so a slow read stalls nothing else. A third less CPU per GiB than
                // a hop to the blocking pool and back for every chunk.
                let chunk = tokio::task::block_in_place(|| reader.fill());
                Ok((reader, chunk))
            } else {
                // block_in_place is refused on a current-thread runtime.
                tokio::task::spawn_blocking(move || {
                    let chunk = reader.fill();
                    (reader, chunk)
                })
                .await
            };
            let (reader, chunk) = match joined {
                Ok((reader, chunk)) => (reader, chunk),
                // The blocking pool is shutting down (or the read panicked).
                Err(e) => return Err(std::io::Error::other(e)),
            };
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    shared.fail(Error::FileChanged(path.clone()));
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "file shorter than expected",
                    ));
                }
                Err(e) => {
                    let kind = e.kind();
                    shared.fail(Error::File {
                        path: path.clone(),
                        source: e,
                    });
                    return Err(std::io::Error::new(kind, "cannot read the file"));
                }
            };
            st.remaining -= chunk.len() as u64;
            shared.crc.store(reader.crc.finish(), Ordering::Release);
            st.reader = Some(reader);
            shared.sent.fetch_add(chunk.len() as u64, Ordering::AcqRel);
            shared.notify.notify_one();
            Ok(Some((chunk, st)))
        }
    })
}

async fn read_body(mut response: reqwest::Response, limit: usize, url: &Url) -> Result<Bytes> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| map_reqwest_error(e, url))?
    {
        if buf.len() + chunk.len() > limit {
            return Err(protocol_error(&format!(
                "response body larger than {limit} bytes ({})",
                redact_url(url)
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn server_crc(headers: &HeaderMap) -> Option<u64> {
    header_str(headers, "x-oss-hash-crc64ecma").and_then(|v| crc64::parse_header(&v))
}

/// Compares our CRC with the server's when it sent one.
fn check_crc(headers: &HeaderMap, local: u64, what: impl FnOnce() -> String) -> Result<()> {
    match server_crc(headers) {
        Some(server) if server != local => Err(Error::Integrity {
            what: what(),
            local,
            server,
        }),
        _ => Ok(()),
    }
}

fn protocol_error(message: &str) -> Error {
    Error::Protocol {
        service: Service::Oss,
        message: message.to_owned(),
    }
}

fn stall_error(config: &HttpConfig, url: &Url) -> Error {
    Error::Transport {
        kind: crate::error::TransportKind::Timeout,
        message: format!(
            "no upload progress for {:?} ({})",
            config.stall_timeout,
            redact_url(url)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(endpoint: &str, key: &str) -> OssLocation {
        OssLocation {
            endpoint: endpoint.into(),
            bucket: "outin-test".into(),
            key: key.into(),
        }
    }

    #[test]
    fn virtual_hosted_addressing() {
        let t = Target::new(
            &loc(
                "https://oss-cn-shanghai.aliyuncs.com",
                "sv/abc/a b+c~测.mp4",
            ),
            false,
        )
        .unwrap();
        assert_eq!(
            t.base,
            "https://outin-test.oss-cn-shanghai.aliyuncs.com/sv/abc/a%20b%2Bc~%E6%B5%8B.mp4"
        );
        // The raw key is what gets signed.
        assert_eq!(t.key, "sv/abc/a b+c~测.mp4");
        let t = Target::new(&loc("oss-cn-shanghai.aliyuncs.com/", "k"), false).unwrap();
        assert_eq!(t.base, "https://outin-test.oss-cn-shanghai.aliyuncs.com/k");
        let t = Target::new(&loc("https://oss.example.com:8443", "k"), false).unwrap();
        assert_eq!(t.base, "https://outin-test.oss.example.com:8443/k");
    }

    #[test]
    fn path_style_for_ip_and_localhost() {
        let t = Target::new(&loc("http://127.0.0.1:9000", "sv/x.mp4"), true).unwrap();
        assert_eq!(t.base, "http://127.0.0.1:9000/outin-test/sv/x.mp4");
        let t = Target::new(&loc("http://localhost:9000/", "x"), true).unwrap();
        assert_eq!(t.base, "http://localhost:9000/outin-test/x");
        let t = Target::new(&loc("http://[::1]:9000", "x"), true).unwrap();
        assert_eq!(t.base, "http://[::1]:9000/outin-test/x");
    }

    #[test]
    fn addressing_refuses_bad_input() {
        assert!(Target::new(&loc("http://127.0.0.1:9000", "x"), false).is_err());
        assert!(Target::new(&loc("https://h", "/x"), false).is_err());
        assert!(Target::new(&loc("https://h", ""), false).is_err());
    }

    #[test]
    fn query_building() {
        let t = Target::new(&loc("https://oss-cn-shanghai.aliyuncs.com", "k"), false).unwrap();
        let url = t
            .url(&[
                ("partNumber".into(), Some("3".into())),
                (
                    "uploadId".into(),
                    Some("0004B9894A22E5B1888A1E29F823****".into()),
                ),
            ])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://outin-test.oss-cn-shanghai.aliyuncs.com/k?partNumber=3&uploadId=0004B9894A22E5B1888A1E29F823%2A%2A%2A%2A"
        );
        let url = t.url(&[("uploads".into(), None)]).unwrap();
        assert_eq!(url.query(), Some("uploads"));
    }

    #[test]
    fn crc_check() {
        let mut h = HeaderMap::new();
        assert!(check_crc(&h, 5, || "x".into()).is_ok());
        h.insert("x-oss-hash-crc64ecma", HeaderValue::from_static("5"));
        assert!(check_crc(&h, 5, || "x".into()).is_ok());
        let e = check_crc(&h, 6, || "part 1 of k".into()).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Integrity {
                    local: 6,
                    server: 5,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.class(true), ErrorClass::Retryable);
    }

    /// Streams a range of a file twice with one pool: the bytes and CRC are the range's, and
    /// the second stream reads into the buffers the first one's chunks gave back.
    async fn stream_a_range_twice() {
        use futures_util::StreamExt;
        let data: Vec<u8> = (0..(CHUNK * 2 + 1000) as u32)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, &data).unwrap();
        let pool = BufPool::default();
        let mut first_buffers = Vec::new();
        for round in 0..2 {
            let reader = Source::path(file.path()).reader().unwrap();
            let len = (CHUNK * 2) as u64;
            let shared = Arc::new(BodyState::default());
            let chunks: Vec<Bytes> = file_stream(
                ChunkReader::new(reader, 500, pool.clone()),
                len,
                shared.clone(),
            )
            .map(|c| c.unwrap())
            .collect()
            .await;
            assert_eq!(chunks.len(), 2);
            let mut buffers: Vec<usize> = chunks.iter().map(|c| c.as_ptr() as usize).collect();
            buffers.sort_unstable();
            let sent: Vec<u8> = chunks.concat();
            assert_eq!(sent, &data[500..500 + CHUNK * 2]);
            assert_eq!(shared.sent.load(Ordering::Acquire), len);
            assert_eq!(shared.crc.load(Ordering::Acquire), crc64::crc64(&sent));
            assert!(shared.done.load(Ordering::Acquire));
            drop(chunks);
            // Both buffers are back in the pool, and the second round used them again.
            assert_eq!(pool.0.lock().unwrap().len(), 2);
            if round == 0 {
                first_buffers = buffers;
            } else {
                assert_eq!(buffers, first_buffers);
            }
        }
    }

    #[tokio::test]
    async fn file_stream_reads_the_range_in_chunks_with_its_crc() {
        // On the blocking pool (block_in_place is refused here).
        stream_a_range_twice().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn file_stream_reads_in_place_on_a_multi_thread_runtime() {
        stream_a_range_twice().await;
    }

    #[tokio::test]
    async fn an_apps_source_is_read_in_fewer_larger_chunks_than_a_file() {
        use futures_util::StreamExt;
        struct Counting(Vec<u8>, std::sync::atomic::AtomicUsize);
        impl crate::source::ByteSource for Counting {
            fn size(&self) -> std::io::Result<u64> {
                Ok(self.0.len() as u64)
            }
            fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
                self.1.fetch_add(1, Ordering::SeqCst);
                let at = offset as usize;
                let n = buf.len().min(self.0.len() - at);
                buf[..n].copy_from_slice(&self.0[at..at + n]);
                Ok(n)
            }
            fn version(&self) -> std::io::Result<Option<String>> {
                Ok(None)
            }
        }
        let data: Vec<u8> = (0..SOURCE_CHUNK * 2).map(|i| (i % 253) as u8).collect();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, &data).unwrap();
        let counting = Arc::new(Counting(data.clone(), Default::default()));
        let sources = [
            (Source::path(file.path()), CHUNK),
            (
                Source::custom("content://x/1", counting.clone()),
                SOURCE_CHUNK,
            ),
        ];
        for (source, chunk) in sources {
            let shared = Arc::new(BodyState::default());
            let reader = ChunkReader::new(source.reader().unwrap(), 0, BufPool::default());
            let chunks: Vec<Bytes> = file_stream(reader, data.len() as u64, shared.clone())
                .map(|c| c.unwrap())
                .collect()
                .await;
            assert!(chunks.iter().all(|c| c.len() == chunk), "{source:?}");
            assert_eq!(chunks.concat(), data);
            assert_eq!(shared.crc.load(Ordering::Acquire), crc64::crc64(&data));
        }
        assert_eq!(counting.1.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn file_truncated_while_streaming_is_file_changed() {
        use futures_util::StreamExt;
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, &vec![7u8; CHUNK + 10]).unwrap();
        let reader = Source::path(file.path()).reader().unwrap();
        let shared = Arc::new(BodyState::default());
        let stream = file_stream(
            ChunkReader::new(reader, 0, BufPool::default()),
            (CHUNK * 2) as u64,
            shared.clone(),
        );
        futures_util::pin_mut!(stream);
        assert_eq!(stream.next().await.unwrap().unwrap().len(), CHUNK);
        // The app rewrites the file between two chunks.
        file.as_file().set_len(CHUNK as u64 + 5).unwrap();
        let e = stream.next().await.unwrap().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(matches!(shared.take_failure(), Some(Error::FileChanged(_))));
        assert_eq!(shared.sent.load(Ordering::Acquire), CHUNK as u64);
    }
}
