//! `maxiofs-bench`: a small S3 load generator on monoio (io_uring) and a machine-ceiling
//! probe.
//!
//! Owns: the `bench/` crate only. It talks to a server over HTTP/1.1 (plain or TLS) like
//! any client would, so it may depend on `s3` for SigV4 signing but must never reach into
//! the server's engine or shards.
//!
//! Modules, in the order a run flows through them:
//! - `units`: `4KiB` / `500ms` argument parsing.
//! - `sign`: SigV4 `Authorization` headers built with `s3::auth::sigv4`.
//! - `tls`: certificate trust (`--insecure`, `--ca-file`) and the plain-or-TLS monoio
//!   stream.
//! - `client`: one keep-alive connection, hand-written requests, response parsing, socket
//!   timeouts, and `block_on`, the monoio runtime everything network runs in.
//! - `workload`: bucket setup, the prepared object set, the timed workers: futures on
//!   `--threads` runtime threads.
//! - `cpu`: the server's CPU time from `/proc/PID/stat`.
//! - `report`: merged statistics, the human table and the `--json` line.
//! - `ceiling`: this machine's limits: single-core MD5, CRC32C, SHA-256 and
//!   AES-256-CTR + HMAC-SHA256 rates, O_DIRECT disk and loopback TCP bandwidth.
//! - `commit_floor`: `ceiling`'s probe of one durable index commit's write pattern.
//! - `scratch`: the probes' temporary files (removed however they end) and O_DIRECT buffers.
//! - `limits`: every bound and buffer size, with the reason for its value.
#![forbid(unsafe_code)]

pub mod ceiling;
pub mod client;
pub mod commit_floor;
pub mod cpu;
pub mod limits;
pub mod report;
pub mod scratch;
pub mod sign;
pub mod tls;
pub mod units;
pub mod workload;
