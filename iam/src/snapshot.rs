//! The identities half of the catalog snapshot as shards read it: access key
//! id to secret and principal (with its policies already parsed), and the
//! accounts that own buckets. Built by the control plane (`cluster`) from the
//! catalog at every change and installed on every shard (`s3`) before the
//! change is acknowledged, so a key disabled or deleted stops working at once.

use std::sync::Arc;

/// What one access key authenticates as.
pub struct KeyIdentity {
    /// The access key id this entry is found under.
    pub access_key_id: String,
    /// The secret in clear: the shard needs it to check signatures.
    pub secret: String,
    pub principal: Arc<crate::Principal>,
    /// Temporary credentials (from STS) carry a session token and expire.
    pub session: Option<SessionBinding>,
}

/// The token a temporary key must be presented with, and until when.
pub struct SessionBinding {
    pub token: String,
    pub expires_ms: u64,
    /// When the credentials were issued: `aws:TokenIssueTime`, which
    /// policies use to revoke every session issued before a moment.
    pub issued_ms: u64,
}

// Never print a secret or a session token by accident (Debug shows in logs).
impl std::fmt::Debug for KeyIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyIdentity")
            .field("principal", &self.principal.arn)
            .field(
                "expires_ms",
                &self.session.as_ref().map(|session| session.expires_ms),
            )
            .finish()
    }
}

/// An account: the owner of buckets, shown as `Owner` in S3 answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountInfo {
    /// Twelve digits, as in ARNs.
    pub id: String,
    pub name: String,
    /// The 64-hex-digit canonical user id S3 answers show as `Owner/ID`.
    pub canonical_id: String,
}
