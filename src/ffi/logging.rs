//! Forwards the library's `tracing` output to the app (Logcat, OSLog, Python `logging`).
//!
//! One global subscriber is installed on the first [`init_logging`] call; later calls only
//! change the level and the sink, so the function is safe to call again (e.g. from every
//! `Application.onCreate` of a multi-process app). Records from our own crate pass at the
//! chosen level; those of dependencies (hyper, rustls, ...) only from `Warn` up, so `Debug`
//! stays readable.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::Registry;

use super::error::CallbackError;

/// Severity of a log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    fn of(level: &Level) -> LogLevel {
        match *level {
            Level::ERROR => LogLevel::Error,
            Level::WARN => LogLevel::Warn,
            Level::INFO => LogLevel::Info,
            Level::DEBUG => LogLevel::Debug,
            Level::TRACE => LogLevel::Trace,
        }
    }
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LogRecord {
    pub level: LogLevel,
    /// The Rust module that logged it, e.g. `vod_upload::engine::worker`.
    pub target: String,
    /// The message with its fields (`key=value`) appended. Never contains a secret.
    pub message: String,
}

/// Receives the library's log records, on whatever thread logged them. Keep it cheap and
/// non-blocking (hand over to `android.util.Log`, `os.Logger` or `logging`).
#[uniffi::export(foreign)]
pub trait LogSink: Send + Sync {
    fn log(&self, record: LogRecord) -> Result<(), CallbackError>;
}

/// Sends the library's logs at `level` and above to `sink` (or to stderr without one).
/// Call it once at start-up, before creating a client; calling it again changes the level
/// and the sink.
#[uniffi::export]
pub fn init_logging(level: LogLevel, sink: Option<Arc<dyn LogSink>>) {
    let state = STATE.get_or_init(|| {
        let state = Arc::new(SinkState {
            level: AtomicU8::new(level as u8),
            sink: RwLock::new(None),
        });
        let layer = ForeignLayer {
            state: state.clone(),
        };
        // Fails only if the host process already installed a global subscriber (a Rust app
        // embedding us); its logging then wins, which is what that app asked for.
        let _ = tracing::subscriber::set_global_default(Registry::default().with(layer));
        state
    });
    state.level.store(level as u8, Ordering::Relaxed);
    *state.sink.write().unwrap_or_else(|p| p.into_inner()) = sink;
}

static STATE: OnceLock<Arc<SinkState>> = OnceLock::new();

struct SinkState {
    /// The `LogLevel` discriminant: records at or below it pass.
    level: AtomicU8,
    sink: RwLock<Option<Arc<dyn LogSink>>>,
}

thread_local! {
    /// Set while a record is being delivered, so a sink that logs through us (directly or via
    /// a library call) cannot recurse forever.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

struct ForeignLayer {
    state: Arc<SinkState>,
}

impl ForeignLayer {
    fn passes(&self, meta: &Metadata<'_>) -> bool {
        let max = self.state.level.load(Ordering::Relaxed);
        let level = LogLevel::of(meta.level()) as u8;
        let ours = meta.target().starts_with(env!("CARGO_CRATE_NAME"));
        level
            <= if ours {
                max
            } else {
                max.min(LogLevel::Warn as u8)
            }
    }
}

impl<S: Subscriber> Layer<S> for ForeignLayer {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        // The level can change at run time: ask `enabled` every time.
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        self.passes(meta)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if IN_SINK.with(Cell::get) {
            return;
        }
        let mut text = MessageText::default();
        event.record(&mut text);
        let meta = event.metadata();
        let record = LogRecord {
            level: LogLevel::of(meta.level()),
            target: meta.target().to_owned(),
            message: text.finish(),
        };
        let sink = self
            .state
            .sink
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        IN_SINK.with(|f| f.set(true));
        match sink {
            // A throwing sink cannot be reported anywhere but stderr.
            Some(sink) => {
                if let Err(e) = sink.log(record) {
                    eprintln!("vod-upload: log sink failed: {e}");
                }
            }
            None => eprintln!(
                "vod-upload {:?} {}: {}",
                record.level, record.target, record.message
            ),
        }
        IN_SINK.with(|f| f.set(false));
    }
}

/// Renders an event as `message key=value ...`.
#[derive(Default)]
struct MessageText {
    message: String,
    fields: String,
}

impl MessageText {
    fn finish(self) -> String {
        if self.fields.is_empty() {
            self.message
        } else if self.message.is_empty() {
            self.fields.trim_start().to_owned()
        } else {
            self.message + &self.fields
        }
    }
}

impl Visit for MessageText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_and_fields_render_in_order() {
        let t = MessageText {
            message: "part done".into(),
            fields: " part=3 bytes=10".into(),
        };
        assert_eq!(t.finish(), "part done part=3 bytes=10");
        let only_fields = MessageText {
            message: String::new(),
            fields: " a=1".into(),
        };
        assert_eq!(only_fields.finish(), "a=1");
    }

    #[test]
    fn levels_order_from_error_to_trace() {
        assert!(LogLevel::Error < LogLevel::Warn && LogLevel::Debug < LogLevel::Trace);
        assert_eq!(LogLevel::of(&Level::INFO), LogLevel::Info);
    }
}
