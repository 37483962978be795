//! The SQLite checkpoint store: the upload queue, each file's multipart session, and a ledger
//! of finished parts, so that uploads survive the app being killed.
//!
//! * [`Store`]: open / recover the database, and the operations the engine calls. All are
//!   synchronous and short (one statement or one small transaction, statements cached);
//!   call them from async code directly or through `spawn_blocking`.
//! * [`FileRow`] / [`NewFile`]: the queue; [`Session`]: one file's multipart upload;
//!   [`PartRecord`]: one finished part; [`Fingerprint`]: has the file changed?
//!
//! Writes for a file that no longer exists (deleted while a part was in flight) do nothing:
//! there is no state left to update, and the engine need not special-case the race.
//!
//! No secret is ever stored: sessions keep credential metadata (expiry) only. After a restart
//! the engine asks the app for credentials again.
//!
//! Layout follows application-services' components: `db.rs` (open, pragmas, recovery, errors),
//! `schema.rs` (SQL and migrations), this file (the operations).

mod db;
mod fingerprint;
mod schema;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use crate::source::FileSource;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::types::Type;
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use crate::error::{StoreError, StoreErrorKind};
use crate::model::{FileError, FileId, FileStatus, UploadResult, UploadTarget, VodInfo};
use crate::{Error, Result};
use db::SqlContext;

pub use db::Store;
pub use fingerprint::{EDGE_BYTES, Fingerprint};

/// A file to add to the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    pub id: FileId,
    pub source: FileSource,
    pub target: UploadTarget,
    pub vod_info: VodInfo,
    pub bytes_total: u64,
    /// Stored with millisecond precision.
    pub added_at: SystemTime,
}

/// A file in the queue, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    pub id: FileId,
    pub source: FileSource,
    pub target: UploadTarget,
    pub vod_info: VodInfo,
    pub status: FileStatus,
    pub bytes_total: u64,
    /// Bytes in the part ledger; `bytes_total` once succeeded.
    pub bytes_done: u64,
    pub added_at: SystemTime,
    pub last_error: Option<FileError>,
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    pub object: Option<String>,
    pub video_id: Option<String>,
    pub image_url: Option<String>,
    /// The object's CRC-64, set with the result.
    pub crc64: Option<u64>,
}

impl FileRow {
    /// The upload's result, when the file succeeded.
    pub fn result(&self) -> Option<UploadResult> {
        if self.status != FileStatus::Succeeded {
            return None;
        }
        Some(UploadResult {
            video_id: self.video_id.clone(),
            image_url: self.image_url.clone(),
            endpoint: self.endpoint.clone()?,
            bucket: self.bucket.clone()?,
            object: self.object.clone()?,
            bytes: self.bytes_total,
            crc64: self.crc64?,
        })
    }
}

/// One file's upload in progress: what is needed to continue it after a restart (with fresh
/// credentials from the app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub file_id: FileId,
    /// The multipart upload id; `None` before InitiateMultipartUpload and for PutObject.
    pub upload_id: Option<String>,
    pub endpoint: String,
    pub bucket: String,
    pub object: String,
    pub video_id: Option<String>,
    pub image_id: Option<String>,
    pub image_url: Option<String>,
    /// The part size this upload uses; keep it on resume.
    pub part_size: u64,
    pub content_type: Option<String>,
    /// The file when the upload started.
    pub fingerprint: Fingerprint,
    /// Stored with millisecond precision.
    pub created_at: SystemTime,
    /// When the credentials in use expire, if known (metadata only; never the credentials).
    pub credentials_expire_at: Option<SystemTime>,
}

/// Server-side work the engine owes: an open multipart upload to abort (the `cleanups`
/// outbox). Written in the transaction that forgets the upload's session; removed when the
/// server confirms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleanup {
    /// The outbox row (0 before it is stored).
    pub id: i64,
    /// The multipart upload to abort; `None`: an Initiate whose answer was lost, so every
    /// upload of the object begun since `since` is looked for (ListMultipartUploads) and
    /// aborted.
    pub upload_id: Option<String>,
    pub since: Option<SystemTime>,
    pub endpoint: String,
    pub bucket: String,
    pub object: String,
    /// Which credentials can abort it after a restart.
    pub target: UploadTarget,
    pub video_id: Option<String>,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (millisecond precision).
    pub next_at: SystemTime,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: SystemTime,
}

