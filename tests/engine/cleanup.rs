//! The cleanup outbox: an abort that fails, or that a kill interrupts, is owed until the
//! server confirms it; no multipart upload of a deleted or canceled file stays open.

use std::time::SystemTime;

use vod_sim::FaultRule;
use vod_upload::store::Store;
use vod_upload::{Event, FileInfo, UploadTarget, VodInfo};

use crate::common::*;

/// The aborts the database still owes (read as a second process would).
fn owed(h: &Harness) -> Vec<vod_upload::store::Cleanup> {
    let path = h.config.database_path.as_ref().expect("a database");
    Store::open(path)
        .expect("database opens")
        .cleanups()
        .unwrap()
}

async fn upload_part_way(h: &Harness, name: &str) -> String {
    h.throttle(Some(512 * 1024));
    let (path, _) = h.file(name, 1024 * 1024);
    let id = h.add(&path);
    h.engine.start();
    h.events.wait_progress(&id, 150 * 1024).await;
    id
}

/// AbortMultipartUpload answers 503 three times: the abort is retried with back-off until it
/// succeeds, and the queue goes on meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_abort_is_retried_until_the_server_confirms() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    let gone = upload_part_way(&h, "gone.mp4").await;
    let (next_path, next_data) = h.file("next.mp4", 150 * 1024);
    let next = h.add(&next_path);
    h.sim.set_faults(vec![
        FaultRule::status("AbortMultipartUpload", 503).with_count(3),
    ]);
    h.engine.delete_file(&gone).unwrap();
    h.throttle(None);
    h.events.wait_succeeded(&next).await;
    assert_eq!(h.read_back(&h.engine.file(&next).unwrap()).await, next_data);
    h.wait_until("the abort to get through", |h| {
        h.sim.stats().multipart_uploads_aborted == 1
    })
    .await;
    let stats = h.sim.stats();
    assert_eq!(stats.multipart_uploads_in_progress, 0);
    assert_eq!(stats.ops["AbortMultipartUpload"], 4, "3 refused, 1 done");
    h.wait_until("the outbox to empty", |h| owed(h).is_empty())
        .await;
}

/// The app is killed right after `delete_file`, before the abort got through: the next
/// process finds the abort owed in the database and carries it out (mode 2 gets the video's
/// credentials again with RefreshUploadVideo).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_interrupted_by_a_kill_is_carried_out_by_the_next_process() {
    let mut h = Harness::new(|_| {}).await;
    h.use_account_key();
    let id = upload_part_way(&h, "killed.mp4").await;
    h.sim
        .set_faults(vec![FaultRule::status("AbortMultipartUpload", 503)]);
    h.engine.delete_file(&id).unwrap();
    h.wait_until("a failed abort attempt on record", |h| {
        owed(h).first().is_some_and(|c| c.attempts >= 1)
    })
    .await;
    h.reopen();
    let owed_now = owed(&h);
    assert_eq!(owed_now.len(), 1, "the abort is owed across the restart");
    // The new process has no key yet: the abort waits, saying why.
    let last_error = owed_now[0].last_error.clone().unwrap_or_default();
    assert!(
        owed_now[0].attempts >= 1
            && (last_error.contains("ServiceUnavailable") || last_error.contains("no STS token")),
        "{owed_now:?}"
    );
    assert_eq!(h.sim.stats().multipart_uploads_in_progress, 1);

    h.sim.clear_faults();
    h.throttle(None);
    // Nothing in the queue; the new process only has the STS token.
    assert!(h.engine.list_files().is_empty());
    h.use_account_key();
    h.wait_until("the owed abort", |h| {
        h.sim.stats().multipart_uploads_aborted == 1
    })
    .await;
    assert_eq!(h.sim.stats().multipart_uploads_in_progress, 0);
    h.wait_until("the outbox to empty", |h| owed(h).is_empty())
        .await;
}

