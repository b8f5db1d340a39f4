//! Identity provider records: one LDAP/AD directory or OpenID Connect
//! provider of a tenant, as the admin API creates, shows and changes it.
//!
//! Owns: the stored form (secrets sealed with the master key), the
//! validation of every field an admin may send, the public view (never a
//! secret: `bind_password_set` / `client_secret_set` instead), opening a
//! record into what a worker needs, and which tenant role a directory's
//! groups or a token's claims map to. Main items: `IdentityProviderRecord`,
//! `ProviderKind`, `RoleMapping`, `from_body`, `view`, `mapped_role`.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{ldap, oidc};
use engine::crypto::MasterKey;

/// Providers one tenant may configure.
pub const PROVIDERS_PER_TENANT_MAX: usize = 16;
/// Role mappings one provider may hold.
const MAPPINGS_MAX: usize = 100;
/// A DN, filter or URL longer than this is not one.
const FIELD_CHARS_MAX: usize = 1024;
/// A CA bundle for one provider.
const CA_PEM_BYTES_MAX: usize = 64 * 1024;
const TIMEOUT_MS_DEFAULT: u64 = 5000;
const TIMEOUT_MS_MIN: u64 = 200;
const TIMEOUT_MS_MAX: u64 = 30_000;
/// Scopes one OIDC provider may ask for.
const SCOPES_MAX: usize = 20;

/// The roles a mapping may give, most privileged first: when several of a
/// user's groups map, the first of these wins.
pub const MAPPABLE_ROLES: [&str; 4] = ["system-admin", "tenant-admin", "user", "read-only"];

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdentityProviderRecord {
    /// `idp-` and 16 hex digits.
    pub id: String,
    pub name: String,
    pub created_ms: u64,
    pub kind: ProviderKind,
    pub mappings: Vec<RoleMapping>,
    pub timeout_ms: u64,
    /// Trusted roots for the provider's TLS; the system's when absent.
    pub ca_pem: Option<String>,
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ProviderKind {
    Ldap {
        url: String,
        start_tls: bool,
        bind_dn: String,
        bind_password_sealed: Option<String>,
        user_base_dn: String,
        user_filter: String,
        group_base_dn: String,
        group_filter: String,
        nested_groups: bool,
    },
    Oidc {
        issuer: String,
        client_id: String,
        client_secret_sealed: Option<String>,
        scopes: Vec<String>,
        groups_claim: String,
        /// The console's callback as the provider must see it
        /// (`https://console.example.com/api/v1/auth/oidc/callback`); when
        /// absent it comes from the request's Host, which only a provider
        /// matching redirect URIs exactly keeps safe.
        #[serde(default)]
        redirect_uri: Option<String>,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoleMapping {
    /// A group DN (LDAP) or a value of the groups claim (OIDC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// OIDC only: the domain of the verified e-mail claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_domain: Option<String>,
    pub role: String,
}

impl crate::directory::Record for IdentityProviderRecord {
    const KIND: crate::directory::RecordKind = crate::directory::RecordKind::IdentityProvider;
    fn record_name(&self) -> &str {
        &self.id
    }
}

impl std::fmt::Debug for IdentityProviderRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProviderRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("type", &self.type_name())
            .finish()
    }
}

impl IdentityProviderRecord {
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            ProviderKind::Ldap { .. } => "ldap",
            ProviderKind::Oidc { .. } => "oidc",
        }
    }

    pub fn is_oidc(&self) -> bool {
        matches!(self.kind, ProviderKind::Oidc { .. })
    }

    pub fn issuer(&self) -> Option<&str> {
        match &self.kind {
            ProviderKind::Oidc { issuer, .. } => Some(issuer),
            ProviderKind::Ldap { .. } => None,
        }
    }

    /// `ldap:<name>` / `oidc:<name>`: what the session and audit log show.
    pub fn source(&self) -> String {
        format!("{}:{}", self.type_name(), self.name)
    }
}

