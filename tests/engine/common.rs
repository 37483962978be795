//! Test harness: an in-process vod-sim, an engine wired to it, and an event recorder that
//! tests wait on (bounded; never a sleep).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tempfile::TempDir;
use tokio::sync::Notify;
use vod_sim::{SimConfig, Simulator};
use vod_upload::protocol::credentials::Credentials;
use vod_upload::protocol::sign::{OssRequest, sign_request};
use vod_upload::protocol::{SignatureVersion, credentials::Secret};
use vod_upload::transport::vod::VodClient;
use vod_upload::{Config, Engine, Event, EventListener, FileInfo, UploadTarget, VodInfo};

/// How long a test waits for an event before failing.
pub const WAIT: Duration = Duration::from_secs(60);

pub struct Harness {
    pub sim: Arc<Simulator>,
    pub dir: TempDir,
    pub engine: Engine,
    pub events: Arc<Recorder>,
    pub config: Config,
}

impl Harness {
    /// A simulator and an engine (mode 2 with the account key unless `mode1`).
    pub async fn new(tweak: impl FnOnce(&mut Config)) -> Harness {
        Self::with_sim(SimConfig::default(), tweak).await
    }

    pub async fn with_sim(sim_config: SimConfig, tweak: impl FnOnce(&mut Config)) -> Harness {
        let sim = Arc::new(
            Simulator::start(sim_config)
                .await
                .expect("simulator starts"),
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(&sim, &dir);
        tweak(&mut config);
        let (engine, events) = open_engine(&config);
        Harness {
            sim,
            dir,
            engine,
            events,
            config,
        }
    }

    /// Mode 2 with the simulator's account key (as the native `init(ak, secret)`).
    pub fn use_account_key(&self) {
        let info = self.sim.info();
        self.engine
            .set_sts_token(
                info.access_key_id.clone(),
                info.access_key_secret.clone(),
                None,
                None,
            )
            .expect("credentials accepted");
    }

    /// Drops the engine (as a killed app would lose it) and opens a new one on the same
    /// database.
    pub fn reopen(&mut self) {
        self.engine.shutdown();
        let (engine, events) = open_engine(&self.config);
        self.engine = engine;
        self.events = events;
    }

    pub fn file(&self, name: &str, size: usize) -> (PathBuf, Vec<u8>) {
        write_file(self.dir.path(), name, size)
    }

    /// Limits the simulator's bandwidth (bytes/s; `None`: unlimited), without latency.
    pub fn throttle(&self, bandwidth: Option<u64>) {
        self.sim.throttle(vod_sim::ThrottleSettings {
            bandwidth,
            latency_ms: 0,
        });
    }

    pub fn add(&self, path: &Path) -> String {
        self.engine
            .add_file(
                path.to_owned(),
                UploadTarget::for_path(path),
                VodInfo::default(),
            )
            .expect("file added")
    }

    /// Reads an object back from the simulator (signed GET with the account key).
    pub async fn read_back(&self, info: &FileInfo) -> Vec<u8> {
        let bucket = info.bucket.clone().expect("bucket known");
        let key = info.object.clone().expect("object known");
        get_object(&self.sim, &bucket, &key).await
    }

    /// The app's server (mode 1): VOD calls with the account key, as a real app server makes.
    pub fn app_server(&self) -> (VodClient, Credentials) {
        let http =
            vod_upload::transport::http::build_client(&vod_upload::transport::http::HttpConfig {
                connect_timeout: Duration::from_secs(5),
                request_timeout: Duration::from_secs(30),
                stall_timeout: Duration::from_secs(30),
                allow_http: true,
                ..Default::default()
            })
            .expect("HTTP client");
        let vod = VodClient::new(
            http,
            self.sim.info().vod_endpoint.parse().expect("endpoint"),
        );
        (vod, self.sim.account_credentials())
    }

    pub async fn wait_until(&self, what: &str, f: impl Fn(&Harness) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if f(self) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            // Polls state that has no event of its own (server counters); bounded by WAIT.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub fn test_config(sim: &Simulator, dir: &TempDir) -> Config {
    Config {
        database_path: Some(dir.path().join("uploads.db")),
        part_size: 100 * 1024,
        parallel_parts: 3,
        retry_limit: 20,
        retry_base_interval: Duration::from_millis(10),
        retry_max_interval: Duration::from_millis(100),
        progress_interval: Duration::from_millis(10),
        vod_endpoint: Some(sim.info().vod_endpoint.clone()),
        region: sim.info().region.clone(),
        allow_http: true,
        ..Config::default()
    }
}

pub fn open_engine(config: &Config) -> (Engine, Arc<Recorder>) {
    let engine =
        Engine::new(config.clone(), tokio::runtime::Handle::current()).expect("engine opens");
    let events = Arc::new(Recorder::default());
    engine.subscribe(events.clone()).detach();
    (engine, events)
}

pub fn write_file(dir: &Path, name: &str, size: usize) -> (PathBuf, Vec<u8>) {
    let mut rng = fastrand::Rng::with_seed(size as u64 ^ name.len() as u64);
    let data: Vec<u8> = (0..size).map(|_| rng.u8(..)).collect();
    let path = dir.join(name);
    std::fs::write(&path, &data).expect("test file written");
    (path, data)
}

/// GetObject with the simulator's account key, signed by our own V1 signer.
pub async fn get_object(sim: &Simulator, bucket: &str, key: &str) -> Vec<u8> {
    let info = sim.info();
    let creds = Credentials {
        access_key_id: info.access_key_id.clone(),
        access_key_secret: Secret::new(info.access_key_secret.clone()),
        security_token: None,
        expires_at: None,
    };
    let mut req = OssRequest {
        method: "GET".into(),
        bucket: Some(bucket.into()),
        key: Some(key.into()),
        query: Vec::new(),
        headers: Default::default(),
    };
    sign_request(
        &mut req,
        &creds,
        SignatureVersion::V1,
        &info.region,
        SystemTime::now(),
    );
    let encoded: String = key
        .split('/')
        .map(|s| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        })
        .collect::<Vec<_>>()
        .join("/");
    let url = format!("{}/{bucket}/{encoded}", info.oss_endpoint);
    let client =
        vod_upload::transport::http::build_client(&vod_upload::transport::http::HttpConfig {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(30),
            allow_http: true,
            ..Default::default()
        })
        .expect("HTTP client");
    let mut builder = client.get(url);
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let resp = builder.send().await.expect("GET sent");
    assert!(
        resp.status().is_success(),
        "GET {bucket}/{key}: {}",
        resp.status()
    );
    resp.bytes().await.expect("GET body").to_vec()
}

/// Records events; tests wait on them with a bound.
#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
    changed: Notify,
}

