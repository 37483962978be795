//! `upload` and `resume`: open the engine on the state database, put the files in its queue
//! (continuing checkpointed uploads of the same files), run it, and report.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use vod_sim::{SimConfig, Simulator};
use vod_upload::store::Store;
use vod_upload::{
    Config, Engine, Event, EventListener, FileId, FileInfo, FileStatus, NetworkPolicy,
    UploadTarget, VodInfo,
};

use crate::cli::{
    CredentialArgs, NetworkArgs, ResumeArgs, RetryArgs, SignatureArg, TransferArgs, UploadArgs,
};
use crate::creds::Mode;
use crate::failure::{Exit, Failure};
use crate::report::{Outcome, Reporter, Row};

/// Forwards engine events (delivered on the engine's dispatcher thread) to the async loop.
struct Forward(mpsc::UnboundedSender<Event>);

impl EventListener for Forward {
    fn on_event(&self, event: Event) {
        // Fails only once the loop has ended, when nobody needs the event.
        let _ = self.0.send(event);
    }
}

/// An engine ready to run, with what keeps it working.
struct Opened {
    engine: Engine,
    events: mpsc::UnboundedReceiver<Event>,
    /// The embedded simulator, when there were no credentials (serves until dropped).
    _sim: Option<Simulator>,
    db_path: Option<PathBuf>,
    /// Aborts the database owed before the engine opened it (its outbox may carry them out
    /// before the run ends and looks).
    owed_at_open: usize,
    /// Why the network policy forbids the network given and what to do about it (`None`: it
    /// allows it), and how long to let the engine wait for an allowed one.
    blocked: Option<(String, &'static str)>,
    wait_network: Duration,
}

/// One file this run waits for.
struct Item {
    id: FileId,
    name: String,
    /// Position on the command line (the summary keeps that order).
    pos: usize,
}

/// Summary rows with their command-line position.
type Rows = Vec<(usize, Row)>;

pub async fn upload(args: UploadArgs) -> Result<Exit, Failure> {
    let mode = Mode::resolve(&args.credentials)?;
    if matches!(mode, Mode::UploadAuth { .. }) && args.files.len() != 1 {
        return Err(Failure::usage(format!(
            "an UploadAuth/UploadAddress pair is for one file, but {} were given",
            args.files.len()
        )));
    }
    let mut report = Reporter::new(args.transfer.json);
    let wanted: HashSet<PathBuf> = args
        .files
        .iter()
        .filter_map(|f| std::fs::canonicalize(f).ok())
        .collect();
    // Bad metadata is refused before anything is opened.
    let vod_info = args
        .metadata
        .vod_info()
        .map_err(|e| Failure::usage(e.to_string()))?;
    let opened = open(
        &mode,
        &args.credentials,
        &args.transfer,
        &args.network,
        &report,
        Some(&wanted),
    )
    .await?;
    let engine = &opened.engine;

    let existing = engine.list_files();
    let mut items: Vec<Item> = Vec::new();
    let mut rows: Rows = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut stored_results: Option<Store> = None;

    for (pos, file) in args.files.iter().enumerate() {
        let name = file.display().to_string();
        // Canonical paths let a re-run find the queue entry of an interrupted upload.
        let path = match std::fs::canonicalize(file) {
            Ok(p) => p,
            Err(source) => {
                let e = vod_upload::Error::File {
                    path: file.clone(),
                    source,
                };
                fail_early(&mut report, &mut rows, pos, name, &e);
                continue;
            }
        };
        if !seen.insert(path.clone()) {
            report.note(&format!("{name}: given twice; uploading it once"));
            continue;
        }
        let target = UploadTarget::for_path(&path);
        match find_entry(&existing, &path, &target) {
            Some(e) if e.status == FileStatus::Succeeded && !args.force => {
                let store = match &mut stored_results {
                    Some(s) => s,
                    None => stored_results.insert(open_store(&opened.db_path)?),
                };
                match store
                    .get_file(&e.id)
                    .ok()
                    .flatten()
                    .and_then(|r| r.result())
                {
                    Some(result) => {
                        report.succeeded(&name, &e.id, &result, 0.0, true);
                        let outcome = Outcome::Succeeded {
                            result,
                            seconds: 0.0,
                            already: true,
                        };
                        rows.push((pos, Row { name, outcome }));
                    }
                    None => {
                        // A success without a recorded result cannot be reported: upload again.
                        engine
                            .delete_file(&e.id)
                            .map_err(|e| Failure::engine("cannot update the queue", &e))?;
                        add(
                            engine,
                            &mut report,
                            &mut rows,
                            &mut items,
                            pos,
                            name,
                            path,
                            target,
                            &vod_info,
                        );
                    }
                }
            }
            Some(e) if e.status == FileStatus::Succeeded => {
                engine
                    .delete_file(&e.id)
                    .map_err(|e| Failure::engine("cannot update the queue", &e))?;
                add(
                    engine,
                    &mut report,
                    &mut rows,
                    &mut items,
                    pos,
                    name,
                    path,
                    target,
                    &vod_info,
                );
            }
            Some(e) => {
                if matches!(e.status, FileStatus::Failed | FileStatus::Canceled) {
                    engine
                        .resume_file(&e.id)
                        .map_err(|e| Failure::engine("cannot update the queue", &e))?;
                }
                items.push(Item {
                    id: e.id.clone(),
                    name,
                    pos,
                });
            }
            None => add(
                engine,
                &mut report,
                &mut rows,
                &mut items,
                pos,
                name,
                path,
                target,
                &vod_info,
            ),
        }
    }

    if let Mode::UploadAuth {
        auth,
        address,
        video_id,
    } = &mode
        && let Some(item) = items.first()
    {
        // Given before start rather than in answer to `started`: the engine accepts both, and
        // this way the file never shows as waiting for credentials.
        engine
            .set_upload_auth_and_address(&item.id, auth.expose(), address, video_id.clone())
            .map_err(|e| Failure::engine("the UploadAuth/UploadAddress were refused", &e))?;
    }
    run(opened, mode, items, rows, report).await
}

pub async fn resume(args: ResumeArgs) -> Result<Exit, Failure> {
    let mode = Mode::resolve(&args.credentials)?;
    if matches!(mode, Mode::Simulator) {
        return Err(Failure::usage(
            "resume needs the credentials the uploads were made with: --access-key-id/--access-key-secret \
             (or the ALIBABA_CLOUD_* variables), or --upload-auth/--upload-address for a single file",
        ));
    }
    let report = Reporter::new(args.transfer.json);
    let opened = open(
        &mode,
        &args.credentials,
        &args.transfer,
        &args.network,
        &report,
        None,
    )
    .await?;
    let engine = &opened.engine;
    let mut items = Vec::new();
    for e in engine.list_files() {
        match e.status {
            FileStatus::Succeeded => continue,
            FileStatus::Failed | FileStatus::Canceled => engine
                .resume_file(&e.id)
                .map_err(|err| Failure::engine("cannot update the queue", &err))?,
            _ => {}
        }
        let pos = items.len();
        items.push(Item {
            id: e.id.clone(),
            name: e.source.location(),
            pos,
        });
    }
    if let Mode::UploadAuth {
        auth,
        address,
        video_id,
    } = &mode
    {
        if items.len() != 1 {
            return Err(Failure::usage(format!(
                "an UploadAuth/UploadAddress pair is for one file, but {} uploads are unfinished; use \
                 --access-key-id/--access-key-secret",
                items.len()
            )));
        }
        engine
            .set_upload_auth_and_address(&items[0].id, auth.expose(), address, video_id.clone())
            .map_err(|e| Failure::engine("the UploadAuth/UploadAddress were refused", &e))?;
    }
    if items.is_empty() {
        report.note("nothing to resume: every upload in the state database has finished");
    }
    run(opened, mode, items, Vec::new(), report).await
}

/// `retry ID`: queues a canceled or failed file again and uploads it (and only it).
pub async fn retry(args: RetryArgs) -> Result<Exit, Failure> {
    let mode = Mode::resolve(&args.credentials)?;
    if matches!(mode, Mode::Simulator) {
        return Err(Failure::usage(
            "retry needs the credentials the upload was made with: --access-key-id/--access-key-secret \
             (or the ALIBABA_CLOUD_* variables), or --upload-auth/--upload-address",
        ));
    }
    let db = match &args.transfer.state_db {
        Some(p) => p.clone(),
        None => default_state_db()?,
    };
    let row = {
        let store = crate::verbs::open_for_id(&db)?;
        let rows = store
            .list_files()
            .map_err(|e| Failure::engine("cannot read the state database", &e))?;
        crate::verbs::find_id(&rows, &args.id, &db)?.clone()
    };
    let name = row.source.location();
    match row.status {
        FileStatus::Failed | FileStatus::Canceled => {}
        FileStatus::Succeeded => {
            return Err(Failure::usage(format!(
                "{name} ({}) is already uploaded; `vod-upload upload --force {name}` uploads it again",
                row.id
            )));
        }
        other => {
            return Err(Failure::usage(format!(
                "{name} ({}) is {}, not canceled or failed: `vod-upload resume` continues it",
                row.id,
                crate::verbs::status_name(other)
            )));
        }
    }
    let report = Reporter::new(args.transfer.json);
    let wanted: HashSet<PathBuf> = [row.source.display_path()].into_iter().collect();
    let mut transfer = args.transfer.clone();
    transfer.state_db = Some(db);
    let opened = open(
        &mode,
        &args.credentials,
        &transfer,
        &args.network,
        &report,
        Some(&wanted),
    )
    .await?;
    let engine = &opened.engine;
    // Another process may have changed it since it was read: check again, on the engine's view.
    match engine.file(&row.id).map(|f| f.status) {
        Some(FileStatus::Failed | FileStatus::Canceled) => {}
        _ => {
            return Err(Failure::usage(format!(
                "{name} ({}) changed in the state database meanwhile; see `vod-upload list`",
                row.id
            )));
        }
    }
    engine
        .resume_file(&row.id)
        .map_err(|e| Failure::engine("cannot update the queue", &e))?;
    if let Mode::UploadAuth {
        auth,
        address,
        video_id,
    } = &mode
    {
        engine
            .set_upload_auth_and_address(&row.id, auth.expose(), address, video_id.clone())
            .map_err(|e| Failure::engine("the UploadAuth/UploadAddress were refused", &e))?;
    }
    let items = vec![Item {
        id: row.id.clone(),
        name,
        pos: 0,
    }];
    run(opened, mode, items, Vec::new(), report).await
}

/// The engine configuration the flags ask for (no database, no simulator yet).
pub fn base_config(creds: &CredentialArgs, signature: SignatureArg) -> Result<Config, Failure> {
    Ok(Config {
        region: creds.region.clone(),
        vod_endpoint: creds.vod_endpoint.clone(),
        allow_http: creds.allow_http,
        extra_root_certificates: creds.extra_root_certificates()?,
        signature_version: match signature {
            SignatureArg::V1 => vod_upload::protocol::SignatureVersion::V1,
            SignatureArg::V4 => vod_upload::protocol::SignatureVersion::V4,
        },
        // A desktop has no metered-network signal to honour; `--network-policy` sets one.
        network_policy: NetworkPolicy::Any,
        progress_interval: Duration::from_millis(100),
        ..Config::default()
    })
}

/// Starts the simulator if needed and opens the engine with the credentials set. `files`: the
/// canonical paths this run uploads (`None`: every unfinished upload).
async fn open(
    mode: &Mode,
    creds: &CredentialArgs,
    transfer: &TransferArgs,
    network: &NetworkArgs,
    report: &Reporter,
    files: Option<&HashSet<PathBuf>>,
) -> Result<Opened, Failure> {
    let mut config = base_config(creds, transfer.signature_version)?;
    config.network_policy = network.policy();
    if let Some(p) = transfer.part_size {
        config.part_size = p;
    }
    if let Some(n) = transfer.parallel {
        config.parallel_parts = n;
    }

    let sim = match mode {
        Mode::Simulator => {
            if creds.vod_endpoint.is_some() {
                return Err(Failure::usage(
                    "--vod-endpoint needs credentials (--access-key-id/--access-key-secret)",
                ));
            }
            let sim = Simulator::start(SimConfig::default())
                .await
                .map_err(|e| Failure::setup(format!("cannot start the built-in simulator: {e}")))?;
            report.note(&format!(
                "No credentials given: uploading to the built-in simulator at {} (nothing leaves this machine). \
                 Pass --access-key-id/--access-key-secret or --upload-auth/--upload-address to upload to ApsaraVideo VOD.",
                sim.info().oss_endpoint
            ));
            config.vod_endpoint = Some(sim.info().vod_endpoint.clone());
            config.region = sim.info().region.clone();
            // The simulator speaks plain http on loopback.
            config.allow_http = true;
            Some(sim)
        }
        _ => None,
    };

    // The simulator forgets everything when this process ends, so checkpoints of its uploads
    // are only worth a file when asked for.
    let db_path = match (&transfer.state_db, &sim) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(_)) => None,
        (None, None) => Some(default_state_db()?),
    };
    if let Some(p) = &db_path
        && let Some(dir) = p.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::setup(format!("cannot create {}: {e}", dir.display())))?;
    }
    config.database_path = db_path.clone();
    // An existing database, read before the engine opens it (and its outbox starts working).
    let earlier = db_path
        .as_deref()
        .filter(|p| p.exists())
        .and_then(|p| Store::open(p).ok());
    if transfer.part_size.is_none()
        && let Some(store) = &earlier
        && let Some(size) = checkpoint_part_size(store, files)
    {
        // The engine starts a checkpointed upload afresh when the configured part size differs
        // from the one it began with; without --part-size, continue with that one.
        config.part_size = size;
    }
    let owed_at_open = earlier
        .and_then(|store| store.cleanups().ok())
        .map_or(0, |c| c.len());
    let engine = Engine::new(config, tokio::runtime::Handle::current())
        .map_err(|e| Failure::engine("cannot start the upload engine", &e))?;
    if let Some(moved) = engine.recovered_database() {
        report.note(&format!(
            "warning: the state database was unreadable; it was moved to {} and a new one started",
            moved.display()
        ));
    }
    let (tx, events) = mpsc::unbounded_channel();
    engine.subscribe(Arc::new(Forward(tx))).detach();
    // Before any start: a forbidden network never carries a byte.
    let state = network.state().unwrap_or(vod_upload::NetworkState::UNKNOWN);
    engine.set_network_state(state);
    let blocked = match network.network {
        _ if vod_upload::engine::network::allows(&state, &network.policy(), 0) => None,
        Some(crate::cli::NetworkArg::None) => Some((
            "there is no network (--network none)".to_owned(),
            "run again with a network",
        )),
        _ => Some((
            format!(
                "the network policy {} does not allow {}",
                network.policy_name(),
                network.describe()
            ),
            "run again on an allowed network (--network wifi) or with another --network-policy",
        )),
    };

    let set = match (mode, &sim) {
        (Mode::Simulator, Some(s)) => engine.set_sts_token(
            s.info().access_key_id.clone(),
            s.info().access_key_secret.clone(),
            None,
            None,
        ),
        (
            Mode::Key {
                access_key_id,
                access_key_secret,
                security_token,
            },
            _,
        ) => engine.set_sts_token(
            access_key_id.clone(),
            access_key_secret.expose().to_owned(),
            security_token.as_ref().map(|t| t.expose().to_owned()),
            None,
        ),
        _ => Ok(()),
    };
    set.map_err(|e| Failure::engine("the credentials were refused", &e))?;
    if !matches!(mode, Mode::Simulator) && !report.is_json() {
        report.note(&format!("using {}", mode.describe()));
    }
    Ok(Opened {
        engine,
        events,
        _sim: sim,
        db_path,
        owed_at_open,
        blocked,
        wait_network: Duration::from_secs(network.wait_network),
    })
}

