//! Media facts for mode 2's CreateUploadVideo `UserData`, as the native SDKs send them.
//!
//! The native Android and iOS upload SDKs measure the video and merge `Duration` (seconds),
//! `Bitrate` (kbit/s), `Fps`, `Width` and `Height` (all as strings) into the app's `UserData`
//! JSON. [`probe`] reads those facts from an MP4 / MOV / M4A / 3GP container and
//! [`merge_user_data`] adds them to the app's JSON without overwriting its keys.
//!
//! ## Parser: `mp4-atom`
//!
//! The boxes are decoded by the [`mp4_atom`] crate (MIT/Apache-2.0), chosen over the others:
//!
//! * `mp4` (alfg/mp4-rust): seeks over `mdat`, but its hand-rolled box readers are known to
//!   panic and to allocate `vec![0; size]` / `Vec::with_capacity(count)` from lengths in the
//!   file (Signal dropped it for the OOMs its fuzzing found);
//! * `mp4parse` (Mozilla): robust, but `read_mp4` takes a plain `Read` and skips `mdat` by
//!   reading through it (a 4 GiB file with `moov` at the end costs 4 GiB of reads), and it
//!   reserves `TryVec`s by entry counts from the file;
//! * `mp4-atom`: fuzzed (it never sizes an allocation by an untrusted count; its `read_body`
//!   grows with the bytes actually read), tolerant of unknown boxes and of QuickTime quirks
//!   (padding after child boxes, `mebx`/`camm` metadata sample entries), few dependencies
//!   (`num`, `derive_more`, `pastey`, `thiserror`, `tracing`), and it exposes the box header
//!   reader separately, so the top-level walk here reads only the 8 or 16 header bytes of each
//!   box and *seeks* over `ftyp`, `free`, `wide`, `mdat`, ...: a 4 GiB file costs a few KiB of
//!   reads plus the `moov` box itself, whether `moov` comes first or last.
//!
//! The only size taken from the file that decides an allocation is `moov`'s, bounded by
//! [`MAX_MOOV`] and by the file size; everything inside is decoded from that buffer.

use std::io::{self, Read, Seek, SeekFrom};

use mp4_atom::{FourCC, Header, Moov, ReadAtom, ReadFrom};
use serde_json::{Map, Value};

/// What the container says about the media (None for what it does not say).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MediaInfo {
    pub duration_s: Option<f64>,
    pub bitrate_kbps: Option<u64>,
    pub fps: Option<f64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Largest `moov` box read: a two-hour 60 fps video with audio has a `moov` of a few MiB.
pub(crate) const MAX_MOOV: u64 = 64 << 20;
/// Most top-level boxes walked before giving up (real files have a handful).
const MAX_TOP_LEVEL_BOXES: usize = 1024;
/// The adapter's read-ahead: one positional read serves several small header reads.
const CHUNK: usize = 4096;

/// Probes an MP4/MOV/M4A/3GP container through positional reads (`read_at(buf, offset)`
/// fills buf exactly or errors); `None` when the bytes are not such a container (or are
/// malformed, or cannot be read); never reads the media data.
///
/// Over a file source: `probe(len, &mut |buf, off| reader.read_exact_at(buf, off))`.
pub(crate) fn probe(
    size: u64,
    read_at: &mut dyn FnMut(&mut [u8], u64) -> io::Result<()>,
) -> Option<MediaInfo> {
    let mut reader = PosReader::new(size, read_at);
    let moov = find_moov(&mut reader, size)?;
    Some(media_info(&moov, size))
}

/// Walks the top-level boxes, seeking over all but `moov`, and decodes the first `moov`.
fn find_moov(r: &mut PosReader<'_>, size: u64) -> Option<Moov> {
    for _ in 0..MAX_TOP_LEVEL_BOXES {
        let start = r.pos;
        if start >= size {
            return None;
        }
        let header = <Option<Header> as ReadFrom>::read_from(r).ok()??;
        // Garbage rarely starts with four printable characters: stop before walking it.
        let kind: &[u8; 4] = header.kind.as_ref();
        if !kind.iter().all(|b| (0x20..0x7f).contains(b)) {
            return None;
        }
        let header_len = r.pos - start;
        let body = match header.size {
            Some(body) => u64::try_from(body).ok()?,
            // Size 0: the box runs to the end of the file.
            None => size.checked_sub(r.pos)?,
        };
        let end = r.pos.checked_add(body)?;
        if end > size {
            // Truncated (or lying about its size): nothing past it can be trusted.
            return None;
        }
        if header.kind == FourCC::new(b"moov") {
            if body > MAX_MOOV {
                return None;
            }
            let header = Header {
                kind: header.kind,
                size: Some(usize::try_from(body).ok()?),
            };
            return Moov::read_atom(&header, r).ok();
        }
        debug_assert!(header_len >= 8);
        r.seek(SeekFrom::Start(end)).ok()?;
    }
    None
}

