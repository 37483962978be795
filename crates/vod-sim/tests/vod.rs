//! VOD and STS RPC over real HTTP.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use common::*;
use serde_json::Value;
use vod_sim::SimConfig;
use vod_upload::protocol::credentials::{
    UploadAddress, UploadAuth, format_utc_time, parse_utc_time,
};
use vod_upload::protocol::rpc::{percent_encode, rpc_signature, rpc_string_to_sign, signed_query};
use vod_upload::protocol::{Credentials, SignatureVersion};

fn decode(body: &Value) -> (UploadAuth, UploadAddress) {
    let auth = UploadAuth::decode(body["UploadAuth"].as_str().unwrap(), SystemTime::now()).unwrap();
    let addr = UploadAddress::decode(body["UploadAddress"].as_str().unwrap()).unwrap();
    (auth, addr)
}

fn raw_auth(body: &Value) -> Value {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["UploadAuth"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn assume_role(
    http: &reqwest::Client,
    base: &str,
    account: &Credentials,
    duration: Option<&str>,
) -> (u16, Value) {
    let mut params = vec![
        ("Action", "AssumeRole"),
        ("Version", "2015-04-01"),
        ("RoleArn", "acs:ram::1234567890123456:role/vod-upload"),
        ("RoleSessionName", "phone-1"),
    ];
    if let Some(d) = duration {
        params.push(("DurationSeconds", d));
    }
    rpc(http, base, "POST", account, &params).await
}

fn sts_creds(body: &Value) -> Credentials {
    let c = &body["Credentials"];
    Credentials::sts(
        c["AccessKeyId"].as_str().unwrap(),
        c["AccessKeySecret"].as_str().unwrap(),
        c["SecurityToken"].as_str().unwrap(),
        parse_utc_time(c["Expiration"].as_str().unwrap()),
    )
}

#[tokio::test]
async fn create_upload_refresh_and_video_info() {
    let sim = start().await;
    let http = http();
    let base = sim.endpoint().to_owned();
    let account = sim.account_credentials();

    // Mode 2: the phone holds AssumeRole credentials and calls VOD itself.
    let (status, role) = assume_role(&http, &base, &account, Some("900")).await;
    assert_eq!(status, 200, "{role}");
    let sts = sts_creds(&role);
    assert!(sts.access_key_id.starts_with("STS."));
    let exp = sts.expires_at.unwrap();
    let left = exp.duration_since(SystemTime::now()).unwrap();
    assert!(
        left <= Duration::from_secs(900) && left > Duration::from_secs(880),
        "{left:?}"
    );
    assert!(
        role["AssumedRoleUser"]["Arn"]
            .as_str()
            .unwrap()
            .ends_with("/phone-1")
    );

    let mut params = vod("CreateUploadVideo");
    params.extend([
        ("Title", "my video(1) 测试"),
        ("FileName", "/storage/my video(1).MP4"),
        ("FileSize", "12345"),
        ("Description", "desc"),
        ("CateId", "42"),
        ("Tags", "a,b"),
    ]);
    let (status, body) = rpc(&http, &base, "GET", &sts, &params).await;
    assert_eq!(status, 200, "{body}");
    let video_id = body["VideoId"].as_str().unwrap().to_owned();
    assert_eq!(video_id.len(), 32);
    assert!(body["RequestId"].as_str().is_some());
    let (auth, addr) = decode(&body);
    assert_eq!(addr.endpoint, base);
    assert_eq!(addr.bucket, sim.vod_bucket());
    assert!(addr.bucket.starts_with("outin-") && addr.bucket.len() == 38);
    let parts: Vec<&str> = addr.file_name.split('/').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0], "sv");
    assert_eq!(parts[2], format!("{}.mp4", parts[1]));
    assert_eq!(auth.region.as_deref(), Some("cn-shanghai"));
    let raw = raw_auth(&body);
    assert_eq!(raw["Expiration"], "3000");
    assert!(parse_utc_time(raw["ExpireUTCTime"].as_str().unwrap()).is_some());

    let info = |id: String| {
        let http = http.clone();
        let base = base.clone();
        let sts = sts.clone();
        async move {
            let mut p = vod("GetVideoInfo");
            p.push(("VideoId", &id));
            let (status, body) = rpc(&http, &base, "GET", &sts, &p).await;
            assert_eq!(status, 200, "{body}");
            body["Video"].clone()
        }
    };
    let v = info(video_id.clone()).await;
    assert_eq!(v["Status"], "Uploading");
    assert_eq!(v["Title"], "my video(1) 测试");
    assert_eq!(v["CateId"], 42);
    assert_eq!(v["Tags"], "a,b");
    assert_eq!(v["Size"], 12345);

    // Upload with the UploadAuth credentials, V4, to the address.
    let content = data(3000, 7);
    let resp = Oss::new(
        &base,
        &auth.credentials,
        "PUT",
        &addr.bucket,
        &addr.file_name,
    )
    .version(SignatureVersion::V4)
    .h("content-type", "video/mp4")
    .body(content.clone())
    .send(&http)
    .await;
    assert_eq!(resp.status(), 200);
    let v = info(video_id.clone()).await;
    assert_eq!(v["Status"], "Normal");
    assert_eq!(v["Size"], 3000);

    // Refresh: same address, new credentials.
    let mut p = vod("RefreshUploadVideo");
    p.push(("VideoId", &video_id));
    let (status, body) = rpc(&http, &base, "GET", &sts, &p).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["VideoId"], video_id.as_str());
    let (auth2, addr2) = decode(&body);
    assert_eq!(addr2, addr);
    assert_ne!(
        auth2.credentials.access_key_id,
        auth.credentials.access_key_id
    );
    let resp = Oss::new(
        &base,
        &auth2.credentials,
        "HEAD",
        &addr.bucket,
        &addr.file_name,
    )
    .send(&http)
    .await;
    assert_eq!(resp.status(), 200);

    let mut p = vod("RefreshUploadVideo");
    p.push(("VideoId", "00000000000000000000000000000000"));
    let (status, body) = rpc(&http, &base, "GET", &sts, &p).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (404, Some("InvalidVideo.NotFound"))
    );
    assert_eq!(body["HostId"], "vod.cn-shanghai.aliyuncs.com");
    assert!(body["RequestId"].as_str().is_some());
    assert!(body["Message"].as_str().is_some());

    let mut p = vod("CreateUploadVideo");
    p.extend([("Title", "t"), ("FileName", "notes.txt")]);
    let (status, body) = rpc(&http, &base, "GET", &account, &p).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("InvalidFileName.Extension"))
    );
    let mut p = vod("CreateUploadVideo");
    p.push(("FileName", "a.mp4"));
    let (status, body) = rpc(&http, &base, "GET", &account, &p).await;
    assert_eq!((status, body["Code"].as_str()), (400, Some("MissingTitle")));

    let stats = sim.stats();
    assert_eq!(stats.videos, 1);
    assert!(stats.sts_tokens_issued >= 3);
}