/// The part size the unfinished uploads of `files` began with, when they agree on one.
fn checkpoint_part_size(store: &Store, files: Option<&HashSet<PathBuf>>) -> Option<u64> {
    let sizes: HashSet<u64> = store
        .list_files()
        .ok()?
        .into_iter()
        .filter(|f| {
            f.status != FileStatus::Succeeded
                && files.is_none_or(|w| w.contains(&f.source.display_path()))
        })
        .filter_map(|f| store.get_session(&f.id).ok().flatten())
        .filter(|s| s.upload_id.is_some())
        .map(|s| s.part_size)
        .collect();
    match sizes.len() {
        1 => sizes.into_iter().next(),
        _ => None,
    }
}

/// `dirs::data_dir()/vod-upload/state.db` (e.g. `~/.local/share/vod-upload/state.db`).
pub fn default_state_db() -> Result<PathBuf, Failure> {
    dirs::data_dir()
        .map(|d| d.join("vod-upload").join("state.db"))
        .ok_or_else(|| {
            Failure::setup("cannot find the user's data directory: pass --state-db PATH")
        })
}

/// A second handle on the state database, to read what the engine does not keep in memory
/// (the CRC-64 of finished uploads).
fn open_store(path: &Option<PathBuf>) -> Result<Store, Failure> {
    let path = path
        .as_ref()
        .ok_or_else(|| Failure::setup("no state database"))?;
    Store::open(path).map_err(|e| Failure::engine("cannot read the state database", &e))
}

