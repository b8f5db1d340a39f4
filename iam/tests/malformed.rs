//! Refused documents, each with the message AWS gives.

use iam::{parse_policy, PolicyKind};

mod common;

fn error(kind: PolicyKind, document: &str) -> String {
    match parse_policy(document, kind) {
        Ok(_) => panic!("accepted: {document}"),
        Err(e) => e.message,
    }
}

fn stmt(body: &str) -> String {
    stmts(&[body])
}

fn stmts(bodies: &[&str]) -> String {
    let list: Vec<String> = bodies.iter().map(|b| format!("{{{b}}}")).collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        list.join(",")
    )
}

const PUBLIC_READ: &str =
    r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#;

#[test]
fn bucket_policy_errors() {
    use PolicyKind::Bucket;
    let cases: Vec<(String, &str)> = vec![
        (
            "".into(),
            "Policies must be valid JSON and the first byte must be '{'",
        ),
        (
            "[]".into(),
            "Policies must be valid JSON and the first byte must be '{'",
        ),
        (
            "x{}".into(),
            "Policies must be valid JSON and the first byte must be '{'",
        ),
        ("{".into(), "This policy contains invalid Json"),
        (
            r#"{"Statement":[}"#.into(),
            "This policy contains invalid Json",
        ),
        (
            r#"{"Version":"2012-10-17"}"#.into(),
            "Missing required field Statement",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
            "Missing required field Statement",
        ),
        (
            r#"{"Version":"2012-10-18","Statement":[]}"#.into(),
            "The policy must contain a valid version string",
        ),
        (
            r#"{"Version":"2012-10-17","Statements":[]}"#.into(),
            "Unknown field Statements",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principals":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#,
            ),
            "Unknown field Principals",
        ),
        (
            stmt(r#""Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#),
            "Missing required field Effect",
        ),
        (
            stmt(
                r#""Effect":"Alow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#,
            ),
            "Invalid effect: Alow",
        ),
        (
            stmt(r#""Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#),
            "Missing required field Principal",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principal":"someone","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#,
            ),
            "Invalid principal in policy",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principal":{"AWS":"arn:aws:iam::12345:user/x"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#,
            ),
            "Invalid principal in policy",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#,
            ),
            "Invalid principal in policy",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principal":{"AWS":[]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#,
            ),
            "Invalid principal in policy",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principal":{"Users":"x"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#,
            ),
            "Invalid principal in policy",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principal":{"CanonicalUser":"abc"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#,
            ),
            "Invalid principal in policy",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principal":"*","Action":"s3:GetObjekt","Resource":"arn:aws:s3:::b/*""#,
            ),
            "Policy has invalid action",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principal":"*","Action":"iam:CreateUser","Resource":"arn:aws:s3:::b/*""#,
            ),
            "Policy has invalid action",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principal":"*","Action":"GetObject","Resource":"arn:aws:s3:::b/*""#,
            ),
            "Policy has invalid action",
        ),
        (
            stmt(r#""Effect":"Allow","Principal":"*","Action":[],"Resource":"arn:aws:s3:::b/*""#),
            "Policy has invalid action",
        ),
        (
            stmt(r#""Effect":"Allow","Principal":"*","Resource":"arn:aws:s3:::b/*""#),
            "Missing required field Action",
        ),
        (
            stmt(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject""#),
            "Missing required field Resource",
        ),
        (
            stmt(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*""#),
            "Policy has invalid resource",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:iam::123456789012:user/x""#,
            ),
            "Policy has invalid resource",
        ),
        (
            stmt(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"b/*""#),
            "Policy has invalid resource",
        ),
        (
            stmt(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":[]"#),
            "Policy has invalid resource",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b""#,
            ),
            "Action does not apply to any resource(s) in statement",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b/*""#,
            ),
            "Action does not apply to any resource(s) in statement",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principal":"*","Action":"s3:ListAllMyBuckets","Resource":"arn:aws:s3:::b""#,
            ),
            "Action does not apply to any resource(s) in statement",
        ),
        (
            stmt(&format!(
                r#"{PUBLIC_READ},"Condition":{{"StringFoo":{{"aws:Referer":"x"}}}}"#
            )),
            "Invalid Condition type : StringFoo",
        ),
        (
            stmt(&format!(
                r#"{PUBLIC_READ},"Condition":{{"NullIfExists":{{"aws:Referer":"true"}}}}"#
            )),
            "Invalid Condition type : NullIfExists",
        ),
        (
            stmt(&format!(
                r#"{PUBLIC_READ},"Condition":{{"ForSomeValues:StringLike":{{"aws:Referer":"x"}}}}"#
            )),
            "Invalid Condition type : ForSomeValues:StringLike",
        ),
        (
            stmt(&format!(
                r#"{PUBLIC_READ},"Condition":{{"StringLike":{{"Referer":"x"}}}}"#
            )),
            "Policy has an invalid condition key",
        ),
        (
            stmt(&format!(
                r#"{PUBLIC_READ},"Condition":{{"NumericLessThan":{{"s3:max-keys":"ten"}}}}"#
            )),
            "Invalid Condition value for NumericLessThan: ten",
        ),
        (
            stmt(&format!(
                r#"{PUBLIC_READ},"Condition":{{"DateGreaterThan":{{"aws:CurrentTime":"yesterday"}}}}"#
            )),
            "Invalid Condition value for DateGreaterThan: yesterday",
        ),
        (
            stmt(&format!(
                r#"{PUBLIC_READ},"Condition":{{"IpAddress":{{"aws:SourceIp":"10.0.0.0/33"}}}}"#
            )),
            "Invalid Condition value for IpAddress: 10.0.0.0/33",
        ),
        (
            stmt(&format!(
                r#"{PUBLIC_READ},"Condition":{{"Bool":{{"aws:SecureTransport":"yes"}}}}"#
            )),
            "Invalid Condition value for Bool: yes",
        ),
        (
            stmt(&format!(
                r#"{PUBLIC_READ},"Condition":{{"BinaryEquals":{{"s3:x":"not base64!"}}}}"#
            )),
            "Invalid Condition value for BinaryEquals: not base64!",
        ),
        (
            stmt(&format!(
                r#"{PUBLIC_READ},"Condition":{{"StringLike":{{"aws:Referer":[]}}}}"#
            )),
            "Policy has an invalid condition",
        ),
        (
            stmt(&format!(
                r#"{PUBLIC_READ},"Condition":{{"StringLike":"x"}}"#
            )),
            "Policy has an invalid condition",
        ),
        (
            stmts(&[
                &format!(r#""Sid":"a",{PUBLIC_READ}"#),
                &format!(r#""Sid":"a",{PUBLIC_READ}"#),
            ]),
            "Statement IDs (SID) in a single policy must be unique.",
        ),
    ];
    for (document, expected) in cases {
        assert_eq!(error(Bucket, &document), expected, "{document}");
    }
}

#[test]
fn identity_policy_errors() {
    use PolicyKind::Identity;
    let allow = r#""Effect":"Allow","Action":"s3:GetObject","Resource":"*""#;
    let cases: Vec<(String, &str)> = vec![
        ("nope".into(), "Syntax errors in policy."),
        ("{".into(), "Syntax errors in policy."),
        (r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Actions":"s3:*","Resource":"*"}]}"#.into(), "Syntax errors in policy. Unknown field Actions"),
        (r#"{"Version":"2012-10-17"}"#.into(), "Syntax errors in policy."),
        (r#"{"Version":"2013-01-01","Statement":[]}"#.into(), "The policy must contain a valid version string"),
        (stmt(&format!(r#"{allow},"Principal":"*""#)), "Policy document should not specify a principal."),
        (stmt(&format!(r#"{allow},"NotPrincipal":{{"AWS":"123456789012"}}"#)), "Policy document should not specify a principal."),
        (stmt(r#""Effect":"Allow","Action":"GetObject","Resource":"*""#), "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
        (stmt(r#""Effect":"Allow","Action":"s3:GetObjekt","Resource":"*""#), "Invalid Action: s3:GetObjekt"),
        (stmt(r#""Effect":"Allow","Action":"iam:Create*Thing","Resource":"*""#), "Invalid Action: iam:Create*Thing"),
        (stmt(r#""Effect":"Allow","Action":"s3:GetObject""#), "Policy statement must contain resources."),
        (stmt(r#""Effect":"Allow","Resource":"*""#), "Policy statement must contain actions."),
        (stmt(r#""Effect":"Allow","Action":"s3:GetObject","NotAction":"s3:PutObject","Resource":"*""#), "Syntax errors in policy."),
        (stmt(r#""Effect":"Allow","Action":"s3:GetObject","Resource":"*","NotResource":"*""#), "Syntax errors in policy."),
        (stmt(r#""Effect":"Allow","Action":"s3:GetObject","Resource":"my-bucket""#), "Resource my-bucket must be in ARN format or \"*\"."),
        (stmt(r#""Effect":"Permit","Action":"s3:GetObject","Resource":"*""#), "Syntax errors in policy."),
        (stmt(r#""Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam:123456789012:role/r""#), "The policy failed legacy parsing"),
        (stmt(&format!(r#"{allow},"Sid":"has space""#)), "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"),
        (stmts(&[&format!(r#"{allow},"Sid":"One""#), &format!(r#"{allow},"Sid":"One""#)]), "Statement IDs (SID) in a single policy must be unique."),
        (stmt(&format!(r#"{allow},"Condition":{{"StringEquals":{{"username":"x"}}}}"#)), "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
        (stmt(&format!(r#"{allow},"Condition":{{"StringEqualz":{{"aws:username":"x"}}}}"#)), "Invalid Condition type : StringEqualz"),
    ];
    for (document, expected) in cases {
        assert_eq!(error(Identity, &document), expected, "{document}");
    }
}

#[test]
fn trust_policy_errors() {
    use PolicyKind::Trust;
    let cases: Vec<(String, &str)> = vec![
        (
            stmt(r#""Effect":"Allow","Action":"sts:AssumeRole""#),
            "Missing required field Principal",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole","Resource":"*""#,
            ),
            "Has prohibited field Resource",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject""#,
            ),
            "AssumeRole policy may only specify STS AssumeRole actions.",
        ),
        (
            stmt(
                r#""Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:group/g"},"Action":"sts:AssumeRole""#,
            ),
            "Invalid principal in policy: \"AWS\":\"arn:aws:iam::123456789012:group/g\"",
        ),
    ];
    for (document, expected) in cases {
        assert_eq!(error(Trust, &document), expected, "{document}");
    }
}

#[test]
fn accepted_documents() {
    let ok = [
        (PolicyKind::Bucket, format!("\n  {}", stmt(PUBLIC_READ))),
        (PolicyKind::Bucket, stmt(r#""Sid":"Any text here","Effect":"Deny","Principal":{"AWS":["123456789012","arn:aws:iam::123456789012:user/a/b","arn:aws:iam::123456789012:role/r","arn:aws:sts::123456789012:assumed-role/r/s"]},"Action":["s3:*"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]"#)),
        (PolicyKind::Bucket, stmt(r#""Effect":"Allow","Principal":{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},"Action":"s3:Get*","Resource":"arn:aws:s3:::b*""#)),
        (PolicyKind::Bucket, stmt(r#""Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"NotAction":"s3:Delete*","Resource":"arn:aws:s3:::b""#)),
        (PolicyKind::Bucket, stmt(r#""Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/admin"},"Action":"*","Resource":"arn:aws:s3:::b""#)),
        (PolicyKind::Bucket, r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}}"#.to_owned()),
        (PolicyKind::Identity, stmt(r#""Sid":"Stmt1","Effect":"Allow","Action":["s3:*","iam:Get*","sts:GetCallerIdentity","ec2:AnythingGoes"],"Resource":"*""#)),
        (PolicyKind::Identity, stmt(r#""Effect":"Allow","NotAction":"iam:*","NotResource":"arn:aws:iam::*:*""#)),
        (PolicyKind::Identity, stmt(r#""Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:StringLikeIfExists":{"aws:TagKeys":["a*"]},"Null":{"s3:x-amz-server-side-encryption":true},"NumericLessThanEquals":{"s3:max-keys":10}}"#)),
        (PolicyKind::Session, stmt(r#""Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#)),
        (PolicyKind::Trust, stmt(r#""Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root","Federated":"cognito-identity.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]"#)),
        (PolicyKind::Trust, stmt(r#""Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:*""#)),
    ];
    for (kind, document) in ok {
        let policy =
            parse_policy(&document, kind).unwrap_or_else(|e| panic!("{}: {document}", e.message));
        assert!(policy.statement_count() >= 1);
    }
}

#[test]
fn versions() {
    let v2012 = parse_policy(
        &stmt(r#""Effect":"Allow","Action":"s3:*","Resource":"*""#),
        PolicyKind::Identity,
    )
    .unwrap();
    assert_eq!(v2012.version(), iam::PolicyVersion::V2012_10_17);
    let unversioned = parse_policy(
        r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
        PolicyKind::Identity,
    )
    .unwrap();
    assert_eq!(unversioned.version(), iam::PolicyVersion::V2008_10_17);
    let error = parse_policy(r#"{"Version":12,"Statement":[]}"#, PolicyKind::Bucket).unwrap_err();
    assert_eq!(
        error.message,
        "The policy must contain a valid version string"
    );
}

#[test]
fn bucket_resources_must_lie_in_the_bucket() {
    let p = parse_policy(&stmt(PUBLIC_READ), PolicyKind::Bucket).unwrap();
    assert!(p.check_bucket_resources("b").is_ok());
    assert_eq!(
        p.check_bucket_resources("c").unwrap_err().message,
        "Policy has invalid resource"
    );
    let wild = parse_policy(
        &stmt(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs-*/*""#),
        PolicyKind::Bucket,
    )
    .unwrap();
    assert!(wild.check_bucket_resources("logs-2024").is_ok());
    assert!(wild.check_bucket_resources("data").is_err());
}
