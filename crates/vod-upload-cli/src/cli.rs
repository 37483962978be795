//! The command line surface (clap derive). Other tools and CI depend on these names: change
//! them only together with issue 6's contract.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Upload videos, audio and images to Alibaba Cloud ApsaraVideo VOD, resumably.
///
/// Without credentials, `upload` runs against a simulator started inside the process, so it
/// works on any machine. `vod-upload demo` shows what the engine does.
#[derive(Parser)]
#[command(name = "vod-upload", version, propagate_version = true, after_help = EXIT_STATUS)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const EXIT_STATUS: &str = "Exit status: 0 every file succeeded; 1 a file failed (its error code and message on \
stderr); 2 invalid arguments (an unknown file id, a file already uploaded, ...); 3 the credentials expired \
(the upload is checkpointed: run again with fresh ones); 4 the state database or the simulator could not be set \
up; 5 the network policy forbids the network given with --network (checkpointed: run again on an allowed \
network); 130 interrupted (checkpointed).";

#[derive(Subcommand)]
pub enum Command {
    /// Upload files (resumes an interrupted upload of the same file from the state database).
    #[command(after_help = EXIT_STATUS)]
    Upload(Box<UploadArgs>),
    /// List the uploads in the state database.
    List(ListArgs),
    /// Continue every unfinished upload in the state database.
    Resume(Box<ResumeArgs>),
    /// Empty the state database, aborting unfinished multipart uploads when credentials allow.
    Clear(Box<ClearArgs>),
    /// Cancel one upload: it stays listed as canceled, its multipart upload is aborted (unless
    /// --keep-upload); `retry` queues it again.
    #[command(after_help = EXIT_STATUS)]
    Cancel(Box<CancelArgs>),
    /// Remove one upload from the state database, aborting its multipart upload.
    #[command(after_help = EXIT_STATUS)]
    Delete(Box<DeleteArgs>),
    /// Upload a canceled or failed file again, continuing its checkpoint when there is one.
    #[command(after_help = EXIT_STATUS)]
    Retry(Box<RetryArgs>),
    /// A guided tour of the engine on the built-in simulator (about 10 seconds).
    Demo(DemoArgs),
}

/// Aborts of multipart uploads go through the engine's cleanup outbox, persisted in the state
/// database: an abort that cannot be carried out now (no credentials, the service
/// unreachable) is carried out by the next `vod-upload` run that has credentials.
const ABORTS: &str = "An abort that cannot be carried out now (no credentials given, the service unreachable) stays \
owed in the state database and is carried out by the next vod-upload run on it that has credentials.";

#[derive(Args)]
#[command(after_long_help = ABORTS)]
pub struct CancelArgs {
    /// The file's id, as `vod-upload list` shows it (a unique prefix is enough).
    #[arg(value_name = "ID")]
    pub id: String,
    /// Keep the multipart upload on the server, so `retry` continues where it stopped.
    #[arg(long)]
    pub keep_upload: bool,
    #[command(flatten)]
    pub queue: QueueArgs,
}

#[derive(Args)]
#[command(after_long_help = ABORTS)]
pub struct DeleteArgs {
    /// The file's id, as `vod-upload list` shows it (a unique prefix is enough).
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub queue: QueueArgs,
}

/// What `cancel` and `delete` need besides the id.
#[derive(Args)]
pub struct QueueArgs {
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// The state database (default: the user's data directory).
    #[arg(long, value_name = "PATH")]
    pub state_db: Option<PathBuf>,
    /// How long to wait for the server to confirm the abort of the multipart upload before
    /// leaving it owed (see below).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub abort_timeout: u64,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RetryArgs {
    /// The file's id, as `vod-upload list` shows it (a unique prefix is enough).
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    #[command(flatten)]
    pub transfer: TransferArgs,
    #[command(flatten)]
    pub network: NetworkArgs,
}

