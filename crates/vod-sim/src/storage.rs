//! On-disk storage of parts and objects.
//!
//! Every uploaded body (a part or a PutObject) is streamed into its own blob file while its MD5
//! and CRC-64 are computed on a blocking thread. An object is a list of blobs: a completed
//! multipart upload simply keeps its part blobs, so Complete never copies data. Blobs are
//! reference counted and deleted when the last part/object/reader holding them goes away, so an
//! overwritten object can still be read to the end by a GET that started before.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use md5::{Digest, Md5};
use tokio::sync::mpsc;

use crate::ObjectInfo;

/// Bodies are written and read in chunks of this size.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between the network side and the disk thread, per transfer.
const IN_FLIGHT: usize = 4;

/// Parts below this size are refused by Complete unless they are the last part.
pub(crate) const MIN_PART_SIZE: u64 = 102_400;

use vod_upload::protocol::crc64::{self, Crc64};

/// One file of stored bytes; the file is removed when the last reference goes away.
#[derive(Debug)]
pub(crate) struct Blob {
    path: PathBuf,
    size: u64,
}

impl Drop for Blob {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A blob with the digests of its content.
pub(crate) struct Written {
    pub blob: Arc<Blob>,
    pub md5: [u8; 16],
    pub crc64: u64,
}

impl Written {
    pub fn size(&self) -> u64 {
        self.blob.size
    }
}

/// Streams a body into a new blob. Dropping it without [`BlobSink::finish`] deletes the file.
pub(crate) struct BlobSink {
    tx: Option<mpsc::Sender<Bytes>>,
    buf: BytesMut,
    task: tokio::task::JoinHandle<io::Result<Written>>,
}

impl BlobSink {
    pub fn create(dir: &Path) -> BlobSink {
        let path = dir.join(uuid::Uuid::new_v4().simple().to_string());
        let (tx, mut rx) = mpsc::channel::<Bytes>(IN_FLIGHT);
        // Hashing and writing happen off the async workers; the bounded channel gives
        // backpressure to the network side when the disk or MD5 is the bottleneck.
        let task = tokio::task::spawn_blocking(move || {
            let mut file = File::create(&path)?;
            // Owning the blob from the start means every early return removes the file.
            let mut blob = Blob { path, size: 0 };
            let mut md5 = Md5::new();
            let mut crc = Crc64::new();
            while let Some(chunk) = rx.blocking_recv() {
                md5.update(&chunk);
                crc.update(&chunk);
                file.write_all(&chunk)?;
                blob.size += chunk.len() as u64;
            }
            file.flush()?;
            Ok(Written {
                md5: md5.finalize().into(),
                crc64: crc.finish(),
                blob: Arc::new(blob),
            })
        });
        BlobSink {
            tx: Some(tx),
            buf: BytesMut::new(),
            task,
        }
    }

    pub async fn write(&mut self, data: Bytes) -> io::Result<()> {
        if self.buf.is_empty() && data.len() >= CHUNK / 4 {
            return self.send(data).await;
        }
        self.buf.extend_from_slice(&data);
        if self.buf.len() >= CHUNK {
            let chunk = self.buf.split().freeze();
            self.send(chunk).await?;
        }
        Ok(())
    }

    async fn send(&mut self, chunk: Bytes) -> io::Result<()> {
        let Some(tx) = self.tx.as_ref() else {
            return Err(io::Error::other("blob sink closed"));
        };
        if tx.send(chunk).await.is_err() {
            // The writer thread stopped: report its error.
            self.tx = None;
            return match (&mut self.task).await {
                Ok(Err(e)) => Err(e),
                Ok(Ok(_)) => Err(io::Error::other("blob writer stopped early")),
                Err(e) => Err(io::Error::other(e)),
            };
        }
        Ok(())
    }

    pub async fn finish(mut self) -> io::Result<Written> {
        if !self.buf.is_empty() {
            let chunk = self.buf.split().freeze();
            self.send(chunk).await?;
        }
        self.tx = None;
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(io::Error::other(e)),
        }
    }
}

