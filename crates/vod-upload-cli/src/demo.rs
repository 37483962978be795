//! `vod-upload demo`: a guided tour of the engine on the built-in simulator. Every step
//! narrates what it does, prints the numbers that prove it (read from the simulator's own
//! counters), and checks them; the exit status is 0 only if every step behaved.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::Value;
use tokio::sync::Notify;
use vod_sim::{FaultRule, SimConfig, SimStats, Simulator, ThrottleSettings};
use vod_upload::protocol::crc64::crc64;
use vod_upload::protocol::credentials::Credentials;
use vod_upload::store::Store;
use vod_upload::{
    Config, Engine, Event, EventListener, FileId, FileStatus, NetworkState, NetworkType,
    UploadResult, UploadTarget, VodInfo, WaitingReason, effective_part_size,
};

use crate::cli::DemoArgs;
use crate::failure::{Exit, Failure};
use crate::util::{Obj, human_bytes};

/// Bound on any single wait; the whole demo takes about 15 s.
const WAIT: Duration = Duration::from_secs(20);
const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;
/// Bandwidth while a step needs an upload to be "in the middle" for a while.
const SLOW: u64 = 2 * MIB;
/// How long the demo watches the simulator to show that no bytes arrive.
const QUIET_WINDOW: Duration = Duration::from_millis(800);

pub async fn run(args: DemoArgs) -> Result<Exit, Failure> {
    let t0 = Instant::now();
    let out = Arc::new(Narrator::new(args.json));
    let dir = tempfile::Builder::new()
        .prefix("vod-upload-demo-")
        .tempdir()
        .map_err(|e| Failure::setup(format!("cannot create a temporary directory: {e}")))?;
    let sim = Simulator::start(SimConfig::default())
        .await
        .map_err(|e| Failure::setup(format!("cannot start the built-in simulator: {e}")))?;
    out.say(&format!(
        "vod-upload demo: a guided tour of the upload engine, on the built-in VOD/OSS simulator at {}.",
        sim.info().oss_endpoint
    ));
    out.say("Every number below is read back from the simulator's own counters.");

    let config = Config {
        database_path: Some(dir.path().join("state.db")),
        // The smallest part OSS allows, so a few MiB make dozens of parts.
        part_size: 100 * KIB,
        parallel_parts: 3,
        retry_base_interval: Duration::from_millis(100),
        retry_max_interval: Duration::from_secs(1),
        progress_interval: Duration::from_millis(50),
        vod_endpoint: Some(sim.info().vod_endpoint.clone()),
        region: sim.info().region.clone(),
        allow_http: true,
        ..Config::default()
    };
    let (engine, events) = open_engine(&config, &out)?;
    let mut d = Demo {
        sim,
        dir: dir.path().to_owned(),
        config,
        engine,
        events,
        out: out.clone(),
    };
    d.use_account_key().map_err(Failure::setup)?;
    d.engine.set_network_state(network(NetworkType::Wifi));

    let mut passed = 0;
    let total = 7;
    macro_rules! step {
        ($n:expr, $title:expr, $f:ident) => {{
            let mut s = Step::new($n, total, $title, out.clone());
            let r = $f(&mut d, &mut s).await;
            if s.end(r) {
                passed += 1;
            }
        }};
    }
    step!(1, "A queue of files, with progress", step_queue);
    step!(2, "Pause and resume", step_pause);
    step!(3, "Cellular, then Wi-Fi", step_network);
    step!(4, "The token expires and is refreshed", step_token);
    step!(5, "Retries under injected faults", step_faults);
    step!(
        6,
        "A crash, then a restart on the same state database",
        step_crash
    );
    step!(
        7,
        "Mode 1 (UploadAuth from the app server) survives a restart too",
        step_mode1_restart
    );

    d.engine.shutdown();
    let stats = d.sim.stats();
    let secs = t0.elapsed().as_secs_f64();
    let ok = passed == total;
    if out.json {
        Obj::event("demo_done")
            .put("ok", ok)
            .put("steps_passed", passed)
            .put("steps", total)
            .put("seconds", crate::util::round_secs(secs))
            .put(
                "multipart_uploads_in_progress",
                stats.multipart_uploads_in_progress,
            )
            .emit();
    } else {
        out.say("");
        out.say(&format!(
            "{passed}/{total} steps behaved as expected in {secs:.1} s; the simulator holds {} objects and {} open \
             multipart uploads.",
            stats.objects, stats.multipart_uploads_in_progress
        ));
        if ok {
            out.say("Next: `vod-upload upload FILE...` (add --access-key-id/--access-key-secret for ApsaraVideo VOD).");
        }
    }
    Ok(if ok { Exit::Ok } else { Exit::Failed })
}

// ------------------------------------------------------------------------------------------
// The steps

