//! The `vod-upload` contract (issue 6), tested on the built binary.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use serde_json::Value;

const PART: u64 = 100 * 1024;

/// The success line carries exactly these keys, in this order (`video_id` or `image_url`).
fn assert_success_line(line: &str, file: &str, bytes: u64, crc: u64, media: &str) {
    let keys = key_order(line);
    assert_eq!(
        keys,
        [
            "event", "file", "id", media, "bucket", "object", "bytes", "seconds", "crc64"
        ],
        "{line}"
    );
    let v: Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["file"], file);
    assert!(v["id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(v[media].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        v["bucket"]
            .as_str()
            .is_some_and(|s| s.starts_with("outin-")),
        "{v}"
    );
    assert!(v["object"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(v["bytes"], bytes);
    assert!(v["seconds"].as_f64().is_some_and(|s| s >= 0.0));
    assert_eq!(
        v["crc64"],
        crc.to_string(),
        "crc64 is the decimal CRC-64 of the file, as a string"
    );
}

fn all_lines_have_event_and_file(out: &Output) {
    for v in out.json() {
        assert!(v["event"].is_string(), "no event: {v}");
        assert!(v.get("file").is_some(), "no file: {v}");
    }
}

#[test]
fn no_credentials_uploads_to_the_embedded_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let (video, vcrc) = write_file(dir.path(), "clip.mp4", 350 * 1024);
    let (image, icrc) = write_file(dir.path(), "cover.png", 150 * 1024);
    let out = run(&[s("upload"), s("--json"), p(&video), p(&image)]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("built-in simulator"),
        "says so on stderr: {}",
        out.stderr
    );
    all_lines_have_event_and_file(&out);

    let ok = out.raw("succeeded");
    assert_eq!(ok.len(), 2, "{}", out.stdout);
    assert_success_line(&ok[0], &p(&video), 350 * 1024, vcrc, "video_id");
    assert_success_line(&ok[1], &p(&image), 150 * 1024, icrc, "image_url");
    assert_eq!(out.events("started").len(), 2);
    let progress = out.events("progress");
    assert!(!progress.is_empty());
    for v in &progress {
        assert!(v["uploaded"].as_u64().unwrap() <= v["total"].as_u64().unwrap());
    }
    let last = out.json().pop().unwrap();
    assert_eq!(last["event"], "all_done");
    assert_eq!(last["succeeded"], 2);
}

#[test]
fn human_output_has_a_summary_table_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let (video, _) = write_file(dir.path(), "table.mp4", 250 * 1024);
    let out = run(&[s("upload"), p(&video)]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let header = out.stdout.lines().next().unwrap_or_default();
    for col in ["FILE", "STATUS", "BYTES", "SECONDS", "MiB/s", "VIDEO ID"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(
        out.stdout.contains("uploaded") && out.stdout.contains("256000"),
        "{}",
        out.stdout
    );
}

#[test]
fn mode2_against_an_external_simulator() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    let (video, crc) = write_file(dir.path(), "mode2.mp4", 420 * 1024);
    let db = dir.path().join("state.db");
    let mut args = vec![
        s("upload"),
        s("--json"),
        s("--state-db"),
        p(&db),
        s("--part-size"),
        s("100KiB"),
    ];
    args.extend(sim.mode2());
    args.extend([
        s("--title"),
        s("Mode 2"),
        s("--tags"),
        s("a,b"),
        s("--cate-id"),
        s("7"),
        p(&video),
    ]);
    let out = run(&args);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let ok = out.one("succeeded");
    assert_success_line(
        &out.raw("succeeded")[0],
        &p(&video),
        420 * 1024,
        crc,
        "video_id",
    );
    let info = sim
        .sim
        .object_info(
            ok["bucket"].as_str().unwrap(),
            ok["object"].as_str().unwrap(),
        )
        .unwrap();
    assert_eq!(
        (info.size, info.crc64),
        (420 * 1024, crc),
        "the simulator holds the file"
    );
    let stats = sim.stats();
    assert_eq!(stats["videos"], 1);
    assert_eq!(stats["parts_uploaded"], 5);

    // The same through the environment, signed with V4.
    let (second, crc2) = write_file(dir.path(), "env-v4.mp4", 300 * 1024);
    let i = sim.sim.info();
    let mut cmd = bin();
    cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", &i.access_key_id)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", &i.access_key_secret);
    let out = run_with(
        cmd,
        &[
            s("upload"),
            s("--json"),
            s("--signature-version"),
            s("v4"),
            s("--vod-endpoint"),
            sim.endpoint(),
            s("--allow-http"),
            s("--state-db"),
            p(&db),
            p(&second),
        ],
    );
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    assert_success_line(
        &out.raw("succeeded")[0],
        &p(&second),
        300 * 1024,
        crc2,
        "video_id",
    );
    assert_eq!(sim.stats()["videos"], 2);
}

