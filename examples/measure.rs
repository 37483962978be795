//! Measures what issue 4 asks to measure, against a `vod-sim` process on 127.0.0.1:
//!
//! 1. bytes re-sent after the engine is dropped mid-upload and reopened on the same database;
//! 2. time from `set_network_state(cellular)` to the last byte the server receives;
//! 3. peak memory (VmHWM of this process, which runs only the engine) for a 1 GiB upload.
//!
//! Run: `cargo build --release -p vod-sim && cargo run --release --example measure`
//! (`VOD_SIM=/path/to/vod-sim` overrides the simulator binary; `MEASURE_GIB=4` uploads 4 GiB
//! for the memory measurement).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vod_upload::{
    Config, Engine, Event, EventListener, NetworkState, NetworkType, UploadTarget, VodInfo,
};

const MIB: u64 = 1024 * 1024;

struct Sim {
    child: Child,
    info: serde_json::Value,
    http: reqwest::Client,
}

impl Sim {
    fn start(bandwidth: Option<u64>) -> Sim {
        let bin = std::env::var("VOD_SIM")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                let exe = std::env::current_exe().expect("own path");
                // target/release/examples/measure -> target/release/vod-sim
                exe.parent()
                    .and_then(Path::parent)
                    .expect("target dir")
                    .join("vod-sim")
            });
        let mut cmd = Command::new(&bin);
        if let Some(b) = bandwidth {
            cmd.arg("--bandwidth").arg(b.to_string());
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e} (build it: cargo build --release -p vod-sim)",
                    bin.display()
                )
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("first line");
        let info: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
        let http =
            vod_upload::transport::http::build_client(&vod_upload::transport::http::HttpConfig {
                connect_timeout: Duration::from_secs(5),
                request_timeout: Duration::from_secs(30),
                stall_timeout: Duration::from_secs(30),
                allow_http: true,
            })
            .expect("client");
        Sim { child, info, http }
    }

    fn s(&self, k: &str) -> String {
        self.info[k].as_str().expect("string field").to_owned()
    }

    async fn bytes_received(&self) -> u64 {
        let url = format!("{}/_sim/stats", self.s("oss_endpoint"));
        let body = self
            .http
            .get(url)
            .send()
            .await
            .expect("stats")
            .bytes()
            .await
            .expect("stats body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("stats JSON");
        v["bytes_received"].as_u64().expect("bytes_received")
    }

    fn engine(&self, db: &Path, listener: Arc<Waiter>) -> Engine {
        let config = Config {
            database_path: Some(db.to_owned()),
            vod_endpoint: Some(self.s("vod_endpoint")),
            allow_http: true,
            network_policy: vod_upload::NetworkPolicy::WifiOnly,
            ..Config::default()
        };
        let engine = Engine::new(config, tokio::runtime::Handle::current()).expect("engine");
        engine.set_listener(Some(listener));
        engine
            .set_sts_token(
                self.s("access_key_id"),
                self.s("access_key_secret"),
                None,
                None,
            )
            .expect("key");
        engine
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Default)]
struct Waiter {
    uploaded: Mutex<u64>,
    done: tokio::sync::Notify,
    failed: Mutex<Option<String>>,
}

impl EventListener for Waiter {
    fn on_event(&self, event: Event) {
        match event {
            Event::Progress { uploaded, .. } => *self.uploaded.lock().unwrap() = uploaded,
            Event::Succeeded { .. } => self.done.notify_waiters(),
            Event::Failed { code, message, .. } => {
                *self.failed.lock().unwrap() = Some(format!("{code}: {message}"));
                self.done.notify_waiters();
            }
            _ => {}
        }
    }
}

