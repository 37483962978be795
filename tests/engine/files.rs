use vod_upload::{Config, Engine, Error, Event, UploadTarget};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_file_uploads() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    let (path, _) = h.file("empty.mp4", 0);
    let id = h.add(&path);
    h.engine.start();
    let result = h.events.wait_succeeded(&id).await;
    assert_eq!((result.bytes, result.crc64), (0, 0));
    assert!(h.read_back(&h.engine.file(&id).unwrap()).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_file_is_a_typed_error() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    let err = h
        .engine
        .add_file(
            h.dir.path().join("nope.mp4"),
            UploadTarget::Video,
            Default::default(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::File { .. }), "{err:?}");
    assert_eq!(err.code(), "FileNotExist");

    // A file deleted after it was queued fails with the same code, and the queue goes on.
    let (gone, _) = h.file("gone.mp4", 200 * 1024);
    let (kept, data) = h.file("kept.mp4", 200 * 1024);
    let gone_id = h.add(&gone);
    let kept_id = h.add(&kept);
    std::fs::remove_file(&gone).unwrap();
    h.engine.start();
    h.events.wait_succeeded(&kept_id).await;
    let failed = h.events.all().into_iter().find_map(|e| match e {
        Event::Failed { file, code, .. } if file.id == gone_id => Some(code),
        _ => None,
    });
    assert_eq!(failed.as_deref(), Some("FileNotExist"));
    assert_eq!(h.read_back(&h.engine.file(&kept_id).unwrap()).await, data);
}

/// 10,001 parts at the configured size would exceed OSS's limit: the part size is raised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_that_would_need_10001_parts() {
    let h = Harness::new(|c| c.parallel_parts = 8).await;
    h.use_account_key();
    let path = h.dir.path().join("huge.mp4");
    let size = 10_001 * 100 * 1024;
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(size).unwrap(); // sparse: zeros
    drop(f);
    let id = h.add(&path);
    h.engine.start();
    let result = h.events.wait_succeeded(&id).await;
    assert_eq!(result.bytes, size);
    let parts = h.sim.stats().parts_uploaded;
    assert!(parts <= 10_000, "{parts} parts");
    let stored = h.sim.object_info(&result.bucket, &result.object).unwrap();
    assert_eq!((stored.size, stored.crc64), (size, result.crc64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_configuration_is_refused() {
    let bad = |c: Config| match Engine::new(c, tokio::runtime::Handle::current()) {
        Err(Error::InvalidArgument(m)) => m,
        Err(e) => panic!("wrong error {e:?}"),
        Ok(_) => panic!("accepted"),
    };
    assert!(
        bad(Config {
            part_size: 1000,
            ..Config::default()
        })
        .contains("part_size")
    );
    assert!(
        bad(Config {
            parallel_parts: 0,
            ..Config::default()
        })
        .contains("parallel_parts")
    );
    assert!(
        bad(Config {
            vod_endpoint: Some("http://127.0.0.1:1".into()),
            ..Config::default()
        })
        .contains("http")
    );
    assert!(
        bad(Config {
            extra_root_certificates: vec!["not a certificate".into()],
            ..Config::default()
        })
        .contains("extra_root_certificates[0]")
    );
}
