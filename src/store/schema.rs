//! The checkpoint database schema and its migrations.
//!
//! [`CREATE`] is always the *current* schema; a new database gets it in one go. An older
//! database is brought up to date by [`upgrade_from`], one match arm per released version.
//! Released arms are never edited: the migration test keeps a snapshot of every old schema and
//! checks that migrating it gives exactly what [`CREATE`] gives.

use rusqlite::{Connection, TransactionBehavior};

use super::db::SqlContext;
use crate::error::{StoreError, StoreErrorKind};
use crate::{Error, Result};

/// The schema version this code writes (`PRAGMA user_version`).
pub(crate) const VERSION: u32 = 3;

/// `PRAGMA application_id` ("VODU"): tells our database apart from any other SQLite file the
/// app might point us at by mistake.
pub(crate) const APPLICATION_ID: i32 = 0x564F_4455;

/// The current schema. STRICT tables so a wrong type is an error, not a silent conversion.
pub(crate) const CREATE: &str = r#"
-- files: the upload queue, one row per added file, in queue order.
--   id          the engine's FileId (a UUID string); stable across restarts.
--   position    queue order; `add` appends (max + 1). Gaps after deletes are harmless.
--   path        the local file (UTF-8), or the URI of an app-supplied source (see `source`).
--   target      JSON of model::UploadTarget; vod_info: JSON of model::VodInfo.
--   status      model::FileStatus in snake_case.
--   bytes_total the file size when added (or when its upload restarted).
--   added_at    unix milliseconds.
--   error_*     the last error (code, message, request id), NULL when there is none.
--   endpoint, bucket, object, video_id, image_url: where the file goes, once known
--               (UploadAddress / the target), and the result after success.
--   crc64       the object's CRC-64/XZ after success, as a decimal string (u64 does not fit
--               SQLite's i64; decimal is also how OSS writes it in x-oss-hash-crc64ecma).
--   source      'path': `path` is a local file; 'uri': `path` is a URI the app's
--               SourceOpener opens (added in version 2).
--   succeeded_at unix milliseconds of the success, for Config::keep_succeeded (added in
--               version 3; NULL for files that succeeded before it, which use added_at).
CREATE TABLE files (
    id               TEXT PRIMARY KEY NOT NULL,
    position         INTEGER NOT NULL UNIQUE,
    path             TEXT NOT NULL,
    target           TEXT NOT NULL,
    vod_info         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('ready', 'uploading', 'waiting', 'paused',
                                                     'canceled', 'succeeded', 'failed')),
    bytes_total      INTEGER NOT NULL CHECK (bytes_total >= 0),
    added_at         INTEGER NOT NULL,
    error_code       TEXT,
    error_message    TEXT,
    error_request_id TEXT,
    endpoint         TEXT,
    bucket           TEXT,
    object           TEXT,
    video_id         TEXT,
    image_url        TEXT,
    crc64            TEXT,
    source           TEXT NOT NULL DEFAULT 'path' CHECK (source IN ('path', 'uri')),
    succeeded_at     INTEGER
) STRICT;

-- sessions: the upload in progress of one file (at most one per file).
--   upload_id   the OSS multipart upload id; NULL before InitiateMultipartUpload and for
--               single-request PutObject uploads.
--   endpoint, bucket, object, video_id, image_id, image_url: from UploadAddress / VOD.
--   part_size   the part size AS USED by this upload (never recomputed on resume).
--   content_type sent with Initiate / PutObject.
--   file_*      the fingerprint taken when the upload started: size, mtime (ns since the
--               epoch; 0 for a URI source) and SHA-256 (lower-case hex) of the first and last
--               64 KiB; file_version: a URI source's version tag (ByteSource::version), NULL
--               for files and sources without one (added in version 2).
--   initiate_sent_at: unix milliseconds when an InitiateMultipartUpload was sent whose answer
--               is not recorded yet (upload_id NULL); cleared with the upload id (version 3).
--   created_at  unix milliseconds.
--   credentials_expire_at: unix milliseconds, when known. Credential METADATA only: no
--               AccessKeySecret, SecurityToken or UploadAuth is ever stored.
CREATE TABLE sessions (
    file_id               TEXT PRIMARY KEY NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    upload_id             TEXT,
    endpoint              TEXT NOT NULL,
    bucket                TEXT NOT NULL,
    object                TEXT NOT NULL,
    video_id              TEXT,
    image_id              TEXT,
    image_url             TEXT,
    part_size             INTEGER NOT NULL CHECK (part_size > 0),
    content_type          TEXT,
    file_size             INTEGER NOT NULL CHECK (file_size >= 0),
    file_mtime_ns         INTEGER NOT NULL,
    file_head_sha256      TEXT NOT NULL,
    file_tail_sha256      TEXT NOT NULL,
    created_at            INTEGER NOT NULL,
    credentials_expire_at INTEGER,
    file_version          TEXT,
    initiate_sent_at      INTEGER
) STRICT;

-- parts: the ledger of finished parts of a session's multipart upload; one short transaction
-- per finished part. Rows belong to the session's current upload_id: changing the upload id
-- clears them. crc64 is the part's CRC-64/XZ as a decimal string (see files.crc64).
CREATE TABLE parts (
    file_id     TEXT NOT NULL REFERENCES sessions (file_id) ON DELETE CASCADE,
    part_number INTEGER NOT NULL CHECK (part_number BETWEEN 1 AND 10000),
    size        INTEGER NOT NULL CHECK (size >= 0),
    etag        TEXT NOT NULL,
    crc64       TEXT NOT NULL,
    PRIMARY KEY (file_id, part_number)
) STRICT, WITHOUT ROWID;

