//! Where a file's bytes come from: a local path, or a byte source the app supplies.
//!
//! Phones hand apps media that are not paths: a `content://` Uri from the Android picker, a
//! PHAsset or a security-scoped URL on iOS. Copying a multi-GB video to the cache before
//! uploading costs disk, time and battery, so the engine reads such files through the app's
//! [`ByteSource`], in bounded chunks at the offsets it needs. Files are kept in the queue (and
//! the checkpoint database) by URI; after a restart the app's [`SourceOpener`] opens the URI
//! again, so a killed app resumes these uploads like path uploads.

use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{Error, Result};

/// Bytes the app supplies for a file that is not a local path.
///
/// Called from the engine's blocking threads, several parts of one file at a time: an
/// implementation must allow concurrent `read_at` calls (positional reads, no shared cursor).
pub trait ByteSource: Send + Sync {
    /// The size in bytes now.
    fn size(&self) -> io::Result<u64>;
    /// Reads up to `buf.len()` bytes at `offset` into `buf` and returns how many; `Ok(0)` only
    /// at the end.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// A value that changes when the content changes (a modification time, a document
    /// version), or `None` when the source cannot tell. Part of the fingerprint that decides
    /// whether an interrupted upload may continue.
    fn version(&self) -> io::Result<Option<String>>;
    /// The name to upload under, with its extension (Android's `DISPLAY_NAME`, an asset's
    /// original file name): VOD takes the media type from it. `None` uses the URI's last
    /// segment.
    fn name(&self) -> Option<String> {
        None
    }
}

/// Opens the byte source of a file added by URI: when its upload starts, and again after an
/// app restart (so the app registers its opener before `start`).
pub trait SourceOpener: Send + Sync {
    fn open(&self, uri: &str) -> io::Result<Arc<dyn ByteSource>>;
}

/// A file's location in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FileSource {
    /// A local file.
    Path(PathBuf),
    /// A URI the app's [`SourceOpener`] opens (`content://…`, an asset id, …).
    Uri(String),
}

impl From<PathBuf> for FileSource {
    fn from(path: PathBuf) -> FileSource {
        FileSource::Path(path)
    }
}

impl From<&Path> for FileSource {
    fn from(path: &Path) -> FileSource {
        FileSource::Path(path.to_owned())
    }
}

impl FileSource {
    /// The path, or the URI as a path, for messages and `Error::File`.
    pub fn display_path(&self) -> PathBuf {
        match self {
            FileSource::Path(p) => p.clone(),
            FileSource::Uri(u) => PathBuf::from(u),
        }
    }

    /// The text kept in the database and shown to apps: the path or the URI.
    pub fn location(&self) -> String {
        match self {
            FileSource::Path(p) => p.display().to_string(),
            FileSource::Uri(u) => u.clone(),
        }
    }

    /// The last path segment (without a URI's query), for default titles and content types.
    pub fn file_name(&self) -> Option<String> {
        match self {
            FileSource::Path(p) => p.file_name().map(|n| n.to_string_lossy().into_owned()),
            FileSource::Uri(u) => {
                let u = u.split(['?', '#']).next().unwrap_or(u);
                let name = u.rsplit('/').next().unwrap_or(u);
                let name = percent_encoding::percent_decode_str(name)
                    .decode_utf8_lossy()
                    .into_owned();
                (!name.is_empty()).then_some(name)
            }
        }
    }

    /// Opens it for reading: a path directly, a URI through `opener`.
    pub fn open(&self, opener: Option<&Arc<dyn SourceOpener>>) -> Result<Source> {
        match self {
            FileSource::Path(p) => Ok(Source::path(p)),
            FileSource::Uri(u) => {
                let Some(opener) = opener else {
                    return Err(Error::File {
                        path: PathBuf::from(u),
                        source: io::Error::new(
                            io::ErrorKind::NotFound,
                            "no source opener is set: register one (set_source_opener) before \
                             start so files added by URI can be read",
                        ),
                    });
                };
                let source = opener.open(u).map_err(|source| Error::File {
                    path: PathBuf::from(u),
                    source,
                })?;
                let name = source.name().filter(|n| !n.trim().is_empty());
                Ok(Source {
                    file_name: name.or_else(|| self.file_name()),
                    ..Source::custom(u, source)
                })
            }
        }
    }
}

/// An opened file: what the transport reads part bodies from. Cheap to clone.
#[derive(Clone)]
pub struct Source {
    /// The path or URI, for errors.
    name: PathBuf,
    /// What to upload it as (a file's name, a source's display name).
    file_name: Option<String>,
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    /// Opened afresh for each reader, so a replaced file is seen as such.
    Path,
    Custom(Arc<dyn ByteSource>),
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Source").field(&self.name).finish()
    }
}

impl Source {
    /// A local file.
    pub fn path(path: impl AsRef<Path>) -> Source {
        let path = path.as_ref();
        Source {
            name: path.to_owned(),
            file_name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
            kind: Kind::Path,
        }
    }