impl Cleanup {
    /// The abort of `upload_id` (or, with `None`, of every upload of the object begun since
    /// `since`), due now and not yet stored.
    pub fn owed(
        upload_id: Option<String>,
        since: Option<SystemTime>,
        (endpoint, bucket, object): (String, String, String),
        target: UploadTarget,
        video_id: Option<String>,
    ) -> Cleanup {
        // Millisecond precision, as stored, so a cleanup reads back equal.
        let now = from_ms(to_ms(SystemTime::now()));
        Cleanup {
            id: 0,
            upload_id,
            since,
            endpoint,
            bucket,
            object,
            target,
            video_id,
            attempts: 0,
            next_at: now,
            last_error: None,
            created_at: now,
        }
    }

    /// For messages: the upload id, or the object searched.
    pub fn describe(&self) -> String {
        match &self.upload_id {
            Some(u) => format!("upload {u}"),
            None => format!("uploads of {} left by a lost Initiate", self.object),
        }
    }
}

/// What became of an InitiateMultipartUpload's answer ([`Store::settle_initiated`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The file's session now uses the upload.
    Taken,
    /// The session already uses this other upload (an earlier Initiate's answer came first):
    /// the new one is owed an abort.
    Other(String, Cleanup),
    /// No session waits for it (the file was deleted, canceled or restarted elsewhere): it is
    /// owed an abort.
    Owed(Cleanup),
}

/// A finished part, as OSS confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRecord {
    /// 1..=10000.
    pub part_number: u32,
    pub size: u64,
    pub etag: String,
    /// CRC-64/XZ of the part's bytes.
    pub crc64: u64,
}

const FILE_COLUMNS: &str = "f.id, f.path, f.target, f.vod_info, f.status, f.bytes_total, \
     f.added_at, f.error_code, f.error_message, f.error_request_id, f.endpoint, f.bucket, \
     f.object, f.video_id, f.image_url, f.crc64, f.source, \
     CASE WHEN f.status = 'succeeded' THEN f.bytes_total \
          ELSE (SELECT COALESCE(SUM(p.size), 0) FROM parts p WHERE p.file_id = f.id) END";

const SESSION_COLUMNS: &str = "file_id, upload_id, endpoint, bucket, object, video_id, \
     image_id, image_url, part_size, content_type, file_size, file_mtime_ns, file_head_sha256, \
     file_tail_sha256, created_at, credentials_expire_at, file_version";

impl Store {
    // ---- files ----

    /// Appends a file to the queue (status `Ready`) and returns it as stored.
    pub fn insert_file(&self, file: &NewFile) -> Result<FileRow> {
        let (source, path) = match &file.source {
            FileSource::Path(p) => ("path", path_text(p)?),
            FileSource::Uri(u) => ("uri", u.as_str()),
        };
        let target = to_json(&file.target)?;
        let vod_info = to_json(&file.vod_info)?;
        let bytes_total = int(file.bytes_total)?;
        let conn = self.lock();
        let what = || format!("add file {}", file.id);
        conn.prepare_cached(
            "INSERT INTO files (id, position, path, target, vod_info, status, bytes_total, \
             added_at, source) \
             VALUES (?1, (SELECT COALESCE(MAX(position), 0) + 1 FROM files), ?2, ?3, ?4, \
             'ready', ?5, ?6, ?7)",
        )
        .and_then(|mut s| {
            s.execute(params![
                file.id,
                path,
                target,
                vod_info,
                bytes_total,
                to_ms(file.added_at),
                source
            ])
        })
        .ctx(&what())?;
        query_file(&conn, &file.id)?.ok_or_else(|| {
            StoreError::new(
                StoreErrorKind::Other,
                format!("file {} vanished after insert", file.id),
            )
            .into()
        })
    }

    /// The file with this id.
    pub fn get_file(&self, id: &str) -> Result<Option<FileRow>> {
        query_file(&self.lock(), id)
    }

