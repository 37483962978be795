//! What the user sees: progress bars and a summary table (human), or one JSON object per line
//! (`--json`). Progress and messages go to stderr, results to stdout.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::Value;
use vod_upload::{FileInfo, UploadResult, WaitingReason};

use crate::util::{Obj, human_bytes, mib_per_sec, round_secs, table};

/// At most one JSON progress line per file this often (plus the final one).
const JSON_PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// How one file ended in this run.
#[derive(Debug, Clone)]
pub enum Outcome {
    Succeeded {
        result: UploadResult,
        seconds: f64,
        /// Uploaded by an earlier run (nothing sent now).
        already: bool,
    },
    Failed {
        code: String,
        message: String,
    },
    /// Not finished when the run ended (interrupted, or credentials expired); checkpointed.
    Unfinished {
        uploaded: u64,
        total: u64,
    },
}

/// One row of the final summary.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub outcome: Outcome,
}

pub enum Reporter {
    Human(Human),
    Json(Json),
}

pub struct Human {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    /// Last quarter reported per file when bars are hidden (stderr not a terminal).
    quarters: HashMap<String, u64>,
}

#[derive(Default)]
pub struct Json {
    last_progress: HashMap<String, (Instant, u64)>,
}

impl Reporter {
    pub fn new(json: bool) -> Reporter {
        if json {
            Reporter::Json(Json::default())
        } else {
            Reporter::Human(Human {
                multi: MultiProgress::new(),
                bars: HashMap::new(),
                quarters: HashMap::new(),
            })
        }
    }

    pub fn is_json(&self) -> bool {
        matches!(self, Reporter::Json(_))
    }

    /// An informational line on stderr (above the bars when they are drawn).
    pub fn note(&self, msg: &str) {
        match self {
            Reporter::Human(h) => h.line(msg),
            Reporter::Json(_) => eprintln!("{msg}"),
        }
    }

    pub fn started(&mut self, name: &str, info: &FileInfo) {
        let resumed = info.bytes_uploaded;
        match self {
            Reporter::Human(h) => {
                let pb = ProgressBar::new(info.bytes_total).with_position(resumed);
                pb.set_style(bar_style());
                pb.set_prefix(short_name(name));
                pb.reset_eta();
                let pb = h.multi.add(pb);
                // Redraws speed and ETA between the engine's progress events.
                pb.enable_steady_tick(Duration::from_millis(250));
                if resumed > 0 {
                    let video = info
                        .video_id
                        .as_deref()
                        .map(|v| format!(", video {v}"))
                        .unwrap_or_default();
                    h.line(&format!(
                        "resuming {name} at {} of {}{video}",
                        human_bytes(resumed),
                        human_bytes(info.bytes_total)
                    ));
                } else if h.multi.is_hidden() {
                    h.line(&format!(
                        "uploading {name} ({})",
                        human_bytes(info.bytes_total)
                    ));
                }
                h.bars.insert(info.id.clone(), pb);
            }
            Reporter::Json(_) => Obj::event("started")
                .put("file", name)
                .put("id", &info.id)
                .put("bytes_total", info.bytes_total)
                .put("bytes_uploaded", resumed)
                .put("video_id", &info.video_id)
                .emit(),
        }
    }

    pub fn progress(&mut self, name: &str, id: &str, uploaded: u64, total: u64) {
        match self {
            Reporter::Human(h) => {
                if let Some(pb) = h.bars.get(id) {
                    pb.set_length(total);
                    pb.set_position(uploaded);
                }
                if h.multi.is_hidden() && total > 0 {
                    let quarter = uploaded * 4 / total;
                    let last = h.quarters.entry(id.to_owned()).or_insert(0);
                    if quarter > *last && quarter < 4 {
                        *last = quarter;
                        h.line(&format!("{name}: {}%", quarter * 25));
                    }
                }
            }
            Reporter::Json(j) => {
                let now = Instant::now();
                let due = match j.last_progress.get(id) {
                    None => true,
                    Some((at, last)) => {
                        uploaded != *last
                            && (uploaded == total
                                || now.duration_since(*at) >= JSON_PROGRESS_INTERVAL)
                    }
                };
                if due {
                    j.last_progress.insert(id.to_owned(), (now, uploaded));
                    Obj::event("progress")
                        .put("file", name)
                        .put("id", id)
                        .put("uploaded", uploaded)
                        .put("total", total)
                        .emit();
                }
            }
        }
    }

