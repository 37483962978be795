//! Parity with the seed SDKs (docs/parity.md): each call or option reaches the service in the
//! request the native SDKs put it in, as vod-sim records it.

use std::time::Duration;

use vod_sim::FaultRule;
use vod_upload::{
    BusinessType, Event, FileStatus, ImageType, UploadTarget, VodInfo,
    protocol::vod::VIDEO_EXTENSIONS,
};

use crate::common::*;

/// JS `getCheckpoint(file)`: the multipart upload a resume continues, and the confirmed parts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_reads_the_files_multipart_state() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    let (path, data) = h.file("checkpoint.mp4", 1024 * 1024);
    let id = h.add(&path);
    assert_eq!(h.engine.checkpoint(&id).unwrap(), None, "not started");
    assert_eq!(h.engine.checkpoint("no-such-file").unwrap(), None);

    h.throttle(Some(512 * 1024));
    h.engine.start();
    // Past three parts in flight (100 KiB each): at least one is confirmed.
    h.events.wait_progress(&id, 300 * 1024 + 1).await;
    h.engine.pause();
    h.wait_until("the file to pause", |h| {
        h.engine.file(&id).unwrap().status == FileStatus::Paused
    })
    .await;
    let c = h.engine.checkpoint(&id).unwrap().expect("a checkpoint");
    let info = h.engine.file(&id).unwrap();
    let initiated = h.sim.requests_of("InitiateMultipartUpload");
    assert_eq!(initiated.len(), 1);
    assert!(c.upload_id.is_some());
    assert_eq!(
        (
            Some(c.bucket.clone()),
            Some(c.object.clone()),
            c.video_id.clone()
        ),
        (info.bucket, info.object, info.video_id)
    );
    assert!(
        initiated[0].path.ends_with(&c.object),
        "{}",
        initiated[0].path
    );
    assert_eq!(c.part_size, 100 * 1024);
    assert!(c.parts_done >= 1, "{c:?}");
    assert_eq!(c.bytes_done, u64::from(c.parts_done) * c.part_size);
    assert_eq!(c.bytes_done, info.bytes_uploaded);
    assert_eq!(c.file_size, data.len() as u64);
    // Every confirmed part is one the server has.
    let uploaded = h.sim.requests_of("UploadPart").len() as u32;
    assert!(uploaded >= c.parts_done);

    h.throttle(None);
    h.engine.resume();
    h.events.wait_succeeded(&id).await;
    assert_eq!(h.engine.checkpoint(&id).unwrap(), None, "finished");
}

/// JS `paramData` / mini-program `userData`: the documented `{"Vod":{…}}` JSON, each field in
/// CreateUploadVideo's parameters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vod_info_from_the_seeds_json_reaches_create_upload_video() {
    let h = Harness::new(|c| c.measure_media = false).await;
    h.use_account_key();
    let info = VodInfo::from_json(
        r#"{"Vod":{"Title":"test","CateId":"234","Tags":"a,b","Description":"d",
            "UserData":{"MessageCallback":{"CallbackURL":"https://app.example/cb"}},
            "TemplateGroupId":"tg-1"}}"#,
    )
    .unwrap();
    let (path, data) = h.file("seed.mp4", 200 * 1024);
    let id = h.engine.add_file(path, UploadTarget::Video, info).unwrap();
    h.engine.start();
    let result = h.events.wait_succeeded(&id).await;
    let created = h.sim.requests_of("CreateUploadVideo");
    assert_eq!(created.len(), 1);
    let p = &created[0];
    assert_eq!(p.param("Title"), Some("test"));
    assert_eq!(p.param("CateId"), Some("234"));
    assert_eq!(p.param("Tags"), Some("a,b"));
    assert_eq!(p.param("Description"), Some("d"));
    assert_eq!(p.param("TemplateGroupId"), Some("tg-1"));
    assert_eq!(p.param("FileName"), Some("seed.mp4"));
    assert_eq!(p.param("FileSize"), Some(data.len().to_string().as_str()));
    let user_data: serde_json::Value = serde_json::from_str(p.param("UserData").unwrap()).unwrap();
    assert_eq!(
        user_data["MessageCallback"]["CallbackURL"],
        "https://app.example/cb"
    );
    assert_eq!(p.param("SecurityToken"), None, "account key: no token");
    assert!(result.video_id.is_some());
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
}