/// Streams `len` bytes starting at `offset` of the concatenation of `blobs`.
pub(crate) fn read_range(
    blobs: Vec<Arc<Blob>>,
    offset: u64,
    len: u64,
) -> mpsc::Receiver<io::Result<Bytes>> {
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut skip = offset;
        let mut left = len;
        for blob in blobs {
            if left == 0 {
                break;
            }
            if skip >= blob.size {
                skip -= blob.size;
                continue;
            }
            let result = (|| -> io::Result<bool> {
                let mut file = File::open(&blob.path)?;
                file.seek(SeekFrom::Start(skip))?;
                let mut in_blob = (blob.size - skip).min(left);
                skip = 0;
                while in_blob > 0 {
                    let n = usize::try_from(in_blob).unwrap_or(CHUNK).min(CHUNK);
                    let mut buf = BytesMut::zeroed(n);
                    file.read_exact(&mut buf)?;
                    in_blob -= n as u64;
                    left -= n as u64;
                    if tx.blocking_send(Ok(buf.freeze())).is_err() {
                        return Ok(false); // the client went away
                    }
                }
                Ok(true)
            })();
            match result {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    rx
}

/// A stored object.
#[derive(Debug)]
pub(crate) struct Object {
    pub blobs: Vec<Arc<Blob>>,
    pub size: u64,
    /// Quoted ETag.
    pub etag: String,
    pub crc64: u64,
    pub content_type: String,
    pub last_modified: SystemTime,
    pub multipart: bool,
    /// Base64 MD5 (PutObject objects only).
    pub content_md5: Option<String>,
    /// `x-oss-meta-*` headers (lower-case names).
    pub user_meta: Vec<(String, String)>,
}

impl Object {
    pub fn object_type(&self) -> &'static str {
        if self.multipart {
            "Multipart"
        } else {
            "Normal"
        }
    }

    pub fn info(&self) -> ObjectInfo {
        ObjectInfo {
            size: self.size,
            etag: self.etag.clone(),
            crc64: self.crc64,
            content_type: self.content_type.clone(),
            object_type: self.object_type().to_owned(),
        }
    }
}

/// One uploaded part.
#[derive(Debug)]
pub(crate) struct Part {
    pub blob: Arc<Blob>,
    pub md5: [u8; 16],
    pub crc64: u64,
    pub last_modified: SystemTime,
}

impl Part {
    pub fn size(&self) -> u64 {
        self.blob.size
    }

    /// Quoted upper-case MD5, the part's ETag.
    pub fn etag(&self) -> String {
        format!("\"{}\"", crate::util::to_hex_upper(&self.md5))
    }
}

struct Upload {
    bucket: String,
    key: String,
    initiated: std::time::SystemTime,
    content_type: String,
    user_meta: Vec<(String, String)>,
    parts: BTreeMap<u32, Arc<Part>>,
}

/// Parts listed in a CompleteMultipartUpload request, or "all uploaded parts".
pub(crate) enum CompleteSpec {
    List(Vec<(u32, String)>),
    All,
}

/// Why a Complete failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CompleteError {
    NoSuchUpload,
    InvalidPartOrder,
    /// A part that is missing or whose ETag does not match (part number, given ETag).
    InvalidPart(u32, String),
    /// A non-last part under the minimum (part number, size).
    EntityTooSmall(u32, u64),
    NoParts,
    FileAlreadyExists,
}

/// An open upload, as ListMultipartUploads lists it.
pub(crate) struct ListedUploadRow {
    pub key: String,
    pub upload_id: String,
    pub initiated: std::time::SystemTime,
}

/// A page of ListParts.
pub(crate) struct PartsPage {
    pub parts: Vec<(u32, Arc<Part>)>,
    pub truncated: bool,
}

#[derive(Default)]
struct Inner {
    buckets: HashMap<String, HashMap<String, Arc<Object>>>,
    uploads: HashMap<String, Upload>,
}

pub(crate) struct Store {
    root: PathBuf,
    blob_dir: PathBuf,
    inner: Mutex<Inner>,
}

