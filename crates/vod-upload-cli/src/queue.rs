//! `list` and `clear`: the persisted queue, read through the checkpoint store and emptied
//! through the engine (whose cleanup outbox aborts the multipart uploads).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, SystemTime};

use vod_upload::protocol::credentials::UploadAddress;
use vod_upload::store::{Cleanup, Session, Store};
use vod_upload::{FileStatus, UploadTarget};

use crate::cli::{ClearArgs, ListArgs};
use crate::creds::Mode;
use crate::failure::{Exit, Failure};
use crate::run::default_state_db;
use crate::util::{Obj, human_bytes, table};
use crate::verbs::{cleanups, open_engine, wait_for_outbox};

pub fn list(args: ListArgs) -> Result<Exit, Failure> {
    let path = match args.state_db {
        Some(p) => p,
        None => default_state_db()?,
    };
    let Some(store) = open_existing(&path, !args.json)? else {
        return Ok(Exit::Ok);
    };
    let rows = store
        .list_files()
        .map_err(|e| Failure::engine("cannot read the state database", &e))?;
    if args.json {
        for r in &rows {
            let session = store.get_session(&r.id).ok().flatten();
            let parts = store.parts(&r.id).map(|p| p.len()).unwrap_or(0);
            Obj::default()
                .put("id", &r.id)
                .put("file", r.source.location())
                .put("target", target_name(&r.target))
                .put("status", status_name(r.status))
                .put("bytes_uploaded", r.bytes_done)
                .put("bytes_total", r.bytes_total)
                .put("parts_done", parts)
                .put(
                    "upload_id",
                    session.as_ref().and_then(|s| s.upload_id.clone()),
                )
                .put("video_id", &r.video_id)
                .put("image_url", &r.image_url)
                .put("bucket", &r.bucket)
                .put("object", &r.object)
                .put("crc64", r.crc64.map(|c| c.to_string()))
                .put("error_code", r.last_error.as_ref().map(|e| e.code.clone()))
                .put(
                    "error_message",
                    r.last_error.as_ref().map(|e| e.message.clone()),
                )
                .put("added_at_ms", unix_ms(r.added_at))
                .emit();
        }
        return Ok(Exit::Ok);
    }
    if rows.is_empty() {
        eprintln!("no uploads in {}", path.display());
        return Ok(Exit::Ok);
    }
    let mut t = vec![vec![
        "ID".to_owned(),
        "STATUS".into(),
        "PROGRESS".into(),
        "VIDEO ID / IMAGE URL / ERROR".into(),
        "FILE".into(),
    ]];
    for r in &rows {
        let pct = (r.bytes_done * 100)
            .checked_div(r.bytes_total)
            .unwrap_or(100);
        let result = match (&r.last_error, &r.video_id, &r.image_url) {
            (Some(e), _, _) if r.status == FileStatus::Failed => {
                format!("{}: {}", e.code, e.message)
            }
            (_, _, Some(url)) => url.clone(),
            (_, Some(v), _) => v.clone(),
            _ => "-".into(),
        };
        t.push(vec![
            r.id.chars().take(8).collect(),
            status_name(r.status).into(),
            format!("{pct:>3}% of {}", human_bytes(r.bytes_total)),
            result,
            r.source.location(),
        ]);
    }
    print!("{}", table(&t));
    Ok(Exit::Ok)
}

/// What `clear` did about one file's multipart upload.
enum Abort {
    /// Nothing open on the server (finished, not started, or a single PutObject).
    Nothing,
    Aborted,
    /// Not aborted yet (owed in the outbox); the reason.
    LeftOpen(String),
}

