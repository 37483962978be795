//! OSS and VOD/STS clients over HTTP (reqwest + rustls/ring).
//!
//! * [`http`]: client construction (TLS roots per platform), endpoint validation, the
//!   server-corrected [`Clock`], reqwest error mapping;
//! * [`oss`]: [`OssClient`] (multipart upload, PutObject, HeadObject) with streamed bodies;
//! * [`vod`]: [`VodClient`] (CreateUploadVideo, RefreshUploadVideo, CreateUploadImage) and
//!   [`StsClient`] (AssumeRole).

pub mod http;
pub mod oss;
pub mod vod;

#[cfg(test)]
mod tests;

pub use http::{Clock, HttpConfig, build_client, validate_endpoint};
pub use oss::{
    CompletedObject, ListedPart, ObjectMeta, OssAuth, OssClient, OssLocation, PutObjectResult,
    UploadedPart,
};
pub use vod::{
    ImageTicket, StsClient, VideoTicket, VodClient, default_sts_endpoint, default_vod_endpoint,
};