#[test]
fn mode1_with_an_upload_auth_from_the_simulator() {
    use vod_upload::transport::http::{HttpConfig, build_client, validate_endpoint};
    use vod_upload::transport::vod::VodClient;

    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    let (video, crc) = write_file(dir.path(), "mode1.mp4", 330 * 1024);
    // The app server's part: CreateUploadVideo with the account key.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ticket = rt.block_on(async {
        let http = build_client(&HttpConfig {
            allow_http: true,
            ..HttpConfig::default()
        })
        .unwrap();
        let vod = VodClient::new(http, validate_endpoint(&sim.endpoint(), true).unwrap());
        vod.create_upload_video(
            &sim.sim.account_credentials(),
            "mode1.mp4",
            330 * 1024,
            &Default::default(),
        )
        .await
        .unwrap()
    });
    let auth = ticket.upload_auth.encode(SystemTime::now());
    let address = ticket.upload_address.encode();
    let out = run(&[
        s("upload"),
        s("--json"),
        s("--allow-http"),
        s("--state-db"),
        p(&dir.path().join("state.db")),
        s("--upload-auth"),
        auth.clone(),
        s("--upload-address"),
        address.clone(),
        s("--video-id"),
        ticket.video_id.clone(),
        p(&video),
    ]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let ok = out.one("succeeded");
    assert_success_line(
        &out.raw("succeeded")[0],
        &p(&video),
        330 * 1024,
        crc,
        "video_id",
    );
    assert_eq!(ok["video_id"], ticket.video_id.as_str());
    assert_eq!(ok["object"], ticket.upload_address.file_name.as_str());
    assert!(
        !out.stderr
            .contains(ticket.upload_auth.credentials.access_key_secret.expose())
    );

    // One pair is for one file.
    let (other, _) = write_file(dir.path(), "other.mp4", 1024);
    let out = run(&[
        s("upload"),
        s("--upload-auth"),
        auth,
        s("--upload-address"),
        address,
        p(&video),
        p(&other),
    ]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
}

#[test]
fn a_missing_file_fails_with_file_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.mp4");
    let out = run(&[s("upload"), s("--json"), p(&missing)]);
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout, out.stderr);
    let failed = out.one("failed");
    assert_eq!(failed["code"], "FileNotExist");
    assert_eq!(failed["file"], p(&missing));
    assert!(out.stderr.contains("FileNotExist"), "{}", out.stderr);
    assert_eq!(out.json().pop().unwrap()["event"], "all_done");
}

