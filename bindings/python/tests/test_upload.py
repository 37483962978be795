"""The Python bindings against vod-sim: the queue, control, network, credentials, errors."""

import asyncio
import os
import gc
import json
import threading

import pytest
import vod_upload as vu

from conftest import client_config
from support import WAIT, Recorder, event_file_id, write_file

KIB = 1024


def progress_of(events, file_id):
    return [(e[2], e[3]) for e in events if e[0] == "progress" and e[1] == file_id]


def test_module_loads_native_library():
    assert vu.core_version().startswith("vod-upload ")


def test_queue_uploads_every_file_with_callbacks_on_background_threads(sim, client, recorder, tmp_path):
    small = write_file(tmp_path, "small.mp4", 50 * KIB)  # one PutObject
    big = write_file(tmp_path, "big.mp4", 450 * KIB)  # multipart, 5 parts
    image = write_file(tmp_path, "cover.png", 120 * KIB)  # CreateUploadImage
    ids = [client.add_file(p, vu.VodInfo(title=f"t{i}")) for i, p in enumerate([small, big, image])]
    assert [f.id for f in client.list_files()] == ids
    assert client.status() == vu.ClientStatus.IDLE

    client.start()
    recorder.wait_event("all_done")

    events = recorder.snapshot()
    assert threading.get_ident() not in recorder.threads, "callbacks must come from library threads"
    for file_id, path in zip(ids, [small, big, image]):
        ok = [e for e in events if e[0] == "succeeded" and e[1].id == file_id]
        assert len(ok) == 1, f"one success for {path}"
        file, result = ok[0][1], ok[0][2]
        size = (tmp_path / path).stat().st_size
        assert result.bytes == size and file.bytes_uploaded == size
        assert file.crc64 == result.crc64
        steps = progress_of(events, file_id)
        assert steps and steps[-1] == (size, size)
        assert all(a[0] <= b[0] for a, b in zip(steps, steps[1:])), "progress is monotonic"
    video = next(e for e in events if e[0] == "succeeded" and e[1].id == ids[1])[2]
    assert video.video_id and video.object_key and video.crc64 not in (None, "0")
    image_result = next(e for e in events if e[0] == "succeeded" and e[1].id == ids[2])[2]
    assert image_result.image_url
    assert [f.status for f in client.list_files()] == [vu.FileStatus.SUCCEEDED] * 3
    stats = sim.stats()
    assert stats["multipart_uploads_completed"] == 2 and stats["put_objects"] == 1
    # In order: the native SDK uploads one file at a time, in list order.
    starts = [event_file_id(e) for e in events if e[0] == "started"]
    assert starts == ids


def test_pause_and_resume_continue_the_same_multipart_upload(sim, client, recorder, tmp_path):
    sim.throttle(bandwidth=400 * KIB)
    path = write_file(tmp_path, "long.mp4", 1200 * KIB)
    file_id = client.add_file(path)
    client.start()
    recorder.wait_for("some progress", lambda ev: any(e[0] == "progress" and e[2] > 0 for e in ev))

    client.pause()
    assert client.status() == vu.ClientStatus.PAUSED
    waiting = recorder.wait_event("waiting", file_id)
    assert isinstance(waiting[2], vu.WaitingReason.PAUSED)
    assert client.file(file_id).status == vu.FileStatus.PAUSED

    sim.throttle(bandwidth=None)
    client.resume()
    ok = recorder.wait_event("succeeded", file_id)
    assert ok[2].bytes == 1200 * KIB
    stats = sim.stats()
    assert stats["multipart_uploads_initiated"] == 1, "resume continues the upload, it does not restart"
    assert recorder.count("failed") == 0


def test_checkpoint_reads_the_upload_state(sim, client, recorder, tmp_path):
    sim.throttle(bandwidth=300 * KIB)
    file_id = client.add_file(write_file(tmp_path, "checkpoint.mp4", 900 * KIB))
    assert client.checkpoint(file_id) is None, "not started"
    assert client.checkpoint("no-such-file") is None
    client.start()
    # Past two parts in flight (100 KiB each): at least one is confirmed.
    recorder.wait_for("a confirmed part", lambda ev: any(e[0] == "progress" and e[2] > 200 * KIB for e in ev))
    client.pause()
    recorder.wait_event("waiting", file_id)
    cp = client.checkpoint(file_id)
    assert cp is not None and cp.upload_id
    assert cp.parts_done >= 1 and cp.bytes_done == cp.parts_done * cp.part_size
    assert cp.file_size == 900 * KIB
    assert cp.video_id == client.file(file_id).video_id
    [initiate] = sim.requests("InitiateMultipartUpload")
    assert initiate["path"].endswith(cp.object_key)
    sim.throttle(bandwidth=None)
    client.resume()
    recorder.wait_event("succeeded", file_id)
    assert client.checkpoint(file_id) is None, "finished"


