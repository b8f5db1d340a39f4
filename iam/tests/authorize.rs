//! Evaluation: explicit deny, same- and cross-account rules, session policies,
//! anonymous access, principals, Not* elements, wildcards and variables in resources.

mod common;
use common::*;
use iam::{parse_policy, PolicyKind, StatementRef};

fn bucket_policy(statements: &str) -> iam::Policy {
    policy(
        PolicyKind::Bucket,
        &format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#),
    )
}

fn identity(statements: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#)
}

fn by(policy: &str, sid: Option<&str>, index: usize) -> Option<StatementRef> {
    Some(StatementRef {
        policy: policy.to_owned(),
        sid: sid.map(str::to_owned),
        index,
    })
}

const OBJECT: &str = "arn:aws:s3:::b/k";
const NO_FACTS: &iam::NoConditionValues = &iam::NoConditionValues;

#[test]
fn system_root_is_always_allowed() {
    let root = system_root();
    let deny_all = bucket_policy(
        r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#,
    );
    let d = iam::authorize(&iam::Request {
        principal: Some(&root),
        action: "s3:GetObject",
        resource: OBJECT,
        resource_account: Some(OTHER_ACCOUNT),
        resource_policy: Some(&deny_all),
        restrict_resource_policy_to_account: false,
        acl: None,
        now_ms: NOW_MS,
        facts: NO_FACTS,
    });
    assert!(d.allowed);
    assert_eq!(d.decided_by, None);
}

#[test]
fn identity_allow_and_implicit_deny() {
    let alice = user(
        ACCOUNT,
        "alice",
        vec![named(
            "read",
            &identity(
                r#"{"Sid":"Read","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}"#,
            ),
        )],
    );
    let facts = Facts::default();
    let d = decide(
        Some(&alice),
        "s3:GetObject",
        OBJECT,
        Some(ACCOUNT),
        None,
        &facts,
    );
    assert!(d.allowed);
    assert_eq!(d.decided_by, by("read", Some("Read"), 0));
    // Action names are case-insensitive.
    assert!(decide(Some(&alice), "S3:getobject", OBJECT, None, None, &facts).allowed);
    let d = decide(
        Some(&alice),
        "s3:PutObject",
        OBJECT,
        Some(ACCOUNT),
        None,
        &facts,
    );
    assert_eq!(
        d,
        iam::Decision {
            allowed: false,
            decided_by: None
        }
    );
    // An action name longer than any AWS defines is compared all the same.
    let long = format!("s3:{}", "x".repeat(300));
    assert!(!decide(Some(&alice), &long, OBJECT, None, None, &facts).allowed);
    // Resources are case-sensitive.
    assert!(
        !decide(
            Some(&alice),
            "s3:GetObject",
            "arn:aws:s3:::B/k",
            None,
            None,
            &facts
        )
        .allowed
    );
    assert!(
        !decide(
            Some(&alice),
            "s3:GetObject",
            "arn:aws:s3:::other/k",
            None,
            None,
            &facts
        )
        .allowed
    );
}