/// A provider name: what URLs and the console show.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Builds a record from an admin's JSON: `current` is the record a PATCH
/// changes (its fields stand where the body is silent, its secrets stay
/// unless new ones are sent). `default_tenant` allows the system-admin role.
pub fn from_body(
    body: &Value,
    current: Option<&IdentityProviderRecord>,
    master: &MasterKey,
    default_tenant: bool,
) -> Result<IdentityProviderRecord, String> {
    let Some(fields) = body.as_object() else {
        return Err("The body must be a JSON object.".into());
    };
    let known = [
        "name",
        "type",
        "url",
        "start_tls",
        "bind_dn",
        "bind_password",
        "user_base_dn",
        "user_filter",
        "group_base_dn",
        "group_filter",
        "nested_groups",
        "issuer",
        "client_id",
        "client_secret",
        "scopes",
        "groups_claim",
        "mappings",
        "timeout_ms",
        "ca_pem",
        "redirect_uri",
    ];
    if let Some(unknown) = fields.keys().find(|key| !known.contains(&key.as_str())) {
        return Err(format!("Unknown field {unknown:?}."));
    }
    let base = current.map(view).unwrap_or_else(|| json!({}));
    let get = |name: &str| fields.get(name).or_else(|| base.get(name));
    let text = |name: &str| -> Result<Option<String>, String> {
        match get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) if value.chars().count() <= FIELD_CHARS_MAX => {
                if value.chars().any(char::is_control) {
                    Err(format!("{name} must not hold control characters."))
                } else {
                    Ok(Some(value.clone()))
                }
            }
            Some(Value::String(_)) => Err(format!("{name} is longer than {FIELD_CHARS_MAX}.")),
            Some(_) => Err(format!("{name} must be a string.")),
        }
    };
    let required = |name: &str| -> Result<String, String> {
        text(name)?
            .filter(|value| !value.is_empty())
            .ok_or_else(|| format!("{name} is required."))
    };
    let flag = |name: &str, default: bool| -> Result<bool, String> {
        match get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(value)) => Ok(*value),
            Some(_) => Err(format!("{name} must be true or false.")),
        }
    };
    let name = required("name")?;
    if !valid_name(&name) {
        return Err("name must be 1-64 letters, digits, '.', '_' or '-'.".into());
    }
    let type_name = required("type")?;
    if let Some(current) = current {
        if type_name != current.type_name() {
            return Err("type cannot change; create another provider.".into());
        }
    }
    let timeout_ms = match get("timeout_ms") {
        None | Some(Value::Null) => TIMEOUT_MS_DEFAULT,
        Some(value) => value
            .as_u64()
            .filter(|ms| (TIMEOUT_MS_MIN..=TIMEOUT_MS_MAX).contains(ms))
            .ok_or_else(|| {
                format!("timeout_ms must be from {TIMEOUT_MS_MIN} to {TIMEOUT_MS_MAX}.")
            })?,
    };
    let ca_pem = match fields.get("ca_pem") {
        Some(Value::Null) => None,
        Some(Value::String(pem)) if pem.is_empty() => None,
        Some(Value::String(pem)) => {
            if pem.len() > CA_PEM_BYTES_MAX {
                return Err(format!(
                    "ca_pem is larger than {} KiB.",
                    CA_PEM_BYTES_MAX / 1024
                ));
            }
            crate::outbound::tls::client_config_from_pem(Some(pem.as_bytes()))
                .map_err(|err| format!("ca_pem: {err}"))?;
            Some(pem.clone())
        }
        Some(_) => return Err("ca_pem must be a string (PEM).".into()),
        None => current.and_then(|current| current.ca_pem.clone()),
    };
    let secret = |field: &str, sealed: Option<&String>| -> Result<Option<String>, String> {
        match fields.get(field) {
            Some(Value::String(secret)) if secret.len() > FIELD_CHARS_MAX => {
                Err(format!("{field} is longer than {FIELD_CHARS_MAX}."))
            }
            Some(Value::String(secret)) if secret.is_empty() => Ok(None),
            Some(Value::String(secret)) => Ok(Some(master.seal_text(secret.as_bytes()))),
            Some(Value::Null) => Ok(None),
            Some(_) => Err(format!("{field} must be a string.")),
            None => Ok(sealed.cloned()),
        }
    };
    let kind = match type_name.as_str() {
        "ldap" => {
            let url = required("url")?;
            let lower = url.to_ascii_lowercase();
            let (tls, rest) = if let Some(rest) = lower.strip_prefix("ldaps://") {
                (true, rest)
            } else if let Some(rest) = lower.strip_prefix("ldap://") {
                (false, rest)
            } else {
                return Err("url must start with ldap:// or ldaps://.".into());
            };
            let authority = rest.trim_end_matches('/');
            if authority.contains('/') || authority.contains('?') {
                return Err(
                    "url must be ldap[s]://host[:port] (the base DN has its own field).".into(),
                );
            }
            crate::outbound::http_post::parse_authority(authority)
                .map_err(|why| format!("url: {why}."))?;
            let start_tls = flag("start_tls", false)?;
            if start_tls && tls {
                return Err("start_tls is for ldap:// URLs; ldaps:// is TLS already.".into());
            }
            let user_filter = required("user_filter")?;
            if !user_filter.contains("{username}") || !user_filter.starts_with('(') {
                return Err(
                    "user_filter must be a filter holding {username}, e.g. (uid={username})."
                        .into(),
                );
            }
            let group_base_dn = text("group_base_dn")?.unwrap_or_default();
            let group_filter = text("group_filter")?.unwrap_or_default();
            if !group_base_dn.is_empty()
                && (!group_filter.contains("{user_dn}") || !group_filter.starts_with('('))
            {
                return Err(
                    "group_filter must be a filter holding {user_dn}, e.g. (member={user_dn})."
                        .into(),
                );
            }
            let sealed = match current.map(|current| &current.kind) {
                Some(ProviderKind::Ldap {
                    bind_password_sealed,
                    ..
                }) => bind_password_sealed.as_ref(),
                _ => None,
            };
            ProviderKind::Ldap {
                url,
                start_tls,
                bind_dn: text("bind_dn")?.unwrap_or_default(),
                bind_password_sealed: secret("bind_password", sealed)?,
                user_base_dn: required("user_base_dn")?,
                user_filter,
                group_base_dn,
                group_filter,
                nested_groups: flag("nested_groups", true)?,
            }
        }
        "oidc" => {
            // Kept as given: tokens' `iss` must read exactly so (some
            // providers end theirs with a slash).
            let issuer = required("issuer")?;
            let target = crate::outbound::http_post::HttpTarget::parse(&issuer)?;
            if !target.tls && !is_loopback_host(&target.host) {
                return Err("issuer must be an https:// URL (http:// only on loopback).".into());
            }
            if target.path_and_query.contains('?') {
                return Err("issuer must not hold a query.".into());
            }
            let scopes: Vec<String> = match get("scopes") {
                None | Some(Value::Null) => vec!["openid".into(), "profile".into(), "email".into()],
                Some(Value::String(list)) => list.split_whitespace().map(str::to_owned).collect(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or("scopes must be strings.")?,
                Some(_) => return Err("scopes must be a list or a space-separated string.".into()),
            };
            let mut scopes: Vec<String> = scopes.into_iter().filter(|s| !s.is_empty()).collect();
            if !scopes.iter().any(|scope| scope == "openid") {
                scopes.insert(0, "openid".into());
            }
            let scope_ok = |scope: &String| {
                scope.len() <= 128
                    && scope
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
            };
            if scopes.len() > SCOPES_MAX || !scopes.iter().all(scope_ok) {
                return Err(format!(
                    "scopes: at most {SCOPES_MAX} printable scope names."
                ));
            }
            let sealed = match current.map(|current| &current.kind) {
                Some(ProviderKind::Oidc {
                    client_secret_sealed,
                    ..
                }) => client_secret_sealed.as_ref(),
                _ => None,
            };
            let redirect_uri = text("redirect_uri")?.filter(|uri| !uri.is_empty());
            if let Some(uri) = &redirect_uri {
                let target = crate::outbound::http_post::HttpTarget::parse(uri)?;
                if target.path_and_query != "/api/v1/auth/oidc/callback" {
                    return Err(
                        "redirect_uri must be the console's <scheme>://<host>/api/v1/auth/oidc/callback."
                            .into(),
                    );
                }
            }
            ProviderKind::Oidc {
                issuer,
                client_id: required("client_id")?,
                client_secret_sealed: secret("client_secret", sealed)?,
                scopes,
                groups_claim: text("groups_claim")?
                    .filter(|claim| !claim.is_empty())
                    .unwrap_or_else(|| "groups".into()),
                redirect_uri,
            }
        }
        _ => return Err("type must be \"ldap\" or \"oidc\".".into()),
    };
    let mappings = match get("mappings") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => serde_json::from_value::<Vec<RoleMapping>>(value.clone())
            .map_err(|_| "mappings must be a list of {\"group\" or \"email_domain\", \"role\"}.")?,
    };
    if mappings.len() > MAPPINGS_MAX {
        return Err(format!("At most {MAPPINGS_MAX} mappings."));
    }
    for mapping in &mappings {
        let role_ok = MAPPABLE_ROLES.contains(&mapping.role.as_str())
            && (mapping.role != "system-admin" || default_tenant);
        if !role_ok {
            return Err(format!(
                "Unknown role {:?} in a mapping (tenant-admin, user or read-only{}).",
                mapping.role,
                if default_tenant { ", system-admin" } else { "" }
            ));
        }
        let group_ok = mapping
            .group
            .as_ref()
            .is_some_and(|group| !group.is_empty() && group.len() <= FIELD_CHARS_MAX);
        let domain_ok = mapping.email_domain.as_ref().is_some_and(|domain| {
            !domain.is_empty()
                && domain.len() <= 253
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b))
        });
        match (&kind, group_ok, domain_ok) {
            (_, true, false) => {}
            (ProviderKind::Oidc { .. }, false, true) => {}
            (ProviderKind::Ldap { .. }, _, true) => {
                return Err("email_domain mappings are for OIDC providers.".into())
            }
            _ => return Err("Each mapping needs one of group or email_domain, and a role.".into()),
        }
    }
    Ok(IdentityProviderRecord {
        id: current
            .map(|current| current.id.clone())
            .unwrap_or_else(|| format!("idp-{}", hex::encode(rand::random::<[u8; 8]>()))),
        name,
        created_ms: current.map(|current| current.created_ms).unwrap_or(0),
        kind,
        mappings,
        timeout_ms,
        ca_pem,
    })
}

