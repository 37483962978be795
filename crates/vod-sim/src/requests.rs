//! The request log: what each request carried (operation, parameters, headers), so tests
//! assert that a value reached the service in the request the native SDKs put it in. Secrets
//! (signatures, security tokens) are never kept.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The newest requests kept; older ones are dropped (a benchmark sends thousands).
const CAPACITY: usize = 4096;

/// Parameters and headers whose value is a secret or a signature over one.
const REDACTED: &[&str] = &[
    "signature",
    "securitytoken",
    "authorization",
    "x-oss-security-token",
];

/// One request as the simulator received it (`GET /_sim/requests`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// The OSS operation or RPC `Action` (as in [`crate::SimStats::ops`]).
    pub op: String,
    pub method: String,
    /// The `Host` header.
    pub host: String,
    pub path: String,
    /// RPC: every parameter (query and form). OSS: the query.
    pub params: BTreeMap<String, String>,
    /// Request headers, names lower-case.
    pub headers: BTreeMap<String, String>,
    /// Requests being handled when this one arrived, itself included (answers held back by
    /// the throttle's latency count until they are sent): how many a client had in flight.
    #[serde(default)]
    pub in_flight: u64,
}

impl RecordedRequest {
    pub(crate) fn new(
        op: &str,
        parts: &http::request::Parts,
        params: impl IntoIterator<Item = (String, String)>,
    ) -> RecordedRequest {
        let keep = |name: &str, value: String| {
            if REDACTED.contains(&name.to_ascii_lowercase().as_str()) {
                "(redacted)".to_owned()
            } else {
                value
            }
        };
        RecordedRequest {
            op: op.to_owned(),
            method: parts.method.as_str().to_owned(),
            host: super::server::host(parts).to_owned(),
            path: parts.uri.path().to_owned(),
            params: params
                .into_iter()
                .map(|(k, v)| {
                    let v = keep(&k, v);
                    (k, v)
                })
                .collect(),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| {
                    let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                    (k.as_str().to_owned(), keep(k.as_str(), v))
                })
                .collect(),
            in_flight: 0,
        }
    }

    /// A parameter (RPC) or query value (OSS).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// A header, by its lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

#[derive(Default)]
pub(crate) struct RequestLog {
    entries: Mutex<VecDeque<RecordedRequest>>,
}

impl RequestLog {
    pub(crate) fn push(&self, r: RecordedRequest) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() == CAPACITY {
            entries.pop_front();
        }
        entries.push_back(r);
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedRequest> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> http::request::Parts {
        http::Request::builder()
            .method("GET")
            .uri("/?Action=CreateUploadVideo")
            .header("Host", "vod.example")
            .header("Authorization", "OSS ak:sig")
            .header("x-oss-notification", "eyJ9")
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[test]
    fn secrets_are_redacted_and_the_rest_kept() {
        let r = RecordedRequest::new(
            "CreateUploadVideo",
            &parts(),
            [
                ("Title".to_owned(), "t".to_owned()),
                ("SecurityToken".to_owned(), "CAIS".to_owned()),
                ("Signature".to_owned(), "abc=".to_owned()),
            ],
        );
        assert_eq!(r.param("Title"), Some("t"));
        assert_eq!(r.param("SecurityToken"), Some("(redacted)"));
        assert_eq!(r.param("Signature"), Some("(redacted)"));
        assert_eq!(r.header("authorization"), Some("(redacted)"));
        assert_eq!(r.header("x-oss-notification"), Some("eyJ9"));
        assert_eq!((r.host.as_str(), r.path.as_str()), ("vod.example", "/"));
    }

    #[test]
    fn the_log_keeps_the_newest() {
        let log = RequestLog::default();
        for i in 0..CAPACITY + 3 {
            log.push(RecordedRequest::new(&i.to_string(), &parts(), []));
        }
        let all = log.snapshot();
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all[0].op, "3");
        log.clear();
        assert!(log.snapshot().is_empty());
    }
}