impl EventListener for Recorder {
    fn on_event(&self, event: Event) {
        self.events.lock().unwrap().push(event);
        self.changed.notify_waiters();
    }
}

impl Recorder {
    pub fn all(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    pub fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.lock().unwrap().iter().filter(|e| f(e)).count()
    }

    /// Waits (bounded) until `f` holds for the events so far.
    pub async fn wait_for(&self, what: &str, f: impl Fn(&[Event]) -> bool) {
        let result = tokio::time::timeout(WAIT, async {
            loop {
                let notified = self.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if f(&self.events.lock().unwrap()) {
                    return;
                }
                notified.await;
            }
        })
        .await;
        if result.is_err() {
            panic!(
                "timed out waiting for {what}; events: {:#?}",
                self.summary()
            );
        }
    }

    pub async fn wait_succeeded(&self, id: &str) -> vod_upload::UploadResult {
        self.wait_for(&format!("{id} to succeed or fail"), |ev| {
            ev.iter().any(|e| matches!(e, Event::Succeeded { file, .. } | Event::Failed { file, .. } if file.id == id))
        })
        .await;
        for e in self.all() {
            match e {
                Event::Succeeded { file, result } if file.id == id => return result,
                Event::Failed {
                    file,
                    code,
                    message,
                } if file.id == id => {
                    panic!("{id} failed: {code}: {message}")
                }
                _ => {}
            }
        }
        unreachable!()
    }

    pub async fn wait_progress(&self, id: &str, at_least: u64) {
        self.wait_for(&format!("{id} progress >= {at_least}"), |ev| {
            ev.iter().any(|e| matches!(e, Event::Progress { file, uploaded, .. } if file == id && *uploaded >= at_least))
        })
        .await;
    }

    /// A compact event log for failure messages.
    pub fn summary(&self) -> Vec<String> {
        self.all()
            .iter()
            .filter(|e| !matches!(e, Event::Progress { .. }))
            .map(|e| match e {
                Event::Started { file } => format!("started {}", file.id),
                Event::Succeeded { file, .. } => format!("succeeded {}", file.id),
                Event::Failed {
                    file,
                    code,
                    message,
                } => format!("failed {} {code}: {message}", file.id),
                Event::Canceled { file, deleted } => {
                    format!("canceled {} deleted={deleted}", file.id)
                }
                Event::TokenExpired { file } => format!("token_expired {}", file.id),
                Event::Retry { file, code, .. } => format!("retry {} {code}", file.id),
                Event::RetryResume { file } => format!("retry_resume {}", file.id),
                Event::Waiting { file, reason } => format!("waiting {} {reason:?}", file.id),
                Event::AllDone => "all_done".into(),
                Event::Progress { .. } => unreachable!(),
            })
            .collect()
    }
}

/// Progress events of one file are monotonic and never above the total.
pub fn assert_progress_sane(events: &[Event], id: &str) {
    let mut last = 0;
    for e in events {
        if let Event::Progress {
            file,
            uploaded,
            total,
        } = e
            && file == id
        {
            assert!(uploaded <= total, "progress {uploaded} above total {total}");
            assert!(
                *uploaded >= last,
                "progress went back from {last} to {uploaded}"
            );
            last = *uploaded;
        }
    }
}
