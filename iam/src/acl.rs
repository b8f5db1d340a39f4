//! Access control lists as pure data: an owner and its grants, the canned
//! ACLs, which S3 actions each permission allows (AWS's "Mapping of ACL
//! permissions and access policy permissions"), what makes an ACL public,
//! and the compact text form the server stores.
//!
//! An ACL grant names an account (by canonical id) or a group, never a user:
//! a grant to an account is delegated to that account's own policies, as a
//! bucket policy naming only the account is, while the AllUsers and
//! AuthenticatedUsers groups are granted directly. The evaluation that
//! combines grants with policies is in `eval`.

use crate::principal::Principal;

/// The group URIs AWS uses in Grantee elements.
pub const ALL_USERS_URI: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS_URI: &str =
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
pub const LOG_DELIVERY_URI: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// AWS's limit on grants in one ACL.
pub const GRANTS_MAX: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    AllUsers,
    AuthenticatedUsers,
    LogDelivery,
}

impl Group {
    pub fn uri(self) -> &'static str {
        match self {
            Group::AllUsers => ALL_USERS_URI,
            Group::AuthenticatedUsers => AUTHENTICATED_USERS_URI,
            Group::LogDelivery => LOG_DELIVERY_URI,
        }
    }

    pub fn from_uri(uri: &str) -> Option<Group> {
        [
            Group::AllUsers,
            Group::AuthenticatedUsers,
            Group::LogDelivery,
        ]
        .into_iter()
        .find(|group| group.uri() == uri)
    }

    fn stored_name(self) -> &'static str {
        match self {
            Group::AllUsers => "AllUsers",
            Group::AuthenticatedUsers => "AuthenticatedUsers",
            Group::LogDelivery => "LogDelivery",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Grantee {
    /// An account, by its canonical user id (64 hex characters).
    Account(String),
    Group(Group),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    Read,
    Write,
    ReadAcp,
    WriteAcp,
    FullControl,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Permission::Read,
        Permission::Write,
        Permission::ReadAcp,
        Permission::WriteAcp,
        Permission::FullControl,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "READ",
            Permission::Write => "WRITE",
            Permission::ReadAcp => "READ_ACP",
            Permission::WriteAcp => "WRITE_ACP",
            Permission::FullControl => "FULL_CONTROL",
        }
    }

    pub fn parse(text: &str) -> Option<Permission> {
        Permission::ALL
            .into_iter()
            .find(|permission| permission.as_str() == text)
    }

    /// The `x-amz-grant-*` header that carries this permission.
    pub fn header(self) -> &'static str {
        match self {
            Permission::Read => "x-amz-grant-read",
            Permission::Write => "x-amz-grant-write",
            Permission::ReadAcp => "x-amz-grant-read-acp",
            Permission::WriteAcp => "x-amz-grant-write-acp",
            Permission::FullControl => "x-amz-grant-full-control",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: Permission,
}

/// What an ACL is attached to: the mapping from permissions to actions differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclTarget {
    Bucket,
    Object,
}

/// An access control list: the owner (canonical id) and its grants in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    pub owner: String,
    pub grants: Vec<Grant>,
}

/// How an ACL lets a principal do an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclGrant {
    /// No grant covers it.
    None,
    /// A grant to the principal's account: like a resource policy naming the
    /// account, it needs the account's own policies to allow the action too.
    Account,
    /// A grant to a group the principal is in (AllUsers, AuthenticatedUsers).
    Direct,
}

/// The canned ACLs AWS defines (`x-amz-acl`).
pub const CANNED: [&str; 8] = [
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
];

impl Acl {
    /// The owner's FULL_CONTROL and nothing else (`private`).
    pub fn private(owner: &str) -> Acl {
        Acl {
            owner: owner.to_owned(),
            grants: vec![Grant {
                grantee: Grantee::Account(owner.to_owned()),
                permission: Permission::FullControl,
            }],
        }
    }

    /// The ACL a canned name stands for; `bucket_owner` is the canonical id
    /// of the bucket's owner (the `bucket-owner-*` ACLs grant it on objects).
    /// `None` for an unknown name.
    pub fn canned(name: &str, owner: &str, bucket_owner: &str) -> Option<Acl> {
        let mut acl = Acl::private(owner);
        let mut grant = |grantee: Grantee, permission: Permission| {
            let grant = Grant {
                grantee,
                permission,
            };
            if !acl.grants.contains(&grant) {
                acl.grants.push(grant);
            }
        };
        match name {
            "private" => {}
            "public-read" => grant(Grantee::Group(Group::AllUsers), Permission::Read),
            "public-read-write" => {
                grant(Grantee::Group(Group::AllUsers), Permission::Read);
                grant(Grantee::Group(Group::AllUsers), Permission::Write);
            }
            "authenticated-read" => {
                grant(Grantee::Group(Group::AuthenticatedUsers), Permission::Read)
            }
            // The EC2 bundle reader is an AWS service that does not exist here.
            "aws-exec-read" => {}
            "bucket-owner-read" if bucket_owner != owner => {
                grant(Grantee::Account(bucket_owner.to_owned()), Permission::Read)
            }
            "bucket-owner-full-control" if bucket_owner != owner => grant(
                Grantee::Account(bucket_owner.to_owned()),
                Permission::FullControl,
            ),
            "bucket-owner-read" | "bucket-owner-full-control" => {}
            "log-delivery-write" => {
                grant(Grantee::Group(Group::LogDelivery), Permission::Write);
                grant(Grantee::Group(Group::LogDelivery), Permission::ReadAcp);
            }
            _ => return None,
        }
        Some(acl)
    }