    /// Every file, in queue order.
    pub fn list_files(&self) -> Result<Vec<FileRow>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {FILE_COLUMNS} FROM files f ORDER BY f.position"
            ))
            .ctx("list files")?;
        let rows = stmt.query_map([], file_row).ctx("list files")?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read the file list")
    }

    /// Sets the status and the last error: the stored error becomes exactly `last_error`
    /// (`None` clears it).
    pub fn set_status(
        &self,
        id: &str,
        status: FileStatus,
        last_error: Option<&FileError>,
    ) -> Result<()> {
        self.execute(
            "UPDATE files SET status = ?2, error_code = ?3, error_message = ?4, \
             error_request_id = ?5 WHERE id = ?1",
            params![
                id,
                status_text(status),
                last_error.map(|e| &e.code),
                last_error.map(|e| &e.message),
                last_error.and_then(|e| e.request_id.as_ref()),
            ],
            || format!("set the status of file {id}"),
        )
        .map(drop)
    }

    /// Records a successful upload: status `Succeeded`, no error, where it went, its size and
    /// CRC-64.
    pub fn set_result(&self, id: &str, result: &UploadResult) -> Result<()> {
        self.execute(
            "UPDATE files SET status = 'succeeded', error_code = NULL, error_message = NULL, \
             error_request_id = NULL, video_id = ?2, image_url = ?3, endpoint = ?4, bucket = ?5, \
             object = ?6, bytes_total = ?7, crc64 = ?8, succeeded_at = ?9 WHERE id = ?1",
            params![
                id,
                result.video_id,
                result.image_url,
                result.endpoint,
                result.bucket,
                result.object,
                int(result.bytes)?,
                result.crc64.to_string(),
                to_ms(SystemTime::now()),
            ],
            || format!("save the result of file {id}"),
        )
        .map(drop)
    }

    /// Records where the file goes, as soon as it is known (UploadAddress, the VOD response or
    /// the target), so `list_files` can show it before the upload finishes.
    pub fn update_target_info(
        &self,
        id: &str,
        endpoint: &str,
        bucket: &str,
        object: &str,
        video_id: Option<&str>,
        image_url: Option<&str>,
    ) -> Result<()> {
        self.execute(
            "UPDATE files SET endpoint = ?2, bucket = ?3, object = ?4, video_id = ?5, \
             image_url = ?6 WHERE id = ?1",
            params![id, endpoint, bucket, object, video_id, image_url],
            || format!("save the destination of file {id}"),
        )
        .map(drop)
    }

    /// Updates the file's size (its upload restarted after the file changed on disk).
    pub fn set_bytes_total(&self, id: &str, bytes_total: u64) -> Result<()> {
        self.execute(
            "UPDATE files SET bytes_total = ?2 WHERE id = ?1",
            params![id, int(bytes_total)?],
            || format!("set the size of file {id}"),
        )
        .map(drop)
    }

    /// Removes a file with its session and parts. Returns whether it existed.
    pub fn delete_file(&self, id: &str) -> Result<bool> {
        self.execute("DELETE FROM files WHERE id = ?1", params![id], || {
            format!("delete file {id}")
        })
        .map(|n| n > 0)
    }

    /// Removes the files that succeeded at or before `before` (by `added_at` for files that
    /// succeeded under an older schema) and returns how many; frees their pages for reuse.
    pub fn prune_succeeded(&self, before: SystemTime) -> Result<usize> {
        let n = self.execute(
            "DELETE FROM files WHERE status = 'succeeded' \
             AND COALESCE(succeeded_at, added_at) <= ?1",
            params![to_ms(before)],
            || "remove old succeeded files".into(),
        )?;
        if n > 0 {
            // Returns the free pages to the file system where auto_vacuum is incremental (new
            // databases); elsewhere SQLite reuses them.
            // Each step frees one page: run the statement to its end.
            let conn = self.lock();
            conn.prepare("PRAGMA incremental_vacuum")
                .and_then(|mut st| {
                    let mut rows = st.query([])?;
                    while rows.next()?.is_some() {}
                    Ok(())
                })
                .ctx("free the removed files' pages")?;
        }
        Ok(n)
    }

    /// Removes every file, session and part.
    pub fn clear_files(&self) -> Result<()> {
        self.execute("DELETE FROM files", [], || "clear the queue".into())
            .map(drop)
    }

    // ---- sessions ----

    /// Creates or replaces the file's session. If the upload id differs from the stored one,
    /// the part ledger is cleared: its parts belonged to the other upload.
    pub fn save_session(&self, s: &Session) -> Result<()> {
        let mut conn = self.lock();
        let what = || format!("save the upload session of file {}", s.file_id);
        let (part_size, file_size) = (int(s.part_size)?, int(s.fingerprint.size)?);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(&what())?;
        clear_parts_unless_upload(&tx, &s.file_id, s.upload_id.as_deref()).ctx(&what())?;
        // An upsert, not INSERT OR REPLACE: REPLACE deletes the row first, which would cascade
        // to the ledger.
        tx.prepare_cached(&format!(
            "INSERT INTO sessions ({SESSION_COLUMNS}) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17 \
             WHERE EXISTS (SELECT 1 FROM files WHERE id = ?1) \
             ON CONFLICT (file_id) DO UPDATE SET upload_id = excluded.upload_id, \
             endpoint = excluded.endpoint, bucket = excluded.bucket, object = excluded.object, \
             video_id = excluded.video_id, image_id = excluded.image_id, \
             image_url = excluded.image_url, part_size = excluded.part_size, \
             content_type = excluded.content_type, file_size = excluded.file_size, \
             file_mtime_ns = excluded.file_mtime_ns, \
             file_head_sha256 = excluded.file_head_sha256, \
             file_tail_sha256 = excluded.file_tail_sha256, created_at = excluded.created_at, \
             credentials_expire_at = excluded.credentials_expire_at, \
             file_version = excluded.file_version"
        ))
        .and_then(|mut stmt| {
            stmt.execute(params![
                s.file_id,
                s.upload_id,
                s.endpoint,
                s.bucket,
                s.object,
                s.video_id,
                s.image_id,
                s.image_url,
                part_size,
                s.content_type,
                file_size,
                s.fingerprint.mtime_ns,
                fingerprint::to_hex(&s.fingerprint.head_sha256),
                fingerprint::to_hex(&s.fingerprint.tail_sha256),
                to_ms(s.created_at),
                s.credentials_expire_at.map(to_ms),
                s.fingerprint.version,
            ])
        })
        .ctx(&what())?;
        tx.commit().ctx(&what())
    }

    /// The file's session, if it has one.
    pub fn get_session(&self, file_id: &str) -> Result<Option<Session>> {
        let conn = self.lock();
        let what = || format!("read the upload session of file {file_id}");
        conn.prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE file_id = ?1"
        ))
        .and_then(|mut s| s.query_row(params![file_id], session_row).optional())
        .ctx(&what())
    }

    /// Sets the multipart upload id (after Initiate; `None` to forget it). A different id
    /// clears the part ledger.
    pub fn set_upload_id(&self, file_id: &str, upload_id: Option<&str>) -> Result<()> {
        let mut conn = self.lock();
        let what = || format!("set the upload id of file {file_id}");
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(&what())?;
        clear_parts_unless_upload(&tx, file_id, upload_id).ctx(&what())?;
        tx.prepare_cached(
            "UPDATE sessions SET upload_id = ?2, initiate_sent_at = NULL WHERE file_id = ?1",
        )
        .and_then(|mut s| s.execute(params![file_id, upload_id]))
        .ctx(&what())?;
        tx.commit().ctx(&what())
    }

    /// Removes the file's session and its part ledger.
    pub fn delete_session(&self, file_id: &str) -> Result<()> {
        self.execute(
            "DELETE FROM sessions WHERE file_id = ?1",
            params![file_id],
            || format!("delete the upload session of file {file_id}"),
        )
        .map(drop)
    }

    /// Forgets the file's session and parts and puts what the server may still hold in the
    /// cleanup outbox, in one transaction, so a kill after this leaves it owed, never
    /// forgotten: the abort of its multipart upload, or, when an InitiateMultipartUpload was
    /// sent whose answer never came, a search for uploads of the object begun since then.
    /// Returns the cleanup, if any.
    pub fn discard_session(&self, file_id: &str) -> Result<Option<Cleanup>> {
        let mut conn = self.lock();
        let what = || format!("discard the upload session of file {file_id}");
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(&what())?;
        let found = tx
            .prepare_cached(
                "SELECT s.upload_id, s.initiate_sent_at, s.endpoint, s.bucket, s.object, \
                 f.target, COALESCE(s.video_id, f.video_id) \
                 FROM sessions s JOIN files f ON f.id = s.file_id \
                 WHERE s.file_id = ?1 AND (s.upload_id IS NOT NULL OR s.initiate_sent_at IS NOT NULL)",
            )
            .and_then(|mut st| {
                st.query_row(params![file_id], |r| {
                    let upload_id: Option<String> = r.get(0)?;
                    let since: Option<i64> = r.get(1)?;
                    Ok(Cleanup::owed(
                        upload_id.clone(),
                        since.filter(|_| upload_id.is_none()).map(from_ms),
                        (r.get(2)?, r.get(3)?, r.get(4)?),
                        json_col(r, 5)?,
                        r.get(6)?,
                    ))
                })
                .optional()
            })
            .ctx(&what())?;
        let found = match found {
            Some(c) => Some(insert_cleanup(&tx, c).ctx(&what())?),
            None => None,
        };
        tx.prepare_cached("DELETE FROM sessions WHERE file_id = ?1")
            .and_then(|mut st| st.execute(params![file_id]))
            .ctx(&what())?;
        tx.commit().ctx(&what())?;
        Ok(found)
    }

    /// Puts a cleanup in the outbox (e.g. uploads found open that the engine will not use)
    /// and returns it with its id. An abort already owed for the same upload is kept.
    pub fn add_cleanup(&self, c: Cleanup) -> Result<Cleanup> {
        let conn = self.lock();
        let what = format!("owe the cleanup of {}", c.describe());
        insert_cleanup(&conn, c).ctx(&what)
    }

    /// Every owed cleanup, the most urgent first.
    pub fn cleanups(&self) -> Result<Vec<Cleanup>> {
        let conn = self.lock();
        let what = "read the cleanup outbox";
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, upload_id, since, endpoint, bucket, object, target, video_id, \
                 attempts, next_at, last_error, created_at FROM cleanups ORDER BY next_at, id",
            )
            .ctx(what)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Cleanup {
                    id: r.get(0)?,
                    upload_id: r.get(1)?,
                    since: r.get::<_, Option<i64>>(2)?.map(from_ms),
                    endpoint: r.get(3)?,
                    bucket: r.get(4)?,
                    object: r.get(5)?,
                    target: json_col(r, 6)?,
                    video_id: r.get(7)?,
                    attempts: r.get(8)?,
                    next_at: from_ms(r.get(9)?),
                    last_error: r.get(10)?,
                    created_at: from_ms(r.get(11)?),
                })
            })
            .ctx(what)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(what)
    }

    /// The server confirmed the cleanup (or it is given up): remove it from the outbox.
    pub fn cleanup_done(&self, id: i64) -> Result<()> {
        self.execute("DELETE FROM cleanups WHERE id = ?1", params![id], || {
            format!("remove cleanup {id}")
        })
        .map(drop)
    }

    /// Records a failed attempt and when to try again.
    pub fn cleanup_failed(&self, id: i64, error: &str, next_at: SystemTime) -> Result<()> {
        self.execute(
            "UPDATE cleanups SET attempts = attempts + 1, last_error = ?2, next_at = ?3 \
             WHERE id = ?1",
            params![id, error, to_ms(next_at)],
            || format!("record a failed attempt at cleanup {id}"),
        )
        .map(drop)
    }

    /// Records that an InitiateMultipartUpload for the file's session is about to be sent
    /// (`Some`), so an answer lost after the server acted can be looked for; `set_upload_id`
    /// clears it.
    pub fn set_initiate_sent(&self, file_id: &str, at: Option<SystemTime>) -> Result<()> {
        self.execute(
            "UPDATE sessions SET initiate_sent_at = ?2 WHERE file_id = ?1",
            params![file_id, at.map(to_ms)],
            || format!("record the Initiate of file {file_id}"),
        )
        .map(drop)
    }

    /// Records the answer to an InitiateMultipartUpload (`c.upload_id`) for whoever is still
    /// there to use it, in one transaction: the file's session takes it if it still waits for
    /// an upload of that object; otherwise the upload is owed an abort (see [`Settled`]).
    pub fn settle_initiated(&self, c: Cleanup, file_id: &str) -> Result<Settled> {
        let mut conn = self.lock();
        let what = || format!("record the upload id of file {file_id}");
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(&what())?;
        let session: Option<(Option<String>, String, String)> = tx
            .prepare_cached("SELECT upload_id, bucket, object FROM sessions WHERE file_id = ?1")
            .and_then(|mut st| {
                st.query_row(params![file_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
            })
            .ctx(&what())?;
        let settled = match session {
            Some((current, bucket, object)) if bucket == c.bucket && object == c.object => {
                match current {
                    None => {
                        tx.prepare_cached(
                            "UPDATE sessions SET upload_id = ?2, initiate_sent_at = NULL \
                             WHERE file_id = ?1",
                        )
                        .and_then(|mut st| st.execute(params![file_id, c.upload_id]))
                        .ctx(&what())?;
                        Settled::Taken
                    }
                    Some(u) if Some(&u) == c.upload_id.as_ref() => Settled::Taken,
                    Some(u) => Settled::Other(u, insert_cleanup(&tx, c).ctx(&what())?),
                }
            }
            _ => Settled::Owed(insert_cleanup(&tx, c).ctx(&what())?),
        };
        tx.commit().ctx(&what())?;
        Ok(settled)
    }

    /// Whether a session of this database uses the multipart upload `upload_id`.
    pub fn upload_in_use(&self, upload_id: &str) -> Result<bool> {
        let conn = self.lock();
        conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM sessions WHERE upload_id = ?1)")
            .and_then(|mut st| st.query_row(params![upload_id], |r| r.get(0)))
            .ctx(&format!("look up upload {upload_id}"))
    }

    /// When an InitiateMultipartUpload whose answer was never recorded was sent for the
    /// file's session, if one was.
    pub fn initiate_sent(&self, file_id: &str) -> Result<Option<SystemTime>> {
        let conn = self.lock();
        conn.prepare_cached("SELECT initiate_sent_at FROM sessions WHERE file_id = ?1")
            .and_then(|mut st| {
                st.query_row(params![file_id], |r| r.get::<_, Option<i64>>(0))
                    .optional()
            })
            .map(|v| v.flatten().map(from_ms))
            .ctx(&format!("read the Initiate of file {file_id}"))
    }

    // ---- parts ----

    /// Records a finished part (replacing an earlier record of the same number), in its own
    /// transaction. Does nothing if the file has no session (deleted or restarted meanwhile).
    pub fn record_part(&self, file_id: &str, part: &PartRecord) -> Result<()> {
        self.execute(
            "INSERT INTO parts (file_id, part_number, size, etag, crc64) \
             SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM sessions WHERE file_id = ?1) \
             ON CONFLICT (file_id, part_number) DO UPDATE SET size = excluded.size, \
             etag = excluded.etag, crc64 = excluded.crc64",
            params![
                file_id,
                part.part_number,
                int(part.size)?,
                part.etag,
                part.crc64.to_string()
            ],
            || format!("record part {} of file {file_id}", part.part_number),
        )
        .map(drop)
    }

    /// The file's finished parts, by ascending part number.
    pub fn parts(&self, file_id: &str) -> Result<Vec<PartRecord>> {
        let conn = self.lock();
        let what = || format!("read the parts of file {file_id}");
        let mut stmt = conn
            .prepare_cached(
                "SELECT part_number, size, etag, crc64 FROM parts WHERE file_id = ?1 \
                 ORDER BY part_number",
            )
            .ctx(&what())?;
        let rows = stmt
            .query_map(params![file_id], |r| {
                Ok(PartRecord {
                    part_number: r.get(0)?,
                    size: u64_col(r, 1)?,
                    etag: r.get(2)?,
                    crc64: crc_col(r, 3)?,
                })
            })
            .ctx(&what())?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(&what())
    }

    /// Forgets the file's finished parts (keeping its session).
    pub fn delete_parts(&self, file_id: &str) -> Result<()> {
        self.execute(
            "DELETE FROM parts WHERE file_id = ?1",
            params![file_id],
            || format!("delete the parts of file {file_id}"),
        )
        .map(drop)
    }

    /// Total size of the file's finished parts.
    pub fn bytes_done(&self, file_id: &str) -> Result<u64> {
        let conn = self.lock();
        conn.prepare_cached("SELECT COALESCE(SUM(size), 0) FROM parts WHERE file_id = ?1")
            .and_then(|mut s| s.query_row(params![file_id], |r| u64_col(r, 0)))
            .ctx(&format!("sum the parts of file {file_id}"))
    }

    /// Runs one cached statement (its own implicit transaction); returns the rows changed.
    fn execute(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        what: impl FnOnce() -> String,
    ) -> Result<usize> {
        let conn = self.lock();
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute(params))
            .ctx(&what())
    }
}

