//! LDAP and Active Directory sign-in: find the user with the service
//! account, bind as the user with the password given, then collect the
//! user's groups (and, when asked, the groups those groups are in).
//!
//! Owns: escaping the login name and DNs into search filters (RFC 4515), so
//! `*)(uid=*` finds nothing; telling a wrong password from an unreachable
//! directory; the per-provider pool of idle service-bound connections; the
//! bounds on what a directory may answer (entries, groups, nesting depth).
//! Runs on federation worker threads only (the blocking `ldap3` client with
//! its own small runtime per connection). Main items: `LdapProvider`,
//! `LdapIdentity`, `authenticate`, `Pool`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ldap3::{LdapConn, LdapConnSettings, LdapError, Scope, SearchEntry};

use super::FederationError;

/// Groups one user may be found in (nested ones included); beyond this the
/// rest are ignored, so a directory cannot make a sign-in unbounded.
const GROUPS_MAX: usize = 1000;
/// How deep nested groups are followed.
const NESTING_DEPTH_MAX: usize = 8;
/// The group searches of one sign-in together get this many timeouts.
const GROUP_SEARCH_TIMEOUTS: u32 = 3;
/// Idle service-bound connections kept per provider.
const IDLE_CONNECTIONS_MAX: usize = 4;
/// An idle connection older than this is closed rather than reused
/// (directories drop idle clients; a stale one would cost a timeout).
const IDLE_MS_MAX: u64 = 60_000;
/// LDAP result code for a wrong password or unknown bind DN (RFC 4511).
const RC_INVALID_CREDENTIALS: u32 = 49;

/// A directory as a sign-in needs it, the bind password opened.
#[derive(Clone)]
pub struct LdapProvider {
    pub id: String,
    /// `ldap://host:port` or `ldaps://host:port`.
    pub url: String,
    pub start_tls: bool,
    pub bind_dn: String,
    pub bind_password: String,
    pub user_base_dn: String,
    /// Holds `{username}`.
    pub user_filter: String,
    pub group_base_dn: String,
    /// Holds `{user_dn}`.
    pub group_filter: String,
    pub nested_groups: bool,
    pub timeout: Duration,
    /// Trusted roots for ldaps:// and StartTLS.
    pub tls: Arc<rustls::ClientConfig>,
}

impl LdapProvider {
    /// Where idle connections of this provider wait: the id and a digest of
    /// what a connection was made and bound with, so a connection made
    /// before the provider changed is never handed out after it.
    fn pool_key(&self) -> String {
        use sha2::Digest;
        let mut digest = sha2::Sha256::new();
        for part in [
            self.url.as_str(),
            self.bind_dn.as_str(),
            self.bind_password.as_str(),
            if self.start_tls { "starttls" } else { "" },
        ] {
            digest.update(part.as_bytes());
            digest.update([0u8]);
        }
        format!("{}/{}", self.id, hex::encode(&digest.finalize()[..8]))
    }
}

impl std::fmt::Debug for LdapProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapProvider")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("bind_dn", &self.bind_dn)
            .finish()
    }
}

/// Who signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapIdentity {
    pub dn: String,
    /// The DNs of the user's groups, nested ones included when asked.
    pub groups: Vec<String>,
}

/// Whether a login name can be searched for at all: filter metacharacters
/// are refused outright (escaping would also make them harmless, but no
/// real login holds them, and refusing says so in the audit log).
pub fn login_is_searchable(login: &str) -> bool {
    !login.is_empty()
        && login.len() <= 256
        && !login
            .chars()
            .any(|c| matches!(c, '*' | '(' | ')' | '\\' | '\0') || c.is_control())
}

/// RFC 4515 escaping of a value placed inside a filter: the filter's own
/// characters become `\xx`; every other byte (UTF-8 included) stays.
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' | '(' | ')' | '\\' | '\0' => out.push_str(&format!("\\{:02x}", c as u8)),
            _ => out.push(c),
        }
    }
    out
}

/// Idle connections bound as each provider's service account.
#[derive(Default)]
pub struct Pool {
    idle: Mutex<HashMap<String, VecDeque<(LdapConn, Instant)>>>,
}