    /// AWS counts an ACL public when it grants anything to AllUsers or
    /// AuthenticatedUsers ("The meaning of public").
    pub fn is_public(&self) -> bool {
        self.grants
            .iter()
            .any(|grant| is_public_grantee(&grant.grantee))
    }

    /// Grants nothing to anyone but `account` (the bucket owner), so it can
    /// stay on a bucket whose ACLs are disabled.
    pub fn only_grants_to(&self, account: &str) -> bool {
        self.grants
            .iter()
            .all(|grant| grant.grantee == Grantee::Account(account.to_owned()))
    }

    /// Whether this ACL lets `principal` (None: anonymous) do `action_lower`
    /// (an `s3:` action in lower case). Grants to AllUsers and
    /// AuthenticatedUsers are skipped when `ignore_public` (IgnorePublicAcls).
    pub fn grant_for(
        &self,
        target: AclTarget,
        principal: Option<&Principal>,
        action_lower: &str,
        ignore_public: bool,
    ) -> AclGrant {
        let Some(needed) = permission_for(target, action_lower) else {
            return AclGrant::None;
        };
        let mut best = AclGrant::None;
        for grant in &self.grants {
            let covers = grant.permission == needed || grant.permission == Permission::FullControl;
            if !covers {
                continue;
            }
            match &grant.grantee {
                Grantee::Group(Group::AllUsers) if !ignore_public => return AclGrant::Direct,
                Grantee::Group(Group::AuthenticatedUsers)
                    if !ignore_public && principal.is_some() =>
                {
                    return AclGrant::Direct
                }
                Grantee::Account(id) if principal.is_some_and(|p| p.canonical_id == *id) => {
                    best = AclGrant::Account;
                }
                _ => {}
            }
        }
        best
    }

    /// The stored form: the owner on the first line, then one grant per
    /// line as `<PERMISSION> id <canonical id>` or `<PERMISSION> group <name>`.
    pub fn to_stored(&self) -> String {
        let mut out = self.owner.clone();
        for grant in &self.grants {
            out.push('\n');
            out.push_str(grant.permission.as_str());
            match &grant.grantee {
                Grantee::Account(id) => {
                    out.push_str(" id ");
                    out.push_str(id);
                }
                Grantee::Group(group) => {
                    out.push_str(" group ");
                    out.push_str(group.stored_name());
                }
            }
        }
        out
    }

    /// Reads [`Acl::to_stored`]'s form; `None` if it is damaged.
    pub fn from_stored(text: &str) -> Option<Acl> {
        let mut lines = text.split('\n');
        let owner = lines.next()?.to_owned();
        let mut grants = Vec::new();
        for line in lines {
            let mut parts = line.splitn(3, ' ');
            let permission = Permission::parse(parts.next()?)?;
            let grantee = match (parts.next()?, parts.next()?) {
                ("id", id) => Grantee::Account(id.to_owned()),
                ("group", name) => Grantee::Group(
                    [
                        Group::AllUsers,
                        Group::AuthenticatedUsers,
                        Group::LogDelivery,
                    ]
                    .into_iter()
                    .find(|group| group.stored_name() == name)?,
                ),
                _ => return None,
            };
            grants.push(Grant {
                grantee,
                permission,
            });
        }
        Some(Acl { owner, grants })
    }
}

fn is_public_grantee(grantee: &Grantee) -> bool {
    matches!(
        grantee,
        Grantee::Group(Group::AllUsers) | Grantee::Group(Group::AuthenticatedUsers)
    )
}

