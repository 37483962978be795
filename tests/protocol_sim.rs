//! The protocol layer against the in-process simulator (`vod-sim`) over real HTTP:
//! a 50 MiB file uploaded in parts with V1 and V4 and read back identical with matching
//! CRC-64, plus the error paths (wrong secret, expired token, clock skew, injected faults).

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

use futures_util::future::try_join_all;
use vod_sim::{FaultRule, SimConfig, Simulator};
use vod_upload::protocol::crc64::{self, Crc64};
use vod_upload::protocol::{Credentials, SignatureVersion, content_type_for};
use vod_upload::source::Source;
use vod_upload::transport::{
    HttpConfig, OssAuth, OssClient, OssLocation, StsClient, VideoTicket, VodClient, build_client,
    validate_endpoint,
};
use vod_upload::{Error, ErrorClass, Service, VodInfo};

const MIB: u64 = 1024 * 1024;

struct Env {
    sim: Simulator,
    http: reqwest::Client,
    oss: OssClient,
    vod: VodClient,
    account: Credentials,
}

async fn env() -> Env {
    let sim = Simulator::start(SimConfig::default())
        .await
        .expect("simulator starts");
    let config = HttpConfig {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
        stall_timeout: Duration::from_secs(30),
        allow_http: true,
        ..Default::default()
    };
    let http = build_client(&config).unwrap();
    let oss = OssClient::new(http.clone(), config);
    let vod_endpoint = validate_endpoint(&sim.info().vod_endpoint, true).unwrap();
    let vod = VodClient::new(http.clone(), vod_endpoint).with_region(sim.region());
    let account = Credentials::access_key(sim.access_key_id(), sim.access_key_secret());
    Env {
        sim,
        http,
        oss,
        vod,
        account,
    }
}