fn query_file(conn: &rusqlite::Connection, id: &str) -> Result<Option<FileRow>> {
    conn.prepare_cached(&format!(
        "SELECT {FILE_COLUMNS} FROM files f WHERE f.id = ?1"
    ))
    .and_then(|mut s| s.query_row(params![id], file_row).optional())
    .ctx(&format!("read file {id}"))
}

/// Adds a cleanup and returns it with its id; an abort already owed for the same upload is
/// kept as it is (and returned).
fn insert_cleanup(conn: &rusqlite::Connection, mut c: Cleanup) -> rusqlite::Result<Cleanup> {
    let target = serde_json::to_string(&c.target)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO cleanups (upload_id, since, endpoint, bucket, object, target, video_id, \
             attempts, next_at, last_error, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (upload_id) DO NOTHING",
        )?
        .execute(params![
            c.upload_id,
            c.since.map(to_ms),
            c.endpoint,
            c.bucket,
            c.object,
            target,
            c.video_id,
            c.attempts,
            to_ms(c.next_at),
            c.last_error,
            to_ms(c.created_at),
        ])?;
    c.id = if inserted > 0 {
        conn.last_insert_rowid()
    } else {
        conn.query_row(
            "SELECT id FROM cleanups WHERE upload_id = ?1",
            params![c.upload_id],
            |r| r.get(0),
        )?
    };
    Ok(c)
}

