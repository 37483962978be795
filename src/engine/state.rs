//! The one owner of every upload state: the queue's ([`QueueState`]) and each file's
//! ([`FileState`]).
//!
//! Every change of state goes through [`step`] (one file) or [`queue_step`] (the queue): pure
//! functions from (state, input) to effects. They do no I/O; the engine carries the effects out
//! (cancel or spawn a run, abort an upload, send an event, remove a row) and reports what its
//! workers saw back as inputs. The tables in `docs/control.md` are these functions in prose.
//!
//! # What is persisted, and why
//!
//! Only [`FileState::persisted`] reaches the database (`files.status`): whether a file is
//! still to do (`ready`), or finished (`succeeded`, `failed` with its error, `canceled`). A
//! restart needs no more: every unfinished file comes back [`Phase::Ready`] in an idle
//! queue, and its checkpoint (video id, UploadAddress, multipart upload id, finished parts; see
//! `store::schema`) lets the next run continue the same upload. Runs, waits, retry streaks and
//! the queue's own state are deliberately memory-only: they describe this process, and a
//! restarted app decides anew when to `start()`.

use std::time::SystemTime;

use crate::model::{FileError, FileStatus, UploadResult, WaitingReason};

/// The queue's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineStatus {
    /// Created or restored; nothing uploads until `start`.
    Idle,
    /// Uploading the queue (files added now start by themselves).
    Running,
    /// `pause()`: in-flight requests cancelled, checkpoints kept; `resume()` or `start()`
    /// continues.
    Paused,
    /// `stop()`: like pause, but the files go back to ready; `start()` continues.
    Stopped,
}

/// Identifies one run of a worker on a file. A worker's reports carry it, so a report from
/// a run that was stopped meanwhile changes nothing.
pub(crate) type RunId = u64;

/// Where a file is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// To do: the scheduler starts it when the queue runs, a slot is free and the network
    /// allows. Also where `stop()` and a restart put an unfinished file.
    Ready,
    /// Held back or interrupted by the network policy; continues by itself when it allows.
    NetworkWait,
    /// A worker runs it. `wait` says why no bytes move right now.
    Active {
        run: RunId,
        wait: Option<Wait>,
    },
    /// Interrupted by `pause()`; `resume()` or `start()` continues it.
    Paused,
    Canceled,
    Succeeded,
    Failed,
}

/// Why an active file is not sending bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wait {
    /// For its first credentials (mode 1: `set_upload_auth_and_address`).
    Credentials,
    /// Its credentials were rejected as expired: `resume_with_auth` / `resume_with_token`.
    TokenExpired,
    /// Backing off after a failure until then.
    Backoff { until: SystemTime },
}

/// One file's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileState {
    pub(crate) phase: Phase,
    /// `Started` was sent in this pass through the queue: a pause, stop or network wait does
    /// not end a pass, `resume_file` and a restart do (the app must then answer `Started`
    /// with credentials again).
    pub(crate) announced: bool,
    /// `Retry` was sent and `RetryResume` not yet.
    pub(crate) in_retry: bool,
}

/// The queue's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueueState {
    pub(crate) status: EngineStatus,
    /// Work was queued since the last `AllDone`: send it once when the queue drains.
    pub(crate) all_done_pending: bool,
}

/// What happens to a file: the app's calls, the scheduler's decisions, the worker's reports.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Input {
    Cancel {
        keep_upload: bool,
    },
    Delete,
    ResumeFile,
    /// The queue was paused / stopped / (re)started (from [`queue_step`]).
    Pause,
    Stop,
    Continue,
    /// The scheduler starts the file with a new run.
    Schedule {
        run: RunId,
    },
    /// The network policy forbids the current network.
    NetworkBlocked,
    /// Reports of run `run`.
    Waiting {
        run: RunId,
        wait: Wait,
    },
    GotCredentials {
        run: RunId,
    },
    RequestFailed {
        run: RunId,
        until: SystemTime,
        code: String,
        message: String,
    },
    RequestOk {
        run: RunId,
    },
    Succeeded {
        run: RunId,
        result: UploadResult,
    },
    Failed {
        run: RunId,
        error: FileError,
    },
}