/// A file of `len` pseudo-random bytes, written in 1 MiB blocks, and its CRC-64.
fn make_file(dir: &Path, name: &str, len: u64, seed: u64) -> (std::path::PathBuf, u64) {
    let path = dir.join(name);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut crc = Crc64::new();
    let mut state = seed | 1;
    let mut block = vec![0u8; MIB as usize];
    let mut left = len;
    while left > 0 {
        for b in block.iter_mut() {
            // xorshift64: cheap, deterministic, not compressible.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
        let n = left.min(MIB) as usize;
        f.write_all(&block[..n]).unwrap();
        crc.update(&block[..n]);
        left -= n as u64;
    }
    f.flush().unwrap();
    (path, crc.finish())
}

fn location(t: &VideoTicket) -> OssLocation {
    OssLocation {
        endpoint: t.upload_address.endpoint.clone(),
        bucket: t.upload_address.bucket.clone(),
        key: t.upload_address.file_name.clone(),
    }
}

fn oss_auth(t: &VideoTicket, version: SignatureVersion, fallback_region: &str) -> OssAuth {
    OssAuth {
        credentials: t.upload_auth.credentials.clone(),
        version,
        region: t
            .upload_auth
            .region
            .clone()
            .unwrap_or_else(|| fallback_region.to_owned()),
    }
}

/// Initiate, parts in parallel (4 at a time), ListParts, Complete; returns the combined CRC.
async fn multipart_upload(
    oss: &OssClient,
    loc: &OssLocation,
    auth: &OssAuth,
    path: &Path,
    size: u64,
    part_size: u64,
) -> u64 {
    let upload_id = oss
        .initiate_multipart(loc, auth, &content_type_for(path), &[])
        .await
        .unwrap();
    let count = size.div_ceil(part_size);
    let mut parts = Vec::new();
    let source = Source::path(path);
    for batch in (1..=count).collect::<Vec<_>>().chunks(4) {
        let uploads = batch.iter().map(|&n| {
            let offset = (n - 1) * part_size;
            let len = part_size.min(size - offset);
            oss.upload_part(
                loc,
                auth,
                &upload_id,
                n as u32,
                &source,
                offset,
                len,
                &|_| {},
            )
        });
        parts.extend(try_join_all(uploads).await.unwrap());
    }
    let combined = parts
        .iter()
        .fold(0, |acc, p| crc64::combine(acc, p.crc64, p.size));

    let listed = oss.list_parts(loc, auth, &upload_id).await.unwrap();
    assert_eq!(listed.len() as u64, count);
    for (l, p) in listed.iter().zip(&parts) {
        assert_eq!(
            (l.part_number, &l.etag, l.size),
            (p.part_number, &p.etag, p.size)
        );
    }

    let list: Vec<(u32, String)> = parts
        .iter()
        .rev()
        .map(|p| (p.part_number, p.etag.clone()))
        .collect();
    let done = oss
        .complete_multipart(loc, auth, &upload_id, &list, &[])
        .await
        .unwrap();
    assert!(!done.etag.is_empty());
    if let Some(server) = done.crc64 {
        assert_eq!(
            server, combined,
            "Complete CRC differs from the combined part CRCs"
        );
    }
    combined
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_mib_in_parts_with_v1_and_v4() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let size = 50 * MIB;
    let (path, file_crc) = make_file(dir.path(), "big.mp4", size, 7);
    for version in [SignatureVersion::V1, SignatureVersion::V4] {
        let ticket = env
            .vod
            .create_upload_video(&env.account, "big.mp4", size, &VodInfo::default())
            .await
            .unwrap();
        let loc = location(&ticket);
        let auth = oss_auth(&ticket, version, env.sim.region());
        let combined = multipart_upload(&env.oss, &loc, &auth, &path, size, 5 * MIB + 12345).await;
        assert_eq!(combined, file_crc, "{version:?}");

        let meta = env.oss.head_object(&loc, &auth).await.unwrap();
        assert_eq!(meta.size, size);
        assert_eq!(meta.crc64, Some(file_crc), "{version:?}");
        assert_eq!(meta.content_type.as_deref(), Some("video/mp4"));

        let (bytes, crc) = env.oss.get_object(&loc, &auth, None).await.unwrap();
        assert_eq!(bytes.len() as u64, size);
        assert_eq!(crc, Some(file_crc));
        assert!(
            bytes[..] == std::fs::read(&path).unwrap()[..],
            "content differs ({version:?})"
        );
        let (range, _) = env
            .oss
            .get_object(&loc, &auth, Some((10, 19)))
            .await
            .unwrap();
        assert_eq!(&range[..], &bytes[10..20]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_object_and_sts_mode() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, file_crc) = make_file(dir.path(), "small.mp4", 50_000, 3);

    // Mode 2: STS credentials from AssumeRole sign the VOD call.
    let sts_endpoint = validate_endpoint(&env.sim.info().sts_endpoint, true).unwrap();
    let sts = StsClient::new(env.http.clone(), sts_endpoint);
    let role = sts
        .assume_role(
            &env.account,
            "acs:ram::1234567890:role/vod-upload",
            "test",
            3600,
        )
        .await
        .unwrap();
    assert!(role.is_sts());
    let ticket = env
        .vod
        .create_upload_video(&role, "small.mp4", 50_000, &VodInfo::default())
        .await
        .unwrap();
    let refreshed = env
        .vod
        .refresh_upload_video(&role, &ticket.video_id)
        .await
        .unwrap();
    assert_eq!(refreshed.upload_address, ticket.upload_address);

    for version in [SignatureVersion::V1, SignatureVersion::V4] {
        let auth = oss_auth(&refreshed, version, env.sim.region());
        let put = env
            .oss
            .put_object(
                &location(&ticket),
                &auth,
                &Source::path(&path),
                "video/mp4",
                &[],
                &|_| {},
            )
            .await
            .unwrap();
        assert_eq!(put.crc64, file_crc);
        let meta = env
            .oss
            .head_object(&location(&ticket), &auth)
            .await
            .unwrap();
        assert_eq!((meta.size, meta.crc64), (50_000, Some(file_crc)));
    }

    let e = env
        .vod
        .refresh_upload_video(&role, "no-such-video")
        .await
        .unwrap_err();
    let Error::Service(se) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (se.service, se.code.as_str()),
        (Service::Vod, "InvalidVideo.NotFound")
    );

    let image = env
        .vod
        .create_upload_image(&role, "cover.png", &VodInfo::default())
        .await
        .unwrap();
    assert!(!image.image_id.is_empty() && !image.image_url.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_is_signature_does_not_match() {
    let env = env().await;
    let ticket = env
        .vod
        .create_upload_video(&env.account, "a.mp4", 1, &VodInfo::default())
        .await
        .unwrap();
    for version in [SignatureVersion::V1, SignatureVersion::V4] {
        let mut auth = oss_auth(&ticket, version, env.sim.region());
        auth.credentials.access_key_secret = "wrong-secret".into();
        let e = env
            .oss
            .initiate_multipart(&location(&ticket), &auth, "video/mp4", &[])
            .await
            .unwrap_err();
        let Error::Service(se) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (se.status, se.code.as_str()),
            (403, "SignatureDoesNotMatch"),
            "{version:?}"
        );
        assert_eq!(e.class(true), ErrorClass::Fatal);
    }
    let wrong = Credentials::access_key(env.sim.access_key_id(), "wrong-secret");
    let e = env
        .vod
        .create_upload_video(&wrong, "a.mp4", 1, &VodInfo::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "SignatureDoesNotMatch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_is_token_expired() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = make_file(dir.path(), "v.mp4", 200_000, 5);
    let ticket = env
        .vod
        .create_upload_video(&env.account, "v.mp4", 200_000, &VodInfo::default())
        .await
        .unwrap();
    let loc = location(&ticket);
    let auth = oss_auth(&ticket, SignatureVersion::V1, env.sim.region());
    let upload_id = env
        .oss
        .initiate_multipart(&loc, &auth, "video/mp4", &[])
        .await
        .unwrap();
    assert!(env.sim.expire_tokens() > 0);
    for version in [SignatureVersion::V1, SignatureVersion::V4] {
        let auth = oss_auth(&ticket, version, env.sim.region());
        let e = env
            .oss
            .upload_part(
                &loc,
                &auth,
                &upload_id,
                1,
                &Source::path(&path),
                0,
                200_000,
                &|_| {},
            )
            .await
            .unwrap_err();
        assert_eq!(e.class(true), ErrorClass::TokenExpired, "{version:?}: {e}");
    }
    // A refreshed credential continues the same upload.
    let fresh = env
        .vod
        .refresh_upload_video(&env.account, &ticket.video_id)
        .await
        .unwrap();
    let auth = oss_auth(&fresh, SignatureVersion::V1, env.sim.region());
    let part = env
        .oss
        .upload_part(
            &loc,
            &auth,
            &upload_id,
            1,
            &Source::path(&path),
            0,
            200_000,
            &|_| {},
        )
        .await
        .unwrap();
    env.oss
        .complete_multipart(&loc, &auth, &upload_id, &[(1, part.etag)], &[])
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_skew_is_corrected_from_the_server_date() {
    let env = env().await;
    let ticket = env
        .vod
        .create_upload_video(&env.account, "a.mp4", 1, &VodInfo::default())
        .await
        .unwrap();
    for version in [SignatureVersion::V1, SignatureVersion::V4] {
        // Pretend our clock is an hour slow: the first attempt is refused, the second is
        // signed with the server's time.
        env.oss
            .clock()
            .correct(SystemTime::now() - Duration::from_secs(3600));
        let auth = oss_auth(&ticket, version, env.sim.region());
        let id = env
            .oss
            .initiate_multipart(&location(&ticket), &auth, "video/mp4", &[])
            .await
            .unwrap();
        assert!(!id.is_empty());
        assert!(env.oss.clock().offset_ms().abs() < 5_000, "{version:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_surface_as_typed_errors() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = make_file(dir.path(), "f.mp4", 300_000, 9);
    let ticket = env
        .vod
        .create_upload_video(&env.account, "f.mp4", 300_000, &VodInfo::default())
        .await
        .unwrap();
    let loc = location(&ticket);
    let auth = oss_auth(&ticket, SignatureVersion::V1, env.sim.region());
    let id = env
        .oss
        .initiate_multipart(&loc, &auth, "video/mp4", &[])
        .await
        .unwrap();

    env.sim
        .set_faults(vec![FaultRule::status("UploadPart", 503).with_count(1)]);
    let e = env
        .oss
        .upload_part(
            &loc,
            &auth,
            &id,
            1,
            &Source::path(&path),
            0,
            300_000,
            &|_| {},
        )
        .await
        .unwrap_err();
    assert_eq!(e.class(true), ErrorClass::Retryable, "{e}");

    env.sim
        .set_faults(vec![FaultRule::reset("UploadPart").with_count(1)]);
    let e = env
        .oss
        .upload_part(
            &loc,
            &auth,
            &id,
            1,
            &Source::path(&path),
            0,
            300_000,
            &|_| {},
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    assert_eq!(e.class(true), ErrorClass::Retryable);

    // The rules were used up: the same part now goes through.
    env.oss
        .upload_part(
            &loc,
            &auth,
            &id,
            1,
            &Source::path(&path),
            0,
            300_000,
            &|_| {},
        )
        .await
        .unwrap();
    env.oss.abort_multipart(&loc, &auth, &id).await.unwrap();
    let e = env.oss.list_parts(&loc, &auth, &id).await.unwrap_err();
    assert_eq!(e.class(true), ErrorClass::RestartUpload);
}