/// Mode 1: a file uploading part way with the UploadAuth and UploadAddress an app server
/// (here the simulator's own CreateUploadVideo) gave it. Returns the file id and video id.
async fn mode1_upload_part_way(h: &Harness, name: &str) -> (String, String) {
    let (vod, account) = h.app_server();
    h.throttle(Some(512 * 1024));
    let (path, data) = h.file(name, 1024 * 1024);
    let id = h.add(&path);
    h.engine.start();
    h.events
        .wait_for("started", |ev| {
            ev.iter()
                .any(|e| matches!(e, Event::Started { file } if file.id == id))
        })
        .await;
    let ticket = vod
        .create_upload_video(&account, name, data.len() as u64, &VodInfo::default())
        .await
        .unwrap();
    h.engine
        .set_upload_auth_and_address(
            &id,
            &ticket.upload_auth.encode(SystemTime::now()),
            &ticket.upload_address.encode(),
            Some(ticket.video_id.clone()),
        )
        .unwrap();
    h.events.wait_progress(&id, 150 * 1024).await;
    (id, ticket.video_id)
}

/// Mode 1: a refused abort is retried with the file's own credentials (the engine has no
/// others), not left waiting for the app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode1_a_failed_abort_is_retried_with_the_files_credentials() {
    let h = Harness::new(|_| {}).await;
    let (id, _) = mode1_upload_part_way(&h, "mode1-503.mp4").await;
    h.sim.set_faults(vec![
        FaultRule::status("AbortMultipartUpload", 503).with_count(2),
    ]);
    h.engine.cancel_file(&id, false).unwrap();
    h.wait_until("the abort to get through", |h| {
        h.sim.stats().multipart_uploads_aborted == 1
    })
    .await;
    assert_eq!(
        h.sim.stats().ops["AbortMultipartUpload"],
        3,
        "2 refused, 1 done"
    );
    h.wait_until("the outbox to empty", |h| owed(h).is_empty())
        .await;
}

/// Mode 1 after a kill: no credentials survive a restart, so the owed abort waits (it is not
/// dropped) until the app gives the engine a key that can carry it out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode1_an_owed_abort_waits_for_credentials() {
    let mut h = Harness::new(|_| {}).await;
    let (id, video_id) = mode1_upload_part_way(&h, "mode1.mp4").await;
    h.sim
        .set_faults(vec![FaultRule::status("AbortMultipartUpload", 503)]);
    h.engine.cancel_file(&id, false).unwrap();
    h.wait_until("an abort attempt with the file's own credentials", |h| {
        h.sim.stats().ops.get("AbortMultipartUpload").copied() >= Some(1)
    })
    .await;
    h.reopen();
    h.sim.clear_faults();
    h.throttle(None);
    let owed_now = owed(&h);
    assert_eq!(owed_now.len(), 1);
    assert_eq!(owed_now[0].video_id.as_deref(), Some(video_id.as_str()));
    assert_eq!(h.sim.stats().multipart_uploads_in_progress, 1);

    // A key arrives (here the account key; in an app, an STS token): the abort goes through.
    h.use_account_key();
    h.wait_until("the owed abort", |h| {
        h.sim.stats().multipart_uploads_aborted == 1
    })
    .await;
    h.wait_until("the outbox to empty", |h| owed(h).is_empty())
        .await;
}

/// Holds the next CompleteMultipartUpload answer until after `stop()`: the server completed
/// the object, the engine never heard it. Returns the file id and its bytes.
async fn complete_answer_lost(h: &Harness, name: &str) -> (String, Vec<u8>) {
    h.use_account_key();
    let (path, data) = h.file(name, 250 * 1024);
    h.sim.set_faults(vec![
        FaultRule::hold("CompleteMultipartUpload", 30_000).with_count(1),
    ]);
    let id = h.add(&path);
    h.engine.start();
    h.wait_until("the server to complete the object", |h| {
        h.sim.stats().multipart_uploads_completed == 1
    })
    .await;
    h.engine.stop();
    h.sim.clear_faults();
    assert_eq!(h.events.count(|e| matches!(e, Event::Succeeded { .. })), 0);
    (id, data)
}

/// `start()` after a lost Complete answer asks the server (ListParts: NoSuchUpload, then
/// HeadObject with the object's CRC-64 against the ledger's) and reports success without
/// sending anything again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_complete_answer_is_reconciled_on_start() {
    let h = Harness::new(|_| {}).await;
    let (id, data) = complete_answer_lost(&h, "lost-complete.mp4").await;
    h.engine.start();
    h.events.wait_succeeded(&id).await;
    let stats = h.sim.stats();
    assert_eq!(
        (
            stats.multipart_uploads_initiated,
            stats.multipart_uploads_completed
        ),
        (1, 1),
        "the same upload, not a second one"
    );
    assert_eq!(
        stats.object_bytes_received,
        data.len() as u64,
        "nothing sent twice"
    );
    assert_eq!(stats.multipart_uploads_in_progress, 0);
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
}

