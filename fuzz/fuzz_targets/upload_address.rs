//! `UploadAddress::decode` (base64 JSON from VOD): never panics; decode(encode(x)) == x.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vod_upload::protocol::UploadAddress;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(address) = UploadAddress::decode(text) else {
        return;
    };
    let again = UploadAddress::decode(&address.encode()).expect("an encoded UploadAddress decodes");
    assert_eq!(address, again);
});
