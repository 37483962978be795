//! Counters of what actually reached the server.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// The `GET /_sim/stats` document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// Every HTTP request received (admin requests included).
    pub requests: u64,
    /// Request body bytes read, including bodies of requests later rejected or reset.
    pub bytes_received: u64,
    /// Object data read from PutObject and UploadPart bodies, cut-off and rejected bodies
    /// included; documents, RPC forms and admin calls are not. "Bytes sent twice" is this
    /// minus the file's size.
    #[serde(default)]
    pub object_bytes_received: u64,
    /// Response body bytes sent (GetObject content and documents).
    pub bytes_sent: u64,
    /// Successful UploadPart calls (a re-uploaded part counts again).
    pub parts_uploaded: u64,
    /// Objects currently stored, all buckets.
    pub objects: u64,
    /// Multipart uploads initiated and neither completed nor aborted.
    pub multipart_uploads_in_progress: u64,
    /// Successful PutObject calls.
    pub put_objects: u64,
    /// Successful InitiateMultipartUpload calls.
    pub multipart_uploads_initiated: u64,
    /// Successful CompleteMultipartUpload calls.
    pub multipart_uploads_completed: u64,
    /// Successful AbortMultipartUpload calls.
    pub multipart_uploads_aborted: u64,
    /// Responses with status >= 400.
    pub error_responses: u64,
    /// Fault rules that fired (delays included).
    pub faults_injected: u64,
    /// Connections dropped on purpose by `reset` faults.
    pub connections_reset: u64,
    /// The most OSS and VOD requests (admin calls excluded) handled at once, each from its
    /// request head to its response (body, storage and added latency included).
    #[serde(default)]
    pub requests_in_flight_peak: u64,
    /// TCP connections accepted.
    pub connections: u64,
    /// STS credentials issued (AssumeRole and UploadAuth).
    pub sts_tokens_issued: u64,
    /// Videos created by CreateUploadVideo.
    pub videos: u64,
    /// Images created by CreateUploadImage.
    pub images: u64,
    /// Requests per operation name (OSS operation or RPC Action; `Admin` for `/_sim`).
    pub ops: BTreeMap<String, u64>,
    /// Responses per HTTP status (as a string key).
    pub statuses: BTreeMap<String, u64>,
}

/// Live counters; a [`SimStats`] is assembled from these plus the store's sizes.
#[derive(Default)]
pub(crate) struct Stats {
    pub requests: AtomicU64,
    pub bytes_received: AtomicU64,
    pub object_bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub parts_uploaded: AtomicU64,
    pub put_objects: AtomicU64,
    pub initiated: AtomicU64,
    pub completed: AtomicU64,
    pub aborted: AtomicU64,
    pub error_responses: AtomicU64,
    pub faults_injected: AtomicU64,
    pub connections_reset: AtomicU64,
    in_flight: AtomicU64,
    in_flight_peak: AtomicU64,
    pub connections: AtomicU64,
    pub sts_tokens_issued: AtomicU64,
    pub videos: AtomicU64,
    pub images: AtomicU64,
    ops: Mutex<BTreeMap<String, u64>>,
    statuses: Mutex<BTreeMap<String, u64>>,
}

pub(crate) fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// A request being handled; counted in [`Stats`] until dropped.
pub(crate) struct InFlight<'a>(&'a Stats);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Stats {
    /// Counts a request in flight until the guard is dropped.
    pub fn enter(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.in_flight_peak.fetch_max(now, Ordering::Relaxed);
        InFlight(self)
    }

    /// Requests being handled now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn op(&self, name: &str) {
        let mut ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        *ops.entry(name.to_owned()).or_default() += 1;
    }

    pub fn status(&self, status: u16) {
        if status >= 400 {
            inc(&self.error_responses);
        }
        let mut statuses = self.statuses.lock().unwrap_or_else(|e| e.into_inner());
        *statuses.entry(status.to_string()).or_default() += 1;
    }

    pub fn snapshot(&self, objects: u64, uploads: u64) -> SimStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SimStats {
            requests: get(&self.requests),
            bytes_received: get(&self.bytes_received),
            object_bytes_received: get(&self.object_bytes_received),
            bytes_sent: get(&self.bytes_sent),
            parts_uploaded: get(&self.parts_uploaded),
            objects,
            multipart_uploads_in_progress: uploads,
            put_objects: get(&self.put_objects),
            multipart_uploads_initiated: get(&self.initiated),
            multipart_uploads_completed: get(&self.completed),
            multipart_uploads_aborted: get(&self.aborted),
            error_responses: get(&self.error_responses),
            faults_injected: get(&self.faults_injected),
            connections_reset: get(&self.connections_reset),
            requests_in_flight_peak: get(&self.in_flight_peak),
            connections: get(&self.connections),
            sts_tokens_issued: get(&self.sts_tokens_issued),
            videos: get(&self.videos),
            images: get(&self.images),
            ops: self.ops.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            statuses: self
                .statuses
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}