impl Pool {
    fn take(&self, provider_id: &str) -> Option<LdapConn> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let connections = idle.get_mut(provider_id)?;
        while let Some((connection, since)) = connections.pop_front() {
            if since.elapsed() < Duration::from_millis(IDLE_MS_MAX) {
                return Some(connection);
            }
        }
        None
    }

    fn give_back(&self, provider_id: &str, connection: LdapConn) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let connections = idle.entry(provider_id.to_owned()).or_default();
        if connections.len() < IDLE_CONNECTIONS_MAX {
            connections.push_back((connection, Instant::now()));
        }
    }

    /// Drops the idle connections of a provider (every configuration of it).
    pub fn forget(&self, provider_id: &str) {
        let prefix = format!("{provider_id}/");
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|key, _| !key.starts_with(&prefix));
    }
}

/// What an LDAP failure means for the sign-in.
fn classify(err: LdapError) -> FederationError {
    match err {
        LdapError::LdapResult { result } if result.rc == RC_INVALID_CREDENTIALS => {
            FederationError::InvalidCredentials
        }
        LdapError::LdapResult { result } => FederationError::Refused(format!(
            "the directory answered code {}{}",
            result.rc,
            if result.text.is_empty() {
                String::new()
            } else {
                format!(" ({})", result.text.chars().take(200).collect::<String>())
            }
        )),
        LdapError::Timeout { .. } => FederationError::Unavailable("no answer in time".into()),
        other => FederationError::Unavailable(other.to_string().chars().take(300).collect()),
    }
}

fn connect(provider: &LdapProvider) -> Result<LdapConn, FederationError> {
    let settings = LdapConnSettings::new()
        .set_conn_timeout(provider.timeout)
        .set_config(Arc::clone(&provider.tls))
        .set_starttls(provider.start_tls);
    let mut connection = LdapConn::with_settings(settings, &provider.url).map_err(classify)?;
    connection.with_timeout(provider.timeout);
    Ok(connection)
}

/// A connection bound as the service account (or anonymous when no bind DN
/// is set), from the pool when one is idle.
fn service_connection(pool: &Pool, provider: &LdapProvider) -> Result<LdapConn, FederationError> {
    if let Some(mut connection) = pool.take(&provider.pool_key()) {
        if !connection.is_closed() {
            connection.with_timeout(provider.timeout);
            return Ok(connection);
        }
    }
    let mut connection = connect(provider)?;
    if !provider.bind_dn.is_empty() {
        connection.with_timeout(provider.timeout);
        let bound = connection
            .with_timeout(provider.timeout)
            .simple_bind(&provider.bind_dn, &provider.bind_password)
            .and_then(|result| result.success());
        if let Err(err) = bound {
            return Err(match classify(err) {
                // The service account's own password is an operator error,
                // not the user's.
                FederationError::InvalidCredentials => FederationError::Refused(
                    "the directory refused the service account's bind (check bind_dn and \
                     bind_password)"
                        .into(),
                ),
                other => other,
            });
        }
    }
    Ok(connection)
}

