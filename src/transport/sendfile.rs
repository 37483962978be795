//! Part bodies over plain HTTP straight from the file with `sendfile(2)` (Linux and Android).
//!
//! reqwest (hyper) sends a body from user-space buffers, so every byte is copied out of the
//! page cache into a buffer and again into the socket. Here the kernel hands the file's pages to
//! the socket itself, and the CRC-64 comes from a positional read of each range just sent into
//! one buffer that stays in the CPU's cache. TLS needs the bytes in user space, so HTTPS keeps
//! reqwest, as do app-supplied sources (no file descriptor) and every request without a file
//! body. BENCHMARKS.md has what it saves.
//!
//! This is HTTP/1.1 for one request shape only: a PUT with a `Content-Length` body, whose
//! response httparse parses (status line and headers; a `Content-Length`, chunked or
//! close-delimited body). Connections are kept alive per host and port, as reqwest keeps its
//! own, and a kept connection the server has closed meanwhile is dropped, not used.

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use super::http::{HttpConfig, redact_url};
use super::oss::{BufPool, Progress};
use crate::error::{Error, Result, Service, TransportKind};
use crate::protocol::crc64::Crc64;

/// Bytes offered to the kernel per `sendfile` call (a whole default part): with a quarter of
/// that, the upload spent a fifth more CPU in calls and wake-ups.
const SEND: usize = 1024 * 1024;
/// The CRC reads back what was sent in steps of this size, which stay in the CPU's cache.
const CRC_READ: usize = 256 * 1024;
/// A kept connection idle longer than this is closed rather than reused (reqwest: 60 s; OSS
/// closes idle connections after about a minute, and a request must not race that).
const IDLE_FOR: Duration = Duration::from_secs(50);
/// Idle connections kept, over all hosts.
const MAX_IDLE: usize = 16;
/// A response head (status line and headers) larger than this is refused.
const MAX_HEAD: usize = 64 * 1024;

/// Kept-alive connections of one client (and its clones).
#[derive(Debug, Default)]
pub(super) struct Pool {
    idle: Mutex<Vec<Idle>>,
}

#[derive(Debug)]
struct Idle {
    /// `host:port`.
    authority: String,
    stream: TcpStream,
    since: Instant,
}

/// One PUT of `file[offset..offset+len]`.
pub(super) struct Put<'a> {
    pub url: &'a Url,
    /// The signed headers (`Content-Length`, `Host` and `User-Agent` are added here).
    pub headers: &'a HeaderMap,
    pub file: &'a File,
    /// For errors.
    pub path: &'a Path,
    pub offset: u64,
    pub len: u64,
    pub progress: Option<Progress<'a>>,
    /// Bytes already reported to `progress` for this part (over earlier attempts too).
    pub reported: &'a mut u64,
    /// Largest response body accepted for a success (errors: [`super::oss::MAX_SMALL_BODY`]).
    pub body_limit: usize,
    /// Where the CRC read-back buffer comes from (recycled: no zeroing per part).
    pub buffers: &'a BufPool,
}

/// A buffer of the client's pool, given back when dropped.
struct Scratch<'a> {
    buf: Vec<u8>,
    pool: &'a BufPool,
}

impl<'a> Scratch<'a> {
    fn new(pool: &'a BufPool) -> Scratch<'a> {
        Scratch {
            buf: pool.take(CRC_READ),
            pool,
        }
    }
}

impl Drop for Scratch<'_> {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.buf));
    }
}

/// A response, body read, with the CRC-64 of the bytes sent.
pub(super) struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub crc: u64,
}

impl Pool {
    /// Sends the request on a kept connection to the URL's host (or a new one) and reads the
    /// response. The connection is kept for the next request when the exchange completed
    /// cleanly; dropping the future closes it.
    pub(super) async fn put(&self, config: &HttpConfig, mut put: Put<'_>) -> Result<Response> {
        let url = put.url;
        let host = url
            .host_str()
            .ok_or_else(|| Error::InvalidArgument(format!("URL without a host: {url}")))?;
        let port = url.port_or_known_default().unwrap_or(80);
        let authority = format!("{host}:{port}");
        let stream = match self.take(&authority) {
            Some(stream) => stream,
            None => connect(config, url, port).await?,
        };
        let mut exchange = Exchange {
            stream,
            config,
            url,
            buf: BytesMut::with_capacity(8 * 1024),
        };
        let (response, reusable) = exchange.run(host, port, &mut put).await?;
        if reusable {
            self.give(authority, exchange.stream);
        }
        Ok(response)
    }

