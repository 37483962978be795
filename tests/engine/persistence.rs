use std::time::{Duration, SystemTime};

use vod_sim::ThrottleSettings;
use vod_upload::protocol::SignatureVersion;
use vod_upload::source::Source;
use vod_upload::store::{Fingerprint, NewFile, PartRecord, Session, Store};
use vod_upload::transport::http::{HttpConfig, build_client};
use vod_upload::transport::oss::{OssAuth, OssClient, OssLocation};
use vod_upload::transport::vod::VodClient;
use vod_upload::{Event, FileStatus, UploadTarget, VodInfo};

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
    h.engine.start();
    h.events.wait_progress(&id, (size / 2) as u64).await;
    (id, data)
}

/// A new process on the same database, on a full-speed link, started with the account key.
fn restart_unthrottled(h: &mut Harness) {
    h.reopen();
    h.sim.throttle(ThrottleSettings {
        bandwidth: None,
        latency_ms: 0,
    });
    h.use_account_key();
    h.engine.start();
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
    h.engine.start();
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
    let resent = stats
        .object_bytes_received
        .saturating_sub(data.len() as u64);
    println!("bytes re-sent after the engine was dropped mid-upload: {resent}");
    assert!(resent <= 3 * PART, "re-sent {resent} bytes");
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
    restart_unthrottled(&mut h);
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
    let path = h.engine.file(&id).unwrap().source.display_path();
    let new: Vec<u8> = (0..1100 * 1024).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &new).unwrap();
    restart_unthrottled(&mut h);
    let result = h.events.wait_succeeded(&id).await;
    assert_eq!(result.bytes, new.len() as u64);
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, new);
    assert_eq!(h.sim.stats().multipart_uploads_initiated, 2);
}

/// The middle of the already-uploaded region changed between runs with size, mtime and the
/// first and last 64 KiB kept (as editors, sync tools and restores do): the checkpointed parts
/// are re-read before they are trusted, so the upload starts over and the object is the new
/// content, never half old, half new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_inside_uploaded_parts_with_mtime_kept_restarts_the_upload() {
    let mut h = Harness::new(|_| {}).await;
    let (id, old) = upload_part_way(&h, "retouched.mp4", 1024 * 1024).await;
    h.engine.shutdown();
    let path = h.engine.file(&id).unwrap().source.display_path();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let mut new = old.clone();
    new[150 * 1024] ^= 0xff; // inside part 2, uploaded before the kill
    std::fs::write(&path, &new).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);

    restart_unthrottled(&mut h);
    h.events.wait_succeeded(&id).await;
    let object = h.read_back(&h.engine.file(&id).unwrap()).await;
    assert!(
        object == new,
        "the object is the new content, not a mix of two versions"
    );
    assert_eq!(h.sim.stats().multipart_uploads_initiated, 2, "started over");
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

/// A checkpoint keeps its part size even when the engine is reopened with another one, so
/// nothing is re-sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_keeps_its_part_size_across_configurations() {
    let mut h = Harness::new(|_| {}).await;
    let (id, data) = upload_part_way(&h, "resized.mp4", 1536 * 1024).await;
    h.config.part_size = 256 * 1024;
    restart_unthrottled(&mut h);
    let result = h.events.wait_succeeded(&id).await;
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
    let stats = h.sim.stats();
    assert_eq!(stats.multipart_uploads_initiated, 1);
    assert_eq!(stats.parts_uploaded, (data.len() as u64).div_ceil(PART));
    // The result survives a restart too.
    h.reopen();
    assert_eq!(h.engine.file(&id).unwrap().crc64, Some(result.crc64));
}

