//! `list` and `clear`: the persisted queue, read and emptied through the checkpoint store.

use std::path::Path;
use std::time::{Duration, SystemTime};

use vod_upload::protocol::credentials::{Credentials, UploadAddress, UploadAuth};
use vod_upload::protocol::sign::region_from_endpoint;
use vod_upload::store::{FileRow, Session, Store};
use vod_upload::transport::http::{HttpConfig, build_client, validate_endpoint};
use vod_upload::transport::oss::{OssAuth, OssClient, OssLocation};
use vod_upload::transport::vod::{VodClient, default_vod_endpoint};
use vod_upload::{FileStatus, UploadTarget};

use crate::cli::{ClearArgs, ListArgs};
use crate::creds::Mode;
use crate::failure::{Exit, Failure};
use crate::run::default_state_db;
use crate::util::{Obj, human_bytes, table};

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
    /// Could not be aborted; the reason.
    LeftOpen(String),
}

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
    let aborter = Aborter::new(&mode, &args.credentials)?;

    let (mut aborted, mut left_open) = (0, 0);
    for r in &rows {
        let session = store
            .get_session(&r.id)
            .ok()
            .flatten()
            .filter(|s| s.upload_id.is_some());
        let abort = match (&session, r.status) {
            (None, _) | (_, FileStatus::Succeeded) => Abort::Nothing,
            (Some(s), _) => aborter.abort(r, s).await,
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
                ("left_open", format!(" (multipart upload left open: {why})"))
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
    store
        .clear_files()
        .map_err(|e| Failure::engine("cannot clear the state database", &e))?;
    if !args.json {
        println!(
            "cleared {} upload(s) from {}: {aborted} multipart upload(s) aborted, {left_open} left open",
            rows.len(),
            path.display()
        );
        if left_open > 0 {
            eprintln!(
                "open multipart uploads keep their parts on the server until aborted or removed by the bucket's \
                 lifecycle rule"
            );
        }
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

/// Aborts multipart uploads with whatever the given credentials allow.
struct Aborter<'a> {
    mode: &'a Mode,
    region: String,
    oss: Option<OssClient>,
    vod: Option<VodClient>,
    signature: vod_upload::protocol::SignatureVersion,
}

impl<'a> Aborter<'a> {
    fn new(mode: &'a Mode, creds: &crate::cli::CredentialArgs) -> Result<Aborter<'a>, Failure> {
        let http_config = HttpConfig {
            allow_http: creds.allow_http,
            extra_root_certificates: creds.extra_root_certificates()?,
            request_timeout: Duration::from_secs(30),
            ..HttpConfig::default()
        };
        let (oss, vod) = match mode {
            Mode::Simulator => (None, None),
            _ => {
                let http = build_client(&http_config)
                    .map_err(|e| Failure::engine("cannot set up HTTP", &e))?;
                let endpoint = creds
                    .vod_endpoint
                    .clone()
                    .unwrap_or_else(|| default_vod_endpoint(&creds.region));
                let url = validate_endpoint(&endpoint, creds.allow_http)
                    .map_err(|e| Failure::engine("invalid --vod-endpoint", &e))?;
                (
                    Some(OssClient::new(http.clone(), http_config)),
                    Some(VodClient::new(http, url).with_region(creds.region.clone())),
                )
            }
        };
        Ok(Aborter {
            mode,
            region: creds.region.clone(),
            oss,
            vod,
            signature: vod_upload::protocol::SignatureVersion::V1,
        })
    }

    async fn abort(&self, row: &FileRow, s: &Session) -> Abort {
        let Some(upload_id) = s.upload_id.as_deref() else {
            return Abort::Nothing;
        };
        let Some(oss) = &self.oss else {
            return Abort::LeftOpen("no credentials given".into());
        };
        let creds = match self.credentials_for(row, s).await {
            Ok(c) => c,
            Err(why) => return Abort::LeftOpen(why),
        };
        let loc = OssLocation {
            endpoint: s.endpoint.clone(),
            bucket: s.bucket.clone(),
            key: s.object.clone(),
        };
        let auth = OssAuth {
            region: creds
                .1
                .or_else(|| region_from_endpoint(&s.endpoint))
                .unwrap_or_else(|| self.region.clone()),
            credentials: creds.0,
            version: self.signature,
        };
        match oss.abort_multipart(&loc, &auth, upload_id).await {
            Ok(()) => Abort::Aborted,
            // Already gone: nothing is left open.
            Err(vod_upload::Error::Service(e)) if e.code == "NoSuchUpload" => Abort::Nothing,
            Err(e) => Abort::LeftOpen(format!("{}: {e}", e.code())),
        }
    }

    /// OSS credentials for the file's object, and the region they name.
    async fn credentials_for(
        &self,
        row: &FileRow,
        s: &Session,
    ) -> Result<(Credentials, Option<String>), String> {
        match self.mode {
            Mode::Simulator => Err("no credentials given".into()),
            Mode::UploadAuth { auth, address, .. } => {
                let address = UploadAddress::decode(address).map_err(|e| e.to_string())?;
                if address.bucket != s.bucket || address.file_name != s.object {
                    return Err("the UploadAuth given is for another object".into());
                }
                let auth = UploadAuth::decode(auth.expose(), SystemTime::now())
                    .map_err(|e| e.to_string())?;
                Ok((auth.credentials, auth.region))
            }
            Mode::Key {
                access_key_id,
                access_key_secret,
                security_token,
            } => {
                let key = Credentials {
                    access_key_id: access_key_id.clone(),
                    access_key_secret: access_key_secret.clone(),
                    security_token: security_token.clone(),
                    expires_at: None,
                };
                match &row.target {
                    UploadTarget::Object { .. } => Ok((key, None)),
                    UploadTarget::Image => Err(
                        "VOD cannot renew an image's upload credentials (no RefreshUploadImage)"
                            .into(),
                    ),
                    UploadTarget::Video => {
                        let video = s.video_id.clone().or_else(|| row.video_id.clone());
                        let Some(video) = video else {
                            return Err("no video id recorded".into());
                        };
                        let Some(vod) = &self.vod else {
                            return Err("no VOD client".into());
                        };
                        let ticket = vod
                            .refresh_upload_video(&key, &video)
                            .await
                            .map_err(|e| format!("RefreshUploadVideo failed: {}: {e}", e.code()))?;
                        Ok((ticket.upload_auth.credentials, ticket.upload_auth.region))
                    }
                }
            }
        }
    }
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
        UploadTarget::Object { .. } => "object",
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    crate::report::unix_ms(t)
}
