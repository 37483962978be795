//! OSS behaviour over real HTTP: multipart semantics, reads, CRC headers and errors.

mod common;

use common::*;
use vod_upload::protocol::Credentials;
use vod_upload::protocol::SignatureVersion;
use vod_upload::protocol::crc64;

const KIB: usize = 1024;

struct Ctx {
    http: reqwest::Client,
    base: String,
    creds: Credentials,
    bucket: &'static str,
    key: String,
}

impl Ctx {
    fn req<'a>(&'a self, method: &'a str) -> Oss<'a> {
        Oss::new(&self.base, &self.creds, method, self.bucket, &self.key)
    }

    async fn initiate(&self) -> String {
        let resp = self
            .req("POST")
            .q("uploads", None)
            .h("content-type", "video/mp4")
            .send(&self.http)
            .await;
        assert_eq!(resp.status(), 200);
        let body = resp.text().await.unwrap();
        assert_eq!(xml_field(&body, "Key").as_deref(), Some(self.key.as_str()));
        xml_field(&body, "UploadId").expect("UploadId")
    }

    async fn upload_part(&self, id: &str, n: u32, bytes: &[u8]) -> reqwest::Response {
        self.req("PUT")
            .q("partNumber", Some(&n.to_string()))
            .q("uploadId", Some(id))
            .h("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send(&self.http)
            .await
    }

    async fn part_etag(&self, id: &str, n: u32, bytes: &[u8]) -> String {
        let resp = self.upload_part(id, n, bytes).await;
        assert_eq!(resp.status(), 200);
        header(&resp, "etag").unwrap()
    }

    async fn complete(&self, id: &str, parts: &[(u32, &str)]) -> reqwest::Response {
        self.req("POST")
            .q("uploadId", Some(id))
            .h("content-type", "application/xml")
            .body(complete_xml(parts))
            .send(&self.http)
            .await
    }

    async fn list_parts(
        &self,
        id: &str,
        max: Option<u32>,
        marker: Option<u32>,
    ) -> reqwest::Response {
        let mut r = self.req("GET").q("uploadId", Some(id));
        if let Some(m) = max {
            r = r.q("max-parts", Some(&m.to_string()));
        }
        if let Some(m) = marker {
            r = r.q("part-number-marker", Some(&m.to_string()));
        }
        r.send(&self.http).await
    }
}

async fn ctx(sim: &vod_sim::Simulator, bucket: &'static str, key: &str) -> Ctx {
    Ctx {
        http: http(),
        base: sim.endpoint().to_owned(),
        creds: sim.account_credentials(),
        bucket,
        key: key.to_owned(),
    }
}

fn complete_xml(parts: &[(u32, &str)]) -> String {
    let mut x = String::from("<CompleteMultipartUpload>");
    for (n, etag) in parts {
        x.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
        ));
    }
    x.push_str("</CompleteMultipartUpload>");
    x
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

