//! Signature verification over real HTTP: V1 and V4, account key and STS tokens, expiry,
//! skew, UploadAuth scope.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use vod_upload::protocol::credentials::UploadAuth;
use vod_upload::protocol::{Credentials, SignatureVersion};

const VERSIONS: [SignatureVersion; 2] = [SignatureVersion::V1, SignatureVersion::V4];

#[tokio::test]
async fn account_and_sts_credentials_with_v1_and_v4() {
    let sim = start().await;
    let http = http();
    let base = sim.endpoint().to_owned();
    let account = sim.account_credentials();
    let sts = sim.issue_sts_credentials(Duration::from_secs(600));
    for version in VERSIONS {
        for creds in [&account, &sts] {
            let key = format!("k/{version:?}/{}", creds.access_key_id);
            let resp = Oss::new(&base, creds, "PUT", "bk-auth", &key)
                .version(version)
                .h("content-type", "text/plain")
                .h("x-oss-meta-author", "  alice ")
                .body("hello")
                .send(&http)
                .await;
            assert_eq!(resp.status(), 200, "{version:?} {}", creds.access_key_id);
            let resp = Oss::new(&base, creds, "GET", "bk-auth", &key)
                .version(version)
                .send(&http)
                .await;
            assert_eq!(resp.status(), 200);
            assert_eq!(header(&resp, "x-oss-meta-author").as_deref(), Some("alice"));
        }
    }
}

#[tokio::test]
async fn wrong_secret_unknown_key_and_bad_token() {
    let sim = start().await;
    let http = http();
    let base = sim.endpoint().to_owned();
    let sts = sim.issue_sts_credentials(Duration::from_secs(600));
    let other = sim.issue_sts_credentials(Duration::from_secs(600));
    for version in VERSIONS {
        let wrong = Credentials::access_key(sim.access_key_id(), "not-the-secret");
        let resp = Oss::new(&base, &wrong, "PUT", "bkt", "k")
            .version(version)
            .body("x")
            .send(&http)
            .await;
        let body = expect_oss_error(resp, 403, "SignatureDoesNotMatch").await;
        let sts_text = xml_field(&body, "StringToSign").expect("StringToSign");
        match version {
            SignatureVersion::V1 => assert!(sts_text.starts_with("PUT\n"), "{sts_text}"),
            SignatureVersion::V4 => {
                assert!(sts_text.starts_with("OSS4-HMAC-SHA256\n"), "{sts_text}");
                assert!(body.contains("<CanonicalRequest>"));
            }
        }
        assert!(body.contains("<EC>0002-00000040</EC>"));

        let unknown = Credentials::access_key("LTAInobody", "x");
        let resp = Oss::new(&base, &unknown, "GET", "bkt", "k")
            .version(version)
            .send(&http)
            .await;
        expect_oss_error(resp, 403, "InvalidAccessKeyId").await;

        // The right secret with another token's value.
        let mixed = Credentials::sts(
            sts.access_key_id.clone(),
            sts.access_key_secret.expose(),
            other.security_token.as_ref().unwrap().expose(),
            None,
        );
        let resp = Oss::new(&base, &mixed, "GET", "bkt", "k")
            .version(version)
            .send(&http)
            .await;
        expect_oss_error(resp, 403, "InvalidSecurityToken").await;

        // An STS key without its token.
        let no_token =
            Credentials::access_key(sts.access_key_id.clone(), sts.access_key_secret.expose());
        let resp = Oss::new(&base, &no_token, "GET", "bkt", "k")
            .version(version)
            .send(&http)
            .await;
        expect_oss_error(resp, 403, "InvalidAccessKeyId").await;

        // A wrong STS secret.
        let bad = Credentials::sts(
            sts.access_key_id.clone(),
            "bad",
            sts.security_token.as_ref().unwrap().expose(),
            None,
        );
        let resp = Oss::new(&base, &bad, "GET", "bkt", "k")
            .version(version)
            .send(&http)
            .await;
        expect_oss_error(resp, 403, "SignatureDoesNotMatch").await;
    }
}

