use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::Connection;

use super::*;
use crate::model::{FileError, FileStatus, UploadResult, UploadTarget, VodInfo};

fn ms(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(n)
}

fn new_file(id: &str) -> NewFile {
    NewFile {
        id: id.into(),
        source: FileSource::Path(format!("/videos/{id}.mp4").into()),
        target: UploadTarget::Video,
        vod_info: VodInfo {
            title: Some(format!("title {id}")),
            tags: vec!["a".into(), "b".into()],
            cate_id: Some(7),
            ..VodInfo::default()
        },
        bytes_total: 10 * 1024 * 1024,
        added_at: ms(1_700_000_000_123),
    }
}

fn session(file_id: &str, upload_id: Option<&str>) -> Session {
    Session {
        file_id: file_id.into(),
        upload_id: upload_id.map(Into::into),
        endpoint: "https://oss-cn-shanghai.aliyuncs.com".into(),
        bucket: "outin-bucket".into(),
        object: format!("sv/{file_id}.mp4"),
        video_id: Some("vid-1".into()),
        image_id: None,
        image_url: None,
        part_size: 1024 * 1024,
        content_type: Some("video/mp4".into()),
        fingerprint: Fingerprint {
            size: 10 * 1024 * 1024,
            mtime_ns: 1_700_000_000_123_456_789,
            version: None,
            head_sha256: [0xab; 32],
            tail_sha256: [0x01; 32],
        },
        created_at: ms(1_700_000_001_000),
        credentials_expire_at: Some(ms(1_700_003_600_000)),
    }
}

fn part(n: u32, size: u64) -> PartRecord {
    PartRecord {
        part_number: n,
        size,
        etag: format!("\"etag-{n}\""),
        crc64: u64::from(n) * 31,
    }
}

fn ids(store: &Store) -> Vec<String> {
    store
        .list_files()
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect()
}

fn store_error(e: Error) -> String {
    match e {
        Error::Store(e) => e.message,
        other => panic!("expected Error::Store, got {other:?}"),
    }
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Store>();
}

#[test]
fn file_crud() {
    let store = Store::open_in_memory().unwrap();
    let nf = new_file("a");
    let row = store.insert_file(&nf).unwrap();
    assert_eq!(row.id, "a");
    assert_eq!(row.source, nf.source);
    assert_eq!(row.target, UploadTarget::Video);
    assert_eq!(row.vod_info, nf.vod_info);
    assert_eq!(row.status, FileStatus::Ready);
    assert_eq!(row.bytes_total, nf.bytes_total);
    assert_eq!(row.bytes_done, 0);
    assert_eq!(row.added_at, nf.added_at);
    assert_eq!(row.last_error, None);
    assert_eq!(row.result(), None);
    assert_eq!(store.get_file("a").unwrap(), Some(row.clone()));
    assert_eq!(store.get_file("nope").unwrap(), None);

    // The same id twice is refused, with the id in the message.
    let msg = store_error(store.insert_file(&nf).unwrap_err());
    assert!(msg.contains("add file a"), "{msg}");

    let err = FileError {
        code: "SecurityTokenExpired".into(),
        message: "token expired".into(),
        request_id: Some("req-1".into()),
    };
    store
        .set_status("a", FileStatus::Failed, Some(&err))
        .unwrap();
    let row = store.get_file("a").unwrap().unwrap();
    assert_eq!(
        (row.status, row.last_error),
        (FileStatus::Failed, Some(err))
    );
    store.set_status("a", FileStatus::Uploading, None).unwrap();
    let row = store.get_file("a").unwrap().unwrap();
    assert_eq!((row.status, row.last_error), (FileStatus::Uploading, None));

    store
        .update_target_info(
            "a",
            "https://oss.example",
            "bkt",
            "obj/a.mp4",
            Some("vid"),
            None,
        )
        .unwrap();
    let row = store.get_file("a").unwrap().unwrap();
    assert_eq!(row.endpoint.as_deref(), Some("https://oss.example"));
    assert_eq!(row.bucket.as_deref(), Some("bkt"));
    assert_eq!(row.object.as_deref(), Some("obj/a.mp4"));
    assert_eq!(row.video_id.as_deref(), Some("vid"));
    assert_eq!(row.image_url, None);

    store.set_bytes_total("a", 42).unwrap();
    assert_eq!(store.get_file("a").unwrap().unwrap().bytes_total, 42);

    // Every status round-trips.
    for status in [
        FileStatus::Ready,
        FileStatus::Uploading,
        FileStatus::Waiting,
        FileStatus::Paused,
        FileStatus::Canceled,
        FileStatus::Succeeded,
        FileStatus::Failed,
    ] {
        store.set_status("a", status, None).unwrap();
        assert_eq!(store.get_file("a").unwrap().unwrap().status, status);
    }

    assert!(store.delete_file("a").unwrap());
    assert!(!store.delete_file("a").unwrap());
    assert_eq!(store.get_file("a").unwrap(), None);
}