/// Deletes the file's parts if its session's upload id is not `upload_id`.
fn clear_parts_unless_upload(
    conn: &rusqlite::Connection,
    file_id: &str,
    upload_id: Option<&str>,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM parts WHERE file_id = ?1 AND EXISTS \
         (SELECT 1 FROM sessions WHERE file_id = ?1 AND upload_id IS NOT ?2)",
    )?
    .execute(params![file_id, upload_id])
}

fn file_row(r: &Row<'_>) -> rusqlite::Result<FileRow> {
    let error_code: Option<String> = r.get(7)?;
    let error_message: Option<String> = r.get(8)?;
    let error_request_id: Option<String> = r.get(9)?;
    Ok(FileRow {
        id: r.get(0)?,
        source: source_col(r, 1, 16)?,
        target: json_col(r, 2)?,
        vod_info: json_col(r, 3)?,
        status: status_col(r, 4)?,
        bytes_total: u64_col(r, 5)?,
        added_at: from_ms(r.get(6)?),
        last_error: error_code.map(|code| FileError {
            code,
            message: error_message.unwrap_or_default(),
            request_id: error_request_id,
        }),
        endpoint: r.get(10)?,
        bucket: r.get(11)?,
        object: r.get(12)?,
        video_id: r.get(13)?,
        image_url: r.get(14)?,
        crc64: r
            .get::<_, Option<String>>(15)?
            .map(|s| parse_crc(15, &s))
            .transpose()?,
        bytes_done: u64_col(r, 17)?,
    })
}

