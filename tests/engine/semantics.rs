//! The native SDK's control semantics (docs/control.md), each row against vod-sim, and mode 1
//! surviving an app restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use vod_upload::protocol::credentials::Credentials;
use vod_upload::transport::vod::{VideoTicket, VodClient};
use vod_upload::{EngineStatus, Event, EventListener, FileStatus, VodInfo, WaitingReason};

use crate::common::*;

const PART: u64 = 100 * 1024;

/// Mode 1's opening: the queue starts the file, the app server creates its video, and the app
/// answers `started` with the video's UploadAuth and UploadAddress.
async fn start_mode1(
    h: &Harness,
    (vod, account): &(VodClient, Credentials),
    id: &str,
    name: &str,
    size: u64,
) -> VideoTicket {
    h.engine.start();
    h.events
        .wait_for("started", |ev| {
            ev.iter()
                .any(|e| matches!(e, Event::Started { file } if file.id == id))
        })
        .await;
    let ticket = vod
        .create_upload_video(account, name, size, &VodInfo::default())
        .await
        .unwrap();
    h.engine
        .set_upload_auth_and_address(
            id,
            &ticket.upload_auth.encode(SystemTime::now()),
            &ticket.upload_address.encode(),
            Some(ticket.video_id.clone()),
        )
        .unwrap();
    ticket
}

/// Mode 2, on a slow link: `name` is added, the queue started, and `at` bytes are on their way.
async fn uploading(h: &Harness, name: &str, size: usize, at: u64) -> (String, Vec<u8>) {
    h.use_account_key();
    h.throttle(Some(512 * 1024));
    let (path, data) = h.file(name, size);
    let id = h.add(&path);
    h.engine.start();
    h.events.wait_progress(&id, at).await;
    (id, data)
}

fn terminal_events(events: &[Event], id: &str) -> usize {
    events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Succeeded { .. } | Event::Failed { .. } | Event::Canceled { .. }
            ) && e.file_id() == Some(id)
        })
        .count()
}

/// Mode 1, killed mid-file and restarted: `started` carries the video id, the app server
/// answers with RefreshUploadVideo's credentials, and the same multipart upload continues;
/// only parts that were in flight are sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode1_restart_continues_the_same_video_and_upload() {
    let mut h = Harness::new(|_| {}).await;
    let server = h.app_server();
    let (vod, account) = &server;
    h.throttle(Some(768 * 1024));
    let size = 8 * 1024 * 1024;
    let (path, data) = h.file("mode1-kill.mp4", size);
    let id = h.add(&path);
    let ticket = start_mode1(&h, &server, &id, "mode1-kill.mp4", size as u64).await;
    h.events.wait_progress(&id, 5 * 1024 * 1024 / 2).await;

    // The app is killed: the engine goes, the database stays.
    h.reopen();
    h.throttle(None);
    let restored = h.engine.file(&id).expect("the file is restored");
    assert_eq!(restored.video_id.as_deref(), Some(ticket.video_id.as_str()));
    assert_eq!(
        restored.object.as_deref(),
        Some(ticket.upload_address.file_name.as_str())
    );
    let before = h.sim.stats();

    h.engine.start();
    h.events
        .wait_for("started after the restart", |ev| {
            ev.iter().any(|e| matches!(e, Event::Started { file } if file.video_id.as_deref() == Some(ticket.video_id.as_str())))
        })
        .await;
    // The app server refreshes the video the file already has.
    let renewed = vod
        .refresh_upload_video(account, &ticket.video_id)
        .await
        .unwrap();
    h.engine
        .set_upload_auth_and_address(
            &id,
            &renewed.upload_auth.encode(SystemTime::now()),
            &renewed.upload_address.encode(),
            Some(ticket.video_id.clone()),
        )
        .unwrap();
    let result = h.events.wait_succeeded(&id).await;
    assert_eq!(result.video_id.as_deref(), Some(ticket.video_id.as_str()));
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);

    let after = h.sim.stats();
    assert_eq!(after.multipart_uploads_initiated, 1, "one multipart upload");
    assert_eq!(after.multipart_uploads_in_progress, 0, "nothing left open");
    let sent_before_kill = before.object_bytes_received;
    let resent = after.object_bytes_received.saturating_sub(size as u64);
    println!(
        "mode-1 kill at {sent_before_kill} of {size} bytes: {resent} bytes re-sent after the restart"
    );
    // Only the parts in flight at the kill.
    assert!(
        resent <= h.config.parallel_parts as u64 * PART,
        "re-sent {resent} bytes: more than the parts in flight"
    );
}

