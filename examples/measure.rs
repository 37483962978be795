//! Measures what issue 4 asks to measure, against a `vod-sim` process on 127.0.0.1:
//!
//! 1. bytes re-sent after the engine is dropped mid-upload and reopened on the same database;
//! 2. time from `set_network_state(cellular)` to the last byte the server receives;
//! 3. peak memory (VmHWM of this process, which runs only the engine) for a 1 GiB upload;
//!    `rss-source` measures the same upload added by URI and read through an app-supplied
//!    `ByteSource` (as Android's `content://` Uris are): run it as its own process to compare;
//! 4. `verify`: the resume check's cost per GiB (the checkpointed parts re-read and their CRC-64
//!    compared before a restarted upload continues): one sequential pass, as the worker does.
//! 5. `db`: the state database's size after MEASURE_UPLOADS (default 5,000) uploads of 120 KiB
//!    (two parts each), then after a restart that removes the succeeded files
//!    (`keep_succeeded`).
//!
//! Run: `cargo build --release -p vod-sim && cargo run --release --example measure`
//! (`VOD_SIM=/path/to/vod-sim` overrides the simulator binary; `MEASURE_GIB=4` uploads 4 GiB
//! for the memory measurement).
//!
//! Options (for bench/run.sh; without them it runs the three measurements above once):
//! `measure [--sim-info JSON] [--bandwidth B] [--latency-ms MS] [--trials N] [--json]
//! [resend] [cut] [rss]`. `--sim-info` (the simulator's start-up line) uses a running simulator
//! instead of starting one, and then `--bandwidth`/`--latency-ms` are set through
//! `POST /_sim/throttle` (and cleared at the end). `--trials` repeats the cellular cut, each time
//! after a different amount uploaded (4 to 12 MiB, so the cut lands at different points of the
//! parts in flight). `--json` prints one JSON object per measurement instead of a sentence.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vod_upload::{
    ByteSource, Config, Engine, Event, EventListener, FileSource, NetworkState, NetworkType,
    SourceOpener, UploadTarget, VodInfo,
};

const MIB: u64 = 1024 * 1024;

struct Sim {
    child: Option<Child>,
    info: serde_json::Value,
    http: reqwest::Client,
}

fn admin_client() -> reqwest::Client {
    vod_upload::transport::http::build_client(&vod_upload::transport::http::HttpConfig {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
        stall_timeout: Duration::from_secs(30),
        allow_http: true,
        ..Default::default()
    })
    .expect("client")
}

impl Sim {
    /// A simulator another process runs (its start-up JSON line).
    fn external(info: &str) -> Sim {
        let info: serde_json::Value = serde_json::from_str(info).expect("--sim-info JSON");
        Sim {
            child: None,
            info,
            http: admin_client(),
        }
    }