/// Three files in one queue: uploaded one after the other, in order, with monotonic progress,
/// and stored byte-exact (CRC-64 compared with the simulator's).
async fn step_queue(d: &mut Demo, s: &mut Step) -> Result<(), String> {
    d.throttle(Some(4 * MIB));
    let files = [
        ("beach.mp4", 2 * MIB),
        ("talk.mp3", MIB),
        ("poster.jpg", 200 * KIB),
    ];
    let since = d.events.mark();
    let mut added = Vec::new();
    for (name, size) in files {
        let f = d.file(name, size)?;
        let id = d.add(&f)?;
        added.push((id, f));
    }
    for f in d
        .engine
        .list_files()
        .iter()
        .filter(|f| added.iter().any(|(id, _)| *id == f.id))
    {
        d.out.say(&format!(
            "  queued {:<11} {:>9}  as a VOD {:<5}  status {:?}",
            file_name(&f.source.display_path()),
            human_bytes(f.bytes_total),
            if f.target == UploadTarget::Image {
                "image"
            } else {
                "video"
            },
            f.status
        ));
    }
    let t = Instant::now();
    d.say("Starting the queue (one file at a time, 3 parts of 100 KiB in parallel per file; link limited to 4 MiB/s).");
    d.engine.start();
    let mut results = Vec::new();
    for (id, f) in &added {
        results.push((d.wait_result(id, since).await?, f));
    }
    let secs = t.elapsed().as_secs_f64();
    d.throttle(None);

    let ev = d.events.since(since);
    let started: Vec<&FileId> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Started { file } => Some(&file.id),
            _ => None,
        })
        .collect();
    let order: Vec<&FileId> = added.iter().map(|(id, _)| id).collect();
    s.check(
        started == order,
        format!("started in queue order: {}", names(&added, &started)),
    );
    for (id, _) in &added {
        let (n, monotonic, last, total) = progress_of(&ev, id);
        s.check(
            monotonic && last == total && n > 1,
            format!(
                "{}: {n} progress events, never backwards, ending at {last} of {total} bytes",
                d.name(id)
            ),
        );
    }
    for (r, f) in &results {
        let stored = d.sim.object_info(&r.bucket, &r.object);
        let what = r
            .video_id
            .as_deref()
            .map(|v| format!("video {v}"))
            .or_else(|| r.image_url.as_deref().map(|_| "an image URL".to_owned()))
            .unwrap_or_default();
        s.check(
            stored
                .as_ref()
                .is_some_and(|o| o.size == f.size && o.crc64 == f.crc && r.crc64 == f.crc),
            format!(
                "{}: {what}; the simulator stored {} bytes with CRC-64 {} (local file: {})",
                file_name(&f.path),
                stored.as_ref().map_or(0, |o| o.size),
                stored.as_ref().map_or(0, |o| o.crc64),
                f.crc
            ),
        );
    }
    let bytes: u64 = files.iter().map(|(_, s)| s).sum();
    s.fact("upload_seconds", crate::util::round_secs(secs));
    s.fact("bytes", bytes);
    d.say(&format!("{} in {secs:.1} s.", human_bytes(bytes)));
    Ok(())
}

/// `pause()` stops every byte at once; `resume()` continues the same multipart upload
/// without sending a finished part again.
async fn step_pause(d: &mut Demo, s: &mut Step) -> Result<(), String> {
    d.throttle(Some(SLOW));
    let before = d.sim.stats();
    let since = d.events.mark();
    let f = d.file("interview.mp4", 3 * MIB)?;
    let id = d.add(&f)?;
    d.wait_progress(&id, f.size / 4, since).await?;
    d.engine.pause();
    let at = d.engine.file(&id).map(|i| i.bytes_uploaded).unwrap_or(0);
    d.say(&format!(
        "Paused at {} of {}.",
        human_bytes(at),
        human_bytes(f.size)
    ));
    d.events
        .wait_for("waiting(paused)", since, |e| {
            matches!(e, Event::Waiting { file, reason: WaitingReason::Paused } if file.id == id)
        })
        .await?;
    let (requests, bytes) = d.quiet_window().await;
    s.check(
        requests == 0 && bytes <= inflight_allowance(&d.config),
        format!(
            "while paused: {requests} requests and {bytes} body bytes reached the simulator in {} ms",
            QUIET_WINDOW.as_millis()
        ),
    );
    d.say("Resuming.");
    d.engine.resume();
    d.throttle(None);
    let r = d.wait_result(&id, since).await?;
    let delta = d.sim.stats().minus(&before);
    let parts = parts_of(&d.config, f.size);
    s.check(
        delta.multipart_uploads_initiated == 1,
        format!(
            "one multipart upload for the whole file ({} initiated)",
            delta.multipart_uploads_initiated
        ),
    );
    s.check(
        delta.parts_uploaded == parts,
        format!(
            "{} parts stored for {parts} parts: none sent twice",
            delta.parts_uploaded
        ),
    );
    s.check(
        r.crc64 == f.crc,
        format!("CRC-64 {} matches the local file", r.crc64),
    );
    s.fact("parts", parts);
    s.fact("parts_uploaded", delta.parts_uploaded);
    Ok(())
}