/// Signs `login` in with `password`: the user's DN, groups and e-mail.
pub fn authenticate(
    pool: &Pool,
    provider: &LdapProvider,
    login: &str,
    password: &str,
) -> Result<LdapIdentity, FederationError> {
    // An empty password is an "unauthenticated bind" that many directories
    // accept as anonymous: it must never count as a sign-in.
    if !login_is_searchable(login) || password.is_empty() {
        return Err(FederationError::InvalidCredentials);
    }
    let mut service = service_connection(pool, provider)?;
    let filter = provider
        .user_filter
        .replace("{username}", &escape_filter_value(login));
    let found = service
        .with_timeout(provider.timeout)
        .search(
            &provider.user_base_dn,
            Scope::Subtree,
            &filter,
            // Only the entry's DN is needed: `1.1` asks for no attributes.
            vec!["1.1"],
        )
        .and_then(|result| result.success())
        .map_err(classify)?;
    let entries: Vec<SearchEntry> = found.0.into_iter().map(SearchEntry::construct).collect();
    let user = match entries.as_slice() {
        [one] => one.clone(),
        [] => {
            pool.give_back(&provider.pool_key(), service);
            return Err(FederationError::InvalidCredentials);
        }
        _ => {
            pool.give_back(&provider.pool_key(), service);
            return Err(FederationError::Refused(
                "the user filter matches more than one entry".into(),
            ));
        }
    };
    // The user's own bind, on a connection of its own: the pooled one stays
    // bound as the service account.
    let mut as_user = connect(provider)?;
    let bound = as_user
        .with_timeout(provider.timeout)
        .simple_bind(&user.dn, password)
        .and_then(|result| result.success());
    let _ = as_user.with_timeout(provider.timeout).unbind();
    bound.map_err(classify)?;
    let groups = if provider.group_base_dn.is_empty() {
        Vec::new()
    } else {
        user_groups(&mut service, provider, &user.dn)?
    };
    pool.give_back(&provider.pool_key(), service);
    Ok(LdapIdentity {
        dn: user.dn,
        groups,
    })
}

/// The groups whose `group_filter` matches the user, and with nesting the
/// groups matching those groups, breadth first, bounded.
fn user_groups(
    service: &mut LdapConn,
    provider: &LdapProvider,
    user_dn: &str,
) -> Result<Vec<String>, FederationError> {
    let mut found: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut level: Vec<String> = vec![user_dn.to_owned()];
    // Each search has the timeout; all of them together get a few.
    let started = Instant::now();
    for _ in 0..NESTING_DEPTH_MAX {
        let mut next = Vec::new();
        for member in &level {
            if started.elapsed() > provider.timeout * GROUP_SEARCH_TIMEOUTS {
                return Err(FederationError::Unavailable(
                    "the group searches took too long".into(),
                ));
            }
            let filter = provider
                .group_filter
                .replace("{user_dn}", &escape_filter_value(member));
            let (entries, _) = service
                .with_timeout(provider.timeout)
                .search(
                    &provider.group_base_dn,
                    Scope::Subtree,
                    &filter,
                    vec!["1.1"],
                )
                .and_then(|result| result.success())
                .map_err(classify)?;
            for entry in entries {
                let dn = SearchEntry::construct(entry).dn;
                if found.len() < GROUPS_MAX && seen.insert(normalize_dn(&dn)) {
                    found.push(dn.clone());
                    next.push(dn);
                }
            }
        }
        if !provider.nested_groups || next.is_empty() {
            break;
        }
        level = next;
    }
    Ok(found)
}

/// A DN compared as directories compare them for mappings: case-insensitive,
/// without the spaces around the separators.
pub fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            format!(
                "{}={}",
                name.trim().to_ascii_lowercase(),
                value.trim().to_lowercase()
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_escaped_per_rfc_4515() {
        assert_eq!(escape_filter_value("alice"), "alice");
        assert_eq!(escape_filter_value("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
        assert_eq!(escape_filter_value("a\\b\0"), "a\\5cb\\00");
        assert_eq!(
            escape_filter_value("cn=Jürgen (HR),ou=people"),
            "cn=Jürgen \\28HR\\29,ou=people"
        );
    }

    #[test]
    fn injection_logins_are_not_searched() {
        for login in ["*", "*)(uid=*", "alice)(|(uid=*", "a\\2a", "", "a\nb"] {
            assert!(!login_is_searchable(login), "{login:?}");
        }
        assert!(login_is_searchable("alice.smith@example.org"));
        assert!(!login_is_searchable(&"a".repeat(257)));
    }

    #[test]
    fn dns_compare_without_case_or_spaces() {
        assert_eq!(
            normalize_dn("CN=S3 Admins, OU=Groups,DC=Example,DC=org"),
            normalize_dn("cn=s3 admins,ou=groups,dc=example,dc=org")
        );
        assert_ne!(
            normalize_dn("cn=s3-admins,ou=groups"),
            normalize_dn("cn=s3-readers,ou=groups")
        );
    }
}
