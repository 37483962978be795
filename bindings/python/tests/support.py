"""Test support: a vod-sim subprocess, the "app server" side of mode 1, and an event recorder.

Nothing here sleeps for correctness: tests wait on recorded events (threading.Condition) with
a bounded timeout.
"""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone

import vod_upload as vu

# Generous: the 2-core CI machine may be busy compiling next to us.
WAIT = 60.0


class Sim:
    """A vod-sim process on a free loopback port, with its admin API."""

    def __init__(self, binary):
        if not binary or not os.path.exists(binary):
            raise RuntimeError(f"vod-sim not found at {binary!r}: run `cargo build --release` first")
        self.proc = subprocess.Popen(
            [binary], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        line = self.proc.stdout.readline()
        if not line:
            self.proc.kill()
            raise RuntimeError("vod-sim exited before printing its endpoints")
        self.info = json.loads(line)
        self.vod_endpoint = self.info["vod_endpoint"]
        self.region = self.info["region"]
        self.access_key_id = self.info["access_key_id"]
        self.access_key_secret = self.info["access_key_secret"]

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    # --- admin API ---

    def _admin(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.vod_endpoint + path, data=data, method=method)
        req.add_header("content-type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"{}")

    def stats(self):
        return self._admin("GET", "/_sim/stats")

    def requests(self, op=None):
        """The requests vod-sim recorded (secrets redacted), of one operation if given."""
        recorded = self._admin("GET", "/_sim/requests")
        return [r for r in recorded if op is None or r["op"] == op]

    def expire_tokens(self):
        return self._admin("POST", "/_sim/expire-tokens")["expired"]

    def set_faults(self, rules):
        self._admin("POST", "/_sim/faults", {"rules": rules})

    def throttle(self, bandwidth=None, latency_ms=0):
        """Limits request bodies to `bandwidth` bytes/s (None: unlimited)."""
        self._admin("POST", "/_sim/throttle", {"bandwidth": bandwidth, "latency_ms": latency_ms})

    # --- the app server's side of mode 1 (VOD RPC signed with the account key) ---

    def rpc(self, action, **params):
        """Calls a VOD action (protocol.md §6.3 signing) and returns the JSON response."""
        query = {
            "Action": action,
            "Version": "2017-03-21",
            "Format": "JSON",
            "AccessKeyId": self.access_key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": str(uuid.uuid4()),
            "Timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "RegionId": self.region,
        }
        query.update({k: str(v) for k, v in params.items()})

        def enc(s):
            return urllib.parse.quote(s, safe="-_.~")

        canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query.items()))
        to_sign = "GET&%2F&" + enc(canonical)
        key = (self.access_key_secret + "&").encode()
        signature = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha1).digest()).decode()
        url = f"{self.vod_endpoint}/?{canonical}&Signature={enc(signature)}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read())

    def create_upload_video(self, file_name, title="test"):
        r = self.rpc("CreateUploadVideo", Title=title, FileName=file_name)
        return r["VideoId"], r["UploadAuth"], r["UploadAddress"]

    def refresh_upload_video(self, video_id):
        return self.rpc("RefreshUploadVideo", VideoId=video_id)["UploadAuth"]


def write_file(directory, name, size):
    """A file of `size` pseudo-random bytes (deterministic per name and size)."""
    path = os.path.join(directory, name)
    seed = hashlib.sha256(f"{name}:{size}".encode()).digest()
    chunk = hashlib.sha256(seed).digest() * 2048  # 64 KiB
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)
    return path


class Recorder(vu.UploadListener):
    """Records every event with the thread it arrived on; tests wait on conditions."""

    def __init__(self):
        self.cond = threading.Condition()
        self.events = []  # (kind, args...)
        self.threads = set()

    def _add(self, *event):
        with self.cond:
            self.events.append(event)
            self.threads.add(threading.get_ident())
            self.cond.notify_all()

    def started(self, file):
        self._add("started", file)

    def progress(self, file_id, uploaded, total):
        self._add("progress", file_id, uploaded, total)

    def succeeded(self, file, result):
        self._add("succeeded", file, result)

    def failed(self, file, code, message):
        self._add("failed", file, code, message)

    def canceled(self, file, deleted):
        self._add("canceled", file, deleted)

    def token_expired(self, file):
        self._add("token_expired", file)

    def retry(self, file, code, message):
        self._add("retry", file, code, message)

    def retry_resume(self, file):
        self._add("retry_resume", file)

    def waiting(self, file, reason):
        self._add("waiting", file, reason)

    def all_done(self):
        self._add("all_done")

    # --- waiting ---

    def wait_for(self, what, predicate, timeout=WAIT):
        """Waits until `predicate(events)` is truthy and returns its value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate(self.events)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    kinds = [e[0] for e in self.events]
                    raise AssertionError(f"timed out waiting for {what}; events so far: {kinds}")
                self.cond.wait(left)

    def wait_event(self, kind, file_id=None, after=0, timeout=WAIT):
        """The first `kind` event (for `file_id`, if given) at index >= `after`."""

        def find(events):
            for e in events[after:]:
                if e[0] == kind and (file_id is None or event_file_id(e) == file_id):
                    return e
            return None

        return self.wait_for(f"{kind} {file_id or ''}", find, timeout)

    def count(self, kind, file_id=None):
        with self.cond:
            return sum(
                1 for e in self.events if e[0] == kind and (file_id is None or event_file_id(e) == file_id)
            )

    def snapshot(self):
        with self.cond:
            return list(self.events)


def event_file_id(event):
    if event[0] == "all_done":
        return None
    if event[0] == "progress":
        return event[1]
    return event[1].id
