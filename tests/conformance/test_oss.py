"""oss2 (V1 and V4, STS from a VOD UploadAuth) against vod-sim's OSS.

oss2 2.19.1 facts this relies on: path-style addressing for IP endpoints; V1 signs
`VERB\\nContent-MD5\\nContent-Type\\nDate\\n<x-oss-* headers><resource>` with only known
sub-resources (uploads, uploadId, partNumber, ...) in the resource; V4 sends
`Authorization: OSS4-HMAC-SHA256 Credential=AK/yyyymmdd/region/oss/aliyun_v4_request, Signature=hex`
(comma + space), `x-oss-date`, `x-oss-content-sha256: UNSIGNED-PAYLOAD`, and signs every query
parameter and the content-type/content-md5/x-oss-* headers. With `enable_crc` (default) oss2
compares x-oss-hash-crc64ecma after PutObject, each UploadPart, Complete (combined part CRCs) and
a whole-object download, but silently skips the check when the header is missing, so these
tests assert the header is there.
"""

import hashlib
import time

import oss2
import pytest

import sdk

MiB = 1024 * 1024
PART = 256 * 1024  # above OSS's 100 KiB minimum, small enough to give many parts
SIGS = ["v1", "v4"]


def part_etag(chunk):
    return hashlib.md5(chunk).hexdigest().upper()


def read_back(bucket, key, path, data):
    """Download with oss2's CRC check on and compare bytes; proves the check really ran."""
    assert bucket.enable_crc
    result = bucket.get_object_to_file(key, str(path))
    assert result.server_crc is not None, "GetObject sent no x-oss-hash-crc64ecma"
    assert result.client_crc == result.server_crc == sdk.crc64(data)
    assert path.read_bytes() == data
    return result


