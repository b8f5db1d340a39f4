//! Builds the identities half of the snapshot from the catalog: every
//! active access key and live session mapped to its principal, with the
//! principal's policies parsed once. Secrets are opened with the master key;
//! opened secrets and parsed policies are cached across snapshots so a
//! change costs little however many keys exist.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use engine::crypto::MasterKey;
use iam::snapshot::{AccountInfo, KeyIdentity, SessionBinding};
use s3::shard::BucketPolicy;

use crate::catalog::{Catalog, CatalogError};
use crate::control::iam::aws_managed_policy;
use crate::directory::{
    AccessKeyRecord, AccountRecord, GroupRecord, ManagedPolicyRecord, PolicyHolder, RoleRecord,
    SessionRecord, UserRecord,
};

/// What survives from one snapshot to the next.
#[derive(Default)]
pub struct IdentityCache {
    /// Sealed secret → secret.
    secrets: HashMap<String, String>,
    /// Document → parsed identity policy.
    policies: HashMap<String, Arc<iam::Policy>>,
    /// Document → parsed bucket policy.
    bucket_policies: HashMap<String, Arc<BucketPolicy>>,
    /// Account id → its bandwidth schedule, shared by every shard and kept
    /// across snapshots (a new one would forget the transfers in progress).
    throttles: HashMap<String, Arc<s3::throttle::TenantThrottle>>,
}

