//! Transport tests against a minimal in-test HTTP/1.1 server that verifies signatures with the
//! protocol module. (The full simulator, `vod-sim`, is exercised by `tests/protocol_sim.rs`.)

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use percent_encoding::percent_decode_str;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::*;
use crate::error::{CertificateProblem, Error, ErrorClass, Service, TransportKind};
use crate::model::VodInfo;
use crate::protocol::SignatureVersion;
use crate::protocol::crc64::crc64;
use crate::protocol::credentials::{Credentials, UploadAddress, UploadAuth};
use crate::protocol::sign::{
    OssRequest, ParsedAuthorization, parse_authorization, v1_signature, v1_string_to_sign,
    v4_canonical_request, v4_signature, v4_string_to_sign,
};
use crate::source::Source;

const AK: &str = "STS.testkey";
const SK: &str = "test-secret";
const TOKEN: &str = "CAIS_token";

/// A request as the test server saw it.
#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    query: Vec<(String, Option<String>)>,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Verifies the OSS signature (path-style URL `/bucket/key`), V1 or V4.
    fn verify_oss(&self, secret: &str) -> Result<(), String> {
        let path = self.path.trim_start_matches('/');
        let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
        let sreq = OssRequest {
            method: self.method.clone(),
            bucket: Some(bucket.to_owned()),
            key: Some(key.to_owned()),
            query: self.query.clone(),
            headers: self.headers.clone(),
        };
        let auth = self.header("authorization").ok_or("no authorization")?;
        match parse_authorization(auth).ok_or("bad authorization")? {
            ParsedAuthorization::V1 {
                access_key_id,
                signature,
            } => {
                let expected = v1_signature(secret, &v1_string_to_sign(&sreq));
                (access_key_id == AK && signature == expected)
                    .then_some(())
                    .ok_or_else(|| format!("V1 mismatch: {}", v1_string_to_sign(&sreq)))
            }
            ParsedAuthorization::V4 {
                access_key_id,
                date,
                region,
                additional_headers,
                signature,
            } => {
                let x_oss_date = self.header("x-oss-date").ok_or("no x-oss-date")?;
                let cr = v4_canonical_request(&sreq, &additional_headers);
                let sts = v4_string_to_sign(x_oss_date, &region, &cr);
                let expected = v4_signature(secret, &date, &region, &sts);
                (access_key_id == AK && signature == expected && region == "cn-test")
                    .then_some(())
                    .ok_or_else(|| format!("V4 mismatch: {cr}"))
            }
        }
    }
}

/// What the server does with a request.
enum Reply {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Read the request, never answer (stall).
    Hang,
    /// Write these bytes as the response, then close the connection or keep serving it.
    Raw { bytes: Vec<u8>, close: bool },
}

fn ok(headers: &[(&str, &str)], body: &[u8]) -> Reply {
    Reply::Respond {
        status: 200,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec(),
    }
}

fn oss_error(status: u16, code: &str, date: Option<&str>) -> Reply {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>m</Message>\
         <RequestId>RID-{code}</RequestId><HostId>h</HostId></Error>"
    );
    let mut headers = vec![("content-type".to_string(), "application/xml".to_string())];
    if let Some(d) = date {
        headers.push(("date".into(), d.into()));
    }
    Reply::Respond {
        status,
        headers,
        body: body.into_bytes(),
    }
}

type Handler = Arc<dyn Fn(&Req) -> Reply + Send + Sync>;

struct TestServer {
    endpoint: String,
    requests: Arc<Mutex<Vec<Req>>>,
    /// Connections accepted, and connections closed.
    accepted: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
}

impl TestServer {
    async fn start(handler: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> TestServer {
        TestServer::start_with(None, handler).await
    }

    /// An `https://127.0.0.1:PORT` server with `tls`'s certificate.
    async fn start_tls(
        tls: rustls::ServerConfig,
        handler: impl Fn(&Req) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        TestServer::start_with(Some(acceptor), handler).await
    }

    async fn start_with(
        tls: Option<tokio_rustls::TlsAcceptor>,
        handler: impl Fn(&Req) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let endpoint = format!("{scheme}://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let handler: Handler = Arc::new(handler);
        let (reqs, cl, acc) = (requests.clone(), closed.clone(), accepted.clone());
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                acc.fetch_add(1, Ordering::SeqCst);
                let (handler, reqs, cl) = (handler.clone(), reqs.clone(), cl.clone());
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => serve(sock, handler, reqs).await,
                        // A failed handshake (the client refused our certificate) just closes.
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(sock).await {
                                serve(stream, handler, reqs).await;
                            }
                        }
                    }
                    cl.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        TestServer {
            endpoint,
            requests,
            accepted,
            closed,
        }
    }

