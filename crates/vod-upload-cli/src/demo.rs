//! `vod-upload demo` (written next).
use crate::cli::DemoArgs;
use crate::failure::{Exit, Failure};
pub async fn run(_a: DemoArgs) -> Result<Exit, Failure> {
    Ok(Exit::Ok)
}