def test_vod_info_from_json(sim, client, recorder, tmp_path):
    info = vu.vod_info_from_json('{"Vod":{"Title":"test","CateId":"234","UserData":{"Extend":{"k":"v"}}}}')
    assert (info.title, info.cate_id) == ("test", 234)
    # The JS SDK document's own sample has a stray quote: a clear error.
    with pytest.raises(vu.VodUploadError.InvalidArgument, match="not JSON"):
        vu.vod_info_from_json('{"Vod":{"Title":"test","CateId":"234"}"}')
    with pytest.raises(vu.VodUploadError.InvalidArgument, match="Titel"):
        vu.vod_info_from_json('{"Vod":{"Titel":"x"}}')
    file_id = client.add_file(write_file(tmp_path, "seed.mp4", 50 * KIB), info)
    client.start()
    recorder.wait_event("succeeded", file_id)
    [create] = sim.requests("CreateUploadVideo")
    assert (create["params"]["Title"], create["params"]["CateId"]) == ("test", "234")
    assert json.loads(create["params"]["UserData"])["Extend"] == {"k": "v"}
    with pytest.raises(vu.VodUploadError.InvalidArgument, match="does not take .txt"):
        client.add_file(write_file(tmp_path, "notes.txt", KIB))


def test_network_switch_cellular_waits_and_wifi_resumes(sim, client, recorder, tmp_path):
    client.set_network_policy(vu.NetworkPolicy.WIFI_ONLY())
    client.set_network_state(vu.NetworkState(network_type=vu.NetworkType.CELLULAR, metered=True))
    path = write_file(tmp_path, "net.mp4", 300 * KIB)
    file_id = client.add_file(path)
    client.start()
    waiting = recorder.wait_event("waiting", file_id)
    assert isinstance(waiting[2], vu.WaitingReason.NETWORK)
    assert client.file(file_id).bytes_uploaded == 0
    assert sim.stats()["parts_uploaded"] == 0, "no byte goes over a forbidden network"

    client.set_network_state(vu.NetworkState(network_type=vu.NetworkType.WIFI))
    recorder.wait_event("succeeded", file_id)
    assert recorder.count("failed") == 0 and recorder.count("retry") == 0


def test_network_switch_mid_upload(sim, client, recorder, tmp_path):
    sim.throttle(bandwidth=300 * KIB)
    file_id = client.add_file(write_file(tmp_path, "mid.mp4", 900 * KIB))
    client.start()
    recorder.wait_for("some progress", lambda ev: any(e[0] == "progress" and e[2] > 0 for e in ev))

    mark = len(recorder.snapshot())
    client.set_network_state(vu.NetworkState(network_type=vu.NetworkType.CELLULAR, metered=True))
    waiting = recorder.wait_event("waiting", file_id, after=mark)
    assert isinstance(waiting[2], vu.WaitingReason.NETWORK)

    sim.throttle(bandwidth=None)
    client.set_network_state(vu.NetworkState(network_type=vu.NetworkType.WIFI))
    recorder.wait_event("succeeded", file_id)
    assert sim.stats()["multipart_uploads_initiated"] == 1
    assert recorder.count("failed") == 0


def test_mode1_token_expiry_and_resume_with_auth(sim, tmp_path):
    """The native flow: started → setUploadAuthAndAddress; tokenExpired → resumeWithAuth."""
    recorder = Recorder()
    client = vu.VodUploadClient(client_config(sim, tmp_path))
    videos = {}

    class AppServer(Recorder):
        def started(self, file):
            video_id, auth, address = sim.create_upload_video(file.path.rsplit("/", 1)[-1])
            videos[file.id] = video_id
            client.set_upload_auth_and_address(file.id, auth, address, video_id)
            recorder.started(file)

        def token_expired(self, file):
            recorder.token_expired(file)

        def progress(self, file_id, uploaded, total):
            recorder.progress(file_id, uploaded, total)

        def succeeded(self, file, result):
            recorder.succeeded(file, result)

        def failed(self, file, code, message):
            recorder.failed(file, code, message)

    try:
        client.set_listener(AppServer())
        sim.throttle(bandwidth=300 * KIB)
        file_id = client.add_file(write_file(tmp_path, "mode1.mp4", 900 * KIB))
        client.start()
        recorder.wait_for("some progress", lambda ev: any(e[0] == "progress" and e[2] > 0 for e in ev))

        assert sim.expire_tokens() >= 1
        expired = recorder.wait_event("token_expired", file_id)
        assert expired[1].video_id == videos[file_id]

        sim.throttle(bandwidth=None)
        client.resume_with_auth(sim.refresh_upload_video(videos[file_id]))
        ok = recorder.wait_event("succeeded", file_id)
        assert ok[2].video_id == videos[file_id]
        assert sim.stats()["multipart_uploads_initiated"] == 1, "the same multipart upload continued"
        assert recorder.count("failed") == 0
    finally:
        client.shutdown()