    fn requests(&self) -> Vec<Req> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(
    sock: impl tokio::io::AsyncRead + tokio::io::AsyncWrite,
    handler: Handler,
    reqs: Arc<Mutex<Vec<Req>>>,
) {
    let (rd, mut wr) = tokio::io::split(sock);
    let mut rd = BufReader::new(rd);
    loop {
        let mut line = String::new();
        if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if rd.read_line(&mut h).await.unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if rd.read_exact(&mut body).await.is_err() {
            return;
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let query = query
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (decode(k), Some(decode(v))),
                None => (decode(kv), None),
            })
            .collect();
        let req = Req {
            method,
            path: decode(path),
            query,
            headers,
            body,
        };
        let reply = handler(&req);
        reqs.lock().unwrap().push(req.clone());
        match reply {
            Reply::Raw { bytes, close } => {
                if wr.write_all(&bytes).await.is_err() || close {
                    return;
                }
            }
            Reply::Hang => {
                // Keep the socket open until the client goes away.
                let mut sink = [0u8; 1024];
                while rd.read(&mut sink).await.unwrap_or(0) > 0 {}
                return;
            }
            Reply::Respond {
                status,
                headers,
                body,
            } => {
                let mut out = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
                for (k, v) in headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                let mut bytes = out.into_bytes();
                if req.method != "HEAD" {
                    bytes.extend_from_slice(&body);
                }
                if wr.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn http_config() -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        stall_timeout: Duration::from_secs(10),
        allow_http: true,
        extra_root_certificates: Vec::new(),
    }
}

fn client(config: HttpConfig) -> OssClient {
    OssClient::new(build_client(&config).unwrap(), config)
}

fn auth(version: SignatureVersion) -> OssAuth {
    OssAuth {
        credentials: Credentials::sts(AK, SK, TOKEN, None),
        version,
        region: "cn-test".into(),
    }
}

fn location(server: &TestServer, key: &str) -> OssLocation {
    OssLocation {
        endpoint: server.endpoint.clone(),
        bucket: "bkt".into(),
        key: key.into(),
    }
}

fn temp_file(data: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(data).unwrap();
    f.flush().unwrap();
    f
}

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// An OSS-like handler for UploadPart/PutObject: verifies the signature, echoes CRC and ETag.
fn upload_handler(req: &Req) -> Reply {
    if let Err(e) = req.verify_oss(SK) {
        return Reply::Respond {
            status: 403,
            headers: vec![],
            body: e.into_bytes(),
        };
    }
    let crc = crc64(&req.body).to_string();
    ok(
        &[("etag", "\"ETAG-1\""), ("x-oss-hash-crc64ecma", &crc)],
        b"",
    )
}

#[tokio::test]
async fn upload_part_streams_the_range_and_checks_crc() {
    for version in [SignatureVersion::V1, SignatureVersion::V4] {
        let server = TestServer::start(upload_handler).await;
        let content = data(1_000_000);
        let file = temp_file(&content);
        let progress = AtomicU64::new(0);
        let calls = AtomicU64::new(0);
        let report = |d: u64| {
            progress.fetch_add(d, Ordering::SeqCst);
            calls.fetch_add(1, Ordering::SeqCst);
        };
        let part = client(http_config())
            .upload_part(
                &location(&server, "sv/a b+测.mp4"),
                &auth(version),
                "UPLOAD*1",
                2,
                &Source::path(file.path()),
                100_000,
                600_000,
                &report,
            )
            .await
            .unwrap();
        let range = &content[100_000..700_000];
        assert_eq!(part.part_number, 2);
        assert_eq!(part.etag, "\"ETAG-1\"");
        assert_eq!(part.size, 600_000);
        assert_eq!(part.crc64, crc64(range));
        assert_eq!(progress.load(Ordering::SeqCst), 600_000);
        // Deltas are coalesced when the connection outpaces the caller: at least one call.
        assert!(calls.load(Ordering::SeqCst) >= 1);
        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        let r = &reqs[0];
        assert_eq!(r.method, "PUT");
        assert_eq!(r.path, "/bkt/sv/a b+测.mp4");
        assert_eq!(r.query("partNumber"), Some("2"));
        assert_eq!(r.query("uploadId"), Some("UPLOAD*1"));
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
        assert_eq!(r.header("content-length"), Some("600000"));
        assert_eq!(r.header("transfer-encoding"), None);
        assert_eq!(r.header("x-oss-security-token"), Some(TOKEN));
        assert!(r.body == range, "body differs");
    }
}

#[tokio::test]
async fn crc_mismatch_is_an_integrity_error() {
    let server = TestServer::start(|_: &Req| {
        ok(&[("etag", "\"E\""), ("x-oss-hash-crc64ecma", "12345")], b"")
    })
    .await;
    let file = temp_file(&data(1000));
    let e = client(http_config())
        .upload_part(
            &location(&server, "k"),
            &auth(SignatureVersion::V1),
            "U",
            1,
            &Source::path(file.path()),
            0,
            1000,
            &|_| {},
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Integrity { server: 12345, .. }), "{e:?}");
}

#[tokio::test]
async fn short_file_is_file_changed() {
    let server = TestServer::start(upload_handler).await;
    let file = temp_file(&data(1000));
    let e = client(http_config())
        .upload_part(
            &location(&server, "k"),
            &auth(SignatureVersion::V1),
            "U",
            1,
            &Source::path(file.path()),
            500,
            600,
            &|_| {},
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::FileChanged(_)), "{e:?}");
    assert!(server.requests().is_empty());
    let e = client(http_config())
        .upload_part(
            &location(&server, "k"),
            &auth(SignatureVersion::V1),
            "U",
            1,
            &Source::path("/nonexistent/file.mp4"),
            0,
            1,
            &|_| {},
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "FileNotExist");
}

