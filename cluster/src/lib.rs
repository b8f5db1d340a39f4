//! The control plane: the SQLite catalog (buckets and their settings,
//! accounts, IAM users, groups, roles, policies, access keys and role
//! sessions), the root credentials, and the control-plane runtime that
//! executes bucket and identity changes and publishes immutable snapshots to
//! the shards.
//!
//! Owns: `catalog.db` in the data directory. Runs only on the control-plane
//! thread; shards never touch SQLite. Shards see it only through the request
//! enums and snapshots defined in `s3` and `iam`.
#![forbid(unsafe_code)]

pub mod access_log;
pub mod admin;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod control;
pub mod credentials;
pub mod directory;
pub mod federation;
pub mod notify;
pub mod outbound;
pub mod ship;

pub use catalog::{BucketEncryptionRow, BucketRow, Catalog, CatalogError};
pub use credentials::{generate_root_credentials, RootCredentials};
