//! A cheap file fingerprint: has the file changed since its upload started?
//!
//! Size + mtime catch ordinary edits; the SHA-256 of the first and last 64 KiB catch a file
//! replaced by another with the same size and a preserved mtime (a restore, `cp -p`), and the
//! common in-place edits of media files (container headers at the start, index atoms at the end).
//! Reading 128 KiB costs well under a millisecond even for a 4 GiB video, unlike the whole-file
//! MD5 the native SDKs compute at every start. SHA-256 rather than CRC-64: at this size its cost
//! is negligible, and a 256-bit hash rules out accidental collisions without a second thought.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::Result;
use crate::source::{Reader, Source};

/// Bytes hashed at each end of the file.
pub const EDGE_BYTES: u64 = 64 * 1024;

/// What identifies a file's content well enough to resume its upload safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch (negative before it); 0 for an
    /// app-supplied source.
    pub mtime_ns: i64,
    /// An app-supplied source's version tag (`ByteSource::version`); `None` for files.
    pub version: Option<String>,
    /// SHA-256 of the first `min(size, 64 KiB)` bytes.
    pub head_sha256: [u8; 32],
    /// SHA-256 of the last `min(size, 64 KiB)` bytes.
    pub tail_sha256: [u8; 32],
}

impl Fingerprint {
    /// Fingerprints the file at `path`. A missing or unreadable file is [`Error::File`]
    /// (with the I/O error's kind, e.g. `NotFound`).
    ///
    /// [`Error::File`]: crate::Error::File
    pub fn of(path: &Path) -> Result<Fingerprint> {
        Fingerprint::of_source(&Source::path(path))
    }

    /// Fingerprints a file or an app-supplied source. Blocking.
    pub fn of_source(source: &Source) -> Result<Fingerprint> {
        let reader = source.reader()?;
        // Size and mtime from the open handle, so they describe the same file we hash.
        let (size, mtime_ns, version) = stamp(&reader).map_err(|e| source.error(e))?;
        let edge = size.min(EDGE_BYTES);
        let head_sha256 = hash_range(&reader, 0, edge).map_err(|e| source.error(e))?;
        let tail_sha256 = hash_range(&reader, size - edge, edge).map_err(|e| source.error(e))?;
        Ok(Fingerprint {
            size,
            mtime_ns,
            version,
            head_sha256,
            tail_sha256,
        })
    }

    /// Whether the file at `path` still has this fingerprint. Compares size and mtime first and
    /// reads the file only when they match. A missing file is an error, not `false`: the caller
    /// reports it as such (`FileNotExist`) rather than restarting the upload.
    pub fn matches(&self, path: &Path) -> Result<bool> {
        let source = Source::path(path);
        let reader = source.reader()?;
        if stamp(&reader).map_err(|e| source.error(e))?
            != (self.size, self.mtime_ns, self.version.clone())
        {
            return Ok(false);
        }
        drop(reader);
        Ok(Fingerprint::of_source(&source)? == *self)
    }
}

fn stamp(reader: &Reader) -> std::io::Result<(u64, i64, Option<String>)> {
    Ok((reader.size()?, reader.mtime_ns()?, reader.version()?))
}

fn hash_range(reader: &Reader, offset: u64, len: u64) -> std::io::Result<[u8; 32]> {
    // At most EDGE_BYTES: one buffer, one positional read.
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
    reader.read_exact_at(&mut buf, offset)?;
    Ok(Sha256::digest(&buf).into())
}

/// Lower-case hex, as stored in the database.
pub(crate) fn to_hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses [`to_hex`]'s output; `None` if it is not 64 hex digits.
pub(crate) fn from_hex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        // ASCII was checked, so each pair is a valid &str.
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}