/// What the admin API shows: every field but the secrets.
pub fn view(record: &IdentityProviderRecord) -> Value {
    let mut out = json!({
        "id": record.id,
        "name": record.name,
        "type": record.type_name(),
        "mappings": record.mappings,
        "timeout_ms": record.timeout_ms,
        "ca_pem": record.ca_pem,
    });
    let fields = match &record.kind {
        ProviderKind::Ldap {
            url,
            start_tls,
            bind_dn,
            bind_password_sealed,
            user_base_dn,
            user_filter,
            group_base_dn,
            group_filter,
            nested_groups,
        } => json!({
            "url": url,
            "start_tls": start_tls,
            "bind_dn": bind_dn,
            "bind_password_set": bind_password_sealed.is_some(),
            "user_base_dn": user_base_dn,
            "user_filter": user_filter,
            "group_base_dn": group_base_dn,
            "group_filter": group_filter,
            "nested_groups": nested_groups,
        }),
        ProviderKind::Oidc {
            issuer,
            client_id,
            client_secret_sealed,
            scopes,
            groups_claim,
            redirect_uri,
        } => json!({
            "issuer": issuer,
            "client_id": client_id,
            "client_secret_set": client_secret_sealed.is_some(),
            "scopes": scopes,
            "groups_claim": groups_claim,
            "redirect_uri": redirect_uri,
        }),
    };
    if let (Some(out), Value::Object(fields)) = (out.as_object_mut(), fields) {
        out.extend(fields);
    }
    out
}

