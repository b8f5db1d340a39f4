//! The cargo-fuzz targets' library: the entry functions every target calls, in files the
//! workspace's stable replay tests include too (`s3/tests/fuzz_replay.rs`,
//! `http/tests/fuzz_replay.rs`), so both run exactly the same code.
//!
//! `harness_http` drives the `http` crate's head and chunked parsers through a live
//! server; `harness_s3` calls the `s3` crate's parsers directly; `replay` is the seeded
//! mutator the stable tests use (unused by libFuzzer, which mutates on its own).

pub mod harness_http;
pub mod harness_s3;
pub mod replay;

/// Ignores SIGPIPE, as a Rust `main` does before user code: libFuzzer's `main` does not,
/// and a write to a socket the peer has reset would otherwise kill the fuzzer.
pub fn ignore_sigpipe() {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGPIPE, flag).expect("SIGPIPE handler");
}