/// `delete_file` after a lost Complete answer: the owed abort gets NoSuchUpload, which the
/// outbox checks with HeadObject (the object is complete: as for deleting a succeeded file,
/// the object stays) instead of taking it on trust; nothing is left open or owed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_complete_answer_then_delete_leaves_nothing_open() {
    let h = Harness::new(|_| {}).await;
    let (id, data) = complete_answer_lost(&h, "lost-then-deleted.mp4").await;
    let info = h.engine.file(&id).unwrap();
    h.engine.delete_file(&id).unwrap();
    h.wait_until("the outbox to empty", |h| owed(h).is_empty())
        .await;
    let stats = h.sim.stats();
    assert_eq!(stats.ops.get("AbortMultipartUpload"), Some(&1));
    assert_eq!(
        stats.ops.get("HeadObject"),
        Some(&1),
        "NoSuchUpload was checked"
    );
    assert_eq!(stats.multipart_uploads_in_progress, 0);
    assert_eq!(h.read_back(&info).await, data, "the completed object stays");
}

/// `cancel_file` after a lost Complete answer: the app's decision stands (the file is
/// canceled), the owed abort is checked and settled, and `resume_file` uploads it again into
/// the same object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_complete_answer_then_cancel_and_resume() {
    let h = Harness::new(|_| {}).await;
    let (id, data) = complete_answer_lost(&h, "lost-then-canceled.mp4").await;
    h.engine.cancel_file(&id, false).unwrap();
    assert_eq!(
        h.engine.file(&id).unwrap().status,
        vod_upload::FileStatus::Canceled
    );
    h.wait_until("the outbox to empty", |h| owed(h).is_empty())
        .await;
    assert_eq!(h.sim.stats().multipart_uploads_in_progress, 0);
    h.engine.resume_file(&id).unwrap();
    h.engine.start();
    let result = h.events.wait_succeeded(&id).await;
    assert_eq!(result.bytes, data.len() as u64);
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
    assert_eq!(h.sim.stats().multipart_uploads_in_progress, 0);
}

/// Holds the next InitiateMultipartUpload answer until after `stop()`: the server began an
/// upload the engine never heard of. Own bucket, account key (which may list the bucket).
async fn initiate_answer_lost(h: &Harness, name: &str) -> (String, Vec<u8>, FileInfo) {
    h.use_account_key();
    let (path, data) = h.file(name, 250 * 1024);
    let target = UploadTarget::Object {
        endpoint: h.sim.info().oss_endpoint.clone(),
        bucket: "own-bucket".into(),
        object: format!("raw/{name}"),
    };
    h.sim.set_faults(vec![
        FaultRule::hold("InitiateMultipartUpload", 30_000).with_count(1),
    ]);
    let before = h.sim.stats().multipart_uploads_initiated;
    let id = h.engine.add_file(path, target, VodInfo::default()).unwrap();
    h.engine.start();
    h.wait_until("the server to begin the upload", |h| {
        h.sim.stats().multipart_uploads_initiated == before + 1
    })
    .await;
    h.engine.stop();
    h.sim.clear_faults();
    (id.clone(), data, h.engine.file(&id).unwrap())
}

/// `start()` after a lost Initiate answer finds the upload the server began
/// (ListMultipartUploads) and continues it: no second upload, nothing left open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_initiate_answer_is_reconciled_on_start() {
    let h = Harness::new(|_| {}).await;
    let (id, data, _) = initiate_answer_lost(&h, "lost-initiate.mov").await;
    h.engine.start();
    h.events.wait_succeeded(&id).await;
    let stats = h.sim.stats();
    assert_eq!(stats.ops.get("ListMultipartUploads"), Some(&1));
    assert_eq!(
        stats.multipart_uploads_initiated, 1,
        "the lost upload was continued"
    );
    assert_eq!(stats.multipart_uploads_in_progress, 0);
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
}