#[tokio::test]
async fn create_upload_image() {
    let sim = start().await;
    let http = http();
    let base = sim.endpoint().to_owned();
    let account = sim.account_credentials();
    let mut p = vod("CreateUploadImage");
    p.extend([
        ("ImageType", "default"),
        ("ImageExt", "jpg"),
        ("Title", "pic"),
    ]);
    let (status, body) = rpc(&http, &base, "POST", &account, &p).await;
    assert_eq!(status, 200, "{body}");
    let (auth, addr) = decode(&body);
    assert!(addr.file_name.starts_with("image/default/") && addr.file_name.ends_with(".jpg"));
    let url = body["ImageURL"].as_str().unwrap();
    assert_eq!(url, format!("{base}/{}/{}", addr.bucket, addr.file_name));
    assert_eq!(body["ImageId"].as_str().unwrap().len(), 32);
    let content = data(777, 3);
    let resp = Oss::new(
        &base,
        &auth.credentials,
        "PUT",
        &addr.bucket,
        &addr.file_name,
    )
    .h("content-type", "image/jpeg")
    .body(content.clone())
    .send(&http)
    .await;
    assert_eq!(resp.status(), 200);
    // The ImageURL serves the image.
    let resp = http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type").as_deref(), Some("image/jpeg"));
    assert_eq!(resp.bytes().await.unwrap().as_ref(), content.as_slice());

    let mut p = vod("CreateUploadImage");
    p.extend([("ImageType", "default"), ("ImageExt", "bmp")]);
    let (status, body) = rpc(&http, &base, "POST", &account, &p).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("InvalidParameter.ImageExt"))
    );
}