fn session_row(r: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        file_id: r.get(0)?,
        upload_id: r.get(1)?,
        endpoint: r.get(2)?,
        bucket: r.get(3)?,
        object: r.get(4)?,
        video_id: r.get(5)?,
        image_id: r.get(6)?,
        image_url: r.get(7)?,
        part_size: u64_col(r, 8)?,
        content_type: r.get(9)?,
        fingerprint: Fingerprint {
            size: u64_col(r, 10)?,
            mtime_ns: r.get(11)?,
            version: r.get(16)?,
            head_sha256: hash_col(r, 12)?,
            tail_sha256: hash_col(r, 13)?,
        },
        created_at: from_ms(r.get(14)?),
        credentials_expire_at: r.get::<_, Option<i64>>(15)?.map(from_ms),
    })
}

// ---- column conversions ----

fn bad_column(idx: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, what.into())
}

/// Sizes are u64 in Rust and INTEGER (i64) in SQLite; real sizes never reach 2^63.
fn int(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::InvalidArgument(format!("size {v} is too large to store")))
}

fn u64_col(r: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = r.get(idx)?;
    u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v))
}

fn json_col<T: serde::de::DeserializeOwned>(r: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = r.get(idx)?;
    serde_json::from_str(&text).map_err(|e| bad_column(idx, format!("invalid stored JSON: {e}")))
}