#[tokio::test]
async fn multipart_round_trip_with_range_head_and_crc() {
    let sim = start().await;
    for version in [SignatureVersion::V1, SignatureVersion::V4] {
        let c = ctx(
            &sim,
            "outin-test",
            &format!("sv/a b+c/测试-{version:?}.mp4"),
        )
        .await;
        let resp = c
            .req("POST")
            .version(version)
            .q("uploads", None)
            .h("content-type", "video/mp4")
            .send(&c.http)
            .await;
        assert_eq!(resp.status(), 200);
        let id = xml_field(&resp.text().await.unwrap(), "UploadId").unwrap();
        let parts = [
            data(200 * KIB, 1),
            data(150 * KIB, 2),
            data(10 * KIB + 7, 3),
        ];
        let mut etags = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let resp = c
                .req("PUT")
                .version(version)
                .q("partNumber", Some(&(i + 1).to_string()))
                .q("uploadId", Some(&id))
                .h("content-type", "application/octet-stream")
                .body(p.clone())
                .send(&c.http)
                .await;
            assert_eq!(resp.status(), 200);
            let etag = header(&resp, "etag").unwrap();
            assert_eq!(etag, format!("\"{}\"", md5_hex(p)));
            assert_eq!(
                header(&resp, "x-oss-hash-crc64ecma").unwrap(),
                crc(p).to_string()
            );
            etags.push(etag);
        }
        let list: Vec<(u32, &str)> = etags
            .iter()
            .enumerate()
            .map(|(i, e)| (i as u32 + 1, e.as_str()))
            .collect();
        let resp = c
            .req("POST")
            .version(version)
            .q("uploadId", Some(&id))
            .h("content-type", "application/xml")
            .body(complete_xml(&list))
            .send(&c.http)
            .await;
        assert_eq!(resp.status(), 200);
        let whole: Vec<u8> = parts.concat();
        let combined = parts
            .iter()
            .fold(0, |acc, p| crc64::combine(acc, crc(p), p.len() as u64));
        assert_eq!(combined, crc(&whole));
        assert_eq!(
            header(&resp, "x-oss-hash-crc64ecma").unwrap(),
            combined.to_string()
        );
        let body = resp.text().await.unwrap();
        let etag = xml_field(&body, "ETag").unwrap();
        assert!(etag.starts_with('"') && etag.ends_with("-3\""), "{etag}");
        assert_eq!(xml_field(&body, "Key").as_deref(), Some(c.key.as_str()));

        // Full GET.
        let resp = c.req("GET").version(version).send(&c.http).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "content-type").as_deref(), Some("video/mp4"));
        assert_eq!(header(&resp, "etag").as_deref(), Some(etag.as_str()));
        assert_eq!(
            header(&resp, "x-oss-object-type").as_deref(),
            Some("Multipart")
        );
        assert_eq!(
            header(&resp, "x-oss-hash-crc64ecma").unwrap(),
            crc(&whole).to_string()
        );
        assert_eq!(resp.bytes().await.unwrap().as_ref(), whole.as_slice());

        // A range across the part 1/2 boundary; the CRC header still covers the whole object.
        let start = 200 * KIB - 10;
        let resp = c
            .req("GET")
            .version(version)
            .h("range", format!("bytes={start}-{}", start + 99))
            .send(&c.http)
            .await;
        assert_eq!(resp.status(), 206);
        assert_eq!(
            header(&resp, "content-range").unwrap(),
            format!("bytes {start}-{}/{}", start + 99, whole.len())
        );
        assert_eq!(
            header(&resp, "x-oss-hash-crc64ecma").unwrap(),
            crc(&whole).to_string()
        );
        assert_eq!(
            resp.bytes().await.unwrap().as_ref(),
            &whole[start..start + 100]
        );

        let resp = c.req("GET").h("range", "bytes=-5").send(&c.http).await;
        assert_eq!(resp.status(), 206);
        assert_eq!(
            resp.bytes().await.unwrap().as_ref(),
            &whole[whole.len() - 5..]
        );
        let resp = c
            .req("GET")
            .h("range", format!("bytes={}-", whole.len()))
            .send(&c.http)
            .await;
        expect_oss_error(resp, 416, "InvalidRange").await;

        // HEAD.
        let resp = c.req("HEAD").version(version).send(&c.http).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            header(&resp, "content-length").unwrap(),
            whole.len().to_string()
        );
        assert_eq!(
            header(&resp, "x-oss-hash-crc64ecma").unwrap(),
            crc(&whole).to_string()
        );
        assert_eq!(
            sim.object_info(c.bucket, &c.key).unwrap().crc64,
            crc(&whole)
        );
    }
    let stats = sim.stats();
    assert_eq!(stats.parts_uploaded, 6);
    assert_eq!(stats.multipart_uploads_completed, 2);
    assert_eq!(stats.objects, 2);
    assert_eq!(stats.multipart_uploads_in_progress, 0);
    assert!(stats.bytes_received >= 2 * (360 * KIB as u64));
    // Part bodies only: the CompleteMultipartUpload documents are not object data.
    assert_eq!(
        stats.object_bytes_received,
        2 * (360 * KIB as u64 + 7),
        "object bytes"
    );
}