    pub fn succeeded(
        &mut self,
        name: &str,
        id: &str,
        result: &UploadResult,
        seconds: f64,
        already: bool,
    ) {
        match self {
            Reporter::Human(h) => {
                let what = result
                    .video_id
                    .as_deref()
                    .map(|v| format!("video {v}"))
                    .or_else(|| result.image_url.as_deref().map(|u| format!("image {u}")))
                    .unwrap_or_else(|| format!("{}/{}", result.bucket, result.object));
                if let Some(pb) = h.bars.remove(id) {
                    // Short: a long message wraps and breaks the redraw; the table has the id.
                    pb.finish_with_message("done");
                }
                if already {
                    h.line(&format!(
                        "{name}: already uploaded ({what}); use --force to upload it again"
                    ));
                } else if h.multi.is_hidden() {
                    h.line(&format!("{name}: done ({what})"));
                }
            }
            Reporter::Json(_) => succeeded_json(name, id, result, seconds, already).emit(),
        }
    }

    pub fn failed(&mut self, name: &str, id: Option<&str>, code: &str, message: &str) {
        match self {
            Reporter::Human(h) => {
                if let Some(pb) = id.and_then(|id| h.bars.remove(id)) {
                    pb.abandon_with_message(format!("failed: {code}"));
                }
                h.line(&format!("error: {name}: {code}: {message}"));
            }
            Reporter::Json(_) => {
                Obj::event("failed")
                    .put("file", name)
                    .put("id", id)
                    .put("code", code)
                    .put("message", message)
                    .emit();
                // The contract: the error code and message on stderr as well.
                eprintln!("error: {name}: {code}: {message}");
            }
        }
    }

    pub fn token_expired(&mut self, name: &str, id: &str) {
        match self {
            Reporter::Human(h) => h.line(&format!("{name}: the credentials expired")),
            Reporter::Json(_) => Obj::event("token_expired")
                .put("file", name)
                .put("id", id)
                .emit(),
        }
    }

    pub fn retry(&mut self, name: &str, id: &str, code: &str, message: &str) {
        match self {
            Reporter::Human(h) => h.line(&format!("{name}: {code}: {message}; retrying")),
            Reporter::Json(_) => Obj::event("retry")
                .put("file", name)
                .put("id", id)
                .put("code", code)
                .put("message", message)
                .emit(),
        }
    }

    pub fn retry_resume(&mut self, name: &str, id: &str) {
        match self {
            Reporter::Human(h) => h.line(&format!("{name}: recovered, uploading again")),
            Reporter::Json(_) => Obj::event("retry_resume")
                .put("file", name)
                .put("id", id)
                .emit(),
        }
    }

    pub fn waiting(&mut self, name: &str, id: &str, reason: &WaitingReason) {
        match self {
            Reporter::Human(h) => {
                let why = match reason {
                    WaitingReason::Network => "the network policy forbids this network".to_owned(),
                    WaitingReason::Credentials => "waiting for credentials".to_owned(),
                    WaitingReason::Backoff { until } => {
                        let secs = until
                            .duration_since(SystemTime::now())
                            .unwrap_or_default()
                            .as_secs_f64();
                        format!("next attempt in {secs:.1} s")
                    }
                    WaitingReason::Paused => "paused".to_owned(),
                    WaitingReason::TokenExpired => "the credentials expired".to_owned(),
                };
                h.line(&format!("{name}: {why}"));
            }
            Reporter::Json(_) => {
                let mut o = Obj::event("waiting")
                    .put("file", name)
                    .put("id", id)
                    .put("reason", reason_name(reason));
                if let WaitingReason::Backoff { until } = reason {
                    o.set("until_ms", unix_ms(*until));
                }
                o.emit();
            }
        }
    }