#[test]
fn targets_and_vod_info_round_trip() {
    let store = Store::open_in_memory().unwrap();
    let mut nf = new_file("o");
    nf.target = UploadTarget::Object {
        endpoint: "https://oss-cn-hangzhou.aliyuncs.com".into(),
        bucket: "mine".into(),
        object: "dir/ü 1.mov".into(),
    };
    nf.vod_info = VodInfo {
        title: Some("标题".into()),
        description: Some("d".into()),
        cate_id: Some(-1),
        tags: vec!["x".into()],
        cover_url: Some("https://c".into()),
        user_data: Some(r#"{"Extend":{"k":"v"}}"#.into()),
        template_group_id: Some("t".into()),
        storage_location: Some("s".into()),
        workflow_id: Some("w".into()),
        app_id: Some("app".into()),
        is_process: Some(false),
        is_show_watermark: Some(true),
        priority: Some(10),
        image_type: Some(crate::model::ImageType::Cover),
        image_ext: Some("jpg".into()),
    };
    let row = store.insert_file(&nf).unwrap();
    assert_eq!((&row.target, &row.vod_info), (&nf.target, &nf.vod_info));
    nf.id = "i".into();
    nf.target = UploadTarget::Image;
    assert_eq!(store.insert_file(&nf).unwrap().target, UploadTarget::Image);
}

#[test]
fn result_sets_succeeded_and_round_trips_u64_max_crc() {
    let store = Store::open_in_memory().unwrap();
    store.insert_file(&new_file("a")).unwrap();
    store
        .set_status(
            "a",
            FileStatus::Failed,
            Some(&FileError {
                code: "X".into(),
                message: "y".into(),
                request_id: None,
            }),
        )
        .unwrap();
    let result = UploadResult {
        video_id: Some("vid".into()),
        image_url: None,
        endpoint: "https://oss.example".into(),
        bucket: "b".into(),
        object: "o".into(),
        bytes: 123,
        crc64: u64::MAX,
    };
    store.set_result("a", &result).unwrap();
    let row = store.get_file("a").unwrap().unwrap();
    assert_eq!(row.status, FileStatus::Succeeded);
    assert_eq!(row.last_error, None);
    assert_eq!(row.crc64, Some(u64::MAX));
    assert_eq!(
        row.bytes_done, 123,
        "a succeeded file is done, with or without a ledger"
    );
    assert_eq!(row.result(), Some(result));

    // Part CRCs too: above i64::MAX, and the extremes.
    store.save_session(&session("a", Some("up"))).unwrap();
    for (n, crc) in [(1, u64::MAX), (2, 0), (3, 1 << 63), (4, (1 << 63) - 1)] {
        store
            .record_part(
                "a",
                &PartRecord {
                    crc64: crc,
                    ..part(n, 1)
                },
            )
            .unwrap();
    }
    let crcs: Vec<u64> = store.parts("a").unwrap().iter().map(|p| p.crc64).collect();
    assert_eq!(crcs, [u64::MAX, 0, 1 << 63, (1 << 63) - 1]);
}

#[test]
fn queue_order_survives_deletes() {
    let store = Store::open_in_memory().unwrap();
    for id in ["a", "b", "c", "d"] {
        store.insert_file(&new_file(id)).unwrap();
    }
    assert_eq!(ids(&store), ["a", "b", "c", "d"]);
    store.delete_file("b").unwrap();
    store.insert_file(&new_file("e")).unwrap();
    assert_eq!(ids(&store), ["a", "c", "d", "e"]);
    // Deleting the last one and adding again still appends.
    store.delete_file("e").unwrap();
    store.delete_file("a").unwrap();
    store.insert_file(&new_file("f")).unwrap();
    assert_eq!(ids(&store), ["c", "d", "f"]);
    store.clear_files().unwrap();
    assert!(ids(&store).is_empty());
    store.insert_file(&new_file("g")).unwrap();
    assert_eq!(ids(&store), ["g"]);
}

#[test]
fn uri_files_and_source_versions_round_trip() {
    let store = Store::open_in_memory().unwrap();
    let mut nf = new_file("u");
    nf.source = FileSource::Uri("content://media/external/video/media/42".into());
    assert_eq!(store.insert_file(&nf).unwrap().source, nf.source);
    store.insert_file(&new_file("p")).unwrap();
    let listed: Vec<FileSource> = store
        .list_files()
        .unwrap()
        .into_iter()
        .map(|f| f.source)
        .collect();
    assert_eq!(listed, [nf.source.clone(), new_file("p").source]);

    let mut s = session("u", Some("up"));
    s.fingerprint.mtime_ns = 0;
    s.fingerprint.version = Some("1700000000123:4096".into());
    store.save_session(&s).unwrap();
    assert_eq!(store.get_session("u").unwrap().unwrap(), s);
    s.fingerprint.version = None;
    store.save_session(&s).unwrap();
    assert_eq!(
        store.get_session("u").unwrap().unwrap().fingerprint.version,
        None
    );
}

#[test]
fn session_round_trip_and_upsert() {
    let store = Store::open_in_memory().unwrap();
    store.insert_file(&new_file("a")).unwrap();
    assert_eq!(store.get_session("a").unwrap(), None);
    let mut s = session("a", None);
    store.save_session(&s).unwrap();
    assert_eq!(store.get_session("a").unwrap(), Some(s.clone()));

    s.upload_id = Some("upload-1".into());
    s.credentials_expire_at = None;
    s.image_id = Some("img".into());
    s.image_url = Some("https://img".into());
    s.content_type = None;
    store.save_session(&s).unwrap();
    assert_eq!(store.get_session("a").unwrap(), Some(s.clone()));

    store.set_upload_id("a", Some("upload-2")).unwrap();
    assert_eq!(
        store
            .get_session("a")
            .unwrap()
            .unwrap()
            .upload_id
            .as_deref(),
        Some("upload-2")
    );
    store.set_upload_id("a", None).unwrap();
    assert_eq!(store.get_session("a").unwrap().unwrap().upload_id, None);

    // A session needs its file; for a deleted file, saving does nothing.
    store.save_session(&session("ghost", Some("u"))).unwrap();
    assert_eq!(store.get_session("ghost").unwrap(), None);

    store.delete_session("a").unwrap();
    assert_eq!(store.get_session("a").unwrap(), None);
}

#[test]
fn part_ledger_upsert_order_and_bytes_done() {
    let store = Store::open_in_memory().unwrap();
    store.insert_file(&new_file("a")).unwrap();
    store.insert_file(&new_file("b")).unwrap();
    store.save_session(&session("a", Some("up"))).unwrap();
    store.save_session(&session("b", Some("up"))).unwrap();
    // Out of order, as parallel parts finish.
    for n in [3, 1, 2] {
        store
            .record_part("a", &part(n, 100 * u64::from(n)))
            .unwrap();
    }
    store.record_part("b", &part(1, 7)).unwrap();
    let numbers: Vec<u32> = store
        .parts("a")
        .unwrap()
        .iter()
        .map(|p| p.part_number)
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(store.bytes_done("a").unwrap(), 600);
    assert_eq!(store.get_file("a").unwrap().unwrap().bytes_done, 600);
    assert_eq!(store.bytes_done("b").unwrap(), 7);

    // A re-sent part replaces its record.
    let again = PartRecord {
        part_number: 2,
        size: 50,
        etag: "\"new\"".into(),
        crc64: 9,
    };
    store.record_part("a", &again).unwrap();
    let parts = store.parts("a").unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[1], again);
    assert_eq!(store.bytes_done("a").unwrap(), 450);

    // Saving the session with the same upload id keeps the ledger.
    let mut s = session("a", Some("up"));
    s.credentials_expire_at = Some(ms(1));
    store.save_session(&s).unwrap();
    store.set_upload_id("a", Some("up")).unwrap();
    assert_eq!(store.parts("a").unwrap().len(), 3);

    store.delete_parts("a").unwrap();
    assert!(store.parts("a").unwrap().is_empty());
    assert_eq!(store.bytes_done("a").unwrap(), 0);
    assert!(
        store.get_session("a").unwrap().is_some(),
        "delete_parts keeps the session"
    );
    assert_eq!(
        store.bytes_done("b").unwrap(),
        7,
        "other files are untouched"
    );
    assert_eq!(store.bytes_done("nope").unwrap(), 0);
}

