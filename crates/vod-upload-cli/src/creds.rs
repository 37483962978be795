//! Which credential mode a command runs in, from flags and the environment.

use std::time::SystemTime;

use vod_upload::protocol::credentials::{Secret, UploadAddress, UploadAuth};

use crate::cli::CredentialArgs;
use crate::failure::Failure;
use crate::util::mask;

pub const ENV_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
pub const ENV_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
pub const ENV_TOKEN: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";

/// The credential mode. Secrets live in [`Secret`], whose `Debug` never shows them.
pub enum Mode {
    /// No credentials: the built-in simulator.
    Simulator,
    /// Mode 1: an UploadAuth + UploadAddress pair from the app's server.
    UploadAuth {
        auth: Secret,
        address: String,
        video_id: Option<String>,
    },
    /// Mode 2: an AccessKey or STS token; the engine calls the VOD API itself.
    Key {
        access_key_id: String,
        access_key_secret: Secret,
        security_token: Option<Secret>,
    },
}

impl Mode {
    /// Flags first, then the environment (`ALIBABA_CLOUD_*`); mode 1 flags ignore the
    /// environment.
    pub fn resolve(args: &CredentialArgs) -> Result<Mode, Failure> {
        Self::resolve_with(args, |name| std::env::var(name).ok())
    }

    fn resolve_with(
        args: &CredentialArgs,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Mode, Failure> {
        if let (Some(auth), Some(address)) = (&args.upload_auth, &args.upload_address) {
            // Checked here so that a bad pair is refused before anything is queued.
            let bad = |e: vod_upload::Error| Failure::usage(format!("{}: {e}", e.code()));
            UploadAuth::decode(auth, SystemTime::now()).map_err(bad)?;
            UploadAddress::decode(address).map_err(bad)?;
            return Ok(Mode::UploadAuth {
                auth: Secret::new(auth.clone()),
                address: address.clone(),
                video_id: args.video_id.clone().filter(|v| !v.is_empty()),
            });
        }
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        let id = args.access_key_id.clone().or_else(|| env(ENV_KEY_ID));
        let secret = args
            .access_key_secret
            .clone()
            .or_else(|| env(ENV_KEY_SECRET));
        let token = args.security_token.clone().or_else(|| env(ENV_TOKEN));
        match (id, secret) {
            (Some(access_key_id), Some(secret)) => Ok(Mode::Key {
                access_key_id,
                access_key_secret: Secret::new(secret),
                security_token: token.map(Secret::new),
            }),
            (Some(_), None) => Err(Failure::usage(format!(
                "an access key id was given without its secret: pass --access-key-secret or set {ENV_KEY_SECRET}"
            ))),
            (None, Some(_)) => Err(Failure::usage(format!(
                "an access key secret was given without its id: pass --access-key-id or set {ENV_KEY_ID}"
            ))),
            (None, None) if token.is_some() => Err(Failure::usage(
                "a security token needs its STS AccessKeyId and AccessKeySecret (--access-key-id, --access-key-secret)",
            )),
            (None, None) => Ok(Mode::Simulator),
        }
    }

    /// For messages: which mode, never a secret.
    pub fn describe(&self) -> String {
        match self {
            Mode::Simulator => "the built-in simulator".into(),
            Mode::UploadAuth { video_id, .. } => match video_id {
                Some(v) => format!("an UploadAuth for video {v}"),
                None => "an UploadAuth".into(),
            },
            Mode::Key {
                access_key_id,
                security_token,
                ..
            } => format!(
                "{} {} (secret hidden)",
                if security_token.is_some() {
                    "STS token"
                } else {
                    "AccessKey"
                },
                mask(access_key_id)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> CredentialArgs {
        CredentialArgs {
            upload_auth: None,
            upload_address: None,
            video_id: None,
            access_key_id: None,
            access_key_secret: None,
            security_token: None,
            region: "cn-shanghai".into(),
            vod_endpoint: None,
            allow_http: false,
            ca_cert: Vec::new(),
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn nothing_means_simulator() {
        assert!(matches!(
            Mode::resolve_with(&args(), no_env),
            Ok(Mode::Simulator)
        ));
    }

    #[test]
    fn environment_supplies_mode_two_and_flags_win() {
        let env = |n: &str| match n {
            ENV_KEY_ID => Some("LTAIenv".to_owned()),
            ENV_KEY_SECRET => Some("envsecret".to_owned()),
            ENV_TOKEN => Some("".to_owned()),
            _ => None,
        };
        let mut a = args();
        a.access_key_id = Some("LTAIflag".into());
        a.access_key_secret = Some("flagsecret".into());
        match Mode::resolve_with(&a, env) {
            Ok(Mode::Key {
                access_key_id,
                access_key_secret,
                security_token,
            }) => {
                assert_eq!(access_key_id, "LTAIflag");
                assert_eq!(access_key_secret.expose(), "flagsecret");
                assert!(security_token.is_none(), "an empty variable is no token");
            }
            _ => panic!("mode 2 expected"),
        }
        match Mode::resolve_with(&args(), env) {
            Ok(Mode::Key { access_key_id, .. }) => assert_eq!(access_key_id, "LTAIenv"),
            _ => panic!("mode 2 from the environment expected"),
        }
    }

    #[test]
    fn half_a_key_is_a_usage_error() {
        let mut a = args();
        a.access_key_id = Some("LTAI".into());
        let e = Mode::resolve_with(&a, no_env).err().unwrap();
        assert!(e.message.contains("--access-key-secret"));
        let mut a = args();
        a.security_token = Some("tok".into());
        assert!(Mode::resolve_with(&a, no_env).is_err());
    }

    #[test]
    fn description_never_shows_the_secret() {
        let m = Mode::Key {
            access_key_id: "LTAI5tVERYSECRETID".into(),
            access_key_secret: Secret::new("s3cr3t"),
            security_token: Some(Secret::new("tok3n")),
        };
        let d = m.describe();
        assert!(
            !d.contains("s3cr3t") && !d.contains("tok3n") && !d.contains("VERYSECRETID"),
            "{d}"
        );
    }
}
