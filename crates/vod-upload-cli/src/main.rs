//! `vod-upload`: the command line front end of the upload engine. See `vod-upload --help`.

mod cli;
mod creds;
mod demo;
mod failure;
mod queue;
mod report;
mod run;
mod util;
mod verbs;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use failure::{Exit, Failure};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Engine logs stay quiet unless asked for (RUST_LOG=vod_upload=debug): the CLI reports
    // everything a user needs itself.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Setup.into();
        }
    };
    let result: Result<Exit, Failure> = runtime.block_on(async move {
        match cli.command {
            Command::Upload(a) => run::upload(*a).await,
            Command::Resume(a) => run::resume(*a).await,
            Command::List(a) => queue::list(a),
            Command::Clear(a) => queue::clear(*a).await,
            Command::Cancel(a) => verbs::cancel(*a).await,
            Command::Delete(a) => verbs::delete(*a).await,
            Command::Retry(a) => run::retry(*a).await,
            Command::Demo(a) => demo::run(a).await,
        }
    });
    // Background tasks (the simulator, aborted requests) must not delay the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(exit) => exit.into(),
        Err(f) => {
            eprintln!("error: {}", f.message);
            f.exit.into()
        }
    }
}
