//! Opening the database: pragmas, schema, corruption recovery, and error mapping.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, ErrorCode};

use super::schema;
use crate::error::{StoreError, StoreErrorKind};
use crate::{Error, Result};

/// How long a statement waits for a lock held by another connection (another process on the
/// same file) before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The checkpoint store: the upload queue, each file's multipart session, and the part ledger,
/// in one SQLite database.
///
/// `Send + Sync`: one connection behind a mutex. Every call is one short statement or
/// transaction (well under a millisecond for the ledger sizes we keep), so a single writer is
/// simpler than a pool and never the bottleneck: at most one write per finished part.
#[derive(Debug)]
pub struct Store {
    pub(super) conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed, with its parent directories) the database at `path`, and
    /// brings its schema up to date.
    ///
    /// Fails with [`Error::Store`] when the file is not a database or is corrupt (see
    /// [`Store::open_or_recover`]), was written by a newer version, or cannot be opened.
    pub fn open(path: &Path) -> Result<Store> {
        open_file(path, false).map_err(|e| e.into_error(path))
    }

    /// Opens the database at `path`; if it is not a database or is corrupt (`PRAGMA
    /// quick_check` fails), moves it aside, with its `-wal`/`-shm` files, to
    /// `<path>.corrupt-<unix seconds>` and starts a fresh, empty one.
    ///
    /// Returns the store and, when it recovered, where the old file went, so the app can report
    /// it (the queue is lost; uploads in it start over when added again). Any other failure
    /// (permissions, full disk, a database from a newer version) is an error and nothing is
    /// moved.
    pub fn open_or_recover(path: &Path) -> Result<(Store, Option<PathBuf>)> {
        match open_file(path, true) {
            Ok(store) => Ok((store, None)),
            Err(OpenError::Corrupt(reason)) => {
                tracing::warn!(path = %path.display(), %reason, "checkpoint database is corrupt");
                let moved = move_aside(path)?;
                tracing::warn!(moved_to = %moved.display(), "moved the corrupt database aside");
                let store = Store::open(path)?;
                Ok((store, Some(moved)))
            }
            Err(OpenError::Other(e)) => Err(e),
        }
    }

    /// A database that lives in memory only: nothing survives the process.
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory().ctx("open an in-memory database")?;
        Store::from_connection(conn)
    }

    fn from_connection(mut conn: Connection) -> Result<Store> {
        configure(&conn)?;
        schema::init(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    /// The connection. A panic while it was held cannot leave it inconsistent (an open
    /// transaction rolls back when dropped), so a poisoned lock is simply taken over.
    pub(super) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Per-connection settings.
fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .ctx("set the busy timeout")?;
    // Incremental auto-vacuum lets `prune_succeeded` give freed pages back to the file
    // system. It takes effect only on a database with no tables yet (a new one); older ones
    // keep reusing free pages.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
        .ctx("set auto-vacuum")?;
    // WAL: a part commit appends to the log instead of rewriting pages, and readers never block
    // the writer. (In-memory databases answer "memory"; that is fine.)
    let _mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .ctx("enable WAL")?;
    // NORMAL with WAL never corrupts the database; it only skips the fsync per commit, so an
    // OS crash or power cut can lose the last few commits (an app crash loses nothing). That is
    // fine for checkpoints: a part the ledger lost is found again with ListParts on resume,
    // while FULL would cost an fsync per finished part, tens of ms on phone flash.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .ctx("set synchronous mode")?;
    // Off by default in SQLite; the CASCADE deletes of sessions and parts rely on it.
    conn.pragma_update(None, "foreign_keys", true)
        .ctx("enable foreign keys")?;
    // Truncate the WAL back to 1 MiB after checkpoints, so it does not keep its peak size.
    conn.pragma_update(None, "journal_size_limit", 1024 * 1024)
        .ctx("set the journal size limit")?;
    // Room for every statement the store uses, so prepare_cached never re-prepares.
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}

/// Opens the file; `full_check` runs `PRAGMA quick_check` (reads every page's structure and
/// catches a damaged file with a valid header; cheap at our sizes, a few MB at most), otherwise
/// only the header is read.
fn open_file(path: &Path, full_check: bool) -> Result<Store, OpenError> {
    let in_path = |kind: StoreErrorKind, msg: String| {
        Error::Store(StoreError::new(kind, format!("{}: {msg}", path.display())))
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        // iOS's Application Support directory, for one, does not exist until someone makes it.
        std::fs::create_dir_all(parent).map_err(|e| {
            in_path(
                io_kind(&e),
                format!("cannot create the directory {}: {e}", parent.display()),
            )
        })?;
    }
    // SQLite's message already names the file.
    let conn = Connection::open(path).map_err(|e| {
        Error::Store(StoreError::new(
            kind_of(&e),
            format!("cannot open the checkpoint database: {}", describe(&e)),
        ))
    })?;
    // The first statement that reads the file: corruption shows up here, and only corruption
    // becomes OpenError::Corrupt; any later failure is an ordinary error.
    let probe = if full_check {
        "PRAGMA quick_check(1)"
    } else {
        "PRAGMA schema_version"
    };
    let verdict = conn.query_row(probe, [], |r| r.get::<_, rusqlite::types::Value>(0));
    match verdict {
        Err(e) if is_corruption(&e) => return Err(OpenError::Corrupt(e.to_string())),
        Err(e) => {
            return Err(in_path(kind_of(&e), format!("cannot read: {}", describe(&e))).into());
        }
        Ok(rusqlite::types::Value::Text(v)) if v != "ok" => {
            return Err(OpenError::Corrupt(format!("quick_check: {v}")));
        }
        Ok(_) => {}
    }
    Store::from_connection(conn).map_err(|e| match e {
        Error::Store(e) => in_path(e.kind, e.message).into(),
        other => other.into(),
    })
}

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

/// Renames `path` and its `-wal`, `-shm` and `-journal` companions to
/// `<path>.corrupt-<unix seconds>[...]` and returns the new main file name. The companions keep
/// their suffix so the moved set can still be opened with `sqlite3` for a post-mortem.
pub(super) fn move_aside(path: &Path) -> Result<PathBuf> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = path.as_os_str().to_owned();
    let mut target = None;
    // Two recoveries within a second: add a counter rather than overwrite the first.
    for n in 0..100u32 {
        let mut candidate = base.clone();
        candidate.push(format!(".corrupt-{secs}"));
        if n > 0 {
            candidate.push(format!("-{n}"));
        }
        let candidate = PathBuf::from(candidate);
        if !candidate.exists() {
            target = Some(candidate);
            break;
        }
    }
    let target = target.ok_or_else(|| {
        StoreError::new(
            StoreErrorKind::Corrupt,
            format!("cannot find a free name to move {} aside", path.display()),
        )
    })?;
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|e| {
            StoreError::new(
                StoreErrorKind::Corrupt,
                format!(
                    "the checkpoint database {} is corrupt and could not be moved aside to {}: {e}",
                    path.display(),
                    to.display()
                ),
            )
        })
    };
    rename(path, &target)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut from = base.clone();
        from.push(suffix);
        let from = PathBuf::from(from);
        if from.exists() {
            let mut to = target.clone().into_os_string();
            to.push(suffix);
            rename(&from, Path::new(&to))?;
        }
    }
    Ok(target)
}

