//! Admin API, fault injection, throttling, and the binary's start-up line.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use vod_sim::{FaultRule, SimConfig, SimInfo, ThrottleSettings};

#[tokio::test]
async fn status_faults_with_count_and_stats() {
    let sim = start().await;
    let http = http();
    let base = sim.endpoint().to_owned();
    let creds = sim.account_credentials();
    let out = admin_post(
        &http,
        &base,
        "/_sim/faults",
        json!({"rules": [
            {"op": "PutObject", "action": "status", "status": 503, "count": 2},
            {"op": "CreateUploadVideo", "action": "status", "status": 500, "code": "InternalError", "count": 1},
            {"op": "HeadObject", "action": "status", "status": 502, "count": 1}
        ]}),
    )
    .await;
    assert_eq!(out["rules"], 3);
    let before = stats(&http, &base).await;
    for _ in 0..2 {
        let resp = Oss::new(&base, &creds, "PUT", "bk-fault", "k")
            .body(data(1000, 1))
            .send(&http)
            .await;
        expect_oss_error(resp, 503, "ServiceUnavailable").await;
    }
    let resp = Oss::new(&base, &creds, "PUT", "bk-fault", "k")
        .body(data(1000, 1))
        .send(&http)
        .await;
    assert_eq!(resp.status(), 200);
    let resp = Oss::new(&base, &creds, "HEAD", "bk-fault", "k")
        .send(&http)
        .await;
    assert_eq!(resp.status(), 502);
    assert!(header(&resp, "x-oss-err").is_some());

    let mut p = vod("CreateUploadVideo");
    p.extend([("Title", "t"), ("FileName", "a.mp4")]);
    let (status, body) = rpc(&http, &base, "GET", &creds, &p).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (500, Some("InternalError"))
    );
    let (status, _) = rpc(&http, &base, "GET", &creds, &p).await;
    assert_eq!(status, 200);

    let after = stats(&http, &base).await;
    assert_eq!(
        after["faults_injected"].as_u64().unwrap() - before["faults_injected"].as_u64().unwrap(),
        4
    );
    // Bodies of rejected requests still count as received.
    assert!(
        after["bytes_received"].as_u64().unwrap() - before["bytes_received"].as_u64().unwrap()
            >= 3000
    );
    assert_eq!(after["put_objects"], 1);
    assert_eq!(after["objects"], 1);
    assert_eq!(after["ops"]["PutObject"], 3);
    assert_eq!(after["statuses"]["503"], 2);
    for field in [
        "requests",
        "bytes_received",
        "parts_uploaded",
        "objects",
        "multipart_uploads_in_progress",
    ] {
        assert!(after[field].is_u64(), "{field}");
    }
    // The rules with a count are used up.
    let rules = json(
        http.get(format!("{base}/_sim/faults"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        rules["rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["count"] == 0)
    );
    let resp = http
        .delete(format!("{base}/_sim/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let rules = json(
        http.get(format!("{base}/_sim/faults"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(rules["rules"].as_array().unwrap().len(), 0);

    // Invalid rules are refused.
    let resp = http
        .post(format!("{base}/_sim/faults"))
        .body(r#"{"rules":[{"op":"UploadPart","action":"status","status":200}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn reset_fault_drops_the_connection_part_way() {
    let sim = start().await;
    let http = http();
    let base = sim.endpoint().to_owned();
    let creds = sim.account_credentials();
    sim.set_faults(vec![FaultRule::reset("PutObject").with_count(1)]);
    let body = data(4 << 20, 2);
    let before = sim.stats();
    let result = http
        .put(format!("{base}/bk-reset/big.bin"))
        .body(body.clone())
        .send()
        .await;
    assert!(
        result.is_err(),
        "expected a transport error, got {result:?}"
    );
    let after = sim.stats();
    assert_eq!(after.connections_reset - before.connections_reset, 1);
    let got = after.bytes_received - before.bytes_received;
    assert!(
        ((1 << 20)..(4 << 20)).contains(&got),
        "read {got} bytes before the reset"
    );
    assert_eq!(after.objects, 0);
    // The next request goes through.
    let resp = Oss::new(&base, &creds, "PUT", "bk-reset", "big.bin")
        .body(body)
        .send(&http)
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn delay_fault_and_latency() {
    let sim = start().await;
    let http = http();
    let base = sim.endpoint().to_owned();
    let creds = sim.account_credentials();
    sim.set_faults(vec![FaultRule::delay("*", 300).with_count(1)]);
    let t = Instant::now();
    let resp = Oss::new(&base, &creds, "PUT", "bk-delay", "a")
        .body("x")
        .send(&http)
        .await;
    assert_eq!(resp.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    sim.clear_faults();

    let out = admin_post(
        &http,
        &base,
        "/_sim/throttle",
        json!({"bandwidth": null, "latency_ms": 200}),
    )
    .await;
    assert_eq!(out["latency_ms"], 200);
    let t = Instant::now();
    let resp = Oss::new(&base, &creds, "GET", "bk-delay", "a")
        .send(&http)
        .await;
    assert_eq!(resp.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(200));
    // Admin calls are not delayed by the latency setting, and the setting reads back.
    let settings = json(
        http.get(format!("{base}/_sim/throttle"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(settings, json!({"bandwidth": null, "latency_ms": 200}));
}

#[tokio::test]
async fn bandwidth_limit_still_delivers_the_bytes() {
    let sim = start_with(SimConfig {
        bandwidth: Some(4 << 20),
        ..SimConfig::default()
    })
    .await;
    let http = http();
    let base = sim.endpoint().to_owned();
    let creds = sim.account_credentials();
    let body = data(1 << 20, 5);
    let t = Instant::now();
    let resp = Oss::new(&base, &creds, "PUT", "bk-bw", "a")
        .body(body.clone())
        .send(&http)
        .await;
    assert_eq!(resp.status(), 200);
    // 1 MiB at 4 MiB/s cannot take less than ~250 ms (a lower bound only).
    assert!(
        t.elapsed() >= Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
    sim.throttle(ThrottleSettings::default());
    let got = Oss::new(&base, &creds, "GET", "bk-bw", "a")
        .send(&http)
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), body.as_slice());
}

#[test]
fn background_simulator_for_sync_callers() {
    let sim = vod_sim::Simulator::start_background(SimConfig::default()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = sim.endpoint().to_owned();
    let info: SimInfo = rt.block_on(async {
        serde_json::from_value(
            json(
                http()
                    .get(format!("{base}/_sim/info"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await,
        )
        .unwrap()
    });
    assert_eq!(&info, sim.info());
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_prints_one_json_line_then_serves() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_vod-sim"))
            .args([
                "--access-key-id",
                "LTAItest",
                "--access-key-secret",
                "s3cret",
            ])
            .args(["--token-ttl", "60", "--latency-ms", "0", "--data-dir"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let mut expected = vec![
        "oss_endpoint",
        "vod_endpoint",
        "sts_endpoint",
        "region",
        "access_key_id",
        "access_key_secret",
    ];
    expected.sort();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    assert_eq!(keys_sorted, expected);
    assert!(
        line.starts_with("{\"oss_endpoint\":\"http://127.0.0.1:"),
        "{line}"
    );
    let info: SimInfo = serde_json::from_value(v).unwrap();
    assert_eq!(info.region, "cn-shanghai");
    assert_eq!(info.access_key_id, "LTAItest");
    assert_eq!(info.access_key_secret, "s3cret");
    assert_eq!(info.oss_endpoint, info.vod_endpoint);
    assert_eq!(info.oss_endpoint, info.sts_endpoint);

    // It serves OSS with that key, storing under the data dir.
    let http = http();
    let creds = vod_upload::protocol::Credentials::access_key("LTAItest", "s3cret");
    let resp = Oss::new(&info.oss_endpoint, &creds, "PUT", "bk-bin", "a.txt")
        .body("hi")
        .send(&http)
        .await;
    assert_eq!(resp.status(), 200);
    assert!(std::fs::read_dir(dir.path().join("blobs")).unwrap().count() >= 1);
    let s = stats(&http, &info.oss_endpoint).await;
    assert_eq!(s["objects"], 1);

    // SIGTERM ends it cleanly.
    let pid = child.0.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.0.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}
