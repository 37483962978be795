//! Byte sources the app supplies, for files that are not paths: Android `content://` Uris
//! (read through `ContentResolver`), iOS PHAssets or security-scoped URLs.
//!
//! The app registers one [`SourceOpener`] (`setSourceOpener`); `addUri(uri)` and, after a
//! restart, the restored files call it to open a [`ByteSource`]. The engine reads the source in
//! chunks of at most 256 KiB at the offsets it needs, from its own threads and several parts at
//! once, so an implementation must use positional reads (`FileChannel.read(buffer, position)`,
//! `pread`), never a shared cursor. Memory stays bounded by the chunk size times the parts in
//! flight, however large the file.

use std::io;
use std::sync::Arc;

use crate::source as core;

/// Why a source could not be opened or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum SourceError {
    /// The content is gone (deleted, revoked): the file fails with `FileNotFound`.
    #[error("not found: {reason}")]
    NotFound { reason: String },
    /// The app may no longer read it (a permission was revoked).
    #[error("permission denied: {reason}")]
    PermissionDenied { reason: String },
    /// Any other read failure.
    #[error("I/O error: {reason}")]
    Io { reason: String },
    /// The implementation threw an exception UniFFI did not expect.
    #[error("source threw: {reason}")]
    Unexpected { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for SourceError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        SourceError::Unexpected { reason: e.reason }
    }
}

impl From<SourceError> for io::Error {
    fn from(e: SourceError) -> io::Error {
        let kind = match &e {
            SourceError::NotFound { .. } => io::ErrorKind::NotFound,
            SourceError::PermissionDenied { .. } => io::ErrorKind::PermissionDenied,
            SourceError::Io { .. } | SourceError::Unexpected { .. } => io::ErrorKind::Other,
        };
        io::Error::new(kind, e.to_string())
    }
}

/// The bytes of one file. Sizes and offsets are `Long`s (Java-friendly); they are never
/// negative.
#[uniffi::export(with_foreign)]
pub trait ByteSource: Send + Sync {
    /// The size in bytes now.
    fn size(&self) -> Result<i64, SourceError>;
    /// Up to `length` bytes from `offset` (fewer only at the end; empty at or after it).
    fn read_at(&self, offset: i64, length: i32) -> Result<Vec<u8>, SourceError>;
    /// A value that changes when the content changes (last-modified time, document version),
    /// or null when unknown. With the size and hashes of the first and last 64 KiB it decides
    /// whether an interrupted upload may continue.
    fn version(&self) -> Result<Option<String>, SourceError>;
    /// The name to upload under, with its extension (`OpenableColumns.DISPLAY_NAME`, an
    /// asset's original file name); null to use the URI's last segment.
    fn name(&self) -> Option<String>;
}

/// Opens the byte source of a URI passed to `addUri` (or restored after a restart).
#[uniffi::export(with_foreign)]
pub trait SourceOpener: Send + Sync {
    /// (`openUri`, not `open`: Swift's `open` keyword breaks UniFFI's generated C header.)
    fn open_uri(&self, uri: String) -> Result<Arc<dyn ByteSource>, SourceError>;
}

/// The engine's view of a foreign opener.
pub(super) struct Opener(pub(super) Arc<dyn SourceOpener>);

impl core::SourceOpener for Opener {
    fn open(&self, uri: &str) -> io::Result<Arc<dyn core::ByteSource>> {
        let source = self.0.open_uri(uri.to_owned())?;
        Ok(Arc::new(Foreign(source)))
    }
}

struct Foreign(Arc<dyn ByteSource>);

impl core::ByteSource for Foreign {
    fn size(&self) -> io::Result<u64> {
        let size = self.0.size()?;
        u64::try_from(size).map_err(|_| bad(format!("the source reported a size of {size}")))
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let offset = i64::try_from(offset).map_err(|_| bad(format!("offset {offset}")))?;
        let want = i32::try_from(buf.len()).unwrap_or(i32::MAX);
        let got = self.0.read_at(offset, want)?;
        // More than asked for would be a bug in the app's source; never guess which bytes.
        let dest = buf
            .get_mut(..got.len())
            .ok_or_else(|| bad(format!("read_at returned {} bytes for {want}", got.len())))?;
        dest.copy_from_slice(&got);
        Ok(got.len())
    }

    fn version(&self) -> io::Result<Option<String>> {
        Ok(self.0.version()?)
    }

    fn name(&self) -> Option<String> {
        self.0.name()
    }
}

fn bad(what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("invalid byte source: {what}"),
    )
}
