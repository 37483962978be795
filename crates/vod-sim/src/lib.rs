//! vod-sim