/// Killed after CompleteMultipartUpload succeeded but before the result was recorded: the next
/// run finds the upload gone, sees that the object matches the full ledger, and succeeds
/// without sending the file again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_before_a_kill_is_not_uploaded_again() {
    let h = Harness::new(|_| {}).await;
    h.engine.shutdown();
    let (path, data) = h.file("sealed.mp4", 350 * 1024);
    let info = h.sim.info().clone();
    let http = build_client(&HttpConfig {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
        stall_timeout: Duration::from_secs(30),
        allow_http: true,
        ..Default::default()
    })
    .unwrap();
    // What the killed run had done: a video, a multipart upload with every part, completed.
    let account = h.sim.account_credentials();
    let vod = VodClient::new(http.clone(), info.vod_endpoint.parse().unwrap());
    let ticket = vod
        .create_upload_video(
            &account,
            "sealed.mp4",
            data.len() as u64,
            &VodInfo::default(),
        )
        .await
        .unwrap();
    let oss = OssClient::new(
        http,
        HttpConfig {
            allow_http: true,
            ..HttpConfig::default()
        },
    );
    let loc = OssLocation {
        endpoint: ticket.upload_address.endpoint.clone(),
        bucket: ticket.upload_address.bucket.clone(),
        key: ticket.upload_address.file_name.clone(),
    };
    let auth = OssAuth {
        credentials: ticket.upload_auth.credentials.clone(),
        version: SignatureVersion::V1,
        region: info.region.clone(),
    };
    let upload_id = oss
        .initiate_multipart(&loc, &auth, "video/mp4", &[])
        .await
        .unwrap();
    let mut parts = Vec::new();
    for n in 1..=4u32 {
        let offset = (n as u64 - 1) * PART;
        let len = PART.min(data.len() as u64 - offset);
        let p = oss
            .upload_part(
                &loc,
                &auth,
                &upload_id,
                n,
                &Source::path(&path),
                offset,
                len,
                &|_| {},
            )
            .await
            .unwrap();
        parts.push(PartRecord {
            part_number: n,
            size: p.size,
            etag: p.etag,
            crc64: p.crc64,
        });
    }
    let list: Vec<(u32, String)> = parts
        .iter()
        .map(|p| (p.part_number, p.etag.clone()))
        .collect();
    oss.complete_multipart(&loc, &auth, &upload_id, &list, &[])
        .await
        .unwrap();
    let id = "killed-after-complete".to_string();
    {
        let store = Store::open(h.config.database_path.as_ref().unwrap()).unwrap();
        store
            .insert_file(&NewFile {
                id: id.clone(),
                source: path.clone().into(),
                target: UploadTarget::Video,
                vod_info: VodInfo::default(),
                bytes_total: data.len() as u64,
                added_at: SystemTime::now(),
            })
            .unwrap();
        store.set_status(&id, FileStatus::Uploading, None).unwrap();
        store
            .update_target_info(
                &id,
                &loc.endpoint,
                &loc.bucket,
                &loc.key,
                Some(&ticket.video_id),
                None,
            )
            .unwrap();
        store
            .save_session(&Session {
                file_id: id.clone(),
                upload_id: Some(upload_id),
                endpoint: loc.endpoint.clone(),
                bucket: loc.bucket.clone(),
                object: loc.key.clone(),
                video_id: Some(ticket.video_id.clone()),
                image_id: None,
                image_url: None,
                part_size: PART,
                content_type: Some("video/mp4".into()),
                fingerprint: Fingerprint::of(&path).unwrap(),
                created_at: SystemTime::now(),
                credentials_expire_at: None,
            })
            .unwrap();
        for p in &parts {
            store.record_part(&id, p).unwrap();
        }
    }
    let before = h.sim.stats();
    let (engine, events) = open_engine(&h.config);
    let info_of = |e: &vod_upload::Engine| e.file(&id).unwrap();
    assert_eq!(info_of(&engine).status, FileStatus::Ready);
    engine
        .set_sts_token(
            info.access_key_id.clone(),
            info.access_key_secret.clone(),
            None,
            None,
        )
        .unwrap();
    engine.start();
    let result = events.wait_succeeded(&id).await;
    assert_eq!(result.video_id.as_deref(), Some(ticket.video_id.as_str()));
    assert_eq!(result.crc64, vod_upload::protocol::crc64::crc64(&data));
    let after = h.sim.stats();
    assert_eq!(
        after.parts_uploaded, before.parts_uploaded,
        "no part was sent again"
    );
    assert_eq!(
        after.multipart_uploads_initiated,
        before.multipart_uploads_initiated
    );
    assert_eq!(get_object(&h.sim, &loc.bucket, &loc.key).await, data);
}

/// After a restart the file has no credentials in memory; canceling it still aborts its
/// multipart upload (mode 2 gets the video's credentials again), so no parts stay billed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_after_restart_aborts_the_upload() {
    let mut h = Harness::new(|_| {}).await;
    let (id, _) = upload_part_way(&h, "abandoned.mp4", 1024 * 1024).await;
    h.reopen();
    h.sim.throttle(ThrottleSettings {
        bandwidth: None,
        latency_ms: 0,
    });
    h.use_account_key();
    assert_eq!(h.sim.stats().multipart_uploads_in_progress, 1);
    h.engine.cancel_file(&id, false).unwrap();
    h.wait_until("the abort", |h| {
        h.sim.stats().multipart_uploads_aborted == 1
    })
    .await;
    assert_eq!(h.sim.stats().multipart_uploads_in_progress, 0);
    assert_eq!(h.engine.file(&id).unwrap().status, FileStatus::Canceled);
}

/// `keep_succeeded`: a succeeded file stays listed across restarts while within it, and is
/// removed (with its row) when the engine opens after it; failed files stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn succeeded_files_go_at_restart_after_their_retention() {
    let mut h = Harness::new(|_| {}).await;
    h.use_account_key();
    let (path, _) = h.file("kept.mp4", 150 * 1024);
    let id = h.add(&path);
    let (gone, _) = h.file("gone.mp4", 150 * 1024);
    let missing = h.add(&gone);
    std::fs::remove_file(&gone).unwrap();
    h.engine.start();
    h.events.wait_succeeded(&id).await;
    h.events
        .wait_for("the missing file to fail", |ev| {
            ev.iter()
                .any(|e| matches!(e, Event::Failed { file, .. } if file.id == missing))
        })
        .await;

    // Within the default retention (7 days): both stay.
    h.reopen();
    assert_eq!(h.engine.list_files().len(), 2);

    h.config.keep_succeeded = Some(Duration::ZERO);
    h.reopen();
    let left: Vec<_> = h.engine.list_files().into_iter().map(|f| f.id).collect();
    assert_eq!(
        left,
        [missing],
        "the succeeded file is gone, the failed one stays"
    );
}