/// What the engine must do after a file's transition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    /// Cancel the run: its requests stop at once, its checkpoints stay.
    StopRun(RunId),
    /// Start a worker for the run.
    Spawn(RunId),
    /// Abort the multipart upload on the server and forget the checkpoint.
    DiscardUpload,
    /// Record the upload's result (database and queue).
    RecordResult(UploadResult),
    /// Record the file's error, or clear it.
    SetError(Option<FileError>),
    /// Take the file out of the queue and the database.
    Remove,
    Notify(Notice),
}

/// An event to send about the file (the engine adds the file's current info).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Notice {
    Started,
    Waiting(WaitingReason),
    TokenExpired,
    Retry { code: String, message: String },
    RetryResume,
    Succeeded(UploadResult),
    Failed { code: String, message: String },
    Canceled { deleted: bool },
}

impl FileState {
    pub(crate) fn new() -> FileState {
        FileState {
            phase: Phase::Ready,
            announced: false,
            in_retry: false,
        }
    }

    /// A file read back from the database: unfinished files are ready again.
    pub(crate) fn restored(persisted: FileStatus) -> FileState {
        let phase = match persisted {
            FileStatus::Succeeded => Phase::Succeeded,
            FileStatus::Failed => Phase::Failed,
            FileStatus::Canceled => Phase::Canceled,
            _ => Phase::Ready,
        };
        FileState {
            phase,
            ..FileState::new()
        }
    }

    /// What `files.status` holds for this state (see the module documentation).
    pub(crate) fn persisted(&self) -> FileStatus {
        match self.phase {
            Phase::Canceled => FileStatus::Canceled,
            Phase::Succeeded => FileStatus::Succeeded,
            Phase::Failed => FileStatus::Failed,
            _ => FileStatus::Ready,
        }
    }

    /// The status and waiting reason apps see.
    pub(crate) fn view(&self) -> (FileStatus, Option<WaitingReason>) {
        match &self.phase {
            Phase::Ready => (FileStatus::Ready, None),
            Phase::NetworkWait => (FileStatus::Waiting, Some(WaitingReason::Network)),
            Phase::Active { wait: None, .. } => (FileStatus::Uploading, None),
            Phase::Active { wait: Some(w), .. } => (FileStatus::Waiting, Some(w.reason())),
            Phase::Paused => (FileStatus::Paused, Some(WaitingReason::Paused)),
            Phase::Canceled => (FileStatus::Canceled, None),
            Phase::Succeeded => (FileStatus::Succeeded, None),
            Phase::Failed => (FileStatus::Failed, None),
        }
    }

    /// The current run, if a worker runs the file.
    pub(crate) fn run(&self) -> Option<RunId> {
        match self.phase {
            Phase::Active { run, .. } => Some(run),
            _ => None,
        }
    }

    /// Succeeded, failed or canceled.
    pub(crate) fn is_finished(&self) -> bool {
        matches!(
            self.phase,
            Phase::Canceled | Phase::Succeeded | Phase::Failed
        )
    }

    /// The scheduler may start it.
    pub(crate) fn is_schedulable(&self) -> bool {
        matches!(self.phase, Phase::Ready | Phase::NetworkWait)
    }
}

impl Wait {
    fn reason(&self) -> WaitingReason {
        match self {
            Wait::Credentials => WaitingReason::Credentials,
            Wait::TokenExpired => WaitingReason::TokenExpired,
            Wait::Backoff { until } => WaitingReason::Backoff { until: *until },
        }
    }
}