    /// Sets the link (`POST /_sim/throttle`): bandwidth in bytes/s (None: unlimited), latency.
    async fn throttle(&self, bandwidth: Option<u64>, latency_ms: u64) {
        let url = format!("{}/_sim/throttle", self.s("oss_endpoint"));
        let body = serde_json::json!({"bandwidth": bandwidth, "latency_ms": latency_ms});
        let status = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("throttle")
            .status();
        assert!(status.is_success(), "POST /_sim/throttle: {status}");
    }

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
        Sim {
            child: Some(child),
            info,
            http: admin_client(),
        }
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
        engine.subscribe(listener).detach();
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
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Counts successes and wakes on `AllDone`.
#[derive(Default)]
struct AllDone {
    succeeded: std::sync::atomic::AtomicUsize,
    done: tokio::sync::Notify,
}

impl EventListener for AllDone {
    fn on_event(&self, event: Event) {
        match event {
            Event::Succeeded { .. } => {
                self.succeeded
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Event::AllDone => self.done.notify_waiters(),
            _ => {}
        }
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
    upload_source(engine, waiter, FileSource::Path(path.to_owned())).await
}

async fn upload_source(engine: &Engine, waiter: &Waiter, source: FileSource) {
    let notified = waiter.done.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    engine
        .add_file(source, UploadTarget::Video, VodInfo::default())
        .expect("add");
    engine.start();
    notified.await;
    if let Some(f) = waiter.failed.lock().unwrap().take() {
        panic!("upload failed: {f}");
    }
}

/// An app-style byte source: positional reads of a file it opened itself.
struct PreadOpener(PathBuf);

struct PreadSource(std::fs::File);

impl SourceOpener for PreadOpener {
    fn open(&self, _uri: &str) -> std::io::Result<Arc<dyn ByteSource>> {
        Ok(Arc::new(PreadSource(std::fs::File::open(&self.0)?)))
    }
}

impl ByteSource for PreadSource {
    fn size(&self) -> std::io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(&self.0, buf, offset)
    }
    fn version(&self) -> std::io::Result<Option<String>> {
        Ok(None)
    }
    fn name(&self) -> Option<String> {
        Some("big.mp4".into())
    }
}

/// Command-line options (see the module docs).
#[derive(Default)]
struct Opts {
    sim_info: Option<String>,
    bandwidth: Option<u64>,
    latency_ms: u64,
    trials: u32,
    json: bool,
    sections: Vec<String>,
}

fn opts() -> Opts {
    let mut o = Opts {
        trials: 1,
        ..Opts::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match a.as_str() {
            "--sim-info" => o.sim_info = Some(value("--sim-info")),
            "--bandwidth" => o.bandwidth = Some(value("--bandwidth").parse().expect("--bandwidth")),
            "--latency-ms" => o.latency_ms = value("--latency-ms").parse().expect("--latency-ms"),
            "--trials" => o.trials = value("--trials").parse().expect("--trials"),
            "--json" => o.json = true,
            "resend" | "cut" | "rss" | "rss-source" | "verify" | "db" => o.sections.push(a),
            _ => panic!("unknown argument {a:?} (see the docs at the top of examples/measure.rs)"),
        }
    }
    if o.sections.is_empty() {
        o.sections = vec!["resend".into(), "cut".into(), "rss".into()];
    }
    o
}

impl Opts {
    /// The simulator for one measurement: the given one (throttled as asked) or a new process
    /// with `default_bandwidth` unless `--bandwidth` says otherwise.
    async fn sim(&self, default_bandwidth: Option<u64>) -> Sim {
        match &self.sim_info {
            Some(info) => {
                let sim = Sim::external(info);
                sim.throttle(self.bandwidth.or(default_bandwidth), self.latency_ms)
                    .await;
                sim
            }
            None => Sim::start(self.bandwidth.or(default_bandwidth)),
        }
    }