#[test]
fn part_numbers_outside_oss_range_are_refused() {
    let store = Store::open_in_memory().unwrap();
    store.insert_file(&new_file("a")).unwrap();
    store.save_session(&session("a", Some("up"))).unwrap();
    assert!(store.record_part("a", &part(0, 1)).is_err());
    assert!(store.record_part("a", &part(10_001, 1)).is_err());
    store.record_part("a", &part(10_000, 1)).unwrap();
}

#[test]
fn a_new_upload_id_clears_the_ledger() {
    let store = Store::open_in_memory().unwrap();
    store.insert_file(&new_file("a")).unwrap();
    store.save_session(&session("a", Some("old"))).unwrap();
    store.record_part("a", &part(1, 10)).unwrap();
    store.set_upload_id("a", Some("new")).unwrap();
    assert!(store.parts("a").unwrap().is_empty());

    store.record_part("a", &part(1, 10)).unwrap();
    store.save_session(&session("a", Some("newer"))).unwrap();
    assert!(store.parts("a").unwrap().is_empty());

    store.record_part("a", &part(1, 10)).unwrap();
    store.set_upload_id("a", None).unwrap();
    assert!(store.parts("a").unwrap().is_empty());
}

#[test]
fn deletes_cascade_and_late_writes_do_nothing() {
    let store = Store::open_in_memory().unwrap();
    for id in ["a", "b"] {
        store.insert_file(&new_file(id)).unwrap();
        store.save_session(&session(id, Some("up"))).unwrap();
        store.record_part(id, &part(1, 10)).unwrap();
    }
    // delete_session takes the parts with it.
    store.delete_session("a").unwrap();
    assert!(store.parts("a").unwrap().is_empty());
    // A part finishing after its session is gone is not recorded.
    store.record_part("a", &part(2, 10)).unwrap();
    assert!(store.parts("a").unwrap().is_empty());

    // delete_file takes session and parts.
    store.delete_file("b").unwrap();
    assert_eq!(store.get_session("b").unwrap(), None);
    assert!(store.parts("b").unwrap().is_empty());
    let count = |table: &str| -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        store.lock().query_row(&sql, [], |r| r.get(0)).unwrap()
    };
    assert_eq!((count("sessions"), count("parts")), (0, 0));

    // Writes for a file deleted meanwhile are no-ops, not errors.
    store.set_status("b", FileStatus::Failed, None).unwrap();
    store.record_part("b", &part(3, 10)).unwrap();
    store.set_upload_id("b", Some("x")).unwrap();
    store
        .update_target_info("b", "e", "b", "o", None, None)
        .unwrap();
    assert_eq!(store.get_file("b").unwrap(), None);

    // clear_files takes everything.
    store.save_session(&session("a", Some("up"))).unwrap();
    store.record_part("a", &part(1, 10)).unwrap();
    store.clear_files().unwrap();
    assert_eq!(
        (count("files"), count("sessions"), count("parts")),
        (0, 0, 0)
    );
}

#[test]
fn discarding_a_session_owes_its_abort_until_done() {
    let store = Store::open_in_memory().unwrap();
    store.insert_file(&new_file("f1")).unwrap();
    store.save_session(&session("f1", Some("up-1"))).unwrap();
    store.record_part("f1", &part(1, 100)).unwrap();
    let owed = store
        .discard_session("f1")
        .unwrap()
        .expect("an abort is owed");
    assert_eq!(
        (
            owed.upload_id.as_deref(),
            owed.bucket.as_str(),
            owed.object.as_str()
        ),
        (Some("up-1"), "outin-bucket", "sv/f1.mp4")
    );
    assert_eq!(
        (&owed.target, owed.video_id.as_deref(), owed.since),
        (&UploadTarget::Video, Some("vid-1"), None)
    );
    assert!(owed.id > 0);
    assert!(store.get_session("f1").unwrap().is_none());
    assert!(store.parts("f1").unwrap().is_empty());
    // The owed abort outlives the file (delete_file follows a discard).
    assert!(store.delete_file("f1").unwrap());
    assert_eq!(store.cleanups().unwrap(), std::slice::from_ref(&owed));

    // Owing the same upload twice keeps the first record.
    let again = store
        .add_cleanup(Cleanup {
            attempts: 9,
            ..owed.clone()
        })
        .unwrap();
    assert_eq!(
        (again.id, store.cleanups().unwrap()[0].attempts),
        (owed.id, 0)
    );

    store
        .cleanup_failed(owed.id, "503 ServiceUnavailable", ms(1_800_000_000_000))
        .unwrap();
    let c = &store.cleanups().unwrap()[0];
    assert_eq!(
        (c.attempts, c.last_error.as_deref(), c.next_at),
        (1, Some("503 ServiceUnavailable"), ms(1_800_000_000_000))
    );
    store.cleanup_done(owed.id).unwrap();
    assert!(store.cleanups().unwrap().is_empty());
}