    /// The most recently used live connection to `authority`, if any.
    fn take(&self, authority: &str) -> Option<TcpStream> {
        let mut idle = self.idle.lock().ok()?;
        idle.retain(|c| c.since.elapsed() < IDLE_FOR);
        while let Some(i) = idle.iter().rposition(|c| c.authority == authority) {
            let c = idle.swap_remove(i);
            if is_open(&c.stream) {
                return Some(c.stream);
            }
        }
        None
    }

    fn give(&self, authority: String, stream: TcpStream) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() >= MAX_IDLE {
                idle.remove(0);
            }
            idle.push(Idle {
                authority,
                stream,
                since: Instant::now(),
            });
        }
    }
}

/// Whether a kept connection can carry a request: the server has neither closed it (a read
/// would see EOF) nor sent anything unasked.
fn is_open(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

async fn connect(config: &HttpConfig, url: &Url, port: u16) -> Result<TcpStream> {
    let fail = |kind, what: String| Error::Transport {
        kind,
        message: format!("{what} ({})", redact_url(url)),
    };
    // An IPv6 literal is bracketed in URLs, not in socket addresses.
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let connecting = TcpStream::connect((host, port));
    let stream = tokio::time::timeout(config.connect_timeout, connecting)
        .await
        .map_err(|_| {
            fail(
                TransportKind::Timeout,
                format!("connect timed out after {:?}", config.connect_timeout),
            )
        })?
        .map_err(|e| fail(TransportKind::Connect, format!("cannot connect: {e}")))?;
    // As reqwest does: a request's last segment is not held back for an ACK.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// One request and its response on one connection.
struct Exchange<'c> {
    stream: TcpStream,
    config: &'c HttpConfig,
    url: &'c Url,
    /// Response bytes read and not yet parsed.
    buf: BytesMut,
}

impl Exchange<'_> {
    /// The response and whether the connection may carry another request.
    async fn run(&mut self, host: &str, port: u16, put: &mut Put<'_>) -> Result<(Response, bool)> {
        let head = request_head(self.url, host, port, put.headers, put.len);
        tokio::time::timeout(self.config.stall_timeout, self.stream.write_all(&head))
            .await
            .map_err(|_| self.stall())?
            .map_err(|e| self.io_error(e, "sending the request"))?;

        let (crc, sent) = match self.send_body(put).await {
            Ok(crc) => (crc, true),
            // The server may have answered (an early error) and closed: read what it sent.
            Err(e @ Error::Transport { .. }) => match self.early_response() {
                Some(crc) => (crc, false),
                None => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let (status, headers, body, delimited) = self.read_response(put.body_limit).await?;
        if !sent && status.is_success() {
            return Err(self.protocol("the server accepted the body before it was sent in full"));
        }
        let keep = sent && delimited && keep_alive(&headers);
        Ok((
            Response {
                status,
                headers,
                body,
                crc,
            },
            keep,
        ))
    }

    /// Streams the range with `sendfile`, checksumming each piece sent; the CRC-64 of it all.
    async fn send_body(&mut self, put: &mut Put<'_>) -> Result<u64> {
        let socket = self.stream.as_raw_fd();
        let file = put.file.as_raw_fd();
        let mut crc = Crc64::new();
        let mut scratch = Scratch::new(put.buffers);
        let mut sent = 0u64;
        let mut reported = *put.reported;
        while sent < put.len {
            let want = usize::try_from(put.len - sent).unwrap_or(SEND).min(SEND);
            tokio::time::timeout(self.config.stall_timeout, self.stream.writable())
                .await
                .map_err(|_| self.stall())?
                .map_err(|e| self.io_error(e, "sending the body"))?;
            let offset = put.offset + sent;
            let stream = &self.stream;
            let step = || {
                let n = stream.try_io(Interest::WRITABLE, || {
                    send_range(socket, file, offset, want)
                })?;
                let buf = &mut scratch.buf[..CRC_READ];
                let mut done = 0;
                while done < n {
                    let piece = (n - done).min(CRC_READ);
                    read_exact_at(put.file, &mut buf[..piece], offset + done as u64)?;
                    crc.update(&buf[..piece]);
                    done += piece;
                }
                Ok::<usize, std::io::Error>(n)
            };
            let step = in_place(step);
            match step {
                Ok(0) => return Err(Error::FileChanged(put.path.to_owned())),
                Ok(n) => sent += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Err(Error::FileChanged(put.path.to_owned()));
                }
                Err(e) if is_file_error(&e) => {
                    return Err(Error::File {
                        path: put.path.to_owned(),
                        source: e,
                    });
                }
                Err(e) => return Err(self.io_error(e, "sending the body")),
            }
            if sent > reported {
                if let Some(p) = put.progress {
                    p(sent - reported);
                }
                reported = sent;
                *put.reported = reported;
            }
        }
        Ok(crc.finish())
    }

    /// After a failed write: whether a whole response head already arrived. The CRC is
    /// meaningless then (0): the server refused the body.
    fn early_response(&mut self) -> Option<u64> {
        let mut chunk = [0u8; 8 * 1024];
        loop {
            match self.stream.try_read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
        let mut headers = [httparse::EMPTY_HEADER; 100];
        let mut resp = httparse::Response::new(&mut headers);
        matches!(resp.parse(&self.buf), Ok(httparse::Status::Complete(_))).then_some(0)
    }

    /// Status, headers, body and whether the body had a delimited length.
    async fn read_response(
        &mut self,
        limit: usize,
    ) -> Result<(StatusCode, HeaderMap, Bytes, bool)> {
        let (status, headers) = loop {
            let parsed = {
                let mut slots = [httparse::EMPTY_HEADER; 100];
                let mut resp = httparse::Response::new(&mut slots);
                match resp.parse(&self.buf) {
                    Ok(httparse::Status::Complete(n)) => {
                        let code = resp.code.unwrap_or(0);
                        let mut map = HeaderMap::with_capacity(resp.headers.len());
                        for h in resp.headers.iter() {
                            if let (Ok(name), Ok(value)) = (
                                HeaderName::from_bytes(h.name.as_bytes()),
                                HeaderValue::from_bytes(h.value),
                            ) {
                                map.append(name, value);
                            }
                        }
                        Some((n, code, map, resp.version == Some(0)))
                    }
                    Ok(httparse::Status::Partial) => None,
                    Err(e) => return Err(self.protocol(&format!("malformed HTTP response: {e}"))),
                }
            };
            match parsed {
                // 1xx: an interim response; the real one follows.
                Some((n, code, _, _)) if (100..200).contains(&code) => self.buf.advance(n),
                Some((n, code, mut map, http10)) => {
                    self.buf.advance(n);
                    let status = StatusCode::from_u16(code)
                        .map_err(|_| self.protocol(&format!("HTTP status {code}")))?;
                    if http10 {
                        map.insert(
                            reqwest::header::CONNECTION,
                            HeaderValue::from_static("close"),
                        );
                    }
                    break (status, map);
                }
                None => {
                    if self.buf.len() > MAX_HEAD {
                        return Err(self.protocol("HTTP response head too large"));
                    }
                    if self.fill().await? == 0 {
                        return Err(self.reset("connection closed before the response"));
                    }
                }
            }
        };
        let limit = if status.is_success() {
            limit
        } else {
            super::oss::MAX_SMALL_BODY
        };
        let too_large = |this: &Self| {
            this.protocol(&format!(
                "response body larger than {limit} bytes ({})",
                redact_url(this.url)
            ))
        };
        let chunked = headers
            .get_all(reqwest::header::TRANSFER_ENCODING)
            .iter()
            .any(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .to_ascii_lowercase()
                    .contains("chunked")
            });
        let length = headers
            .get(reqwest::header::CONTENT_LENGTH)
            .map(|v| {
                std::str::from_utf8(v.as_bytes())
                    .ok()
                    .and_then(|s| s.trim().parse::<usize>().ok())
                    .ok_or_else(|| self.protocol("invalid Content-Length in the response"))
            })
            .transpose()?;
        let no_body = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
        if no_body {
            return Ok((status, headers, Bytes::new(), true));
        }
        if chunked {
            let mut body = BytesMut::new();
            loop {
                let (consumed, size) = match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete((n, size))) => (n, size),
                    Ok(httparse::Status::Partial) => {
                        self.fill_or_reset().await?;
                        continue;
                    }
                    Err(_) => return Err(self.protocol("malformed chunked response body")),
                };
                let size = usize::try_from(size).map_err(|_| too_large(self))?;
                if body.len().saturating_add(size) > limit {
                    return Err(too_large(self));
                }
                // The chunk, then its CRLF (after the last, empty chunk: no trailers from OSS).
                while self.buf.len() < consumed + size + 2 {
                    self.fill_or_reset().await?;
                }
                self.buf.advance(consumed);
                body.extend_from_slice(&self.buf[..size]);
                if &self.buf[size..size + 2] != b"\r\n" {
                    return Err(self.protocol("malformed chunked response body"));
                }
                self.buf.advance(size + 2);
                if size == 0 {
                    return Ok((status, headers, body.freeze(), true));
                }
            }
        }
        match length {
            Some(n) => {
                if n > limit {
                    return Err(too_large(self));
                }
                while self.buf.len() < n {
                    self.fill_or_reset().await?;
                }
                let body = self.buf.split_to(n).freeze();
                Ok((status, headers, body, true))
            }
            None => {
                while self.fill().await? > 0 {
                    if self.buf.len() > limit {
                        return Err(too_large(self));
                    }
                }
                let body = std::mem::take(&mut self.buf).freeze();
                Ok((status, headers, body, false))
            }
        }
    }

    /// Reads more of the response (0 at EOF), bounded by the stall timeout.
    async fn fill(&mut self) -> Result<usize> {
        let read = tokio::time::timeout(
            self.config.stall_timeout,
            self.stream.read_buf(&mut self.buf),
        )
        .await
        .map_err(|_| self.stall())?;
        read.map_err(|e| self.io_error(e, "reading the response"))
    }

    async fn fill_or_reset(&mut self) -> Result<()> {
        match self.fill().await? {
            0 => Err(self.reset("connection closed in the middle of the response")),
            _ => Ok(()),
        }
    }

    fn stall(&self) -> Error {
        Error::Transport {
            kind: TransportKind::Timeout,
            message: format!(
                "no upload progress for {:?} ({})",
                self.config.stall_timeout,
                redact_url(self.url)
            ),
        }
    }

    fn reset(&self, what: &str) -> Error {
        Error::Transport {
            kind: TransportKind::Reset,
            message: format!("{what} ({})", redact_url(self.url)),
        }
    }

    fn io_error(&self, e: std::io::Error, doing: &str) -> Error {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            K::TimedOut => TransportKind::Timeout,
            K::ConnectionReset
            | K::ConnectionAborted
            | K::BrokenPipe
            | K::UnexpectedEof
            | K::NotConnected => TransportKind::Reset,
            _ => TransportKind::Other,
        };
        Error::Transport {
            kind,
            message: format!("{doing}: {e} ({})", redact_url(self.url)),
        }
    }

    fn protocol(&self, message: &str) -> Error {
        Error::Protocol {
            service: Service::Oss,
            message: message.to_owned(),
        }
    }
}

