//! Notification targets: the webhooks a tenant's buckets may send their
//! event notifications to, kept as catalog records of the tenant (kind
//! `notification-target`). A system admin creates them (the server then
//! POSTs to that URL: letting tenants choose would let them reach any
//! address the server can), the tenant's admins see them.
//!
//! Owns: the record, its validation, and opening it into what a delivery
//! thread needs ([`TargetSpec`]). The `Authorization` value is sealed with
//! the master key and never answered (`auth_header_set`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::outbound::http_post::HttpTarget;
use engine::crypto::MasterKey;

/// Targets one tenant may have.
pub const TARGETS_PER_TENANT_MAX: usize = 32;
/// A name is part of an ARN and of a metric label: short and plain.
pub const TARGET_NAME_BYTES_MAX: usize = 64;
/// A private CA bundle is a few certificates.
pub const CA_PEM_BYTES_MAX: usize = 64 * 1024;
/// An `Authorization` value (a bearer token, basic credentials).
pub const AUTH_HEADER_BYTES_MAX: usize = 8 * 1024;

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NotificationTargetRecord {
    /// Unique across every target ever made (random): names the target's
    /// queue directory, so a target deleted and made again starts empty.
    pub id: String,
    /// Unique in the tenant; the last part of the target's ARN.
    pub name: String,
    /// `http://` or `https://`.
    pub url: String,
    /// The `Authorization` header sent with each POST, sealed.
    pub auth_header_sealed: Option<String>,
    /// Certificates trusted for an https URL besides the system's roots.
    pub ca_pem: Option<String>,
    pub created_ms: u64,
}

impl crate::directory::Record for NotificationTargetRecord {
    const KIND: crate::directory::RecordKind = crate::directory::RecordKind::NotificationTarget;
    fn record_name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Debug for NotificationTargetRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationTargetRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("auth_header_set", &self.auth_header_sealed.is_some())
            .finish()
    }
}

/// A target name: 1-64 letters, digits, `-` and `_`.
pub fn valid_name(name: &str) -> bool {
    (1..=TARGET_NAME_BYTES_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks a URL as a delivery thread will use it.
pub fn url_check(url: &str) -> Result<HttpTarget, String> {
    HttpTarget::parse(url)
}

/// Checks a CA bundle parses into a TLS configuration.
pub fn ca_check(pem: &str) -> Result<(), String> {
    if pem.len() > CA_PEM_BYTES_MAX {
        return Err(format!("ca_pem is at most {CA_PEM_BYTES_MAX} bytes"));
    }
    crate::outbound::tls::client_config_from_pem(Some(pem.as_bytes())).map(|_| ())
}

/// An `Authorization` value must be one header line.
pub fn auth_header_check(value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > AUTH_HEADER_BYTES_MAX {
        return Err(format!("auth_header is 1 to {AUTH_HEADER_BYTES_MAX} bytes"));
    }
    // What the HTTP client will send: no control character of any kind
    // (C0, DEL, C1), so that a value accepted here is never one every
    // delivery then refuses.
    if value.chars().any(char::is_control) {
        return Err("auth_header may not hold control characters".into());
    }
    Ok(())
}

/// A random id, 32 hex digits.
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// What a delivery thread needs of a target, secrets opened.
#[derive(Clone)]
pub struct TargetSpec {
    /// `<account id>/<name>`: what events name.
    pub key: String,
    pub id: String,
    pub http: HttpTarget,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// Opens a record for delivery. A URL, CA or secret that no longer opens
/// (a damaged catalog, a master key missing) keeps the target with a
/// delivery that fails and says why, so its events wait rather than vanish.
pub fn spec(account_id: &str, record: &NotificationTargetRecord, master: &MasterKey) -> TargetSpec {
    let mut http = HttpTarget::parse(&record.url).unwrap_or_else(|err| {
        tracing::error!(target_name = %record.name, %err, "notification target URL does not parse");
        HttpTarget {
            tls: false,
            host: "invalid.".into(),
            port: 9,
            path_and_query: "/".into(),
            authorization: None,
        }
    });
    http.authorization = record.auth_header_sealed.as_deref().and_then(|sealed| {
        master
            .open_text(sealed)
            .ok()
            .and_then(|plain| String::from_utf8(plain).ok())
            .or_else(|| {
                tracing::error!(target_name = %record.name, "notification target auth_header does not open");
                None
            })
    });
    let tls = http.tls.then(|| {
        crate::outbound::tls::client_config_from_pem(record.ca_pem.as_deref().map(str::as_bytes))
            .map_err(
                |err| tracing::error!(target_name = %record.name, %err, "notification target CA"),
            )
            .ok()
    });
    TargetSpec {
        key: format!("{account_id}/{}", record.name),
        id: record.id.clone(),
        http,
        tls: tls.flatten(),
    }
}

/// Seals again with the current master key every secret sealed with an
/// earlier one; returns how many were.
pub fn reseal_secrets(
    catalog: &crate::catalog::Catalog,
    master: &MasterKey,
) -> Result<usize, crate::catalog::CatalogError> {
    let mut resealed = 0;
    for (account, mut record) in catalog.all_records::<NotificationTargetRecord>()? {
        let Some(sealed) = record.auth_header_sealed.as_deref() else {
            continue;
        };
        if engine::crypto::sealed_text_key_id(sealed) == Some(master.id()) {
            continue;
        }
        let Ok(plain) = master.open_text(sealed) else {
            continue;
        };
        record.auth_header_sealed = Some(master.seal_text(&plain));
        catalog.write_records(&[crate::directory::RecordChange::put(&account, &record)])?;
        resealed += 1;
    }
    Ok(resealed)
}