@pytest.mark.parametrize("sig", SIGS)
def test_resumable_upload_multipart(sim, upload_target, tmp_path, sig):
    size = 5 * MiB + 12345
    src = tmp_path / "video.mp4"
    data = sdk.make_file(src, size)
    video_id, address, auth = upload_target(size=size)
    bucket = sdk.bucket_for(address, auth, sig, region=sim.info["region"])
    key = address["FileName"]
    before = sim.stats()

    result = oss2.resumable_upload(
        bucket,
        key,
        str(src),
        store=oss2.ResumableStore(root=str(tmp_path), dir="cp"),
        multipart_threshold=PART,
        part_size=PART,
        num_threads=4,
    )
    assert result.status == 200
    assert result.crc == sdk.crc64(data), "Complete must return the whole-object CRC"
    n_parts = -(-size // PART)

    after = sim.stats()
    assert after["parts_uploaded"] - before["parts_uploaded"] == n_parts
    assert after["bytes_received"] - before["bytes_received"] >= size
    assert after["objects"] - before["objects"] == 1

    head = bucket.head_object(key)
    assert head.content_length == size
    # A multipart ETag is not the content MD5: "<hex>-<part count>".
    assert head.etag.endswith(f"-{n_parts}"), head.etag
    assert head.server_crc == sdk.crc64(data)
    assert head.content_type == "video/mp4"
    read_back(bucket, key, tmp_path / "back.bin", data)


@pytest.mark.parametrize("sig", SIGS)
def test_put_object_and_ranged_get(info, upload_target, tmp_path, sig):
    data = bytes(range(256)) * 1000 + b"tail"
    _, address, auth = upload_target(file_name="small.mov")
    bucket = sdk.bucket_for(address, auth, sig, region=info["region"])
    key = address["FileName"]
    put = bucket.put_object(key, data)
    assert put.etag == part_etag(data)
    assert put.crc == sdk.crc64(data)

    ranged = bucket.get_object(key, byte_range=(1000, 1999))
    assert ranged.status == 206
    assert ranged.read() == data[1000:2000]
    # OSS sends the whole object's CRC even for a range.
    assert ranged.server_crc == sdk.crc64(data)
    read_back(bucket, key, tmp_path / "back.bin", data)


@pytest.mark.parametrize("sig", SIGS)
def test_multipart_by_hand_and_list_parts(info, upload_target, sig):
    _, address, auth = upload_target()
    bucket = sdk.bucket_for(address, auth, sig, region=info["region"])
    key = address["FileName"]
    chunks = [bytes([i]) * (100 * 1024 + i) for i in range(1, 6)] + [b"last"]
    upload_id = bucket.init_multipart_upload(key).upload_id
    etags = {}
    for n, chunk in enumerate(chunks, 1):
        r = bucket.upload_part(key, upload_id, n, chunk)
        assert r.etag == part_etag(chunk)
        assert r.crc == sdk.crc64(chunk)
        etags[n] = r.etag
    # Re-uploading a part replaces it.
    chunks[1] = b"\x07" * (100 * 1024 + 7)
    etags[2] = bucket.upload_part(key, upload_id, 2, chunks[1]).etag

    page = bucket.list_parts(key, upload_id, max_parts=4)
    assert page.is_truncated
    assert [p.part_number for p in page.parts] == [1, 2, 3, 4]
    assert page.next_marker == "4"
    rest = bucket.list_parts(key, upload_id, marker=page.next_marker, max_parts=4)
    assert not rest.is_truncated
    listed = page.parts + rest.parts
    assert [(p.part_number, p.etag, p.size) for p in listed] == [
        (n, etags[n], len(c)) for n, c in enumerate(chunks, 1)
    ]
    # oss2's own paging iterator (what resumable_upload uses to resume).
    assert [p.part_number for p in oss2.PartIterator(bucket, key, upload_id, max_parts=2)] == list(
        range(1, len(chunks) + 1)
    )

    done = bucket.complete_multipart_upload(
        key, upload_id, [oss2.models.PartInfo(p.part_number, p.etag) for p in listed]
    )
    assert done.status == 200
    whole = b"".join(chunks)
    assert bucket.head_object(key).server_crc == sdk.crc64(whole)
    assert bucket.get_object(key).read() == whole
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.list_parts(key, upload_id)


def test_multipart_errors(info, upload_target):
    _, address, auth = upload_target()
    bucket = sdk.bucket_for(address, auth)
    key = address["FileName"]
    upload_id = bucket.init_multipart_upload(key).upload_id
    small = bucket.upload_part(key, upload_id, 1, b"x" * 1000)
    big = bucket.upload_part(key, upload_id, 2, b"y" * (100 * 1024))
    last = bucket.upload_part(key, upload_id, 3, b"z")

    def complete(parts):
        with pytest.raises(oss2.exceptions.ServerError) as ei:
            bucket.complete_multipart_upload(key, upload_id, parts)
        return ei.value

    e = complete([oss2.models.PartInfo(1, small.etag), oss2.models.PartInfo(2, big.etag)])
    assert (e.status, e.code) == (400, "EntityTooSmall")
    e = complete([oss2.models.PartInfo(2, big.etag), oss2.models.PartInfo(3, "0" * 32)])
    assert (e.status, e.code) == (400, "InvalidPart")
    # oss2 sorts the list itself, so send the XML by hand to get parts out of order.
    xml = (
        "<CompleteMultipartUpload>"
        f'<Part><PartNumber>3</PartNumber><ETag>"{last.etag}"</ETag></Part>'
        f'<Part><PartNumber>2</PartNumber><ETag>"{big.etag}"</ETag></Part>'
        "</CompleteMultipartUpload>"
    )
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        bucket._Bucket__do_object("POST", key, params={"uploadId": upload_id}, data=xml)
    assert (ei.value.status, ei.value.code) == (400, "InvalidPartOrder")

    bucket.abort_multipart_upload(key, upload_id)
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.upload_part(key, upload_id, 4, b"after abort")


@pytest.mark.parametrize("sig", SIGS)
def test_wrong_secret_is_signature_does_not_match(info, upload_target, sig):
    _, address, auth = upload_target()
    bucket = sdk.bucket_for(address, auth, sig, region=info["region"], secret="wrong-secret")
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as ei:
        bucket.put_object(address["FileName"], b"nope")
    assert ei.value.status == 403
    assert ei.value.request_id


def test_wrong_account_secret_is_signature_does_not_match(info):
    auth = oss2.Auth(info["access_key_id"], "wrong-secret")
    bucket = oss2.Bucket(auth, info["oss_endpoint"], "conformance-bucket")
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch):
        bucket.put_object("k.bin", b"nope")


