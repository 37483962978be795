//! The response headers and times the client reads: `Date` (`error::parse_date`), ISO-8601
//! UTC times (`credentials::parse_utc_time`: ExpireUTCTime, STS Expiration), `x-oss-date`
//! (`sign::parse_v4_date`), `x-oss-hash-crc64ecma` (`crc64::parse_header`), and the
//! `Authorization` header the simulator reads (`sign::parse_authorization`): never panics;
//! a parsed UTC time formats and parses back to its whole second.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use vod_upload::protocol::credentials::{format_utc_time, parse_utc_time};
use vod_upload::protocol::error::parse_date;
use vod_upload::protocol::{crc64, sign};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_date(Some(text));
    let _ = sign::parse_v4_date(text);
    let _ = crc64::parse_header(text);
    let _ = sign::parse_authorization(text);
    if let Some(t) = parse_utc_time(text) {
        // Round trip for the years the format writes (0000..=9999, after the epoch here).
        if let Ok(d) = t.duration_since(SystemTime::UNIX_EPOCH) {
            if d < Duration::from_secs(253_402_300_800) {
                let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(d.as_secs());
                assert_eq!(parse_utc_time(&format_utc_time(t)), Some(whole));
            }
        }
    }
});