/// Mode 1 after a restart, answered with `resume_with_auth` alone: the engine knows the
/// address from its checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode1_restart_answered_with_resume_with_auth() {
    let mut h = Harness::new(|_| {}).await;
    let server = h.app_server();
    let (vod, account) = &server;
    h.throttle(Some(512 * 1024));
    let (path, data) = h.file("mode1-auth.mp4", 1024 * 1024);
    let id = h.add(&path);
    let ticket = start_mode1(&h, &server, &id, "mode1-auth.mp4", data.len() as u64).await;
    h.events.wait_progress(&id, 300 * 1024).await;
    h.reopen();
    h.throttle(None);
    h.engine.start();
    h.events
        .wait_for("waiting for credentials", |ev| {
            ev.iter().any(|e| {
                matches!(
                    e,
                    Event::Waiting {
                        reason: WaitingReason::Credentials,
                        ..
                    }
                )
            })
        })
        .await;
    let renewed = vod
        .refresh_upload_video(account, &ticket.video_id)
        .await
        .unwrap();
    h.engine
        .resume_with_auth(&renewed.upload_auth.encode(SystemTime::now()))
        .unwrap();
    h.events.wait_succeeded(&id).await;
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
    assert_eq!(h.sim.stats().multipart_uploads_initiated, 1);
}

/// pause() → stop() → start(): the paused file is continued (it used to be stranded, with an
/// `AllDone` although it never finished).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stop_start_completes() {
    let h = Harness::new(|_| {}).await;
    let (id, data) = uploading(&h, "pss.mp4", 1024 * 1024, 200 * 1024).await;
    h.engine.pause();
    assert_eq!(h.engine.file(&id).unwrap().status, FileStatus::Paused);
    h.engine.stop();
    assert_eq!(h.engine.status(), EngineStatus::Stopped);
    assert_eq!(h.engine.file(&id).unwrap().status, FileStatus::Ready);
    assert_eq!(h.events.count(|e| matches!(e, Event::AllDone)), 0);
    h.throttle(None);
    h.engine.start();
    h.events.wait_succeeded(&id).await;
    h.events
        .wait_for("all done", |ev| {
            ev.iter().any(|e| matches!(e, Event::AllDone))
        })
        .await;
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
    assert_eq!(h.sim.stats().multipart_uploads_initiated, 1);
}

/// pause() → start(): start continues a paused queue (it used to be refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_then_start_continues() {
    let h = Harness::new(|_| {}).await;
    let (id, _) = uploading(&h, "ps.mp4", 600 * 1024, 150 * 1024).await;
    h.engine.pause();
    h.throttle(None);
    h.engine.start();
    assert_eq!(h.engine.status(), EngineStatus::Running);
    h.events.wait_succeeded(&id).await;
    assert_eq!(h.events.count(|e| matches!(e, Event::Started { .. })), 1);
}

/// Every call in a state where it does not apply returns normally and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_that_do_not_apply_are_ignored() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    // Idle.
    h.engine.pause();
    h.engine.resume();
    h.engine.stop();
    assert_eq!(h.engine.status(), EngineStatus::Idle);
    h.engine.delete_file("no-such-id").unwrap();
    h.engine.cancel_file("no-such-id", false).unwrap();
    h.engine.resume_file("no-such-id").unwrap();
    h.engine
        .resume_with_auth(&sample_upload_auth())
        .expect("no file waits: ignored");

    h.throttle(Some(512 * 1024));
    let (path, _) = h.file("twice.mp4", 600 * 1024);
    let id = h.add(&path);
    h.engine.resume_file(&id).unwrap(); // ready, not canceled
    h.engine.start();
    h.engine.start();
    h.engine.resume();
    h.events.wait_progress(&id, 100 * 1024).await;
    h.engine.resume_file(&id).unwrap(); // uploading
    h.engine.pause();
    h.engine.pause();
    assert_eq!(h.engine.status(), EngineStatus::Paused);
    h.engine.resume();
    h.engine.resume();
    assert_eq!(h.engine.status(), EngineStatus::Running);
    h.throttle(None);
    h.events.wait_succeeded(&id).await;
    h.engine.cancel_file(&id, false).unwrap(); // finished
    h.engine.resume_file(&id).unwrap();
    assert_eq!(h.engine.file(&id).unwrap().status, FileStatus::Succeeded);
    assert_eq!(h.events.count(|e| matches!(e, Event::Started { .. })), 1);
    assert_eq!(terminal_events(&h.events.all(), &id), 1);
    h.engine.stop();
    h.engine.stop();
    h.engine.resume(); // stopped: start() continues, resume() does not
    assert_eq!(h.engine.status(), EngineStatus::Stopped);
}