/// `delete_file` or `cancel_file` after a lost Initiate answer: the outbox looks for the
/// upload it began and aborts it, across a restart too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_initiate_answer_then_delete_or_cancel_leaves_nothing_open() {
    let mut h = Harness::new(|_| {}).await;
    let (deleted, _, _) = initiate_answer_lost(&h, "lost-then-deleted.mov").await;
    h.sim
        .set_faults(vec![FaultRule::status("ListMultipartUploads", 503)]);
    h.engine.delete_file(&deleted).unwrap();
    h.wait_until("a failed search on record", |h| {
        owed(h).first().is_some_and(|c| c.attempts >= 1)
    })
    .await;
    let owed_now = owed(&h);
    assert_eq!(
        (owed_now.len(), owed_now[0].upload_id.as_deref()),
        (1, None)
    );
    // Killed before the search got through: the next process carries it out.
    h.reopen();
    h.sim.clear_faults();
    h.use_account_key();
    h.wait_until("the lost upload to be aborted", |h| {
        h.sim.stats().multipart_uploads_aborted == 1
    })
    .await;
    h.wait_until("the outbox to empty", |h| owed(h).is_empty())
        .await;

    let (canceled, _, _) = initiate_answer_lost(&h, "lost-then-canceled.mov").await;
    h.engine.cancel_file(&canceled, false).unwrap();
    h.wait_until("the second lost upload to be aborted", |h| {
        h.sim.stats().multipart_uploads_aborted == 2
    })
    .await;
    assert_eq!(h.sim.stats().multipart_uploads_in_progress, 0);
    h.wait_until("the outbox to empty", |h| owed(h).is_empty())
        .await;
}

/// VOD targets: the UploadAuth is for one object and may not list the bucket, so the upload a
/// lost Initiate began cannot be found. It holds no part (none is sent without its id), so
/// nothing is billed; the file still succeeds, in a second upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vod_a_lost_initiate_leaves_at_most_an_empty_upload() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    let (path, data) = h.file("vod-lost-initiate.mp4", 250 * 1024);
    h.sim.set_faults(vec![
        FaultRule::hold("InitiateMultipartUpload", 30_000).with_count(1),
    ]);
    let id = h.add(&path);
    h.engine.start();
    h.wait_until("the server to begin the upload", |h| {
        h.sim.stats().multipart_uploads_initiated == 1
    })
    .await;
    h.engine.stop();
    h.sim.clear_faults();
    h.engine.start();
    h.events.wait_succeeded(&id).await;
    let stats = h.sim.stats();
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
    assert_eq!(stats.ops.get("ListMultipartUploads"), Some(&1), "it looked");
    assert_eq!(
        (
            stats.multipart_uploads_initiated,
            stats.multipart_uploads_in_progress
        ),
        (2, 1)
    );
    assert_eq!(
        stats.object_bytes_received,
        data.len() as u64,
        "no part went to the lost one"
    );
}

/// Mode 2, a VOD target: the file is deleted while its Initiate answer is held back, so the
/// upload that answer names is owed an abort; the first abort is refused with 503. The retry
/// must still have credentials (the video's, through RefreshUploadVideo): nothing stays open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vod_an_abort_owed_by_a_late_initiate_answer_survives_a_503() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    let (path, _) = h.file("late-initiate.mp4", 250 * 1024);
    h.sim.set_faults(vec![
        FaultRule::hold("InitiateMultipartUpload", 500).with_count(1),
        FaultRule::status("AbortMultipartUpload", 503).with_count(1),
    ]);
    let id = h.add(&path);
    h.engine.start();
    h.wait_until("the server to begin the upload", |h| {
        h.sim.stats().multipart_uploads_initiated == 1
    })
    .await;
    h.engine.delete_file(&id).unwrap();
    h.wait_until("the late upload to be aborted", |h| {
        h.sim.stats().multipart_uploads_aborted == 1
    })
    .await;
    assert_eq!(h.sim.stats().multipart_uploads_in_progress, 0);
    assert_eq!(
        h.sim.stats().ops["AbortMultipartUpload"],
        2,
        "1 refused, 1 done"
    );
    h.wait_until("the outbox to empty", |h| owed(h).is_empty())
        .await;
}