/// Seals every provider secret not sealed by the current master key with
/// it (after a master key rotation). Returns how many were sealed anew.
pub fn reseal_secrets(
    catalog: &crate::catalog::Catalog,
    master: &MasterKey,
) -> Result<usize, String> {
    let mut resealed = 0;
    for (account, mut record) in catalog
        .all_records::<IdentityProviderRecord>()
        .map_err(|err| err.to_string())?
    {
        let sealed = match &mut record.kind {
            ProviderKind::Ldap {
                bind_password_sealed,
                ..
            } => bind_password_sealed,
            ProviderKind::Oidc {
                client_secret_sealed,
                ..
            } => client_secret_sealed,
        };
        let Some(text) = sealed.as_mut() else {
            continue;
        };
        if engine::crypto::sealed_text_key_id(text) == Some(master.id()) {
            continue;
        }
        let plain = master
            .open_text(text)
            .map_err(|err| format!("identity provider {}: {err}", record.id))?;
        *text = master.seal_text(&plain);
        resealed += 1;
        catalog
            .write_records(&[crate::directory::RecordChange::put(&account, &record)])
            .map_err(|err| err.to_string())?;
    }
    Ok(resealed)
}

fn open_secret(master: &MasterKey, sealed: Option<&String>) -> Result<String, String> {
    match sealed {
        None => Ok(String::new()),
        Some(sealed) => master
            .open_text(sealed)
            .map_err(|err| format!("a provider secret does not open: {err}"))
            .and_then(|plain| String::from_utf8(plain).map_err(|err| err.to_string())),
    }
}