#[test]
fn a_lost_initiate_owes_a_search_for_its_upload() {
    let store = Store::open_in_memory().unwrap();
    store.insert_file(&new_file("f1")).unwrap();
    store.save_session(&session("f1", None)).unwrap();
    assert_eq!(store.initiate_sent("f1").unwrap(), None);
    store
        .set_initiate_sent("f1", Some(ms(1_700_000_005_000)))
        .unwrap();
    assert_eq!(
        store.initiate_sent("f1").unwrap(),
        Some(ms(1_700_000_005_000))
    );
    let owed = store
        .discard_session("f1")
        .unwrap()
        .expect("a search is owed");
    assert_eq!(
        (owed.upload_id.as_deref(), owed.since, owed.object.as_str()),
        (None, Some(ms(1_700_000_005_000)), "sv/f1.mp4")
    );
    assert_eq!(store.cleanups().unwrap(), [owed]);

    // The answer recorded: the intent is cleared with the upload id.
    store.insert_file(&new_file("f2")).unwrap();
    store.save_session(&session("f2", None)).unwrap();
    store.set_initiate_sent("f2", Some(ms(1))).unwrap();
    store.set_upload_id("f2", Some("up-2")).unwrap();
    assert_eq!(store.initiate_sent("f2").unwrap(), None);
    assert!(store.upload_in_use("up-2").unwrap());
    assert!(!store.upload_in_use("up-1").unwrap());
}

#[test]
fn an_initiate_answer_goes_to_the_session_or_is_owed_an_abort() {
    let store = Store::open_in_memory().unwrap();
    store.insert_file(&new_file("f1")).unwrap();
    store.save_session(&session("f1", None)).unwrap();
    let answer = |upload_id: &str, object: &str| Cleanup {
        id: 0,
        upload_id: Some(upload_id.into()),
        since: None,
        endpoint: "https://oss-cn-shanghai.aliyuncs.com".into(),
        bucket: "outin-bucket".into(),
        object: object.into(),
        target: UploadTarget::Video,
        video_id: None,
        attempts: 0,
        next_at: ms(1),
        last_error: None,
        created_at: ms(1),
    };
    store.set_initiate_sent("f1", Some(ms(5))).unwrap();
    assert_eq!(
        store
            .settle_initiated(answer("up-1", "sv/f1.mp4"), "f1")
            .unwrap(),
        Settled::Taken
    );
    let s = store.get_session("f1").unwrap().unwrap();
    assert_eq!(s.upload_id.as_deref(), Some("up-1"));
    assert_eq!(store.initiate_sent("f1").unwrap(), None);
    // The same answer again (the worker records what its task settled): nothing changes.
    assert_eq!(
        store
            .settle_initiated(answer("up-1", "sv/f1.mp4"), "f1")
            .unwrap(),
        Settled::Taken
    );
    assert!(store.cleanups().unwrap().is_empty());

    // A second Initiate's answer: the session keeps its upload, the new one is owed.
    match store
        .settle_initiated(answer("up-2", "sv/f1.mp4"), "f1")
        .unwrap()
    {
        Settled::Other(current, owed) => {
            assert_eq!(
                (current.as_str(), owed.upload_id.as_deref()),
                ("up-1", Some("up-2"))
            );
        }
        other => panic!("{other:?}"),
    }
    // Another object (the address changed), or no session at all: owed.
    assert!(matches!(
        store
            .settle_initiated(answer("up-3", "sv/other.mp4"), "f1")
            .unwrap(),
        Settled::Owed(_)
    ));
    assert!(matches!(
        store
            .settle_initiated(answer("up-4", "sv/f1.mp4"), "gone")
            .unwrap(),
        Settled::Owed(_)
    ));
    let owed: Vec<_> = store
        .cleanups()
        .unwrap()
        .into_iter()
        .map(|c| c.upload_id.unwrap())
        .collect();
    assert_eq!(owed, ["up-2", "up-3", "up-4"]);
}

#[test]
fn a_session_without_an_upload_owes_nothing() {
    let store = Store::open_in_memory().unwrap();
    store.insert_file(&new_file("f1")).unwrap();
    store.save_session(&session("f1", None)).unwrap();
    assert_eq!(store.discard_session("f1").unwrap(), None);
    assert_eq!(store.discard_session("missing").unwrap(), None);
    assert!(store.cleanups().unwrap().is_empty());
}

#[test]
fn prune_removes_only_old_succeeded_files() {
    let store = Store::open_in_memory().unwrap();
    for id in ["old", "new", "failed", "ready", "legacy"] {
        store.insert_file(&new_file(id)).unwrap();
    }
    let result = UploadResult {
        video_id: None,
        image_url: None,
        endpoint: "https://e".into(),
        bucket: "b".into(),
        object: "o".into(),
        bytes: 10,
        crc64: 1,
    };
    for id in ["old", "new", "legacy"] {
        store.set_result(id, &result).unwrap();
    }
    store
        .set_status("failed", FileStatus::Failed, None)
        .unwrap();
    {
        let conn = store.lock();
        conn.execute("UPDATE files SET succeeded_at = 1000 WHERE id = 'old'", [])
            .unwrap();
        // Succeeded under schema 2: no succeeded_at; its added_at (2023) decides.
        conn.execute(
            "UPDATE files SET succeeded_at = NULL WHERE id = 'legacy'",
            [],
        )
        .unwrap();
    }
    assert_eq!(
        store.prune_succeeded(ms(1_000)).unwrap(),
        1,
        "at the limit goes"
    );
    assert_eq!(ids(&store), ["new", "failed", "ready", "legacy"]);
    assert_eq!(store.prune_succeeded(ms(1_700_000_000_123)).unwrap(), 1);
    assert_eq!(ids(&store), ["new", "failed", "ready"]);
    // Failed and unfinished files are never pruned.
    assert_eq!(store.prune_succeeded(SystemTime::now()).unwrap(), 1);
    assert_eq!(ids(&store), ["failed", "ready"]);
}