/// The network the engine is told about, and the policy it applies to it.
#[derive(Args, Clone)]
pub struct NetworkArgs {
    /// The network this device is on, as a phone reports it to the engine (default: unknown,
    /// which every policy allows).
    #[arg(long, value_name = "TYPE", value_enum)]
    pub network: Option<NetworkArg>,
    /// Whether that network is charged by volume [default: yes for cellular, no otherwise;
    /// --metered alone: yes]
    #[arg(long, value_name = "YES|NO", requires = "network", num_args = 0..=1,
          default_missing_value = "yes", hide_possible_values = true,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub metered: Option<bool>,
    /// That network is roaming.
    #[arg(long, requires = "network")]
    pub roaming: bool,
    /// Which networks may carry upload bytes.
    #[arg(long, value_name = "POLICY", value_enum, default_value_t = PolicyArg::Any)]
    pub network_policy: PolicyArg,
    /// When the policy forbids the network, how long the engine is left waiting for an allowed
    /// one before the command exits with status 5 (checkpoints kept). The network given with
    /// --network does not change during a run, so by default (0) it exits at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub wait_network: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetworkArg {
    Wifi,
    Cellular,
    Ethernet,
    None,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyArg {
    /// Wi-Fi and Ethernet only (Alibaba's advice for phones: no uploads on 3G/4G).
    WifiOnly,
    /// Any network with internet access.
    Any,
    /// Any network that is neither metered nor roaming.
    UnmeteredOnly,
}

impl NetworkArgs {
    /// The state to report to the engine (`None`: leave it unknown).
    pub fn state(&self) -> Option<vod_upload::NetworkState> {
        use vod_upload::NetworkType;
        let kind = self.network?;
        let network_type = match kind {
            NetworkArg::Wifi => NetworkType::Wifi,
            NetworkArg::Cellular => NetworkType::Cellular,
            NetworkArg::Ethernet => NetworkType::Ethernet,
            NetworkArg::None => NetworkType::None,
        };
        Some(vod_upload::NetworkState {
            network_type,
            metered: self.metered.unwrap_or(kind == NetworkArg::Cellular),
            roaming: self.roaming,
            validated: kind != NetworkArg::None,
        })
    }

    pub fn policy(&self) -> vod_upload::NetworkPolicy {
        match self.network_policy {
            PolicyArg::WifiOnly => vod_upload::NetworkPolicy::WifiOnly,
            PolicyArg::Any => vod_upload::NetworkPolicy::Any,
            PolicyArg::UnmeteredOnly => vod_upload::NetworkPolicy::UnmeteredOnly,
        }
    }

    /// For messages: the network as given.
    pub fn describe(&self) -> String {
        let Some(kind) = self.network else {
            return "an unknown network".into();
        };
        let name = match kind {
            NetworkArg::Wifi => "Wi-Fi",
            NetworkArg::Cellular => "cellular",
            NetworkArg::Ethernet => "Ethernet",
            NetworkArg::None => return "no network (--network none)".into(),
        };
        let state = self.state().expect("a network was given");
        let mut s = name.to_owned();
        if state.metered {
            s.push_str(", metered");
        }
        if state.roaming {
            s.push_str(", roaming");
        }
        s
    }

    pub fn policy_name(&self) -> &'static str {
        match self.network_policy {
            PolicyArg::WifiOnly => "wifi-only",
            PolicyArg::Any => "any",
            PolicyArg::UnmeteredOnly => "unmetered-only",
        }
    }
}

#[derive(Args)]
pub struct UploadArgs {
    /// Files to upload. Images (by extension) go to CreateUploadImage, everything else to
    /// CreateUploadVideo.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    #[command(flatten)]
    pub transfer: TransferArgs,
    #[command(flatten)]
    pub metadata: MetadataArgs,
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Upload again files the state database records as already uploaded.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    pub credentials: CredentialArgs,
    #[command(flatten)]
    pub transfer: TransferArgs,
    #[command(flatten)]
    pub network: NetworkArgs,
}

