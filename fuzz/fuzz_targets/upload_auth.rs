//! `UploadAuth::decode` (base64 JSON from CreateUploadVideo / RefreshUploadVideo /
//! CreateUploadImage): never panics; what decodes re-encodes to the same credentials.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use vod_upload::protocol::UploadAuth;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_748_851_200); // 2025-06-02
    let Ok(auth) = UploadAuth::decode(text, now) else {
        return;
    };
    let again = UploadAuth::decode(&auth.encode(now), now).expect("an encoded UploadAuth decodes");
    let (a, b) = (&auth.credentials, &again.credentials);
    assert_eq!(a.access_key_id, b.access_key_id);
    assert_eq!(a.access_key_secret.expose(), b.access_key_secret.expose());
    assert_eq!(
        a.security_token.as_ref().map(|s| s.expose()),
        b.security_token.as_ref().map(|s| s.expose())
    );
    assert_eq!(auth.region, again.region);
    // The encoding keeps whole seconds (ExpireUTCTime, Expiration).
    let secs = |t: Option<SystemTime>| {
        t.map(|t| match t.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i128,
            Err(e) => -(e.duration().as_secs_f64().ceil() as i128),
        })
    };
    assert_eq!(secs(a.expires_at), secs(b.expires_at));
});