/// One file's transition. An input that does not apply in the state (pause a file that is
/// not running, a report from a stopped run, cancel a finished file) changes nothing and
/// returns no effect.
pub(crate) fn step(s: &mut FileState, input: Input) -> Vec<Effect> {
    use Effect::*;
    use Phase::*;
    let stop = |phase: &Phase| match phase {
        Active { run, .. } => vec![StopRun(*run)],
        _ => vec![],
    };
    match (&s.phase, input) {
        // ------------------------------------------------------------ the app's file calls
        (Canceled | Succeeded, Input::Cancel { .. }) => vec![],
        (Failed, Input::Cancel { keep_upload }) => {
            s.phase = Canceled;
            if keep_upload {
                vec![]
            } else {
                vec![DiscardUpload]
            }
        }
        (_, Input::Cancel { keep_upload }) => {
            let mut fx = stop(&s.phase);
            s.phase = Canceled;
            s.in_retry = false;
            if !keep_upload {
                fx.push(DiscardUpload);
            }
            fx.push(Notify(Notice::Canceled { deleted: false }));
            fx
        }
        (Succeeded, Input::Delete) => vec![Remove],
        (Canceled | Failed, Input::Delete) => vec![DiscardUpload, Remove],
        (_, Input::Delete) => {
            let mut fx = stop(&s.phase);
            // Canceled for its last event; the entry goes with `Remove`.
            s.phase = Canceled;
            fx.extend([
                DiscardUpload,
                Remove,
                Notify(Notice::Canceled { deleted: true }),
            ]);
            fx
        }
        (Canceled | Failed, Input::ResumeFile) => {
            *s = FileState::new();
            vec![SetError(None)]
        }
        (_, Input::ResumeFile) => vec![],

        // ------------------------------------------------------------ the queue's calls
        (Active { .. } | NetworkWait, Input::Pause) => {
            let fx = stop(&s.phase);
            s.phase = Paused;
            [fx, vec![Notify(Notice::Waiting(WaitingReason::Paused))]].concat()
        }
        (Active { .. } | NetworkWait | Paused, Input::Stop) => {
            let fx = stop(&s.phase);
            s.phase = Ready;
            fx
        }
        (Paused, Input::Continue) => {
            s.phase = Ready;
            vec![]
        }
        (_, Input::Pause | Input::Stop | Input::Continue) => vec![],

        // ------------------------------------------------------------ the scheduler
        (Ready | NetworkWait, Input::Schedule { run }) => {
            s.phase = Active { run, wait: None };
            let mut fx = vec![];
            if !s.announced {
                s.announced = true;
                fx.push(Notify(Notice::Started));
            }
            fx.push(Spawn(run));
            fx
        }
        (_, Input::Schedule { .. }) => vec![],
        (Active { .. } | Ready, Input::NetworkBlocked) => {
            let fx = stop(&s.phase);
            s.phase = NetworkWait;
            [fx, vec![Notify(Notice::Waiting(WaitingReason::Network))]].concat()
        }
        (_, Input::NetworkBlocked) => vec![],

        // ------------------------------------------------------------ the worker's reports
        (Active { run, wait }, input) => {
            let (run, wait) = (*run, wait.clone());
            match input {
                Input::Waiting { run: r, wait: w } if r == run => {
                    if wait.as_ref() == Some(&w) {
                        return vec![];
                    }
                    let mut fx = vec![];
                    if w == Wait::TokenExpired {
                        fx.push(Notify(Notice::TokenExpired));
                    }
                    fx.push(Notify(Notice::Waiting(w.reason())));
                    s.phase = Active { run, wait: Some(w) };
                    fx
                }
                Input::GotCredentials { run: r } if r == run => {
                    if matches!(wait, Some(Wait::Credentials | Wait::TokenExpired)) {
                        s.phase = Active { run, wait: None };
                    }
                    vec![]
                }
                Input::RequestFailed {
                    run: r,
                    until,
                    code,
                    message,
                } if r == run => {
                    let mut fx = vec![];
                    if !s.in_retry {
                        s.in_retry = true;
                        fx.push(Notify(Notice::Retry { code, message }));
                    }
                    fx.push(Notify(Notice::Waiting(WaitingReason::Backoff { until })));
                    s.phase = Active {
                        run,
                        wait: Some(Wait::Backoff { until }),
                    };
                    fx
                }
                Input::RequestOk { run: r } if r == run => {
                    if matches!(wait, Some(Wait::Backoff { .. })) {
                        s.phase = Active { run, wait: None };
                    }
                    if s.in_retry {
                        s.in_retry = false;
                        vec![Notify(Notice::RetryResume)]
                    } else {
                        vec![]
                    }
                }
                Input::Succeeded { run: r, result } if r == run => {
                    s.phase = Succeeded;
                    s.in_retry = false;
                    vec![
                        RecordResult(result.clone()),
                        Notify(Notice::Succeeded(result)),
                    ]
                }
                Input::Failed { run: r, error } if r == run => {
                    s.phase = Failed;
                    s.in_retry = false;
                    let notice = Notice::Failed {
                        code: error.code.clone(),
                        message: error.message.clone(),
                    };
                    vec![SetError(Some(error)), Notify(notice)]
                }
                // A report from a run that was stopped or replaced.
                _ => vec![],
            }
        }
        // Reports from a run that is no longer the file's: it was stopped.
        (_, _) => vec![],
    }
}

