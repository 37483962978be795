//! `media::probe` (MP4/MOV/M4A/3GP headers, for CreateUploadVideo's UserData) on the input as
//! a whole file, then `media::merge_user_data`: never panics, never reads past the file,
//! reads at most the box headers plus a bounded `moov`, and the merged UserData is a JSON
//! object that keeps the app's keys. `src/media.rs` is `pub(crate)` in the library, so it is
//! compiled into this target directly.
#![no_main]

#[path = "../../src/media.rs"]
mod media;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let size = data.len() as u64;
    let mut read = 0u64;
    let info = media::probe(size, &mut |buf, offset| {
        let start = usize::try_from(offset).expect("offset fits");
        let end = start.checked_add(buf.len()).expect("no overflow");
        assert!(end <= data.len(), "read past the end: {start}..{end} of {}", data.len());
        read += buf.len() as u64;
        buf.copy_from_slice(&data[start..end]);
        Ok(())
    });
    // Header reads are served from 4 KiB read-ahead chunks; the moov is bounded.
    assert!(read <= size.min(media::MAX_MOOV + (1 << 20)) + 4096 * 1100);
    if let Some(info) = info {
        let merged = media::merge_user_data(Some(r#"{"Duration":"app","Vod":{"a":1}}"#), &info)
            .expect("an object merges");
        let value: serde_json::Value = serde_json::from_str(&merged).expect("valid JSON");
        assert_eq!(value["Duration"], "app");
        assert_eq!(value["Vod"]["a"], 1);
        merge_user_data_none(&info);
    }
});

fn merge_user_data_none(info: &media::MediaInfo) {
    let merged = media::merge_user_data(None, info).expect("no user data merges");
    let value: serde_json::Value = serde_json::from_str(&merged).expect("valid JSON");
    assert!(value.is_object());
}
