//! CRC-64/XZ (ECMA-182 polynomial, reflected), OSS's `x-oss-hash-crc64ecma` (protocol.md §4.10),
//! over the SIMD implementation in `crc-fast`.

use crc_fast::{CrcAlgorithm, Digest};

const ALGORITHM: CrcAlgorithm = CrcAlgorithm::Crc64Xz;

/// An incremental CRC-64/XZ.
#[derive(Clone)]
pub struct Crc64 {
    digest: Digest,
}

impl Crc64 {
    pub fn new() -> Crc64 {
        Crc64 {
            digest: Digest::new(ALGORITHM),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.digest.update(data);
    }

    /// The CRC of everything fed so far (the digest can keep going).
    pub fn finish(&self) -> u64 {
        self.digest.finalize()
    }
}

impl Default for Crc64 {
    fn default() -> Self {
        Crc64::new()
    }
}

impl std::fmt::Debug for Crc64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Crc64({})", self.finish())
    }
}

/// CRC-64/XZ of `data` (0 for empty input).
pub fn crc64(data: &[u8]) -> u64 {
    crc_fast::checksum(ALGORITHM, data)
}

/// `crc(A ‖ B)` from `crc(A)`, `crc(B)` and `len(B)`: folds part CRCs into the object CRC
/// without reading the data again. Start a fold from 0 (the CRC of nothing).
pub fn combine(crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    if len_b == 0 {
        return crc_a;
    }
    crc_fast::checksum_combine(ALGORITHM, crc_a, crc_b, len_b)
}

/// Parses an `x-oss-hash-crc64ecma` header value (decimal u64).
pub fn parse_header(value: &str) -> Option<u64> {
    value.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values() {
        assert_eq!(crc64(b"123456789"), 0x995D_C9BB_DF19_39FA);
        assert_eq!(crc64(b"123456789"), 11051210869376104954);
        assert_eq!(
            crc64(b"This is a test of the emergency broadcast system."),
            2871916124362751090
        );
        assert_eq!(crc64(b"hello"), 11177612005948864433);
        assert_eq!(crc64(b""), 0);
        assert_eq!(Crc64::new().finish(), 0);
    }

    #[test]
    fn incremental_matches_one_shot() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut d = Crc64::new();
        for chunk in data.chunks(4093) {
            d.update(chunk);
        }
        assert_eq!(d.finish(), crc64(&data));
    }

    #[test]
    fn combine_matches_concatenation() {
        assert_eq!(
            combine(crc64(b"12345"), crc64(b"6789"), 4),
            crc64(b"123456789")
        );
        assert_eq!(combine(0, crc64(b"123456789"), 9), crc64(b"123456789"));
        assert_eq!(combine(crc64(b"abc"), 0, 0), crc64(b"abc"));
        // Fold over uneven parts, as for a multipart object.
        let data: Vec<u8> = (0..300_001u32).map(|i| (i % 253) as u8).collect();
        let acc = data
            .chunks(102_400)
            .fold(0, |acc, p| combine(acc, crc64(p), p.len() as u64));
        assert_eq!(acc, crc64(&data));
    }

    #[test]
    fn header_values() {
        assert_eq!(
            parse_header(" 11051210869376104954 "),
            Some(11051210869376104954)
        );
        assert_eq!(parse_header("-1"), None);
    }
}