#[tokio::test]
async fn rpc_authentication_errors() {
    let sim = start().await;
    let http = http();
    let base = sim.endpoint().to_owned();
    let account = sim.account_credentials();
    let mut p = vod("CreateUploadVideo");
    p.extend([("Title", "t"), ("FileName", "a.mp4")]);

    let wrong = Credentials::access_key(sim.access_key_id(), "wrong");
    let (status, body) = rpc(&http, &base, "GET", &wrong, &p).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("SignatureDoesNotMatch"))
    );
    assert!(
        body["Message"]
            .as_str()
            .unwrap()
            .contains("GET&%2F&AccessKeyId%3D")
    );

    let unknown = Credentials::access_key("LTAInobody", "x");
    let (status, body) = rpc(&http, &base, "GET", &unknown, &p).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (404, Some("InvalidAccessKeyId.NotFound"))
    );

    // STS: expired, mismatched, and UploadAuth credentials (OSS only).
    let a = sim.issue_sts_credentials(Duration::from_secs(600));
    let b = sim.issue_sts_credentials(Duration::from_secs(600));
    let mixed = Credentials::sts(
        a.access_key_id.clone(),
        a.access_key_secret.expose(),
        b.security_token.as_ref().unwrap().expose(),
        None,
    );
    let (status, body) = rpc(&http, &base, "GET", &mixed, &p).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("InvalidSecurityToken.MismatchWithAccessKey"))
    );
    let (status, body) = rpc(&http, &base, "GET", &account, &p).await;
    assert_eq!(status, 200);
    let (upload_auth, _) = decode(&body);
    let (status, body) = rpc(&http, &base, "GET", &upload_auth.credentials, &p).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (403, Some("Forbidden.RAM"))
    );
    assert_eq!(sim.expire_tokens(), 3);
    let (status, body) = rpc(&http, &base, "GET", &a, &p).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("InvalidSecurityToken.Expired"))
    );
    // The account key is unaffected.
    let (status, _) = rpc(&http, &base, "GET", &account, &p).await;
    assert_eq!(status, 200);

    // Replayed nonce, stale timestamp, unknown action, wrong version.
    let params: BTreeMap<String, String> = p
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let query = signed_query("GET", &params, &account, SystemTime::now(), "nonce-1");
    let first = http.get(format!("{base}/?{query}")).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let again = json(http.get(format!("{base}/?{query}")).send().await.unwrap()).await;
    assert_eq!(again["Code"], "SignatureNonceUsed");
    let old = SystemTime::now() - Duration::from_secs(20 * 60);
    let query = signed_query("GET", &params, &account, old, "nonce-2");
    let stale = json(http.get(format!("{base}/?{query}")).send().await.unwrap()).await;
    assert_eq!(stale["Code"], "InvalidTimeStamp.Expired");
    let (status, body) = rpc(&http, &base, "GET", &account, &vod("DeleteEverything")).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (404, Some("InvalidAction.NotFound"))
    );
    let (_, body) = rpc(
        &http,
        &base,
        "GET",
        &account,
        &[("Action", "CreateUploadVideo"), ("Version", "2014-01-01")],
    )
    .await;
    assert_eq!(body["Code"], "InvalidVersion");

    // AssumeRole parameter checks.
    let (status, body) = assume_role(&http, &base, &account, Some("60")).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("InvalidParameter.DurationSeconds"))
    );
    let (status, body) = rpc(
        &http,
        &base,
        "POST",
        &account,
        &[("Action", "AssumeRole"), ("Version", "2015-04-01")],
    )
    .await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("MissingRoleArn"))
    );
    assert_eq!(body["HostId"], "sts.aliyuncs.com");
}

