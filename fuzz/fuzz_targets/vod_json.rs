//! The VOD / STS JSON responses (CreateUploadVideo, RefreshUploadVideo, CreateUploadImage,
//! AssumeRole) as the transport reads them (`serde_json::from_slice` into the public response
//! types), then the base64 members as the engine decodes them: never panics; a parsed
//! response serialises and parses back equal.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use vod_upload::protocol::credentials::parse_utc_time;
use vod_upload::protocol::vod::{
    AssumeRoleResponse, CreateUploadImageResponse, CreateUploadVideoResponse,
    RefreshUploadVideoResponse,
};
use vod_upload::protocol::{UploadAddress, UploadAuth};

fn parse<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(data: &[u8]) -> Option<T> {
    let doc = serde_json::from_slice::<T>(data).ok()?;
    let json = serde_json::to_vec(&doc).expect("a parsed response serialises");
    let again = serde_json::from_slice::<T>(&json).expect("a serialised response parses");
    assert_eq!(doc, again);
    Some(doc)
}

fn members(address: &str, auth: &str) {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_748_851_200);
    let _ = UploadAddress::decode(address);
    let _ = UploadAuth::decode(auth, now);
}

fuzz_target!(|data: &[u8]| {
    if let Some(r) = parse::<CreateUploadVideoResponse>(data) {
        members(&r.upload_address, &r.upload_auth);
    }
    if let Some(r) = parse::<RefreshUploadVideoResponse>(data) {
        members(&r.upload_address, &r.upload_auth);
    }
    if let Some(r) = parse::<CreateUploadImageResponse>(data) {
        members(&r.upload_address, &r.upload_auth);
    }
    if let Some(r) = parse::<AssumeRoleResponse>(data) {
        let _ = parse_utc_time(&r.credentials.expiration);
    }
});