def test_account_key_v1_and_v4(info, tmp_path):
    # The account key itself may write (buckets exist on first use).
    for sig, auth, extra in (
        ("v1", oss2.Auth(info["access_key_id"], info["access_key_secret"]), {}),
        ("v4", oss2.AuthV4(info["access_key_id"], info["access_key_secret"]), {"region": info["region"]}),
    ):
        bucket = oss2.Bucket(auth, info["oss_endpoint"], "conformance-bucket", **extra)
        data = sig.encode() * 1000
        assert bucket.put_object(f"dir/{sig}.bin", data).crc == sdk.crc64(data)
        read_back(bucket, f"dir/{sig}.bin", tmp_path / f"{sig}.bin", data)


@pytest.mark.parametrize("sig", SIGS)
def test_list_multipart_uploads(info, upload_target, sig):
    """A bucket-level call: allowed to the account key, refused to a VOD UploadAuth (which is
    for one object), paged by key and upload-id markers as oss2 pages it."""
    auth = (
        oss2.Auth(info["access_key_id"], info["access_key_secret"])
        if sig == "v1"
        else oss2.AuthV4(info["access_key_id"], info["access_key_secret"])
    )
    extra = {"region": info["region"]} if sig == "v4" else {}
    bucket = oss2.Bucket(auth, info["oss_endpoint"], f"list-uploads-{sig}", **extra)
    bucket.put_object("seed", b"x")
    ids = [bucket.init_multipart_upload("raw/a.mov").upload_id for _ in range(3)]
    other = bucket.init_multipart_upload("raw/b.mov").upload_id
    bucket.init_multipart_upload("elsewhere.mov")

    page = bucket.list_multipart_uploads(prefix="raw/", max_uploads=2)
    assert page.is_truncated
    assert [u.key for u in page.upload_list] == ["raw/a.mov", "raw/a.mov"]
    rest = bucket.list_multipart_uploads(
        prefix="raw/",
        key_marker=page.next_key_marker,
        upload_id_marker=page.next_upload_id_marker,
        max_uploads=2,
    )
    assert not rest.is_truncated
    listed = page.upload_list + rest.upload_list
    assert [u.upload_id for u in listed] == ids + [other], "by key, then initiation time"
    assert all(abs(u.initiation_date - time.time()) < 600 for u in listed)
    # oss2's own iterator pages the same way.
    assert [u.upload_id for u in oss2.MultipartUploadIterator(bucket, prefix="raw/", max_uploads=1)] == ids + [other]

    bucket.abort_multipart_upload("raw/a.mov", ids[0])
    assert ids[0] not in [u.upload_id for u in oss2.MultipartUploadIterator(bucket, prefix="raw/a.mov")]

    _, address, upload_auth = upload_target()
    vod_bucket = sdk.bucket_for(address, upload_auth, sig, region=info["region"])
    with pytest.raises(oss2.exceptions.AccessDenied):
        vod_bucket.list_multipart_uploads(prefix=address["FileName"])


def test_clock_skew_is_request_time_too_skewed(info, upload_target, monkeypatch):
    _, address, auth = upload_target()
    bucket = sdk.bucket_for(address, auth)
    skewed = oss2.utils.http_date(time.time() - 3600)
    monkeypatch.setattr(oss2.utils, "http_date", lambda timeval=None: skewed)
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        bucket.put_object(address["FileName"], b"late")
    assert (ei.value.status, ei.value.code) == (403, "RequestTimeTooSkewed")


def test_injected_503_then_success(sim, faults, upload_target):
    _, address, auth = upload_target()
    bucket = sdk.bucket_for(address, auth)
    faults([{"op": "PutObject", "action": "status", "status": 503, "count": 1}])
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        bucket.put_object(address["FileName"], b"first try")
    assert ei.value.status == 503
    assert bucket.put_object(address["FileName"], b"second try").status == 200
    assert bucket.get_object(address["FileName"]).read() == b"second try"


class Crash(Exception):
    pass


