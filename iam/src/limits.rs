//! The size limits AWS puts on policy documents, for the callers that store them.
//!
//! S3 counts a bucket policy in bytes; IAM counts its documents in characters
//! not counting whitespace, which [`policy_size_chars`] measures.

/// PutBucketPolicy refuses larger documents (bytes, whitespace included).
pub const BUCKET_POLICY_MAX_BYTES: usize = 20 * 1024;
/// An inline policy of a user (characters, whitespace not counted).
pub const USER_INLINE_POLICY_MAX_CHARS: usize = 2048;
/// An inline policy of a group.
pub const GROUP_INLINE_POLICY_MAX_CHARS: usize = 5120;
/// An inline policy of a role.
pub const ROLE_INLINE_POLICY_MAX_CHARS: usize = 10240;
/// A managed policy version.
pub const MANAGED_POLICY_MAX_CHARS: usize = 6144;
/// A role's trust (assume-role) policy.
pub const TRUST_POLICY_MAX_CHARS: usize = 2048;
/// A session policy passed to AssumeRole or GetFederationToken.
pub const SESSION_POLICY_MAX_CHARS: usize = 2048;

/// The size IAM compares with its limits: characters other than whitespace.
pub fn policy_size_chars(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_not_counted() {
        assert_eq!(policy_size_chars("{ \"a\" :\n\t1 }"), 7);
        assert_eq!(policy_size_chars(""), 0);
        assert_eq!(policy_size_chars("é é"), 2);
    }
}