/// Wi-Fi only (the default policy): moving to cellular cancels in-flight requests at once and
/// the file waits; back on Wi-Fi it continues by itself. Neither is a failure or a retry.
async fn step_network(d: &mut Demo, s: &mut Step) -> Result<(), String> {
    d.throttle(Some(SLOW));
    let before = d.sim.stats();
    let since = d.events.mark();
    let f = d.file("commute.mp4", 3 * MIB)?;
    let id = d.add(&f)?;
    d.wait_progress(&id, f.size / 4, since).await?;
    d.say("The phone leaves Wi-Fi: set_network_state(cellular, metered). Policy: Wi-Fi only.");
    let switched = Instant::now();
    let at_switch = d.sim.stats();
    d.engine.set_network_state(network(NetworkType::Cellular));
    d.events
        .wait_for("waiting(network)", since, |e| {
            matches!(e, Event::Waiting { file, reason: WaitingReason::Network } if file.id == id)
        })
        .await?;
    let waited_ms = switched.elapsed().as_millis();
    let status = d.engine.file(&id).map(|i| (i.status, i.waiting));
    s.check(
        status == Some((FileStatus::Waiting, Some(WaitingReason::Network))),
        format!(
            "the file waits, reason {} (event {waited_ms} ms after the switch)",
            status
                .and_then(|s| s.1)
                .as_ref()
                .map_or("none", crate::report::reason_name),
        ),
    );
    let (requests, bytes) = d.quiet_window().await;
    let drained = d.sim.stats().bytes_received - at_switch.bytes_received;
    d.say(&format!(
        "Bytes that reached the simulator after the switch (already on the wire): {}.",
        human_bytes(drained)
    ));
    s.fact("bytes_after_switch", drained);
    s.check(
        requests == 0 && bytes <= inflight_allowance(&d.config),
        format!(
            "on cellular: {requests} requests and {bytes} body bytes in {} ms",
            QUIET_WINDOW.as_millis()
        ),
    );
    d.say("Back on Wi-Fi: set_network_state(wifi).");
    d.throttle(None);
    d.engine.set_network_state(network(NetworkType::Wifi));
    let r = d.wait_result(&id, since).await?;
    let ev = d.events.since(since);
    let noise = ev
        .iter()
        .filter(|e| matches!(e, Event::Retry { file, .. } | Event::Failed { file, .. } if file.id == id))
        .count();
    s.check(
        noise == 0,
        format!("{noise} retry or failure events: a network change is neither"),
    );
    let delta = d.sim.stats().minus(&before);
    s.check(
        delta.multipart_uploads_initiated == 1
            && delta.parts_uploaded == parts_of(&d.config, f.size),
        format!(
            "continued the same multipart upload: {} initiated, {} parts stored for {}",
            delta.multipart_uploads_initiated,
            delta.parts_uploaded,
            parts_of(&d.config, f.size)
        ),
    );
    s.check(
        r.crc64 == f.crc,
        format!("CRC-64 {} matches the local file", r.crc64),
    );
    Ok(())
}

/// Mode 2 with an STS token: the simulator expires every token mid-upload; the engine reports
/// `token_expired` for that file only, and `resume_with_token` continues the same upload.
async fn step_token(d: &mut Demo, s: &mut Step) -> Result<(), String> {
    let sts = d.sim.issue_sts_credentials(Duration::from_secs(3600));
    d.say(&format!(
        "The app now uploads with an STS token ({}).",
        crate::util::mask(&sts.access_key_id)
    ));
    d.set_token(sts, false)?;
    d.throttle(Some(SLOW));
    let before = d.sim.stats();
    let since = d.events.mark();
    let f = d.file("keynote.mp4", 3 * MIB)?;
    let id = d.add(&f)?;
    d.wait_progress(&id, f.size / 4, since).await?;
    let video = d.engine.file(&id).and_then(|i| i.video_id);
    let expired = d.sim.expire_tokens();
    d.say(&format!(
        "The simulator expires every STS token ({expired} were valid)."
    ));
    d.events
        .wait_for(
            "token_expired",
            since,
            |e| matches!(e, Event::TokenExpired { file } if file.id == id),
        )
        .await?;
    let info = d.engine.file(&id);
    s.check(
        info.as_ref().and_then(|i| i.waiting.clone()) == Some(WaitingReason::TokenExpired),
        format!(
            "token_expired fired; the file waits for credentials at {}",
            human_bytes(info.map_or(0, |i| i.bytes_uploaded))
        ),
    );
    let fresh = d.sim.issue_sts_credentials(Duration::from_secs(3600));
    d.say("The app gets a new STS token from its server: resume_with_token(...).");
    d.throttle(None);
    d.set_token(fresh, true)?;
    let r = d.wait_result(&id, since).await?;
    let delta = d.sim.stats().minus(&before);
    let parts = parts_of(&d.config, f.size);
    s.check(
        r.video_id == video && video.is_some(),
        format!(
            "the same video continued: {}",
            r.video_id.as_deref().unwrap_or("-")
        ),
    );
    s.check(
        delta.multipart_uploads_initiated == 1 && delta.parts_uploaded == parts,
        format!(
            "the same multipart upload: {} initiated, {} parts stored for {parts}: no finished part sent again",
            delta.multipart_uploads_initiated, delta.parts_uploaded
        ),
    );
    s.check(
        r.crc64 == f.crc,
        format!("CRC-64 {} matches the local file", r.crc64),
    );
    Ok(())
}