#[tokio::test]
async fn part_replacement_and_complete_errors() {
    let sim = start().await;
    let c = ctx(&sim, "bk-errors", "v/x.mp4").await;
    let id = c.initiate().await;
    let p1 = data(120 * KIB, 10);
    let p1b = data(130 * KIB, 11);
    let small = data(50 * KIB, 12);
    let e1 = c.part_etag(&id, 1, &p1).await;
    // Re-uploading part 1 replaces it.
    let e1b = c.part_etag(&id, 1, &p1b).await;
    let e2 = c.part_etag(&id, 2, &small).await;
    let e3 = c.part_etag(&id, 3, &small).await;
    assert_ne!(e1, e1b);

    // The old ETag of part 1 no longer matches.
    let body = expect_oss_error(
        c.complete(&id, &[(1, &e1), (2, &e2)]).await,
        400,
        "InvalidPart",
    )
    .await;
    assert!(body.contains(&format!("<UploadId>{id}</UploadId>")));
    // A part that was never uploaded.
    expect_oss_error(
        c.complete(&id, &[(1, &e1b), (4, &e2)]).await,
        400,
        "InvalidPart",
    )
    .await;
    expect_oss_error(
        c.complete(&id, &[(2, &e2), (1, &e1b)]).await,
        400,
        "InvalidPartOrder",
    )
    .await;
    // Part 2 is below 100 KiB and not the last one.
    let body = expect_oss_error(
        c.complete(&id, &[(1, &e1b), (2, &e2), (3, &e3)]).await,
        400,
        "EntityTooSmall",
    )
    .await;
    assert!(body.contains("<EC>0042-00000213</EC>"), "{body}");
    expect_oss_error(
        c.req("POST")
            .q("uploadId", Some(&id))
            .body("<CompleteMultipartUpload>")
            .send(&c.http)
            .await,
        400,
        "MalformedXML",
    )
    .await;

    // Gaps are allowed and the last part may be small.
    let resp = c.complete(&id, &[(1, &e1b), (3, &e3)]).await;
    assert_eq!(resp.status(), 200);
    let resp = c.req("GET").send(&c.http).await;
    let got = resp.bytes().await.unwrap();
    assert_eq!(got.as_ref(), [p1b.as_slice(), small.as_slice()].concat());

    // The upload is gone now.
    expect_oss_error(c.complete(&id, &[(1, &e1b)]).await, 404, "NoSuchUpload").await;
    expect_oss_error(c.upload_part(&id, 4, &small).await, 404, "NoSuchUpload").await;
    expect_oss_error(c.list_parts(&id, None, None).await, 404, "NoSuchUpload").await;
    expect_oss_error(
        c.req("DELETE").q("uploadId", Some(&id)).send(&c.http).await,
        404,
        "NoSuchUpload",
    )
    .await;
    expect_oss_error(
        c.upload_part("0123456789ABCDEF0123456789ABCDEF", 1, &small)
            .await,
        404,
        "NoSuchUpload",
    )
    .await;
    let resp = c.upload_part(&c.initiate().await, 10_001, &small).await;
    expect_oss_error(resp, 400, "InvalidArgument").await;

    // Abort, then everything about the upload is NoSuchUpload.
    let id = c.initiate().await;
    c.part_etag(&id, 1, &small).await;
    assert_eq!(sim.stats().multipart_uploads_in_progress, 2);
    let resp = c.req("DELETE").q("uploadId", Some(&id)).send(&c.http).await;
    assert_eq!(resp.status(), 204);
    expect_oss_error(c.list_parts(&id, None, None).await, 404, "NoSuchUpload").await;
}

#[tokio::test]
async fn complete_all_header() {
    let sim = start().await;
    let c = ctx(&sim, "bk-all", "all.bin").await;
    let id = c.initiate().await;
    let p1 = data(110 * KIB, 20);
    let p2 = data(3, 21);
    c.part_etag(&id, 2, &p2).await;
    c.part_etag(&id, 1, &p1).await;
    let resp = c
        .req("POST")
        .q("uploadId", Some(&id))
        .h("x-oss-complete-all", "yes")
        .body("<CompleteMultipartUpload/>")
        .send(&c.http)
        .await;
    let body = expect_oss_error(resp, 400, "InvalidArgument").await;
    assert!(body.contains("0042-00000216"));
    let resp = c
        .req("POST")
        .q("uploadId", Some(&id))
        .h("x-oss-complete-all", "yes")
        .send(&c.http)
        .await;
    assert_eq!(resp.status(), 200);
    let whole = [p1, p2].concat();
    assert_eq!(
        header(&resp, "x-oss-hash-crc64ecma").unwrap(),
        crc(&whole).to_string()
    );
    let got = c.req("GET").send(&c.http).await.bytes().await.unwrap();
    assert_eq!(got.as_ref(), whole.as_slice());
}