def test_a_throwing_listener_never_stops_uploads(sim, tmp_path):
    done = threading.Event()
    calls = []

    class Throwing(vu.UploadListener):
        def _boom(self, name):
            calls.append(name)
            raise RuntimeError(f"listener bug in {name}")

        def started(self, file):
            self._boom("started")

        def progress(self, file_id, uploaded, total):
            self._boom("progress")

        def succeeded(self, file, result):
            self._boom("succeeded")

        def failed(self, file, code, message):
            self._boom("failed")

        def canceled(self, file, deleted):
            self._boom("canceled")

        def token_expired(self, file):
            self._boom("token_expired")

        def retry(self, file, code, message):
            self._boom("retry")

        def retry_resume(self, file):
            self._boom("retry_resume")

        def waiting(self, file, reason):
            self._boom("waiting")

        def all_done(self):
            calls.append("all_done")
            done.set()
            raise ValueError("even the last one throws")

    client = vu.VodUploadClient(client_config(sim, tmp_path))
    try:
        client.set_listener(Throwing())
        client.set_sts_token(sim.access_key_id, sim.access_key_secret)
        first = client.add_file(write_file(tmp_path, "a.mp4", 250 * KIB))
        client.start()
        assert done.wait(WAIT), "events kept coming after the listener threw"
        assert "succeeded" in calls and "progress" in calls
        assert client.file(first).status == vu.FileStatus.SUCCEEDED

        # Still fully usable.
        done.clear()
        second = client.add_file(write_file(tmp_path, "b.mp4", 150 * KIB))
        assert done.wait(WAIT)
        assert client.file(second).status == vu.FileStatus.SUCCEEDED
    finally:
        client.shutdown()


def test_async_credential_provider_renews_without_pausing(sim, tmp_path):
    """Mode 1 driven entirely by a Python `async def` provider on an asyncio loop."""
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever, daemon=True)
    loop_thread.start()
    vu.uniffi_set_event_loop(loop)
    requests = []

    class Provider(vu.CredentialProvider):
        async def fetch_credentials(self, request):
            requests.append((request.reason, request.video_id))
            await asyncio.sleep(0)  # a real app awaits its server here
            if request.video_id:
                auth = sim.refresh_upload_video(request.video_id)
                return vu.ProvidedCredentials.UPLOAD_AUTH(upload_auth=auth, upload_address=None, video_id=None)
            video_id, auth, address = sim.create_upload_video("provided.mp4")
            return vu.ProvidedCredentials.UPLOAD_AUTH(upload_auth=auth, upload_address=address, video_id=video_id)

    recorder = Recorder()
    client = vu.VodUploadClient(client_config(sim, tmp_path))
    try:
        client.set_listener(recorder)
        client.set_credential_provider(Provider())
        sim.throttle(bandwidth=300 * KIB)
        file_id = client.add_file(write_file(tmp_path, "provided.mp4", 900 * KIB))
        client.start()
        recorder.wait_for("some progress", lambda ev: any(e[0] == "progress" and e[2] > 0 for e in ev))
        sim.expire_tokens()
        sim.throttle(bandwidth=None)
        recorder.wait_event("succeeded", file_id)

        reasons = [r for r, _ in requests]
        assert reasons[0] == vu.CredentialReason.INITIAL
        assert vu.CredentialReason.EXPIRED in reasons, f"provider asked for {reasons}"
        assert recorder.count("token_expired") == 0, "the provider renewed without a pause"
        assert sim.stats()["multipart_uploads_initiated"] == 1
    finally:
        client.shutdown()
        vu.uniffi_set_event_loop(None)
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join(10)
        loop.close()