/// The queue entry for `path`: an unfinished one first, else the latest success.
fn find_entry<'a>(
    existing: &'a [FileInfo],
    path: &Path,
    target: &UploadTarget,
) -> Option<&'a FileInfo> {
    existing
        .iter()
        .filter(|e| {
            e.source == vod_upload::FileSource::Path(path.to_owned()) && &e.target == target
        })
        .max_by_key(|e| (e.status != FileStatus::Succeeded, e.added_at))
}

#[allow(clippy::too_many_arguments)]
fn add(
    engine: &Engine,
    report: &mut Reporter,
    rows: &mut Rows,
    items: &mut Vec<Item>,
    pos: usize,
    name: String,
    path: PathBuf,
    target: UploadTarget,
    vod_info: &VodInfo,
) {
    match engine.add_file(path, target, vod_info.clone()) {
        Ok(id) => items.push(Item { id, name, pos }),
        Err(e) => fail_early(report, rows, pos, name, &e),
    }
}

fn fail_early(
    report: &mut Reporter,
    rows: &mut Rows,
    pos: usize,
    name: String,
    e: &vod_upload::Error,
) {
    let (code, message) = (e.code(), e.to_string());
    report.failed(&name, None, &code, &message);
    rows.push((
        pos,
        Row {
            name,
            outcome: Outcome::Failed { code, message },
        },
    ));
}