/// The native SDKs send `ImageType=cover`; ours is settable, and so is `ImageExt`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_type_and_ext_reach_create_upload_image() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    let (path, data) = h.file("cover.jpeg", 50 * 1024);
    let info = VodInfo {
        image_type: Some(ImageType::Cover),
        image_ext: Some("jpg".into()),
        ..VodInfo::default()
    };
    let id = h.engine.add_file(path, None, info).unwrap();
    h.engine.start();
    let result = h.events.wait_succeeded(&id).await;
    let created = h.sim.requests_of("CreateUploadImage");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].param("ImageType"), Some("cover"));
    assert_eq!(created[0].param("ImageExt"), Some("jpg"));
    assert_eq!(created[0].param("OriginalFileName"), Some("cover.jpeg"));
    assert!(
        result.object.starts_with("image/cover/"),
        "{}",
        result.object
    );
    assert!(result.object.ends_with(".jpg"), "{}", result.object);
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
}

/// CreateUploadAttachedMedia: a subtitle goes up as attached media; its MediaId and URL come
/// back as the file's media id and URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attached_media_uploads_through_create_upload_attached_media() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    let (path, data) = h.file("en-US.vtt", 20 * 1024);
    let target = UploadTarget::AttachedMedia {
        business_type: BusinessType::Subtitle,
        media_ext: None,
    };
    let info = VodInfo {
        title: Some("English".into()),
        cate_id: Some(7),
        ..VodInfo::default()
    };
    let id = h.engine.add_file(path.clone(), target, info).unwrap();
    h.engine.start();
    let result = h.events.wait_succeeded(&id).await;
    let created = h.sim.requests_of("CreateUploadAttachedMedia");
    assert_eq!(created.len(), 1);
    let p = &created[0];
    assert_eq!(p.param("BusinessType"), Some("subtitle"));
    assert_eq!(p.param("MediaExt"), Some("vtt"));
    assert_eq!(p.param("FileName"), Some("en-US.vtt"));
    assert_eq!(p.param("FileSize"), Some(data.len().to_string().as_str()));
    assert_eq!(p.param("Title"), Some("English"));
    assert_eq!(p.param("CateIds"), Some("7"));
    assert!(
        result.video_id.as_deref().is_some_and(|m| m.len() == 32),
        "the MediaId"
    );
    let url = result.image_url.clone().expect("the media URL");
    assert!(url.ends_with(&result.object), "{url}");
    assert!(
        result.object.starts_with("attached/subtitle/"),
        "{}",
        result.object
    );
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);

    // A watermark must be an image or a .mov: refused when added.
    let watermark = UploadTarget::AttachedMedia {
        business_type: BusinessType::Watermark,
        media_ext: None,
    };
    let err = h
        .engine
        .add_file(path, watermark, VodInfo::default())
        .unwrap_err();
    assert!(err.to_string().contains("does not take .vtt"), "{err}");
}

/// RefreshUploadVideo goes to the region of the video's UploadAuth (`Region`), not the
/// engine's configured one; a new video is created in the configured region.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_auth_region_moves_the_vod_endpoint() {
    let h = Harness::new(|c| {
        c.region = "cn-beijing".into();
        c.measure_media = false;
    })
    .await;
    h.use_account_key();
    h.throttle(Some(512 * 1024));
    let (path, data) = h.file("region.mp4", 1024 * 1024);
    let id = h.add(&path);
    h.engine.start();
    h.events.wait_progress(&id, 200 * 1024).await;
    // The video's UploadAuth expires: the engine renews it with RefreshUploadVideo.
    h.sim.expire_tokens();
    h.throttle(None);
    h.events.wait_succeeded(&id).await;
    let create = h.sim.requests_of("CreateUploadVideo");
    let refresh = h.sim.requests_of("RefreshUploadVideo");
    assert_eq!(create[0].param("RegionId"), Some("cn-beijing"));
    assert!(!refresh.is_empty(), "the expired UploadAuth was refreshed");
    for r in &refresh {
        // vod-sim's UploadAuth says `Region: cn-shanghai`.
        assert_eq!(r.param("RegionId"), Some(vod_sim::REGION));
    }
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
}

/// JS `retryCount` / `retryDuration`: `retry_limit` retries of one request, spaced by a fixed
/// interval when `retry_base_interval == retry_max_interval`; one more failure fails the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_count_and_duration_mean_what_the_seeds_say() {
    let fixed = Duration::from_millis(200);
    let h = Harness::new(|c| {
        c.retry_limit = 3;
        c.retry_base_interval = fixed;
        c.retry_max_interval = fixed;
    })
    .await;
    h.use_account_key();
    // Three failures, then success: within retryCount = 3.
    h.sim.set_faults(vec![
        FaultRule::status("InitiateMultipartUpload", 503).with_count(3),
    ]);
    let (path, _) = h.file("three.mp4", 300 * 1024);
    let ok = h.add(&path);
    h.engine.start();
    h.events.wait_succeeded(&ok).await;
    let tries = h.sim.requests_of("InitiateMultipartUpload");
    assert_eq!(tries.len(), 4, "1 try + 3 retries");
    let retries = h
        .events
        .count(|e| matches!(e, Event::Retry { file, .. } if file.id == ok));
    assert_eq!(retries, 1, "one retry event per series, as the native SDK");

    // Four failures: the fourth retry is not made and the file fails.
    h.sim.clear_requests();
    h.sim.set_faults(vec![
        FaultRule::status("InitiateMultipartUpload", 503).with_count(4),
    ]);
    let (path, _) = h.file("four.mp4", 300 * 1024);
    let failing = h.add(&path);
    let begun = std::time::Instant::now();
    h.engine.start();
    h.events
        .wait_for("the file to fail", |ev| {
            ev.iter()
                .any(|e| matches!(e, Event::Failed { file, code, .. } if file.id == failing && code == "ServiceUnavailable"))
        })
        .await;
    assert_eq!(h.sim.requests_of("InitiateMultipartUpload").len(), 4);
    // Three waits of half to all of the fixed interval (the jitter).
    let waited = begun.elapsed();
    assert!(waited >= fixed * 3 / 2, "{waited:?}");
}

