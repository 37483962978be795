//! `parse_oss_error`: never panics. Input: four header lines (status, x-oss-request-id, Date,
//! x-oss-err; an empty line is an absent header) and then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vod_upload::protocol::parse_oss_error;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut line = || -> Option<String> {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let text = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = rest.get(end + 1..).unwrap_or_default();
        (!text.is_empty()).then_some(text)
    };
    let status = line()
        .and_then(|s| s.trim().parse::<u16>().ok())
        .unwrap_or(400);
    let request_id = line();
    let date = line();
    let x_oss_err = line();
    let err = parse_oss_error(
        status,
        request_id.as_deref(),
        date.as_deref(),
        x_oss_err.as_deref(),
        rest,
    );
    assert_eq!(err.status, status);
    assert!(!err.code.is_empty());
    let _ = format!("{err:?}");
});