/// Why the event loop ended.
enum End {
    /// Every file succeeded or failed.
    Finished,
    Interrupted,
    CredentialsExpired,
    /// The network policy forbids the network, and the wait for an allowed one ran out.
    NetworkBlocked,
    /// The engine stopped sending events (it cannot, while it lives; a safety net).
    EngineGone,
}

async fn run(
    mut opened: Opened,
    mode: Mode,
    items: Vec<Item>,
    mut rows: Rows,
    mut report: Reporter,
) -> Result<Exit, Failure> {
    let engine = opened.engine.clone();
    let mine: HashSet<&str> = items.iter().map(|i| i.id.as_str()).collect();

    // Uploads in the database that were not asked for are set aside for this run (their
    // checkpoints kept) and put back afterwards: `upload a.mp4` uploads a.mp4 only.
    let mut held = Vec::new();
    for e in engine.list_files() {
        if !mine.contains(e.id.as_str())
            && e.status == FileStatus::Ready
            && engine.cancel_file(&e.id, true).is_ok()
        {
            held.push(e.id);
        }
    }
    if !held.is_empty() {
        report.note(&format!(
            "{} other unfinished upload(s) in the state database wait for `vod-upload resume`",
            held.len()
        ));
    }

    let names: HashMap<String, String> = items
        .iter()
        .map(|i| (i.id.clone(), i.name.clone()))
        .collect();
    let mut pending: HashSet<String> = names.keys().cloned().collect();
    let mut started_at: HashMap<String, Instant> = HashMap::new();
    let mut outcomes: HashMap<String, Outcome> = HashMap::new();

    let end = if pending.is_empty() {
        End::Finished
    } else {
        engine.start();
        let stop = shutdown_signal();
        tokio::pin!(stop);
        // Armed when a file of this run waits for the network the policy forbids.
        let network_wait = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(network_wait);
        let mut network_armed = false;
        if let Some((why, _)) = &opened.blocked {
            report.note(&format!("waiting for an allowed network: {why}"));
        }
        loop {
            if pending.is_empty() {
                break End::Finished;
            }
            let event = tokio::select! {
                ev = opened.events.recv() => ev,
                _ = &mut stop => break End::Interrupted,
                _ = &mut network_wait, if network_armed => break End::NetworkBlocked,
            };
            let Some(event) = event else {
                break End::EngineGone;
            };
            match event {
                Event::Started { file } => {
                    if let Some(name) = names.get(&file.id) {
                        started_at.insert(file.id.clone(), Instant::now());
                        report.started(name, &file);
                    }
                }
                Event::Progress {
                    file,
                    uploaded,
                    total,
                } => {
                    if let Some(name) = names.get(&file) {
                        report.progress(name, &file, uploaded, total);
                    }
                }
                Event::Succeeded { file, result } => {
                    if let Some(name) = names.get(&file.id) {
                        let seconds = started_at
                            .get(&file.id)
                            .map(|t| t.elapsed().as_secs_f64())
                            .unwrap_or(0.0);
                        report.succeeded(name, &file.id, &result, seconds, false);
                        outcomes.insert(
                            file.id.clone(),
                            Outcome::Succeeded {
                                result,
                                seconds,
                                already: false,
                            },
                        );
                        pending.remove(&file.id);
                    }
                }
                Event::Failed {
                    file,
                    code,
                    message,
                } => {
                    if let Some(name) = names.get(&file.id) {
                        report.failed(name, Some(&file.id), &code, &message);
                        outcomes.insert(file.id.clone(), Outcome::Failed { code, message });
                        pending.remove(&file.id);
                    }
                }
                Event::Canceled { file, deleted } => {
                    if let Some(name) = names.get(&file.id) {
                        let (code, message) = if deleted {
                            ("Deleted", "removed from the queue")
                        } else {
                            ("Canceled", "canceled")
                        };
                        report.failed(name, Some(&file.id), code, message);
                        outcomes.insert(
                            file.id.clone(),
                            Outcome::Failed {
                                code: code.into(),
                                message: message.into(),
                            },
                        );
                        pending.remove(&file.id);
                    }
                }
                Event::TokenExpired { file } => {
                    if let Some(name) = names.get(&file.id) {
                        report.token_expired(name, &file.id);
                        break End::CredentialsExpired;
                    }
                }
                Event::Retry {
                    file,
                    code,
                    message,
                } => {
                    if let Some(name) = names.get(&file.id) {
                        report.retry(name, &file.id, &code, &message);
                    }
                }
                Event::RetryResume { file } => {
                    if let Some(name) = names.get(&file.id) {
                        report.retry_resume(name, &file.id);
                    }
                }
                Event::Waiting { file, reason } => {
                    if let Some(name) = names.get(&file.id) {
                        report.waiting(name, &file.id, &reason);
                        if reason == vod_upload::WaitingReason::Network
                            && opened.blocked.is_some()
                            && !network_armed
                        {
                            network_armed = true;
                            network_wait
                                .as_mut()
                                .reset(tokio::time::Instant::now() + opened.wait_network);
                        }
                    }
                }
                Event::AllDone => {}
            }
        }
    };

    // Cancels whatever is in flight; checkpoints stay for the next run.
    engine.stop();
    for id in &held {
        let _ = engine.resume_file(id);
    }
    if matches!(end, End::Finished) && !matches!(mode, Mode::Simulator) {
        settle_outbox(&opened.db_path, opened.owed_at_open, &report).await;
    }
    let files: HashMap<String, FileInfo> = engine
        .list_files()
        .into_iter()
        .map(|f| (f.id.clone(), f))
        .collect();
    engine.shutdown();

    for item in &items {
        let outcome = outcomes.remove(&item.id).unwrap_or_else(|| {
            let f = files.get(&item.id);
            Outcome::Unfinished {
                uploaded: f.map(|f| f.bytes_uploaded).unwrap_or(0),
                total: f.map(|f| f.bytes_total).unwrap_or(0),
            }
        });
        rows.push((
            item.pos,
            Row {
                name: item.name.clone(),
                outcome,
            },
        ));
    }
    rows.sort_by_key(|(pos, _)| *pos);
    let rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();
    report.finish(&rows);

    let any_failed = rows
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Failed { .. }));
    let resume_hint = match &opened.db_path {
        Some(_) => "run the same command again to continue where it stopped",
        None => "the built-in simulator's uploads end with this process",
    };
    Ok(match end {
        End::Interrupted => {
            eprintln!("interrupted: unfinished uploads are checkpointed; {resume_hint}");
            Exit::Interrupted
        }
        End::CredentialsExpired => {
            let how = match mode {
                Mode::UploadAuth { .. } => "a new --upload-auth (RefreshUploadVideo)",
                _ => "a new STS token",
            };
            eprintln!(
                "error: TokenExpired: the credentials expired; the upload is checkpointed: {resume_hint} with {how}"
            );
            Exit::CredentialsExpired
        }
        End::NetworkBlocked => {
            let (why, hint) = opened
                .blocked
                .clone()
                .unwrap_or(("the network is not allowed".into(), "run again"));
            match &opened.db_path {
                Some(_) => eprintln!(
                    "error: NetworkNotAllowed: waiting for an allowed network: {why}; the upload is checkpointed: \
                     {hint}"
                ),
                None => eprintln!(
                    "error: NetworkNotAllowed: waiting for an allowed network: {why}; {resume_hint}"
                ),
            }
            Exit::NetworkBlocked
        }
        End::EngineGone => {
            eprintln!("error: the upload engine stopped unexpectedly");
            Exit::Failed
        }
        End::Finished if any_failed => Exit::Failed,
        End::Finished => Exit::Ok,
    })
}