impl Store {
    /// Prepares `root` (blobs of a previous run are unreachable, since metadata lives in memory,
    /// so they are removed).
    pub fn open(root: &Path) -> io::Result<Store> {
        let blob_dir = root.join("blobs");
        if blob_dir.exists() {
            std::fs::remove_dir_all(&blob_dir)?;
        }
        std::fs::create_dir_all(&blob_dir)?;
        Ok(Store {
            root: root.to_owned(),
            blob_dir,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn sink(&self) -> BlobSink {
        BlobSink::create(&self.blob_dir)
    }

    pub fn ensure_bucket(&self, bucket: &str) {
        self.lock().buckets.entry(bucket.to_owned()).or_default();
    }

    pub fn bucket_exists(&self, bucket: &str) -> bool {
        self.lock().buckets.contains_key(bucket)
    }

    pub fn get_object(&self, bucket: &str, key: &str) -> Option<Arc<Object>> {
        self.lock().buckets.get(bucket)?.get(key).cloned()
    }

    pub fn object_exists(&self, bucket: &str, key: &str) -> bool {
        self.get_object(bucket, key).is_some()
    }

    /// Stores an object; with `forbid_overwrite`, fails (returning false) when one exists.
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        object: Object,
        forbid_overwrite: bool,
    ) -> bool {
        let mut inner = self.lock();
        let objects = inner.buckets.entry(bucket.to_owned()).or_default();
        if forbid_overwrite && objects.contains_key(key) {
            return false;
        }
        objects.insert(key.to_owned(), Arc::new(object));
        true
    }

    pub fn delete_object(&self, bucket: &str, key: &str) {
        if let Some(objects) = self.lock().buckets.get_mut(bucket) {
            objects.remove(key);
        }
    }

    pub fn counts(&self) -> (u64, u64) {
        let inner = self.lock();
        let objects = inner.buckets.values().map(|o| o.len() as u64).sum();
        (objects, inner.uploads.len() as u64)
    }

    pub fn initiate(
        &self,
        bucket: &str,
        key: &str,
        content_type: String,
        user_meta: Vec<(String, String)>,
    ) -> String {
        let id = crate::util::hex_upper(32);
        let mut inner = self.lock();
        inner.buckets.entry(bucket.to_owned()).or_default();
        inner.uploads.insert(
            id.clone(),
            Upload {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                initiated: std::time::SystemTime::now(),
                content_type,
                user_meta,
                parts: BTreeMap::new(),
            },
        );
        id
    }

    fn upload_mut<'a>(
        inner: &'a mut Inner,
        id: &str,
        bucket: &str,
        key: &str,
    ) -> Option<&'a mut Upload> {
        inner
            .uploads
            .get_mut(id)
            .filter(|u| u.bucket == bucket && u.key == key)
    }