/// Why opening failed: a corrupt file (recoverable by moving it aside) or anything else.
enum OpenError {
    Corrupt(String),
    Other(Error),
}

impl OpenError {
    fn into_error(self, path: &Path) -> Error {
        match self {
            OpenError::Corrupt(reason) => Error::Store(StoreError::new(
                StoreErrorKind::Corrupt,
                format!(
                    "the checkpoint database {} is corrupt ({reason}); open it with \
                     open_or_recover to move it aside and start afresh",
                    path.display()
                ),
            )),
            OpenError::Other(e) => e,
        }
    }
}

impl From<Error> for OpenError {
    fn from(e: Error) -> Self {
        OpenError::Other(e)
    }
}

/// Converts rusqlite results into the crate's [`Error::Store`], naming what we were doing.
pub(crate) trait SqlContext<T> {
    /// `what`: the operation, e.g. "record part 3 of file <id>".
    fn ctx(self, what: &str) -> Result<T>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn ctx(self, what: &str) -> Result<T> {
        self.map_err(|e| {
            Error::Store(StoreError::new(
                kind_of(&e),
                format!("cannot {what}: {}", describe(&e)),
            ))
        })
    }
}

/// The kind of a SQLite failure, for the app to act on.
fn kind_of(e: &rusqlite::Error) -> StoreErrorKind {
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => StoreErrorKind::DiskFull,
        Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::CannotOpen) => {
            StoreErrorKind::ReadOnly
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreErrorKind::Locked,
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreErrorKind::Corrupt,
        _ => StoreErrorKind::Other,
    }
}

fn io_kind(e: &std::io::Error) -> StoreErrorKind {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            StoreErrorKind::ReadOnly
        }
        std::io::ErrorKind::StorageFull => StoreErrorKind::DiskFull,
        _ => StoreErrorKind::Other,
    }
}

/// A clear message for the failures an app can do something about.
fn describe(e: &rusqlite::Error) -> String {
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => format!("the disk is full ({e})"),
        Some(ErrorCode::ReadOnly) => format!("the database file is read-only ({e})"),
        Some(ErrorCode::CannotOpen) => {
            format!("{e} (check that the path is a file in a writable directory)")
        }
        Some(ErrorCode::PermissionDenied) => format!("permission denied ({e})"),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            format!("the database is locked by another connection ({e})")
        }
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            format!("the database file is corrupt ({e}); Store::open_or_recover moves it aside")
        }
        _ => e.to_string(),
    }
}