/// kill -9 twice mid-upload, then the same command again: the same video and multipart upload
/// continue, no finished part reaches the server twice, and nothing is left open.
#[test]
fn kill_9_and_rerun_continues_the_same_upload() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    let size = 3 * 1024 * 1024;
    let (video, crc) = write_file(dir.path(), "killed.mp4", size);
    let db = dir.path().join("state.db");
    let mut args = vec![
        s("upload"),
        s("--json"),
        s("--state-db"),
        p(&db),
        s("--part-size"),
        PART.to_string(),
    ];
    args.extend(sim.mode2());
    args.push(p(&video));
    let parts = (size as u64).div_ceil(PART);

    sim.throttle(Some(512 * 1024));
    let mut video_id = None;
    for at_least in [size as u64 / 5, size as u64 / 2] {
        let mut cli = Running::spawn(&args);
        let started = cli.wait_line("started", |v| v["event"] == "started");
        if let Some(v) = &video_id {
            assert_eq!(
                &started["video_id"], v,
                "the restored entry knows its video"
            );
            assert!(
                started["bytes_uploaded"].as_u64().unwrap() > 0,
                "resumed from the checkpoint"
            );
        }
        cli.wait_line("progress", |v| {
            v["event"] == "progress" && v["uploaded"].as_u64().unwrap() >= at_least
        });
        cli.kill_9();
        let listed = run(&[s("list"), s("--json"), s("--state-db"), p(&db)]).json();
        assert_eq!(listed.len(), 1, "one queue entry, not a duplicate");
        assert!(listed[0]["upload_id"].is_string(), "{}", listed[0]);
        match &video_id {
            None => video_id = Some(listed[0]["video_id"].clone()),
            Some(v) => assert_eq!(&listed[0]["video_id"], v),
        }
    }
    sim.throttle(None);
    let out = run(&args);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let ok = out.one("succeeded");
    assert_success_line(
        &out.raw("succeeded")[0],
        &p(&video),
        size as u64,
        crc,
        "video_id",
    );
    assert_eq!(Some(&ok["video_id"]), video_id.as_ref(), "the same video");

    let stats = sim.stats();
    assert_eq!(stats["videos"], 1, "{stats}");
    assert_eq!(
        stats["multipart_uploads_initiated"], 1,
        "the same multipart upload: {stats}"
    );
    assert_eq!(
        stats["parts_uploaded"], parts,
        "no finished part was sent again: {stats}"
    );
    assert_eq!(stats["multipart_uploads_in_progress"], 0, "{stats}");

    // The same command once more: reported as already uploaded, nothing sent.
    let again = run(&args);
    assert_eq!(again.code(), 0, "{}", again.stderr);
    let ok2 = again.one("succeeded");
    assert_eq!(ok2["already_uploaded"], true);
    assert_eq!(ok2["video_id"], ok["video_id"]);
    assert_eq!(ok2["crc64"], ok["crc64"]);
    assert_eq!(sim.stats()["parts_uploaded"], parts);
    assert_eq!(
        run(&[s("list"), s("--json"), s("--state-db"), p(&db)])
            .json()
            .len(),
        1
    );

    // --force uploads it again, as a new video.
    let mut forced = args.clone();
    forced.insert(1, s("--force"));
    let out = run(&forced);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_ne!(out.one("succeeded")["video_id"], ok["video_id"]);
    assert_eq!(sim.stats()["videos"], 2);
}

/// `resume` continues what a killed run left, with the credentials given again.
#[test]
fn resume_finishes_unfinished_uploads() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    let size = 2 * 1024 * 1024;
    let (video, crc) = write_file(dir.path(), "later.mp4", size);
    let db = dir.path().join("state.db");
    let mut args = vec![
        s("upload"),
        s("--json"),
        s("--state-db"),
        p(&db),
        s("--part-size"),
        PART.to_string(),
    ];
    args.extend(sim.mode2());
    args.push(p(&video));
    sim.throttle(Some(512 * 1024));
    let mut cli = Running::spawn(&args);
    cli.wait_line("progress", |v| {
        v["event"] == "progress" && v["uploaded"].as_u64().unwrap() >= 300 * 1024
    });
    cli.kill_9();
    sim.throttle(None);

    // Without credentials, resume refuses (it cannot use a new simulator for old uploads).
    let out = run(&[s("resume"), s("--state-db"), p(&db)]);
    assert_eq!(out.code(), 2, "{}", out.stderr);

    let mut resume = vec![s("resume"), s("--json"), s("--state-db"), p(&db)];
    resume.extend(sim.mode2());
    let out = run(&resume);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let canonical = std::fs::canonicalize(&video).unwrap();
    assert_success_line(
        &out.raw("succeeded")[0],
        &p(&canonical),
        size as u64,
        crc,
        "video_id",
    );
    let stats = sim.stats();
    assert_eq!(
        stats["parts_uploaded"],
        (size as u64).div_ceil(PART),
        "{stats}"
    );
    assert_eq!(stats["multipart_uploads_initiated"], 1);

    let out = run(&resume);
    assert_eq!(out.code(), 0);
    assert_eq!(
        out.one("all_done")["succeeded"],
        0,
        "nothing left to resume"
    );
}