#[test]
fn pruning_gives_the_space_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Store::open(&path).unwrap();
    let pages = |s: &Store| -> i64 {
        s.lock()
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap()
    };
    let result = UploadResult {
        video_id: Some("v".repeat(32)),
        image_url: None,
        endpoint: "https://e".into(),
        bucket: "b".into(),
        object: "o".repeat(60),
        bytes: 10,
        crc64: 1,
    };
    for i in 0..500 {
        let id = format!("f{i}");
        store.insert_file(&new_file(&id)).unwrap();
        store.set_result(&id, &result).unwrap();
    }
    let full = pages(&store);
    assert!(full > 20, "{full} pages");
    assert_eq!(store.prune_succeeded(SystemTime::now()).unwrap(), 500);
    // What is left is the empty schema's pages.
    assert!(
        pages(&store) * 4 < full,
        "{full} pages before, {} after",
        pages(&store)
    );
}

#[test]
fn reopen_restores_everything() {
    let dir = tempfile::tempdir().unwrap();
    // A missing parent directory is created.
    let path = dir.path().join("nested/dir/checkpoints.db");
    let s = session("a", Some("up"));
    {
        let store = Store::open(&path).unwrap();
        store.insert_file(&new_file("a")).unwrap();
        store.insert_file(&new_file("b")).unwrap();
        store.save_session(&s).unwrap();
        store.record_part("a", &part(1, 100)).unwrap();
        store.record_part("a", &part(2, 100)).unwrap();
        store.set_status("a", FileStatus::Uploading, None).unwrap();
        // No close: dropping the store is all an app kill leaves behind (minus the process).
    }
    let (store, moved) = Store::open_or_recover(&path).unwrap();
    assert_eq!(moved, None);
    assert_eq!(ids(&store), ["a", "b"]);
    let a = store.get_file("a").unwrap().unwrap();
    assert_eq!((a.status, a.bytes_done), (FileStatus::Uploading, 200));
    assert_eq!(store.get_session("a").unwrap(), Some(s));
    assert_eq!(store.parts("a").unwrap(), [part(1, 100), part(2, 100)]);
    let conn = store.lock();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
}

#[test]
fn concurrent_use_from_several_threads() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("db")).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let id = format!("f{t}");
                store.insert_file(&new_file(&id)).unwrap();
                store.save_session(&session(&id, Some("up"))).unwrap();
                for n in 1..=50 {
                    store.record_part(&id, &part(n, 1000)).unwrap();
                    if n % 10 == 0 {
                        // Readers interleave with the other threads' writers.
                        assert!(store.list_files().unwrap().iter().any(|f| f.id == id));
                        assert_eq!(store.bytes_done(&id).unwrap(), u64::from(n) * 1000);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let files = store.list_files().unwrap();
    assert_eq!(files.len(), 8);
    assert!(files.iter().all(|f| f.bytes_done == 50_000));
}

#[test]
fn two_stores_on_one_file_see_each_others_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (one, two) = (Store::open(&path).unwrap(), Store::open(&path).unwrap());
    let writers: Vec<_> = [(one, "a"), (two, "b")]
        .into_iter()
        .map(|(store, prefix)| {
            std::thread::spawn(move || {
                for i in 0..20 {
                    store
                        .insert_file(&new_file(&format!("{prefix}{i}")))
                        .unwrap();
                }
                store
            })
        })
        .collect();
    let stores: Vec<Store> = writers.into_iter().map(|t| t.join().unwrap()).collect();
    for store in &stores {
        assert_eq!(store.list_files().unwrap().len(), 40);
    }
}

#[test]
fn full_disk_is_reported_as_such() {
    let store = Store::open_in_memory().unwrap();
    store.insert_file(&new_file("a")).unwrap();
    store.save_session(&session("a", Some("up"))).unwrap();
    {
        // Cap the database at its current size plus a few pages: SQLite then fails with
        // SQLITE_FULL, exactly as on a full disk.
        let conn = store.lock();
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        conn.pragma_update(None, "max_page_count", pages + 2)
            .unwrap();
    }
    let etag = "e".repeat(2000);
    let err = (1..=10_000)
        .find_map(|n| {
            store
                .record_part(
                    "a",
                    &PartRecord {
                        etag: etag.clone(),
                        ..part(n, 1)
                    },
                )
                .err()
        })
        .expect("the capped database fills up");
    assert!(
        matches!(&err, Error::Store(e) if e.kind == crate::error::StoreErrorKind::DiskFull),
        "{err:?}"
    );
    assert_eq!(err.code(), "DatabaseError");
    let msg = store_error(err);
    assert!(msg.contains("the disk is full"), "{msg}");
    assert!(msg.contains("record part"), "{msg}");
}

#[test]
fn no_column_can_hold_a_secret() {
    let store = Store::open_in_memory().unwrap();
    let conn = store.lock();
    let mut stmt = conn
        .prepare(
            "SELECT m.name, c.name FROM sqlite_schema m, pragma_table_info(m.name) c \
             WHERE m.type = 'table'",
        )
        .unwrap();
    let columns: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(columns.len() > 20);
    for (table, column) in columns {
        let c = column.to_lowercase();
        assert!(
            !["secret", "token", "auth", "key"]
                .iter()
                .any(|w| c.contains(w)),
            "{table}.{column} looks like a credential"
        );
    }
}

// ---- open, versions, recovery ----