/// What aliyun-python-sdk-core does: POST, common parameters in the query, others in a form
/// body, `SignatureType=` empty, XML when Format is not JSON.
#[tokio::test]
async fn post_with_form_body_and_xml_format() {
    let sim = start().await;
    let http = http();
    let base = sim.endpoint().to_owned();
    let mut query: BTreeMap<String, String> = [
        ("Action", "CreateUploadVideo"),
        ("Version", "2017-03-21"),
        ("Format", "XML"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureType", ""),
        ("SignatureVersion", "1.0"),
        ("RegionId", "cn-shanghai"),
        ("AccessKeyId", sim.access_key_id()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    query.insert("SignatureNonce".into(), uuid_like());
    query.insert("Timestamp".into(), format_utc_time(SystemTime::now()));
    let form: BTreeMap<String, String> = [("Title", "a b+c&d"), ("FileName", "x y.mov")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut all = query.clone();
    all.extend(form.clone());
    let signature = rpc_signature(sim.access_key_secret(), &rpc_string_to_sign("POST", &all));
    query.insert("Signature".into(), signature);
    let enc = |m: &BTreeMap<String, String>| {
        m.iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    };
    let resp = http
        .post(format!("{base}/?{}", enc(&query)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(enc(&form).replace("%20", "+"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        header(&resp, "content-type")
            .unwrap()
            .starts_with("text/xml")
    );
    let body = resp.text().await.unwrap();
    assert!(body.contains("<CreateUploadVideoResponse>"), "{body}");
    let id = xml_field(&body, "VideoId").unwrap();
    // The title arrived decoded (`+` in a form body is a space).
    let mut p = vod("GetVideoInfo");
    p.push(("VideoId", &id));
    let (_, info) = rpc(&http, &base, "GET", &sim.account_credentials(), &p).await;
    assert_eq!(info["Video"]["Title"], "a b+c&d");
}

/// A device reaches the simulator through the address given with `advertise_ip`, so that
/// address (not the listen address) is in the printed endpoints and in every UploadAddress.
#[tokio::test]
async fn the_advertised_ip_is_what_clients_are_sent_to() {
    // All of 127/8 is loopback on Linux: 127.0.0.2 stands in for a LAN address.
    let sim = start_with(SimConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        advertise_ip: Some("127.0.0.2".parse().unwrap()),
        ..SimConfig::default()
    })
    .await;
    let base = format!("http://127.0.0.2:{}", sim.addr().port());
    assert_eq!(sim.info().oss_endpoint, base);
    assert_eq!(sim.info().vod_endpoint, base);
    assert_eq!(sim.info().sts_endpoint, base);

    let http = http();
    let mut params = vod("CreateUploadVideo");
    params.extend([("Title", "t"), ("FileName", "a.mp4")]);
    let (status, body) = rpc(&http, &base, "GET", &sim.account_credentials(), &params).await;
    assert_eq!(status, 200, "{body}");
    let (auth, addr) = decode(&body);
    assert_eq!(addr.endpoint, base);
    let resp = Oss::new(
        &addr.endpoint,
        &auth.credentials,
        "PUT",
        &addr.bucket,
        &addr.file_name,
    )
    .body("through the advertised address")
    .send(&http)
    .await;
    assert_eq!(resp.status(), 200);
}
