//! `parse_vod_error` / `parse_rpc_error_document` (VOD and STS JSON error bodies): never
//! panics. Input: the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vod_upload::error::Service;
use vod_upload::protocol::error::parse_rpc_error_document;
use vod_upload::protocol::parse_vod_error;

fuzz_target!(|data: &[u8]| {
    let doc = parse_rpc_error_document(data);
    for (service, status) in [
        (Service::Vod, 400),
        (Service::Sts, 403),
        (Service::Vod, 999),
    ] {
        let err = parse_vod_error(service, status, data);
        assert_eq!(err.status, status);
        if let Some(doc) = &doc {
            assert_eq!(&err.code, &doc.code);
        }
        let _ = format!("{err:?}");
    }
});