/// How long `clear` waits for the server to confirm the aborts.
const ABORT_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn clear(args: ClearArgs) -> Result<Exit, Failure> {
    let mode = Mode::resolve(&args.credentials)?;
    let path = match &args.state_db {
        Some(p) => p.clone(),
        None => default_state_db()?,
    };
    let Some(store) = open_existing(&path, !args.json)? else {
        return Ok(Exit::Ok);
    };
    let rows = store
        .list_files()
        .map_err(|e| Failure::engine("cannot read the state database", &e))?;
    // The multipart upload each unfinished file has open.
    let open: Vec<Option<Session>> = rows
        .iter()
        .map(|r| {
            store
                .get_session(&r.id)
                .ok()
                .flatten()
                .filter(|s| s.upload_id.is_some() && r.status != FileStatus::Succeeded)
        })
        .collect();

    // The engine deletes every file and owes the aborts to its cleanup outbox, persisted, so
    // none is forgotten: what cannot be aborted now is by the next run with credentials.
    let engine = open_engine(&mode, &args.credentials, &path)?;
    if let Mode::UploadAuth {
        auth,
        address,
        video_id,
    } = &mode
        && let Ok(a) = UploadAddress::decode(address)
        && let Some(r) = rows.iter().zip(&open).find_map(|(r, s)| {
            s.as_ref()
                .filter(|s| s.bucket == a.bucket && s.object == a.file_name)
                .map(|_| r)
        })
        && !r.status.is_terminal()
    {
        // The abort of that file's upload is made with them.
        engine
            .set_upload_auth_and_address(&r.id, auth.expose(), address, video_id.clone())
            .map_err(|e| Failure::engine("the UploadAuth/UploadAddress were refused", &e))?;
    }
    let before: HashSet<i64> = cleanups(&store)?.iter().map(|c| c.id).collect();
    let uploads: HashSet<String> = open
        .iter()
        .flatten()
        .filter_map(|s| s.upload_id.clone())
        .collect();
    if let Err(e) = engine.clear_files() {
        engine.shutdown();
        return Err(Failure::engine("cannot clear the state database", &e));
    }
    let ours = |c: &Cleanup| {
        !before.contains(&c.id) || c.upload_id.as_ref().is_some_and(|u| uploads.contains(u))
    };
    let why = match mode {
        Mode::Simulator => Some("no credentials given".to_owned()),
        _ => wait_for_outbox(&store, &ours, ABORT_TIMEOUT).await?,
    };
    engine.shutdown();
    let owed: HashMap<String, Option<String>> = cleanups(&store)?
        .into_iter()
        .filter(|c| ours(c))
        .filter_map(|c| Some((c.upload_id?, c.last_error)))
        .collect();

    let (mut aborted, mut left_open) = (0, 0);
    for (r, session) in rows.iter().zip(&open) {
        let upload = session.as_ref().and_then(|s| s.upload_id.as_ref());
        let abort = match upload {
            None => Abort::Nothing,
            Some(u) => match owed.get(u) {
                None => Abort::Aborted,
                Some(e) => Abort::LeftOpen(
                    e.clone()
                        .or_else(|| why.clone())
                        .unwrap_or_else(|| "not confirmed yet".into()),
                ),
            },
        };
        let name = r.source.location();
        let (what, text) = match &abort {
            Abort::Nothing => ("none", String::new()),
            Abort::Aborted => {
                aborted += 1;
                ("aborted", " (multipart upload aborted)".to_owned())
            }
            Abort::LeftOpen(why) => {
                left_open += 1;
                (
                    "left_open",
                    format!(" (multipart upload not aborted yet: {why})"),
                )
            }
        };
        if args.json {
            let mut o = Obj::event("cleared")
                .put("file", &name)
                .put("id", &r.id)
                .put("status", status_name(r.status))
                .put("multipart_upload", what);
            if let Abort::LeftOpen(why) = &abort {
                o.set("reason", why);
            }
            o.emit();
        } else {
            println!("removed {name} [{}]{text}", status_name(r.status));
        }
    }
    if !args.json {
        println!(
            "cleared {} upload(s) from {}: {aborted} multipart upload(s) aborted, {left_open} left open",
            rows.len(),
            path.display()
        );
    }
    if left_open > 0 {
        eprintln!(
            "the abort of {left_open} multipart upload(s) is owed: it is kept in {} and carried out by the next \
             vod-upload run on it that has credentials (their parts stay billed until then, or until the bucket's \
             lifecycle rule removes them)",
            path.display()
        );
    }
    Ok(Exit::Ok)
}

/// Opens the store if the database exists (never creates one just to say it is empty).
fn open_existing(path: &Path, say: bool) -> Result<Option<Store>, Failure> {
    if !path.exists() {
        if say {
            eprintln!(
                "no uploads: there is no state database at {}",
                path.display()
            );
        }
        return Ok(None);
    }
    Store::open(path)
        .map(Some)
        .map_err(|e| Failure::engine("cannot open the state database", &e))
}

pub fn status_name(s: FileStatus) -> &'static str {
    match s {
        FileStatus::Ready => "ready",
        FileStatus::Uploading => "uploading",
        FileStatus::Waiting => "waiting",
        FileStatus::Paused => "paused",
        FileStatus::Canceled => "canceled",
        FileStatus::Succeeded => "succeeded",
        FileStatus::Failed => "failed",
    }
}

fn target_name(t: &UploadTarget) -> &'static str {
    match t {
        UploadTarget::Video => "video",
        UploadTarget::Image => "image",
        UploadTarget::AttachedMedia { .. } => "attached_media",
        UploadTarget::Object { .. } => "object",
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    crate::report::unix_ms(t)
}
