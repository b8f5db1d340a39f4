//! Every condition operator, IfExists, the set quantifiers, Null, and the engine-supplied
//! keys, through a one-statement identity policy (examples from AWS's "Condition
//! operators" page where it has them).

mod common;
use common::{condition_allows, Facts};

/// Request facts as (key, values) pairs.
type FactList<'a> = &'a [(&'a str, &'a [&'a str])];

fn check(cases: &[(&str, FactList<'_>, bool)]) {
    for (condition, facts, expected) in cases {
        assert_eq!(
            condition_allows(condition, &Facts::new(facts)),
            *expected,
            "{condition} with {facts:?}"
        );
    }
}

#[test]
fn string_operators() {
    check(&[
        (
            r#"{"StringEquals":{"aws:PrincipalTag/job-category":"iamuser-admin"}}"#,
            &[("aws:principaltag/job-category", &["iamuser-admin"])],
            true,
        ),
        (
            r#"{"StringEquals":{"aws:PrincipalTag/job-category":"iamuser-admin"}}"#,
            &[("aws:principaltag/job-category", &["IAMUSER-ADMIN"])],
            false,
        ),
        (
            r#"{"StringEquals":{"aws:PrincipalTag/job-category":"iamuser-admin"}}"#,
            &[],
            false,
        ),
        // Keys are case-insensitive.
        (
            r#"{"StringEquals":{"AWS:PRINCIPALTAG/JOB-CATEGORY":"a"}}"#,
            &[("aws:principaltag/job-category", &["a"])],
            true,
        ),
        // Values of one key are ORed.
        (
            r#"{"StringEquals":{"s3:prefix":["home/","projects/"]}}"#,
            &[("s3:prefix", &["projects/"])],
            true,
        ),
        // StringEquals has no wildcards.
        (
            r#"{"StringEquals":{"s3:prefix":"home/*"}}"#,
            &[("s3:prefix", &["home/x"])],
            false,
        ),
        (
            r#"{"StringNotEquals":{"s3:prefix":["home/","projects/"]}}"#,
            &[("s3:prefix", &["other/"])],
            true,
        ),
        (
            r#"{"StringNotEquals":{"s3:prefix":["home/","projects/"]}}"#,
            &[("s3:prefix", &["home/"])],
            false,
        ),
        // A negated operator is true for a missing key.
        (r#"{"StringNotEquals":{"s3:prefix":"home/"}}"#, &[], true),
        (
            r#"{"StringEqualsIgnoreCase":{"aws:PrincipalTag/dept":"Sales"}}"#,
            &[("aws:principaltag/dept", &["SALES"])],
            true,
        ),
        (
            r#"{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/dept":"Sales"}}"#,
            &[("aws:principaltag/dept", &["sales"])],
            false,
        ),
        (
            r#"{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/dept":"Sales"}}"#,
            &[("aws:principaltag/dept", &["hr"])],
            true,
        ),
        (
            r#"{"StringLike":{"s3:prefix":["","home/*"]}}"#,
            &[("s3:prefix", &["home/alice/x"])],
            true,
        ),
        (
            r#"{"StringLike":{"s3:prefix":["","home/*"]}}"#,
            &[("s3:prefix", &[""])],
            true,
        ),
        (
            r#"{"StringLike":{"s3:prefix":["","home/*"]}}"#,
            &[("s3:prefix", &["etc/"])],
            false,
        ),
        (
            r#"{"StringLike":{"aws:Referer":"https://www.example.com/?ndex.html"}}"#,
            &[("aws:referer", &["https://www.example.com/index.html"])],
            true,
        ),
        (
            r#"{"StringNotLike":{"aws:Referer":"https://www.example.com/*"}}"#,
            &[("aws:referer", &["https://evil.example/"])],
            true,
        ),
        (
            r#"{"StringNotLike":{"aws:Referer":"https://www.example.com/*"}}"#,
            &[("aws:referer", &["https://www.example.com/a"])],
            false,
        ),
        // Several keys and several operators are ANDed.
        (
            r#"{"StringEquals":{"s3:prefix":"a","s3:delimiter":"/"}}"#,
            &[("s3:prefix", &["a"])],
            false,
        ),
        (
            r#"{"StringEquals":{"s3:prefix":"a","s3:delimiter":"/"}}"#,
            &[("s3:prefix", &["a"]), ("s3:delimiter", &["/"])],
            true,
        ),
        (
            r#"{"StringEquals":{"s3:prefix":"a"},"StringLike":{"aws:UserAgent":"aws-cli/*"}}"#,
            &[("s3:prefix", &["a"]), ("aws:useragent", &["curl/8"])],
            false,
        ),
        // JSON numbers and booleans are read as their text.
        (
            r#"{"StringEquals":{"s3:max-keys":10}}"#,
            &[("s3:max-keys", &["10"])],
            true,
        ),
    ]);
}

#[test]
fn numeric_operators() {
    let keys: FactList<'_> = &[("s3:max-keys", &["10"])];
    check(&[
        (r#"{"NumericEquals":{"s3:max-keys":"10"}}"#, keys, true),
        (r#"{"NumericEquals":{"s3:max-keys":"10.0"}}"#, keys, true),
        (r#"{"NumericNotEquals":{"s3:max-keys":"10"}}"#, keys, false),
        (r#"{"NumericNotEquals":{"s3:max-keys":"11"}}"#, keys, true),
        (r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#, keys, false),
        (r#"{"NumericLessThan":{"s3:max-keys":"11"}}"#, keys, true),
        (
            r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#,
            keys,
            true,
        ),
        (r#"{"NumericGreaterThan":{"s3:max-keys":"9"}}"#, keys, true),
        (
            r#"{"NumericGreaterThan":{"s3:max-keys":"10"}}"#,
            keys,
            false,
        ),
        (
            r#"{"NumericGreaterThanEquals":{"s3:max-keys":10}}"#,
            keys,
            true,
        ),
        (
            r#"{"NumericLessThan":{"s3:max-keys":"11"}}"#,
            &[("s3:max-keys", &["many"])],
            false,
        ),
        (r#"{"NumericLessThan":{"s3:max-keys":"11"}}"#, &[], false),
    ]);
}

#[test]
fn date_operators_with_engine_time() {
    // NOW is 2024-05-01T12:00:00Z; aws:CurrentTime and aws:EpochTime come from the engine.
    check(&[
        (
            r#"{"DateGreaterThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}}"#,
            &[],
            true,
        ),
        (
            r#"{"DateLessThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}}"#,
            &[],
            false,
        ),
        (
            r#"{"DateLessThan":{"aws:CurrentTime":"2024-06-30"}}"#,
            &[],
            true,
        ),
        (
            r#"{"DateEquals":{"aws:CurrentTime":"2024-05-01T12:00:00Z"}}"#,
            &[],
            true,
        ),
        (
            r#"{"DateEquals":{"aws:CurrentTime":"1714564800"}}"#,
            &[],
            true,
        ),
        (
            r#"{"DateNotEquals":{"aws:CurrentTime":"2024-05-01T12:00:00Z"}}"#,
            &[],
            false,
        ),
        (
            r#"{"DateLessThanEquals":{"aws:CurrentTime":"2024-05-01T12:00:00Z"}}"#,
            &[],
            true,
        ),
        (
            r#"{"DateGreaterThanEquals":{"aws:CurrentTime":"2024-05-01T12:00:01Z"}}"#,
            &[],
            false,
        ),
        (
            r#"{"DateGreaterThan":{"aws:EpochTime":"2024-05-01T11:59:59Z"}}"#,
            &[],
            true,
        ),
        (
            r#"{"NumericGreaterThan":{"aws:EpochTime":1714564799}}"#,
            &[],
            true,
        ),
        // A caller cannot override the engine's clock.
        (
            r#"{"DateLessThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}}"#,
            &[("aws:currenttime", &["2020-01-01T00:00:00Z"])],
            false,
        ),
        (
            r#"{"DateLessThan":{"aws:TokenIssueTime":"2024-01-01T00:00:00Z"}}"#,
            &[("aws:tokenissuetime", &["2023-12-31T23:00:00Z"])],
            true,
        ),
        (
            r#"{"DateLessThan":{"aws:TokenIssueTime":"2024-01-01T00:00:00Z"}}"#,
            &[],
            false,
        ),
    ]);
}

#[test]
fn bool_binary_ip_arn_operators() {
    check(&[
        (
            r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
            &[("aws:securetransport", &["true"])],
            true,
        ),
        (
            r#"{"Bool":{"aws:SecureTransport":false}}"#,
            &[("aws:securetransport", &["true"])],
            false,
        ),
        (r#"{"Bool":{"aws:SecureTransport":"false"}}"#, &[], false),
        (
            r#"{"BinaryEquals":{"s3:key":"QmluYXJ5VmFsdWU="}}"#,
            &[("s3:key", &["BinaryValue"])],
            true,
        ),
        (
            r#"{"BinaryEquals":{"s3:key":"QmluYXJ5VmFsdWU="}}"#,
            &[("s3:key", &["Other"])],
            false,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &[("aws:sourceip", &["203.0.113.9"])],
            true,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &[("aws:sourceip", &["198.51.100.1"])],
            false,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}"#,
            &[("aws:sourceip", &["2001:db8:1234:5678::77"])],
            true,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":"192.0.2.10"}}"#,
            &[("aws:sourceip", &["192.0.2.10"])],
            true,
        ),
        (
            r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &[("aws:sourceip", &["198.51.100.1"])],
            true,
        ),
        (
            r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &[("aws:sourceip", &["203.0.113.1"])],
            false,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &[("aws:sourceip", &["not-an-ip"])],
            false,
        ),
        (
            r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:topic"}}"#,
            &[(
                "aws:sourcearn",
                &["arn:aws:sns:us-east-1:123456789012:topic"],
            )],
            true,
        ),
        (
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:*"}}"#,
            &[(
                "aws:sourcearn",
                &["arn:aws:sns:eu-west-1:123456789012:t:sub"],
            )],
            true,
        ),
        // Wildcards stay within their colon-separated part.
        (
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::*"}}"#,
            &[("aws:sourcearn", &["arn:aws:s3:us-east-1::b"])],
            false,
        ),
        (
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::*"}}"#,
            &[("aws:sourcearn", &["arn:aws:s3:::b/k:1"])],
            true,
        ),
        (
            r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:*"}}"#,
            &[("aws:sourcearn", &["arn:aws:sns:eu-west-1:210987654321:t"])],
            true,
        ),
        (
            r#"{"ArnNotEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:topic"}}"#,
            &[],
            true,
        ),
        (
            r#"{"ArnLike":{"aws:SourceArn":"*"}}"#,
            &[("aws:sourcearn", &["arn:aws:sns:us-east-1:1:t"])],
            true,
        ),
    ]);
}

#[test]
fn if_exists_and_null() {
    check(&[
        (
            r#"{"StringEqualsIfExists":{"ec2:InstanceType":["t1.*","t2.*"]}}"#,
            &[],
            true,
        ),
        (
            r#"{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*"]}}"#,
            &[("ec2:instancetype", &["t2.micro"])],
            true,
        ),
        (
            r#"{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*"]}}"#,
            &[("ec2:instancetype", &["m5.large"])],
            false,
        ),
        (
            r#"{"NumericLessThanIfExists":{"s3:max-keys":"5"}}"#,
            &[],
            true,
        ),
        (
            r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &[("aws:sourceip", &["11.0.0.1"])],
            false,
        ),
        (r#"{"Null":{"aws:TokenIssueTime":"true"}}"#, &[], true),
        (
            r#"{"Null":{"aws:TokenIssueTime":"true"}}"#,
            &[("aws:tokenissuetime", &["2024-01-01T00:00:00Z"])],
            false,
        ),
        (
            r#"{"Null":{"aws:TokenIssueTime":"false"}}"#,
            &[("aws:tokenissuetime", &["2024-01-01T00:00:00Z"])],
            true,
        ),
        (r#"{"Null":{"aws:TokenIssueTime":false}}"#, &[], false),
        // The engine supplies aws:username for users.
        (r#"{"Null":{"aws:username":"false"}}"#, &[], true),
    ]);
}

#[test]
fn set_quantifiers() {
    let tags: FactList<'_> = &[("aws:tagkeys", &["environment", "costcenter"])];
    check(&[
        (
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","costcenter"]}}"#,
            tags,
            true,
        ),
        (
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["environment"]}}"#,
            tags,
            false,
        ),
        // ForAllValues is true when the key is missing or empty (AWS's warning).
        (
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["environment"]}}"#,
            &[],
            true,
        ),
        (
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["environment"]}}"#,
            &[("aws:tagkeys", &[])],
            true,
        ),
        (
            r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment"]}}"#,
            tags,
            true,
        ),
        (
            r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["webserver"]}}"#,
            tags,
            false,
        ),
        (
            r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment"]}}"#,
            &[],
            false,
        ),
        (
            r#"{"ForAnyValue:StringLike":{"aws:TagKeys":["cost*"]}}"#,
            tags,
            true,
        ),
        (
            r#"{"ForAllValues:StringLike":{"aws:TagKeys":["cost*","env*"]}}"#,
            tags,
            true,
        ),
        // Negated operators apply per request value.
        (
            r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["environment"]}}"#,
            tags,
            true,
        ),
        (
            r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["environment"]}}"#,
            tags,
            false,
        ),
        (
            r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["webserver"]}}"#,
            tags,
            true,
        ),
        // Without a quantifier a negated operator needs every value to match none.
        (
            r#"{"StringNotEquals":{"aws:TagKeys":["environment"]}}"#,
            tags,
            false,
        ),
        (
            r#"{"StringEquals":{"aws:TagKeys":["environment"]}}"#,
            tags,
            true,
        ),
        (
            r#"{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["x"]}}"#,
            &[],
            true,
        ),
    ]);
}

#[test]
fn variables_in_condition_values() {
    check(&[
        (
            r#"{"StringLike":{"s3:prefix":["home/${aws:username}/*"]}}"#,
            &[("s3:prefix", &["home/alice/docs"])],
            true,
        ),
        (
            r#"{"StringLike":{"s3:prefix":["home/${aws:username}/*"]}}"#,
            &[("s3:prefix", &["home/bob/docs"])],
            false,
        ),
        (
            r#"{"StringEquals":{"s3:prefix":"${aws:userid}"}}"#,
            &[("s3:prefix", &["AIDAALICE"])],
            true,
        ),
        (
            r#"{"StringEquals":{"aws:PrincipalTag/team":"${aws:ResourceTag/team}"}}"#,
            &[
                ("aws:principaltag/team", &["red"]),
                ("aws:resourcetag/team", &["red"]),
            ],
            true,
        ),
        // An absent variable makes the value match nothing.
        (
            r#"{"StringEquals":{"aws:PrincipalTag/team":"${aws:ResourceTag/team}"}}"#,
            &[("aws:principaltag/team", &["red"])],
            false,
        ),
        (
            r#"{"StringEquals":{"aws:PrincipalTag/team":"${aws:ResourceTag/team, 'red'}"}}"#,
            &[("aws:principaltag/team", &["red"])],
            true,
        ),
        (
            r#"{"StringEquals":{"s3:prefix":"${*}${?}${$}"}}"#,
            &[("s3:prefix", &["*?$"])],
            true,
        ),
        (
            r#"{"StringEquals":{"aws:PrincipalType":"User"}}"#,
            &[],
            true,
        ),
        (
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::home/${aws:username}"}}"#,
            &[("aws:sourcearn", &["arn:aws:s3:::home/alice"])],
            true,
        ),
    ]);
}

#[test]
fn version_2008_takes_variables_literally() {
    let document = r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"${aws:username}"}}}}"#;
    let alice = common::user(common::ACCOUNT, "alice", vec![common::named("p", document)]);
    let literal = Facts::new(&[("s3:prefix", &["${aws:username}"])]);
    let resolved = Facts::new(&[("s3:prefix", &["alice"])]);
    let allowed = |facts: &Facts| {
        common::decide(
            Some(&alice),
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            None,
            None,
            facts,
        )
        .allowed
    };
    assert!(allowed(&literal));
    assert!(!allowed(&resolved));
}

#[test]
fn references_condition_key_prefix() {
    let p = common::policy(
        iam::PolicyKind::Identity,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"StringEquals":{"s3:ExistingObjectTag/Project":"x"}}}]}"#,
    );
    assert!(p.references_condition_key_prefix("s3:existingobjecttag/"));
    assert!(p.references_condition_key_prefix("aws:username"));
    assert!(!p.references_condition_key_prefix("s3:requestobjecttag/"));
    let in_value = common::policy(
        iam::PolicyKind::Identity,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"${s3:ExistingObjectTag/team}"}}}]}"#,
    );
    assert!(in_value.references_condition_key_prefix("s3:existingobjecttag/"));
    assert!(in_value.references_condition_key_prefix("aws:principaltag/"));
}

#[test]
fn policies_are_shareable_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<iam::Policy>();
    shareable::<iam::Principal>();
}