fn source_col(r: &Row<'_>, path: usize, kind: usize) -> rusqlite::Result<FileSource> {
    let location: String = r.get(path)?;
    match r.get::<_, String>(kind)?.as_str() {
        "path" => Ok(FileSource::Path(PathBuf::from(location))),
        "uri" => Ok(FileSource::Uri(location)),
        other => Err(bad_column(
            kind,
            format!("unknown file source kind {other:?}"),
        )),
    }
}

fn status_col(r: &Row<'_>, idx: usize) -> rusqlite::Result<FileStatus> {
    let text: String = r.get(idx)?;
    parse_status(&text).ok_or_else(|| bad_column(idx, format!("unknown file status {text:?}")))
}

fn crc_col(r: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    parse_crc(idx, &r.get::<_, String>(idx)?)
}

fn parse_crc(idx: usize, s: &str) -> rusqlite::Result<u64> {
    s.parse()
        .map_err(|_| bad_column(idx, format!("invalid stored CRC-64 {s:?}")))
}

fn hash_col(r: &Row<'_>, idx: usize) -> rusqlite::Result<[u8; 32]> {
    let text: String = r.get(idx)?;
    fingerprint::from_hex(&text)
        .ok_or_else(|| bad_column(idx, format!("invalid stored SHA-256 {text:?}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| {
        StoreError::new(StoreErrorKind::Other, format!("cannot encode JSON: {e}")).into()
    })
}

fn path_text(path: &std::path::Path) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        Error::InvalidArgument(format!("file path is not valid UTF-8: {}", path.display()))
    })
}