/// A file VOD would refuse (by extension, for its target) is refused by `add_file`, with the
/// accepted list in the message; nothing reaches the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_file_refuses_extensions_vod_does_not_take() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    let (notes, _) = h.file("notes.txt", 1024);
    let err = h
        .engine
        .add_file(notes.clone(), UploadTarget::Video, VodInfo::default())
        .unwrap_err();
    assert_eq!(err.code(), "InvalidArgument");
    let msg = err.to_string();
    assert!(msg.contains(".txt"), "{msg}");
    for ext in VIDEO_EXTENSIONS {
        assert!(msg.contains(ext), "{msg} lists {ext}");
    }
    let (bmp, _) = h.file("scan.bmp", 1024);
    assert!(h.engine.add_file(bmp, None, VodInfo::default()).is_err());
    assert!(h.engine.list_files().is_empty());
    assert_eq!(h.sim.stats().requests, 0);

    // An own-bucket object takes any name.
    let object = UploadTarget::Object {
        endpoint: h.sim.info().oss_endpoint.clone(),
        bucket: "own-bucket".into(),
        object: "notes.txt".into(),
    };
    let id = h
        .engine
        .add_file(notes, object, VodInfo::default())
        .unwrap();
    h.engine.start();
    h.events.wait_succeeded(&id).await;
}

/// Mode 2, as the native SDKs: the container's Duration, Bitrate, Fps, Width and Height go
/// into CreateUploadVideo's `UserData`, merged with the app's (whose keys win); a file that
/// is no MP4/MOV, or `measure_media = false`, sends the app's UserData as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_info_is_merged_into_user_data() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    // 1280x720, 30 fps, 2.5 s (75 frames), moov after mdat, as phones record.
    let clip = include_bytes!("../fixtures/clip-720p30.mp4");
    let path = h.dir.path().join("clip.mp4");
    std::fs::write(&path, clip).unwrap();
    let info = VodInfo {
        user_data: Some(
            r#"{"Width":"app's own","MessageCallback":{"CallbackType":"http"}}"#.into(),
        ),
        ..VodInfo::default()
    };
    let id = h.engine.add_file(path, UploadTarget::Video, info).unwrap();
    let (plain, _) = h.file("not-a-container.mp4", 20 * 1024);
    let plain_id = h.add(&plain);
    h.engine.start();
    h.events.wait_succeeded(&id).await;
    h.events.wait_succeeded(&plain_id).await;

    let created = h.sim.requests_of("CreateUploadVideo");
    let user_data = |file: &str| -> Option<serde_json::Value> {
        let r = created.iter().find(|r| r.param("FileName") == Some(file))?;
        Some(serde_json::from_str(r.param("UserData")?).unwrap())
    };
    let measured = user_data("clip.mp4").expect("UserData sent");
    let bitrate = (clip.len() as f64 * 8.0 / 2.5 / 1000.0).round().to_string();
    assert_eq!(measured["Duration"], "2.5");
    assert_eq!(measured["Fps"], "30");
    assert_eq!(measured["Height"], "720");
    assert_eq!(measured["Bitrate"], bitrate.as_str());
    assert_eq!(measured["Width"], "app's own", "the app's key wins");
    assert_eq!(measured["MessageCallback"]["CallbackType"], "http");
    assert_eq!(
        user_data("not-a-container.mp4"),
        None,
        "nothing measured, nothing sent"
    );

    // Turned off: the app's UserData exactly.
    let off = Harness::new(|c| c.measure_media = false).await;
    off.use_account_key();
    let path = off.dir.path().join("clip.mp4");
    std::fs::write(&path, clip).unwrap();
    let id = off.add(&path);
    off.engine.start();
    off.events.wait_succeeded(&id).await;
    let created = off.sim.requests_of("CreateUploadVideo");
    assert_eq!(created[0].param("UserData"), None);
}
