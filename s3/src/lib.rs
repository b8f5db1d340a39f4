//! The S3 protocol: routing, authentication, XML, errors and the operations.
//!
//! Owns: turning an HTTP exchange (from `http`) into engine calls (on `engine`)
//! and back. Must not touch segment files directly or the SQLite catalog.
#![forbid(unsafe_code)]

pub mod access_log;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod body;
pub mod checksum;
pub mod error;
pub mod form;
pub mod kms;
pub mod lifecycle;
pub mod limits;
pub mod md5_batch;
pub mod metrics;
pub mod names;
pub mod notify;
pub mod ops;
pub mod post_policy;
pub mod query;
pub mod quota;
pub mod router;
pub mod service;
pub mod shard;
pub mod sse;
pub mod throttle;
pub mod traffic;
pub mod transport;
pub mod xml;