/// The simulator fails 4 part uploads with 503 and resets 2 connections: the engine reports
/// one `retry`, recovers with `retry_resume`, and the object is intact.
async fn step_faults(d: &mut Demo, s: &mut Step) -> Result<(), String> {
    let before = d.sim.stats();
    let since = d.events.mark();
    d.sim.set_faults(vec![
        FaultRule::status("UploadPart", 503).with_count(4),
        FaultRule::reset("UploadPart").with_count(2),
    ]);
    d.say("Faults armed: the next 4 UploadPart requests get HTTP 503, the 2 after that a connection reset.");
    let f = d.file("festival.mp4", 2 * MIB)?;
    let id = d.add(&f)?;
    let r = d.wait_result(&id, since).await;
    d.sim.clear_faults();
    let r = r?;
    let ev = d.events.since(since);
    let retries: Vec<String> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Retry { file, code, .. } if file.id == id => Some(code.clone()),
            _ => None,
        })
        .collect();
    let resumes = ev
        .iter()
        .filter(|e| matches!(e, Event::RetryResume { file } if file.id == id))
        .count();
    let delta = d.sim.stats().minus(&before);
    s.check(
        delta.faults_injected == 6,
        format!(
            "{} faults injected ({} connections reset)",
            delta.faults_injected, delta.connections_reset
        ),
    );
    s.check(
        !retries.is_empty() && retries.len() == resumes,
        format!(
            "{} retry event(s) ({}) and {resumes} retry_resume: in pairs",
            retries.len(),
            retries.join(", ")
        ),
    );
    s.check(
        r.crc64 == f.crc,
        format!(
            "the object is intact: CRC-64 {} matches the local file",
            r.crc64
        ),
    );
    Ok(())
}

/// The engine is shut down mid-upload (the app was killed) and a new one opens the same state
/// database: the queue comes back, and the upload continues without re-sending finished parts.
async fn step_crash(d: &mut Demo, s: &mut Step) -> Result<(), String> {
    d.throttle(Some(SLOW));
    let before = d.sim.stats();
    let since = d.events.mark();
    let f = d.file("wedding.mp4", 4 * MIB)?;
    let id = d.add(&f)?;
    d.wait_progress(&id, f.size * 2 / 5, since).await?;
    d.engine.shutdown();
    let at_crash = d.sim.stats().minus(&before);
    d.say(&format!(
        "Crash: the engine is gone mid-upload ({} parts had reached the simulator).",
        at_crash.parts_uploaded
    ));
    let ledger = d
        .config
        .database_path
        .as_ref()
        .and_then(|p| Store::open(p).ok())
        .and_then(|st| st.parts(&id).ok())
        .map_or(0, |p| p.len());

    let (engine, events) = open_engine(&d.config, &d.out).map_err(|f| f.message)?;
    d.engine = engine;
    d.events = events;
    d.use_account_key()?;
    d.engine.set_network_state(network(NetworkType::Wifi));
    let restored = d
        .engine
        .file(&id)
        .ok_or("the file is not in the reopened queue")?;
    s.check(
        restored.status == FileStatus::Ready && restored.bytes_uploaded > 0,
        format!(
            "a new engine on the same database restored the file: {:?}, {} checkpointed ({ledger} parts in the \
             ledger), video {}",
            restored.status,
            human_bytes(restored.bytes_uploaded),
            restored.video_id.as_deref().unwrap_or("-")
        ),
    );
    d.throttle(None);
    d.engine.start();
    let r = d.wait_result(&id, 0).await?;
    let delta = d.sim.stats().minus(&before);
    let parts = parts_of(&d.config, f.size);
    let resent = delta.object_bytes_received.saturating_sub(f.size);
    s.check(
        r.video_id == restored.video_id,
        "the same video continued".to_owned(),
    );
    s.check(
        delta.multipart_uploads_initiated == 1 && delta.parts_uploaded == parts,
        format!(
            "{} multipart upload, {} parts stored for {parts}: no finished part was sent again",
            delta.multipart_uploads_initiated, delta.parts_uploaded
        ),
    );
    s.check(
        d.sim.stats().multipart_uploads_in_progress == 0,
        "no multipart upload left open on the simulator".to_owned(),
    );
    s.check(
        r.crc64 == f.crc,
        format!("CRC-64 {} matches the local file", r.crc64),
    );
    s.fact("bytes_resent", resent);
    d.say(&format!(
        "Bytes sent twice because of the crash (parts in flight when it happened): {}.",
        human_bytes(resent)
    ));
    Ok(())
}

