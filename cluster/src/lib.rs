//! The control plane's state: the SQLite catalog (buckets and their default
//! encryption, access keys, settings) and the root credentials.
//!
//! Owns: `catalog.db` in the data directory. Runs only on the control-plane
//! thread; shards never touch SQLite. Knows nothing of S3 or the engine: the
//! binary wires its answers to the shards.
#![forbid(unsafe_code)]

pub mod catalog;
pub mod credentials;

pub use catalog::{BucketEncryptionRow, BucketRow, Catalog, CatalogError};
pub use credentials::{generate_root_credentials, RootCredentials};