    /// The end of the run: a summary table (human) or the `all_done` line (JSON).
    pub fn finish(&mut self, rows: &[Row]) {
        let succeeded = rows
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Succeeded { .. }))
            .count();
        let failed = rows
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failed { .. }))
            .count();
        let unfinished = rows.len() - succeeded - failed;
        match self {
            Reporter::Human(h) => {
                for (_, pb) in h.bars.drain() {
                    pb.abandon();
                }
                let _ = h.multi.clear();
                if rows.is_empty() {
                    return;
                }
                let mut t = vec![vec![
                    "FILE".to_owned(),
                    "STATUS".to_owned(),
                    "BYTES".to_owned(),
                    "SECONDS".to_owned(),
                    "MiB/s".to_owned(),
                    "VIDEO ID / IMAGE URL".to_owned(),
                ]];
                for r in rows {
                    t.push(match &r.outcome {
                        Outcome::Succeeded {
                            result,
                            seconds,
                            already,
                        } => vec![
                            r.name.clone(),
                            if *already {
                                "already uploaded"
                            } else {
                                "uploaded"
                            }
                            .to_owned(),
                            result.bytes.to_string(),
                            if *already {
                                "-".into()
                            } else {
                                format!("{seconds:.2}")
                            },
                            match (already, mib_per_sec(result.bytes, *seconds)) {
                                (false, Some(s)) => format!("{s:.1}"),
                                _ => "-".into(),
                            },
                            result
                                .video_id
                                .clone()
                                .or_else(|| result.image_url.clone())
                                .unwrap_or_else(|| {
                                    format!("oss://{}/{}", result.bucket, result.object)
                                }),
                        ],
                        Outcome::Failed { code, message } => vec![
                            r.name.clone(),
                            format!("failed: {code}"),
                            "-".into(),
                            "-".into(),
                            "-".into(),
                            message.clone(),
                        ],
                        Outcome::Unfinished { uploaded, total } => vec![
                            r.name.clone(),
                            "unfinished (checkpointed)".into(),
                            format!("{uploaded}/{total}"),
                            "-".into(),
                            "-".into(),
                            "-".into(),
                        ],
                    });
                }
                print!("{}", table(&t));
                let mut tail = format!("{succeeded} uploaded");
                if failed > 0 {
                    tail.push_str(&format!(", {failed} failed"));
                }
                if unfinished > 0 {
                    tail.push_str(&format!(", {unfinished} unfinished"));
                }
                eprintln!("{tail}");
            }
            Reporter::Json(_) => Obj::event("all_done")
                .put("file", Value::Null)
                .put("succeeded", succeeded)
                .put("failed", failed)
                .put("unfinished", unfinished)
                .emit(),
        }
    }
}

impl Human {
    fn line(&self, msg: &str) {
        if self.multi.is_hidden() {
            eprintln!("{msg}");
        } else {
            let _ = self.multi.println(msg);
        }
    }
}

/// The contract's success line: event, file, id, then video_id or image_url, bucket, object,
/// bytes, seconds, crc64 (decimal string, as OSS prints it).
pub fn succeeded_json(
    name: &str,
    id: &str,
    result: &UploadResult,
    seconds: f64,
    already: bool,
) -> Obj {
    let mut o = Obj::event("succeeded").put("file", name).put("id", id);
    match (&result.video_id, &result.image_url) {
        (_, Some(url)) => o.set("image_url", url),
        (Some(v), None) => o.set("video_id", v),
        (None, None) => {}
    }
    o = o
        .put("bucket", &result.bucket)
        .put("object", &result.object)
        .put("bytes", result.bytes)
        .put("seconds", round_secs(seconds))
        .put("crc64", result.crc64.to_string());
    if already {
        o.set("already_uploaded", true);
    }
    o
}

pub fn reason_name(r: &WaitingReason) -> &'static str {
    match r {
        WaitingReason::Network => "network",
        WaitingReason::Credentials => "credentials",
        WaitingReason::Backoff { .. } => "backoff",
        WaitingReason::Paused => "paused",
        WaitingReason::TokenExpired => "token_expired",
    }
}

pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix:24} [{bar:30}] {bytes:>10}/{total_bytes:10} {binary_bytes_per_sec:>12} ETA {eta:>4} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

/// The file name, shortened for the bar's prefix.
fn short_name(name: &str) -> String {
    let base = std::path::Path::new(name)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.to_owned());
    if base.chars().count() > 24 {
        let tail: String = base
            .chars()
            .rev()
            .take(23)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("…{tail}")
    } else {
        base
    }
}