    /// An app-supplied source, named `name` in errors.
    pub fn custom(name: &str, source: Arc<dyn ByteSource>) -> Source {
        Source {
            name: PathBuf::from(name),
            file_name: FileSource::Uri(name.to_owned()).file_name(),
            kind: Kind::Custom(source),
        }
    }

    /// The name to upload under: the file's name, or the source's display name (`upload.bin`
    /// when there is none).
    pub fn file_name(&self) -> String {
        self.file_name
            .clone()
            .unwrap_or_else(|| "upload.bin".into())
    }

    /// The path or URI.
    pub fn name(&self) -> &Path {
        &self.name
    }

    /// The local path, when it is one.
    pub fn as_path(&self) -> Option<&Path> {
        matches!(self.kind, Kind::Path).then_some(self.name.as_path())
    }

    /// A reader of the current content. Blocking: call it on a blocking thread.
    pub fn reader(&self) -> Result<Reader> {
        let inner = match &self.kind {
            Kind::Path => ReaderKind::File(File::open(&self.name).map_err(|e| self.error(e))?),
            Kind::Custom(s) => ReaderKind::Custom(Arc::clone(s)),
        };
        Ok(Reader {
            name: self.name.clone(),
            inner,
        })
    }

    /// `Error::File` for this source.
    pub fn error(&self, source: io::Error) -> Error {
        Error::File {
            path: self.name.clone(),
            source,
        }
    }
}

/// Positional reads of one source. Blocking.
pub struct Reader {
    name: PathBuf,
    inner: ReaderKind,
}

enum ReaderKind {
    File(File),
    Custom(Arc<dyn ByteSource>),
}

impl Reader {
    pub fn name(&self) -> &Path {
        &self.name
    }

    pub fn size(&self) -> io::Result<u64> {
        match &self.inner {
            ReaderKind::File(f) => Ok(f.metadata()?.len()),
            ReaderKind::Custom(s) => s.size(),
        }
    }

    /// The modification time of a file (ns since the epoch), 0 for a custom source.
    pub fn mtime_ns(&self) -> io::Result<i64> {
        match &self.inner {
            ReaderKind::File(f) => {
                let mtime = f.metadata()?.modified()?;
                Ok(match mtime.duration_since(std::time::UNIX_EPOCH) {
                    Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
                    Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
                })
            }
            ReaderKind::Custom(_) => Ok(0),
        }
    }

    /// The source's version tag (custom sources only; a file's is its mtime).
    pub fn version(&self) -> io::Result<Option<String>> {
        match &self.inner {
            ReaderKind::File(_) => Ok(None),
            ReaderKind::Custom(s) => s.version(),
        }
    }

    /// Whether this reads a local file (not an app-supplied source).
    pub fn is_file(&self) -> bool {
        matches!(self.inner, ReaderKind::File(_))
    }

    /// Fills `buf` from `offset`; `UnexpectedEof` if the source ends first.
    pub fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(offset, buf) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file is shorter than expected",
                    ));
                }
                Ok(n) => {
                    let n = n.min(buf.len());
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        match &self.inner {
            ReaderKind::File(f) => file_read_at(f, offset, buf),
            ReaderKind::Custom(s) => s.read_at(offset, buf),
        }
    }
}

#[cfg(unix)]
fn file_read_at(f: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(f, buf, offset)
}

#[cfg(windows)]
fn file_read_at(f: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(f, buf, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_file_names_drop_the_query_and_decode() {
        let name = |u: &str| FileSource::Uri(u.into()).file_name();
        assert_eq!(
            name("content://media/external/video/My%20Clip.mp4?x=1").as_deref(),
            Some("My Clip.mp4")
        );
        assert_eq!(
            name("content://media/external/video/42").as_deref(),
            Some("42")
        );
        assert_eq!(name("content://a/").as_deref(), None);
        assert_eq!(name("bad%zz%4").as_deref(), Some("bad%zz%4"));
    }

    #[test]
    fn a_uri_without_an_opener_is_a_clear_file_error() {
        let err = FileSource::Uri("content://x/1".into())
            .open(None)
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("content://x/1") && msg.contains("set_source_opener"),
            "{msg}"
        );
    }

    #[test]
    fn short_reads_are_completed_and_a_short_source_is_eof() {
        struct Dribble(Vec<u8>);
        impl ByteSource for Dribble {
            fn size(&self) -> io::Result<u64> {
                Ok(self.0.len() as u64)
            }
            fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
                let rest = self.0.get(offset as usize..).unwrap_or_default();
                let n = rest.len().min(buf.len()).min(3);
                buf[..n].copy_from_slice(&rest[..n]);
                Ok(n)
            }
            fn version(&self) -> io::Result<Option<String>> {
                Ok(None)
            }
        }
        let src = Source::custom("mem:x", Arc::new(Dribble((0u8..100).collect())));
        let r = src.reader().unwrap();
        let mut buf = [0u8; 10];
        r.read_exact_at(&mut buf, 90).unwrap();
        assert_eq!(buf.to_vec(), (90u8..100).collect::<Vec<_>>());
        let err = r.read_exact_at(&mut buf, 95).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
