//! Amazon Resource Names: the parser and the builders for the ARNs this server hands out.
//!
//! An ARN is `arn:partition:service:region:account:resource`; the resource part may
//! itself contain `:` and `/`. This server uses the `aws` partition throughout.

/// The partition of every ARN this server builds.
pub const PARTITION: &str = "aws";

/// A parsed ARN borrowing from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits `arn:partition:service:region:account:resource`; None when the text does
    /// not start with `arn:`, has fewer than six parts, or has an empty partition or service.
    pub fn parse(text: &'a str) -> Option<Arn<'a>> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?;
        let service = parts.next()?;
        let region = parts.next()?;
        let account = parts.next()?;
        let resource = parts.next()?;
        if partition.is_empty() || service.is_empty() {
            return None;
        }
        Some(Arn {
            partition,
            service,
            region,
            account,
            resource,
        })
    }
}

/// Whether `text` is an AWS account id: exactly twelve decimal digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// `arn:aws:s3:::bucket`
pub fn s3_bucket_arn(bucket: &str) -> String {
    format!("arn:{PARTITION}:s3:::{bucket}")
}

/// `arn:aws:s3:::bucket/key`
pub fn s3_object_arn(bucket: &str, key: &str) -> String {
    format!("arn:{PARTITION}:s3:::{bucket}/{key}")
}

/// IAM paths start and end with `/`; "" is taken as `/`.
fn iam_path(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

fn iam_arn(account: &str, kind: &str, path: &str, name: &str) -> String {
    format!(
        "arn:{PARTITION}:iam::{account}:{kind}{}{name}",
        iam_path(path)
    )
}

/// `arn:aws:iam::123456789012:user/path/name` (path "/" or "/division/").
pub fn user_arn(account: &str, path: &str, name: &str) -> String {
    iam_arn(account, "user", path, name)
}

/// `arn:aws:iam::123456789012:group/path/name`
pub fn group_arn(account: &str, path: &str, name: &str) -> String {
    iam_arn(account, "group", path, name)
}

/// `arn:aws:iam::123456789012:role/path/name`
pub fn role_arn(account: &str, path: &str, name: &str) -> String {
    iam_arn(account, "role", path, name)
}

/// `arn:aws:iam::123456789012:policy/path/name`
pub fn policy_arn(account: &str, path: &str, name: &str) -> String {
    iam_arn(account, "policy", path, name)
}

/// `arn:aws:sts::123456789012:assumed-role/RoleName/session`: AWS leaves the role's
/// path out of session ARNs.
pub fn assumed_role_arn(account: &str, role_name: &str, session: &str) -> String {
    format!("arn:{PARTITION}:sts::{account}:assumed-role/{role_name}/{session}")
}

/// `arn:aws:iam::123456789012:root`
pub fn account_root_arn(account: &str) -> String {
    format!("arn:{PARTITION}:iam::{account}:root")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_six_parts() {
        let arn = Arn::parse("arn:aws:s3:::bucket/a:b/c").unwrap();
        assert_eq!(arn.partition, "aws");
        assert_eq!(arn.service, "s3");
        assert_eq!(arn.region, "");
        assert_eq!(arn.account, "");
        assert_eq!(arn.resource, "bucket/a:b/c");
        let arn = Arn::parse("arn:aws:iam::123456789012:user/division/alice").unwrap();
        assert_eq!(arn.account, "123456789012");
        assert_eq!(arn.resource, "user/division/alice");
    }

    #[test]
    fn refuses_what_is_not_an_arn() {
        for text in [
            "",
            "*",
            "arn:aws:s3",
            "arn:aws:s3::",
            "urn:aws:s3:::b",
            "arn::s3:::b",
            "arn:aws::::b",
        ] {
            assert!(Arn::parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn builds_the_server_arns() {
        assert_eq!(s3_bucket_arn("b"), "arn:aws:s3:::b");
        assert_eq!(s3_object_arn("b", "x/y.txt"), "arn:aws:s3:::b/x/y.txt");
        assert_eq!(
            user_arn("123456789012", "/", "alice"),
            "arn:aws:iam::123456789012:user/alice"
        );
        assert_eq!(
            user_arn("123456789012", "/eng/", "bob"),
            "arn:aws:iam::123456789012:user/eng/bob"
        );
        assert_eq!(
            group_arn("123456789012", "", "admins"),
            "arn:aws:iam::123456789012:group/admins"
        );
        assert_eq!(
            role_arn("123456789012", "/svc/", "r"),
            "arn:aws:iam::123456789012:role/svc/r"
        );
        assert_eq!(
            policy_arn("123456789012", "/", "p"),
            "arn:aws:iam::123456789012:policy/p"
        );
        assert_eq!(
            assumed_role_arn("123456789012", "r", "s1"),
            "arn:aws:sts::123456789012:assumed-role/r/s1"
        );
        assert_eq!(
            account_root_arn("123456789012"),
            "arn:aws:iam::123456789012:root"
        );
        assert!(is_account_id("123456789012"));
        assert!(!is_account_id("12345678901a"));
        assert!(!is_account_id("1234567890123"));
    }
}