fn media_info(moov: &Moov, file_size: u64) -> MediaInfo {
    let seconds = |duration: u64, timescale: u32| {
        // u32::MAX / u64::MAX mean "unknown" in mvhd/mdhd.
        (timescale > 0 && duration > 0 && duration != u64::from(u32::MAX) && duration != u64::MAX)
            .then(|| duration as f64 / f64::from(timescale))
    };
    let track_seconds = |t: &mp4_atom::Trak| seconds(t.mdia.mdhd.duration, t.mdia.mdhd.timescale);

    let duration_s = seconds(moov.mvhd.duration, moov.mvhd.timescale)
        .or_else(|| moov.trak.iter().filter_map(track_seconds).reduce(f64::max));
    let bitrate_kbps = duration_s
        .filter(|d| *d >= 0.001)
        .map(|d| (file_size as f64 * 8.0 / d / 1000.0).round() as u64);

    let video = moov
        .trak
        .iter()
        .find(|t| t.mdia.hdlr.handler == FourCC::new(b"vide"));
    let (mut fps, mut width, mut height) = (None, None, None);
    if let Some(video) = video {
        let samples: u64 = video
            .mdia
            .minf
            .stbl
            .stts
            .entries
            .iter()
            .map(|e| u64::from(e.sample_count))
            .sum();
        fps = track_seconds(video)
            .filter(|_| samples > 0)
            .map(|s| round3(samples as f64 / s))
            .filter(|f| f.is_finite());
        let dim = |v: u16| (v > 0).then_some(u32::from(v));
        width = dim(video.tkhd.width.integer());
        height = dim(video.tkhd.height.integer());
    }
    MediaInfo {
        duration_s,
        bitrate_kbps,
        fps,
        width,
        height,
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// `12.345`, `2.5`, `30`: three decimals at most, trailing zeros trimmed.
fn decimal(v: f64) -> String {
    let s = format!("{:.3}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// The UserData JSON for CreateUploadVideo: the app's JSON object (if any) with Duration,
/// Bitrate, Fps, Width, Height added as strings (the app's own keys win: never overwrite).
/// Errors (a clear message) when the app's user_data is not a JSON object.
pub(crate) fn merge_user_data(
    user_data: Option<&str>,
    media: &MediaInfo,
) -> Result<String, String> {
    let mut object = match user_data.map(str::trim).filter(|s| !s.is_empty()) {
        None => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(object)) => object,
            Ok(other) => {
                let kind = match other {
                    Value::Null => "null",
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::String(_) => "a string",
                    Value::Array(_) => "an array",
                    Value::Object(_) => unreachable!(),
                };
                return Err(format!(
                    "user_data must be a JSON object (like {{\"Vod\":{{...}}}}), not {kind}"
                ));
            }
            Err(e) => return Err(format!("user_data is not valid JSON: {e}")),
        },
    };
    let facts = [
        (
            "Duration",
            media.duration_s.filter(|d| d.is_finite()).map(decimal),
        ),
        ("Bitrate", media.bitrate_kbps.map(|b| b.to_string())),
        ("Fps", media.fps.filter(|f| f.is_finite()).map(decimal)),
        ("Width", media.width.map(|w| w.to_string())),
        ("Height", media.height.map(|h| h.to_string())),
    ];
    for (key, value) in facts {
        if let Some(value) = value {
            object.entry(key.to_owned()).or_insert(Value::String(value));
        }
    }
    serde_json::to_string(&Value::Object(object)).map_err(|e| format!("user_data: {e}"))
}

/// `Read + Seek` over positional reads, with a small read-ahead buffer; counts the bytes it
/// asked for (the tests check that `mdat` is never read).
struct PosReader<'a> {
    read_at: &'a mut dyn FnMut(&mut [u8], u64) -> io::Result<()>,
    size: u64,
    pos: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

impl<'a> PosReader<'a> {
    fn new(size: u64, read_at: &'a mut dyn FnMut(&mut [u8], u64) -> io::Result<()>) -> Self {
        Self {
            read_at,
            size,
            pos: 0,
            buf: Vec::new(),
            buf_start: 0,
        }
    }
}

impl Read for PosReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || self.pos >= self.size {
            return Ok(0);
        }
        let left = self.size - self.pos;
        let buf_end = self.buf_start + self.buf.len() as u64;
        if self.pos < self.buf_start || self.pos >= buf_end {
            // A large read goes straight into the caller's buffer.
            if out.len() >= CHUNK {
                let n = usize::try_from(left).map_or(out.len(), |l| l.min(out.len()));
                (self.read_at)(&mut out[..n], self.pos)?;
                self.pos += n as u64;
                return Ok(n);
            }
            let n = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
            self.buf.resize(n, 0);
            if let Err(e) = (self.read_at)(&mut self.buf, self.pos) {
                self.buf.clear();
                return Err(e);
            }
            self.buf_start = self.pos;
        }
        let from = (self.pos - self.buf_start) as usize;
        let n = out.len().min(self.buf.len() - from);
        out[..n].copy_from_slice(&self.buf[from..from + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for PosReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "seek out of range");
        self.pos = match to {
            SeekFrom::Start(p) => p,
            SeekFrom::Current(d) => self.pos.checked_add_signed(d).ok_or_else(invalid)?,
            SeekFrom::End(d) => self.size.checked_add_signed(d).ok_or_else(invalid)?,
        };
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mp4_atom::esds::{DecoderConfig, EsDescriptor};
    use mp4_atom::{
        Audio, Avc1, Avcc, Codec, Encode, Esds, FixedPoint, Ftyp, Hdlr, Mdhd, Mdia, Minf, Mp4a,
        Mvhd, Smhd, Stbl, Stco, Stsc, StscEntry, Stsd, Stsz, StszSamples, Stts, SttsEntry, Tkhd,
        Trak, Visual, Vmhd,
    };

    /// A file made of byte runs at offsets, zeros in between (a huge `mdat` costs nothing).
    struct SparseFile {
        size: u64,
        runs: Vec<(u64, Vec<u8>)>,
    }

    impl SparseFile {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
            let end = offset + buf.len() as u64;
            if end > self.size {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "past the end"));
            }
            buf.fill(0);
            for (start, bytes) in &self.runs {
                let run_end = start + bytes.len() as u64;
                let (lo, hi) = (offset.max(*start), end.min(run_end));
                if lo < hi {
                    buf[(lo - offset) as usize..(hi - offset) as usize]
                        .copy_from_slice(&bytes[(lo - start) as usize..(hi - start) as usize]);
                }
            }
            Ok(())
        }

        /// Probes and returns the bytes read.
        fn probe(&self) -> (Option<MediaInfo>, u64) {
            let mut read = 0u64;
            let info = probe(self.size, &mut |buf, off| {
                read += buf.len() as u64;
                self.read_at(buf, off)
            });
            (info, read)
        }
    }

    fn bytes(size: u64, data: &[u8]) -> SparseFile {
        assert_eq!(size, data.len() as u64);
        SparseFile {
            size,
            runs: vec![(0, data.to_vec())],
        }
    }

    fn encode(atom: &impl Encode) -> Vec<u8> {
        let mut out = Vec::new();
        atom.encode(&mut out).unwrap();
        out
    }

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        encode(&Ftyp {
            major_brand: FourCC::new(major),
            minor_version: 0x200,
            compatible_brands: compatible.iter().map(|b| FourCC::new(b)).collect(),
        })
    }

    /// An `mdat` header (64-bit size when large) whose payload the test leaves as zeros.
    fn mdat_header(payload: u64) -> Vec<u8> {
        let mut out = Vec::new();
        if payload + 8 > u64::from(u32::MAX) {
            out.extend_from_slice(&1u32.to_be_bytes());
            out.extend_from_slice(b"mdat");
            out.extend_from_slice(&(payload + 16).to_be_bytes());
        } else {
            out.extend_from_slice(&((payload + 8) as u32).to_be_bytes());
            out.extend_from_slice(b"mdat");
        }
        out
    }

    fn track(id: u32, handler: &[u8; 4], timescale: u32, samples: u32, delta: u32) -> Trak {
        let video = handler == b"vide";
        let codec: Codec = if video {
            Avc1 {
                visual: Visual {
                    width: 1280,
                    height: 720,
                    ..Default::default()
                },
                avcc: Avcc {
                    configuration_version: 1,
                    avc_profile_indication: 0x64,
                    avc_level_indication: 0x1f,
                    length_size: 4,
                    ..Default::default()
                },
                ..Default::default()
            }
            .into()
        } else {
            Mp4a {
                audio: Audio {
                    data_reference_index: 1,
                    channel_count: 2,
                    sample_size: 16,
                    sample_rate: FixedPoint::new(44100, 0),
                },
                esds: Esds {
                    es_desc: EsDescriptor {
                        es_id: 2,
                        dec_config: DecoderConfig {
                            object_type_indication: 0x40,
                            stream_type: 5,
                            ..Default::default()
                        },
                        ..Default::default()
                    },
                },
                btrt: None,
                taic: None,
            }
            .into()
        };
        let duration = u64::from(samples) * u64::from(delta);
        Trak {
            tkhd: Tkhd {
                track_id: id,
                duration: duration * 1000 / u64::from(timescale),
                enabled: true,
                in_movie: true,
                width: FixedPoint::new(if video { 1280 } else { 0 }, 0),
                height: FixedPoint::new(if video { 720 } else { 0 }, 0),
                ..Default::default()
            },
            mdia: Mdia {
                mdhd: Mdhd {
                    timescale,
                    duration,
                    language: "und".into(),
                    ..Default::default()
                },
                hdlr: Hdlr {
                    handler: FourCC::new(handler),
                    name: "Handler".into(),
                },
                minf: Minf {
                    vmhd: video.then(Vmhd::default),
                    smhd: (!video).then(Smhd::default),
                    stbl: Stbl {
                        stsd: Stsd {
                            codecs: vec![codec],
                        },
                        stts: Stts {
                            entries: vec![SttsEntry {
                                sample_count: samples,
                                sample_delta: delta,
                            }],
                        },
                        stsc: Stsc {
                            entries: vec![StscEntry {
                                first_chunk: 1,
                                samples_per_chunk: samples,
                                sample_description_index: 1,
                            }],
                        },
                        stsz: Stsz {
                            samples: StszSamples::Identical {
                                count: samples,
                                size: 1000,
                            },
                        },
                        stco: Some(Stco { entries: vec![48] }),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            },
            ..Default::default()
        }
    }

    /// 2.5 s of 1280x720 at 30 fps (75 samples at 1/15360), plus AAC-like audio.
    fn video_moov() -> Vec<u8> {
        encode(&Moov {
            mvhd: Mvhd {
                timescale: 1000,
                duration: 2500,
                next_track_id: 3,
                ..Default::default()
            },
            trak: vec![
                track(1, b"vide", 15360, 75, 512),
                track(2, b"soun", 44100, 107, 1024),
            ],
            ..Default::default()
        })
    }

    fn concat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    const MDAT: u64 = 6 << 30; // 6 GiB: needs a 64-bit box size, never read

    fn expect_video(info: &MediaInfo, size: u64) {
        assert_eq!(info.duration_s, Some(2.5));
        assert_eq!(info.fps, Some(30.0));
        assert_eq!(info.width, Some(1280));
        assert_eq!(info.height, Some(720));
        assert_eq!(
            info.bitrate_kbps,
            Some((size as f64 * 8.0 / 2.5 / 1000.0).round() as u64)
        );
    }

    #[test]
    fn moov_first_video_skips_mdat() {
        let head = concat(&[
            &ftyp(b"isom", &[b"isom", b"iso2", b"avc1", b"mp41"]),
            &video_moov(),
            &mdat_header(MDAT),
        ]);
        let size = head.len() as u64 + MDAT;
        let file = SparseFile {
            size,
            runs: vec![(0, head.clone())],
        };
        let (info, read) = file.probe();
        let info = info.expect("an mp4");
        expect_video(&info, size);
        assert!(read < 16 * 1024, "read {read} bytes");
        // 6 GiB over 2.5 s, about 20.6 Gbit/s.
        assert!((20_615_000..20_625_000).contains(&info.bitrate_kbps.unwrap()));
    }

    #[test]
    fn moov_at_end_video_skips_mdat() {
        let head = concat(&[&ftyp(b"mp42", &[b"mp42", b"isom"]), &mdat_header(MDAT)]);
        let moov = video_moov();
        let moov_at = head.len() as u64 + MDAT;
        let size = moov_at + moov.len() as u64;
        let file = SparseFile {
            size,
            runs: vec![(0, head), (moov_at, moov.clone())],
        };
        let (info, read) = file.probe();
        expect_video(&info.expect("an mp4"), size);
        eprintln!(
            "moov at the end of a {size}-byte file: read {read} bytes (moov {})",
            moov.len()
        );
        // ftyp + mdat header chunk, then the moov: nothing of the 6 GiB in between.
        assert!(
            read < 2 * CHUNK as u64 + moov.len() as u64,
            "read {read} bytes"
        );
    }

    #[test]
    fn quicktime_mov() {
        // QuickTime's layout: ftyp 'qt  ', a 'wide' placeholder, mdat, then moov.
        let wide = [0, 0, 0, 8, b'w', b'i', b'd', b'e'];
        let head = concat(&[&ftyp(b"qt  ", &[b"qt  "]), &wide, &mdat_header(10 << 20)]);
        let moov = video_moov();
        let moov_at = head.len() as u64 + (10 << 20);
        let size = moov_at + moov.len() as u64;
        let file = SparseFile {
            size,
            runs: vec![(0, head), (moov_at, moov)],
        };
        let (info, read) = file.probe();
        expect_video(&info.expect("a mov"), size);
        assert!(read < 16 * 1024, "read {read} bytes");
    }

    #[test]
    fn audio_only_m4a() {
        let moov = encode(&Moov {
            mvhd: Mvhd {
                timescale: 44100,
                duration: 441 * 1234, // 12.34 s
                next_track_id: 2,
                ..Default::default()
            },
            trak: vec![track(1, b"soun", 44100, 532, 1024)],
            ..Default::default()
        });
        let data = concat(&[
            &ftyp(b"M4A ", &[b"M4A ", b"mp42", b"isom"]),
            &moov,
            &mdat_header(0),
        ]);
        let file = bytes(data.len() as u64, &data);
        let info = file.probe().0.expect("an m4a");
        assert_eq!(info.duration_s, Some(12.34));
        assert_eq!(info.fps, None);
        assert_eq!(info.width, None);
        assert_eq!(info.height, None);
        let kbps = (data.len() as f64 * 8.0 / 12.34 / 1000.0).round() as u64;
        assert_eq!(info.bitrate_kbps, Some(kbps));
    }

    #[test]
    fn duration_falls_back_to_the_longest_track() {
        let moov = encode(&Moov {
            mvhd: Mvhd {
                timescale: 1000,
                duration: 0,
                next_track_id: 3,
                ..Default::default()
            },
            trak: vec![
                track(1, b"vide", 15360, 75, 512),
                track(2, b"soun", 44100, 129, 1024), // 2.995 s
            ],
            ..Default::default()
        });
        let data = concat(&[&ftyp(b"isom", &[]), &moov]);
        let info = bytes(data.len() as u64, &data).probe().0.unwrap();
        assert_eq!(info.duration_s.map(round3), Some(2.995));
        assert_eq!(info.fps, Some(30.0));
    }

    #[test]
    fn truncated_random_and_empty_are_not_media() {
        let full = concat(&[&ftyp(b"isom", &[b"isom"]), &video_moov()]);
        assert!(bytes(full.len() as u64, &full).probe().0.is_some());
        for cut in [1, 7, 8, 40, full.len() / 2, full.len() - 1] {
            let data = &full[..cut];
            assert_eq!(bytes(cut as u64, data).probe().0, None, "cut at {cut}");
        }
        // The moov claims more bytes than the file has.
        let moov_at = ftyp(b"isom", &[b"isom"]).len();
        let mut lying = full.clone();
        lying[moov_at..moov_at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(bytes(lying.len() as u64, &lying).probe().0, None);

        let mut rng = fastrand::Rng::with_seed(7);
        for len in [1usize, 16, 4096, 100_000] {
            let data: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            assert_eq!(bytes(len as u64, &data).probe().0, None);
        }
        assert_eq!(bytes(0, &[]).probe(), (None, 0));
        // Not a container at all.
        let text = b"{\"hello\": \"this is a JSON file, not a video\"}";
        assert_eq!(bytes(text.len() as u64, text).probe().0, None);
    }

    #[test]
    fn read_errors_are_not_media() {
        let data = concat(&[&ftyp(b"isom", &[b"isom"]), &video_moov()]);
        let info = probe(data.len() as u64, &mut |_, _| {
            Err(io::Error::other("disk gone"))
        });
        assert_eq!(info, None);
    }

    #[test]
    fn oversized_moov_is_refused_without_reading_it() {
        let mut head = ftyp(b"isom", &[b"isom"]);
        let body = MAX_MOOV + 1;
        head.extend_from_slice(&1u32.to_be_bytes());
        head.extend_from_slice(b"moov");
        head.extend_from_slice(&(body + 16).to_be_bytes());
        let size = head.len() as u64 + body;
        let file = SparseFile {
            size,
            runs: vec![(0, head)],
        };
        let (info, read) = file.probe();
        assert_eq!(info, None);
        assert!(read <= CHUNK as u64, "read {read} bytes");
    }

    fn media() -> MediaInfo {
        MediaInfo {
            duration_s: Some(12.345),
            bitrate_kbps: Some(2048),
            fps: Some(29.97),
            width: Some(1280),
            height: Some(720),
        }
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn merge_without_user_data() {
        let json = merge_user_data(None, &media()).unwrap();
        assert_eq!(
            parse(&json),
            serde_json::json!({
                "Duration": "12.345", "Bitrate": "2048", "Fps": "29.97",
                "Width": "1280", "Height": "720"
            })
        );
        assert_eq!(merge_user_data(Some("  "), &media()).unwrap(), json);
        let two_and_a_half = MediaInfo {
            duration_s: Some(2.5),
            fps: Some(30.0),
            ..media()
        };
        let v = parse(&merge_user_data(None, &two_and_a_half).unwrap());
        assert_eq!(v["Duration"], "2.5");
        assert_eq!(v["Fps"], "30");
    }

    #[test]
    fn merge_keeps_the_apps_keys() {
        let app = r#"{"Duration":"99","Vod":{"Title":"x"},"Extra":1}"#;
        let v = parse(&merge_user_data(Some(app), &media()).unwrap());
        assert_eq!(v["Duration"], "99", "the app's Duration wins");
        assert_eq!(v["Vod"], serde_json::json!({"Title": "x"}));
        assert_eq!(v["Extra"], 1);
        assert_eq!(v["Width"], "1280");
        assert_eq!(v["Bitrate"], "2048");
    }

    #[test]
    fn merge_keeps_a_nested_callback_config() {
        let app = r#"{"MessageCallback":{"CallbackURL":"https://example.com/cb","CallbackType":"http"},"Extend":{"MyId":"42"}}"#;
        let v = parse(&merge_user_data(Some(app), &media()).unwrap());
        assert_eq!(
            v["MessageCallback"],
            serde_json::json!({"CallbackURL": "https://example.com/cb", "CallbackType": "http"})
        );
        assert_eq!(v["Extend"], serde_json::json!({"MyId": "42"}));
        assert_eq!(v["Height"], "720");
    }

    #[test]
    fn merge_adds_only_what_is_known() {
        let audio = MediaInfo {
            fps: None,
            width: None,
            height: None,
            ..media()
        };
        let v = parse(&merge_user_data(Some("{}"), &audio).unwrap());
        assert_eq!(
            v,
            serde_json::json!({"Duration": "12.345", "Bitrate": "2048"})
        );
    }

    #[test]
    fn merge_rejects_what_is_not_an_object() {
        let err = merge_user_data(Some("{\"a\":"), &media()).unwrap_err();
        assert!(err.contains("not valid JSON"), "{err}");
        let err = merge_user_data(Some("[1,2]"), &media()).unwrap_err();
        assert!(
            err.contains("JSON object") && err.contains("an array"),
            "{err}"
        );
        let err = merge_user_data(Some("\"text\""), &media()).unwrap_err();
        assert!(err.contains("a string"), "{err}");
    }

    #[test]
    fn reader_adapter_serves_reads_and_seeks() {
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let file = bytes(data.len() as u64, &data);
        let mut calls = 0;
        let mut read_at = |buf: &mut [u8], off: u64| {
            calls += 1;
            file.read_at(buf, off)
        };
        let mut r = PosReader::new(data.len() as u64, &mut read_at);
        let mut small = [0u8; 8];
        r.read_exact(&mut small).unwrap();
        r.read_exact(&mut small).unwrap();
        assert_eq!(small, data[8..16]);
        r.seek(SeekFrom::Start(9_000)).unwrap();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, data[9_000..]);
        assert_eq!(r.seek(SeekFrom::Current(-10)).unwrap(), 9_990);
        assert!(r.seek(SeekFrom::Current(-20_000)).is_err());
        drop(r);
        assert_eq!(calls, 2, "one read-ahead, one tail read");
    }
}