/// The schema as released in version 1. NEVER EDIT: it is what users' databases contain.
const V1_SNAPSHOT: &str = r#"
CREATE TABLE files (
    id               TEXT PRIMARY KEY NOT NULL,
    position         INTEGER NOT NULL UNIQUE,
    path             TEXT NOT NULL,
    target           TEXT NOT NULL,
    vod_info         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('ready', 'uploading', 'waiting', 'paused',
                                                     'canceled', 'succeeded', 'failed')),
    bytes_total      INTEGER NOT NULL CHECK (bytes_total >= 0),
    added_at         INTEGER NOT NULL,
    error_code       TEXT,
    error_message    TEXT,
    error_request_id TEXT,
    endpoint         TEXT,
    bucket           TEXT,
    object           TEXT,
    video_id         TEXT,
    image_url        TEXT,
    crc64            TEXT
) STRICT;
CREATE TABLE sessions (
    file_id               TEXT PRIMARY KEY NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    upload_id             TEXT,
    endpoint              TEXT NOT NULL,
    bucket                TEXT NOT NULL,
    object                TEXT NOT NULL,
    video_id              TEXT,
    image_id              TEXT,
    image_url             TEXT,
    part_size             INTEGER NOT NULL CHECK (part_size > 0),
    content_type          TEXT,
    file_size             INTEGER NOT NULL CHECK (file_size >= 0),
    file_mtime_ns         INTEGER NOT NULL,
    file_head_sha256      TEXT NOT NULL,
    file_tail_sha256      TEXT NOT NULL,
    created_at            INTEGER NOT NULL,
    credentials_expire_at INTEGER
) STRICT;
CREATE TABLE parts (
    file_id     TEXT NOT NULL REFERENCES sessions (file_id) ON DELETE CASCADE,
    part_number INTEGER NOT NULL CHECK (part_number BETWEEN 1 AND 10000),
    size        INTEGER NOT NULL CHECK (size >= 0),
    etag        TEXT NOT NULL,
    crc64       TEXT NOT NULL,
    PRIMARY KEY (file_id, part_number)
) STRICT, WITHOUT ROWID;
PRAGMA application_id = 1448035413;
PRAGMA user_version = 1;
"#;

/// The schema as released in version 2. NEVER EDIT.
const V2_SNAPSHOT: &str = r#"
CREATE TABLE files (
    id               TEXT PRIMARY KEY NOT NULL,
    position         INTEGER NOT NULL UNIQUE,
    path             TEXT NOT NULL,
    target           TEXT NOT NULL,
    vod_info         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('ready', 'uploading', 'waiting', 'paused',
                                                     'canceled', 'succeeded', 'failed')),
    bytes_total      INTEGER NOT NULL CHECK (bytes_total >= 0),
    added_at         INTEGER NOT NULL,
    error_code       TEXT,
    error_message    TEXT,
    error_request_id TEXT,
    endpoint         TEXT,
    bucket           TEXT,
    object           TEXT,
    video_id         TEXT,
    image_url        TEXT,
    crc64            TEXT,
    source           TEXT NOT NULL DEFAULT 'path' CHECK (source IN ('path', 'uri'))
) STRICT;
CREATE TABLE sessions (
    file_id               TEXT PRIMARY KEY NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    upload_id             TEXT,
    endpoint              TEXT NOT NULL,
    bucket                TEXT NOT NULL,
    object                TEXT NOT NULL,
    video_id              TEXT,
    image_id              TEXT,
    image_url             TEXT,
    part_size             INTEGER NOT NULL CHECK (part_size > 0),
    content_type          TEXT,
    file_size             INTEGER NOT NULL CHECK (file_size >= 0),
    file_mtime_ns         INTEGER NOT NULL,
    file_head_sha256      TEXT NOT NULL,
    file_tail_sha256      TEXT NOT NULL,
    created_at            INTEGER NOT NULL,
    credentials_expire_at INTEGER,
    file_version          TEXT
) STRICT;
CREATE TABLE parts (
    file_id     TEXT NOT NULL REFERENCES sessions (file_id) ON DELETE CASCADE,
    part_number INTEGER NOT NULL CHECK (part_number BETWEEN 1 AND 10000),
    size        INTEGER NOT NULL CHECK (size >= 0),
    etag        TEXT NOT NULL,
    crc64       TEXT NOT NULL,
    PRIMARY KEY (file_id, part_number)
) STRICT, WITHOUT ROWID;
PRAGMA application_id = 1448035413;
PRAGMA user_version = 2;
"#;

/// Everything about a schema that matters: versions, each object's SQL (whitespace removed, so
/// an ALTER TABLE result compares equal to the same CREATE written out), columns with types,
/// defaults and keys, foreign keys, and indexes.
fn schema_shape(conn: &Connection) -> Vec<String> {
    use rusqlite::types::Value;
    let rows = |sql: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        let row = |r: &Row<'_>| -> rusqlite::Result<String> {
            let cells = (0..n).map(|i| {
                r.get::<_, Value>(i).map(|v| match v {
                    Value::Text(t) => t,
                    Value::Integer(i) => i.to_string(),
                    other => format!("{other:?}"),
                })
            });
            Ok(cells.collect::<rusqlite::Result<Vec<_>>>()?.join("|"))
        };
        stmt.query_map([], row)
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let mut shape = rows("SELECT 'user_version', user_version FROM pragma_user_version");
    shape.extend(rows(
        "SELECT 'application_id', application_id FROM pragma_application_id",
    ));
    let objects = rows("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name");
    shape.extend(
        objects
            .iter()
            .map(|o| o.split_whitespace().collect::<String>()),
    );
    for table in rows("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name") {
        for pragma in ["table_xinfo", "foreign_key_list", "index_list"] {
            let sql = format!("SELECT '{table}', '{pragma}', * FROM pragma_{pragma}('{table}')");
            shape.extend(rows(&sql));
        }
        let sql = format!("SELECT name, type, ncol, wr, strict FROM pragma_table_list('{table}')");
        shape.extend(rows(&sql));
    }
    shape
}

