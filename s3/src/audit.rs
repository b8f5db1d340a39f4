//! Security-relevant S3 events sent to the control plane's audit log:
//! denied requests with the reason, changes to bucket settings (policy,
//! versioning, encryption, lifecycle, object lock, ACLs), object-lock and
//! legal-hold changes, and governance bypasses.
//!
//! Owns: which requests are audited and the per-shard bound on them
//! ([`EVENTS_PER_SECOND_MAX`]): a flood of requests must not turn into a
//! flood of catalog writes. Sending never waits; a full control-plane
//! queue drops the event and says so in the log.

use std::cell::Cell;

use crate::shard::{ControlRequest, Shard};

/// S3 events one shard audits per second (denials, changes, bypasses); the
/// rest are counted in the log. Each becomes a synchronous catalog write on
/// the control plane, which also serves quota leases.
pub const EVENTS_PER_SECOND_MAX: u32 = 20;

/// One audit event, as the control plane stores it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditEvent {
    pub time_ms: u64,
    /// The account (tenant) the event concerns: the bucket's owner, the
    /// tenant acted on, or the actor's own; empty for system-only events.
    /// A tenant admin's audit view is the entries of its account.
    pub account: String,
    pub actor: String,
    pub source: String,
    pub request_id: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub detail: String,
}

/// The changes audited when they succeed.
const AUDITED_ACTIONS: &[&str] = &[
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:PutBucketVersioning",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketCORS",
    "s3:PutBucketTagging",
    "s3:PutBucketRequestPayment",
    "s3:PutAccelerateConfiguration",
    "s3:PutBucketNotification",
    "s3:PutBucketAcl",
    "s3:PutObjectAcl",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
];

/// Actions where `x-amz-bypass-governance-retention: true` can matter.
const BYPASS_ACTIONS: &[&str] = &[
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutObjectRetention",
];

/// Whether a successful, authenticated request with this action that asked
/// to bypass governance retention is audited as such.
pub fn audited_bypass(action: &str) -> bool {
    BYPASS_ACTIONS.contains(&action)
}

/// Whether a successful request with this action is audited.
pub fn audited_change(action: &str) -> bool {
    AUDITED_ACTIONS.contains(&action)
}

/// Per-shard rate bound on audited events.
#[derive(Debug, Default)]
pub struct AuditBudget {
    second: Cell<u64>,
    used: Cell<u32>,
    dropped: Cell<u64>,
}

impl AuditBudget {
    /// Whether an event at `now_ms` may be audited.
    pub fn admit(&self, now_ms: u64) -> bool {
        let second = now_ms / 1000;
        if self.second.get() != second {
            let dropped = self.dropped.replace(0);
            if dropped > 0 {
                tracing::warn!(dropped, "S3 events not audited (over the per-second bound)");
            }
            self.second.set(second);
            self.used.set(0);
        }
        if self.used.get() >= EVENTS_PER_SECOND_MAX {
            self.dropped.set(self.dropped.get() + 1);
            return false;
        }
        self.used.set(self.used.get() + 1);
        true
    }
}

impl Shard {
    /// Hands an event to the control plane without waiting.
    pub fn audit(&self, event: AuditEvent) {
        if self.control.try_send(ControlRequest::Audit(event)).is_err() {
            tracing::warn!("audit event dropped: the control plane's queue is full");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_are_bounded_per_second() {
        let budget = AuditBudget::default();
        let admitted = (0..EVENTS_PER_SECOND_MAX + 10)
            .filter(|_| budget.admit(5_000))
            .count();
        assert_eq!(admitted, EVENTS_PER_SECOND_MAX as usize);
        assert!(budget.admit(6_000));
    }
}
