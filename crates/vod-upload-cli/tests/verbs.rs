//! `cancel`, `delete`, `retry` and the network flags, on the built binary against the
//! simulator over 127.0.0.1.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::Value;
use vod_sim::FaultRule;
use vod_upload::protocol::SignatureVersion;
use vod_upload::protocol::credentials::{Credentials, Secret};
use vod_upload::transport::http::{HttpConfig, build_client};
use vod_upload::transport::oss::{OssAuth, OssClient, OssLocation};

const PART: u64 = 100 * 1024;

fn upload_args(sim: &Sim, db: &Path, file: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = vec![
        s("upload"),
        s("--json"),
        s("--state-db"),
        p(db),
        s("--part-size"),
        PART.to_string(),
    ];
    a.extend(extra.iter().map(|e| s(e)));
    a.extend(sim.mode2());
    a.push(p(file));
    a
}

fn list(db: &Path) -> Vec<Value> {
    let out = run(&[s("list"), s("--json"), s("--state-db"), p(db)]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    out.json()
}

/// A 2 MiB upload killed part-way: one unfinished entry with an open multipart upload.
fn half_uploaded(sim: &Sim, dir: &Path) -> (PathBuf, PathBuf, String) {
    let db = dir.join("state.db");
    let (video, _) = write_file(dir, "half.mp4", 2 * 1024 * 1024);
    sim.throttle(Some(512 * 1024));
    let mut cli = Running::spawn(&upload_args(sim, &db, &video, &[]));
    cli.wait_line("progress", |v| {
        v["event"] == "progress" && v["uploaded"].as_u64().unwrap() >= 300 * 1024
    });
    cli.kill_9();
    sim.throttle(None);
    let listed = list(&db);
    assert_eq!(listed.len(), 1);
    assert!(listed[0]["upload_id"].is_string(), "{}", listed[0]);
    assert_eq!(sim.stats()["multipart_uploads_in_progress"], 1);
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    (db, video, id)
}

fn verb(sim: &Sim, name: &str, db: &Path, id: &str, extra: &[&str]) -> Output {
    let mut a = vec![s(name), s("--json"), s("--state-db"), p(db)];
    a.extend(extra.iter().map(|e| s(e)));
    a.extend(sim.mode2());
    a.push(s(id));
    run(&a)
}

#[test]
fn cancel_marks_the_file_canceled() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    let (db, _, id) = half_uploaded(&sim, dir.path());

    // Unknown ids are refused, nothing changes.
    let out = verb(&sim, "cancel", &db, "no-such-id", &[]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("no upload with id"), "{}", out.stderr);
    assert_eq!(list(&db)[0]["status"], "ready");

    // The 8-character prefix `list` prints is enough.
    let out = verb(&sim, "cancel", &db, &id[..8], &[]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let ev = out.one("canceled");
    assert_eq!(ev["id"], id.as_str());
    assert_eq!(ev["status"], "canceled");
    assert_eq!(ev["multipart_upload"], "aborted", "{ev}");

    let listed = list(&db);
    assert_eq!(listed.len(), 1, "still listed");
    assert_eq!(listed[0]["status"], "canceled");
    assert!(listed[0]["upload_id"].is_null(), "{}", listed[0]);
    let stats = sim.stats();
    assert_eq!(stats["multipart_uploads_in_progress"], 0, "{stats}");
    assert_eq!(stats["multipart_uploads_aborted"], 1, "{stats}");

    // Twice: a clear error.
    let out = verb(&sim, "cancel", &db, &id, &[]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("already canceled"), "{}", out.stderr);
}

#[test]
fn delete_removes_the_file() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    let (db, _, id) = half_uploaded(&sim, dir.path());

    // `cancel --keep-upload` first, to show that `delete` still aborts a kept upload.
    let out = verb(&sim, "cancel", &db, &id, &["--keep-upload"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.one("canceled")["multipart_upload"], "kept");
    assert_eq!(sim.stats()["multipart_uploads_in_progress"], 1);

    let out = verb(&sim, "delete", &db, &id, &[]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let ev = out.one("deleted");
    assert_eq!(ev["id"], id.as_str());
    assert_eq!(ev["multipart_upload"], "aborted", "{ev}");
    assert!(list(&db).is_empty(), "no longer listed");
    let stats = sim.stats();
    assert_eq!(stats["multipart_uploads_in_progress"], 0, "{stats}");

    let out = verb(&sim, "delete", &db, &id, &[]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("no upload with id"), "{}", out.stderr);
}

/// Without credentials, `delete` removes the file and leaves the abort owed in the database;
/// the next run with credentials (here a `resume` with nothing to upload) carries it out.
#[test]
fn delete_without_credentials_owes_the_abort() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    let (db, _, id) = half_uploaded(&sim, dir.path());
    let out = run(&[
        s("delete"),
        s("--json"),
        s("--state-db"),
        p(&db),
        id.clone(),
    ]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.one("deleted")["multipart_upload"], "owed");
    assert!(out.stderr.contains("next vod-upload run"), "{}", out.stderr);
    assert!(list(&db).is_empty());
    assert_eq!(sim.stats()["multipart_uploads_in_progress"], 1);

    let mut resume = vec![s("resume"), s("--json"), s("--state-db"), p(&db)];
    resume.extend(sim.mode2());
    let out = run(&resume);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("carried out"), "{}", out.stderr);
    let stats = sim.stats();
    assert_eq!(stats["multipart_uploads_in_progress"], 0, "{stats}");
    assert_eq!(stats["multipart_uploads_aborted"], 1, "{stats}");
}