fn sample_upload_auth() -> String {
    use base64::Engine as _;
    let json =
        r#"{"AccessKeyId":"STS.x","AccessKeySecret":"s","SecurityToken":"t","Expiration":"3600"}"#;
    base64::engine::general_purpose::STANDARD.encode(json)
}

/// Cancel and delete while uploading: the multipart uploads are aborted on the server, each
/// file gets one terminal event (`Canceled`), and the next file goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_delete_while_uploading() {
    let h = Harness::new(|c| c.max_parallel_files = 2).await;
    h.use_account_key();
    h.throttle(Some(512 * 1024));
    let (p1, _) = h.file("cancel.mp4", 1024 * 1024);
    let (p2, _) = h.file("delete.mp4", 1024 * 1024);
    let (p3, d3) = h.file("next.mp4", 300 * 1024);
    let a = h.add(&p1);
    let b = h.add(&p2);
    let c = h.add(&p3);
    h.engine.start();
    h.events.wait_progress(&a, 150 * 1024).await;
    h.events.wait_progress(&b, 150 * 1024).await;
    h.engine.cancel_file(&a, false).unwrap();
    h.engine.delete_file(&b).unwrap();
    h.throttle(None);
    h.events.wait_succeeded(&c).await;
    h.wait_until("both uploads aborted", |h| {
        h.sim.stats().multipart_uploads_aborted == 2
    })
    .await;
    let events = h.events.all();
    assert!(events.iter().any(|e| matches!(e, Event::Canceled { file, deleted: false } if file.id == a && file.status == FileStatus::Canceled)));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Canceled { file, deleted: true } if file.id == b))
    );
    for id in [&a, &b, &c] {
        assert_eq!(
            terminal_events(&events, id),
            1,
            "{id}: {:?}",
            h.events.summary()
        );
    }
    assert_eq!(h.read_back(&h.engine.file(&c).unwrap()).await, d3);
    assert_eq!(h.sim.stats().multipart_uploads_in_progress, 0);
    assert!(h.engine.file(&b).is_none());
}

/// clear_files() stops what runs and ends every unfinished file with `Canceled`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_files_stops_what_runs() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    h.throttle(Some(512 * 1024));
    let (p1, _) = h.file("c1.mp4", 1024 * 1024);
    let (p2, _) = h.file("c2.mp4", 200 * 1024);
    let a = h.add(&p1);
    let b = h.add(&p2);
    h.engine.start();
    h.events.wait_progress(&a, 150 * 1024).await;
    h.engine.clear_files().unwrap();
    assert!(h.engine.list_files().is_empty());
    h.events
        .wait_for("canceled events", |ev| {
            terminal_events(ev, &a) == 1 && terminal_events(ev, &b) == 1
        })
        .await;
    h.throttle(None);
    h.wait_until("the upload aborted", |h| {
        h.sim.stats().multipart_uploads_in_progress == 0
    })
    .await;
}

/// A listener that panics on every event neither stops the upload nor the other subscribers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_listener_stops_nothing() {
    struct Panics(AtomicUsize);
    impl EventListener for Panics {
        fn on_event(&self, _: Event) {
            self.0.fetch_add(1, Ordering::Relaxed);
            panic!("listener bug");
        }
    }
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    let panics = Arc::new(Panics(AtomicUsize::new(0)));
    let sub = h.engine.subscribe(panics.clone());
    let (path, data) = h.file("panic.mp4", 350 * 1024);
    let id = h.add(&path);
    h.engine.start();
    h.events.wait_succeeded(&id).await;
    h.events
        .wait_for("all done", |ev| {
            ev.iter().any(|e| matches!(e, Event::AllDone))
        })
        .await;
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
    assert!(
        panics.0.load(Ordering::Relaxed) >= 3,
        "it kept receiving events"
    );
    drop(sub);
}
