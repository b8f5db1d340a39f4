//! Who is asking: the authenticated principal as the server resolved it, with the
//! identity policies that apply to it.

use crate::policy::Policy;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The server's administrator: every request is allowed.
    SystemRoot,
    /// An IAM user.
    User,
    /// A session of an assumed role.
    AssumedRole,
    /// A holder of an OpenID Connect token asking to assume a role
    /// (AssumeRoleWithWebIdentity): only a trust policy naming its provider
    /// as `Federated` can apply to it. `arn` is the provider's
    /// `arn:aws:iam::<account>:oidc-provider/<issuer without scheme>`,
    /// `name` the issuer URL.
    WebIdentity,
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// 12 digits.
    pub account_id: String,
    /// The account's canonical user id (64 hex characters).
    pub canonical_id: String,
    /// `arn:aws:iam::123456789012:root`, `arn:aws:iam::123456789012:user/path/alice` or
    /// `arn:aws:sts::123456789012:assumed-role/RoleName/session`.
    pub arn: String,
    /// `aws:userid`: `AIDA...` for users, `AROA...:session` for role sessions, the
    /// account id for root.
    pub user_id: String,
    /// `aws:username` for users; empty otherwise.
    pub name: String,
    /// For role sessions: `arn:aws:iam::123456789012:role/path/RoleName`.
    pub role_arn: Option<String>,
    /// Identity policies: a user's inline and attached ones and its groups'; a role's
    /// for role sessions.
    pub policies: Vec<NamedPolicy>,
    /// The session policies of a role session (the inline one and the managed ones
    /// AssumeRole named), which together limit what the identity policies grant: an
    /// identity Allow counts only if one of them allows too. Empty: no limit.
    pub session_policies: Vec<NamedPolicy>,
}

/// A policy with the name decisions report it by.
#[derive(Debug, Clone)]
pub struct NamedPolicy {
    pub name: String,
    pub policy: Arc<Policy>,
}