-- cleanups: the outbox of server-side work the engine owes (added in version 3): abort a
-- multipart upload that a delete, cancel or restart left open, or find and abort the uploads
-- an InitiateMultipartUpload whose answer was lost may have begun. A row is written in the
-- same transaction that forgets the session, so no kill can lose it, and removed only when
-- the server confirms (or after engine::cleanup::MAX_AGE, when OSS lifecycle rules take over).
--   upload_id   the OSS multipart upload id to abort; NULL: every upload of `object` begun
--               since `since` (unix ms), found with ListMultipartUploads.
--   endpoint, bucket, object: where it is.
--   target      JSON of model::UploadTarget: which credentials can do it after a restart.
--   video_id    the VOD video, for RefreshUploadVideo (mode 2) after a restart.
--   attempts    attempts so far; next_at: unix milliseconds of the next one.
--   last_error  why the last attempt failed (no secret: an error code and message).
--   created_at  unix milliseconds.
CREATE TABLE cleanups (
    id          INTEGER PRIMARY KEY,
    upload_id   TEXT UNIQUE,
    since       INTEGER,
    endpoint    TEXT NOT NULL,
    bucket      TEXT NOT NULL,
    object      TEXT NOT NULL,
    target      TEXT NOT NULL,
    video_id    TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_at     INTEGER NOT NULL,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    CHECK (upload_id IS NOT NULL OR since IS NOT NULL)
) STRICT;
"#;

/// Brings the database to [`VERSION`]: creates it when empty, migrates it when older, and
/// refuses it when it is newer or not ours.
pub(crate) fn init(conn: &mut Connection) -> Result<()> {
    // Immediate: take the write lock before reading the version, so two processes opening the
    // same new file cannot both create the schema.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("open the checkpoint database")?;
    let version: u32 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .ctx("read the schema version")?;
    let app_id: i32 = tx
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .ctx("read the application id")?;
    // Never write our schema into someone else's database: a foreign id, or a version or
    // tables without our id.
    let objects: i64 = tx
        .query_row("SELECT COUNT(*) FROM sqlite_schema", [], |r| r.get(0))
        .ctx("read the schema")?;
    if app_id != APPLICATION_ID && (app_id != 0 || version != 0 || objects != 0) {
        return Err(StoreError::new(
            StoreErrorKind::Incompatible,
            format!(
                "not a vod-upload checkpoint database (application id {app_id:#x}, schema \
                 version {version})"
            ),
        )
        .into());
    }
    if version > VERSION {
        // Opening it anyway could write rows an older schema cannot express: refuse, keep it.
        return Err(Error::Store(StoreError::new(
            StoreErrorKind::Incompatible,
            format!(
                "the checkpoint database has schema version {version}, newer than the {VERSION} this \
             version of vod-upload knows; it was written by a newer app version and is left \
             untouched (upgrade the app, or delete the database to start over)"
            ),
        )));
    }
    if version == VERSION {
        return Ok(());
    }
    if version == 0 {
        tx.execute_batch(CREATE).ctx("create the schema")?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .ctx("set the application id")?;
    } else {
        upgrade_from(&tx, version)?;
    }
    tx.pragma_update(None, "user_version", VERSION)
        .ctx("set the schema version")?;
    tx.commit().ctx("commit the schema")
}

/// Migrates a database at `from` (1 ≤ from < VERSION) to [`VERSION`], one step per arm: arm
/// `n` turns an `n` database into `n + 1`. Runs inside the caller's transaction.
fn upgrade_from(tx: &Connection, from: u32) -> Result<()> {
    for version in from..VERSION {
        match version {
            // 2: files added by URI (app-supplied byte sources) and their version tags.
            1 => tx
                .execute_batch(
                    "ALTER TABLE files ADD COLUMN source TEXT NOT NULL DEFAULT 'path' \
                     CHECK (source IN ('path', 'uri'));
                     ALTER TABLE sessions ADD COLUMN file_version TEXT;",
                )
                .ctx("migrate checkpoint schema 1 to 2")?,
            // 3: the cleanup outbox, Initiate intents, and when files succeeded (for retention).
            2 => tx
                .execute_batch(
                    "ALTER TABLE files ADD COLUMN succeeded_at INTEGER;
                    ALTER TABLE sessions ADD COLUMN initiate_sent_at INTEGER;
                    CREATE TABLE cleanups (
                        id          INTEGER PRIMARY KEY,
                        upload_id   TEXT UNIQUE,
                        since       INTEGER,
                        endpoint    TEXT NOT NULL,
                        bucket      TEXT NOT NULL,
                        object      TEXT NOT NULL,
                        target      TEXT NOT NULL,
                        video_id    TEXT,
                        attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                        next_at     INTEGER NOT NULL,
                        last_error  TEXT,
                        created_at  INTEGER NOT NULL,
                        CHECK (upload_id IS NOT NULL OR since IS NOT NULL)
                    ) STRICT;",
                )
                .ctx("migrate checkpoint schema 2 to 3")?,
            other => {
                return Err(StoreError::new(
                    StoreErrorKind::Incompatible,
                    format!("no migration from checkpoint schema version {other}"),
                )
                .into());
            }
        }
    }
    Ok(())
}