/// `PUT <path?query> HTTP/1.1` and the headers, `Host`, `User-Agent` and `Content-Length` first.
fn request_head(url: &Url, host: &str, port: u16, headers: &HeaderMap, len: u64) -> Vec<u8> {
    let mut head = Vec::with_capacity(1024);
    head.extend_from_slice(b"PUT ");
    head.extend_from_slice(url.path().as_bytes());
    if let Some(q) = url.query() {
        head.push(b'?');
        head.extend_from_slice(q.as_bytes());
    }
    head.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    head.extend_from_slice(host.as_bytes());
    if url.port().is_some() {
        head.extend_from_slice(format!(":{port}").as_bytes());
    }
    head.extend_from_slice(b"\r\nuser-agent: ");
    head.extend_from_slice(concat!("vod-upload/", env!("CARGO_PKG_VERSION")).as_bytes());
    head.extend_from_slice(format!("\r\ncontent-length: {len}\r\n").as_bytes());
    for (name, value) in headers {
        if name == reqwest::header::CONTENT_LENGTH || name == reqwest::header::HOST {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

fn keep_alive(headers: &HeaderMap) -> bool {
    !headers
        .get_all(reqwest::header::CONNECTION)
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
}

/// One `sendfile` of up to `len` bytes from `offset`: the bytes the socket took (0 at the
/// file's end).
fn send_range(socket: RawFd, file: RawFd, offset: u64, len: usize) -> std::io::Result<usize> {
    let mut off = libc::off_t::try_from(offset)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "offset too large"))?;
    loop {
        // SAFETY: both descriptors are open for the duration of the call (borrowed from a live
        // TcpStream and File), and `off` is a valid, exclusively borrowed off_t.
        let n = unsafe { libc::sendfile(socket, file, &mut off, len) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `sendfile` errors that are about the file, not the socket.
fn is_file_error(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO | libc::EBADF | libc::EOVERFLOW | libc::ESPIPE)
    )
}

fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    while !buf.is_empty() {
        match file.read_at(buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Runs blocking file work where it does not hold up other tasks: inside `block_in_place` on a
/// multi-thread runtime (the worker's other tasks move to another thread), inline on a
/// current-thread runtime, where `block_in_place` is refused (tests; page-cache reads).
fn in_place<T>(f: impl FnOnce() -> T) -> T {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}
