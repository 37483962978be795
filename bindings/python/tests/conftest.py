"""Shared fixtures: import the built module, start vod-sim, open clients.

run_tests.sh sets VOD_UPLOAD_PY_DIR (the directory holding vod_upload.py and the native
library, written by build.sh) and VOD_UPLOAD_SIM (the vod-sim binary).
"""

import os
import sys

import pytest

_PY_DIR = os.environ.get("VOD_UPLOAD_PY_DIR")
if not _PY_DIR:
    raise RuntimeError("set VOD_UPLOAD_PY_DIR to a directory written by bindings/python/build.sh")
sys.path.insert(0, _PY_DIR)

import vod_upload as vu  # noqa: E402

from support import Recorder, Sim  # noqa: E402


@pytest.fixture
def sim():
    s = Sim(os.environ.get("VOD_UPLOAD_SIM"))
    yield s
    s.close()


def client_config(sim, tmp_path, **overrides):
    """Small parts and fast retries, so tests exercise multipart uploads quickly."""
    values = dict(
        database_path=str(tmp_path / "uploads.db"),
        allow_http=True,
        vod_endpoint=sim.vod_endpoint,
        region=sim.region,
        part_size=100 * 1024,
        parallel_parts=2,
        retry_base_interval_ms=10,
        retry_max_interval_ms=100,
        progress_interval_ms=10,
    )
    values.update(overrides)
    return vu.ClientConfig(**values)


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def client(sim, tmp_path, recorder):
    """A mode 2 client (the simulator's account key) with a recording listener."""
    c = vu.VodUploadClient(client_config(sim, tmp_path))
    c.set_listener(recorder)
    c.set_sts_token(sim.access_key_id, sim.access_key_secret)
    yield c
    c.shutdown()
