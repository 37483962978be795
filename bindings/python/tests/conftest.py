"""Shared fixtures: import the built module and start vod-sim.

run_tests.sh sets VOD_UPLOAD_PY_DIR (the directory holding vod_upload.py and the native
library, written by build.sh) and VOD_UPLOAD_SIM (the vod-sim binary).
"""

import os
import sys

_PY_DIR = os.environ.get("VOD_UPLOAD_PY_DIR")
if not _PY_DIR:
    raise RuntimeError("set VOD_UPLOAD_PY_DIR to a directory written by bindings/python/build.sh")
sys.path.insert(0, _PY_DIR)