def test_errors_are_typed_and_actionable(sim, client, tmp_path):
    with pytest.raises(vu.VodUploadError.FileNotFound) as e:
        client.add_file(str(tmp_path / "missing.mp4"))
    assert "missing.mp4" in e.value.path
    # Calls that do not apply now are ignored, as the native SDK does (never an exception).
    client.pause()  # not running
    client.resume()
    client.stop()
    client.delete_file("no-such-id")
    client.cancel_file_at(7)
    client.resume_file_at(-1)
    file_id = client.add_file(write_file(tmp_path, "x.mp4", 10 * KIB))
    with pytest.raises(vu.VodUploadError.Credentials):
        client.set_upload_auth_and_address(file_id, "not base64!", "also not")
    with pytest.raises(vu.VodUploadError.InvalidArgument):
        client.add_file(write_file(tmp_path, "y.mp4", 10 * KIB), vu.VodInfo(priority=300))
    with pytest.raises(vu.VodUploadError.InvalidArgument):
        vu.VodUploadClient(vu.ClientConfig(part_size=1))

    client.shutdown()
    client.shutdown()  # idempotent
    client.start()  # ignored
    with pytest.raises(vu.VodUploadError.Closed):
        client.add_file(write_file(tmp_path, "z.mp4", 10 * KIB))


def test_subscribers_each_get_every_event_as_one_enum(sim, client, tmp_path):
    class Collect(vu.UploadEventListener):
        def __init__(self):
            self.events = []
            self.done = threading.Event()

        def on_event(self, event):
            self.events.append(event)
            if event.is_all_done():
                self.done.set()

    a, b = Collect(), Collect()
    sub_a = client.subscribe(a)
    sub_b = client.subscribe(b)
    file_id = client.add_file(write_file(tmp_path, "sub.mp4", 250 * KIB))
    client.start()
    assert a.done.wait(WAIT) and b.done.wait(WAIT)
    assert [type(e).__name__ for e in a.events] == [type(e).__name__ for e in b.events]
    assert a.events[0].is_started() and a.events[0].file.id == file_id
    ok = [e for e in a.events if e.is_succeeded()]
    assert len(ok) == 1 and ok[0].result.bytes == 250 * KIB
    sub_a.cancel()
    b.done.clear()
    client.add_file(write_file(tmp_path, "sub2.mp4", 10 * KIB))
    assert b.done.wait(WAIT)
    assert sum(e.is_all_done() for e in a.events) == 1, "a cancelled subscription gets nothing"
    del sub_b


def test_cancel_resume_delete_and_index_forms(sim, client, recorder, tmp_path):
    a = client.add_file(write_file(tmp_path, "a.mp4", 150 * KIB))
    b = client.add_file(write_file(tmp_path, "b.mp4", 150 * KIB))
    c = client.add_file(write_file(tmp_path, "c.mp4", 150 * KIB))
    client.cancel_file_at(1)  # b
    assert client.file(b).status == vu.FileStatus.CANCELED
    client.delete_file_at(2)  # c
    assert [f.id for f in client.list_files()] == [a, b]

    client.start()
    recorder.wait_event("all_done")
    assert client.file(a).status == vu.FileStatus.SUCCEEDED
    assert client.file(b).status == vu.FileStatus.CANCELED

    client.resume_file(b)
    recorder.wait_event("succeeded", b)
    client.clear_files()
    assert client.list_files() == []


def test_queue_survives_a_restart(sim, tmp_path):
    config = client_config(sim, tmp_path)
    recorder = Recorder()
    first = vu.VodUploadClient(config)
    first.set_listener(recorder)
    first.set_sts_token(sim.access_key_id, sim.access_key_secret)
    sim.throttle(bandwidth=300 * KIB)
    file_id = first.add_file(write_file(tmp_path, "restart.mp4", 900 * KIB))
    first.start()
    recorder.wait_for("confirmed bytes", lambda ev: first.file(file_id).bytes_uploaded > 0 or None)
    first.shutdown()
    del first
    gc.collect()

    sim.throttle(bandwidth=None)
    recorder = Recorder()
    second = vu.VodUploadClient(config)
    try:
        restored = second.file(file_id)
        assert restored is not None and restored.bytes_uploaded > 0
        assert second.recovered_database() is None
        second.set_listener(recorder)
        second.set_sts_token(sim.access_key_id, sim.access_key_secret)
        second.start()
        recorder.wait_event("succeeded", file_id)
        assert sim.stats()["multipart_uploads_initiated"] == 1
    finally:
        second.shutdown()


def test_dropping_a_client_mid_upload_is_clean(sim, tmp_path):
    recorder = Recorder()
    client = vu.VodUploadClient(client_config(sim, tmp_path, database_path=None))
    client.set_listener(recorder)
    client.set_sts_token(sim.access_key_id, sim.access_key_secret)
    sim.throttle(bandwidth=200 * KIB)
    client.add_file(write_file(tmp_path, "drop.mp4", 900 * KIB))
    client.start()
    recorder.wait_for("some progress", lambda ev: any(e[0] == "progress" for e in ev))
    del client
    gc.collect()
    assert vu.core_version()  # the process is fine; a new client works
    again = vu.VodUploadClient(vu.ClientConfig())
    assert again.list_files() == []
    again.shutdown()