/// The permission an action needs on a bucket or object ACL; `None` when no
/// ACL permission covers the action (it can then only come from policies).
/// `action` is compared without regard to case.
pub fn permission_for(target: AclTarget, action: &str) -> Option<Permission> {
    let table: &[(&str, Permission)] = match target {
        AclTarget::Bucket => &[
            ("s3:ListBucket", Permission::Read),
            ("s3:ListBucketVersions", Permission::Read),
            ("s3:ListBucketMultipartUploads", Permission::Read),
            ("s3:PutObject", Permission::Write),
            ("s3:DeleteObject", Permission::Write),
            ("s3:GetBucketAcl", Permission::ReadAcp),
            ("s3:PutBucketAcl", Permission::WriteAcp),
        ],
        AclTarget::Object => &[
            ("s3:GetObject", Permission::Read),
            ("s3:GetObjectVersion", Permission::Read),
            ("s3:GetObjectAcl", Permission::ReadAcp),
            ("s3:GetObjectVersionAcl", Permission::ReadAcp),
            ("s3:PutObjectAcl", Permission::WriteAcp),
            ("s3:PutObjectVersionAcl", Permission::WriteAcp),
        ],
    };
    table
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(action))
        .map(|(_, permission)| *permission)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::PrincipalKind;

    const OWNER: &str = "aaaa";
    const OTHER: &str = "bbbb";

    fn principal(canonical_id: &str) -> Principal {
        Principal {
            kind: PrincipalKind::User,
            account_id: "111122223333".into(),
            canonical_id: canonical_id.into(),
            arn: "arn:aws:iam::111122223333:user/u".into(),
            user_id: "AIDAX".into(),
            name: "u".into(),
            role_arn: None,
            policies: Vec::new(),
            session_policies: Vec::new(),
        }
    }

    #[test]
    fn canned_acls_grant_what_aws_lists() {
        let read = Acl::canned("public-read", OWNER, OWNER).unwrap();
        assert_eq!(read.grants.len(), 2);
        assert!(read.is_public());
        let rw = Acl::canned("public-read-write", OWNER, OWNER).unwrap();
        assert_eq!(rw.grants.len(), 3);
        let authenticated = Acl::canned("authenticated-read", OWNER, OWNER).unwrap();
        assert!(
            authenticated.is_public(),
            "AuthenticatedUsers counts as public"
        );
        let full = Acl::canned("bucket-owner-full-control", OTHER, OWNER).unwrap();
        assert_eq!(
            full.grants[1],
            Grant {
                grantee: Grantee::Account(OWNER.into()),
                permission: Permission::FullControl
            }
        );
        // The object and bucket owner are one: nothing to add.
        assert_eq!(
            Acl::canned("bucket-owner-full-control", OWNER, OWNER).unwrap(),
            Acl::private(OWNER)
        );
        assert!(!Acl::canned("log-delivery-write", OWNER, OWNER)
            .unwrap()
            .is_public());
        assert!(Acl::canned("world-readable", OWNER, OWNER).is_none());
    }

    #[test]
    fn grants_map_to_actions_by_target() {
        let acl = Acl::canned("public-read", OWNER, OWNER).unwrap();
        let object = AclTarget::Object;
        assert_eq!(
            acl.grant_for(object, None, "s3:getobject", false),
            AclGrant::Direct
        );
        assert_eq!(
            acl.grant_for(object, None, "s3:getobject", true),
            AclGrant::None,
            "IgnorePublicAcls"
        );
        assert_eq!(
            acl.grant_for(object, None, "s3:putobjectacl", false),
            AclGrant::None
        );
        // READ on a bucket lists it; it does not read its objects.
        assert_eq!(
            acl.grant_for(AclTarget::Bucket, None, "s3:listbucket", false),
            AclGrant::Direct
        );
        assert_eq!(
            acl.grant_for(AclTarget::Bucket, None, "s3:getobject", false),
            AclGrant::None
        );
        let other = principal(OTHER);
        let mut shared = Acl::private(OWNER);
        shared.grants.push(Grant {
            grantee: Grantee::Account(OTHER.into()),
            permission: Permission::Write,
        });
        assert_eq!(
            shared.grant_for(AclTarget::Bucket, Some(&other), "s3:putobject", false),
            AclGrant::Account
        );
        assert_eq!(
            shared.grant_for(AclTarget::Bucket, Some(&other), "s3:listbucket", false),
            AclGrant::None
        );
        let authenticated = Acl::canned("authenticated-read", OWNER, OWNER).unwrap();
        assert_eq!(
            authenticated.grant_for(object, None, "s3:getobject", false),
            AclGrant::None,
            "anonymous callers are not authenticated users"
        );
        assert_eq!(
            authenticated.grant_for(object, Some(&other), "s3:getobject", false),
            AclGrant::Direct
        );
    }

    #[test]
    fn stored_form_round_trips() {
        let mut acl = Acl::canned("public-read-write", OWNER, OWNER).unwrap();
        acl.grants.push(Grant {
            grantee: Grantee::Account(OTHER.into()),
            permission: Permission::ReadAcp,
        });
        assert_eq!(Acl::from_stored(&acl.to_stored()), Some(acl));
        assert_eq!(
            Acl::from_stored(OWNER),
            Some(Acl {
                owner: OWNER.into(),
                grants: Vec::new()
            })
        );
        assert_eq!(Acl::from_stored("aaaa\nREAD people x"), None);
        assert_eq!(Acl::from_stored("aaaa\nREAD group Everyone"), None);
    }

    #[test]
    fn only_owner_grants_stay_on_disabled_acls() {
        assert!(Acl::private(OWNER).only_grants_to(OWNER));
        assert!(!Acl::canned("public-read", OWNER, OWNER)
            .unwrap()
            .only_grants_to(OWNER));
    }
}