#[derive(Args)]
pub struct ListArgs {
    /// The state database (default: the user's data directory).
    #[arg(long, value_name = "PATH")]
    pub state_db: Option<PathBuf>,
    /// One JSON object per file on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ClearArgs {
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// The state database (default: the user's data directory).
    #[arg(long, value_name = "PATH")]
    pub state_db: Option<PathBuf>,
    /// One JSON object per file on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct DemoArgs {
    /// Machine-readable narration: one JSON object per step on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Credentials and service endpoints. The environment variables are read by the program (not
/// by clap) so that secrets never appear in `--help` and explicit flags always win.
#[derive(Args, Clone)]
pub struct CredentialArgs {
    /// Mode 1: the UploadAuth (base64) your server got from CreateUploadVideo /
    /// RefreshUploadVideo / CreateUploadImage. One file only.
    #[arg(long, value_name = "B64", requires = "upload_address")]
    pub upload_auth: Option<String>,
    /// Mode 1: the UploadAddress (base64) that came with the UploadAuth.
    #[arg(long, value_name = "B64", requires = "upload_auth")]
    pub upload_address: Option<String>,
    /// Mode 1: the VOD video id the UploadAuth belongs to.
    #[arg(long, value_name = "ID", requires = "upload_auth")]
    pub video_id: Option<String>,
    /// Mode 2: AccessKey id (or STS AccessKeyId) [env: ALIBABA_CLOUD_ACCESS_KEY_ID]
    #[arg(long, value_name = "ID", conflicts_with = "upload_auth")]
    pub access_key_id: Option<String>,
    /// Mode 2: AccessKey secret [env: ALIBABA_CLOUD_ACCESS_KEY_SECRET]
    #[arg(long, value_name = "SECRET", conflicts_with = "upload_auth")]
    pub access_key_secret: Option<String>,
    /// Mode 2: STS security token [env: ALIBABA_CLOUD_SECURITY_TOKEN]
    #[arg(long, value_name = "TOKEN", conflicts_with = "upload_auth")]
    pub security_token: Option<String>,
    /// VOD region.
    #[arg(long, value_name = "REGION", default_value = "cn-shanghai")]
    pub region: String,
    /// VOD OpenAPI endpoint (default: https://vod.REGION.aliyuncs.com).
    #[arg(long, value_name = "URL")]
    pub vod_endpoint: Option<String>,
    /// Permit plain-http endpoints (a simulator); HTTPS only otherwise.
    #[arg(long)]
    pub allow_http: bool,
    /// A PEM file of CA certificates to trust besides the system's (a private CA, a TLS proxy).
    /// Repeatable.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,
}

impl CredentialArgs {
    /// The contents of the `--ca-cert` files, each checked to hold CA certificates.
    pub fn extra_root_certificates(&self) -> Result<Vec<String>, crate::failure::Failure> {
        use vod_upload::transport::http::root_certificates_from_pem;
        self.ca_cert
            .iter()
            .map(|p| {
                let fail = |why: String| {
                    crate::failure::Failure::usage(format!("--ca-cert {}: {why}", p.display()))
                };
                let pem = std::fs::read_to_string(p).map_err(|e| fail(e.to_string()))?;
                match root_certificates_from_pem(&pem) {
                    Err(vod_upload::Error::InvalidArgument(why)) => Err(fail(why)),
                    Err(e) => Err(fail(e.to_string())),
                    Ok(_) => Ok(pem),
                }
            })
            .collect()
    }
}

#[derive(Args, Clone)]
pub struct TransferArgs {
    /// Part size in bytes (default 1 MiB, or the size an interrupted upload began with;
    /// suffixes K, M, G accepted; at least 100 KiB; raised automatically so no file needs more
    /// than 10,000 parts).
    #[arg(long, value_name = "BYTES", value_parser = crate::util::parse_size)]
    pub part_size: Option<u64>,
    /// Parts uploaded in parallel per file (default 5; up to twice as many in flight on a long
    /// round trip).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=32))]
    pub parallel: Option<u32>,
    /// OSS signature version.
    #[arg(long, value_name = "VERSION", value_enum, default_value_t = SignatureArg::V1)]
    pub signature_version: SignatureArg,
    /// The checkpoint database (default: the user's data directory; in memory when uploading
    /// to the built-in simulator).
    #[arg(long, value_name = "PATH")]
    pub state_db: Option<PathBuf>,
    /// One JSON object per line on stdout instead of progress bars and a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignatureArg {
    V1,
    V4,
}

#[derive(Args, Clone, Default)]
pub struct MetadataArgs {
    /// The VOD metadata as the JS and mini-program SDKs take it (`paramData`), e.g.
    /// '{"Vod":{"Title":"t","CateId":"234","UserData":{...}}}'. The flags below override its
    /// fields.
    #[arg(long, value_name = "JSON")]
    pub vod_json: Option<String>,
    /// Images: CreateUploadImage's ImageType (default: default).
    #[arg(long, value_name = "TYPE", value_enum)]
    pub image_type: Option<ImageTypeArg>,
    /// Title (default: the file name).
    #[arg(long)]
    pub title: Option<String>,
    /// Description.
    #[arg(long)]
    pub description: Option<String>,
    /// Category id.
    #[arg(long, value_name = "ID")]
    pub cate_id: Option<i64>,
    /// Comma-separated tags.
    #[arg(long, value_delimiter = ',', value_name = "TAG,...")]
    pub tags: Vec<String>,
    /// Cover image URL.
    #[arg(long, value_name = "URL")]
    pub cover_url: Option<String>,
    /// User data (a JSON string: callback settings, Extend, ...).
    #[arg(long, value_name = "JSON")]
    pub user_data: Option<String>,
    /// Transcoding template group id.
    #[arg(long, value_name = "ID")]
    pub template_group_id: Option<String>,
    /// Storage location (bucket address) to upload to instead of the default.
    #[arg(long, value_name = "LOCATION")]
    pub storage_location: Option<String>,
    /// Workflow id (takes precedence over the template group).
    #[arg(long, value_name = "ID")]
    pub workflow_id: Option<String>,
    /// VOD application id.
    #[arg(long, value_name = "ID")]
    pub app_id: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImageTypeArg {
    Default,
    Cover,
}

impl MetadataArgs {
    /// `--vod-json` (if any) with every flag given laid over it.
    pub fn vod_info(&self) -> vod_upload::Result<vod_upload::VodInfo> {
        let mut info = match &self.vod_json {
            Some(json) => vod_upload::VodInfo::from_json(json)?,
            None => vod_upload::VodInfo::default(),
        };
        let over = |field: &mut Option<String>, flag: &Option<String>| {
            if flag.is_some() {
                field.clone_from(flag);
            }
        };
        over(&mut info.title, &self.title);
        over(&mut info.description, &self.description);
        over(&mut info.cover_url, &self.cover_url);
        over(&mut info.user_data, &self.user_data);
        over(&mut info.template_group_id, &self.template_group_id);
        over(&mut info.storage_location, &self.storage_location);
        over(&mut info.workflow_id, &self.workflow_id);
        over(&mut info.app_id, &self.app_id);
        if self.cate_id.is_some() {
            info.cate_id = self.cate_id;
        }
        let tags: Vec<String> = self
            .tags
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if !tags.is_empty() {
            info.tags = tags;
        }
        if let Some(t) = self.image_type {
            info.image_type = Some(match t {
                ImageTypeArg::Default => vod_upload::ImageType::Default,
                ImageTypeArg::Cover => vod_upload::ImageType::Cover,
            });
        }
        Ok(info)
    }
}
