"""The simulator must check what OSS checks: a request signed by oss2 and then altered in a
signed part is refused, and an alteration in an unsigned part is accepted.

Requests are signed by oss2's own signer (`auth._sign_request`, exactly what Bucket uses), then
sent with `requests` so one thing can be changed in between.
"""

import oss2
import pytest
import requests

import sdk


def sign(bucket, method, key, params=None, headers=None, data=b""):
    """Sign like oss2.Bucket does; returns a mutable dict describing the request."""
    req = oss2.http.Request(
        method,
        bucket._make_url(bucket.bucket_name, key),
        data=data,
        params=dict(params or {}),
        headers=headers or {},
        region=bucket.region,
        product=bucket.product,
    )
    bucket.auth._sign_request(req, bucket.bucket_name, key)
    return {
        "method": method,
        "url": req.url,
        "params": dict(req.params),
        "headers": {k: v for k, v in req.headers.items() if v is not None},
        "data": data,
    }


def send(r):
    return requests.request(
        r["method"], r["url"], params=r["params"], headers=r["headers"], data=r["data"], timeout=30
    )


def error_code(resp):
    import xml.etree.ElementTree as ET

    try:
        return ET.fromstring(resp.content).findtext("Code")
    except ET.ParseError:
        return None


@pytest.fixture(params=["v1", "v4"])
def target(request, info, upload_target):
    _, address, auth = upload_target()
    bucket = sdk.bucket_for(address, auth, request.param, region=info["region"])
    return request.param, bucket, address["FileName"]


def test_unaltered_request_is_accepted(target):
    _, bucket, key = target
    r = sign(bucket, "PUT", key, headers={"Content-Type": "video/mp4"}, data=b"ok")
    resp = send(r)
    assert resp.status_code == 200, resp.text
    assert resp.headers.get("x-oss-request-id")


def test_other_key_is_refused(target):
    _, bucket, key = target
    r = sign(bucket, "PUT", key, headers={"Content-Type": "video/mp4"}, data=b"x")
    r["url"] = bucket._make_url(bucket.bucket_name, key + ".other")
    resp = send(r)
    assert (resp.status_code, error_code(resp)) == (403, "SignatureDoesNotMatch"), resp.text


def test_changed_content_type_is_refused(target):
    _, bucket, key = target
    r = sign(bucket, "PUT", key, headers={"Content-Type": "video/mp4"}, data=b"x")
    r["headers"]["Content-Type"] = "application/octet-stream"
    resp = send(r)
    assert (resp.status_code, error_code(resp)) == (403, "SignatureDoesNotMatch"), resp.text


def test_changed_oss_header_is_refused(target):
    _, bucket, key = target
    r = sign(bucket, "PUT", key, headers={"Content-Type": "video/mp4", "x-oss-meta-a": "1"}, data=b"x")
    r["headers"]["x-oss-meta-a"] = "2"
    resp = send(r)
    assert (resp.status_code, error_code(resp)) == (403, "SignatureDoesNotMatch"), resp.text


def test_changed_part_number_is_refused(target):
    _, bucket, key = target
    upload_id = bucket.init_multipart_upload(key).upload_id
    r = sign(bucket, "PUT", key, params={"partNumber": "1", "uploadId": upload_id}, data=b"p")
    r["params"]["partNumber"] = "2"
    resp = send(r)
    assert (resp.status_code, error_code(resp)) == (403, "SignatureDoesNotMatch"), resp.text
    bucket.abort_multipart_upload(key, upload_id)


def test_extra_query_parameter(target):
    """V1 signs only known sub-resources, so an unknown parameter does not matter; V4 signs every
    query parameter, so it does."""
    sig, bucket, key = target
    r = sign(bucket, "PUT", key, headers={"Content-Type": "video/mp4"}, data=b"x")
    r["params"]["unsigned-extra"] = "1"
    resp = send(r)
    if sig == "v1":
        assert resp.status_code == 200, resp.text
    else:
        assert (resp.status_code, error_code(resp)) == (403, "SignatureDoesNotMatch"), resp.text


def test_changed_body_is_accepted(target):
    # Neither V1 (without Content-MD5) nor V4 (UNSIGNED-PAYLOAD) signs the body.
    _, bucket, key = target
    r = sign(bucket, "PUT", key, headers={"Content-Type": "video/mp4"}, data=b"signed")
    r["data"] = b"sent instead"
    r["headers"]["Content-Length"] = str(len(r["data"]))
    assert send(r).status_code == 200
    assert bucket.get_object(key).read() == b"sent instead"


def test_wrong_content_md5_is_invalid_digest(target):
    import base64
    import hashlib

    _, bucket, key = target
    md5 = base64.b64encode(hashlib.md5(b"expected").digest()).decode()
    r = sign(bucket, "PUT", key, headers={"Content-Type": "video/mp4", "Content-MD5": md5}, data=b"different")
    resp = send(r)
    assert (resp.status_code, error_code(resp)) == (400, "InvalidDigest"), resp.text


def test_v4_changed_date_is_refused(info, upload_target):
    _, address, auth = upload_target()
    bucket = sdk.bucket_for(address, auth, "v4", region=info["region"])
    key = address["FileName"]
    r = sign(bucket, "PUT", key, headers={"Content-Type": "video/mp4"}, data=b"x")
    stamp = r["headers"]["x-oss-date"]  # yyyymmddThhmmssZ
    seconds = int(stamp[13:15])
    r["headers"]["x-oss-date"] = stamp[:13] + f"{(seconds + 1) % 60:02d}" + "Z"
    resp = send(r)
    assert (resp.status_code, error_code(resp)) == (403, "SignatureDoesNotMatch"), resp.text


def test_token_of_another_session_is_refused(target, upload_target):
    _, bucket, key = target
    _, _, other_auth = upload_target()
    r = sign(bucket, "PUT", key, headers={"Content-Type": "video/mp4"}, data=b"x")
    r["headers"]["x-oss-security-token"] = other_auth["SecurityToken"]
    resp = send(r)
    assert resp.status_code == 403, resp.text
    assert error_code(resp) in ("InvalidSecurityToken", "SignatureDoesNotMatch", "InvalidAccessKeyId")


@pytest.mark.parametrize("sig", ["v1", "v4"])
def test_head_missing_object(info, sig):
    # With the account key: an UploadAuth token only reaches its own object (AccessDenied
    # elsewhere), which is not what this checks.
    auth = oss2.Auth if sig == "v1" else oss2.AuthV4
    bucket = oss2.Bucket(
        auth(info["access_key_id"], info["access_key_secret"]), info["oss_endpoint"],
        "conformance-bucket", region=info["region"],
    )
    bucket.put_object("present.bin", b"x")
    with pytest.raises(oss2.exceptions.NotFound) as ei:
        bucket.head_object("missing.bin")
    assert ei.value.status == 404