    /// One page of the bucket's open uploads whose key starts with `prefix`, in OSS's order
    /// (key, then initiation time), after the (`key_marker`, `id_marker`) position; and
    /// whether more follow.
    pub fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        marker: (&str, &str),
        max: usize,
    ) -> (Vec<ListedUploadRow>, bool) {
        let inner = self.lock();
        let mut all: Vec<ListedUploadRow> = inner
            .uploads
            .iter()
            .filter(|(_, u)| u.bucket == bucket && u.key.starts_with(prefix))
            .map(|(id, u)| ListedUploadRow {
                key: u.key.clone(),
                upload_id: id.clone(),
                initiated: u.initiated,
            })
            .collect();
        all.sort_by(|a, b| {
            (&a.key, a.initiated, &a.upload_id).cmp(&(&b.key, b.initiated, &b.upload_id))
        });
        let start = if marker.0.is_empty() {
            0
        } else {
            all.iter()
                .position(|u| (u.key.as_str(), u.upload_id.as_str()) == marker)
                .map_or_else(
                    || all.partition_point(|u| u.key.as_str() <= marker.0),
                    |i| i + 1,
                )
        };
        let rest = all.split_off(start.min(all.len()));
        let truncated = rest.len() > max;
        (rest.into_iter().take(max).collect(), truncated)
    }

    pub fn upload_exists(&self, id: &str, bucket: &str, key: &str) -> bool {
        Self::upload_mut(&mut self.lock(), id, bucket, key).is_some()
    }

    /// Records a part (replacing a previous one with the same number); false if the upload is
    /// gone.
    pub fn put_part(&self, id: &str, bucket: &str, key: &str, number: u32, part: Part) -> bool {
        let mut inner = self.lock();
        match Self::upload_mut(&mut inner, id, bucket, key) {
            Some(upload) => {
                upload.parts.insert(number, Arc::new(part));
                true
            }
            None => false,
        }
    }

    pub fn list_parts(
        &self,
        id: &str,
        bucket: &str,
        key: &str,
        marker: u32,
        max: usize,
    ) -> Option<PartsPage> {
        let mut inner = self.lock();
        let upload = Self::upload_mut(&mut inner, id, bucket, key)?;
        let mut rest = upload
            .parts
            .range(marker.saturating_add(1)..)
            .map(|(n, p)| (*n, p.clone()));
        let parts: Vec<_> = rest.by_ref().take(max).collect();
        let truncated = rest.next().is_some();
        Some(PartsPage { parts, truncated })
    }

    pub fn abort(&self, id: &str, bucket: &str, key: &str) -> bool {
        let mut inner = self.lock();
        if Self::upload_mut(&mut inner, id, bucket, key).is_none() {
            return false;
        }
        inner.uploads.remove(id);
        true
    }

    /// Validates the part list like OSS and turns the upload into an object.
    pub fn complete(
        &self,
        id: &str,
        bucket: &str,
        key: &str,
        spec: CompleteSpec,
        forbid_overwrite: bool,
    ) -> Result<Arc<Object>, CompleteError> {
        let mut inner = self.lock();
        let upload =
            Self::upload_mut(&mut inner, id, bucket, key).ok_or(CompleteError::NoSuchUpload)?;
        let chosen: Vec<(u32, Arc<Part>)> = match spec {
            CompleteSpec::All => upload.parts.iter().map(|(n, p)| (*n, p.clone())).collect(),
            CompleteSpec::List(list) => {
                if list.windows(2).any(|w| w[1].0 <= w[0].0) {
                    return Err(CompleteError::InvalidPartOrder);
                }
                let mut chosen = Vec::with_capacity(list.len());
                for (n, etag) in list {
                    match upload.parts.get(&n) {
                        Some(p) if etag_matches(&etag, &p.etag()) => chosen.push((n, p.clone())),
                        _ => return Err(CompleteError::InvalidPart(n, etag)),
                    }
                }
                chosen
            }
        };
        if chosen.is_empty() {
            return Err(CompleteError::NoParts);
        }
        let last = chosen.len() - 1;
        if let Some((n, p)) = chosen[..last]
            .iter()
            .find(|(_, p)| p.size() < MIN_PART_SIZE)
        {
            return Err(CompleteError::EntityTooSmall(*n, p.size()));
        }
        if forbid_overwrite
            && inner
                .buckets
                .get(bucket)
                .is_some_and(|objects| objects.contains_key(key))
        {
            return Err(CompleteError::FileAlreadyExists);
        }
        // The upload is consumed; unlisted parts are dropped (and their files deleted).
        let upload = inner
            .uploads
            .remove(id)
            .ok_or(CompleteError::NoSuchUpload)?;
        let mut md5s = Md5::new();
        let mut size = 0u64;
        for (_, p) in &chosen {
            md5s.update(p.md5);
            size += p.size();
        }
        let crc = crc64::combine_all(chosen.iter().map(|(_, p)| (p.crc64, p.size())));
        let etag = format!(
            "\"{}-{}\"",
            crate::util::to_hex_upper(&md5s.finalize()),
            chosen.len()
        );
        let object = Arc::new(Object {
            blobs: chosen.into_iter().map(|(_, p)| p.blob.clone()).collect(),
            size,
            etag,
            crc64: crc,
            content_type: upload.content_type,
            last_modified: SystemTime::now(),
            multipart: true,
            content_md5: None,
            user_meta: upload.user_meta,
        });
        inner
            .buckets
            .entry(bucket.to_owned())
            .or_default()
            .insert(key.to_owned(), object.clone());
        Ok(object)
    }
}

