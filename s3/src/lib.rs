//! The S3 protocol: routing, authentication, XML, errors and the operations.
//!
//! Owns: turning an HTTP exchange (from `http`) into engine calls (on `engine`)
//! and back. Must not touch segment files directly or the SQLite catalog.
#![forbid(unsafe_code)]

pub mod auth;
pub mod error;
pub mod names;
pub mod router;
pub mod xml;