/// Mode 1, as most production apps run: no key on the device; the app's server answers
/// `started` with CreateUploadVideo's UploadAuth and UploadAddress. The app is killed mid-file;
/// after the restart `started` names the video the file already has, the server answers with
/// RefreshUploadVideo, and the same multipart upload continues.
async fn step_mode1_restart(d: &mut Demo, s: &mut Step) -> Result<(), String> {
    // A device without an STS token: a new engine on the same database, no key given.
    d.reopen()?;
    d.throttle(Some(SLOW));
    let server = AppServer::new(&d.sim)?;
    let before = d.sim.stats();
    let since = d.events.mark();
    let f = d.file("interview.mp4", 4 * MIB)?;
    let id = d.add(&f)?;
    d.engine.start();
    d.wait_started(&id, since).await?;
    let (video_id, auth, address) = server.create(&f).await?;
    d.engine
        .set_upload_auth_and_address(&id, &auth, &address, Some(video_id.clone()))
        .map_err(|e| e.to_string())?;
    d.say(&format!(
        "The app server created video {video_id}; the app answered `started` with its UploadAuth."
    ));
    d.wait_progress(&id, f.size * 2 / 5, since).await?;
    let at_kill = d.sim.stats().minus(&before);
    d.say(&format!(
        "Killed at {} of {}.",
        human_bytes(at_kill.object_bytes_received),
        human_bytes(f.size)
    ));

    d.reopen()?;
    d.throttle(None);
    let since = d.events.mark();
    d.engine.start();
    let started = d.wait_started(&id, since).await?;
    s.check(
        started.video_id.as_deref() == Some(video_id.as_str()),
        format!(
            "after the restart `started` names the file's video: {}",
            started.video_id.as_deref().unwrap_or("none")
        ),
    );
    let (auth, address) = server.refresh(&video_id).await?;
    d.engine
        .set_upload_auth_and_address(&id, &auth, &address, Some(video_id.clone()))
        .map_err(|e| e.to_string())?;
    let r = d.wait_result(&id, since).await?;
    let delta = d.sim.stats().minus(&before);
    let resent = delta.object_bytes_received.saturating_sub(f.size);
    s.check(
        r.video_id.as_deref() == Some(video_id.as_str()) && r.crc64 == f.crc,
        "the same video completed, CRC-64 matching the local file".to_owned(),
    );
    s.check(
        delta.multipart_uploads_initiated == 1 && d.sim.stats().multipart_uploads_in_progress == 0,
        format!(
            "{} multipart upload, none left open",
            delta.multipart_uploads_initiated
        ),
    );
    s.check(
        resent <= inflight_allowance(&d.config),
        format!(
            "{} sent twice (at most the parts in flight at the kill)",
            human_bytes(resent)
        ),
    );
    s.fact("bytes_resent", resent);
    Ok(())
}

/// The app's server side of mode 1: VOD calls with the account key.
struct AppServer {
    vod: vod_upload::transport::vod::VodClient,
    account: Credentials,
}

impl AppServer {
    fn new(sim: &Simulator) -> Result<AppServer, String> {
        let http =
            vod_upload::transport::http::build_client(&vod_upload::transport::http::HttpConfig {
                allow_http: true,
                ..Default::default()
            })
            .map_err(|e| e.to_string())?;
        let endpoint = sim
            .info()
            .vod_endpoint
            .parse()
            .map_err(|e| format!("{e}"))?;
        Ok(AppServer {
            vod: vod_upload::transport::vod::VodClient::new(http, endpoint),
            account: sim.account_credentials(),
        })
    }