/// `list` shows the queue; an `upload` of another file leaves an unfinished one alone; `clear`
/// aborts the unfinished multipart upload and empties the queue.
#[test]
fn list_and_clear() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let (done, _) = write_file(dir.path(), "done.mp4", 200 * 1024);
    let (half, _) = write_file(dir.path(), "half.mp4", 2 * 1024 * 1024);
    let base = |file: &std::path::Path| {
        let mut a = vec![
            s("upload"),
            s("--json"),
            s("--state-db"),
            p(&db),
            s("--part-size"),
            PART.to_string(),
        ];
        a.extend(sim.mode2());
        a.push(p(file));
        a
    };
    assert_eq!(run(&base(&done)).code(), 0);
    sim.throttle(Some(512 * 1024));
    let mut cli = Running::spawn(&base(&half));
    cli.wait_line("progress", |v| {
        v["event"] == "progress" && v["uploaded"].as_u64().unwrap() >= 300 * 1024
    });
    cli.kill_9();
    sim.throttle(None);

    let listed = run(&[s("list"), s("--json"), s("--state-db"), p(&db)]).json();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["status"], "succeeded");
    assert!(listed[0]["crc64"].is_string());
    // Finished parts only (progress also counted the parts in flight when it was killed).
    assert!(
        listed[1]["bytes_uploaded"].as_u64().unwrap() > 0,
        "{}",
        listed[1]
    );
    assert!(listed[1]["upload_id"].is_string());
    let table = run(&[s("list"), s("--state-db"), p(&db)]);
    assert_eq!(table.code(), 0);
    assert!(
        table.stdout.contains("done.mp4") && table.stdout.contains("half.mp4"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("succeeded"), "{}", table.stdout);

    // Uploading the finished file again sends nothing and does not touch the unfinished one.
    let parts_before = sim.stats()["parts_uploaded"].clone();
    let out = run(&base(&done));
    assert_eq!(out.one("succeeded")["already_uploaded"], true);
    assert!(out.stderr.contains("vod-upload resume"), "{}", out.stderr);
    assert_eq!(
        sim.stats()["parts_uploaded"],
        parts_before,
        "the other upload stayed put"
    );
    assert_eq!(sim.stats()["multipart_uploads_in_progress"], 1);

    let mut clear = vec![s("clear"), s("--json"), s("--state-db"), p(&db)];
    clear.extend(sim.mode2());
    let out = run(&clear);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let cleared = out.events("cleared");
    assert_eq!(cleared.len(), 2);
    assert_eq!(cleared[0]["multipart_upload"], "none");
    assert_eq!(cleared[1]["multipart_upload"], "aborted", "{}", cleared[1]);
    let stats = sim.stats();
    assert_eq!(stats["multipart_uploads_in_progress"], 0, "{stats}");
    assert_eq!(stats["multipart_uploads_aborted"], 1, "{stats}");
    assert!(
        run(&[s("list"), s("--json"), s("--state-db"), p(&db)])
            .json()
            .is_empty()
    );

    // Nothing there: not an error.
    let out = run(&[s("list"), s("--state-db"), p(&dir.path().join("none.db"))]);
    assert_eq!(out.code(), 0);
    assert!(
        !dir.path().join("none.db").exists(),
        "list does not create a database"
    );
}

