//! State shared by every connection.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::Credentials;
use crate::faults::Faults;
use crate::requests::RequestLog;
use crate::rpc::Vod;
use crate::stats::Stats;
use crate::storage::Store;
use crate::throttle::{Throttle, ThrottleSettings};
use crate::{REGION, SimConfig, SimError, SimInfo, SimStats, util};

pub(crate) struct Shared {
    pub info: SimInfo,
    pub creds: Credentials,
    pub store: Store,
    pub stats: Stats,
    pub requests: RequestLog,
    pub faults: Faults,
    pub throttle: Throttle,
    pub vod: Vod,
    pub token_ttl: Duration,
    /// The VOD storage bucket, fixed per simulator.
    pub vod_bucket: String,
    // Kept alive so a temporary data directory lives as long as the simulator.
    _temp_dir: Option<tempfile::TempDir>,
}

fn endpoint(addr: SocketAddr, advertise_ip: Option<std::net::IpAddr>, tls: bool) -> String {
    let ip = advertise_ip.unwrap_or(addr.ip());
    // Clients cannot connect to the unspecified address; point them at loopback.
    let host = if ip.is_unspecified() {
        if ip.is_ipv4() {
            "127.0.0.1".to_owned()
        } else {
            "[::1]".to_owned()
        }
    } else if ip.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{host}:{}", addr.port())
}

impl Shared {
    pub fn new(config: &SimConfig, addr: SocketAddr) -> Result<Shared, SimError> {
        let (temp_dir, root): (Option<tempfile::TempDir>, PathBuf) = match &config.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| SimError::DataDir {
                    path: dir.clone(),
                    source,
                })?;
                (None, dir.clone())
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("vod-sim-")
                    .tempdir()
                    .map_err(|source| SimError::DataDir {
                        path: std::env::temp_dir(),
                        source,
                    })?;
                let p = t.path().to_owned();
                (Some(t), p)
            }
        };
        let store = Store::open(&root).map_err(|source| SimError::DataDir {
            path: root.clone(),
            source,
        })?;
        let access_key_id = match &config.access_key_id {
            Some(id) if id.is_empty() => {
                return Err(SimError::Config("empty access key id".into()));
            }
            Some(id) => id.clone(),
            None => format!("LTAI5t{}", util::alnum(18)),
        };
        let access_key_secret = match &config.access_key_secret {
            Some(s) if s.is_empty() => {
                return Err(SimError::Config("empty access key secret".into()));
            }
            Some(s) => s.clone(),
            None => util::alnum(30),
        };
        if access_key_id.starts_with("STS.") {
            return Err(SimError::Config(
                "the account access key id must not start with STS.".into(),
            ));
        }
        let base = endpoint(addr, config.advertise_ip, config.tls.is_some());
        let info = SimInfo {
            oss_endpoint: base.clone(),
            vod_endpoint: base.clone(),
            sts_endpoint: base,
            region: REGION.to_owned(),
            access_key_id: access_key_id.clone(),
            access_key_secret: access_key_secret.clone(),
        };
        let vod_bucket = format!("outin-{}", util::hex_lower(32));
        store.ensure_bucket(&vod_bucket);
        Ok(Shared {
            info,
            creds: Credentials::new(access_key_id, access_key_secret),
            store,
            stats: Stats::default(),
            requests: RequestLog::default(),
            faults: Faults::default(),
            throttle: Throttle::new(ThrottleSettings {
                bandwidth: config.bandwidth,
                latency_ms: u64::try_from(config.latency.as_millis()).unwrap_or(u64::MAX),
            }),
            vod: Vod::default(),
            token_ttl: config.token_ttl,
            vod_bucket,
            _temp_dir: temp_dir,
        })
    }

    pub fn snapshot_stats(&self) -> SimStats {
        let (objects, uploads) = self.store.counts();
        self.stats.snapshot(objects, uploads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = |addr: &str, advertise: Option<&str>| {
            endpoint(
                addr.parse().unwrap(),
                advertise.map(|a| a.parse().unwrap()),
                false,
            )
        };
        assert_eq!(e("127.0.0.1:80", None), "http://127.0.0.1:80");
        assert_eq!(e("0.0.0.0:81", None), "http://127.0.0.1:81");
        assert_eq!(e("[::1]:82", None), "http://[::1]:82");
        assert_eq!(e("0.0.0.0:83", Some("10.0.2.2")), "http://10.0.2.2:83");
        assert_eq!(e("[::]:84", Some("fd00::1")), "http://[fd00::1]:84");
        assert_eq!(
            endpoint("127.0.0.1:85".parse().unwrap(), None, true),
            "https://127.0.0.1:85"
        );
    }
}
