import vod_upload


def test_module_loads_native_library():
    assert vod_upload.core_version().startswith("vod-upload ")