/// Mode 2 with an STS token that expires mid-upload: `token_expired`, exit 3 with the code on
/// stderr; the same command with a fresh token continues the same upload.
#[test]
fn sts_expiry_exits_3_and_a_fresh_token_continues() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    let size = 2 * 1024 * 1024;
    let (video, crc) = write_file(dir.path(), "sts.mp4", size);
    let db = dir.path().join("state.db");
    let args_with = |c: &vod_upload::protocol::Credentials| {
        vec![
            s("upload"),
            s("--json"),
            s("--state-db"),
            p(&db),
            s("--part-size"),
            PART.to_string(),
            s("--access-key-id"),
            c.access_key_id.clone(),
            s("--access-key-secret"),
            c.access_key_secret.expose().to_owned(),
            s("--security-token"),
            c.security_token.as_ref().unwrap().expose().to_owned(),
            s("--vod-endpoint"),
            sim.endpoint(),
            s("--allow-http"),
            p(&video),
        ]
    };
    let first = sim.sim.issue_sts_credentials(Duration::from_secs(3600));
    sim.throttle(Some(512 * 1024));
    let mut cli = Running::spawn(&args_with(&first));
    cli.wait_line("progress", |v| {
        v["event"] == "progress" && v["uploaded"].as_u64().unwrap() >= 300 * 1024
    });
    let (status, _) = admin(&sim.endpoint(), "POST", "/_sim/expire-tokens", "");
    assert_eq!(status, 200);
    let expired = cli.wait_line("token_expired", |v| v["event"] == "token_expired");
    assert_eq!(expired["file"], p(&video));
    let out = cli.wait();
    assert_eq!(out.code(), 3, "{}", out.stderr);
    assert!(out.stderr.contains("TokenExpired"), "{}", out.stderr);
    for secret in [
        first.access_key_secret.expose(),
        first.security_token.as_ref().unwrap().expose(),
    ] {
        assert!(
            !out.stderr.contains(secret) && !out.stdout.contains(secret),
            "a secret was printed"
        );
    }

    sim.throttle(None);
    let fresh = sim.sim.issue_sts_credentials(Duration::from_secs(3600));
    let out = run(&args_with(&fresh));
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    assert_success_line(
        &out.raw("succeeded")[0],
        &p(&video),
        size as u64,
        crc,
        "video_id",
    );
    let stats = sim.stats();
    assert_eq!(stats["videos"], 1, "{stats}");
    assert_eq!(stats["multipart_uploads_initiated"], 1, "{stats}");
    assert_eq!(
        stats["parts_uploaded"],
        (size as u64).div_ceil(PART),
        "{stats}"
    );
}

/// Ctrl-C (SIGINT) stops at once with status 130 and keeps the checkpoint.
#[cfg(unix)]
#[test]
fn sigint_keeps_the_checkpoint_and_exits_130() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    let size = 2 * 1024 * 1024;
    let (video, crc) = write_file(dir.path(), "sigint.mp4", size);
    let db = dir.path().join("state.db");
    let mut args = vec![
        s("upload"),
        s("--json"),
        s("--state-db"),
        p(&db),
        s("--part-size"),
        PART.to_string(),
    ];
    args.extend(sim.mode2());
    args.push(p(&video));
    sim.throttle(Some(512 * 1024));
    let mut cli = Running::spawn(&args);
    cli.wait_line("progress", |v| {
        v["event"] == "progress" && v["uploaded"].as_u64().unwrap() >= 300 * 1024
    });
    let pid = cli.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = cli.wait();
    assert_eq!(out.code(), 130, "{}", out.stderr);
    assert!(out.stderr.contains("interrupted"), "{}", out.stderr);
    assert_eq!(out.json().pop().unwrap()["unfinished"], 1);
    assert_eq!(
        sim.stats()["multipart_uploads_in_progress"],
        1,
        "the multipart upload is kept"
    );

    sim.throttle(None);
    let out = run(&args);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_success_line(
        &out.raw("succeeded")[0],
        &p(&video),
        size as u64,
        crc,
        "video_id",
    );
    assert_eq!(sim.stats()["parts_uploaded"], (size as u64).div_ceil(PART));
}