/// The queue's calls. Returns the input to apply to every file, if the call applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueInput {
    Start,
    Stop,
    Pause,
    Resume,
}

pub(crate) fn queue_step(q: &mut QueueState, input: QueueInput) -> Option<Input> {
    use EngineStatus::*;
    match (q.status, input) {
        (Running, QueueInput::Start | QueueInput::Resume) => None,
        // `start()` continues everything that is unfinished, paused files included.
        (Idle | Stopped | Paused, QueueInput::Start) | (Paused, QueueInput::Resume) => {
            q.status = Running;
            q.all_done_pending = true;
            Some(Input::Continue)
        }
        // Nothing to resume: after stop() the app calls start().
        (Idle | Stopped, QueueInput::Resume) => None,
        (Running, QueueInput::Pause) => {
            q.status = Paused;
            Some(Input::Pause)
        }
        (Idle | Paused | Stopped, QueueInput::Pause) => None,
        (Running | Paused, QueueInput::Stop) => {
            q.status = Stopped;
            q.all_done_pending = false;
            Some(Input::Stop)
        }
        (Idle | Stopped, QueueInput::Stop) => None,
    }
}

/// Work was added to the queue (`add_file`, `resume_file`): if it runs, `AllDone` is due again
/// once it drains.
pub(crate) fn queue_work_added(q: &mut QueueState) {
    if q.status == EngineStatus::Running {
        q.all_done_pending = true;
    }
}

/// The scheduler's decision: which files to start (with `Schedule`) or to hold for the
/// network (`NetworkBlocked`), in queue order, within `slots` parallel files.
pub(crate) fn schedule<'a>(
    q: &QueueState,
    files: impl IntoIterator<Item = &'a FileState>,
    network_allowed: bool,
    slots: usize,
) -> Vec<(usize, bool)> {
    if q.status != EngineStatus::Running {
        return vec![];
    }
    let files: Vec<&FileState> = files.into_iter().collect();
    let mut active = files.iter().filter(|f| f.run().is_some()).count();
    let mut picks = vec![];
    for (i, f) in files.iter().enumerate() {
        if active >= slots {
            break;
        }
        if f.is_schedulable() {
            active += 1;
            // `true`: start it; `false`: show it waiting for the network ("waiting for Wi-Fi").
            picks.push((i, network_allowed));
        }
    }
    picks
}