    async fn create(&self, f: &DemoFile) -> Result<(String, String, String), String> {
        let t = self
            .vod
            .create_upload_video(
                &self.account,
                &file_name(&f.path),
                f.size,
                &VodInfo::default(),
            )
            .await
            .map_err(|e| e.to_string())?;
        let now = std::time::SystemTime::now();
        Ok((
            t.video_id,
            t.upload_auth.encode(now),
            t.upload_address.encode(),
        ))
    }

    async fn refresh(&self, video_id: &str) -> Result<(String, String), String> {
        let t = self
            .vod
            .refresh_upload_video(&self.account, video_id)
            .await
            .map_err(|e| e.to_string())?;
        Ok((
            t.upload_auth.encode(std::time::SystemTime::now()),
            t.upload_address.encode(),
        ))
    }
}

// ------------------------------------------------------------------------------------------
// Plumbing

struct Demo {
    sim: Simulator,
    dir: PathBuf,
    config: Config,
    engine: Engine,
    events: Arc<Events>,
    out: Arc<Narrator>,
}

/// A generated file.
struct DemoFile {
    path: PathBuf,
    size: u64,
    crc: u64,
}

impl Demo {
    fn say(&self, text: &str) {
        self.out.say(&format!("  {text}"));
    }

    /// A new engine on the same database (the app was killed), on Wi-Fi, with no key.
    fn reopen(&mut self) -> Result<(), String> {
        self.engine.shutdown();
        let (engine, events) = open_engine(&self.config, &self.out).map_err(|f| f.message)?;
        self.engine = engine;
        self.events = events;
        self.engine.set_network_state(network(NetworkType::Wifi));
        Ok(())
    }

    async fn wait_started(&self, id: &str, since: usize) -> Result<vod_upload::FileInfo, String> {
        self.events
            .wait_for(
                &format!("{} to start", self.name(id)),
                since,
                |e| matches!(e, Event::Started { file } if file.id == id),
            )
            .await?;
        self.events
            .since(since)
            .into_iter()
            .find_map(|e| match e {
                Event::Started { file } if file.id == id => Some(file),
                _ => None,
            })
            .ok_or_else(|| "no started event".to_owned())
    }

    fn use_account_key(&self) -> Result<(), String> {
        let info = self.sim.info();
        self.engine
            .set_sts_token(
                info.access_key_id.clone(),
                info.access_key_secret.clone(),
                None,
                None,
            )
            .map_err(|e| e.to_string())
    }

    /// Mode 2 with an STS token (`resume_with_token` after an expiry).
    fn set_token(&self, c: Credentials, resume: bool) -> Result<(), String> {
        let id = c.access_key_id.clone();
        let secret = c.access_key_secret.expose().to_owned();
        let token = c.security_token.as_ref().map(|t| t.expose().to_owned());
        let r = if resume {
            self.engine
                .resume_with_token(id, secret, token, c.expires_at)
        } else {
            self.engine.set_sts_token(id, secret, token, c.expires_at)
        };
        r.map_err(|e| e.to_string())
    }

    fn throttle(&self, bandwidth: Option<u64>) {
        self.sim.throttle(ThrottleSettings {
            bandwidth,
            latency_ms: 0,
        });
    }

    fn file(&self, name: &str, size: u64) -> Result<DemoFile, String> {
        let seed = name
            .bytes()
            .fold(size, |h, b| h.rotate_left(5) ^ u64::from(b));
        let mut rng = fastrand::Rng::with_seed(seed);
        let data: Vec<u8> = (0..size).map(|_| rng.u8(..)).collect();
        let path = self.dir.join(name);
        std::fs::write(&path, &data)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(DemoFile {
            path,
            size,
            crc: crc64(&data),
        })
    }

    fn add(&self, f: &DemoFile) -> Result<FileId, String> {
        let id = self
            .engine
            .add_file(
                f.path.clone(),
                UploadTarget::for_path(&f.path),
                VodInfo::default(),
            )
            .map_err(|e| e.to_string())?;
        self.out.name(&id, &file_name(&f.path));
        Ok(id)
    }