#[test]
fn retry_uploads_a_failed_file() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let size = 700 * 1024;
    let (video, crc) = write_file(dir.path(), "flaky.mp4", size);
    let data = std::fs::read(&video).unwrap();

    // A non-retryable error on the first part: the file fails.
    sim.sim.set_faults(vec![
        FaultRule::status_code("UploadPart", 403, "AccessDenied").with_count(1),
    ]);
    let out = run(&upload_args(&sim, &db, &video, &["--parallel", "1"]));
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("AccessDenied"), "{}", out.stderr);
    let listed = list(&db);
    assert_eq!(listed[0]["status"], "failed");
    let id = listed[0]["id"].as_str().unwrap().to_owned();

    // Without credentials: refused.
    let out = run(&[s("retry"), s("--state-db"), p(&db), id.clone()]);
    assert_eq!(out.code(), 2, "{}", out.stderr);

    let out = verb(&sim, "retry", &db, &id, &[]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let ok = out.one("succeeded");
    assert_eq!(ok["id"], id.as_str());
    assert_eq!(ok["bytes"], size as u64);
    assert_eq!(ok["crc64"], crc.to_string());
    assert_eq!(list(&db)[0]["status"], "succeeded");

    // The object as the simulator serves it is the file.
    let bucket = ok["bucket"].as_str().unwrap();
    let object = ok["object"].as_str().unwrap();
    assert_eq!(read_back(&sim, bucket, object), data);
    assert_eq!(sim.stats()["multipart_uploads_in_progress"], 0);

    // A succeeded file is not retried.
    let out = verb(&sim, "retry", &db, &id, &[]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("already uploaded"), "{}", out.stderr);
}

#[test]
fn network_cellular_waits_under_wifi_only() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let (video, crc) = write_file(dir.path(), "phone.mp4", 300 * 1024);
    let net = ["--network", "cellular", "--network-policy", "wifi-only"];
    let out = run(&upload_args(&sim, &db, &video, &net));
    assert_eq!(out.code(), 5, "{}\n{}", out.stdout, out.stderr);
    let waiting = out.one("waiting");
    assert_eq!(waiting["reason"], "network", "{waiting}");
    assert!(
        out.stderr.contains("waiting for an allowed network")
            && out.stderr.contains("wifi-only")
            && out.stderr.contains("cellular"),
        "{}",
        out.stderr
    );
    let stats = sim.stats();
    assert_eq!(stats["parts_uploaded"], 0, "no byte on cellular: {stats}");
    assert_eq!(stats["put_objects"], 0, "{stats}");
    assert_eq!(list(&db)[0]["status"], "ready", "kept for the next run");

    // --wait-network bounds the wait; the same verdict.
    let mut bounded = upload_args(&sim, &db, &video, &net);
    bounded.insert(1, s("--wait-network"));
    bounded.insert(2, s("1"));
    assert_eq!(run(&bounded).code(), 5);

    // On Wi-Fi under the same policy it uploads.
    let out = run(&upload_args(
        &sim,
        &db,
        &video,
        &["--network", "wifi", "--network-policy", "wifi-only"],
    ));
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.one("succeeded")["crc64"], crc.to_string());

    // Bad values are usage errors.
    let out = run(&upload_args(&sim, &db, &video, &["--network", "5g"]));
    assert_eq!(out.code(), 2);
    let out = run(&upload_args(&sim, &db, &video, &["--roaming"]));
    assert_eq!(out.code(), 2, "--roaming needs --network");
}

/// GetObject with the simulator's account key.
fn read_back(sim: &Sim, bucket: &str, key: &str) -> Vec<u8> {
    let info = sim.sim.info().clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let config = HttpConfig {
            allow_http: true,
            request_timeout: Duration::from_secs(30),
            ..HttpConfig::default()
        };
        let oss = OssClient::new(build_client(&config).unwrap(), config);
        let loc = OssLocation {
            endpoint: info.oss_endpoint.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        };
        let auth = OssAuth {
            credentials: Credentials {
                access_key_id: info.access_key_id.clone(),
                access_key_secret: Secret::new(info.access_key_secret.clone()),
                security_token: None,
                expires_at: None,
            },
            version: SignatureVersion::V1,
            region: info.region.clone(),
        };
        let (body, _) = oss.get_object(&loc, &auth, None).await.expect("GetObject");
        body.to_vec()
    })
}
