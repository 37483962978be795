use vod_sim::ThrottleSettings;
use vod_upload::{EngineStatus, Event, FileStatus, WaitingReason};

use crate::common::*;

fn slow(h: &Harness) {
    h.sim.throttle(ThrottleSettings {
        bandwidth: Some(512 * 1024),
        latency_ms: 0,
    });
}

fn fast(h: &Harness) {
    h.sim.throttle(ThrottleSettings {
        bandwidth: None,
        latency_ms: 0,
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_mid_file() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    slow(&h);
    let (path, data) = h.file("long.mp4", 2 * 1024 * 1024);
    let id = h.add(&path);
    h.engine.start();
    h.events.wait_progress(&id, 400 * 1024).await;

    h.engine.pause();
    assert_eq!(h.engine.status(), EngineStatus::Paused);
    let paused = h.engine.file(&id).unwrap();
    assert_eq!(paused.status, FileStatus::Paused);
    assert_eq!(paused.waiting, Some(WaitingReason::Paused));
    let done_before = paused.bytes_uploaded;
    assert!(done_before > 0 && done_before < data.len() as u64);

    fast(&h);
    h.engine.resume();
    h.events.wait_succeeded(&id).await;
    let info = h.engine.file(&id).unwrap();
    assert_eq!(h.read_back(&info).await, data);
    assert_progress_sane(&h.events.all(), &id);
    // Only the parts in flight at the pause can have been sent twice.
    let parts = (data.len() as u64).div_ceil(100 * 1024);
    let sent = h.sim.stats().parts_uploaded;
    assert!(
        sent <= parts + h.config.parallel_parts as u64,
        "{sent} part uploads for {parts} parts"
    );
    assert_eq!(
        h.events.count(|e| matches!(e, Event::Started { .. })),
        1,
        "resume does not restart the file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_then_start_continues() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    slow(&h);
    let (path, data) = h.file("stop.mp4", 1024 * 1024);
    let id = h.add(&path);
    h.engine.start();
    h.events.wait_progress(&id, 200 * 1024).await;
    h.engine.stop();
    assert_eq!(h.engine.status(), EngineStatus::Stopped);
    assert_eq!(h.engine.file(&id).unwrap().status, FileStatus::Ready);
    fast(&h);
    h.engine.start();
    h.events.wait_succeeded(&id).await;
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_then_resume_file() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    slow(&h);
    let (p1, d1) = h.file("a.mp4", 1024 * 1024);
    let (p2, d2) = h.file("b.mp4", 200 * 1024);
    let a = h.add(&p1);
    let b = h.add(&p2);
    h.engine.start();
    h.events.wait_progress(&a, 150 * 1024).await;
    h.engine.cancel_file(&a, true).unwrap();
    assert_eq!(h.engine.file(&a).unwrap().status, FileStatus::Canceled);
    // The queue moves on to the next file.
    fast(&h);
    h.events.wait_succeeded(&b).await;
    h.engine.resume_file(&a).unwrap();
    h.events.wait_succeeded(&a).await;
    assert_eq!(h.read_back(&h.engine.file(&a).unwrap()).await, d1);
    assert_eq!(h.read_back(&h.engine.file(&b).unwrap()).await, d2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_aborts_the_multipart_upload() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    slow(&h);
    let (p, _) = h.file("abort.mp4", 1024 * 1024);
    let id = h.add(&p);
    h.engine.start();
    h.events.wait_progress(&id, 150 * 1024).await;
    h.engine.cancel_file(&id, false).unwrap();
    fast(&h);
    h.wait_until("the multipart upload to be aborted", |h| {
        h.sim.stats().multipart_uploads_aborted == 1
    })
    .await;
    assert_eq!(h.sim.stats().multipart_uploads_in_progress, 0);
    let info = h.engine.file(&id).unwrap();
    assert_eq!(
        (info.status, info.bytes_uploaded),
        (FileStatus::Canceled, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_during_upload() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    slow(&h);
    let (p1, _) = h.file("gone.mp4", 1024 * 1024);
    let (p2, d2) = h.file("next.mp4", 150 * 1024);
    let gone = h.add(&p1);
    let next = h.add(&p2);
    h.engine.start();
    h.events.wait_progress(&gone, 150 * 1024).await;
    h.engine.delete_file(&gone).unwrap();
    assert!(h.engine.file(&gone).is_none());
    assert_eq!(h.engine.list_files().len(), 1);
    fast(&h);
    h.events.wait_succeeded(&next).await;
    assert_eq!(h.read_back(&h.engine.file(&next).unwrap()).await, d2);
    h.wait_until("the deleted file's upload to be aborted", |h| {
        h.sim.stats().multipart_uploads_in_progress == 0
    })
    .await;
    assert!(!h.events.all().iter().any(|e| matches!(e, Event::Succeeded { file, .. } | Event::Failed { file, .. } if file.id == gone)));
}