def test_log_sink_receives_engine_records(sim, client, recorder, tmp_path):
    records = []
    lock = threading.Lock()

    class Sink(vu.LogSink):
        def log(self, record):
            with lock:
                records.append(record)

    vu.init_logging(vu.LogLevel.DEBUG, Sink())
    try:
        # One injected 503 makes the engine retry, which it logs.
        sim.set_faults([{"op": "UploadPart", "action": "status", "status": 503, "count": 1}])
        file_id = client.add_file(write_file(tmp_path, "logged.mp4", 350 * KIB))
        client.start()
        recorder.wait_event("succeeded", file_id)
        with lock:
            ours = [r for r in records if r.target.startswith("vod_upload")]
        assert any("retrying" in r.message for r in ours), [r.message for r in ours]
        assert all(isinstance(r.level, vu.LogLevel) and r.message for r in ours)
        secret = sim.access_key_secret
        assert not any(secret in r.message for r in records), "no secret in logs"
    finally:
        vu.init_logging(vu.LogLevel.WARN, None)


def test_shutdown_from_inside_a_listener(sim, tmp_path):
    """The engine's event thread may be the one that shuts the client down."""
    seen = threading.Event()
    client = vu.VodUploadClient(client_config(sim, tmp_path))

    class ShutsDown(Recorder):
        def started(self, file):
            client.shutdown()
            seen.set()

    client.set_listener(ShutsDown())
    client.set_sts_token(sim.access_key_id, sim.access_key_secret)
    client.add_file(write_file(tmp_path, "bye.mp4", 150 * KIB))
    client.start()
    assert seen.wait(WAIT)
    with pytest.raises(vu.VodUploadError.Closed):
        client.add_file(write_file(tmp_path, "late.mp4", 10 * KIB))


class FileBackedSource(vu.ByteSource):
    """An app-supplied byte source (as a content provider would be): positional reads only."""

    def __init__(self, path, log):
        self.fd = os.open(path, os.O_RDONLY)
        self.log = log

    def size(self):
        return os.fstat(self.fd).st_size

    def read_at(self, offset, length):
        self.log.append(length)
        return os.pread(self.fd, length, offset)

    def version(self):
        return str(os.fstat(self.fd).st_mtime_ns)

    def name(self):
        return "picked.mp4"

    def __del__(self):
        os.close(self.fd)


class MediaOpener(vu.SourceOpener):
    def __init__(self, files):
        self.files, self.reads = files, []

    def open_uri(self, uri):
        if uri not in self.files:
            raise vu.SourceError.NotFound(f"no media at {uri}")
        return FileBackedSource(self.files[uri], self.reads)


def test_a_uri_uploads_through_the_apps_byte_source(sim, client, recorder, tmp_path):
    path = write_file(tmp_path, "backing.bin", 700 * KIB)
    twin = write_file(tmp_path, "twin.mp4", 0)
    (tmp_path / twin).write_bytes((tmp_path / path).read_bytes())
    opener = MediaOpener({"content://media/1": str(tmp_path / path)})
    with pytest.raises(vu.VodUploadError.FileNotFound):
        client.add_uri("content://media/1", vu.VodInfo())  # no opener yet
    client.set_source_opener(opener)
    with pytest.raises(vu.VodUploadError.FileNotFound):
        client.add_uri("content://media/404", vu.VodInfo())

    by_uri = client.add_uri("content://media/1", vu.VodInfo(title="by uri"))
    by_path = client.add_file(str(tmp_path / twin), vu.VodInfo(title="by path"))
    info = client.file(by_uri)
    assert info.is_uri and info.path == "content://media/1" and info.bytes_total == 700 * KIB
    assert not client.file(by_path).is_uri
    client.start()
    recorder.wait_event("all_done")
    results = {e[1].id: e[2] for e in recorder.snapshot() if e[0] == "succeeded"}
    assert results[by_uri].bytes == results[by_path].bytes == 700 * KIB
    assert results[by_uri].crc64 == results[by_path].crc64, "the same bytes reached the server"
    assert results[by_uri].object_key.endswith(".mp4"), "uploaded under the source's name"
    assert opener.reads and max(opener.reads) <= 256 * KIB, "bounded reads, never the whole file"
