use vod_sim::ThrottleSettings;
use vod_upload::store::Store;
use vod_upload::{Event, FileStatus};

use crate::common::*;

const PART: u64 = 100 * 1024;

async fn upload_part_way(h: &Harness, name: &str, size: usize) -> (String, Vec<u8>) {
    h.use_account_key();
    h.sim.throttle(ThrottleSettings {
        bandwidth: Some(768 * 1024),
        latency_ms: 0,
    });
    let (path, data) = h.file(name, size);
    let id = h.add(&path);
    h.engine.start().unwrap();
    h.events.wait_progress(&id, (size / 2) as u64).await;
    (id, data)
}

/// The engine is dropped mid-upload (as when the app is killed) and opened again on the same
/// database: the queue is restored and the same multipart upload continues; no finished part
/// is sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopened_engine_resumes_without_resending_parts() {
    let mut h = Harness::new(|_| {}).await;
    let (id, data) = upload_part_way(&h, "killed.mp4", 2 * 1024 * 1024).await;
    h.reopen();
    h.sim.throttle(ThrottleSettings {
        bandwidth: None,
        latency_ms: 0,
    });

    let restored = h
        .engine
        .file(&id)
        .expect("queue restored from the database");
    assert_eq!(restored.status, FileStatus::Ready);
    assert!(
        restored.bytes_uploaded > 0,
        "checkpointed bytes are reported"
    );
    assert!(restored.video_id.is_some(), "the VOD video is remembered");
    h.use_account_key();
    h.engine.start().unwrap();
    let result = h.events.wait_succeeded(&id).await;
    assert_eq!(
        result.video_id, restored.video_id,
        "the same video continued"
    );
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);

    let stats = h.sim.stats();
    let parts = (data.len() as u64).div_ceil(PART);
    assert_eq!(
        stats.multipart_uploads_initiated, 1,
        "the same multipart upload continued"
    );
    assert_eq!(
        stats.parts_uploaded, parts,
        "no part reached the server twice"
    );
    let resent = stats.bytes_received.saturating_sub(data.len() as u64);
    println!("bytes re-sent after the engine was dropped mid-upload: {resent}");
    assert!(resent <= 3 * PART + 64 * 1024, "re-sent {resent} bytes");
}

/// A part the server stored but the ledger never recorded (killed between the two) is found
/// with ListParts and not sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_on_server_but_missing_from_ledger_is_not_resent() {
    let mut h = Harness::new(|_| {}).await;
    let (id, data) = upload_part_way(&h, "ledger.mp4", 1536 * 1024).await;
    h.engine.shutdown();
    {
        let store = Store::open(&h.config.database_path.clone().unwrap()).unwrap();
        let mut parts = store.parts(&id).unwrap();
        assert!(parts.len() >= 2);
        let lost = parts.pop().unwrap();
        store.delete_parts(&id).unwrap();
        for p in &parts {
            store.record_part(&id, p).unwrap();
        }
        println!("removed part {} from the ledger", lost.part_number);
    }
    h.reopen();
    h.sim.throttle(ThrottleSettings {
        bandwidth: None,
        latency_ms: 0,
    });
    h.use_account_key();
    h.engine.start().unwrap();
    h.events.wait_succeeded(&id).await;
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
    let parts = (data.len() as u64).div_ceil(PART);
    assert_eq!(
        h.sim.stats().parts_uploaded,
        parts,
        "the unrecorded part was not sent again"
    );
}

/// The file changed on disk between two runs: its upload restarts cleanly and the object is
/// the new content, never a mix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_changed_between_runs_restarts_cleanly() {
    let mut h = Harness::new(|_| {}).await;
    let (id, _old) = upload_part_way(&h, "edited.mp4", 1024 * 1024).await;
    h.engine.shutdown();
    let path = h.engine.file(&id).unwrap().path;
    let new: Vec<u8> = (0..1100 * 1024).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &new).unwrap();
    h.reopen();
    h.sim.throttle(ThrottleSettings {
        bandwidth: None,
        latency_ms: 0,
    });
    h.use_account_key();
    h.engine.start().unwrap();
    let result = h.events.wait_succeeded(&id).await;
    assert_eq!(result.bytes, new.len() as u64);
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, new);
    assert_eq!(h.sim.stats().multipart_uploads_initiated, 2);
}

/// An unreadable database is moved aside and the engine starts afresh, with a way to tell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_database_is_moved_aside() {
    let h = Harness::new(|_| {}).await;
    // A database no connection has open, as after a crash that corrupted it.
    let db = h.dir.path().join("corrupt.db");
    std::fs::write(
        &db,
        b"this is not a database, it is garbage garbage garbage garbage",
    )
    .unwrap();
    let config = vod_upload::Config {
        database_path: Some(db),
        ..h.config.clone()
    };
    let (engine, _events) = open_engine(&config);
    let moved = engine.recovered_database().expect("recovery reported");
    assert!(moved.exists());
    assert!(engine.list_files().is_empty());
    let (p, _) = h.file("fresh.mp4", 1000);
    engine
        .add_file(p, vod_upload::UploadTarget::Video, Default::default())
        .unwrap();
    assert_eq!(engine.list_files().len(), 1);
    assert!(
        !h.events
            .all()
            .iter()
            .any(|e| matches!(e, Event::Failed { .. }))
    );
}