fn tls_of(record: &IdentityProviderRecord) -> Result<Arc<rustls::ClientConfig>, String> {
    crate::outbound::tls::client_config_from_pem(record.ca_pem.as_deref().map(str::as_bytes))
}

/// The directory as a worker needs it, or why it cannot be used.
pub fn open_ldap(
    record: &IdentityProviderRecord,
    master: &MasterKey,
) -> Result<ldap::LdapProvider, String> {
    let ProviderKind::Ldap {
        url,
        start_tls,
        bind_dn,
        bind_password_sealed,
        user_base_dn,
        user_filter,
        group_base_dn,
        group_filter,
        nested_groups,
    } = &record.kind
    else {
        return Err("not an LDAP provider".into());
    };
    Ok(ldap::LdapProvider {
        id: record.id.clone(),
        url: url.clone(),
        start_tls: *start_tls,
        bind_dn: bind_dn.clone(),
        bind_password: open_secret(master, bind_password_sealed.as_ref())?,
        user_base_dn: user_base_dn.clone(),
        user_filter: user_filter.clone(),
        group_base_dn: group_base_dn.clone(),
        group_filter: group_filter.clone(),
        nested_groups: *nested_groups,
        timeout: Duration::from_millis(record.timeout_ms),
        tls: tls_of(record)?,
    })
}

/// The OpenID provider as a worker needs it, or why it cannot be used.
pub fn open_oidc(
    record: &IdentityProviderRecord,
    master: &MasterKey,
) -> Result<oidc::OidcProvider, String> {
    let ProviderKind::Oidc {
        issuer,
        client_id,
        client_secret_sealed,
        ..
    } = &record.kind
    else {
        return Err("not an OpenID Connect provider".into());
    };
    Ok(oidc::OidcProvider {
        id: record.id.clone(),
        issuer: issuer.clone(),
        client_id: client_id.clone(),
        client_secret: open_secret(master, client_secret_sealed.as_ref())?,
        timeout: Duration::from_millis(record.timeout_ms),
        tls: tls_of(record)?,
    })
}