/// The stored spelling of each status (fixed here, independent of serde renames).
fn status_text(status: FileStatus) -> &'static str {
    match status {
        FileStatus::Ready => "ready",
        FileStatus::Uploading => "uploading",
        FileStatus::Waiting => "waiting",
        FileStatus::Paused => "paused",
        FileStatus::Canceled => "canceled",
        FileStatus::Succeeded => "succeeded",
        FileStatus::Failed => "failed",
    }
}

fn parse_status(text: &str) -> Option<FileStatus> {
    Some(match text {
        "ready" => FileStatus::Ready,
        "uploading" => FileStatus::Uploading,
        "waiting" => FileStatus::Waiting,
        "paused" => FileStatus::Paused,
        "canceled" => FileStatus::Canceled,
        "succeeded" => FileStatus::Succeeded,
        "failed" => FileStatus::Failed,
        _ => return None,
    })
}

/// Unix milliseconds (negative before 1970, saturating far out).
fn to_ms(t: SystemTime) -> i64 {
    let clamp = |n: u128| i64::try_from(n).unwrap_or(i64::MAX);
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => clamp(d.as_millis()),
        Err(before) => -clamp(before.duration().as_millis()),
    }
}

/// The inverse of [`to_ms`]; a time the platform cannot represent becomes the epoch.
fn from_ms(ms: i64) -> SystemTime {
    let d = Duration::from_millis(ms.unsigned_abs());
    let t = if ms >= 0 {
        UNIX_EPOCH.checked_add(d)
    } else {
        UNIX_EPOCH.checked_sub(d)
    };
    t.unwrap_or(UNIX_EPOCH)
}
