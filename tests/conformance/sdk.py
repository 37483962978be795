"""Thin helpers around Alibaba's official SDKs, pointed at a vod-sim."""

import base64
import json
import random
from urllib.parse import urlparse

import crcmod
import oss2
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdksts.request.v20150401 import AssumeRoleRequest
from aliyunsdkvod.request.v20170321 import (
    CreateUploadAttachedMediaRequest,
    CreateUploadImageRequest,
    CreateUploadVideoRequest,
    GetVideoInfoRequest,
    RefreshUploadVideoRequest,
)

# CRC-64/XZ as OSS computes x-oss-hash-crc64ecma (crcmod notation, protocol.md 4.10).
crc64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)
assert crc64(b"123456789") == 11051210869376104954

# Bounded so a stuck simulator fails a test instead of hanging CI.
HTTP_TIMEOUT = 30


def host_of(endpoint):
    """`http://127.0.0.1:PORT` -> `127.0.0.1:PORT` (aliyunsdkcore wants a bare host)."""
    return urlparse(endpoint).netloc or endpoint


def account_client(info, secret=None):
    """AcsClient signed with the account key (optionally a wrong secret)."""
    return AcsClient(
        info["access_key_id"],
        info["access_key_secret"] if secret is None else secret,
        info["region"],
        auto_retry=False,
        timeout=HTTP_TIMEOUT,
        connect_timeout=HTTP_TIMEOUT,
    )


def sts_client(info, creds):
    """AcsClient signed with STS credentials (AccessKeyId/AccessKeySecret/SecurityToken)."""
    return AcsClient(
        region_id=info["region"],
        credential=StsTokenCredential(
            creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"]
        ),
        auto_retry=False,
        timeout=HTTP_TIMEOUT,
        connect_timeout=HTTP_TIMEOUT,
    )


def call(client, request, endpoint):
    """Send an RPC request to the simulator over plain http; returns the parsed JSON body."""
    request.set_endpoint(host_of(endpoint))
    request.set_protocol_type("http")
    return json.loads(client.do_action_with_exception(request))


def assume_role(info, client=None):
    req = AssumeRoleRequest.AssumeRoleRequest()
    req.set_RoleArn("acs:ram::1234567890123456:role/vod-upload")
    req.set_RoleSessionName("conformance")
    req.set_DurationSeconds(3600)
    return call(client or account_client(info), req, info["sts_endpoint"])


def create_upload_video(info, client, title="conformance", file_name="clip.mp4", size=None):
    req = CreateUploadVideoRequest.CreateUploadVideoRequest()
    req.set_Title(title)
    req.set_FileName(file_name)
    if size is not None:
        req.set_FileSize(size)
    req.set_Description("uploaded by the conformance test")
    req.set_Tags("conformance,oss2")
    return call(client, req, info["vod_endpoint"])


def refresh_upload_video(info, client, video_id):
    req = RefreshUploadVideoRequest.RefreshUploadVideoRequest()
    req.set_VideoId(video_id)
    return call(client, req, info["vod_endpoint"])


def create_upload_image(info, client, ext="png", title="cover"):
    req = CreateUploadImageRequest.CreateUploadImageRequest()
    req.set_ImageType("cover")
    req.set_ImageExt(ext)
    req.set_Title(title)
    return call(client, req, info["vod_endpoint"])


def create_upload_attached_media(info, client, business_type, ext, file_name, size):
    req = CreateUploadAttachedMediaRequest.CreateUploadAttachedMediaRequest()
    req.set_BusinessType(business_type)
    req.set_MediaExt(ext)
    req.set_FileName(file_name)
    req.set_FileSize(str(size))
    req.set_Title("attached")
    req.set_CateIds("1,2")
    return call(client, req, info["vod_endpoint"])


def get_video_info(info, client, video_id):
    req = GetVideoInfoRequest.GetVideoInfoRequest()
    req.set_VideoId(video_id)
    return call(client, req, info["vod_endpoint"])


def decode_b64_json(value, what):
    try:
        return json.loads(base64.b64decode(value, validate=True))
    except Exception as e:  # the assertion message is what matters here
        raise AssertionError(f"{what} is not base64 JSON: {value!r}: {e}") from None


def decode_upload(resp):
    """(UploadAddress, UploadAuth) decoded from a CreateUpload*/RefreshUpload* response."""
    return (
        decode_b64_json(resp["UploadAddress"], "UploadAddress"),
        decode_b64_json(resp["UploadAuth"], "UploadAuth"),
    )


def oss_endpoint(address):
    """UploadAddress.Endpoint may come with or without a scheme; the simulator is plain http."""
    ep = address["Endpoint"]
    return ep if "://" in ep else "http://" + ep


def bucket_for(address, auth, sig="v1", region=None, secret=None):
    """oss2.Bucket for an UploadAddress/UploadAuth pair, signing V1 or V4 with the STS token.

    V4 + STS in oss2 is `StsAuth(..., auth_version=AUTH_VERSION_4)` (a ProviderAuthV4 over a
    StaticCredentialsProvider with the token) plus `region=` on the Bucket.
    """
    version = {"v1": oss2.AUTH_VERSION_1, "v4": oss2.AUTH_VERSION_4}[sig]
    sts = oss2.StsAuth(
        auth["AccessKeyId"],
        auth["AccessKeySecret"] if secret is None else secret,
        auth["SecurityToken"],
        auth_version=version,
    )
    kwargs = {}
    if sig == "v4":
        kwargs["region"] = region or auth.get("Region") or "cn-shanghai"
    return oss2.Bucket(
        sts, oss_endpoint(address), address["Bucket"], connect_timeout=HTTP_TIMEOUT, **kwargs
    )


def make_file(path, size, seed=1):
    """A file of `size` deterministic pseudo-random bytes; returns the bytes."""
    data = random.Random(seed).randbytes(size)
    with open(path, "wb") as f:
        f.write(data)
    return data