/// The most privileged role the mappings give to these groups (DNs for
/// LDAP, compared as DNs; claim values for OIDC, compared exactly) or to
/// this e-mail address's domain.
pub fn mapped_role(
    record: &IdentityProviderRecord,
    groups: &[String],
    email: Option<&str>,
) -> Option<&'static str> {
    let ldap = matches!(record.kind, ProviderKind::Ldap { .. });
    let normalized: Vec<String> = if ldap {
        groups
            .iter()
            .map(|group| ldap::normalize_dn(group))
            .collect()
    } else {
        groups.to_vec()
    };
    let domain = email
        .and_then(|email| email.rsplit_once('@'))
        .map(|(_, domain)| domain.to_ascii_lowercase());
    let matches = |mapping: &RoleMapping| {
        let by_group = mapping.group.as_ref().is_some_and(|group| {
            let group = if ldap {
                ldap::normalize_dn(group)
            } else {
                group.clone()
            };
            normalized.contains(&group)
        });
        let by_domain = mapping
            .email_domain
            .as_ref()
            .is_some_and(|wanted| domain.as_deref() == Some(wanted.to_ascii_lowercase().as_str()));
        by_group || by_domain
    };
    MAPPABLE_ROLES.into_iter().find(|role| {
        record
            .mappings
            .iter()
            .any(|mapping| mapping.role == *role && matches(mapping))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> MasterKey {
        MasterKey::new([7u8; 32])
    }

    fn ldap_body() -> Value {
        json!({
            "name": "corp", "type": "ldap", "url": "ldap://127.0.0.1:3890",
            "start_tls": false, "bind_dn": "cn=admin,dc=example,dc=org",
            "bind_password": "s3cret", "user_base_dn": "ou=people,dc=example,dc=org",
            "user_filter": "(uid={username})", "group_base_dn": "ou=groups,dc=example,dc=org",
            "group_filter": "(member={user_dn})",
            "mappings": [
                {"group": "cn=s3-admins,ou=groups,dc=example,dc=org", "role": "tenant-admin"},
                {"group": "cn=s3-readers,ou=groups,dc=example,dc=org", "role": "read-only"}
            ]
        })
    }

    #[test]
    fn secrets_are_sealed_and_never_shown() {
        let record = from_body(&ldap_body(), None, &master(), false).expect("valid");
        let shown = view(&record).to_string();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("\"bind_password_set\":true"));
        let opened = open_ldap(&record, &master()).expect("opens");
        assert_eq!(opened.bind_password, "s3cret");
        // A PATCH without the secret keeps it; with one replaces it.
        let patched = from_body(
            &json!({"bind_dn": "cn=other"}),
            Some(&record),
            &master(),
            false,
        )
        .expect("valid");
        assert_eq!(
            open_ldap(&patched, &master()).unwrap().bind_password,
            "s3cret"
        );
        assert_eq!(patched.id, record.id);
        let replaced = from_body(
            &json!({"bind_password": "new"}),
            Some(&record),
            &master(),
            false,
        )
        .expect("valid");
        assert_eq!(
            open_ldap(&replaced, &master()).unwrap().bind_password,
            "new"
        );
    }

    #[test]
    fn bad_fields_are_refused() {
        let cases = [
            ("user_filter", json!("(uid=alice)")),
            ("group_filter", json!("(member=x)")),
            ("url", json!("http://x")),
            ("url", json!("ldap://h/dc=x")),
            ("name", json!("bad name")),
            ("mappings", json!([{"group": "cn=x", "role": "owner"}])),
            (
                "mappings",
                json!([{"group": "cn=x", "role": "system-admin"}]),
            ),
            (
                "mappings",
                json!([{"email_domain": "x.org", "role": "user"}]),
            ),
            ("timeout_ms", json!(10)),
            ("ca_pem", json!("not pem")),
            ("surprise", json!(1)),
        ];
        for (field, value) in cases {
            let mut body = ldap_body();
            body[field] = value.clone();
            assert!(
                from_body(&body, None, &master(), false).is_err(),
                "{field} = {value}"
            );
        }
        let mut starttls_on_ldaps = ldap_body();
        starttls_on_ldaps["url"] = json!("ldaps://h:636");
        starttls_on_ldaps["start_tls"] = json!(true);
        assert!(from_body(&starttls_on_ldaps, None, &master(), false).is_err());
        let oidc = json!({"name": "kc", "type": "oidc", "issuer": "http://idp.example.com",
                          "client_id": "c", "client_secret": "s"});
        assert!(
            from_body(&oidc, None, &master(), false).is_err(),
            "http off loopback"
        );
    }

    #[test]
    fn the_most_privileged_mapped_role_wins() {
        let record = from_body(&ldap_body(), None, &master(), false).unwrap();
        let readers = "CN=s3-readers, ou=groups,dc=example,dc=org".to_owned();
        let admins = "cn=s3-admins,ou=groups,dc=example,dc=org".to_owned();
        assert_eq!(
            mapped_role(&record, std::slice::from_ref(&readers), None),
            Some("read-only")
        );
        assert_eq!(
            mapped_role(&record, &[readers, admins], None),
            Some("tenant-admin")
        );
        assert_eq!(mapped_role(&record, &["cn=other".into()], None), None);
        let oidc = from_body(
            &json!({"name": "kc", "type": "oidc", "issuer": "http://127.0.0.1:5556",
                    "client_id": "c", "client_secret": "s", "scopes": "openid groups",
                    "mappings": [{"group": "s3-users", "role": "user"},
                                 {"email_domain": "Example.org", "role": "read-only"}]}),
            None,
            &master(),
            false,
        )
        .unwrap();
        assert_eq!(mapped_role(&oidc, &["s3-users".into()], None), Some("user"));
        assert_eq!(
            mapped_role(&oidc, &[], Some("bob@example.ORG")),
            Some("read-only")
        );
        assert_eq!(mapped_role(&oidc, &["S3-USERS".into()], None), None);
        assert_eq!(view(&oidc)["scopes"], json!(["openid", "groups"]));
    }
}
