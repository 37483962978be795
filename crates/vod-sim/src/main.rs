//! `vod-sim`: runs the simulator, prints its endpoints as one JSON line on stdout, and serves
//! until SIGINT/SIGTERM. Logs go to stderr (`RUST_LOG` filters them).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use vod_sim::{SimConfig, Simulator};

/// A local ApsaraVideo VOD + OSS + STS simulator with fault injection.
#[derive(Debug, Parser)]
#[command(name = "vod-sim", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// IP address to put in the printed endpoints and in UploadAddress, with the listening
    /// port: what a device connects to (e.g. `--listen 0.0.0.0:9000 --advertise-ip 10.0.2.2`
    /// for the Android emulator). Default: the listen address.
    #[arg(long, value_name = "IP")]
    advertise_ip: Option<std::net::IpAddr>,
    /// Directory for objects and parts (default: a temporary directory, removed on exit). Its
    /// `blobs/` subdirectory is emptied on start: nothing is kept across runs.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Account AccessKeyId (generated when absent).
    #[arg(long)]
    access_key_id: Option<String>,
    /// Account AccessKeySecret (generated when absent).
    #[arg(long)]
    access_key_secret: Option<String>,
    /// Lifetime in seconds of the STS credentials the simulator issues.
    #[arg(long, default_value_t = vod_sim::DEFAULT_TOKEN_TTL_SECS)]
    token_ttl: u64,
    /// Request-body bandwidth limit in bytes per second, shared by all connections.
    #[arg(long)]
    bandwidth: Option<u64>,
    /// Delay in milliseconds added to every response.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Serve HTTPS with a certificate issued at start by a private CA (for 127.0.0.1, ::1,
    /// localhost and the advertised IP); the endpoints printed then start with https://.
    #[arg(long)]
    tls: bool,
    /// Write the private CA certificate (PEM) here before the JSON line is printed: the root a
    /// client must trust (vod-upload --ca-cert FILE).
    #[arg(long, value_name = "FILE", requires = "tls")]
    tls_cert_out: Option<PathBuf>,
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vod-sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = SimConfig {
        listen: args.listen,
        advertise_ip: args.advertise_ip,
        data_dir: args.data_dir,
        access_key_id: args.access_key_id,
        access_key_secret: args.access_key_secret,
        token_ttl: Duration::from_secs(args.token_ttl),
        bandwidth: args.bandwidth,
        latency: Duration::from_millis(args.latency_ms),
        tls: args.tls.then(|| {
            let mut tls = vod_sim::TlsOptions::default();
            if let Some(ip) = args.advertise_ip {
                tls.subject_alt_names.push(ip.to_string());
            }
            tls
        }),
    };
    runtime.block_on(async move {
        let sim = match Simulator::start(config).await {
            Ok(sim) => sim,
            Err(e) => {
                eprintln!("vod-sim: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let (Some(path), Some(pem)) = (&args.tls_cert_out, sim.tls_ca_pem())
            && let Err(e) = std::fs::write(path, pem)
        {
            eprintln!("vod-sim: --tls-cert-out {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        let line = match serde_json::to_string(sim.info()) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("vod-sim: {e}");
                return ExitCode::FAILURE;
            }
        };
        // The one stdout line other tools parse; flushed so a pipe reader sees it at once.
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{line}")
            .and_then(|_| stdout.flush())
            .is_err()
        {
            eprintln!("vod-sim: cannot write to stdout");
            return ExitCode::FAILURE;
        }
        drop(stdout);
        shutdown_signal().await;
        tracing::info!("shutting down");
        sim.shutdown().await;
        ExitCode::SUCCESS
    })
}