def test_resumable_upload_resumes_after_crash_and_fault(sim, faults, upload_target, tmp_path):
    """An upload stopped after 4 parts, then a 503 on the next UploadPart; each run of
    resumable_upload resumes via ListParts, and no part is ever accepted twice."""
    size = 3 * MiB
    src = tmp_path / "resume.mp4"
    data = sdk.make_file(src, size, seed=7)
    _, address, auth = upload_target(size=size)
    bucket = sdk.bucket_for(address, auth)
    key = address["FileName"]
    store = oss2.ResumableStore(root=str(tmp_path), dir="cp")
    n_parts = size // PART
    before = sim.stats()

    def run(progress=None):
        return oss2.resumable_upload(
            bucket, key, str(src), store=store, multipart_threshold=PART, part_size=PART,
            num_threads=1, progress_callback=progress,
        )

    def crash_after_4_parts(consumed, total):
        # oss2 reports progress before each part; stop before the 5th starts.
        if consumed >= 4 * PART:
            raise Crash()

    with pytest.raises(Crash):
        run(crash_after_4_parts)
    mid = sim.stats()
    assert mid["parts_uploaded"] - before["parts_uploaded"] == 4
    assert mid["multipart_uploads_in_progress"] - before["multipart_uploads_in_progress"] == 1

    faults([{"op": "UploadPart", "action": "status", "status": 503, "count": 1}])
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        run()
    assert ei.value.status == 503
    assert sim.stats()["parts_uploaded"] == mid["parts_uploaded"]

    result = run()
    assert result.status == 200
    after = sim.stats()
    assert after["parts_uploaded"] - before["parts_uploaded"] == n_parts
    assert after["multipart_uploads_in_progress"] == before["multipart_uploads_in_progress"]
    read_back(bucket, key, tmp_path / "back.bin", data)


@pytest.mark.parametrize("sig", SIGS)
def test_expired_token_on_oss(make_sim, sig):
    s = make_sim()
    info = s.info
    creds = sdk.assume_role(info)["Credentials"]
    client = sdk.sts_client(info, creds)
    created = sdk.create_upload_video(info, client)
    address, auth = sdk.decode_upload(created)
    bucket = sdk.bucket_for(address, auth, sig, region=info["region"])
    key = address["FileName"]
    upload_id = bucket.init_multipart_upload(key).upload_id
    bucket.upload_part(key, upload_id, 1, b"a" * (100 * 1024))

    s.expire_tokens()
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        bucket.upload_part(key, upload_id, 2, b"b")
    assert (ei.value.status, ei.value.code) == (403, "SecurityTokenExpired")

    # What a VOD client does next: RefreshUploadVideo with the account key (the STS token that
    # called CreateUploadVideo is expired too), then carry on with the same upload id.
    refreshed = sdk.refresh_upload_video(info, sdk.account_client(info), created["VideoId"])
    address2, auth2 = sdk.decode_upload(refreshed)
    assert address2["FileName"] == key
    bucket2 = sdk.bucket_for(address2, auth2, sig, region=info["region"])
    bucket2.upload_part(key, upload_id, 2, b"b")
    parts = [oss2.models.PartInfo(p.part_number, p.etag) for p in oss2.PartIterator(bucket2, key, upload_id)]
    bucket2.complete_multipart_upload(key, upload_id, parts)
    assert bucket2.get_object(key).read() == b"a" * (100 * 1024) + b"b"


def test_token_ttl(make_sim):
    """--token-ttl bounds the UploadAuth's life: after it, OSS answers SecurityTokenExpired."""
    s = make_sim("--token-ttl", "2")
    created = sdk.create_upload_video(s.info, sdk.account_client(s.info))
    address, auth = sdk.decode_upload(created)
    if "Expiration" in auth:
        assert int(auth["Expiration"]) <= 2
    bucket = sdk.bucket_for(address, auth)
    deadline = time.monotonic() + 15
    while True:  # wait on the condition, bounded
        try:
            bucket.put_object(address["FileName"], b"x")
        except oss2.exceptions.ServerError as e:
            assert (e.status, e.code) == (403, "SecurityTokenExpired")
            break
        assert time.monotonic() < deadline, "token still accepted 15 s after a 2 s ttl"
        time.sleep(0.2)
