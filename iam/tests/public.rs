//! S3's "The meaning of public" for bucket policies.

mod common;
use iam::PolicyKind;

fn is_public(principal: &str, condition: &str) -> bool {
    let condition = if condition.is_empty() {
        String::new()
    } else {
        format!(r#","Condition":{condition}"#)
    };
    let document = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"{condition}}}]}}"#
    );
    common::policy(PolicyKind::Bucket, &document).is_public()
}

#[test]
fn wildcard_principals_without_pinning_conditions_are_public() {
    let cases = [
        (r#""*""#, "", true),
        (r#"{"AWS":"*"}"#, "", true),
        (r#"{"AWS":["123456789012","*"]}"#, "", true),
        (r#"{"AWS":"123456789012"}"#, "", false),
        (
            r#"{"AWS":"arn:aws:iam::123456789012:user/alice"}"#,
            "",
            false,
        ),
        (r#"{"Service":"logging.s3.amazonaws.com"}"#, "", false),
        // Conditions on keys that do not identify the caller do not help.
        (
            r#""*""#,
            r#"{"StringLike":{"aws:Referer":"https://www.example.com/*"}}"#,
            true,
        ),
        (r#""*""#, r#"{"Bool":{"aws:SecureTransport":"true"}}"#, true),
        // Pinned to fixed values: not public.
        (
            r#""*""#,
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            false,
        ),
        (
            r#""*""#,
            r#"{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}"#,
            false,
        ),
        (
            r#""*""#,
            r#"{"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}"#,
            false,
        ),
        (
            r#""*""#,
            r#"{"StringEquals":{"aws:SourceVpc":"vpc-111bbb22"}}"#,
            false,
        ),
        (
            r#""*""#,
            r#"{"StringEquals":{"aws:PrincipalOrgID":"o-xxxxxxxxxx"}}"#,
            false,
        ),
        (
            r#""*""#,
            r#"{"StringEquals":{"aws:PrincipalAccount":"123456789012"}}"#,
            false,
        ),
        (
            r#""*""#,
            r#"{"StringEquals":{"AWS:SourceAccount":"123456789012"}}"#,
            false,
        ),
        (
            r#""*""#,
            r#"{"StringEquals":{"aws:SourceOwner":"123456789012"}}"#,
            false,
        ),
        (
            r#""*""#,
            r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:cloudtrail:us-east-1:123456789012:trail/t"}}"#,
            false,
        ),
        (
            r#""*""#,
            r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/r"}}"#,
            false,
        ),
        (
            r#""*""#,
            r#"{"StringEquals":{"s3:DataAccessPointArn":"arn:aws:s3:us-west-2:123456789012:accesspoint/ap"}}"#,
            false,
        ),
        (
            r#""*""#,
            r#"{"StringLike":{"aws:userid":"AROAEXAMPLEID:*"}}"#,
            false,
        ),
        (
            r#""*""#,
            r#"{"StringEquals":{"aws:userid":"AIDAEXAMPLE"}}"#,
            false,
        ),
        // Wildcards, broad ranges, negations, IfExists and set quantifiers leave it public.
        (r#""*""#, r#"{"StringLike":{"aws:userid":"*"}}"#, true),
        (
            r#""*""#,
            r#"{"StringLike":{"aws:SourceVpce":"vpce-*"}}"#,
            true,
        ),
        (
            r#""*""#,
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:*"}}"#,
            true,
        ),
        (
            r#""*""#,
            r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
            true,
        ),
        (
            r#""*""#,
            r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/1"}}"#,
            true,
        ),
        (r#""*""#, r#"{"IpAddress":{"aws:SourceIp":"::/0"}}"#, true),
        (
            r#""*""#,
            r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            true,
        ),
        (
            r#""*""#,
            r#"{"StringNotEquals":{"aws:SourceAccount":"123456789012"}}"#,
            true,
        ),
        (
            r#""*""#,
            r#"{"StringEqualsIfExists":{"aws:SourceAccount":"123456789012"}}"#,
            true,
        ),
        (
            r#""*""#,
            r#"{"ForAnyValue:StringEquals":{"aws:SourceAccount":"123456789012"}}"#,
            true,
        ),
        (
            r#""*""#,
            r#"{"StringEquals":{"aws:SourceAccount":"${aws:PrincipalAccount}"}}"#,
            true,
        ),
        // One pinning condition among others is enough.
        (
            r#""*""#,
            r#"{"Bool":{"aws:SecureTransport":"true"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            false,
        ),
    ];
    for (principal, condition, expected) in cases {
        assert_eq!(
            is_public(principal, condition),
            expected,
            "{principal} {condition}"
        );
    }
}

#[test]
fn denies_do_not_make_a_policy_public_but_not_principal_allows_do() {
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}"#;
    assert!(!common::policy(PolicyKind::Bucket, deny).is_public());
    let not_principal = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/x"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
    assert!(common::policy(PolicyKind::Bucket, not_principal).is_public());
    let mixed = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"},
        {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/public/*"}]}"#;
    assert!(common::policy(PolicyKind::Bucket, mixed).is_public());
}
