//! # vod-sim: a local ApsaraVideo VOD + OSS + STS service
//!
//! One HTTP port serves everything:
//!
//! * `/_sim/...`: the admin API (no auth): stats, fault injection, token expiry, throttling;
//! * `/?Action=...` (GET, or POST with the parameters in the query and/or a form body): the VOD
//!   (2017-03-21) and STS (2015-04-01) RPC APIs;
//! * everything else: OSS, path style (`/{bucket}/{key}`), or virtual-hosted style when the `Host`
//!   header carries a bucket label in front of an IP, `localhost` or an `aliyuncs.com` name.
//!
//! Signatures (OSS V1 and V4, VOD/STS RPC) are verified for the account key and for STS
//! credentials, like the real services. Objects and parts live on disk under the data directory
//! and are streamed in both directions, so GiB uploads do not grow the simulator's memory.
//!
//! The admin API (see the crate README for the full contract):
//!
//! * `GET /_sim/stats` ([`SimStats`]), `GET /_sim/info` ([`SimInfo`]);
//! * `POST /_sim/faults` ([`FaultRules`]), `GET /_sim/faults`, `DELETE /_sim/faults`;
//! * `POST /_sim/expire-tokens`;
//! * `POST /_sim/throttle` ([`ThrottleSettings`]), `GET /_sim/throttle`;
//! * `GET /_sim/requests` (the newest requests, [`RecordedRequest`]), `DELETE /_sim/requests`.
//!
//! Every admin call has a [`Simulator`] method for in-process use.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vod_sim::SimError> {
//! let sim = vod_sim::Simulator::start(vod_sim::SimConfig::default()).await?;
//! println!("{}", serde_json::to_string(sim.info()).unwrap());
//! sim.set_faults(vec![vod_sim::FaultRule::status("UploadPart", 503).with_count(1)]);
//! let stats = sim.stats();
//! # let _ = stats; Ok(()) }
//! ```

mod admin;
mod auth;
mod body;
mod faults;
mod oss;
mod requests;
mod rpc;
mod server;
mod state;
mod stats;
mod storage;
mod throttle;
mod tls;
mod util;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use faults::{FaultAction, FaultRule, FaultRules};
pub use requests::RecordedRequest;
pub use stats::SimStats;
pub use throttle::ThrottleSettings;
pub use tls::TlsOptions;

/// The region every endpoint of the simulator claims to be in.
pub const REGION: &str = "cn-shanghai";

/// Default lifetime of the STS credentials the simulator issues: VOD's upload credentials live
/// 3000 s.
pub const DEFAULT_TOKEN_TTL_SECS: u64 = 3000;

/// Everything the `vod-sim` command line accepts.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The address put in the endpoints it prints and in every UploadAddress it issues, with
    /// the port it listens on: what a phone or an emulator must connect to (`10.0.2.2` from
    /// the Android emulator, the laptop's LAN address from a device). `None`: the listen
    /// address (loopback when that is unspecified). An IP, not a name: clients use path-style
    /// addressing only for IP endpoints.
    pub advertise_ip: Option<std::net::IpAddr>,
    /// Where objects and parts are stored; `None` uses a temporary directory removed on drop.
    pub data_dir: Option<PathBuf>,
    /// Account AccessKeyId; generated when `None`.
    pub access_key_id: Option<String>,
    /// Account AccessKeySecret; generated when `None`.
    pub access_key_secret: Option<String>,
    /// Lifetime of the STS credentials issued in UploadAuth (and by AssumeRole without
    /// `DurationSeconds`).
    pub token_ttl: Duration,
    /// Initial request-body bandwidth limit in bytes per second, shared by all connections.
    pub bandwidth: Option<u64>,
    /// Initial delay added to every non-admin response.
    pub latency: Duration,
    /// Serve HTTPS instead of HTTP, with a certificate from a private CA generated at start
    /// ([`Simulator::tls_ca_pem`]); the endpoints then start with `https://`. `None`: plain HTTP.
    pub tls: Option<TlsOptions>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            advertise_ip: None,
            data_dir: None,
            access_key_id: None,
            access_key_secret: None,
            token_ttl: Duration::from_secs(DEFAULT_TOKEN_TTL_SECS),
            bandwidth: None,
            latency: Duration::ZERO,
            tls: None,
        }
    }
}

/// The JSON line `vod-sim` prints on start (field order and names are a contract).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimInfo {
    /// OSS endpoint, e.g. `http://127.0.0.1:PORT` (`https://` with [`SimConfig::tls`]; use
    /// path-style addressing).
    pub oss_endpoint: String,
    /// VOD RPC endpoint (same port).
    pub vod_endpoint: String,
    /// STS RPC endpoint (same port).
    pub sts_endpoint: String,
    /// Region, always [`REGION`].
    pub region: String,
    /// The account AccessKeyId.
    pub access_key_id: String,
    /// The account AccessKeySecret (the simulator's own test key, printed on purpose).
    pub access_key_secret: String,
}

/// What the simulator knows about a stored object (see [`Simulator::object_info`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// Size in bytes.
    pub size: u64,
    /// ETag as sent in headers (quoted).
    pub etag: String,
    /// CRC-64/XZ of the whole object (the `x-oss-hash-crc64ecma` value).
    pub crc64: u64,
    /// Stored Content-Type.
    pub content_type: String,
    /// `Normal` (PutObject) or `Multipart`.
    pub object_type: String,
}

/// Errors starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Binding the listen address failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Creating or preparing the data directory failed.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A runtime for [`Simulator::start_background`] could not be built.
    #[error("cannot start a runtime: {0}")]
    Runtime(std::io::Error),
}

