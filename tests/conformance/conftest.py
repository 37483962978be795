"""Fixtures: vod-sim processes, started from the release binary and parsed from their first line."""

from pathlib import Path

import pytest

import sdk
from simproc import Sim, default_binary

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sim_binary():
    path = default_binary(REPO_ROOT)
    if not path.is_file():
        # A missing binary is a failure, never a skip: a skipped conformance run proves nothing.
        pytest.fail(
            f"vod-sim binary not found at {path}; run tests/conformance/run.sh "
            "(or `cargo build --release -p vod-sim` and set VOD_SIM_BIN)"
        )
    return path


@pytest.fixture
def make_sim(sim_binary, tmp_path_factory, request):
    """Factory: start a private vod-sim with extra CLI args; every one is stopped at teardown."""
    started = []

    def start(*args):
        sim = Sim(sim_binary, tmp_path_factory.mktemp("sim"), args)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        code = sim.stop()
        # Show the simulator's log next to a failing test.
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            print(f"--- vod-sim log ({sim.cmd}, exit {code}) ---\n{sim.log()}")


@pytest.fixture(scope="module")
def sim(sim_binary, tmp_path_factory):
    """A vod-sim shared by the tests of one module (tests that expire tokens use make_sim)."""
    s = Sim(sim_binary, tmp_path_factory.mktemp("sim"))
    yield s
    s.stop()


@pytest.fixture
def info(sim):
    return sim.info


@pytest.fixture
def faults(sim):
    """Inject fault rules into the shared sim; cleared at teardown so no test leaks them."""
    used = []

    def inject(rules):
        used.append(True)
        return sim.set_faults(rules)

    yield inject
    if used and sim.proc.poll() is None:
        sim.clear_faults()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def upload_target(info):
    """A fresh (video id, UploadAddress, UploadAuth) via AssumeRole + CreateUploadVideo over STS."""

    def create(file_name="clip.mp4", size=None, title="conformance"):
        creds = sdk.assume_role(info)["Credentials"]
        resp = sdk.create_upload_video(
            info, sdk.sts_client(info, creds), title=title, file_name=file_name, size=size
        )
        address, auth = sdk.decode_upload(resp)
        return resp["VideoId"], address, auth

    return create
