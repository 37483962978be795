//! Accept loop, connections and request routing (admin / RPC / OSS).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::body::{CollectError, ReqBody, SimBody};
use crate::faults::Terminal;
use crate::oss::{self, Ctx, OssCall, OssError};
use crate::requests::RecordedRequest;
use crate::rpc::{self, RpcCall, RpcError};
use crate::state::Shared;
use crate::{admin, stats, util};

/// Returned by the service to make hyper drop the connection without a response.
#[derive(Debug)]
pub(crate) struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by fault injection")
    }
}

impl std::error::Error for ResetConnection {}

/// The TCP stream of one connection; after a `reset` fault it closes with RST, not FIN.
struct ConnIo {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ConnIo {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Accepts connections until aborted; aborting drops the `JoinSet`, which aborts every
/// connection task.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    stats::inc(&shared.stats.connections);
                    conns.spawn(serve_connection(stream, shared.clone(), tls.clone()));
                }
                Err(e) => {
                    // Usually EMFILE; back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let _ = stream.set_nodelay(true);
    let reset = Arc::new(AtomicBool::new(false));
    let conn = ConnIo {
        inner: stream,
        reset: reset.clone(),
    };
    match tls {
        None => serve_http(TokioIo::new(conn), shared, reset).await,
        // The TLS session runs over ConnIo, so a reset fault still ends the TCP stream with RST.
        Some(tls) => match tls.accept(conn).await {
            Ok(stream) => serve_http(TokioIo::new(stream), shared, reset).await,
            // A client that refuses the certificate aborts the handshake: nothing to serve.
            Err(e) => tracing::debug!(error = %e, "TLS handshake failed"),
        },
    }
}

async fn serve_http<I>(io: TokioIo<I>, shared: Arc<Shared>, reset: Arc<AtomicBool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let shared = shared.clone();
        let reset = reset.clone();
        async move {
            let result = handle(shared, req).await;
            if result.is_err() {
                reset.store(true, Ordering::Relaxed);
            }
            result
        }
    });
    if let Err(e) = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service)
        .await
    {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<SimBody>, ResetConnection> {
    stats::inc(&shared.stats.requests);
    let (parts, incoming) = req.into_parts();
    let body = ReqBody::new(incoming, shared.clone());
    let path = parts.uri.path().to_owned();
    if path == "/_sim" || path.starts_with("/_sim/") {
        shared.stats.op("Admin");
        let resp = admin::handle(&shared, &parts.method, &path, body).await;
        return Ok(record(&shared, resp));
    }
    let _in_flight = shared.stats.enter();
    let resp = if is_rpc(&parts, &path) {
        handle_rpc(&shared, parts, body).await?
    } else {
        handle_oss(&shared, parts, &path, body).await?
    };
    let latency = shared.throttle.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    Ok(record(&shared, resp))
}

fn record(shared: &Shared, resp: Response<SimBody>) -> Response<SimBody> {
    shared.stats.status(resp.status().as_u16());
    if let SimBody::Full(Some(b)) = resp.body() {
        stats::add(&shared.stats.bytes_sent, b.len() as u64);
    }
    resp
}

pub(crate) fn host(parts: &http::request::Parts) -> &str {
    parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("")
}

fn is_form(parts: &http::request::Parts) -> bool {
    parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// RPC calls go to `/` with `Action` in the query, or POST a form body.
fn is_rpc(parts: &http::request::Parts, path: &str) -> bool {
    if path != "/" || oss::vhost_bucket(host(parts)).is_some() {
        return false;
    }
    let query = parts.uri.query().unwrap_or("");
    let has_action = query
        .split('&')
        .any(|p| p == "Action" || p.starts_with("Action="));
    has_action || (parts.method == Method::POST && is_form(parts))
}

async fn handle_rpc(
    shared: &Arc<Shared>,
    parts: http::request::Parts,
    mut body: ReqBody,
) -> Result<Response<SimBody>, ResetConnection> {
    let query = util::parse_query(parts.uri.query().unwrap_or(""), true).unwrap_or_default();
    let mut call = RpcCall {
        shared: shared.clone(),
        method: parts.method.as_str().to_owned(),
        params: query,
        request_id: util::rpc_request_id(),
    };
    let raw = match body.collect(1 << 20).await {
        Ok(b) => b,
        Err(CollectError::TooLarge) => {
            body.drain().await;
            return Ok(call.error_response(&RpcError::injected(
                400,
                Some("InvalidParameter".into()),
                Some("The request body is too large.".into()),
            )));
        }
        Err(CollectError::Body(_)) => return Err(ResetConnection),
    };
    if is_form(&parts) && !raw.is_empty() {
        let form = std::str::from_utf8(&raw)
            .ok()
            .and_then(|s| util::parse_query(s, true))
            .unwrap_or_default();
        call.params = rpc::merge_params(std::mem::take(&mut call.params), form);
    }
    let op = call.action().to_owned();
    let op_name = if op.is_empty() { "UnknownAction" } else { &op };
    shared.stats.op(op_name);
    let mut recorded = RecordedRequest::new(op_name, &parts, call.params.iter().cloned());
    recorded.in_flight = shared.stats.in_flight();
    shared.requests.push(recorded);
    let (terminal, hold) = apply_faults(shared, &op).await;
    match terminal {
        None => {
            let response = call.run();
            hold_back(hold).await;
            Ok(response)
        }
        Some(Terminal::Reset) => Err(ResetConnection),
        Some(Terminal::Status {
            status,
            code,
            message,
        }) => Ok(call.error_response(&RpcError::injected(status, code, message))),
    }
}

/// Holds a processed request's response back (`hold` rules).
async fn hold_back(hold: Duration) {
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
}

/// Sleeps for delay rules and returns the terminal fault, if any, and how long to hold the
/// response back after processing.
async fn apply_faults(shared: &Shared, op: &str) -> (Option<Terminal>, Duration) {
    let (decision, fired) = shared.faults.decide(op);
    if fired == 0 {
        return (None, Duration::ZERO);
    }
    stats::add(&shared.stats.faults_injected, fired);
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    if matches!(decision.terminal, Some(Terminal::Reset)) {
        stats::inc(&shared.stats.connections_reset);
    }
    (decision.terminal, decision.hold)
}

async fn handle_oss(
    shared: &Arc<Shared>,
    parts: http::request::Parts,
    path: &str,
    mut body: ReqBody,
) -> Result<Response<SimBody>, ResetConnection> {
    let host = host(&parts).to_owned();
    let ctx = Ctx {
        request_id: util::oss_request_id(),
        host_id: host.clone(),
        is_head: parts.method == Method::HEAD,
    };
    let target = oss::parse_target(oss::vhost_bucket(&host), path);
    let query = util::parse_query(parts.uri.query().unwrap_or(""), false);
    let (target, query) = match (target, query) {
        (Ok(t), Some(q)) => (t, q),
        (Err(e), _) => {
            shared.stats.op("Unknown");
            body.drain().await;
            return Ok(e.response(&ctx));
        }
        (_, None) => {
            shared.stats.op("Unknown");
            body.drain().await;
            return Ok(OssError::new(
                400,
                "InvalidArgument",
                "The query string is not valid UTF-8.",
            )
            .response(&ctx));
        }
    };
    let op = oss::classify(&parts.method, &target, &query);
    shared.stats.op(op);
    let mut recorded = RecordedRequest::new(
        op,
        &parts,
        query.iter().map(|(k, v)| (k.clone(), v.clone())),
    );
    recorded.in_flight = shared.stats.in_flight();
    shared.requests.push(recorded);
    let (terminal, hold) = apply_faults(shared, op).await;
    match terminal {
        None => {}
        Some(Terminal::Reset) => {
            let half = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(64 * 1024, |len| len / 2);
            body.read_some(half).await;
            return Err(ResetConnection);
        }
        Some(Terminal::Status {
            status,
            code,
            message,
        }) => {
            body.drain().await;
            return Ok(OssError::injected(status, code, message).response(&ctx));
        }
    }
    let call = OssCall {
        shared: shared.clone(),
        ctx,
        method: parts.method,
        headers: parts.headers,
        target,
        query,
        op,
        body,
    };
    let response = call.run().await;
    hold_back(hold).await;
    Ok(response)
}