#[tokio::test]
async fn list_parts_pages() {
    let sim = start().await;
    let c = ctx(&sim, "bk-list", "list/me.mp4").await;
    let id = c.initiate().await;
    let chunk = data(1000, 30);
    for n in [1u32, 2, 3, 5, 8] {
        c.part_etag(&id, n, &chunk).await;
    }
    let mut seen = Vec::new();
    let mut marker = None;
    loop {
        let resp = c.list_parts(&id, Some(2), marker).await;
        assert_eq!(resp.status(), 200);
        let body = resp.text().await.unwrap();
        let doc: vod_upload::protocol::xml::ListPartsResult =
            vod_upload::protocol::xml::from_xml(body.as_bytes()).unwrap();
        assert_eq!(doc.upload_id, id);
        assert_eq!(doc.max_parts, Some(2));
        assert_eq!(doc.part_number_marker, Some(marker.unwrap_or(0)));
        for p in &doc.parts {
            assert_eq!(p.size, 1000);
            assert_eq!(p.etag, format!("\"{}\"", md5_hex(&chunk)));
            assert_eq!(p.hash_crc64ecma, Some(crc(&chunk)));
            assert!(p.last_modified.as_deref().unwrap().ends_with(".000Z"));
            seen.push(p.part_number);
        }
        assert_eq!(
            doc.next_part_number_marker,
            doc.parts.last().map(|p| p.part_number)
        );
        if !doc.is_truncated {
            break;
        }
        marker = doc.next_part_number_marker;
    }
    assert_eq!(seen, vec![1, 2, 3, 5, 8]);
    let resp = c.list_parts(&id, Some(1001), None).await;
    expect_oss_error(resp, 400, "InvalidArgument").await;
}

#[tokio::test]
async fn put_object_md5_head_errors_and_content_type() {
    let sim = start().await;
    let c = ctx(&sim, "bk-put", "docs/readme.txt").await;
    let body = data(5000, 40);
    let resp = c
        .req("PUT")
        .h("content-md5", "AAAAAAAAAAAAAAAAAAAAAA==")
        .body(body.clone())
        .send(&c.http)
        .await;
    let err = expect_oss_error(resp, 400, "InvalidDigest").await;
    assert!(err.contains("<HostId>"));
    assert_eq!(sim.stats().objects, 0);

    use base64::Engine;
    let md5: [u8; 16] = {
        use md5::Digest;
        md5::Md5::digest(&body).into()
    };
    let resp = c
        .req("PUT")
        .h(
            "content-md5",
            base64::engine::general_purpose::STANDARD.encode(md5),
        )
        .body(body.clone())
        .send(&c.http)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "etag").unwrap(),
        format!("\"{}\"", md5_hex(&body))
    );
    assert_eq!(
        header(&resp, "x-oss-hash-crc64ecma").unwrap(),
        crc(&body).to_string()
    );
    // No Content-Type was sent: it is guessed from the key, like OSS does.
    let info = sim.object_info(c.bucket, &c.key).unwrap();
    assert_eq!(info.content_type, "text/plain");
    assert_eq!(info.object_type, "Normal");
    let resp = c.req("HEAD").send(&c.http).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "x-oss-object-type").as_deref(),
        Some("Normal")
    );
    assert_eq!(
        header(&resp, "x-oss-hash-crc64ecma").unwrap(),
        crc(&body).to_string()
    );

    // HEAD errors carry the document base64-encoded in x-oss-err, with no body.
    let missing = Oss::new(&c.base, &c.creds, "HEAD", c.bucket, "nope")
        .send(&c.http)
        .await;
    assert_eq!(missing.status(), 404);
    let err = header(&missing, "x-oss-err").unwrap();
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(err)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(xml_field(&xml, "Code").as_deref(), Some("NoSuchKey"));
    assert!(missing.bytes().await.unwrap().is_empty());
    let resp = Oss::new(&c.base, &c.creds, "GET", "no-such-bucket", "k")
        .send(&c.http)
        .await;
    expect_oss_error(resp, 404, "NoSuchBucket").await;

    // An empty object.
    let resp = Oss::new(&c.base, &c.creds, "PUT", c.bucket, "empty")
        .send(&c.http)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-oss-hash-crc64ecma").as_deref(), Some("0"));
    let resp = Oss::new(&c.base, &c.creds, "GET", c.bucket, "empty")
        .send(&c.http)
        .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.unwrap().is_empty());

    // Overwrite protection.
    let resp = c
        .req("PUT")
        .h("x-oss-forbid-overwrite", "true")
        .body("x")
        .send(&c.http)
        .await;
    expect_oss_error(resp, 409, "FileAlreadyExists").await;
    // Anonymous reads work, anonymous writes do not.
    let url = format!("{}/{}/{}", c.base, c.bucket, c.key);
    let resp = c.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), body.as_slice());
    let resp = c.http.put(&url).body("x").send().await.unwrap();
    expect_oss_error(resp, 403, "AccessDenied").await;
}