impl Waiter {
    async fn until_uploaded(&self, at_least: u64) {
        while *self.uploaded.lock().unwrap() < at_least {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn sparse_file(dir: &Path, name: &str, size: u64) -> PathBuf {
    let path = dir.join(name);
    let f = std::fs::File::create(&path).expect("file");
    f.set_len(size).expect("size");
    path
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn upload(engine: &Engine, waiter: &Waiter, path: &Path) {
    let notified = waiter.done.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    engine
        .add_file(path.to_owned(), UploadTarget::Video, VodInfo::default())
        .expect("add");
    engine.start().expect("start");
    notified.await;
    if let Some(f) = waiter.failed.lock().unwrap().take() {
        panic!("upload failed: {f}");
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");

    // 1. Bytes re-sent after the engine is dropped mid-upload (64 MiB, 1 MiB parts, 5 parallel).
    {
        let sim = Sim::start(Some(40 * MIB));
        let size = 64 * MIB;
        let path = sparse_file(dir.path(), "resend.mp4", size);
        let db = dir.path().join("resend.db");
        let waiter = Arc::new(Waiter::default());
        let engine = sim.engine(&db, waiter.clone());
        engine
            .add_file(path.clone(), UploadTarget::Video, VodInfo::default())
            .expect("add");
        engine.start().expect("start");
        waiter.until_uploaded(size / 2).await;
        engine.shutdown();
        drop(engine);
        let waiter = Arc::new(Waiter::default());
        let engine = sim.engine(&db, waiter.clone());
        let notified = waiter.done.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        engine.start().expect("start");
        notified.await;
        let received = sim.bytes_received().await;
        println!(
            "re-sent after drop mid-upload: {} bytes ({:.2} parts of 1 MiB) for a {} MiB file",
            received - size,
            (received - size) as f64 / MIB as f64,
            size / MIB
        );
    }

    // 2. Time from set_network_state(cellular) to the last byte received (40 MiB/s link).
    {
        let sim = Sim::start(Some(40 * MIB));
        let size = 256 * MIB;
        let path = sparse_file(dir.path(), "cut.mp4", size);
        let waiter = Arc::new(Waiter::default());
        let engine = sim.engine(&dir.path().join("cut.db"), waiter.clone());
        engine.set_network_state(NetworkState {
            network_type: NetworkType::Wifi,
            metered: false,
            roaming: false,
            validated: true,
        });
        engine
            .add_file(path, UploadTarget::Video, VodInfo::default())
            .expect("add");
        engine.start().expect("start");
        waiter.until_uploaded(32 * MIB).await;
        let before = sim.bytes_received().await;
        let t0 = Instant::now();
        engine.set_network_state(NetworkState {
            network_type: NetworkType::Cellular,
            metered: true,
            roaming: false,
            validated: true,
        });
        let returned = t0.elapsed();
        let (mut last, mut last_change) = (before, Duration::ZERO);
        while t0.elapsed() < Duration::from_secs(3) {
            let now = sim.bytes_received().await;
            if now != last {
                last = now;
                last_change = t0.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        println!(
            "cellular cut: set_network_state returned in {returned:?}; last byte received {last_change:?} after it; {} bytes arrived after the call (in flight at the switch)",
            last - before
        );
        engine.shutdown();
    }

    // 3. Peak memory of the engine process for a 1 GiB (or MEASURE_GIB) upload.
    {
        let gib: u64 = std::env::var("MEASURE_GIB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let sim = Sim::start(None);
        let size = gib * 1024 * MIB;
        let path = sparse_file(dir.path(), "big.mp4", size);
        let waiter = Arc::new(Waiter::default());
        let engine = sim.engine(&dir.path().join("big.db"), waiter.clone());
        let before = vm_hwm_kib();
        let t0 = Instant::now();
        upload(&engine, &waiter, &path).await;
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "{gib} GiB upload: {:.1} s ({:.0} MiB/s); peak RSS of the engine process {} KiB (before the upload {} KiB)",
            secs,
            size as f64 / MIB as f64 / secs,
            vm_hwm_kib(),
            before
        );
    }
}