#[tokio::test]
async fn clock_skew_is_refused() {
    let sim = start().await;
    let http = http();
    let base = sim.endpoint().to_owned();
    let account = sim.account_credentials();
    for version in VERSIONS {
        for skew in [-1i64, 1] {
            let at = if skew < 0 {
                SystemTime::now() - Duration::from_secs(16 * 60)
            } else {
                SystemTime::now() + Duration::from_secs(16 * 60)
            };
            let resp = Oss::new(&base, &account, "PUT", "bkt", "skew")
                .version(version)
                .at(at)
                .body("x")
                .send(&http)
                .await;
            let body = expect_oss_error(resp, 403, "RequestTimeTooSkewed").await;
            assert!(body.contains("<ServerTime>"));
        }
        // 10 minutes off is still fine.
        let resp = Oss::new(&base, &account, "PUT", "bkt", "skew")
            .version(version)
            .at(SystemTime::now() - Duration::from_secs(600))
            .body("x")
            .send(&http)
            .await;
        assert_eq!(resp.status(), 200);
    }
}

#[tokio::test]
async fn expire_tokens_via_admin() {
    let sim = start().await;
    let http = http();
    let base = sim.endpoint().to_owned();
    let sts = sim.issue_sts_credentials(Duration::from_secs(600));
    let account = sim.account_credentials();
    let resp = Oss::new(&base, &sts, "PUT", "bkt", "before")
        .body("x")
        .send(&http)
        .await;
    assert_eq!(resp.status(), 200);
    let out = admin_post(&http, &base, "/_sim/expire-tokens", serde_json::json!({})).await;
    assert_eq!(out["expired"], 1);
    for version in VERSIONS {
        let resp = Oss::new(&base, &sts, "PUT", "bkt", "after")
            .version(version)
            .body("x")
            .send(&http)
            .await;
        let body = expect_oss_error(resp, 403, "SecurityTokenExpired").await;
        assert!(body.contains("<EC>0002-00000007</EC>"));
        // HEAD carries the code in x-oss-err.
        let resp = Oss::new(&base, &sts, "HEAD", "bkt", "before")
            .version(version)
            .send(&http)
            .await;
        assert_eq!(resp.status(), 403);
        assert!(header(&resp, "x-oss-err").is_some());
        // The account key keeps working.
        let resp = Oss::new(&base, &account, "PUT", "bkt", "after")
            .version(version)
            .body("x")
            .send(&http)
            .await;
        assert_eq!(resp.status(), 200);
    }
    // Tokens issued afterwards are valid.
    let fresh = sim.issue_sts_credentials(Duration::from_secs(600));
    let resp = Oss::new(&base, &fresh, "GET", "bkt", "after")
        .send(&http)
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn short_token_ttl_expires_by_itself() {
    let sim = start().await;
    let http = http();
    let base = sim.endpoint().to_owned();
    let sts = sim.issue_sts_credentials(Duration::ZERO);
    let resp = Oss::new(&base, &sts, "GET", "bkt", "k").send(&http).await;
    expect_oss_error(resp, 403, "SecurityTokenExpired").await;
}

#[tokio::test]
async fn upload_auth_only_reaches_its_own_object() {
    let sim = start().await;
    let http = http();
    let base = sim.endpoint().to_owned();
    let account = sim.account_credentials();
    let mut params = vod("CreateUploadVideo");
    params.extend([("Title", "t"), ("FileName", "clip.mp4")]);
    let (status, body) = rpc(&http, &base, "GET", &account, &params).await;
    assert_eq!(status, 200, "{body}");
    let auth = UploadAuth::decode(body["UploadAuth"].as_str().unwrap(), SystemTime::now()).unwrap();
    let address =
        vod_upload::protocol::UploadAddress::decode(body["UploadAddress"].as_str().unwrap())
            .unwrap();
    let creds = auth.credentials;
    let resp = Oss::new(&base, &creds, "PUT", &address.bucket, &address.file_name)
        .h("content-type", "video/mp4")
        .body("data")
        .send(&http)
        .await;
    assert_eq!(resp.status(), 200);
    let resp = Oss::new(&base, &creds, "PUT", &address.bucket, "sv/other/other.mp4")
        .body("data")
        .send(&http)
        .await;
    expect_oss_error(resp, 403, "AccessDenied").await;
    let resp = Oss::new(&base, &creds, "PUT", "another-bucket", &address.file_name)
        .body("data")
        .send(&http)
        .await;
    expect_oss_error(resp, 403, "AccessDenied").await;
}
