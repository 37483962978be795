"""Start, drive and stop a `vod-sim` process (the contract in issue 3)."""

import json
import os
import queue
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

# The one JSON line vod-sim prints on start; other tools parse exactly these keys.
INFO_KEYS = (
    "oss_endpoint",
    "vod_endpoint",
    "sts_endpoint",
    "region",
    "access_key_id",
    "access_key_secret",
)

START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class SimError(RuntimeError):
    pass


class Sim:
    """A running vod-sim. `info` is its parsed first stdout line."""

    def __init__(self, binary, workdir, args=()):
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = workdir / "data"
        self.log_path = workdir / "vod-sim.log"
        self.cmd = [str(binary), "--data-dir", str(self.data_dir), *map(str, args)]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        try:
            self.first_line = self._read_first_line()
            self.info = self._parse_info(self.first_line)
        except Exception:
            self.stop()
            raise
        # Keep draining stdout so a chatty simulator can never block on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _read_first_line(self):
        lines = queue.Queue()
        threading.Thread(
            target=lambda: lines.put(self.proc.stdout.readline()), daemon=True
        ).start()
        try:
            line = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            raise SimError(
                f"vod-sim printed no line within {START_TIMEOUT}s; log:\n{self.log()}"
            ) from None
        if not line:
            self.proc.wait(timeout=STOP_TIMEOUT)
            raise SimError(
                f"vod-sim exited ({self.proc.returncode}) before printing its line; "
                f"log:\n{self.log()}"
            )
        return line.decode("utf-8")

    @staticmethod
    def _parse_info(line):
        try:
            info = json.loads(line)
        except ValueError as e:
            raise SimError(f"first stdout line is not JSON: {line!r}: {e}") from None
        missing = [k for k in INFO_KEYS if not isinstance(info.get(k), str) or not info[k]]
        if missing:
            raise SimError(f"first stdout line lacks {missing}: {line!r}")
        return info

    def _drain(self):
        for _ in self.proc.stdout:
            pass

    def log(self):
        if not self._log.closed:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def stop(self):
        """SIGTERM, then SIGKILL if it does not exit in time. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        self._log.close()
        return self.proc.returncode

    # ---- admin API: <oss_endpoint>/_sim/... (no auth) ----

    def admin(self, method, path, body=None):
        """Call the admin API; returns (status, parsed JSON or None, raw bytes)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.info["oss_endpoint"].rstrip("/") + "/_sim/" + path.lstrip("/"),
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return status, parsed, raw

    def _ok(self, method, path, body=None):
        status, parsed, raw = self.admin(method, path, body)
        if not 200 <= status < 300:
            raise SimError(f"{method} /_sim/{path} -> {status}: {raw[:500]!r}")
        return parsed

    def stats(self):
        return self._ok("GET", "stats")

    def set_faults(self, rules):
        return self._ok("POST", "faults", {"rules": rules})

    def clear_faults(self):
        return self._ok("DELETE", "faults")

    def expire_tokens(self):
        return self._ok("POST", "expire-tokens")

    def throttle(self, bandwidth=None, latency_ms=0):
        return self._ok("POST", "throttle", {"bandwidth": bandwidth, "latency_ms": latency_ms})


def default_binary(repo_root):
    """VOD_SIM_BIN, else the release binary under CARGO_TARGET_DIR (or <repo>/target)."""
    explicit = os.environ.get("VOD_SIM_BIN")
    if explicit:
        return Path(explicit)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(repo_root, "target")
    return Path(target) / "release" / "vod-sim"