#[test]
fn v1_database_migrates_with_its_data_and_matches_a_fresh_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(V1_SNAPSHOT).unwrap();
        conn.execute_batch(
            r#"
            INSERT INTO files VALUES ('f1', 1, '/v/1.mp4', '{"kind":"video"}',
                '{"title":"one","description":null,"cate_id":null,"tags":["t"],
                  "cover_url":null,"user_data":null,"template_group_id":null,
                  "storage_location":null,"workflow_id":null,"app_id":null,"is_process":null,
                  "is_show_watermark":null,"priority":6}',
                'uploading', 300, 1700000000000, 'Http503', 'busy', 'rid', 'https://e', 'b',
                'o', 'vid', NULL, NULL);
            INSERT INTO files VALUES ('f2', 2, '/v/2.jpg', '{"kind":"image"}',
                '{"title":null,"description":null,"cate_id":null,"tags":[],"cover_url":null,
                  "user_data":null,"template_group_id":null,"storage_location":null,
                  "workflow_id":null,"app_id":null,"is_process":null,"is_show_watermark":null,
                  "priority":null}',
                'succeeded', 5, 1700000000001, NULL, NULL, NULL, 'https://e', 'b', 'img',
                NULL, 'https://img', '18446744073709551615');
            INSERT INTO sessions VALUES ('f1', 'up-1', 'https://e', 'b', 'o', 'vid', NULL, NULL,
                102400, 'video/mp4', 300, 5, printf('%.64c', 'a'), printf('%.64c', 'b'),
                1700000000002, 1700000003600);
            INSERT INTO parts VALUES ('f1', 1, 102400, '"e1"', '18446744073709551615');
            INSERT INTO parts VALUES ('f1', 2, 102400, '"e2"', '2');
            "#,
        )
        .unwrap();
    }

    let store = Store::open(&path).unwrap();
    assert_eq!(ids(&store), ["f1", "f2"]);
    let f1 = store.get_file("f1").unwrap().unwrap();
    assert_eq!(
        f1.source,
        FileSource::Path("/v/1.mp4".into()),
        "v1 rows are paths"
    );
    assert_eq!(f1.vod_info.title.as_deref(), Some("one"));
    assert_eq!(f1.vod_info.priority, Some(6));
    assert_eq!(f1.status, FileStatus::Uploading);
    assert_eq!(f1.bytes_done, 204_800);
    assert_eq!(f1.last_error.unwrap().request_id.as_deref(), Some("rid"));
    let f2 = store.get_file("f2").unwrap().unwrap();
    assert_eq!((f2.target, f2.crc64), (UploadTarget::Image, Some(u64::MAX)));
    let s = store.get_session("f1").unwrap().unwrap();
    assert_eq!(s.upload_id.as_deref(), Some("up-1"));
    assert_eq!(s.fingerprint.head_sha256, [0xaa; 32]);
    assert_eq!(s.fingerprint.version, None);
    assert_eq!(s.credentials_expire_at, Some(ms(1_700_000_003_600)));
    assert_eq!(store.parts("f1").unwrap()[0].crc64, u64::MAX);

    let fresh = Store::open_in_memory().unwrap();
    let (migrated, fresh) = (schema_shape(&store.lock()), schema_shape(&fresh.lock()));
    assert!(
        migrated.len() > 40,
        "the shape covers the tables: {migrated:#?}"
    );
    assert_eq!(migrated, fresh);
}

#[test]
fn v2_database_migrates_with_its_data_and_matches_a_fresh_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(V2_SNAPSHOT).unwrap();
        conn.execute_batch(
            r#"
            INSERT INTO files (id, position, path, target, vod_info, status, bytes_total,
                added_at, source) VALUES ('f1', 1, 'content://m/1', '{"kind":"video"}',
                '{"title":"one","description":null,"cate_id":null,"tags":[],
                  "cover_url":null,"user_data":null,"template_group_id":null,
                  "storage_location":null,"workflow_id":null,"app_id":null,"is_process":null,
                  "is_show_watermark":null,"priority":null}',
                'ready', 300, 1700000000000, 'uri');
            "#,
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let f1 = store.get_file("f1").unwrap().unwrap();
    assert_eq!(f1.source, FileSource::Uri("content://m/1".into()));
    assert!(store.cleanups().unwrap().is_empty());
    let fresh = Store::open_in_memory().unwrap();
    assert_eq!(schema_shape(&store.lock()), schema_shape(&fresh.lock()));
}

#[test]
fn a_newer_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    drop(Store::open(&path).unwrap());
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", schema::VERSION + 1)
            .unwrap();
    }
    let msg = store_error(Store::open(&path).unwrap_err());
    assert!(msg.contains("newer"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    // Not corruption: open_or_recover must not move it aside.
    let msg = store_error(Store::open_or_recover(&path).unwrap_err());
    assert!(msg.contains("newer"), "{msg}");
    assert!(corrupt_files(dir.path()).is_empty(), "nothing moved");
    let conn = Connection::open(&path).unwrap();
    let v: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, schema::VERSION + 1);
}

#[test]
fn another_apps_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x); PRAGMA user_version = 3;")
            .unwrap();
    }
    let msg = store_error(Store::open(&path).unwrap_err());
    assert!(
        msg.contains("not a vod-upload checkpoint database"),
        "{msg}"
    );
    // Unversioned, but not empty: still not ours, and left as it was.
    let path = dir.path().join("unversioned.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE files (x);")
        .unwrap();
    let msg = store_error(Store::open_or_recover(&path).unwrap_err());
    assert!(
        msg.contains("not a vod-upload checkpoint database"),
        "{msg}"
    );
    let conn = Connection::open(&path).unwrap();
    let tables: i64 = conn
        .query_row("SELECT COUNT(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1);
}

fn corrupt_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".corrupt-"))
        .collect();
    names.sort();
    names
}

#[test]
fn garbage_file_is_moved_aside_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.db");
    let garbage: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();

    // Plain open refuses with a clear message and moves nothing.
    let msg = store_error(Store::open(&path).unwrap_err());
    assert!(
        msg.contains("corrupt") && msg.contains("open_or_recover"),
        "{msg}"
    );
    assert!(corrupt_files(dir.path()).is_empty());

    let (store, moved) = Store::open_or_recover(&path).unwrap();
    let moved = moved.expect("recovered");
    assert_eq!(std::fs::read(&moved).unwrap(), garbage);
    let name = moved.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("checkpoints.db.corrupt-"), "{name}");
    assert_eq!(corrupt_files(dir.path()), [name]);
    // The fresh database works.
    store.insert_file(&new_file("a")).unwrap();
    assert_eq!(ids(&store), ["a"]);
    drop(store);

    // A second corruption in the same second gets its own name.
    std::fs::write(&path, &garbage).unwrap();
    let (_store, moved2) = Store::open_or_recover(&path).unwrap();
    let moved2 = moved2.unwrap();
    assert_ne!(moved2, moved);
    assert_eq!(std::fs::read(&moved2).unwrap(), garbage);
}

