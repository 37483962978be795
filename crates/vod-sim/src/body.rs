//! Request body reading (throttled, counted) and the response body type.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::sync::mpsc;

use crate::state::Shared;
use crate::stats;

/// A request body read chunk by chunk through the shared bandwidth limit.
pub(crate) struct ReqBody {
    incoming: Option<Incoming>,
    shared: Arc<Shared>,
    /// Counted in `object_bytes_received` too (a PutObject or UploadPart body).
    object_data: bool,
}

/// The client went away or sent a malformed body.
#[derive(Debug)]
pub(crate) struct BodyError(pub hyper::Error);

/// A body larger than allowed for a buffered document.
#[derive(Debug)]
pub(crate) enum CollectError {
    Body(BodyError),
    TooLarge,
}

impl ReqBody {
    pub fn new(incoming: Incoming, shared: Arc<Shared>) -> ReqBody {
        ReqBody {
            incoming: Some(incoming),
            shared,
            object_data: false,
        }
    }

    /// Marks the body as object data, so what the client sends of it counts as such even when
    /// the request is cut off while the throttle holds a chunk.
    pub fn count_as_object_data(&mut self) {
        self.object_data = true;
    }

    /// The next data chunk; `None` at the end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        loop {
            let Some(incoming) = self.incoming.as_mut() else {
                return Ok(None);
            };
            match incoming.frame().await {
                None => {
                    self.incoming = None;
                    return Ok(None);
                }
                Some(Err(e)) => {
                    self.incoming = None;
                    return Err(BodyError(e));
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        stats::add(&self.shared.stats.bytes_received, data.len() as u64);
                        if self.object_data {
                            stats::add(&self.shared.stats.object_bytes_received, data.len() as u64);
                        }
                        self.shared.throttle.acquire(data.len()).await;
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    /// Reads the whole body into memory, refusing more than `limit` bytes (small documents only).
    pub async fn collect(&mut self, limit: usize) -> Result<Bytes, CollectError> {
        let mut buf = BytesMut::new();
        while let Some(chunk) = self.chunk().await.map_err(CollectError::Body)? {
            if buf.len() + chunk.len() > limit {
                return Err(CollectError::TooLarge);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    /// Reads and discards the rest of the body, so an early error response reaches the client
    /// instead of a reset connection. Errors are ignored: the client is gone anyway.
    pub async fn drain(&mut self) {
        while let Ok(Some(_)) = self.chunk().await {}
    }

    /// Reads roughly `n` bytes (or to the end), for `reset` faults.
    pub async fn read_some(&mut self, n: u64) {
        let mut got = 0u64;
        while got < n {
            match self.chunk().await {
                Ok(Some(c)) => got += c.len() as u64,
                _ => return,
            }
        }
    }
}

/// Response body: empty, a buffered document, or a stream of file chunks.
pub(crate) enum SimBody {
    Empty,
    Full(Option<Bytes>),
    Stream {
        rx: mpsc::Receiver<io::Result<Bytes>>,
        remaining: u64,
        shared: Arc<Shared>,
    },
}

impl SimBody {
    pub fn full(data: impl Into<Bytes>) -> SimBody {
        SimBody::Full(Some(data.into()))
    }
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            SimBody::Empty => Poll::Ready(None),
            SimBody::Full(data) => match data.take() {
                Some(d) => Poll::Ready(Some(Ok(Frame::data(d)))),
                None => Poll::Ready(None),
            },
            SimBody::Stream {
                rx,
                remaining,
                shared,
            } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                match rx.poll_recv(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Some(Ok(chunk))) => {
                        let n = chunk.len() as u64;
                        *remaining = remaining.saturating_sub(n);
                        stats::add(&shared.stats.bytes_sent, n);
                        Poll::Ready(Some(Ok(Frame::data(chunk))))
                    }
                    Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(None) => Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "object data ended early",
                    )))),
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            SimBody::Empty => true,
            SimBody::Full(d) => d.is_none(),
            SimBody::Stream { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            SimBody::Empty => SizeHint::with_exact(0),
            SimBody::Full(d) => SizeHint::with_exact(d.as_ref().map_or(0, |d| d.len() as u64)),
            SimBody::Stream { remaining, .. } => SizeHint::with_exact(*remaining),
        }
    }
}