/// A running simulator. Dropping it stops serving (and removes a temporary data directory).
pub struct Simulator {
    shared: Arc<state::Shared>,
    info: SimInfo,
    addr: SocketAddr,
    server: Option<tokio::task::JoinHandle<()>>,
    tls_ca_pem: Option<String>,
    // Only for `start_background`: the runtime the server runs on (dropped last).
    runtime: Option<tokio::runtime::Runtime>,
}

impl Simulator {
    /// Binds, then serves on the current tokio runtime until [`Simulator::shutdown`] or drop.
    ///
    /// With a `current_thread` runtime the server only makes progress while the test awaits
    /// something, so use an async HTTP client (or [`Simulator::start_background`]).
    pub async fn start(config: SimConfig) -> Result<Simulator, SimError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
        let tls = config.tls.as_ref().map(tls::SimTls::generate).transpose()?;
        let shared = Arc::new(state::Shared::new(&config, addr)?);
        let info = shared.info.clone();
        let (tls_ca_pem, acceptor) = match tls {
            Some(t) => (Some(t.ca_pem), Some(t.acceptor)),
            None => (None, None),
        };
        let server = tokio::spawn(server::accept_loop(listener, shared.clone(), acceptor));
        tracing::info!(%addr, data_dir = %shared.store.root().display(), "vod-sim listening");
        if !addr.ip().is_loopback() {
            tracing::warn!(
                %addr,
                "listening beyond loopback: anyone who can reach this address can use the \
                 unauthenticated admin API (/_sim/*) and read every object"
            );
        }
        Ok(Simulator {
            shared,
            info,
            addr,
            server: Some(server),
            tls_ca_pem,
            runtime: None,
        })
    }

    /// Starts the simulator on its own two-thread runtime, for synchronous tests and tools.
    pub fn start_background(config: SimConfig) -> Result<Simulator, SimError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("vod-sim")
            .enable_all()
            .build()
            .map_err(SimError::Runtime)?;
        let mut sim = runtime.block_on(Simulator::start(config))?;
        sim.runtime = Some(runtime);
        Ok(sim)
    }

    /// The endpoints and account key (exactly the JSON line the binary prints).
    pub fn info(&self) -> &SimInfo {
        &self.info
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The private CA that issued the HTTPS certificate, as PEM (`None` over plain HTTP): what a
    /// client must trust, e.g. in vod-upload's `Config::extra_root_certificates`.
    pub fn tls_ca_pem(&self) -> Option<&str> {
        self.tls_ca_pem.as_deref()
    }

    /// Base URL, e.g. `http://127.0.0.1:PORT` (`https://` with TLS).
    pub fn endpoint(&self) -> &str {
        &self.info.oss_endpoint
    }

    /// The region ([`REGION`]).
    pub fn region(&self) -> &str {
        &self.info.region
    }

    /// The account AccessKeyId.
    pub fn access_key_id(&self) -> &str {
        &self.info.access_key_id
    }

    /// The account AccessKeySecret.
    pub fn access_key_secret(&self) -> &str {
        &self.info.access_key_secret
    }

    /// The VOD storage bucket (`outin-<32 hex>`) every UploadAddress points at.
    pub fn vod_bucket(&self) -> &str {
        &self.shared.vod_bucket
    }

    /// Where objects and parts are stored.
    pub fn data_dir(&self) -> &Path {
        self.shared.store.root()
    }

    /// Current counters (same document as `GET /_sim/stats`).
    pub fn stats(&self) -> SimStats {
        self.shared.snapshot_stats()
    }

    /// Replaces the fault rules (same as `POST /_sim/faults`).
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        self.shared.faults.set(rules);
    }

    /// The current fault rules, with the counts left (same as `GET /_sim/faults`).
    pub fn faults(&self) -> Vec<FaultRule> {
        self.shared.faults.current()
    }

    /// Removes every fault rule (same as `DELETE /_sim/faults`).
    /// The newest requests received (up to 4096), oldest first; secrets redacted.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.snapshot()
    }

    /// The recorded requests of one operation (OSS operation or RPC `Action`).
    pub fn requests_of(&self, op: &str) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|r| r.op == op).collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.requests.clear();
    }

    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Expires every STS token issued so far (same as `POST /_sim/expire-tokens`); returns how
    /// many were still valid. The account key keeps working.
    pub fn expire_tokens(&self) -> usize {
        self.shared.creds.expire_all()
    }

    /// Sets the bandwidth limit and response latency (same as `POST /_sim/throttle`).
    pub fn throttle(&self, settings: ThrottleSettings) {
        self.shared.throttle.set(settings);
    }

    /// Issues fresh STS credentials (as AssumeRole would) valid for `ttl`, usable for OSS and
    /// VOD.
    pub fn issue_sts_credentials(&self, ttl: Duration) -> vod_upload::protocol::Credentials {
        stats::inc(&self.shared.stats.sts_tokens_issued);
        self.shared
            .creds
            .issue(ttl, auth::TokenScope::Role)
            .credentials()
    }

    /// The account key as client credentials.
    pub fn account_credentials(&self) -> vod_upload::protocol::Credentials {
        vod_upload::protocol::Credentials::access_key(
            self.info.access_key_id.clone(),
            self.info.access_key_secret.clone(),
        )
    }

    /// Size, ETag, CRC and type of a stored object, if it exists.
    pub fn object_info(&self, bucket: &str, key: &str) -> Option<ObjectInfo> {
        self.shared.store.get_object(bucket, key).map(|o| o.info())
    }

    /// Stops serving: aborts the accept loop and every open connection.
    pub async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some(runtime) = self.runtime.take() {
            // Safe to call from inside an async context, unlike dropping the runtime.
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .field("access_key_id", &self.info.access_key_id)
            .finish_non_exhaustive()
    }
}
