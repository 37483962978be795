//! `cancel` and `delete`: one file's queue entry changed through the engine, which owes the
//! abort of its multipart upload to its cleanup outbox; this command lets the engine carry it
//! out (bounded), or says that it is owed.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vod_upload::protocol::credentials::UploadAddress;
use vod_upload::store::{Cleanup, FileRow, Store};
use vod_upload::{Engine, FileStatus};

use crate::cli::{CancelArgs, CredentialArgs, DeleteArgs, QueueArgs, SignatureArg};
use crate::creds::Mode;
use crate::failure::{Exit, Failure};
use crate::run::{base_config, default_state_db};
use crate::util::Obj;

pub use crate::queue::status_name;

/// How often the outbox is looked at while waiting for an abort.
const POLL: Duration = Duration::from_millis(50);

/// Opens an existing state database to look a file id up (never creates one).
pub fn open_for_id(path: &Path) -> Result<Store, Failure> {
    if !path.exists() {
        return Err(Failure::usage(format!(
            "there is no state database at {} (so no upload with that id); pass --state-db PATH",
            path.display()
        )));
    }
    Store::open(path).map_err(|e| Failure::engine("cannot open the state database", &e))
}

/// The file `given` names: its whole id, or a prefix of exactly one id.
pub fn find_id<'a>(rows: &'a [FileRow], given: &str, db: &Path) -> Result<&'a FileRow, Failure> {
    let given = given.trim();
    if given.is_empty() {
        return Err(Failure::usage("the file id is empty"));
    }
    if let Some(r) = rows.iter().find(|r| r.id == given) {
        return Ok(r);
    }
    let matches: Vec<&FileRow> = rows
        .iter()
        .filter(|r| {
            r.id.to_ascii_lowercase()
                .starts_with(&given.to_ascii_lowercase())
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(Failure::usage(format!(
            "no upload with id {given} in {}; `vod-upload list` shows the ids",
            db.display()
        ))),
        many => Err(Failure::usage(format!(
            "the id {given} is ambiguous in {}: it begins {} ids ({}); give more of it",
            db.display(),
            many.len(),
            many.iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// What became of a file's multipart upload.
enum Abort {
    /// There was none open (not started, a single PutObject, finished, already discarded).
    Nothing,
    /// Kept on the server (`cancel --keep-upload`).
    Kept,
    /// The server confirmed the abort.
    Aborted,
    /// In the outbox still; the reason.
    Owed(String),
}

impl Abort {
    fn name(&self) -> &'static str {
        match self {
            Abort::Nothing => "none",
            Abort::Kept => "kept",
            Abort::Aborted => "aborted",
            Abort::Owed(_) => "owed",
        }
    }
}

pub async fn cancel(args: CancelArgs) -> Result<Exit, Failure> {
    let keep = args.keep_upload;
    change(&args.id, &args.queue, Verb::Cancel { keep }).await
}

pub async fn delete(args: DeleteArgs) -> Result<Exit, Failure> {
    change(&args.id, &args.queue, Verb::Delete).await
}

#[derive(Clone, Copy)]
enum Verb {
    Cancel { keep: bool },
    Delete,
}

async fn change(id: &str, args: &QueueArgs, verb: Verb) -> Result<Exit, Failure> {
    let mode = Mode::resolve(&args.credentials)?;
    let db = match &args.state_db {
        Some(p) => p.clone(),
        None => default_state_db()?,
    };
    let store = open_for_id(&db)?;
    let rows = store
        .list_files()
        .map_err(|e| Failure::engine("cannot read the state database", &e))?;
    let row = find_id(&rows, id, &db)?.clone();
    let name = row.source.location();
    let session = store.get_session(&row.id).ok().flatten();
    let upload_id = session.as_ref().and_then(|s| s.upload_id.clone());
    if let Verb::Cancel { keep } = verb {
        match row.status {
            FileStatus::Succeeded => {
                return Err(Failure::usage(format!(
                    "{name} ({}) is already uploaded: there is nothing to cancel (`vod-upload delete {}` removes \
                     it from the list)",
                    row.id, row.id
                )));
            }
            FileStatus::Canceled if upload_id.is_some() && !keep => {
                return Err(Failure::usage(format!(
                    "{name} ({}) is already canceled, with its multipart upload kept: `vod-upload delete {}` \
                     aborts it, `vod-upload retry {}` continues it",
                    row.id, row.id, row.id
                )));
            }
            FileStatus::Canceled => {
                return Err(Failure::usage(format!(
                    "{name} ({}) is already canceled",
                    row.id
                )));
            }
            _ => {}
        }
    }
    // Mode 1 names one object: refuse a pair for another before the engine records it.
    if let Mode::UploadAuth { address, .. } = &mode
        && let Some(s) = &session
    {
        let a = UploadAddress::decode(address)
            .map_err(|e| Failure::usage(format!("{}: {e}", e.code())))?;
        if a.bucket != s.bucket || a.file_name != s.object {
            return Err(Failure::usage(format!(
                "the UploadAuth/UploadAddress given are for another object ({}/{}), not {name}'s ({}/{})",
                a.bucket, a.file_name, s.bucket, s.object
            )));
        }
    }

    let engine = open_engine(&mode, &args.credentials, &db)?;
    if let Mode::UploadAuth {
        auth,
        address,
        video_id,
    } = &mode
        && !row.status.is_terminal()
    {
        // The credentials the abort is made with (the engine ignores them for a finished file).
        engine
            .set_upload_auth_and_address(&row.id, auth.expose(), address, video_id.clone())
            .map_err(|e| Failure::engine("the UploadAuth/UploadAddress were refused", &e))?;
    }
    let before: HashSet<i64> = cleanups(&store)?.iter().map(|c| c.id).collect();
    let result = match verb {
        Verb::Cancel { keep } => engine.cancel_file(&row.id, keep),
        Verb::Delete => engine.delete_file(&row.id),
    };
    if let Err(e) = result {
        engine.shutdown();
        return Err(Failure::engine("cannot update the state database", &e));
    }
    // The cleanups this call owed: new ones, or one already owed for the same upload.
    let ours =
        |c: &Cleanup| !before.contains(&c.id) || (upload_id.is_some() && c.upload_id == upload_id);
    let owed_now: Vec<Cleanup> = cleanups(&store)?.into_iter().filter(ours).collect();
    let abort = if matches!(verb, Verb::Cancel { keep: true }) {
        if upload_id.is_some() {
            Abort::Kept
        } else {
            Abort::Nothing
        }
    } else if owed_now.is_empty() {
        Abort::Nothing
    } else if matches!(mode, Mode::Simulator) {
        Abort::Owed("no credentials given".into())
    } else {
        match wait_for_outbox(&store, &ours, Duration::from_secs(args.abort_timeout)).await? {
            None => Abort::Aborted,
            Some(why) => Abort::Owed(why),
        }
    };
    engine.shutdown();
    let status = store
        .get_file(&row.id)
        .map_err(|e| Failure::engine("cannot read the state database", &e))?
        .map(|r| status_name(r.status));
    let other_owed = cleanups(&store)?.iter().filter(|c| !ours(c)).count();
    drop(store);

    let (event, done) = match verb {
        Verb::Cancel { .. } => ("canceled", "canceled"),
        Verb::Delete => ("deleted", "removed"),
    };
    if args.json {
        let mut o = Obj::event(event)
            .put("file", &name)
            .put("id", &row.id)
            .put("status", status.unwrap_or("deleted"))
            .put("multipart_upload", abort.name())
            .put("upload_id", &upload_id);
        if let Abort::Owed(why) = &abort {
            o.set("reason", why);
        }
        o.emit();
    } else {
        let what = match &abort {
            Abort::Nothing => String::new(),
            Abort::Kept => format!(
                " (multipart upload kept: `vod-upload retry {}` continues it)",
                row.id
            ),
            Abort::Aborted => " (multipart upload aborted)".into(),
            Abort::Owed(_) => " (multipart upload not aborted yet)".into(),
        };
        println!("{done} {name} [{}]{what}", row.id);
    }
    if let Abort::Owed(why) = &abort {
        eprintln!(
            "the abort of its multipart upload is owed ({why}): it is kept in {} and carried out by the next \
             vod-upload run on it that has credentials (its parts stay billed until then, or until the bucket's \
             lifecycle rule removes them)",
            db.display()
        );
    }
    if other_owed > 0 && !args.json {
        eprintln!(
            "{other_owed} other abort(s) of earlier uploads are still owed in this state database"
        );
    }
    Ok(Exit::Ok)
}

/// The engine on the state database with whatever credentials were given (nothing uploads:
/// it is never started; its outbox works regardless).
pub fn open_engine(mode: &Mode, creds: &CredentialArgs, db: &Path) -> Result<Engine, Failure> {
    let mut config = base_config(creds, SignatureArg::V1)?;
    if matches!(mode, Mode::Simulator) && creds.vod_endpoint.is_some() {
        return Err(Failure::usage(
            "--vod-endpoint needs credentials (--access-key-id/--access-key-secret)",
        ));
    }
    config.database_path = Some(PathBuf::from(db));
    let engine = Engine::new(config, tokio::runtime::Handle::current())
        .map_err(|e| Failure::engine("cannot open the upload engine", &e))?;
    if let Mode::Key {
        access_key_id,
        access_key_secret,
        security_token,
    } = mode
    {
        engine
            .set_sts_token(
                access_key_id.clone(),
                access_key_secret.expose().to_owned(),
                security_token.as_ref().map(|t| t.expose().to_owned()),
                None,
            )
            .map_err(|e| Failure::engine("the credentials were refused", &e))?;
    }
    Ok(engine)
}

pub fn cleanups(store: &Store) -> Result<Vec<Cleanup>, Failure> {
    store
        .cleanups()
        .map_err(|e| Failure::engine("cannot read the cleanup outbox", &e))
}

/// How long a due cleanup whose last attempt failed may stay unchanged before it counts as
/// waiting for credentials the engine cannot get (it retries those only when given new ones).
const STUCK_AFTER: Duration = Duration::from_secs(1);

/// Waits (at most `timeout`) until the engine's outbox holds none of the cleanups `ours`
/// selects, and returns the reason of one left, if any. Ends early when each one left is put
/// off past the deadline, or is due but has not changed for [`STUCK_AFTER`] since an attempt
/// failed (it waits for credentials).
pub async fn wait_for_outbox(
    store: &Store,
    ours: &impl Fn(&Cleanup) -> bool,
    timeout: Duration,
) -> Result<Option<String>, Failure> {
    let deadline = Instant::now() + timeout;
    // Each cleanup as last seen, and since when it has been so.
    let mut seen: HashMap<i64, (Option<String>, u32, Instant)> = HashMap::new();
    loop {
        let left: Vec<Cleanup> = cleanups(store)?.into_iter().filter(ours).collect();
        if left.is_empty() {
            return Ok(None);
        }
        let now = Instant::now();
        let wall = std::time::SystemTime::now();
        let mut settled = true;
        for c in &left {
            let since = match seen.get(&c.id) {
                Some((e, n, t)) if *e == c.last_error && *n == c.attempts => *t,
                _ => {
                    seen.insert(c.id, (c.last_error.clone(), c.attempts, now));
                    now
                }
            };
            let put_off = c
                .next_at
                .duration_since(wall)
                .is_ok_and(|w| now + w > deadline);
            let waits_for_credentials =
                c.last_error.is_some() && c.next_at <= wall && now - since >= STUCK_AFTER;
            settled &= put_off || waits_for_credentials;
        }
        if settled || now >= deadline {
            let why = left
                .iter()
                .find_map(|c| c.last_error.clone())
                .unwrap_or_else(|| {
                    format!(
                        "the server did not confirm it within {}s",
                        timeout.as_secs()
                    )
                });
            return Ok(Some(why));
        }
        tokio::time::sleep(POLL).await;
    }
}