#[test]
fn explicit_deny_wins_wherever_it_is() {
    let allow_all = named(
        "admin",
        &identity(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#),
    );
    let deny_delete = named(
        "no-delete",
        &identity(
            r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Sid":"NoDelete","Effect":"Deny","Action":"s3:Delete*","Resource":"arn:aws:s3:::b/*"}"#,
        ),
    );
    let alice = user(ACCOUNT, "alice", vec![allow_all.clone(), deny_delete]);
    let facts = Facts::default();
    let d = decide(Some(&alice), "s3:DeleteObject", OBJECT, None, None, &facts);
    assert!(!d.allowed);
    assert_eq!(d.decided_by, by("no-delete", Some("NoDelete"), 1));
    assert!(decide(Some(&alice), "s3:PutObject", OBJECT, None, None, &facts).allowed);

    // A deny in the bucket policy beats an identity allow.
    let bob = user(ACCOUNT, "bob", vec![allow_all]);
    let bp = bucket_policy(
        r#"{"Sid":"DenyBob","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:user/bob"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#,
    );
    let d = decide(
        Some(&bob),
        "s3:GetObject",
        OBJECT,
        Some(ACCOUNT),
        Some(&bp),
        &facts,
    );
    assert!(!d.allowed);
    assert_eq!(d.decided_by, by("resource-policy", Some("DenyBob"), 0));
    // The bucket policy's deny names bob only.
    assert!(
        decide(
            Some(&alice),
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            Some(&bp),
            &facts
        )
        .allowed
    );
}

#[test]
fn same_account_resource_policy_alone_allows() {
    let carol = user(ACCOUNT, "carol", vec![]);
    let bp = bucket_policy(
        r#"{"Sid":"Carol","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/carol"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
    );
    let facts = Facts::default();
    let d = decide(
        Some(&carol),
        "s3:GetObject",
        OBJECT,
        Some(ACCOUNT),
        Some(&bp),
        &facts,
    );
    assert!(d.allowed);
    assert_eq!(d.decided_by, by("resource-policy", Some("Carol"), 0));
    // A grant naming only the account (id, root ARN or canonical id) delegates to the
    // account's own policies, as AWS documents: within the account it allows nothing
    // by itself, and it allows once an identity policy does too.
    let account = bucket_policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
    );
    let root_arn = bucket_policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
    );
    let canonical = bucket_policy(&format!(
        r#"{{"Effect":"Allow","Principal":{{"CanonicalUser":"{CANONICAL}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#
    ));
    let reader = user(
        ACCOUNT,
        "carol",
        vec![named(
            "reader",
            &identity(
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
            ),
        )],
    );
    for delegation in [&account, &root_arn, &canonical] {
        let alone = decide(
            Some(&carol),
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            Some(delegation),
            &facts,
        );
        assert!(!alone.allowed);
        let with_identity = decide(
            Some(&reader),
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            Some(delegation),
            &facts,
        );
        assert!(with_identity.allowed);
        // The trust-policy question (AssumeRole): does the resource policy allow at all?
        let trusts = iam::resource_policy_allows(&iam::Request {
            principal: Some(&carol),
            action: "s3:GetObject",
            resource: OBJECT,
            resource_account: Some(ACCOUNT),
            resource_policy: Some(delegation),
            restrict_resource_policy_to_account: false,
            acl: None,
            now_ms: 0,
            facts: &facts,
        });
        assert!(trusts);
    }
    // Another user of the account is not named by carol's ARN.
    let dave = user(ACCOUNT, "dave", vec![]);
    assert!(
        !decide(
            Some(&dave),
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            Some(&bp),
            &facts
        )
        .allowed
    );
    // Service principals name nobody here.
    let service = bucket_policy(
        r#"{"Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}"#,
    );
    assert!(
        !decide(
            Some(&dave),
            "s3:PutObject",
            OBJECT,
            Some(ACCOUNT),
            Some(&service),
            &facts
        )
        .allowed
    );
}

#[test]
fn cross_account_needs_both_sides() {
    let outsider_allowed = user(
        OTHER_ACCOUNT,
        "eve",
        vec![named(
            "s3",
            &identity(
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
            ),
        )],
    );
    let outsider_bare = user(OTHER_ACCOUNT, "eve", vec![]);
    let grant = bucket_policy(
        r#"{"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"210987654321"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
    );
    let facts = Facts::default();
    let d = decide(
        Some(&outsider_allowed),
        "s3:GetObject",
        OBJECT,
        Some(ACCOUNT),
        Some(&grant),
        &facts,
    );
    assert!(d.allowed);
    assert_eq!(d.decided_by, by("resource-policy", Some("Partner"), 0));
    assert!(
        !decide(
            Some(&outsider_bare),
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            Some(&grant),
            &facts
        )
        .allowed
    );
    assert!(
        !decide(
            Some(&outsider_allowed),
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            None,
            &facts
        )
        .allowed
    );
    // With the resource account unknown, the identity policy alone decides.
    assert!(
        decide(
            Some(&outsider_allowed),
            "s3:GetObject",
            OBJECT,
            None,
            None,
            &facts
        )
        .allowed
    );
}

#[test]
fn anonymous_access() {
    let facts = Facts::default();
    let public = bucket_policy(
        r#"{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
    );
    let d = decide(
        None,
        "s3:GetObject",
        OBJECT,
        Some(ACCOUNT),
        Some(&public),
        &facts,
    );
    assert!(d.allowed);
    assert_eq!(d.decided_by, by("resource-policy", Some("PublicRead"), 0));
    assert!(
        !decide(
            None,
            "s3:PutObject",
            OBJECT,
            Some(ACCOUNT),
            Some(&public),
            &facts
        )
        .allowed
    );
    assert!(!decide(None, "s3:GetObject", OBJECT, Some(ACCOUNT), None, &facts).allowed);
    let aws_star = bucket_policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
    );
    assert!(
        decide(
            None,
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            Some(&aws_star),
            &facts
        )
        .allowed
    );
    // An account grant does not reach anonymous callers.
    let account = bucket_policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
    );
    assert!(
        !decide(
            None,
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            Some(&account),
            &facts
        )
        .allowed
    );
    // aws:PrincipalType is Anonymous.
    let only_anon = bucket_policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:PrincipalType":"Anonymous"}}}"#,
    );
    assert!(
        decide(
            None,
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            Some(&only_anon),
            &facts
        )
        .allowed
    );
    let frank = user(ACCOUNT, "frank", vec![]);
    assert!(
        !decide(
            Some(&frank),
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            Some(&only_anon),
            &facts
        )
        .allowed
    );
    // Public read limited to an address range (AWS's example).
    let by_ip = bucket_policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"},"NotIpAddress":{"aws:SourceIp":"192.0.2.188/32"}}}"#,
    );
    let ip = |address: &str| Facts::new(&[("aws:sourceip", &[address])]);
    assert!(
        decide(
            None,
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            Some(&by_ip),
            &ip("192.0.2.7")
        )
        .allowed
    );
    assert!(
        !decide(
            None,
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            Some(&by_ip),
            &ip("192.0.2.188")
        )
        .allowed
    );
    assert!(
        !decide(
            None,
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            Some(&by_ip),
            &ip("198.51.100.1")
        )
        .allowed
    );
}

#[test]
fn not_principal() {
    let facts = Facts::default();
    let bp = bucket_policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},{"Sid":"OnlyAdmin","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::123456789012:user/admin","arn:aws:iam::123456789012:role/ops"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret/*"}"#,
    );
    let admin = user(ACCOUNT, "admin", vec![]);
    let other = user(ACCOUNT, "other", vec![]);
    let ops = role_session(ACCOUNT, "ops", "s1", vec![], None);
    let secret = "arn:aws:s3:::b/secret/x";
    assert!(
        decide(
            Some(&admin),
            "s3:GetObject",
            secret,
            Some(ACCOUNT),
            Some(&bp),
            &facts
        )
        .allowed
    );
    assert!(
        decide(
            Some(&ops),
            "s3:GetObject",
            secret,
            Some(ACCOUNT),
            Some(&bp),
            &facts
        )
        .allowed
    );
    let d = decide(
        Some(&other),
        "s3:GetObject",
        secret,
        Some(ACCOUNT),
        Some(&bp),
        &facts,
    );
    assert!(!d.allowed);
    assert_eq!(d.decided_by, by("resource-policy", Some("OnlyAdmin"), 1));
    assert!(
        !decide(
            None,
            "s3:GetObject",
            secret,
            Some(ACCOUNT),
            Some(&bp),
            &facts
        )
        .allowed
    );
    assert!(
        decide(
            Some(&other),
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            Some(&bp),
            &facts
        )
        .allowed
    );
}

#[test]
fn not_action_and_not_resource() {
    let facts = Facts::default();
    let p = named(
        "p",
        &identity(
            r#"{"Effect":"Allow","NotAction":["iam:*","s3:Delete*"],"Resource":"*"},{"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}"#,
        ),
    );
    let u = user(ACCOUNT, "u", vec![p]);
    assert!(decide(Some(&u), "s3:GetObject", OBJECT, None, None, &facts).allowed);
    assert!(!decide(Some(&u), "s3:DeleteObject", OBJECT, None, None, &facts).allowed);
    assert!(
        !decide(
            Some(&u),
            "iam:CreateUser",
            "arn:aws:iam::123456789012:user/x",
            None,
            None,
            &facts
        )
        .allowed
    );
    assert!(decide(Some(&u), "sts:GetCallerIdentity", "*", None, None, &facts).allowed);
    let d = decide(
        Some(&u),
        "s3:GetObject",
        "arn:aws:s3:::c/k",
        None,
        None,
        &facts,
    );
    assert!(!d.allowed);
    assert_eq!(d.decided_by, by("p", None, 1));
}

#[test]
fn wildcards_in_actions_and_resources() {
    let facts = Facts::default();
    let p = named(
        "p",
        &identity(
            r#"{"Effect":"Allow","Action":["s3:Get*","s3:List?ucket"],"Resource":["arn:aws:s3:::logs-*","arn:aws:s3:::b/2024/??/*.txt"]}"#,
        ),
    );
    let u = user(ACCOUNT, "u", vec![p]);
    let allowed = |action: &str, resource: &str| {
        decide(Some(&u), action, resource, None, None, &facts).allowed
    };
    assert!(allowed("s3:GetObjectTagging", "arn:aws:s3:::logs-a/k"));
    assert!(allowed("s3:ListBucket", "arn:aws:s3:::logs-a"));
    assert!(!allowed("s3:ListBucketVersions", "arn:aws:s3:::logs-a"));
    assert!(allowed("s3:GetObject", "arn:aws:s3:::b/2024/05/a/b.txt"));
    assert!(!allowed("s3:GetObject", "arn:aws:s3:::b/2024/5/a.txt"));
    assert!(!allowed("s3:PutObject", "arn:aws:s3:::logs-a/k"));
}

#[test]
fn home_folder_policy_with_username_variable() {
    // AWS's example: each user lists and uses only home/${aws:username}/.
    let doc = identity(
        r#"{"Sid":"List","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/*"]}}},
           {"Sid":"Home","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::b/home/${aws:username}/*"}"#,
    );
    let alice = user(ACCOUNT, "alice", vec![named("home", &doc)]);
    let facts = Facts::default();
    let d = decide(
        Some(&alice),
        "s3:PutObject",
        "arn:aws:s3:::b/home/alice/notes.txt",
        None,
        None,
        &facts,
    );
    assert!(d.allowed);
    assert_eq!(d.decided_by, by("home", Some("Home"), 1));
    assert!(
        !decide(
            Some(&alice),
            "s3:PutObject",
            "arn:aws:s3:::b/home/bob/notes.txt",
            None,
            None,
            &facts
        )
        .allowed
    );
    let prefix = |p: &str| Facts::new(&[("s3:prefix", &[p])]);
    assert!(
        decide(
            Some(&alice),
            "s3:ListBucket",
            "arn:aws:s3:::b",
            None,
            None,
            &prefix("home/alice/x")
        )
        .allowed
    );
    assert!(
        !decide(
            Some(&alice),
            "s3:ListBucket",
            "arn:aws:s3:::b",
            None,
            None,
            &prefix("home/bob/")
        )
        .allowed
    );
    // A role session has no aws:username: the resource matches nothing.
    let session = role_session(ACCOUNT, "r", "alice", vec![named("home", &doc)], None);
    assert!(
        !decide(
            Some(&session),
            "s3:PutObject",
            "arn:aws:s3:::b/home/alice/notes.txt",
            None,
            None,
            &facts
        )
        .allowed
    );
    // ...unless the policy gives a default.
    let with_default = identity(
        r#"{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/home/${aws:username, 'shared'}/*"}"#,
    );
    let session = role_session(ACCOUNT, "r", "s", vec![named("d", &with_default)], None);
    assert!(
        decide(
            Some(&session),
            "s3:PutObject",
            "arn:aws:s3:::b/home/shared/x",
            None,
            None,
            &facts
        )
        .allowed
    );
}

#[test]
fn variables_from_facts_and_literals_in_resources() {
    let doc = identity(
        r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::b/${aws:PrincipalTag/team}/*","arn:aws:s3:::b/literal/${*}"]}"#,
    );
    let u = user(ACCOUNT, "u", vec![named("p", &doc)]);
    let red = Facts::new(&[("aws:principaltag/team", &["red"])]);
    assert!(
        decide(
            Some(&u),
            "s3:GetObject",
            "arn:aws:s3:::b/red/x",
            None,
            None,
            &red
        )
        .allowed
    );
    assert!(
        !decide(
            Some(&u),
            "s3:GetObject",
            "arn:aws:s3:::b/blue/x",
            None,
            None,
            &red
        )
        .allowed
    );
    let none = Facts::default();
    assert!(
        !decide(
            Some(&u),
            "s3:GetObject",
            "arn:aws:s3:::b/red/x",
            None,
            None,
            &none
        )
        .allowed
    );
    assert!(
        decide(
            Some(&u),
            "s3:GetObject",
            "arn:aws:s3:::b/literal/*",
            None,
            None,
            &none
        )
        .allowed
    );
    assert!(
        !decide(
            Some(&u),
            "s3:GetObject",
            "arn:aws:s3:::b/literal/x",
            None,
            None,
            &none
        )
        .allowed
    );
    // A NotResource whose variable is absent makes the statement not apply.
    let deny = identity(
        r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Effect":"Deny","Action":"s3:GetObject","NotResource":"arn:aws:s3:::b/${aws:PrincipalTag/team}/*"}"#,
    );
    let u = user(ACCOUNT, "u", vec![named("p", &deny)]);
    assert!(
        decide(
            Some(&u),
            "s3:GetObject",
            "arn:aws:s3:::b/blue/x",
            None,
            None,
            &none
        )
        .allowed
    );
    assert!(
        !decide(
            Some(&u),
            "s3:GetObject",
            "arn:aws:s3:::b/blue/x",
            None,
            None,
            &red
        )
        .allowed
    );
}

#[test]
fn version_2008_resources_are_literal() {
    let doc = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*"}]}"#;
    let alice = user(ACCOUNT, "alice", vec![named("old", doc)]);
    let facts = Facts::default();
    assert!(
        !decide(
            Some(&alice),
            "s3:GetObject",
            "arn:aws:s3:::b/alice/x",
            None,
            None,
            &facts
        )
        .allowed
    );
    assert!(
        decide(
            Some(&alice),
            "s3:GetObject",
            "arn:aws:s3:::b/${aws:username}/x",
            None,
            None,
            &facts
        )
        .allowed
    );
}

#[test]
fn session_policy_limits_identity_grants() {
    let role_policy = named(
        "role",
        &identity(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#),
    );
    let session_doc = identity(
        r#"{"Sid":"OnlyRead","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
    );
    let session = role_session(
        ACCOUNT,
        "r",
        "s",
        vec![role_policy.clone()],
        Some(&session_doc),
    );
    let facts = Facts::default();
    let d = decide(
        Some(&session),
        "s3:GetObject",
        OBJECT,
        Some(ACCOUNT),
        None,
        &facts,
    );
    assert!(d.allowed);
    assert_eq!(d.decided_by, by("role", None, 0));
    assert!(
        !decide(
            Some(&session),
            "s3:PutObject",
            OBJECT,
            Some(ACCOUNT),
            None,
            &facts
        )
        .allowed
    );
    // The session policy grants nothing by itself.
    let bare = role_session(ACCOUNT, "r", "s", vec![], Some(&session_doc));
    assert!(
        !decide(
            Some(&bare),
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            None,
            &facts
        )
        .allowed
    );
    // A deny in the session policy is an explicit deny.
    let deny_doc = identity(
        r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"NoPut","Effect":"Deny","Action":"s3:PutObject","Resource":"*"}"#,
    );
    let denied = role_session(ACCOUNT, "r", "s", vec![role_policy], Some(&deny_doc));
    let d = decide(
        Some(&denied),
        "s3:PutObject",
        OBJECT,
        Some(ACCOUNT),
        None,
        &facts,
    );
    assert_eq!(d.decided_by, by("session", Some("NoPut"), 1));
    assert!(!d.allowed);
}

#[test]
fn session_policy_and_resource_policies() {
    let session_doc = identity(r#"{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}"#);
    let session = role_session(ACCOUNT, "r", "s", vec![], Some(&session_doc));
    let facts = Facts::default();
    // Naming the exact session: not limited by the session policy.
    let exact = bucket_policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/r"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},{"Sid":"Exact","Effect":"Allow","Principal":{"AWS":"arn:aws:sts::123456789012:assumed-role/r/s"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
    );
    let d = decide(
        Some(&session),
        "s3:GetObject",
        OBJECT,
        Some(ACCOUNT),
        Some(&exact),
        &facts,
    );
    assert!(d.allowed);
    assert_eq!(d.decided_by, by("resource-policy", Some("Exact"), 1));
    // Naming the role: limited by it.
    let role = bucket_policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/r"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
    );
    assert!(
        !decide(
            Some(&session),
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            Some(&role),
            &facts
        )
        .allowed
    );
    // Without a session policy the role grant reaches its sessions.
    let plain = role_session(ACCOUNT, "r", "s", vec![], None);
    assert!(
        decide(
            Some(&plain),
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            Some(&role),
            &facts
        )
        .allowed
    );
    // Another role's sessions are not named.
    let other = role_session(ACCOUNT, "q", "s", vec![], None);
    assert!(
        !decide(
            Some(&other),
            "s3:GetObject",
            OBJECT,
            Some(ACCOUNT),
            Some(&role),
            &facts
        )
        .allowed
    );
}

#[test]
fn engine_supplied_principal_keys() {
    let doc = identity(
        r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/r","aws:PrincipalAccount":"123456789012","aws:PrincipalType":"AssumedRole"},"StringLike":{"aws:userid":"AROAROLEID:*"},"Null":{"aws:username":"true"}}}"#,
    );
    let session = role_session(ACCOUNT, "r", "s", vec![named("p", &doc)], None);
    let facts = Facts::default();
    assert!(decide(Some(&session), "s3:GetObject", OBJECT, None, None, &facts).allowed);
    // A caller-supplied fact cannot impersonate an engine key.
    let spoof = Facts::new(&[("aws:principaltype", &["User"])]);
    assert!(decide(Some(&session), "s3:GetObject", OBJECT, None, None, &spoof).allowed);
    let alice = user(ACCOUNT, "alice", vec![named("p", &doc)]);
    assert!(!decide(Some(&alice), "s3:GetObject", OBJECT, None, None, &facts).allowed);
}

#[test]
fn trust_policy_evaluation() {
    let trust = policy(
        PolicyKind::Trust,
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#,
    );
    let caller = user(
        OTHER_ACCOUNT,
        "eve",
        vec![named(
            "assume",
            &identity(
                r#"{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::123456789012:role/*"}"#,
            ),
        )],
    );
    let role = "arn:aws:iam::123456789012:role/shared";
    let mfa = Facts::new(&[("aws:multifactorauthpresent", &["true"])]);
    let d = decide(
        Some(&caller),
        "sts:AssumeRole",
        role,
        Some(ACCOUNT),
        Some(&trust),
        &mfa,
    );
    assert!(d.allowed);
    assert_eq!(d.decided_by, by("resource-policy", Some("Partner"), 0));
    assert!(
        !decide(
            Some(&caller),
            "sts:AssumeRole",
            role,
            Some(ACCOUNT),
            Some(&trust),
            &Facts::default()
        )
        .allowed
    );
}

#[test]
fn decisions_skip_later_allows_but_not_denies() {
    // Many allow statements, a deny at the end: the deny still applies.
    let mut statements: Vec<String> = (0..20)
        .map(|i| format!(r#"{{"Sid":"S{i}","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#))
        .collect();
    statements.push(r#"{"Sid":"Last","Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/private/*"}"#.to_owned());
    let u = user(
        ACCOUNT,
        "u",
        vec![named("p", &identity(&statements.join(",")))],
    );
    let facts = Facts::default();
    let d = decide(
        Some(&u),
        "s3:GetObject",
        "arn:aws:s3:::b/private/x",
        None,
        None,
        &facts,
    );
    assert_eq!(
        d,
        iam::Decision {
            allowed: false,
            decided_by: by("p", Some("Last"), 20)
        }
    );
    let d = decide(Some(&u), "s3:GetObject", OBJECT, None, None, &facts);
    assert_eq!(
        d,
        iam::Decision {
            allowed: true,
            decided_by: by("p", Some("S0"), 0)
        }
    );
}

#[test]
fn named_principals() {
    let p = parse_policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["123456789012","arn:aws:iam::210987654321:root","arn:aws:iam::123456789012:user/a"],"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},{"Effect":"Deny","NotPrincipal":{"AWS":"123456789012"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
        PolicyKind::Bucket,
    )
    .unwrap();
    use iam::PrincipalName::*;
    assert_eq!(
        p.named_principals(),
        vec![
            Account("123456789012".into()),
            Account("210987654321".into()),
            Arn("arn:aws:iam::123456789012:user/a".into()),
            CanonicalUser(CANONICAL.into()),
        ]
    );
}

/// ACL grants as AWS evaluates them: a group grant stands on its own, a grant to an
/// account needs that account's own identity policy, IgnorePublicAcls drops the public
/// ones, and nothing in an ACL can override an explicit deny.
#[test]
fn acl_grants_join_policies() {
    use iam::acl::{Acl, AclTarget, Grant, Grantee, Group, Permission};
    let facts = Facts::default();
    let ask = |principal: Option<&iam::Principal>,
               action: &str,
               acl: &Acl,
               ignore_public: bool,
               resource_policy: Option<&iam::Policy>| {
        iam::authorize(&iam::Request {
            principal,
            action,
            resource: OBJECT,
            resource_account: Some(ACCOUNT),
            resource_policy,
            restrict_resource_policy_to_account: false,
            acl: Some(iam::ResourceAcl {
                acl,
                target: AclTarget::Object,
                ignore_public,
            }),
            now_ms: NOW_MS,
            facts: &facts,
        })
        .allowed
    };
    let public = Acl::canned("public-read", CANONICAL, CANONICAL).unwrap();
    assert!(ask(None, "s3:GetObject", &public, false, None));
    assert!(
        !ask(None, "s3:GetObject", &public, true, None),
        "IgnorePublicAcls"
    );
    assert!(
        !ask(None, "s3:PutObjectAcl", &public, false, None),
        "READ is not WRITE_ACP"
    );

    let other_canonical = "b".repeat(64);
    let mut outsider = user(OTHER_ACCOUNT, "eve", vec![]);
    outsider.canonical_id = other_canonical.clone();
    let mut shared = Acl::private(CANONICAL);
    shared.grants.push(Grant {
        grantee: Grantee::Account(other_canonical.clone()),
        permission: Permission::Read,
    });
    assert!(
        !ask(Some(&outsider), "s3:GetObject", &shared, false, None),
        "a grant to an account needs the account's own permission"
    );
    let allowed = identity(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#);
    outsider.policies = vec![named("s3", &allowed)];
    assert!(ask(Some(&outsider), "s3:GetObject", &shared, false, None));
    assert!(!ask(
        Some(&outsider),
        "s3:GetObject",
        &Acl::private(CANONICAL),
        false,
        None
    ));

    // Inside the owner's account a grant to the account gives nothing by itself...
    let bare = user(ACCOUNT, "bob", vec![]);
    assert!(!ask(
        Some(&bare),
        "s3:GetObject",
        &Acl::private(CANONICAL),
        false,
        None
    ));
    // ...while a group grant does, and a bucket policy Deny still wins.
    let mut everyone = Acl::private(CANONICAL);
    everyone.grants.push(Grant {
        grantee: Grantee::Group(Group::AuthenticatedUsers),
        permission: Permission::FullControl,
    });
    assert!(ask(Some(&bare), "s3:GetObject", &everyone, false, None));
    assert!(!ask(None, "s3:GetObject", &everyone, false, None));
    let deny = bucket_policy(
        r#"{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
    );
    assert!(!ask(
        Some(&bare),
        "s3:GetObject",
        &everyone,
        false,
        Some(&deny)
    ));
}

/// RestrictPublicBuckets: a public policy's grants count only inside the owner's account.
#[test]
fn restricted_public_policy_serves_only_its_account() {
    let facts = Facts::default();
    let public = bucket_policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
    );
    let ask = |principal: Option<&iam::Principal>, restrict: bool| {
        iam::authorize(&iam::Request {
            principal,
            action: "s3:GetObject",
            resource: OBJECT,
            resource_account: Some(ACCOUNT),
            resource_policy: Some(&public),
            restrict_resource_policy_to_account: restrict,
            acl: None,
            now_ms: NOW_MS,
            facts: &facts,
        })
        .allowed
    };
    let insider = user(ACCOUNT, "bob", vec![]);
    let outsider = user(
        OTHER_ACCOUNT,
        "eve",
        vec![named(
            "s3",
            &identity(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#),
        )],
    );
    assert!(ask(None, false));
    assert!(!ask(None, true));
    assert!(ask(Some(&outsider), false));
    assert!(!ask(Some(&outsider), true));
    assert!(ask(Some(&insider), true));
}