#[test]
fn move_aside_takes_the_companion_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    for (suffix, content) in [("", "main"), ("-wal", "wal"), ("-shm", "shm")] {
        std::fs::write(dir.path().join(format!("c.db{suffix}")), content).unwrap();
    }
    let moved = db::move_aside(&path).unwrap();
    let name = moved.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        corrupt_files(dir.path()),
        [name.clone(), format!("{name}-shm"), format!("{name}-wal")]
    );
    assert_eq!(
        std::fs::read_to_string(format!("{}-wal", moved.display())).unwrap(),
        "wal"
    );
    assert_eq!(std::fs::read_to_string(&moved).unwrap(), "main");
    assert!(!path.exists());
}

#[test]
fn damaged_pages_are_detected_by_quick_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = Store::open(&path).unwrap();
        store.insert_file(&new_file("a")).unwrap();
        store.save_session(&session("a", Some("up"))).unwrap();
        for n in 1..=300 {
            store.record_part("a", &part(n, 1)).unwrap();
        }
    }
    // Closing the last connection checkpointed the WAL into the main file. Overwrite every page
    // but the first (the header and schema stay valid) with a pattern.
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 3 * 4096);
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.seek(SeekFrom::Start(4096)).unwrap();
    f.write_all(&vec![0x5a; (len - 4096) as usize]).unwrap();
    drop(f);

    let (store, moved) = Store::open_or_recover(&path).unwrap();
    assert!(moved.is_some());
    assert!(store.list_files().unwrap().is_empty());
}

#[test]
fn unopenable_path_is_an_error_not_a_recovery() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the database should be.
    let path = dir.path().join("db");
    std::fs::create_dir(&path).unwrap();
    let msg = store_error(Store::open_or_recover(&path).unwrap_err());
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(path.is_dir());
    assert!(corrupt_files(dir.path()).is_empty());
}

#[test]
fn non_utf8_paths_are_refused_clearly() {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let store = Store::open_in_memory().unwrap();
        let mut nf = new_file("a");
        nf.source = FileSource::Path(std::ffi::OsStr::from_bytes(b"/v/\xff.mp4").into());
        assert!(matches!(
            store.insert_file(&nf),
            Err(Error::InvalidArgument(_))
        ));
    }
}

// ---- fingerprint ----

fn set_mtime(path: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

/// Writes `byte` at `offset` and puts the mtime back, so only the hashes can notice.
fn poke(path: &Path, offset: u64, byte: u8) {
    let before = mtime(path);
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&[byte]).unwrap();
    drop(f);
    set_mtime(path, before);
    assert_eq!(mtime(path), before);
}

#[test]
fn fingerprint_detects_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("video.mp4");
    let size = 300 * 1024u64;
    let content: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let fp = Fingerprint::of(&path).unwrap();
    assert_eq!(fp.size, size);
    assert_ne!(fp.head_sha256, fp.tail_sha256);
    assert!(fp.matches(&path).unwrap());
    assert_eq!(Fingerprint::of(&path).unwrap(), fp, "deterministic");

    // A byte inside the last 64 KiB, same size and mtime.
    poke(&path, size - 1000, 0xff);
    assert!(!fp.matches(&path).unwrap());
    poke(&path, size - 1000, content[(size - 1000) as usize]);
    assert!(fp.matches(&path).unwrap(), "restored");

    // A byte inside the first 64 KiB.
    poke(&path, 10, 0xff);
    assert!(!fp.matches(&path).unwrap());
    poke(&path, 10, content[10]);
    assert!(fp.matches(&path).unwrap());

    // Only the mtime.
    let before = mtime(&path);
    set_mtime(&path, before + Duration::from_secs(1));
    assert!(!fp.matches(&path).unwrap());
    set_mtime(&path, before);
    assert!(fp.matches(&path).unwrap());

    // The size (mtime put back).
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"x").unwrap();
    drop(f);
    set_mtime(&path, before);
    assert!(!fp.matches(&path).unwrap());
    assert_eq!(Fingerprint::of(&path).unwrap().size, size + 1);
}

#[test]
fn fingerprint_of_small_and_empty_files() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    std::fs::write(&small, b"hello").unwrap();
    let fp = Fingerprint::of(&small).unwrap();
    assert_eq!(fp.size, 5);
    // Both ends are the whole file.
    assert_eq!(fp.head_sha256, fp.tail_sha256);
    let expected: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(b"hello").into();
    assert_eq!(fp.head_sha256, expected);

    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let fp = Fingerprint::of(&empty).unwrap();
    assert_eq!(fp.size, 0);
    assert!(fp.matches(&empty).unwrap());
}

#[test]
fn fingerprint_of_missing_file_is_not_found() {
    let path = Path::new("/definitely/not/here.mp4");
    for result in [
        Fingerprint::of(path).map(drop),
        session("a", None).fingerprint.matches(path).map(drop),
    ] {
        match result.unwrap_err() {
            Error::File { path: p, source } => {
                assert_eq!(p, path);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected Error::File, got {other:?}"),
        }
    }
}

#[test]
fn hex_round_trip() {
    let hash: [u8; 32] = std::array::from_fn(|i| (i * 9) as u8);
    let hex = fingerprint::to_hex(&hash);
    assert_eq!(hex.len(), 64);
    assert_eq!(&hex[..6], "000912");
    assert_eq!(fingerprint::from_hex(&hex), Some(hash));
    assert_eq!(fingerprint::from_hex(&hex[1..]), None);
    assert_eq!(fingerprint::from_hex(&"g".repeat(64)), None);
    assert_eq!(fingerprint::from_hex(&"é".repeat(32)), None);
}
