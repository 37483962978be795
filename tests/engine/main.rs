//! Engine integration tests: real HTTP against an in-process vod-sim (one test binary, as
//! matrix-rust-sdk does, to save link time).

mod common;

mod cleanup;
mod control;
mod credentials;
mod faults;
mod files;
mod network;
mod parity;
mod persistence;
mod queue;
mod random;
mod semantics;
mod sources;
mod tls;