/// Whether `AllDone` is due now; clears the pending flag when it is.
pub(crate) fn queue_drained<'a>(
    q: &mut QueueState,
    mut files: impl Iterator<Item = &'a FileState>,
) -> bool {
    let due = q.status == EngineStatus::Running
        && q.all_done_pending
        && files.all(FileState::is_finished);
    if due {
        q.all_done_pending = false;
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const R: RunId = 7;
    const OLD: RunId = 3;

    fn until() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000)
    }

    fn result() -> UploadResult {
        UploadResult {
            video_id: Some("v".into()),
            image_url: None,
            endpoint: "e".into(),
            bucket: "b".into(),
            object: "o".into(),
            bytes: 1,
            crc64: 2,
        }
    }

    fn error() -> FileError {
        FileError {
            code: "AccessDenied".into(),
            message: "no".into(),
            request_id: None,
        }
    }

    /// Every phase, each once.
    fn phases() -> Vec<Phase> {
        vec![
            Phase::Ready,
            Phase::NetworkWait,
            Phase::Active { run: R, wait: None },
            Phase::Active {
                run: R,
                wait: Some(Wait::Credentials),
            },
            Phase::Active {
                run: R,
                wait: Some(Wait::TokenExpired),
            },
            Phase::Active {
                run: R,
                wait: Some(Wait::Backoff { until: until() }),
            },
            Phase::Paused,
            Phase::Canceled,
            Phase::Succeeded,
            Phase::Failed,
        ]
    }

    /// Every input, each once (worker reports for the current run and for an old one).
    fn inputs() -> Vec<Input> {
        let mut v = vec![
            Input::Cancel { keep_upload: true },
            Input::Cancel { keep_upload: false },
            Input::Delete,
            Input::ResumeFile,
            Input::Pause,
            Input::Stop,
            Input::Continue,
            Input::Schedule { run: 9 },
            Input::NetworkBlocked,
        ];
        for run in [R, OLD] {
            v.extend([
                Input::Waiting {
                    run,
                    wait: Wait::Credentials,
                },
                Input::Waiting {
                    run,
                    wait: Wait::TokenExpired,
                },
                Input::GotCredentials { run },
                Input::RequestFailed {
                    run,
                    until: until(),
                    code: "503".into(),
                    message: "busy".into(),
                },
                Input::RequestOk { run },
                Input::Succeeded {
                    run,
                    result: result(),
                },
                Input::Failed {
                    run,
                    error: error(),
                },
            ]);
        }
        v
    }

    fn state(phase: Phase) -> FileState {
        FileState {
            phase,
            announced: true,
            in_retry: false,
        }
    }

    fn short(p: &Phase) -> String {
        match p {
            Phase::Active { run, wait } => format!(
                "Active({run}{})",
                match wait {
                    None => "",
                    Some(Wait::Credentials) => ",creds",
                    Some(Wait::TokenExpired) => ",expired",
                    Some(Wait::Backoff { .. }) => ",backoff",
                }
            ),
            other => format!("{other:?}"),
        }
    }

    fn input_name(i: &Input) -> String {
        let s = format!("{i:?}");
        let name: String = s.chars().take_while(|c| c.is_alphanumeric()).collect();
        let run = match i {
            Input::Waiting { run, wait } => format!("({run},{wait:?})"),
            Input::GotCredentials { run }
            | Input::RequestFailed { run, .. }
            | Input::RequestOk { run }
            | Input::Succeeded { run, .. }
            | Input::Failed { run, .. } => format!("({run})"),
            Input::Cancel { keep_upload } => format!("(keep={keep_upload})"),
            _ => String::new(),
        };
        format!("{name}{run}")
    }

    fn effect_name(e: &Effect) -> String {
        match e {
            Effect::StopRun(r) => format!("stop{r}"),
            Effect::Spawn(r) => format!("spawn{r}"),
            Effect::DiscardUpload => "discard".into(),
            Effect::RecordResult(_) => "record".into(),
            Effect::SetError(Some(_)) => "error".into(),
            Effect::SetError(None) => "clear-error".into(),
            Effect::Remove => "remove".into(),
            Effect::Notify(n) => match n {
                Notice::Started => "ev:started".into(),
                Notice::Waiting(r) => format!(
                    "ev:waiting({})",
                    format!("{r:?}")
                        .chars()
                        .take_while(|c| c.is_alphanumeric())
                        .collect::<String>()
                ),
                Notice::TokenExpired => "ev:token-expired".into(),
                Notice::Retry { .. } => "ev:retry".into(),
                Notice::RetryResume => "ev:retry-resume".into(),
                Notice::Succeeded(_) => "ev:succeeded".into(),
                Notice::Failed { .. } => "ev:failed".into(),
                Notice::Canceled { deleted } => format!("ev:canceled(deleted={deleted})"),
            },
        }
    }

    /// The whole table: every phase × every input → new phase and effects. The expected
    /// text is the specification (docs/control.md says the same in prose); a change to the
    /// machine shows up here as a diff of this table.
    #[test]
    fn every_state_times_every_input() {
        let mut table = String::new();
        for phase in phases() {
            for input in inputs() {
                let mut s = state(phase.clone());
                let fx = step(&mut s, input.clone());
                let fx: Vec<String> = fx.iter().map(effect_name).collect();
                let line = format!(
                    "{} + {} -> {} [{}]\n",
                    short(&phase),
                    input_name(&input),
                    short(&s.phase),
                    fx.join(" ")
                );
                table.push_str(&line);
            }
        }
        let expected = include_str!("state_table.txt");
        if table != expected {
            // Writes the actual table beside the expected one, to diff and review.
            let out = std::env::temp_dir().join("vod-upload-state-table.txt");
            let _ = std::fs::write(&out, &table);
            panic!(
                "the state table changed; actual table written to {} (diff it against \
                 src/engine/state_table.txt)",
                out.display()
            );
        }
    }

    #[test]
    fn finished_files_ignore_everything_but_delete_resume_and_cancel() {
        for phase in [Phase::Succeeded, Phase::Canceled, Phase::Failed] {
            for input in inputs() {
                if matches!(
                    input,
                    Input::Delete | Input::ResumeFile | Input::Cancel { .. }
                ) {
                    continue;
                }
                let mut s = state(phase.clone());
                assert!(
                    step(&mut s, input.clone()).is_empty(),
                    "{phase:?} {input:?}"
                );
                assert_eq!(s.phase, phase);
            }
        }
    }

    #[test]
    fn reports_of_an_old_run_change_nothing() {
        for phase in phases() {
            for input in inputs() {
                let old = match &input {
                    Input::Waiting { run, .. }
                    | Input::GotCredentials { run }
                    | Input::RequestFailed { run, .. }
                    | Input::RequestOk { run }
                    | Input::Succeeded { run, .. }
                    | Input::Failed { run, .. } => *run == OLD,
                    _ => false,
                };
                if old {
                    let mut s = state(phase.clone());
                    let before = s.clone();
                    assert!(step(&mut s, input.clone()).is_empty());
                    assert_eq!(s, before, "{input:?}");
                }
            }
        }
    }

    #[test]
    fn every_file_that_was_unfinished_gets_exactly_one_terminal_event() {
        let terminal = |fx: &[Effect]| {
            fx.iter()
                .filter(|e| {
                    matches!(
                        e,
                        Effect::Notify(
                            Notice::Succeeded(_) | Notice::Failed { .. } | Notice::Canceled { .. }
                        )
                    )
                })
                .count()
        };
        for phase in phases() {
            for input in inputs() {
                let mut s = state(phase.clone());
                let was_finished = s.is_finished();
                let fx = step(&mut s, input.clone());
                let expected = usize::from(!was_finished && s.is_finished());
                assert_eq!(terminal(&fx), expected, "{phase:?} + {input:?}");
            }
        }
    }

    #[test]
    fn a_stopped_run_is_always_cancelled() {
        for phase in phases() {
            for input in inputs() {
                let mut s = state(phase.clone());
                let before = s.run();
                let fx = step(&mut s, input);
                if let Some(run) = before
                    && s.run() != Some(run)
                    && !s.is_finished_by_worker()
                {
                    assert!(fx.contains(&Effect::StopRun(run)), "{phase:?}: {fx:?}");
                }
            }
        }
    }

    impl FileState {
        /// Succeeded or failed: the worker itself ended the run.
        fn is_finished_by_worker(&self) -> bool {
            matches!(self.phase, Phase::Succeeded | Phase::Failed)
        }
    }

    #[test]
    fn started_once_per_pass() {
        let mut s = FileState::new();
        assert_eq!(
            step(&mut s, Input::Schedule { run: 1 }),
            vec![Effect::Notify(Notice::Started), Effect::Spawn(1)]
        );
        step(&mut s, Input::Pause);
        step(&mut s, Input::Continue);
        step(&mut s, Input::NetworkBlocked);
        assert_eq!(
            step(&mut s, Input::Schedule { run: 2 }),
            vec![Effect::Spawn(2)]
        );
        step(&mut s, Input::Cancel { keep_upload: true });
        step(&mut s, Input::ResumeFile);
        assert_eq!(
            step(&mut s, Input::Schedule { run: 3 }),
            vec![Effect::Notify(Notice::Started), Effect::Spawn(3)]
        );
        // A restart is a new pass.
        let mut r = FileState::restored(FileStatus::Uploading);
        assert_eq!(r.phase, Phase::Ready);
        assert!(
            step(&mut r, Input::Schedule { run: 1 }).contains(&Effect::Notify(Notice::Started))
        );
    }

    #[test]
    fn retry_and_retry_resume_come_in_pairs() {
        let mut s = state(Phase::Active { run: R, wait: None });
        let failed = || Input::RequestFailed {
            run: R,
            until: until(),
            code: "c".into(),
            message: "m".into(),
        };
        let names = |fx: Vec<Effect>| fx.iter().map(effect_name).collect::<Vec<_>>();
        assert_eq!(
            names(step(&mut s, failed())),
            ["ev:retry", "ev:waiting(Backoff)"]
        );
        assert_eq!(names(step(&mut s, failed())), ["ev:waiting(Backoff)"]);
        assert_eq!(
            names(step(&mut s, Input::RequestOk { run: R })),
            ["ev:retry-resume"]
        );
        assert!(step(&mut s, Input::RequestOk { run: R }).is_empty());
        assert_eq!(s.phase, Phase::Active { run: R, wait: None });
    }

    #[test]
    fn persisted_status_is_done_or_not() {
        for phase in phases() {
            let s = state(phase.clone());
            let p = s.persisted();
            assert_eq!(FileState::restored(p).persisted(), p);
            assert_eq!(p.is_terminal(), s.is_finished(), "{phase:?}");
        }
    }

    #[test]
    fn queue_calls_that_do_not_apply_are_ignored() {
        use EngineStatus::*;
        use QueueInput::*;
        let cases = [
            (Idle, Start, Running, Some(Input::Continue)),
            (Idle, Stop, Idle, None),
            (Idle, Pause, Idle, None),
            (Idle, Resume, Idle, None),
            (Running, Start, Running, None),
            (Running, Stop, Stopped, Some(Input::Stop)),
            (Running, Pause, Paused, Some(Input::Pause)),
            (Running, Resume, Running, None),
            (Paused, Start, Running, Some(Input::Continue)),
            (Paused, Stop, Stopped, Some(Input::Stop)),
            (Paused, Pause, Paused, None),
            (Paused, Resume, Running, Some(Input::Continue)),
            (Stopped, Start, Running, Some(Input::Continue)),
            (Stopped, Stop, Stopped, None),
            (Stopped, Pause, Stopped, None),
            (Stopped, Resume, Stopped, None),
        ];
        for (from, input, to, files) in cases {
            let mut q = QueueState {
                status: from,
                all_done_pending: false,
            };
            assert_eq!(queue_step(&mut q, input), files, "{from:?} + {input:?}");
            assert_eq!(q.status, to, "{from:?} + {input:?}");
            assert_eq!(q.all_done_pending, files == Some(Input::Continue));
        }
    }

    #[test]
    fn scheduler_fills_slots_in_order_and_holds_for_the_network() {
        let q = QueueState {
            status: EngineStatus::Running,
            all_done_pending: true,
        };
        let files = [
            state(Phase::Succeeded),
            state(Phase::Active { run: 1, wait: None }),
            state(Phase::Ready),
            state(Phase::Paused),
            state(Phase::NetworkWait),
            state(Phase::Ready),
        ];
        assert_eq!(schedule(&q, &files, true, 1), vec![]);
        assert_eq!(schedule(&q, &files, true, 3), vec![(2, true), (4, true)]);
        assert_eq!(schedule(&q, &files, false, 2), vec![(2, false)]);
        let idle = QueueState {
            status: EngineStatus::Stopped,
            ..q
        };
        assert_eq!(schedule(&idle, &files, true, 3), vec![]);
    }

    #[test]
    fn all_done_once_when_everything_finished() {
        let mut q = QueueState {
            status: EngineStatus::Running,
            all_done_pending: true,
        };
        let busy = [state(Phase::Succeeded), state(Phase::Paused)];
        assert!(!queue_drained(&mut q, busy.iter()));
        let done = [state(Phase::Succeeded), state(Phase::Canceled)];
        assert!(queue_drained(&mut q, done.iter()));
        assert!(!queue_drained(&mut q, done.iter()), "only once");
        queue_work_added(&mut q);
        assert!(queue_drained(&mut q, done.iter()));
    }
}
