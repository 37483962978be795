//! Files added by URI and read through the app's byte source (Android `content://`, iOS
//! assets): uploaded without a path, in bounded reads, resumed after a restart through a new
//! opener, and restarted when the source changes.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use vod_sim::ThrottleSettings;
use vod_upload::{
    ByteSource, Error, Event, FileSource, FileStatus, SourceOpener, UploadTarget, VodInfo,
};

use crate::common::*;

const PART: u64 = 100 * 1024;

/// The app's side: URIs `test://media/<n>` backed by files, read with positional reads that
/// return at most `max_read` bytes (as a pipe or a provider may), with a version the test sets.
#[derive(Default)]
struct Media {
    files: Mutex<HashMap<String, (PathBuf, String)>>,
    largest_read: AtomicUsize,
    opens: AtomicUsize,
    bytes_read: AtomicU64,
}

impl Media {
    fn publish(&self, uri: &str, path: PathBuf, version: &str) {
        self.files
            .lock()
            .unwrap()
            .insert(uri.into(), (path, version.into()));
    }
}

struct MediaOpener(Arc<Media>);

struct MediaSource {
    media: Arc<Media>,
    file: std::fs::File,
    version: String,
}

impl SourceOpener for MediaOpener {
    fn open(&self, uri: &str) -> io::Result<Arc<dyn ByteSource>> {
        let (path, version) = self
            .0
            .files
            .lock()
            .unwrap()
            .get(uri)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such media"))?;
        self.0.opens.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new(MediaSource {
            media: Arc::clone(&self.0),
            file: std::fs::File::open(path)?,
            version,
        }))
    }
}

impl ByteSource for MediaSource {
    fn size(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.media
            .largest_read
            .fetch_max(buf.len(), Ordering::Relaxed);
        let n = buf.len().min(48 * 1024);
        let got = std::os::unix::fs::FileExt::read_at(&self.file, &mut buf[..n], offset)?;
        self.media
            .bytes_read
            .fetch_add(got as u64, Ordering::Relaxed);
        Ok(got)
    }

    fn version(&self) -> io::Result<Option<String>> {
        Ok(Some(self.version.clone()))
    }

    fn name(&self) -> Option<String> {
        Some("Holiday clip.mp4".into())
    }
}

fn use_media(h: &Harness, media: Arc<Media>) {
    h.engine
        .set_source_opener(Some(Arc::new(MediaOpener(media))));
}

fn add_uri(h: &Harness, uri: &str) -> String {
    h.engine
        .add_file(
            FileSource::Uri(uri.into()),
            UploadTarget::Video,
            VodInfo::default(),
        )
        .expect("uri added")
}

fn slow(h: &Harness, bandwidth: Option<u64>) {
    h.sim.throttle(ThrottleSettings {
        bandwidth,
        latency_ms: 0,
    });
}

/// A URI file is uploaded from the app's source (no path, bounded reads), then the app is
/// killed mid-upload; the next run opens the URI again through a new opener and continues the
/// same multipart upload, byte-identical.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uri_source_uploads_and_resumes_after_a_restart() {
    let mut h = Harness::new(|_| {}).await;
    let media = Arc::new(Media::default());
    let (path, data) = h.file("backing.bin", 2 * 1024 * 1024);
    let uri = "test://media/42";
    media.publish(uri, path, "v1");
    use_media(&h, media.clone());
    h.use_account_key();
    slow(&h, Some(768 * 1024));
    let id = add_uri(&h, uri);
    let info = h.engine.file(&id).unwrap();
    assert_eq!(info.source, FileSource::Uri(uri.into()));
    assert_eq!(info.bytes_total, data.len() as u64, "size from the source");
    h.engine.start();
    h.events.wait_progress(&id, data.len() as u64 / 2).await;

    // Killed: the new process has a new opener (and no path to the media at all).
    h.reopen();
    slow(&h, None);
    let restored = h.engine.file(&id).expect("restored");
    assert_eq!(restored.source, FileSource::Uri(uri.into()));
    assert!(restored.bytes_uploaded > 0);
    let media2 = Arc::new(Media::default());
    media2.publish(uri, h.dir.path().join("backing.bin"), "v1");
    use_media(&h, media2.clone());
    h.use_account_key();
    h.engine.start();
    let result = h.events.wait_succeeded(&id).await;
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
    assert_eq!(
        result.video_id, restored.video_id,
        "the same video continued"
    );
    let stats = h.sim.stats();
    assert_eq!(
        stats.multipart_uploads_initiated, 1,
        "the same upload continued"
    );
    assert_eq!(stats.parts_uploaded, (data.len() as u64).div_ceil(PART));
    assert!(media2.opens.load(Ordering::Relaxed) >= 1);
    // Reads are chunked: never the whole file, never a part at once.
    let largest = media
        .largest_read
        .load(Ordering::Relaxed)
        .max(media2.largest_read.load(Ordering::Relaxed));
    assert!(largest <= 256 * 1024, "largest read {largest}");
    // The second run read the parts it sent, the checkpointed parts once for the resume check,
    // and the fingerprint's edges (twice: at start and before Complete); nothing more.
    let read2 = media2.bytes_read.load(Ordering::Relaxed);
    let bound = data.len() as u64 + 4 * 64 * 1024;
    assert!(
        read2 <= bound,
        "second run read {read2} bytes (bound {bound})"
    );
    // Uploaded under the source's display name: VOD refuses a FileName without a media
    // extension (the URI has none) and names the object after it.
    assert!(result.object.ends_with(".mp4"), "{}", result.object);
}