/// What stands in for a stored policy that no longer parses (a newer
/// grammar wrote it): a Deny of everything. Leaving it out could drop a
/// Deny it held, so it fails closed, and says so loudly.
const DENY_ALL_POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
const DENY_ALL_BUCKET_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::*","arn:aws:s3:::*/*"]}]}"#;

impl IdentityCache {
    /// Lifts the limits of an account's schedule, if it has one (transfers
    /// still holding it then run unpaced).
    pub fn lift_throttle(&mut self, account: &str) {
        if let Some(throttle) = self.throttles.remove(account) {
            throttle.inbound.set(None);
            throttle.outbound.set(None);
        }
    }

    /// The account's bandwidth schedule, with its limits set as given.
    pub fn throttle(
        &mut self,
        account: &str,
        in_bytes_per_second: Option<u64>,
        out_bytes_per_second: Option<u64>,
    ) -> Arc<s3::throttle::TenantThrottle> {
        let throttle = self
            .throttles
            .entry(account.to_owned())
            .or_default()
            .clone();
        throttle.inbound.set(in_bytes_per_second);
        throttle.outbound.set(out_bytes_per_second);
        throttle
    }

    fn open(
        &mut self,
        master: &MasterKey,
        key_id: &str,
        sealed: &str,
    ) -> Result<String, CatalogError> {
        if let Some(secret) = self.secrets.get(sealed) {
            return Ok(secret.clone());
        }
        let secret =
            super::open_secret(master, key_id, sealed).map_err(CatalogError::Unreadable)?;
        self.secrets.insert(sealed.to_owned(), secret.clone());
        Ok(secret)
    }

    /// A stored policy, parsed once; one that no longer parses denies
    /// everything in its place (`DENY_ALL_POLICY`).
    fn policy(&mut self, name: &str, document: &str, kind: iam::PolicyKind) -> iam::NamedPolicy {
        let parsed = match self.policies.get(document) {
            Some(parsed) => parsed.clone(),
            None => match iam::parse_policy(document, kind) {
                Ok(parsed) => {
                    let parsed = Arc::new(parsed);
                    self.policies.insert(document.to_owned(), parsed.clone());
                    parsed
                }
                Err(err) => {
                    tracing::error!(
                        policy = name,
                        error = %err.message,
                        "stored policy does not parse; it denies everything until replaced"
                    );
                    Arc::new(
                        iam::parse_policy(DENY_ALL_POLICY, iam::PolicyKind::Identity)
                            .expect("the deny-all policy parses"),
                    )
                }
            },
        };
        iam::NamedPolicy {
            name: name.to_owned(),
            policy: parsed,
        }
    }

    /// A bucket's stored policy, parsed once; one that no longer parses
    /// denies everyone but the root (`DENY_ALL_BUCKET_POLICY`).
    pub fn bucket_policy(&mut self, bucket: &str, document: &str) -> Arc<BucketPolicy> {
        if let Some(policy) = self.bucket_policies.get(document) {
            return policy.clone();
        }
        let parsed = iam::parse_policy(document, iam::PolicyKind::Bucket).unwrap_or_else(|err| {
            tracing::error!(
                bucket,
                error = %err.message,
                "stored bucket policy does not parse; it denies everyone but the root until replaced"
            );
            iam::parse_policy(DENY_ALL_BUCKET_POLICY, iam::PolicyKind::Bucket)
                .expect("the deny-all bucket policy parses")
        });
        let policy = Arc::new(BucketPolicy {
            document: document.to_owned(),
            is_public: parsed.is_public(),
            parsed,
        });
        self.bucket_policies
            .insert(document.to_owned(), policy.clone());
        policy
    }

    /// Forgets what the current catalog no longer holds.
    fn retain(&mut self, live_secrets: &HashSet<String>, live_documents: &HashSet<String>) {
        self.secrets
            .retain(|sealed, _| live_secrets.contains(sealed));
        self.policies
            .retain(|document, _| live_documents.contains(document));
    }

    /// Forgets bucket policies no bucket has any more.
    pub fn retain_bucket_policies(&mut self, live: &HashSet<&str>) {
        self.bucket_policies
            .retain(|document, _| live.contains(document.as_str()));
    }
}

/// The identities of a snapshot.
pub struct Identities {
    pub keys: HashMap<String, Arc<KeyIdentity>>,
    pub accounts: HashMap<String, AccountInfo>,
    /// `<account id>/<user name, lower case>` → principal.
    pub users: HashMap<String, Arc<iam::Principal>>,
}

pub fn load_identities(
    catalog: &Catalog,
    master: &MasterKey,
    cache: &mut IdentityCache,
    default_account: &str,
    now_ms: u64,
) -> Result<Identities, CatalogError> {
    let mut accounts = HashMap::new();
    for (_, account) in catalog.all_records::<AccountRecord>()? {
        accounts.insert(
            account.id.clone(),
            AccountInfo {
                id: account.id,
                name: account.name,
                canonical_id: account.canonical_id,
            },
        );
    }
    let mut keys = HashMap::new();
    let mut all_users = HashMap::new();
    let mut live_secrets = HashSet::new();
    let mut live_documents = HashSet::new();
    let root = Arc::new(root_principal(
        accounts.get(default_account),
        default_account,
    ));
    for (access_key, sealed) in catalog.access_keys()? {
        let secret = cache.open(master, &access_key, &sealed)?;
        live_secrets.insert(sealed);
        keys.insert(
            access_key.clone(),
            Arc::new(KeyIdentity {
                access_key_id: access_key,
                secret,
                principal: root.clone(),
                session: None,
            }),
        );
    }
    for account_id in accounts.keys() {
        let account = &accounts[account_id];
        let managed: HashMap<String, String> = catalog
            .records::<ManagedPolicyRecord>(account_id)?
            .into_iter()
            .filter_map(|policy| {
                let arn = format!(
                    "arn:aws:iam::{account_id}:policy{}{}",
                    policy.path, policy.name
                );
                policy.default_document().map(|doc| (arn, doc.to_owned()))
            })
            .collect();
        let groups: HashMap<String, GroupRecord> = catalog
            .records::<GroupRecord>(account_id)?
            .into_iter()
            .map(|group| (group.name.to_ascii_lowercase(), group))
            .collect();
        let collect = |cache: &mut IdentityCache,
                       live_documents: &mut HashSet<String>,
                       label: &str,
                       holder: &PolicyHolder,
                       out: &mut Vec<iam::NamedPolicy>| {
            collect_policies(cache, live_documents, &managed, label, holder, out)
        };
        let mut users: HashMap<String, Arc<iam::Principal>> = HashMap::new();
        let mut users_by_id: HashMap<String, Arc<iam::Principal>> = HashMap::new();
        for user in catalog.records::<UserRecord>(account_id)? {
            let mut policies = Vec::new();
            collect(
                cache,
                &mut live_documents,
                &format!("user {}", user.name),
                &user.policies,
                &mut policies,
            );
            for group_name in &user.groups {
                if let Some(group) = groups.get(&group_name.to_ascii_lowercase()) {
                    collect(
                        cache,
                        &mut live_documents,
                        &format!("group {}", group.name),
                        &group.policies,
                        &mut policies,
                    );
                }
            }
            let principal = iam::Principal {
                kind: iam::PrincipalKind::User,
                account_id: account_id.clone(),
                canonical_id: account.canonical_id.clone(),
                arn: format!("arn:aws:iam::{account_id}:user{}{}", user.path, user.name),
                user_id: user.id.clone(),
                name: user.name.clone(),
                role_arn: None,
                policies,
                session_policies: Vec::new(),
            };
            let principal = Arc::new(principal);
            all_users.insert(
                format!("{account_id}/{}", user.name.to_ascii_lowercase()),
                principal.clone(),
            );
            users_by_id.insert(user.id.clone(), principal.clone());
            users.insert(user.name.to_ascii_lowercase(), principal);
        }
        for key in catalog.records::<AccessKeyRecord>(account_id)? {
            let Some(principal) = users.get(&key.user.to_ascii_lowercase()) else {
                continue;
            };
            if !key.active {
                continue;
            }
            let secret = cache.open(master, &key.id, &key.secret_sealed)?;
            live_secrets.insert(key.secret_sealed.clone());
            keys.insert(
                key.id.clone(),
                Arc::new(KeyIdentity {
                    access_key_id: key.id.clone(),
                    secret,
                    principal: principal.clone(),
                    session: None,
                }),
            );
        }
        let roles: HashMap<String, RoleRecord> = catalog
            .records::<RoleRecord>(account_id)?
            .into_iter()
            .map(|role| (role.name.to_ascii_lowercase(), role))
            .collect();
        for session in catalog.records::<SessionRecord>(account_id)? {
            if session.expires_ms <= now_ms {
                continue;
            }
            let principal = match (&session.role, &session.user_id) {
                (Some(role_name), _) => {
                    let Some(role) = roles.get(&role_name.to_ascii_lowercase()) else {
                        continue;
                    };
                    let mut policies = Vec::new();
                    collect(
                        cache,
                        &mut live_documents,
                        &format!("role {}", role.name),
                        &role.policies,
                        &mut policies,
                    );
                    let mut session_policies: Vec<iam::NamedPolicy> = session
                        .policy
                        .as_deref()
                        .map(|document| {
                            live_documents.insert(document.to_owned());
                            cache.policy("session policy", document, iam::PolicyKind::Session)
                        })
                        .into_iter()
                        .collect();
                    for arn in &session.policy_arns {
                        let document = managed
                            .get(arn)
                            .cloned()
                            .or_else(|| aws_managed_policy(arn).map(str::to_owned))
                            // A session policy deleted since must not widen the
                            // session: it denies in its place.
                            .unwrap_or_else(|| DENY_ALL_POLICY.to_owned());
                        live_documents.insert(document.clone());
                        session_policies.push(cache.policy(
                            arn,
                            &document,
                            iam::PolicyKind::Identity,
                        ));
                    }
                    Arc::new(iam::Principal {
                        kind: iam::PrincipalKind::AssumedRole,
                        account_id: account_id.clone(),
                        canonical_id: account.canonical_id.clone(),
                        arn: format!(
                            "arn:aws:sts::{account_id}:assumed-role/{}/{}",
                            role.name, session.session_name
                        ),
                        user_id: format!("{}:{}", role.id, session.session_name),
                        name: String::new(),
                        role_arn: Some(format!(
                            "arn:aws:iam::{account_id}:role{}{}",
                            role.path, role.name
                        )),
                        policies,
                        session_policies,
                    })
                }
                // A deleted user's sessions end with it.
                (None, Some(user_id)) => match (users_by_id.get(user_id), &session.policy) {
                    (Some(principal), None) => principal.clone(),
                    // A directory user's STS session narrowed by its session
                    // policy (AssumeRoleWithLDAPIdentity's `Policy`).
                    (Some(principal), Some(document)) => {
                        live_documents.insert(document.to_owned());
                        let mut narrowed = (**principal).clone();
                        narrowed.session_policies = vec![cache.policy(
                            "session policy",
                            document,
                            iam::PolicyKind::Session,
                        )];
                        Arc::new(narrowed)
                    }
                    (None, _) => continue,
                },
                (None, None) => root.clone(),
            };
            let secret = cache.open(master, &session.id, &session.secret_sealed)?;
            live_secrets.insert(session.secret_sealed.clone());
            keys.insert(
                session.id.clone(),
                Arc::new(KeyIdentity {
                    access_key_id: session.id.clone(),
                    secret,
                    principal,
                    session: Some(SessionBinding {
                        token: session.token.clone(),
                        expires_ms: session.expires_ms,
                        issued_ms: session.created_ms,
                    }),
                }),
            );
        }
    }
    cache.retain(&live_secrets, &live_documents);
    Ok(Identities {
        keys,
        accounts,
        users: all_users,
    })
}

/// Appends a holder's inline and attached policies, parsed.
fn collect_policies(
    cache: &mut IdentityCache,
    live_documents: &mut HashSet<String>,
    managed: &HashMap<String, String>,
    label: &str,
    holder: &PolicyHolder,
    out: &mut Vec<iam::NamedPolicy>,
) {
    for (name, document) in &holder.inline {
        live_documents.insert(document.clone());
        out.push(cache.policy(
            &format!("{label} inline policy {name}"),
            document,
            iam::PolicyKind::Identity,
        ));
    }
    for arn in &holder.attached {
        let document = managed
            .get(arn)
            .cloned()
            .or_else(|| aws_managed_policy(arn).map(str::to_owned));
        if let Some(document) = document {
            live_documents.insert(document.clone());
            out.push(cache.policy(arn, &document, iam::PolicyKind::Identity));
        }
    }
}

/// The server's administrator: every right, in the default account.
fn root_principal(account: Option<&AccountInfo>, account_id: &str) -> iam::Principal {
    iam::Principal {
        kind: iam::PrincipalKind::SystemRoot,
        account_id: account_id.to_owned(),
        canonical_id: account.map(|a| a.canonical_id.clone()).unwrap_or_default(),
        arn: format!("arn:aws:iam::{account_id}:root"),
        user_id: account_id.to_owned(),
        name: String::new(),
        role_arn: None,
        policies: Vec::new(),
        session_policies: Vec::new(),
    }
}
