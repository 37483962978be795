//! The OSS / VOD wire protocol, as pure functions and types (no I/O).
//!
//! Reference: `shared/reference/protocol.md`. Every published test vector is reproduced by a
//! unit test next to the code that computes it.
//!
//! * [`credentials`]: [`Secret`], [`Credentials`], `UploadAuth` / `UploadAddress` decoding;
//! * [`sign`]: OSS V1 / V4 signing (and the pieces the simulator verifies with);
//! * [`rpc`]: VOD / STS RPC signing;
//! * [`crc64`]: CRC-64/XZ and combination;
//! * [`xml`]: OSS XML documents;
//! * [`error`]: OSS / VOD error responses to [`ServiceError`](crate::ServiceError);
//! * [`vod`]: VOD action parameters, response models, `x-oss-notification`, content types.

use serde::{Deserialize, Serialize};

pub mod crc64;
pub mod credentials;
pub mod error;
pub mod rpc;
pub mod sign;
pub mod vod;
pub mod xml;

pub use crc64::Crc64;
pub use credentials::{Credentials, Secret, UploadAddress, UploadAuth};
pub use error::{parse_oss_error, parse_vod_error};
pub use sign::{
    OssRequest, ParsedAuthorization, parse_authorization, region_from_endpoint, sign_request,
};
pub use vod::{content_type_for, notification_header};

/// OSS request signature version. V1 (HMAC-SHA1) is what every VOD client SDK sends today;
/// V4 (OSS4-HMAC-SHA256) is required for new OSS accounts and buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureVersion {
    #[default]
    V1,
    V4,
}