    fn name(&self, id: &str) -> String {
        self.out
            .names
            .lock()
            .map(|n| n.get(id).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    async fn wait_progress(&self, id: &str, at_least: u64, since: usize) -> Result<(), String> {
        self.events
            .wait_for(&format!("{} to pass {}", self.name(id), human_bytes(at_least)), since, |e| {
                matches!(e, Event::Progress { file, uploaded, .. } if file == id && *uploaded >= at_least)
                    || matches!(e, Event::Succeeded { file, .. } | Event::Failed { file, .. } if file.id == id)
            })
            .await
    }

    async fn wait_result(&self, id: &str, since: usize) -> Result<UploadResult, String> {
        self.events
            .wait_for(&format!("{} to finish", self.name(id)), since, |e| {
                matches!(e, Event::Succeeded { file, .. } | Event::Failed { file, .. } if file.id == id)
            })
            .await?;
        for e in self.events.since(since) {
            match e {
                Event::Succeeded { file, result } if file.id == id => return Ok(result),
                Event::Failed {
                    file,
                    code,
                    message,
                } if file.id == id => {
                    return Err(format!("{} failed: {code}: {message}", self.name(id)));
                }
                _ => {}
            }
        }
        Err("no result".into())
    }

    /// Watches the simulator for [`QUIET_WINDOW`] after letting requests already on the wire
    /// drain: returns the requests and body bytes that arrived meanwhile.
    async fn quiet_window(&self) -> (u64, u64) {
        // Cancelled requests are closed at once, but bytes already in socket buffers may
        // still be counted for a moment.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let a = self.sim.stats();
        tokio::time::sleep(QUIET_WINDOW).await;
        let b = self.sim.stats();
        (b.requests - a.requests, b.bytes_received - a.bytes_received)
    }
}

fn open_engine(config: &Config, out: &Arc<Narrator>) -> Result<(Engine, Arc<Events>), Failure> {
    let engine = Engine::new(config.clone(), tokio::runtime::Handle::current())
        .map_err(|e| Failure::engine("cannot start the upload engine", &e))?;
    let events = Arc::new(Events::default());
    engine
        .subscribe(Arc::new(DemoListener {
            events: events.clone(),
            out: out.clone(),
        }))
        .detach();
    Ok((engine, events))
}

fn network(network_type: NetworkType) -> NetworkState {
    NetworkState {
        network_type,
        metered: network_type == NetworkType::Cellular,
        roaming: false,
        validated: true,
    }
}

fn parts_of(config: &Config, size: u64) -> u64 {
    size.div_ceil(effective_part_size(config.part_size, size))
}

/// Body bytes that may still arrive after a cancel: at most the parts that were in flight.
fn inflight_allowance(config: &Config) -> u64 {
    u64::from(config.parallel_parts) * config.part_size
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn names(added: &[(FileId, DemoFile)], order: &[&FileId]) -> String {
    order
        .iter()
        .map(|id| {
            added
                .iter()
                .find(|(i, _)| i == *id)
                .map_or("?".into(), |(_, f)| file_name(&f.path))
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

/// (events, monotonic, last uploaded, total) of one file's progress.
fn progress_of(events: &[Event], id: &str) -> (usize, bool, u64, u64) {
    let (mut n, mut monotonic, mut last, mut total) = (0, true, 0, 0);
    for e in events {
        if let Event::Progress {
            file,
            uploaded,
            total: t,
        } = e
            && file == id
        {
            n += 1;
            monotonic &= *uploaded >= last && uploaded <= t;
            last = *uploaded;
            total = *t;
        }
    }
    (n, monotonic, last, total)
}

trait StatsDelta {
    fn minus(&self, before: &SimStats) -> SimStats;
}

impl StatsDelta for SimStats {
    /// Counters since `before` (gauges such as `objects` keep their current value).
    fn minus(&self, b: &SimStats) -> SimStats {
        SimStats {
            requests: self.requests - b.requests,
            bytes_received: self.bytes_received - b.bytes_received,
            object_bytes_received: self.object_bytes_received - b.object_bytes_received,
            parts_uploaded: self.parts_uploaded - b.parts_uploaded,
            multipart_uploads_initiated: self.multipart_uploads_initiated
                - b.multipart_uploads_initiated,
            faults_injected: self.faults_injected - b.faults_injected,
            connections_reset: self.connections_reset - b.connections_reset,
            ..self.clone()
        }
    }
}

/// Every event, in order; steps wait on them with a bound.
#[derive(Default)]
struct Events {
    list: Mutex<Vec<Event>>,
    changed: Notify,
}

impl Events {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Event>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn mark(&self) -> usize {
        self.lock().len()
    }

    fn since(&self, mark: usize) -> Vec<Event> {
        self.lock()
            .get(mark..)
            .map(<[Event]>::to_vec)
            .unwrap_or_default()
    }

    async fn wait_for(
        &self,
        what: &str,
        since: usize,
        f: impl Fn(&Event) -> bool,
    ) -> Result<(), String> {
        let found = tokio::time::timeout(WAIT, async {
            loop {
                let notified = self.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.lock().get(since..).is_some_and(|ev| ev.iter().any(&f)) {
                    return;
                }
                notified.await;
            }
        })
        .await;
        found.map_err(|_| format!("timed out after {} s waiting for {what}", WAIT.as_secs()))
    }
}

struct DemoListener {
    events: Arc<Events>,
    out: Arc<Narrator>,
}

impl EventListener for DemoListener {
    fn on_event(&self, event: Event) {
        self.out.on_event(&event);
        self.events.lock().push(event);
        self.events.changed.notify_waiters();
    }
}

/// Narration on stdout (or one JSON object per step), progress bars on stderr.
struct Narrator {
    json: bool,
    multi: MultiProgress,
    bars: Mutex<HashMap<FileId, ProgressBar>>,
    names: Mutex<HashMap<FileId, String>>,
}

impl Narrator {
    fn new(json: bool) -> Narrator {
        let multi = MultiProgress::new();
        if json {
            multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        Narrator {
            json,
            multi,
            bars: Mutex::new(HashMap::new()),
            names: Mutex::new(HashMap::new()),
        }
    }

    fn say(&self, text: &str) {
        if !self.json {
            self.multi.suspend(|| println!("{text}"));
        }
    }

    fn name(&self, id: &str, name: &str) {
        if let Ok(mut n) = self.names.lock() {
            n.insert(id.to_owned(), name.to_owned());
        }
    }

    fn on_event(&self, event: &Event) {
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        match event {
            Event::Started { file } => {
                let name = self
                    .names
                    .lock()
                    .ok()
                    .and_then(|n| n.get(&file.id).cloned())
                    .unwrap_or_default();
                let pb = ProgressBar::new(file.bytes_total).with_position(file.bytes_uploaded);
                pb.set_style(
                    ProgressStyle::with_template(
                        "    {prefix:14} [{bar:30}] {bytes:>10}/{total_bytes:10} {binary_bytes_per_sec:>12} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                pb.set_prefix(name);
                pb.reset_eta();
                bars.insert(file.id.clone(), self.multi.add(pb));
            }
            Event::Progress {
                file,
                uploaded,
                total,
            } => {
                if let Some(pb) = bars.get(file) {
                    pb.set_length(*total);
                    pb.set_position(*uploaded);
                }
            }
            Event::Succeeded { file, .. } => {
                if let Some(pb) = bars.remove(&file.id) {
                    pb.finish_and_clear();
                    self.multi.remove(&pb);
                }
            }
            Event::Failed { file, .. } | Event::Canceled { file, .. } => {
                if let Some(pb) = bars.remove(&file.id) {
                    pb.abandon();
                }
            }
            Event::Waiting { file, reason } => {
                if let Some(pb) = bars.get(&file.id) {
                    pb.set_message(format!("waiting: {}", crate::report::reason_name(reason)));
                }
            }
            Event::RetryResume { file } => {
                if let Some(pb) = bars.get(&file.id) {
                    pb.set_message("");
                }
            }
            Event::Retry { file, code, .. } => {
                if let Some(pb) = bars.get(&file.id) {
                    pb.set_message(format!("retrying after {code}"));
                }
            }
            Event::TokenExpired { file } => {
                if let Some(pb) = bars.get(&file.id) {
                    pb.set_message("token expired");
                }
            }
            Event::AllDone => {}
        }
    }
}

/// One step: its checks, printed as they are made, and facts for `--json`.
struct Step {
    n: usize,
    total: usize,
    title: &'static str,
    out: Arc<Narrator>,
    checks: Vec<(bool, String)>,
    facts: Vec<(&'static str, Value)>,
    started: Instant,
}

impl Step {
    fn new(n: usize, total: usize, title: &'static str, out: Arc<Narrator>) -> Step {
        out.say("");
        out.say(&format!("[{n}/{total}] {title}"));
        Step {
            n,
            total,
            title,
            out,
            checks: Vec::new(),
            facts: Vec::new(),
            started: Instant::now(),
        }
    }

    fn check(&mut self, ok: bool, text: String) {
        self.out.say(&format!(
            "  {} {text}",
            if ok { "ok:    " } else { "FAILED:" }
        ));
        self.checks.push((ok, text));
    }

    fn fact(&mut self, key: &'static str, value: impl serde::Serialize) {
        self.facts
            .push((key, serde_json::to_value(value).unwrap_or(Value::Null)));
    }

    /// Prints the verdict; true when the step behaved.
    fn end(mut self, result: Result<(), String>) -> bool {
        if let Err(e) = result {
            self.check(false, e);
        }
        let ok = self.checks.iter().all(|(ok, _)| *ok);
        if self.out.json {
            let mut o = Obj::event("step")
                .put("step", self.n)
                .put("steps", self.total)
                .put("title", self.title)
                .put("ok", ok)
                .put(
                    "seconds",
                    crate::util::round_secs(self.started.elapsed().as_secs_f64()),
                )
                .put(
                    "checks",
                    self.checks
                        .iter()
                        .map(|(ok, text)| serde_json::json!({"ok": ok, "text": text}))
                        .collect::<Vec<_>>(),
                );
            for (k, v) in &self.facts {
                o.set(k, v);
            }
            o.emit();
        }
        ok
    }
}