/// How long a run that ended normally gives the engine's cleanup outbox to carry out the
/// aborts it owes (left by `cancel`, `delete` or `clear` without credentials, or by this run).
const OUTBOX_WAIT: Duration = Duration::from_secs(10);

/// Lets the engine abort what its outbox owes, bounded; says what was carried out (`owed` were
/// owed when the run began) and what stays owed.
async fn settle_outbox(db: &Option<PathBuf>, owed: usize, report: &Reporter) {
    let Some(store) = db.as_ref().and_then(|p| Store::open(p).ok()) else {
        return;
    };
    if store.cleanups().is_ok_and(|c| c.is_empty()) {
        if owed > 0 {
            report.note("owed aborts of multipart uploads carried out");
        }
        return;
    }
    match crate::verbs::wait_for_outbox(&store, &|_| true, OUTBOX_WAIT).await {
        Ok(None) => report.note("owed aborts of multipart uploads carried out"),
        Ok(Some(why)) => {
            let n = store.cleanups().map_or(0, |c| c.len());
            report.note(&format!(
                "{n} abort(s) of multipart uploads still owed ({why}); a later run with credentials carries them out"
            ));
        }
        Err(_) => {}
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling available: never resolve, the upload runs to its end.
        std::future::pending::<()>().await;
    }
}