    async fn done_with(&self, sim: Sim) {
        if sim.child.is_none() {
            sim.throttle(None, 0).await;
        }
    }
}

#[tokio::main]
async fn main() {
    let o = opts();
    let dir = tempfile::tempdir().expect("temp dir");

    // 1. Bytes re-sent after the engine is dropped mid-upload (64 MiB, 1 MiB parts, 5 parallel).
    if o.sections.iter().any(|s| s == "resend") {
        let sim = o.sim(Some(40 * MIB)).await;
        let size = 64 * MIB;
        let path = sparse_file(dir.path(), "resend.mp4", size);
        let db = dir.path().join("resend.db");
        let start = sim.bytes_received().await;
        let waiter = Arc::new(Waiter::default());
        let engine = sim.engine(&db, waiter.clone());
        engine
            .add_file(path.clone(), UploadTarget::Video, VodInfo::default())
            .expect("add");
        engine.start();
        waiter.until_uploaded(size / 2).await;
        engine.shutdown();
        drop(engine);
        let waiter = Arc::new(Waiter::default());
        let engine = sim.engine(&db, waiter.clone());
        let notified = waiter.done.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        engine.start();
        notified.await;
        let received = sim.bytes_received().await - start;
        if o.json {
            println!(
                "{}",
                serde_json::json!({"metric": "resend", "size": size, "resent": received - size})
            );
        } else {
            println!(
                "re-sent after drop mid-upload: {} bytes ({:.2} parts of 1 MiB) for a {} MiB file",
                received - size,
                (received - size) as f64 / MIB as f64,
                size / MIB
            );
        }
        engine.shutdown();
        o.done_with(sim).await;
    }

    // 2. Time from set_network_state(cellular) to the last byte received (40 MiB/s link unless
    //    --bandwidth says otherwise), --trials times.
    if o.sections.iter().any(|s| s == "cut") {
        let sim = o.sim(Some(40 * MIB)).await;
        let size = 256 * MIB;
        let path = sparse_file(dir.path(), "cut.mp4", size);
        for trial in 0..o.trials {
            // One trial: the lead's original 32 MiB; more: 4..12 MiB in uneven steps, so the cut
            // falls at different points of the parts in flight.
            let cut_at = if o.trials == 1 {
                32 * MIB
            } else {
                4 * MIB + (u64::from(trial) * 2_654_435_761) % (8 * MIB)
            };
            let waiter = Arc::new(Waiter::default());
            let db = dir.path().join(format!("cut-{trial}.db"));
            let engine = sim.engine(&db, waiter.clone());
            engine.set_network_state(NetworkState {
                network_type: NetworkType::Wifi,
                metered: false,
                roaming: false,
                validated: true,
            });
            engine
                .add_file(path.clone(), UploadTarget::Video, VodInfo::default())
                .expect("add");
            engine.start();
            waiter.until_uploaded(cut_at).await;
            let uploaded_at_cut = *waiter.uploaded.lock().unwrap();
            let before = sim.bytes_received().await;
            let t0 = Instant::now();
            engine.set_network_state(NetworkState {
                network_type: NetworkType::Cellular,
                metered: true,
                roaming: false,
                validated: true,
            });
            let returned = t0.elapsed();
            // Watch at least 3 s, and until nothing arrived for 2 s (a part in flight on a slow
            // link can take longer than 3 s), at most 60 s.
            let (mut last, mut last_change) = (before, Duration::ZERO);
            while t0.elapsed() < Duration::from_secs(3)
                || (t0.elapsed() - last_change < Duration::from_secs(2)
                    && t0.elapsed() < Duration::from_secs(60))
            {
                let now = sim.bytes_received().await;
                if now != last {
                    last = now;
                    last_change = t0.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            if o.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "metric": "cut", "trial": trial + 1,
                        "bandwidth": o.bandwidth.unwrap_or(40 * MIB), "latency_ms": o.latency_ms,
                        "uploaded_at_cut": uploaded_at_cut,
                        "set_network_state_ms": returned.as_secs_f64() * 1e3,
                        "last_byte_ms": last_change.as_secs_f64() * 1e3,
                        "bytes_after": last - before,
                    })
                );
            } else {
                println!(
                    "cellular cut: set_network_state returned in {returned:?}; last byte received {last_change:?} after it; {} bytes arrived after the call (in flight at the switch)",
                    last - before
                );
            }
            engine.shutdown();
        }
        o.done_with(sim).await;
    }