#[test]
fn usage_errors_exit_2_and_never_echo_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (f, _) = write_file(dir.path(), "x.mp4", 1024);
    let out = run(&[s("upload"), s("--access-key-id"), s("LTAIonlyid"), p(&f)]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("--access-key-secret"), "{}", out.stderr);

    let secret = "SuperSecretValue123";
    let token = "CAISsecrettoken456";
    let out = run(&[
        s("upload"),
        s("--access-key-id"),
        s("LTAIkey"),
        s("--access-key-secret"),
        s(secret),
        s("--security-token"),
        s(token),
        s("--vod-endpoint"),
        s("http://127.0.0.1:1"),
        p(&f),
    ]);
    assert_eq!(
        out.code(),
        2,
        "plain http without --allow-http is refused: {}",
        out.stderr
    );
    for text in [&out.stdout, &out.stderr] {
        assert!(
            !text.contains(secret) && !text.contains(token),
            "a secret was printed: {text}"
        );
    }
    let bogus = "eyJBY2Nlc3NLZXlTZWNyZXQiOiJoaWRkZW4ifQ==SECRETISH";
    let out = run(&[
        s("upload"),
        s("--upload-auth"),
        s(bogus),
        s("--upload-address"),
        s(bogus),
        p(&f),
    ]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("MissingArgument"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("SECRETISH") && !out.stderr.contains("hidden"),
        "{}",
        out.stderr
    );

    let out = run(&[s("upload"), s("--part-size"), s("1K"), p(&f)]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("part_size"), "{}", out.stderr);

    let missing = dir.path().join("missing-ca.pem");
    let out = run(&[s("upload"), s("--ca-cert"), p(&missing), p(&f)]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("--ca-cert"), "{}", out.stderr);
    assert!(out.stderr.contains("missing-ca.pem"), "{}", out.stderr);
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "this is not a certificate\n").unwrap();
    let out = run(&[s("upload"), s("--ca-cert"), p(&not_pem), p(&f)]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("BEGIN CERTIFICATE"), "{}", out.stderr);

    let mut cmd = bin();
    cmd.env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret);
    let help = run_with(cmd, &[s("upload"), s("--help")]);
    assert_eq!(help.code(), 0);
    assert!(
        !help.stdout.contains(secret),
        "--help shows no environment values"
    );
}

#[test]
fn demo_runs_to_the_end() {
    let t = std::time::Instant::now();
    let out = run(&[s("demo")]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("7/7 steps behaved as expected"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("FAILED"), "{}", out.stdout);
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "the demo took {:?}",
        t.elapsed()
    );
}

#[test]
fn vod_json_and_flags_reach_create_upload_video() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    let (video, _) = write_file(dir.path(), "json.mp4", 120 * 1024);
    let mut args = vec![s("upload"), s("--json")];
    args.extend(sim.mode2());
    args.extend([
        s("--vod-json"),
        s(r#"{"Vod":{"Title":"from json","CateId":"234","UserData":{"Extend":{"k":"v"}}}}"#),
        s("--cate-id"),
        s("9"),
        p(&video),
    ]);
    let out = run(&args);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    let created = sim.sim.requests_of("CreateUploadVideo");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].param("Title"), Some("from json"));
    assert_eq!(created[0].param("CateId"), Some("9"), "the flag wins");
    assert!(
        created[0]
            .param("UserData")
            .unwrap()
            .contains(r#""Extend":{"k":"v"}"#)
    );

    // The JS document's own sample (a stray quote): a usage error, nothing sent.
    let mut args = vec![s("upload")];
    args.extend(sim.mode2());
    args.extend([
        s("--vod-json"),
        s(r#"{"Vod":{"Title":"test","CateId":"234"}"}"#),
        p(&video),
    ]);
    let out = run(&args);
    assert_eq!(out.code(), 2, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("VodInfo JSON"), "{}", out.stderr);
    assert_eq!(sim.sim.requests_of("CreateUploadVideo").len(), 1);
}