#[tokio::test]
async fn clock_skew_corrects_and_retries_once() {
    let server_time = SystemTime::now() + Duration::from_secs(3600);
    let server_date = httpdate::fmt_http_date(server_time);
    let count = Arc::new(AtomicUsize::new(0));
    let (c, d) = (count.clone(), server_date.clone());
    let server = TestServer::start(move |req: &Req| {
        let n = c.fetch_add(1, Ordering::SeqCst);
        let date = req
            .header("date")
            .and_then(|v| httpdate::parse_http_date(v).ok());
        let skewed = date.is_none_or(|t| {
            t.duration_since(server_time)
                .unwrap_or_else(|e| e.duration())
                > Duration::from_secs(900)
        });
        if skewed {
            return oss_error(403, "RequestTimeTooSkewed", Some(&d));
        }
        assert_eq!(n, 1);
        upload_handler(req)
    })
    .await;
    let file = temp_file(&data(5000));
    let progress = AtomicU64::new(0);
    let oss = client(http_config());
    let part = oss
        .upload_part(
            &location(&server, "k"),
            &auth(SignatureVersion::V1),
            "U",
            1,
            &Source::path(file.path()),
            0,
            5000,
            &|d| {
                progress.fetch_add(d, Ordering::SeqCst);
            },
        )
        .await
        .unwrap();
    assert_eq!(part.size, 5000);
    assert_eq!(count.load(Ordering::SeqCst), 2);
    assert!(oss.clock().offset_ms() > 3_500_000);
    // Progress over both attempts never exceeds the part.
    assert!(progress.load(Ordering::SeqCst) <= 5000);

    // A server that keeps answering skew is reported after one retry.
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let server = TestServer::start(move |_: &Req| {
        c.fetch_add(1, Ordering::SeqCst);
        oss_error(
            403,
            "RequestTimeTooSkewed",
            Some("Mon, 02 Jun 2025 08:00:00 GMT"),
        )
    })
    .await;
    let e = client(http_config())
        .abort_multipart(&location(&server, "k"), &auth(SignatureVersion::V1), "U")
        .await
        .unwrap_err();
    assert_eq!(e.class(true), ErrorClass::ClockSkew);
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn stalled_upload_times_out() {
    let server = TestServer::start(|_: &Req| Reply::Hang).await;
    let file = temp_file(&data(10_000));
    let config = HttpConfig {
        stall_timeout: Duration::from_millis(300),
        ..http_config()
    };
    let e = client(config)
        .upload_part(
            &location(&server, "k"),
            &auth(SignatureVersion::V1),
            "U",
            1,
            &Source::path(file.path()),
            0,
            10_000,
            &|_| {},
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.class(true), ErrorClass::Retryable);
}

#[tokio::test]
async fn dropping_the_future_closes_the_connection() {
    let server = TestServer::start(|_: &Req| Reply::Hang).await;
    let file = temp_file(&data(10_000));
    let oss = client(http_config());
    let loc = location(&server, "k");
    let a = auth(SignatureVersion::V1);
    let source = Source::path(file.path());
    let upload = oss.upload_part(&loc, &a, "U", 1, &source, 0, 10_000, &|_| {});
    // Cancel once the server has the whole request (the handler has run).
    let requests = server.requests.clone();
    let seen = async move {
        while requests.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
    };
    tokio::select! {
        _ = upload => panic!("the server never answers"),
        _ = tokio::time::timeout(Duration::from_secs(10), seen) => {}
    }
    // The server notices the connection going away.
    tokio::time::timeout(Duration::from_secs(10), async {
        while server.closed.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("connection not closed after the future was dropped");
}

/// UploadPart of the whole `file` (part `n`) with the V1 signature.
async fn put_part(
    oss: &OssClient,
    server: &TestServer,
    file: &std::path::Path,
    n: u32,
) -> crate::error::Result<UploadedPart> {
    let len = std::fs::metadata(file).unwrap().len();
    let source = Source::path(file);
    let (loc, a) = (location(server, "k"), auth(SignatureVersion::V1));
    oss.upload_part(&loc, &a, "U", n, &source, 0, len, &|_| {})
        .await
}

/// An UploadPart answer written by hand: `head` (status line and headers, CRC of the body
/// added) then `body`.
fn raw_answer(req: &Req, head: &str, body: &str, close: bool) -> Reply {
    let crc = crc64(&req.body);
    Reply::Raw {
        bytes: format!("{head}etag: \"E\"\r\nx-oss-hash-crc64ecma: {crc}\r\n\r\n{body}")
            .into_bytes(),
        close,
    }
}

#[tokio::test]
async fn a_kept_connection_carries_the_next_part() {
    let server = TestServer::start(upload_handler).await;
    let file = temp_file(&data(300_000));
    let oss = client(http_config());
    for n in 1..=3 {
        put_part(&oss, &server, file.path(), n).await.unwrap();
    }
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn chunked_interim_and_close_delimited_answers_are_read() {
    let chunked_error = concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>",
        "<Message>no</Message><RequestId>R1</RequestId></Error>"
    );
    let file = temp_file(&data(100_000));
    let oss = client(http_config());

    let server = TestServer::start(move |r: &Req| {
        let body = format!("{:x}\r\n{chunked_error}\r\n0\r\n\r\n", chunked_error.len());
        let head = "HTTP/1.1 403 Forbidden\r\ntransfer-encoding: chunked\r\n";
        raw_answer(r, head, &body, false)
    })
    .await;
    match put_part(&oss, &server, file.path(), 1).await {
        Err(Error::Service(e)) => {
            assert_eq!(e.code, "AccessDenied");
            assert_eq!(e.request_id.as_deref(), Some("R1"));
        }
        other => panic!("{other:?}"),
    }

    // 100 Continue before the answer; then an answer whose body runs to the close.
    let server = TestServer::start(|r: &Req| {
        let head = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nconnection: close\r\n";
        raw_answer(r, head, "ignored", true)
    })
    .await;
    let part = put_part(&oss, &server, file.path(), 1).await.unwrap();
    assert_eq!(part.etag, "\"E\"");
    assert_eq!(part.crc64, crc64(&std::fs::read(file.path()).unwrap()));
}

#[tokio::test]
async fn an_answerless_close_is_a_retryable_reset() {
    let server = TestServer::start(|_: &Req| Reply::Raw {
        bytes: Vec::new(),
        close: true,
    })
    .await;
    let file = temp_file(&data(10_000));
    let e = put_part(&client(http_config()), &server, file.path(), 1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportKind::Reset,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.class(true), ErrorClass::Retryable);
}

#[tokio::test]
async fn multipart_calls() {
    let server = TestServer::start(|req: &Req| {
        if let Err(e) = req.verify_oss(SK) {
            return Reply::Respond { status: 403, headers: vec![], body: e.into_bytes() };
        }
        match (req.method.as_str(), req.query("uploadId")) {
            ("POST", None) => {
                assert_eq!(req.query.as_slice(), &[("uploads".to_string(), None)]);
                assert_eq!(req.header("content-type"), Some("video/mp4"));
                assert_eq!(req.header("x-oss-forbid-overwrite"), Some("true"));
                ok(&[], b"<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key><UploadId>UP1</UploadId></InitiateMultipartUploadResult>")
            }
            ("POST", Some("UP1")) => {
                assert_eq!(req.header("content-type"), Some("application/xml"));
                let body = String::from_utf8(req.body.clone()).unwrap();
                let p1 = body.find("<PartNumber>1</PartNumber>").unwrap();
                let p3 = body.find("<PartNumber>3</PartNumber>").unwrap();
                assert!(p1 < p3, "{body}");
                assert!(body.contains("<ETag>\"E1\"</ETag>"), "{body}");
                assert!(req.header("x-oss-notification").is_some());
                ok(
                    &[("x-oss-hash-crc64ecma", "42")],
                    b"<CompleteMultipartUploadResult><Location>http://x/bkt/k</Location><Bucket>bkt</Bucket><Key>k</Key><ETag>\"OBJ-2\"</ETag></CompleteMultipartUploadResult>",
                )
            }
            ("GET", Some("UP1")) => {
                assert_eq!(req.query("max-parts"), Some("1000"));
                let body = match req.query("part-number-marker") {
                    None => "<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>2</NextPartNumberMarker>\
                             <Part><PartNumber>1</PartNumber><ETag>\"E1\"</ETag><Size>102400</Size><LastModified>2025-06-02T08:00:00.000Z</LastModified></Part>\
                             <Part><PartNumber>2</PartNumber><ETag>\"E2\"</ETag><Size>102400</Size></Part></ListPartsResult>",
                    Some("2") => "<ListPartsResult><IsTruncated>false</IsTruncated>\
                             <Part><PartNumber>3</PartNumber><ETag>\"E3\"</ETag><Size>5</Size></Part></ListPartsResult>",
                    Some(other) => panic!("marker {other}"),
                };
                ok(&[], body.as_bytes())
            }
            ("DELETE", Some("UP1")) => Reply::Respond { status: 204, headers: vec![], body: vec![] },
            ("DELETE", Some(_)) | ("GET", Some(_)) => oss_error(404, "NoSuchUpload", None),
            ("HEAD", None) => ok(
                &[("etag", "\"OBJ-2\""), ("x-oss-hash-crc64ecma", "42"), ("content-type", "video/mp4")],
                &[0; 204805],
            ),
            other => panic!("unexpected {other:?}"),
        }
    })
    .await;
    for version in [SignatureVersion::V1, SignatureVersion::V4] {
        let oss = client(http_config());
        let loc = location(&server, "k");
        let a = auth(version);
        let forbid = [("x-oss-forbid-overwrite".to_string(), "true".to_string())];
        let id = oss
            .initiate_multipart(&loc, &a, "video/mp4", &forbid)
            .await
            .unwrap();
        assert_eq!(id, "UP1");
        let parts = oss.list_parts(&loc, &a, &id).await.unwrap();
        assert_eq!(
            parts.iter().map(|p| p.part_number).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(parts[0].etag, "\"E1\"");
        assert_eq!(
            parts[0].last_modified.as_deref(),
            Some("2025-06-02T08:00:00.000Z")
        );
        assert_eq!(parts[2].size, 5);
        let notify = [(
            "x-oss-notification".to_string(),
            crate::protocol::notification_header(&VodInfo::default()),
        )];
        let done = oss
            .complete_multipart(
                &loc,
                &a,
                &id,
                &[(3, "\"E3\"".into()), (1, "\"E1\"".into())],
                &notify,
            )
            .await
            .unwrap();
        assert_eq!(done.etag, "\"OBJ-2\"");
        assert_eq!(done.crc64, Some(42));
        assert_eq!(done.location.as_deref(), Some("http://x/bkt/k"));
        let dup = oss
            .complete_multipart(&loc, &a, &id, &[(1, "a".into()), (1, "b".into())], &[])
            .await;
        assert!(matches!(dup, Err(Error::InvalidArgument(_))));
        let meta = oss.head_object(&loc, &a).await.unwrap();
        assert_eq!(
            meta,
            ObjectMeta {
                size: 204805,
                etag: Some("\"OBJ-2\"".into()),
                crc64: Some(42),
                content_type: Some("video/mp4".into()),
            }
        );
        oss.abort_multipart(&loc, &a, &id).await.unwrap();
        let e = oss.abort_multipart(&loc, &a, "GONE").await.unwrap_err();
        let Error::Service(se) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (se.service, se.status, se.code.as_str()),
            (Service::Oss, 404, "NoSuchUpload")
        );
        assert_eq!(se.request_id.as_deref(), Some("RID-NoSuchUpload"));
        assert_eq!(e.class(true), ErrorClass::RestartUpload);
    }
}

#[tokio::test]
async fn put_and_head_errors() {
    let server = TestServer::start(|req: &Req| match req.method.as_str() {
        "PUT" => {
            assert_eq!(req.query.len(), 0);
            assert_eq!(req.header("content-type"), Some("image/png"));
            upload_handler(req)
        }
        "HEAD" => {
            use base64::Engine as _;
            let xml = "<Error><Code>NoSuchKey</Code><Message>no</Message><RequestId>R9</RequestId></Error>";
            let err = base64::engine::general_purpose::STANDARD.encode(xml);
            Reply::Respond { status: 404, headers: vec![("x-oss-err".into(), err)], body: vec![] }
        }
        _ => panic!(),
    })
    .await;
    let content = data(3000);
    let file = temp_file(&content);
    let oss = client(http_config());
    let loc = location(&server, "image/x.png");
    let r = oss
        .put_object(
            &loc,
            &auth(SignatureVersion::V4),
            &Source::path(file.path()),
            "image/png",
            &[],
            &|_| {},
        )
        .await
        .unwrap();
    assert_eq!(r.crc64, crc64(&content));
    let e = oss
        .head_object(&loc, &auth(SignatureVersion::V1))
        .await
        .unwrap_err();
    let Error::Service(se) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (se.code.as_str(), se.request_id.as_deref()),
        ("NoSuchKey", Some("R9"))
    );
}

#[tokio::test]
async fn wrong_secret_is_signature_does_not_match() {
    let server = TestServer::start(|req: &Req| match req.verify_oss("another-secret") {
        Ok(()) => ok(&[], b""),
        Err(_) => oss_error(403, "SignatureDoesNotMatch", None),
    })
    .await;
    let e = client(http_config())
        .abort_multipart(&location(&server, "k"), &auth(SignatureVersion::V4), "U")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "SignatureDoesNotMatch");
    assert_eq!(e.class(true), ErrorClass::Fatal);
}

#[tokio::test]
async fn v4_needs_a_region() {
    let server = TestServer::start(upload_handler).await;
    let a = OssAuth {
        region: String::new(),
        ..auth(SignatureVersion::V4)
    };
    let e = client(http_config())
        .abort_multipart(&location(&server, "k"), &a, "U")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
}

#[tokio::test]
async fn https_required_unless_allowed() {
    let server = TestServer::start(upload_handler).await;
    let config = HttpConfig {
        allow_http: false,
        ..http_config()
    };
    let e = client(config)
        .abort_multipart(&location(&server, "k"), &auth(SignatureVersion::V1), "U")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    assert!(server.requests().is_empty());
}

fn vod_handler(req: &Req) -> Reply {
    use crate::protocol::rpc::{rpc_signature, rpc_string_to_sign};
    let mut params: BTreeMap<String, String> = req
        .query
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
        .collect();
    let provided = params.remove("Signature").unwrap_or_default();
    let json = |status: u16, body: String| Reply::Respond {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.into_bytes(),
    };
    if provided != rpc_signature(SK, &rpc_string_to_sign("GET", &params)) {
        return json(
            400,
            r#"{"RequestId":"R1","HostId":"vod","Code":"SignatureDoesNotMatch","Message":"bad"}"#
                .into(),
        );
    }
    assert_eq!(params.get("SecurityToken").map(String::as_str), Some(TOKEN));
    assert_eq!(params.get("Format").map(String::as_str), Some("JSON"));
    assert!(params.contains_key("Timestamp") && params.contains_key("SignatureNonce"));
    let now = SystemTime::now();
    let auth = UploadAuth {
        credentials: Credentials::sts(
            "STS.oss",
            "oss-secret",
            "CAIS-oss",
            Some(now + Duration::from_secs(3000)),
        ),
        region: Some("cn-test".into()),
    }
    .encode(now);
    let address = UploadAddress {
        endpoint: "http://127.0.0.1:1".into(),
        bucket: "outin-x".into(),
        file_name: "sv/1/1.mp4".into(),
        object_prefix: None,
    }
    .encode();
    match params.get("Action").map(String::as_str) {
        Some("CreateUploadVideo") => {
            assert_eq!(
                params.get("Version").map(String::as_str),
                Some("2017-03-21")
            );
            assert_eq!(params.get("RegionId").map(String::as_str), Some("cn-test"));
            assert_eq!(params.get("FileName").map(String::as_str), Some("a b.mp4"));
            assert_eq!(params.get("Title").map(String::as_str), Some("标题"));
            json(
                200,
                serde_json::to_string(&crate::protocol::vod::CreateUploadVideoResponse {
                    request_id: "R2".into(),
                    video_id: "V1".into(),
                    upload_address: address,
                    upload_auth: auth,
                })
                .unwrap(),
            )
        }
        Some("RefreshUploadVideo") => match params.get("VideoId").map(String::as_str) {
            Some("V1") => json(
                200,
                serde_json::to_string(&crate::protocol::vod::RefreshUploadVideoResponse {
                    request_id: "R3".into(),
                    video_id: "V1".into(),
                    upload_address: address,
                    upload_auth: auth,
                })
                .unwrap(),
            ),
            _ => json(
                404,
                r#"{"RequestId":"R4","Code":"InvalidVideo.NotFound","Message":"gone"}"#.into(),
            ),
        },
        Some("CreateUploadImage") => {
            assert_eq!(params.get("ImageExt").map(String::as_str), Some("png"));
            json(
                200,
                serde_json::to_string(&crate::protocol::vod::CreateUploadImageResponse {
                    request_id: "R5".into(),
                    image_id: "I1".into(),
                    image_url: "https://img/x.png".into(),
                    file_url: "https://img/f.png".into(),
                    upload_address: address,
                    upload_auth: auth,
                })
                .unwrap(),
            )
        }
        Some("AssumeRole") => {
            assert_eq!(
                params.get("Version").map(String::as_str),
                Some("2015-04-01")
            );
            json(200, r#"{"RequestId":"R6","Credentials":{"AccessKeyId":"STS.new","AccessKeySecret":"s2","SecurityToken":"CAIS2","Expiration":"2030-01-01T00:00:00Z"}}"#.into())
        }
        Some("Garbage") => Reply::Respond {
            status: 200,
            headers: vec![],
            body: b"<html>".to_vec(),
        },
        Some("Gateway") => Reply::Respond {
            status: 502,
            headers: vec![],
            body: b"<html>bad gateway</html>".to_vec(),
        },
        _ => json(400, r#"{"Code":"InvalidAction","Message":"?"}"#.into()),
    }
}

#[tokio::test]
async fn vod_rpc_calls() {
    let server = TestServer::start(vod_handler).await;
    let http = build_client(&http_config()).unwrap();
    let endpoint = validate_endpoint(&server.endpoint, true).unwrap();
    let vod = VodClient::new(http.clone(), endpoint.clone()).with_region("cn-test");
    let creds = Credentials::sts(AK, SK, TOKEN, None);
    let info = VodInfo {
        title: Some("标题".into()),
        ..Default::default()
    };
    let t = vod
        .create_upload_video(&creds, "a b.mp4", 123, &info)
        .await
        .unwrap();
    assert_eq!((t.video_id.as_str(), t.request_id.as_str()), ("V1", "R2"));
    assert_eq!(t.upload_address.bucket, "outin-x");
    assert_eq!(t.upload_auth.credentials.access_key_id, "STS.oss");
    assert_eq!(t.upload_auth.region.as_deref(), Some("cn-test"));
    let t = vod.refresh_upload_video(&creds, "V1").await.unwrap();
    assert_eq!(t.request_id, "R3");
    let e = vod.refresh_upload_video(&creds, "V2").await.unwrap_err();
    let Error::Service(se) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (se.service, se.code.as_str(), se.status),
        (Service::Vod, "InvalidVideo.NotFound", 404)
    );
    let img = vod
        .create_upload_image(&creds, "x.PNG", &VodInfo::default())
        .await
        .unwrap();
    assert_eq!(
        (img.image_id.as_str(), img.image_url.as_str()),
        ("I1", "https://img/x.png")
    );

    let wrong = Credentials::sts(AK, "nope", TOKEN, None);
    let e = vod
        .create_upload_video(&wrong, "a.mp4", 1, &info)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "SignatureDoesNotMatch");
    // A nonce is never reused: every request carries its own.
    let nonces: std::collections::HashSet<_> = server
        .requests()
        .iter()
        .filter_map(|r| r.query("SignatureNonce").map(str::to_owned))
        .collect();
    assert_eq!(nonces.len(), server.requests().len());

    let sts = StsClient::new(http, endpoint);
    let c = sts
        .assume_role(&creds, "acs:ram::1:role/r", "s", 3600)
        .await
        .unwrap();
    assert_eq!(c.access_key_id, "STS.new");
    assert!(c.is_sts() && c.expires_at.is_some());
}

#[tokio::test]
async fn vod_non_json_responses() {
    let server = TestServer::start(vod_handler).await;
    let rpc = |action: &str| {
        let mut p = BTreeMap::new();
        p.insert("Action".to_string(), action.to_string());
        p
    };
    let http = build_client(&http_config()).unwrap();
    let vod = VodClient::new(http, validate_endpoint(&server.endpoint, true).unwrap());
    let creds = Credentials::sts(AK, SK, TOKEN, None);
    let e = vod
        .rpc
        .call::<serde_json::Value>(&creds, rpc("Garbage"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Protocol {
                service: Service::Vod,
                ..
            }
        ),
        "{e:?}"
    );
    let e = vod
        .rpc
        .call::<serde_json::Value>(&creds, rpc("Gateway"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "Http502");
    assert_eq!(e.class(true), ErrorClass::Retryable);
    // No error message carries the token or the signature.
    assert!(!e.to_string().contains(TOKEN));
}

/// A private CA (PEM) and a server certificate it issued for 127.0.0.1.
fn private_pki() -> (String, rustls::ServerConfig) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "vod-upload test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .unwrap();
    (ca.pem(), server)
}

#[tokio::test]
async fn https_with_a_private_ca_is_refused_until_the_ca_is_trusted() {
    let (ca_pem, tls) = private_pki();
    let server = TestServer::start_tls(tls, upload_handler).await;
    let content = data(300_000);
    let file = temp_file(&content);
    let https_only = HttpConfig {
        allow_http: false,
        ..http_config()
    };
    let upload = |config: HttpConfig| {
        let (loc, path) = (location(&server, "v.mp4"), file.path().to_owned());
        async move {
            client(config)
                .upload_part(
                    &loc,
                    &auth(SignatureVersion::V4),
                    "U",
                    1,
                    &Source::path(&path),
                    0,
                    300_000,
                    &|_| {},
                )
                .await
        }
    };

    // The platform's roots do not include our CA: a certificate error that says why, and no
    // request.
    let e = upload(https_only.clone()).await.unwrap_err();
    assert!(
        matches!(&e, Error::Certificate { problem: CertificateProblem::UnknownIssuer, message } if message.contains("UnknownIssuer")),
        "{e:?}"
    );
    assert_eq!(e.code(), "CertificateUntrusted");
    assert!(server.requests().is_empty());

    // Trusted as an extra root, the same upload goes through over TLS, body and CRC intact.
    let trusted = HttpConfig {
        extra_root_certificates: vec![ca_pem],
        ..https_only
    };
    let part = upload(trusted).await.unwrap();
    assert_eq!(part.crc64, crc64(&content));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].body == content, "body differs");
}

#[test]
fn unusable_extra_roots_are_refused_with_their_index() {
    let (ca_pem, _) = private_pki();
    let config = |roots: Vec<String>| HttpConfig {
        extra_root_certificates: roots,
        ..http_config()
    };
    assert!(build_client(&config(vec![ca_pem.clone(), ca_pem.clone()])).is_ok());
    let message = |roots| match build_client(&config(roots)) {
        Err(Error::InvalidArgument(m)) => m,
        other => panic!("expected InvalidArgument, got {:?}", other.map(|_| ())),
    };
    let m = message(vec![ca_pem.clone(), "not a certificate".into()]);
    assert!(
        m.contains("extra_root_certificates[1]") && m.contains("BEGIN CERTIFICATE"),
        "{m}"
    );
    let m = message(vec![
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
    ]);
    assert!(
        m.contains("extra_root_certificates[0]") && m.contains("CA certificate"),
        "{m}"
    );
}
