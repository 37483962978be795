#!/usr/bin/env python3
"""Python peer of the benchmark harness: oss2.resumable_upload with a VOD UploadAuth.

Gets the credentials the way a VOD client does (CreateUploadVideo through aliyunsdkvod, signed
with the account key), uploads FILE with oss2.resumable_upload (checkpoint store in a directory,
N threads, the given part size, V1 or V4), and prints one JSON line:
{"tool":"oss2","bytes":N,"seconds":S,...}. `seconds` covers the upload only; the harness
measures the whole process (interpreter start and the VOD call included) separately.
"""

import argparse
import base64
import json
import os
import sys
import tempfile
import time
from urllib.parse import urlparse

import oss2
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.http import protocol_type as PT
from aliyunsdkvod.request.v20170321 import CreateUploadVideoRequest, RefreshUploadVideoRequest


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sim-info", help="the simulator's JSON line (instead of the next four)")
    p.add_argument("--vod-endpoint", help="e.g. http://127.0.0.1:PORT")
    p.add_argument("--access-key-id")
    p.add_argument("--access-key-secret")
    p.add_argument("--region", default="cn-shanghai")
    p.add_argument("--file", required=True, action="append",
                   help="file to upload (repeatable: the files one after the other, then a summary line)")
    p.add_argument("--ca-file", help="PEM file of CA certificates to trust (a simulator's private CA)")
    p.add_argument("--part-size", type=int, default=8 * 1024 * 1024)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--sig", choices=["v1", "v4"], default="v1")
    p.add_argument("--checkpoint-dir", help="oss2 ResumableStore root (default: a temp dir)")
    p.add_argument("--vod-state", help="file that keeps the VideoId between runs: when it exists, "
                   "RefreshUploadVideo gets fresh credentials for the same video (as the VOD SDKs "
                   "resume), so the oss2 checkpoint stays valid")
    a = p.parse_args(argv)
    if a.sim_info:
        info = json.loads(a.sim_info)
        a.vod_endpoint = info["vod_endpoint"]
        a.access_key_id = info["access_key_id"]
        a.access_key_secret = info["access_key_secret"]
        a.region = info.get("region") or a.region
    if not (a.vod_endpoint and a.access_key_id and a.access_key_secret):
        p.error("need --sim-info or --vod-endpoint/--access-key-id/--access-key-secret")
    return a


def upload_credentials(a, client, file, size, vod_state):
    """RefreshUploadVideo for the VideoId kept in vod_state (a resumed run), else
    CreateUploadVideo, writing the VideoId there before any byte is uploaded."""
    video_id = None
    if vod_state and os.path.exists(vod_state):
        with open(vod_state) as f:
            video_id = json.load(f)["VideoId"]
        req = RefreshUploadVideoRequest.RefreshUploadVideoRequest()
        req.set_VideoId(video_id)
    else:
        req = CreateUploadVideoRequest.CreateUploadVideoRequest()
        name = os.path.basename(file)
        req.set_Title("bench " + name)
        req.set_FileName(name)
        req.set_FileSize(size)
    req.set_endpoint(urlparse(a.vod_endpoint).netloc)
    # aliyunsdkcore compares the protocol with `is`: pass its own constants.
    req.set_protocol_type(PT.HTTPS if urlparse(a.vod_endpoint).scheme == "https" else PT.HTTP)
    resp = json.loads(client.do_action_with_exception(req))
    if video_id is None:
        video_id = resp["VideoId"]
        if vod_state:
            tmp = vod_state + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"VideoId": video_id}, f)
            os.replace(tmp, vod_state)
    address = json.loads(base64.b64decode(resp["UploadAddress"]))
    auth = json.loads(base64.b64decode(resp["UploadAuth"]))
    return video_id, address, auth


def upload_one(a, client, session, file, vod_state, cp_root):
    size = os.path.getsize(file)
    video_id, address, auth = upload_credentials(a, client, file, size, vod_state)
    endpoint = address["Endpoint"] if "://" in address["Endpoint"] else "http://" + address["Endpoint"]
    version = oss2.AUTH_VERSION_4 if a.sig == "v4" else oss2.AUTH_VERSION_1
    sts = oss2.StsAuth(auth["AccessKeyId"], auth["AccessKeySecret"], auth["SecurityToken"], auth_version=version)
    extra = {"region": auth.get("Region") or a.region} if a.sig == "v4" else {}
    bucket = oss2.Bucket(sts, endpoint, address["Bucket"], session=session, **extra)

    store = oss2.ResumableStore(root=cp_root, dir="oss2-cp")
    start = time.perf_counter()
    oss2.resumable_upload(
        bucket,
        address["FileName"],
        file,
        store=store,
        multipart_threshold=a.part_size,
        part_size=a.part_size,
        num_threads=a.threads,
    )
    seconds = time.perf_counter() - start
    print(json.dumps({
        "tool": "oss2", "bytes": size, "seconds": seconds, "video_id": video_id,
        "bucket": address["Bucket"], "object": address["FileName"],
        "part_size": a.part_size, "threads": a.threads, "sig": a.sig,
    }), flush=True)
    return size


def main(argv):
    a = parse_args(argv)
    # The CA of a simulator serving HTTPS: for the VOD call (aliyunsdkcore's vendored requests)
    # and for OSS (oss2's requests session, shared by the files of this run).
    client = AcsClient(a.access_key_id, a.access_key_secret, a.region, timeout=30, connect_timeout=30,
                       verify=a.ca_file)
    session = oss2.Session()
    if a.ca_file:
        # requests lets REQUESTS_CA_BUNDLE (set on many machines) win over a session's verify.
        os.environ["REQUESTS_CA_BUNDLE"] = a.ca_file
        session.session.verify = a.ca_file
    with tempfile.TemporaryDirectory(prefix="oss2-cp") as tmp:
        root = a.checkpoint_dir or tmp
        if len(a.file) == 1:
            upload_one(a, client, session, a.file[0], a.vod_state, root)
            return 0
        start = time.perf_counter()
        total = 0
        for i, f in enumerate(a.file):
            total += upload_one(a, client, session, f, a.vod_state and f"{a.vod_state}.{i}", root)
        print(json.dumps({"tool": "oss2", "files": len(a.file), "bytes": total,
                          "seconds": time.perf_counter() - start}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
