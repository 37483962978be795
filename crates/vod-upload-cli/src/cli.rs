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
stderr); 2 invalid arguments; 3 the credentials expired (the upload is checkpointed: run again with fresh \
ones); 4 the state database or the simulator could not be set up; 130 interrupted (checkpointed).";

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
    /// A guided tour of the engine on the built-in simulator (about 10 seconds).
    Demo(DemoArgs),
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
    /// Parts uploaded in parallel per file (default 5).
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

impl MetadataArgs {
    pub fn vod_info(&self) -> vod_upload::VodInfo {
        vod_upload::VodInfo {
            title: self.title.clone(),
            description: self.description.clone(),
            cate_id: self.cate_id,
            tags: self
                .tags
                .iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect(),
            cover_url: self.cover_url.clone(),
            user_data: self.user_data.clone(),
            template_group_id: self.template_group_id.clone(),
            storage_location: self.storage_location.clone(),
            workflow_id: self.workflow_id.clone(),
            app_id: self.app_id.clone(),
            ..Default::default()
        }
    }
}
