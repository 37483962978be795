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


# ---- aliyun-oss-go-sdk V4 (the benchmark's Go peer) ----------------------------------------
# aliyun-oss-go-sdk v3.0.2 with oss.AuthVersion(oss.AuthV4) sends NO x-oss-date header. It sends
# `Date: <IMF-fixdate>` and puts that value verbatim on the timestamp line of the string to sign
# (oss/auth.go getSignedStrV4: signDate = Date header unless x-oss-date is set), takes the scope
# day from it, and separates Credential and Signature with "," and no space.


def go_sdk_v4_authorization(method, bucket, key, query, headers, ak, secret, region):
    """Authorization exactly as aliyun-oss-go-sdk v3.0.2 computes it without x-oss-date."""
    import datetime
    import hashlib
    import hmac
    from urllib.parse import quote

    date = headers["Date"]
    day = datetime.datetime.strptime(date, "%a, %d %b %Y %H:%M:%S GMT").strftime("%Y%m%d")
    signed = sorted(
        (k.lower(), v.strip())
        for k, v in headers.items()
        if k.lower() in ("content-type", "content-md5") or k.lower().startswith("x-oss-")
    )
    canonical = "\n".join([
        method,
        "/" + bucket + "/" + quote(key, safe="/~"),
        query,
        "".join(f"{k}:{v}\n" for k, v in signed),
        "",
        headers.get("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
    ])
    scope = f"{day}/{region}/oss/aliyun_v4_request"
    string_to_sign = f"OSS4-HMAC-SHA256\n{date}\n{scope}\n" + hashlib.sha256(canonical.encode()).hexdigest()
    k = ("aliyun_v4" + secret).encode()
    for part in (day, region, "oss", "aliyun_v4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return f"OSS4-HMAC-SHA256 Credential={ak}/{scope},Signature={sig}"


def test_go_sdk_v4_reconstruction_matches_a_recorded_request():
    # Captured from aliyun-oss-go-sdk v3.0.2 (InitiateMultipartUpload, AuthV4, STS) by a
    # recording server: the reconstruction above reproduces its signature exactly.
    headers = {
        "Content-Type": "video/mp4",
        "Date": "Sun, 22 Nov 2026 04:43:55 GMT",
        "X-Oss-Content-Sha256": "UNSIGNED-PAYLOAD",
        "X-Oss-Security-Token": "tok",
    }
    assert go_sdk_v4_authorization(
        "POST", "outin-abc", "sv/a/a.mp4", "uploads", headers, "STS.ak", "sk", "cn-shanghai"
    ) == (
        "OSS4-HMAC-SHA256 Credential=STS.ak/20261122/cn-shanghai/oss/aliyun_v4_request,"
        "Signature=f44fafcef2800d6f7adea0139a1ff3e475f33513ce824588f842b9c5376af974"
    )


def test_v4_signed_with_date_header_as_go_sdk_sends(info, upload_target):
    """Real OSS accepts the Go SDK's V4 requests (V4 support is advertised from Go SDK 3.0.2), so
    a V4 request whose signing time is the Date header, with no x-oss-date, must be accepted."""
    import email.utils

    _, address, auth = upload_target()
    key = address["FileName"]
    headers = {
        "Content-Type": "video/mp4",
        "Date": email.utils.formatdate(usegmt=True),
        "x-oss-content-sha256": "UNSIGNED-PAYLOAD",
        "x-oss-security-token": auth["SecurityToken"],
    }
    headers["Authorization"] = go_sdk_v4_authorization(
        "PUT", address["Bucket"], key, "", headers,
        auth["AccessKeyId"], auth["AccessKeySecret"], info["region"],
    )
    resp = requests.put(
        f"{sdk.oss_endpoint(address)}/{address['Bucket']}/{key}", data=b"go", headers=headers, timeout=30
    )
    assert resp.status_code == 200, resp.text
