//! Identities and authorisation as pure data and functions, no I/O: principals, ARNs,
//! the policy grammar (identity, bucket, trust and session policies) and its evaluation.
//!
//! Nothing here reads a clock, a file or the network: the time and every request fact
//! are passed in, so the server's shards can call [`authorize`] on every request.
#![forbid(unsafe_code)]

pub mod acl;
pub mod actions;
pub mod arn;
mod condition;
pub mod eval;
pub mod limits;
mod pattern;
pub mod policy;
pub mod principal;
pub mod snapshot;
mod values;

pub use eval::{
    authorize, resource_policy_allows, ConditionValues, Decision, NoConditionValues, Request,
    ResourceAcl, StatementRef, RESOURCE_POLICY_NAME,
};
pub use policy::{parse_policy, Policy, PolicyError, PolicyKind, PolicyVersion, PrincipalName};
pub use principal::{NamedPolicy, Principal, PrincipalKind};
