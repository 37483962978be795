//! The OSS / VOD wire protocol, as pure functions and types (no I/O).
//!
//! Reference: `shared/reference/protocol.md`. Every published test vector is reproduced by a
//! unit test next to the code that computes it.

use serde::{Deserialize, Serialize};

/// OSS request signature version. V1 (HMAC-SHA1) is what every VOD client SDK sends today;
/// V4 (OSS4-HMAC-SHA256) is required for new OSS accounts and buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureVersion {
    #[default]
    V1,
    V4,
}
