//! Helpers for the simulator's HTTP tests: a reqwest client that signs with the protocol crate.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde_json::Value;
use vod_sim::{SimConfig, Simulator};
use vod_upload::protocol::SignatureVersion;
use vod_upload::protocol::credentials::Credentials;
use vod_upload::protocol::rpc::{percent_encode, signed_query};
use vod_upload::protocol::sign::{OssRequest, sign_request};

pub const REGION: &str = "cn-shanghai";

pub async fn start() -> Simulator {
    start_with(SimConfig::default()).await
}

pub async fn start_with(config: SimConfig) -> Simulator {
    Simulator::start(config).await.expect("simulator starts")
}

pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// Deterministic pseudo-random bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

pub fn crc(data: &[u8]) -> u64 {
    vod_upload::protocol::crc64::crc64(data)
}

/// One OSS request, path style, signed with `creds` (unsigned when `None`).
pub struct Oss<'a> {
    pub base: &'a str,
    pub creds: Option<&'a Credentials>,
    pub version: SignatureVersion,
    pub method: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    pub query: Vec<(String, Option<String>)>,
    pub headers: Vec<(&'a str, String)>,
    pub body: Bytes,
    pub now: SystemTime,
}

impl<'a> Oss<'a> {
    pub fn new(
        base: &'a str,
        creds: &'a Credentials,
        method: &'a str,
        bucket: &'a str,
        key: &'a str,
    ) -> Oss<'a> {
        Oss {
            base,
            creds: Some(creds),
            version: SignatureVersion::V1,
            method,
            bucket,
            key,
            query: Vec::new(),
            headers: Vec::new(),
            body: Bytes::new(),
            now: SystemTime::now(),
        }
    }

    pub fn v4(mut self) -> Self {
        self.version = SignatureVersion::V4;
        self
    }

    pub fn version(mut self, v: SignatureVersion) -> Self {
        self.version = v;
        self
    }

    /// Adds a query parameter (`None` = bare name, like `?uploads`).
    pub fn q(mut self, name: &str, value: Option<&str>) -> Self {
        self.query.push((name.to_owned(), value.map(str::to_owned)));
        self
    }

    pub fn h(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    pub fn at(mut self, now: SystemTime) -> Self {
        self.now = now;
        self
    }

    pub async fn send(self, http: &reqwest::Client) -> reqwest::Response {
        let mut req = OssRequest::new(self.method, Some(self.bucket), Some(self.key));
        for (k, v) in &self.query {
            req = req.with_query(k, v.as_deref());
        }
        for (k, v) in &self.headers {
            req.set_header(k, v.clone());
        }
        if let Some(creds) = self.creds {
            sign_request(&mut req, creds, self.version, REGION, self.now);
        }
        let path: String = self
            .key
            .split('/')
            .map(percent_encode)
            .collect::<Vec<_>>()
            .join("/");
        let mut url = format!("{}/{}/{}", self.base, self.bucket, path);
        if !self.query.is_empty() {
            let q: Vec<String> = self
                .query
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("{}={}", percent_encode(k), percent_encode(v)),
                    None => percent_encode(k),
                })
                .collect();
            url.push('?');
            url.push_str(&q.join("&"));
        }
        let method = reqwest::Method::from_bytes(self.method.as_bytes()).unwrap();
        let mut rb = http.request(method, url);
        for (k, v) in &req.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        rb.body(self.body).send().await.expect("request sent")
    }
}

pub fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `<Tag>value</Tag>` from an XML body.
pub fn xml_field(body: &str, tag: &str) -> Option<String> {
    let start = body.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(body[start..end].to_owned())
}

/// Asserts an OSS error response and returns its body.
pub async fn expect_oss_error(resp: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(resp.status().as_u16(), status, "status for {code}");
    assert!(header(&resp, "x-oss-request-id").is_some());
    let body = resp.text().await.unwrap();
    assert_eq!(xml_field(&body, "Code").as_deref(), Some(code), "{body}");
    body
}

/// Signed RPC call; returns the HTTP status and the JSON body.
pub async fn rpc(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    creds: &Credentials,
    params: &[(&str, &str)],
) -> (u16, Value) {
    let params: BTreeMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let query = signed_query(method, &params, creds, SystemTime::now(), &uuid_like());
    let url = format!("{base}/?{query}");
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let resp = http.request(m, url).send().await.expect("rpc sent");
    let status = resp.status().as_u16();
    let body: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).expect("json body");
    (status, body)
}

pub fn uuid_like() -> String {
    format!("{:032x}", fastrand::u128(..))
}

pub fn vod(action: &str) -> Vec<(&str, &str)> {
    vec![("Action", action), ("Version", "2017-03-21")]
}

pub async fn json(resp: reqwest::Response) -> Value {
    serde_json::from_slice(&resp.bytes().await.unwrap()).expect("json body")
}

pub async fn stats(http: &reqwest::Client, base: &str) -> Value {
    json(http.get(format!("{base}/_sim/stats")).send().await.unwrap()).await
}

pub async fn admin_post(http: &reqwest::Client, base: &str, path: &str, body: Value) -> Value {
    let resp = http
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    json(resp).await
}