    // 4. The resume check: read + CRC-64 of MEASURE_GIB (default 1) GiB of checkpointed parts,
    // through the engine's own reader, in its 256 KiB steps.
    if o.sections.iter().any(|s| s == "verify") {
        let gib: u64 = std::env::var("MEASURE_GIB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let size = gib * 1024 * MIB;
        let path = dir.path().join("verify.bin");
        {
            use std::io::Write;
            let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
            let block: Vec<u8> = (0..MIB).map(|i| (i * 31 % 251) as u8).collect();
            for _ in 0..size / MIB {
                f.write_all(&block).unwrap();
            }
        }
        let cpu = || {
            let mut r = std::mem::MaybeUninit::<libc::rusage>::zeroed();
            unsafe { libc::getrusage(libc::RUSAGE_SELF, r.as_mut_ptr()) };
            let r = unsafe { r.assume_init() };
            let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
            t(r.ru_utime) + t(r.ru_stime)
        };
        let (t0, c0) = (Instant::now(), cpu());
        let reader = vod_upload::source::Source::path(&path).reader().unwrap();
        let mut buf = vec![0u8; 256 * 1024];
        let mut crc = vod_upload::protocol::crc64::Crc64::new();
        let mut at = 0;
        while at < size {
            reader.read_exact_at(&mut buf, at).unwrap();
            crc.update(&buf);
            at += buf.len() as u64;
        }
        std::hint::black_box(crc.finish());
        let (secs, cpu_s) = (t0.elapsed().as_secs_f64(), cpu() - c0);
        println!(
            "resume check of {gib} GiB of checkpointed parts (page cache warm): {:.2} s wall, {:.2} CPU s, i.e. {:.2} s and {:.2} CPU s per GiB",
            secs,
            cpu_s,
            secs / gib as f64,
            cpu_s / gib as f64
        );
    }

    // 5. The database after many uploads, and after their retention.
    if o.sections.iter().any(|s| s == "db") {
        let count: usize = std::env::var("MEASURE_UPLOADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5000);
        let sim = o.sim(None).await;
        let path = sparse_file(dir.path(), "small.mp4", 120 * 1024);
        let db = dir.path().join("many.db");
        let size_of = |db: &Path| -> u64 {
            ["", "-wal", "-shm"]
                .iter()
                .filter_map(|ext| std::fs::metadata(format!("{}{ext}", db.display())).ok())
                .map(|m| m.len())
                .sum()
        };
        let done = Arc::new(AllDone::default());
        let engine = sim.engine(&db, Arc::new(Waiter::default()));
        engine.subscribe(done.clone()).detach();
        let t0 = Instant::now();
        for _ in 0..count {
            engine
                .add_file(path.clone(), UploadTarget::Video, VodInfo::default())
                .expect("add");
        }
        let notified = done.done.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        engine.start();
        notified.await;
        let elapsed = t0.elapsed();
        let succeeded = done.succeeded.load(std::sync::atomic::Ordering::Relaxed);
        engine.shutdown();
        drop(engine);
        let after_uploads = size_of(&db);
        // A restart with the default retention keeps them; one past it removes them.
        let config = |keep| Config {
            database_path: Some(db.clone()),
            keep_succeeded: keep,
            ..Config::default()
        };
        let kept = Engine::new(
            config(Config::default().keep_succeeded),
            tokio::runtime::Handle::current(),
        )
        .expect("engine");
        let listed = kept.list_files().len();
        kept.shutdown();
        drop(kept);
        let pruned = Engine::new(
            config(Some(Duration::ZERO)),
            tokio::runtime::Handle::current(),
        )
        .expect("engine");
        let left = pruned.list_files().len();
        pruned.shutdown();
        drop(pruned);
        println!(
            "database after {succeeded} of {count} uploads ({:.1} s): {:.1} KiB ({:.0} bytes per succeeded file, {listed} listed after a restart); after a restart past keep_succeeded: {:.1} KiB, {left} listed",
            elapsed.as_secs_f64(),
            after_uploads as f64 / 1024.0,
            after_uploads as f64 / succeeded.max(1) as f64,
            size_of(&db) as f64 / 1024.0,
        );
        o.done_with(sim).await;
    }

    // 3. Peak memory of the engine process for a 1 GiB (or MEASURE_GIB) upload, from a path
    // or (rss-source) through a byte source.
    for section in ["rss", "rss-source"] {
        if !o.sections.iter().any(|s| s == section) {
            continue;
        }
        let via_source = section == "rss-source";
        let gib: u64 = std::env::var("MEASURE_GIB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let sim = o.sim(None).await;
        let size = gib * 1024 * MIB;
        let path = sparse_file(dir.path(), "big.mp4", size);
        let waiter = Arc::new(Waiter::default());
        let engine = sim.engine(&dir.path().join("big.db"), waiter.clone());
        let before = vm_hwm_kib();
        let t0 = Instant::now();
        if via_source {
            engine.set_source_opener(Some(Arc::new(PreadOpener(path.clone()))));
            upload_source(
                &engine,
                &waiter,
                FileSource::Uri("measure://big.mp4".into()),
            )
            .await;
        } else {
            upload(&engine, &waiter, &path).await;
        }
        let secs = t0.elapsed().as_secs_f64();
        if o.json {
            println!(
                "{}",
                serde_json::json!({"metric": section, "size": size, "seconds": secs,
                    "vm_hwm_kib": vm_hwm_kib(), "vm_hwm_before_kib": before})
            );
        } else {
            println!(
                "{gib} GiB upload from {}: {:.1} s ({:.0} MiB/s); peak RSS of the engine process {} KiB (before the upload {} KiB)",
                if via_source {
                    "a byte source"
                } else {
                    "a path"
                },
                secs,
                size as f64 / MIB as f64 / secs,
                vm_hwm_kib(),
                before
            );
        }
        engine.shutdown();
        o.done_with(sim).await;
    }
}