/// The source changed between runs (a new version at the same URI): the upload restarts with
/// the new content, never a mix of the two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_source_restarts_its_upload() {
    let mut h = Harness::new(|_| {}).await;
    let media = Arc::new(Media::default());
    let (path, _old) = h.file("v1.bin", 1024 * 1024);
    let uri = "test://media/7";
    media.publish(uri, path, "v1");
    use_media(&h, media.clone());
    h.use_account_key();
    slow(&h, Some(512 * 1024));
    let id = add_uri(&h, uri);
    h.engine.start();
    h.events.wait_progress(&id, 300 * 1024).await;

    h.reopen();
    slow(&h, None);
    // Same size, same edges: only the version tells the middle changed.
    let (path2, mut new) = h.file("v1-copy.bin", 1024 * 1024);
    new[512 * 1024] ^= 0xff;
    std::fs::write(&path2, &new).unwrap();
    let media2 = Arc::new(Media::default());
    media2.publish(uri, path2, "v2");
    use_media(&h, media2);
    h.use_account_key();
    h.engine.start();
    h.events.wait_succeeded(&id).await;
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, new);
    assert_eq!(h.sim.stats().multipart_uploads_initiated, 2);
}

/// Without an opener a URI cannot be added, and a restored one fails with an error that says
/// what to do; set the opener and `resume_file` and it uploads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uri_needs_the_opener_and_says_so() {
    let mut h = Harness::new(|_| {}).await;
    let err = h
        .engine
        .add_file(
            FileSource::Uri("test://media/1".into()),
            UploadTarget::Video,
            VodInfo::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("set_source_opener"), "{err}");

    let media = Arc::new(Media::default());
    use_media(&h, media.clone());
    let err = h
        .engine
        .add_file(
            FileSource::Uri("test://media/unknown".into()),
            UploadTarget::Video,
            VodInfo::default(),
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::File { source, .. } if source.kind() == io::ErrorKind::NotFound),
        "{err:?}"
    );

    let (path, data) = h.file("clip.bin", 300 * 1024);
    media.publish("test://media/1", path, "v1");
    let id = add_uri(&h, "test://media/1");
    h.reopen(); // the new process has not registered its opener yet
    h.use_account_key();
    h.engine.start();
    h.events
        .wait_for("failed", |ev| {
            ev.iter()
                .any(|e| matches!(e, Event::Failed { file, .. } if file.id == id))
        })
        .await;
    let failed = h.engine.file(&id).unwrap();
    assert_eq!(failed.status, FileStatus::Failed);
    let message = failed.last_error.unwrap().message;
    assert!(message.contains("set_source_opener"), "{message}");

    use_media(&h, media);
    h.engine.resume_file(&id).unwrap();
    h.engine.start();
    h.events
        .wait_for("succeeded after resume_file", |ev| {
            ev.iter()
                .any(|e| matches!(e, Event::Succeeded { file, .. } if file.id == id))
        })
        .await;
    assert_eq!(h.read_back(&h.engine.file(&id).unwrap()).await, data);
}
