//! Exit statuses and the errors that end a command.

use std::process::ExitCode;

/// The process exit status. Scripts may rely on these values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every file succeeded (or there was nothing to do).
    Ok = 0,
    /// At least one file failed; its error code and message are on stderr.
    Failed = 1,
    /// Invalid command line or arguments (also clap's own status for usage errors).
    Usage = 2,
    /// The credentials expired and the CLI has no way to renew them: the upload is
    /// checkpointed; run the same command again with fresh credentials.
    CredentialsExpired = 3,
    /// The state database, the simulator or the runtime could not be set up.
    Setup = 4,
    /// The network policy forbids the network given with `--network`: the upload is
    /// checkpointed; run again on an allowed network.
    NetworkBlocked = 5,
    /// Interrupted (Ctrl-C / SIGTERM); checkpoints are kept.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// An error that ends the command with `exit` after printing `message` on stderr.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            exit: Exit::Usage,
            message: message.into(),
        }
    }

    pub fn setup(message: impl Into<String>) -> Failure {
        Failure {
            exit: Exit::Setup,
            message: message.into(),
        }
    }

    /// An engine error: invalid input is a usage error, anything else a setup error. The
    /// message carries the engine's error code, as `failed` events do.
    pub fn engine(context: &str, e: &vod_upload::Error) -> Failure {
        let exit = match e {
            vod_upload::Error::InvalidArgument(_)
            | vod_upload::Error::InvalidUploadAuth(_)
            | vod_upload::Error::InvalidUploadAddress(_) => Exit::Usage,
            _ => Exit::Setup,
        };
        Failure {
            exit,
            message: format!("{context}: {}: {e}", e.code()),
        }
    }
}