/// OSS compares ETags without their quotes; case is ignored so hand-typed ETags work too.
fn etag_matches(given: &str, actual: &str) -> bool {
    given
        .trim()
        .trim_matches('"')
        .eq_ignore_ascii_case(actual.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_comparison() {
        assert!(etag_matches("\"ABC\"", "\"ABC\""));
        assert!(etag_matches("abc", "\"ABC\""));
        assert!(!etag_matches("\"ABD\"", "\"ABC\""));
    }

    async fn write(store: &Store, data: &[u8]) -> Written {
        let mut sink = store.sink();
        for c in data.chunks(7000) {
            sink.write(Bytes::copy_from_slice(c)).await.unwrap();
        }
        sink.finish().await.unwrap()
    }

    fn part(w: Written) -> Part {
        Part {
            blob: w.blob,
            md5: w.md5,
            crc64: w.crc64,
            last_modified: SystemTime::now(),
        }
    }

    async fn read_all(blobs: Vec<Arc<Blob>>, off: u64, len: u64) -> Vec<u8> {
        let mut rx = read_range(blobs, off, len);
        let mut out = Vec::new();
        while let Some(c) = rx.recv().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn multipart_object_is_a_list_of_part_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
        let b: Vec<u8> = (0..110_000u32).map(|i| (i % 13) as u8).collect();
        let c: Vec<u8> = (0..5_000u32).map(|i| (i % 7) as u8).collect();
        let id = store.initiate("bk", "k", "video/mp4".into(), vec![]);
        let wa = write(&store, &a).await;
        let pa = wa.blob.path.clone();
        assert!(store.put_part(&id, "bk", "k", 1, part(wa)));
        let wc = write(&store, &c).await;
        let pc = wc.blob.path.clone();
        assert!(store.put_part(&id, "bk", "k", 2, part(wc)));
        // Replacing part 2 deletes the old file.
        assert!(store.put_part(&id, "bk", "k", 2, part(write(&store, &b).await)));
        assert!(!pc.exists());
        assert!(store.put_part(&id, "bk", "k", 3, part(write(&store, &c).await)));
        let spec = CompleteSpec::List(vec![(1, "x".into())]);
        assert!(matches!(
            store.complete(&id, "bk", "k", spec, false),
            Err(CompleteError::InvalidPart(1, _))
        ));
        let obj = store
            .complete(&id, "bk", "k", CompleteSpec::All, false)
            .unwrap();
        assert_eq!(obj.size, (a.len() + b.len() + c.len()) as u64);
        let mut whole = a.clone();
        whole.extend_from_slice(&b);
        whole.extend_from_slice(&c);
        assert_eq!(obj.crc64, crc64::crc64(&whole));
        assert!(obj.etag.ends_with("-3\""));
        assert_eq!(read_all(obj.blobs.clone(), 0, obj.size).await, whole);
        assert_eq!(
            read_all(obj.blobs.clone(), 149_990, 20).await,
            whole[149_990..150_010]
        );
        assert_eq!(
            read_all(obj.blobs.clone(), 259_999, 2).await,
            whole[259_999..260_001]
        );
        assert!(!store.upload_exists(&id, "bk", "k"));
        assert!(pa.exists());
        store.delete_object("bk", "k");
        drop(obj);
        assert!(!pa.exists());
    }

    #[tokio::test]
    async fn complete_validation() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let id = store.initiate("bk", "k", "a/b".into(), vec![]);
        let small = part(write(&store, b"tiny").await);
        let etag = small.etag();
        store.put_part(&id, "bk", "k", 1, small);
        store.put_part(&id, "bk", "k", 2, part(write(&store, b"tiny").await));
        let list =
            |v: Vec<u32>| CompleteSpec::List(v.into_iter().map(|n| (n, etag.clone())).collect());
        assert_eq!(
            store
                .complete(&id, "bk", "k", list(vec![2, 1]), false)
                .unwrap_err(),
            CompleteError::InvalidPartOrder
        );
        assert_eq!(
            store
                .complete(&id, "bk", "k", list(vec![1, 2]), false)
                .unwrap_err(),
            CompleteError::EntityTooSmall(1, 4)
        );
        assert_eq!(
            store
                .complete(&id, "bk", "other", list(vec![1]), false)
                .unwrap_err(),
            CompleteError::NoSuchUpload
        );
        let page = store.list_parts(&id, "bk", "k", 0, 1).unwrap();
        assert!(page.truncated);
        assert_eq!(page.parts[0].0, 1);
        let page = store.list_parts(&id, "bk", "k", 1, 1).unwrap();
        assert!(!page.truncated);
        assert_eq!(page.parts[0].0, 2);
        let obj = store
            .complete(&id, "bk", "k", list(vec![2]), false)
            .unwrap();
        assert_eq!(obj.size, 4);
        assert_eq!(obj.content_type, "a/b");
        assert_eq!(
            store
                .complete(&id, "bk", "k", list(vec![2]), false)
                .unwrap_err(),
            CompleteError::NoSuchUpload
        );
    }
}
