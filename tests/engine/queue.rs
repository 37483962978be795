use vod_upload::{Event, FileStatus, UploadTarget};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode2_video_upload_round_trip() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    let (path, data) = h.file("clip.mp4", 1024 * 1024 + 12345);
    let id = h.add(&path);
    h.engine.start();
    let result = h.events.wait_succeeded(&id).await;

    assert!(result.video_id.is_some(), "a VOD video was created");
    assert_eq!(result.bytes, data.len() as u64);
    assert_eq!(result.crc64, vod_upload::protocol::crc64::crc64(&data));
    let info = h.engine.file(&id).unwrap();
    assert_eq!(info.status, FileStatus::Succeeded);
    assert_eq!(info.bytes_uploaded, data.len() as u64);
    assert_eq!(info.crc64, Some(result.crc64));
    assert_eq!(h.read_back(&info).await, data, "object is byte-identical");
    let stored = h.sim.object_info(&result.bucket, &result.object).unwrap();
    assert_eq!(stored.crc64, result.crc64);
    assert_progress_sane(&h.events.all(), &id);
    assert_eq!(h.sim.stats().multipart_uploads_in_progress, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_files_upload_in_order_then_all_done() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    let ids: Vec<String> = (0..10)
        .map(|i| {
            let (p, _) = h.file(&format!("f{i}.mp4"), 150 * 1024 + i * 1000);
            h.add(&p)
        })
        .collect();
    h.engine.start();
    h.events
        .wait_for("all_done", |ev| {
            ev.iter().any(|e| matches!(e, Event::AllDone))
        })
        .await;

    let started: Vec<String> = h
        .events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            Event::Started { file } => Some(file.id),
            _ => None,
        })
        .collect();
    assert_eq!(started, ids, "files start in the order they were added");
    let succeeded = h.events.count(|e| matches!(e, Event::Succeeded { .. }));
    assert_eq!(succeeded, 10);
    assert_eq!(h.events.count(|e| matches!(e, Event::AllDone)), 1);
    // all_done comes after every success
    let last = h
        .events
        .all()
        .into_iter()
        .rposition(|e| matches!(e, Event::Succeeded { .. }))
        .unwrap();
    let done = h
        .events
        .all()
        .into_iter()
        .position(|e| matches!(e, Event::AllDone))
        .unwrap();
    assert!(done > last);
    assert!(
        h.engine
            .list_files()
            .iter()
            .all(|f| f.status == FileStatus::Succeeded)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_upload_gets_an_image_url() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    let (path, data) = h.file("cover.jpg", 300 * 1024);
    let id = h
        .engine
        .add_file(path, UploadTarget::Image, Default::default())
        .unwrap();
    h.engine.start();
    let result = h.events.wait_succeeded(&id).await;
    assert!(
        result
            .image_url
            .as_deref()
            .is_some_and(|u| u.starts_with("http")),
        "{result:?}"
    );
    assert!(result.video_id.is_none());
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_bucket_object_upload() {
    let h = Harness::new(|_| {}).await;
    h.use_account_key();
    let (path, data) = h.file("raw.mov", 500 * 1024);
    let target = UploadTarget::Object {
        endpoint: h.sim.info().oss_endpoint.clone(),
        bucket: "my-own-bucket".into(),
        object: "uploads/raw movie.mov".into(),
    };
    let id = h
        .engine
        .add_file(
            path,
            target,
            vod_upload::VodInfo {
                title: Some("t".into()),
                ..Default::default()
            },
        )
        .unwrap();
    h.engine.start();
    let result = h.events.wait_succeeded(&id).await;
    assert_eq!(result.object, "uploads/raw movie.mov");
    assert_eq!(
        get_object(&h.sim, "my-own-bucket", "uploads/raw movie.mov").await,
        data
    );
}

const PART: u64 = 100 * 1024;

/// 100 KiB parts, one in parallel, and responses that wait far longer than sending a part to
/// 127.0.0.1 takes.
async fn long_round_trip() -> Harness {
    let h = Harness::new(|c| {
        c.part_size = PART;
        c.parallel_parts = 1;
    })
    .await;
    h.use_account_key();
    h.sim.throttle(vod_sim::ThrottleSettings {
        bandwidth: None,
        latency_ms: 400,
    });
    h
}

/// On a long round trip a part spends most of its time waiting for its response, so more
/// parts than `parallel_parts` are kept in flight (at most twice as many), and the link does
/// not idle for a round trip per part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_round_trip_keeps_more_parts_in_flight() {
    let h = long_round_trip().await;
    let (path, data) = h.file("long-rtt.mp4", 6 * PART as usize);
    let id = h.add(&path);
    h.engine.start();
    let result = h.events.wait_succeeded(&id).await;
    let info = h.engine.file(&id).unwrap();
    assert_eq!(h.read_back(&info).await, data);
    assert_eq!(result.crc64, vod_upload::protocol::crc64::crc64(&data));
    let stats = h.sim.stats();
    assert_eq!(stats.parts_uploaded, 6);
    assert_eq!(
        stats.requests_in_flight_peak, 2,
        "twice parallel_parts once the round trip is known, never more"
    );
}

/// The next file of the queue starts with the parts in flight the last one settled on, rather
/// than waiting out a round trip per part again until its own first part has finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_file_starts_with_the_parts_in_flight_the_last_one_settled_on() {
    let h = long_round_trip().await;
    let (first, _) = h.file("first.mp4", 4 * PART as usize);
    let (second, data) = h.file("second.mp4", 4 * PART as usize);
    let a = h.add(&first);
    let b = h.add(&second);
    h.engine.start();
    h.events.wait_succeeded(&a).await;
    h.events.wait_succeeded(&b).await;
    let info = h.engine.file(&b).unwrap();
    assert_eq!(h.read_back(&info).await, data);

    let key = |id: &str| h.engine.file(id).unwrap().object.unwrap();
    // How many requests the simulator was handling as each of a file's first two parts
    // arrived (one file at a time: only that file's parts are in flight).
    let first_two = |id: &str| -> Vec<u64> {
        let key = key(id);
        let parts: Vec<u64> = h
            .sim
            .requests_of("UploadPart")
            .into_iter()
            .filter(|r| r.path.ends_with(&key))
            .map(|r| r.in_flight)
            .collect();
        assert_eq!(parts.len(), 4, "{parts:?}");
        parts[..2].to_vec()
    };
    assert_eq!(
        first_two(&a),
        [1, 1],
        "the first file sends one part until it has measured one"
    );
    assert_eq!(
        first_two(&b).iter().max(),
        Some(&2),
        "the second starts two at once"
    );

    // Another network is another path: measured again.
    h.engine.set_network_state(vod_upload::NetworkState {
        network_type: vod_upload::NetworkType::Ethernet,
        ..vod_upload::NetworkState::UNKNOWN
    });
    let (third, _) = h.file("third.mp4", 4 * PART as usize);
    let c = h.add(&third);
    h.engine.start();
    h.events.wait_succeeded(&c).await;
    assert_eq!(first_two(&c), [1, 1], "after a change of network");
}
