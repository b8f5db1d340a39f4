//! Alerts: the conditions an operator must hear about (disk nearly full, a
//! shard or its disk failing, scrub found damage, a tenant near its quota,
//! the TLS certificate near expiry), checked by the control plane every
//! `--alert-interval-s`, and sent by webhook and e-mail once per change of
//! state: a notice when one begins firing, another when it is resolved.
//!
//! Owns: the alert settings (catalog setting [`SETTING_ALERTS`]; the SMTP
//! password and webhook tokens sealed with the master key), the state of
//! every alert (catalog setting [`SETTING_ALERT_STATE`], so a restart
//! neither repeats nor forgets a notice), and the pure state machine
//! ([`AlertBook::update`]). Delivery is the notifier thread's
//! ([`notify`]); the checks that need the shards are in [`ControlPlane`]'s
//! `alerts_tick`.

pub mod certificate;
pub mod notify;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::control::ControlPlane;
use notify::{Notice, NotifierRequest};

/// The catalog setting holding [`AlertSettings`].
pub const SETTING_ALERTS: &str = "alerts";
/// The catalog setting holding the alerts now firing.
pub const SETTING_ALERT_STATE: &str = "alert_state";
/// Webhooks one server notifies.
pub const WEBHOOKS_MAX: usize = 8;
/// E-mail recipients.
pub const RECIPIENTS_MAX: usize = 20;
/// A private CA's PEM for HTTPS webhooks and SMTP TLS (a few certificates).
pub const CA_PEM_BYTES_MAX: usize = 32 * 1024;
/// A shard that does not answer the check within this is failing.
const SHARD_ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// The kinds of alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    DiskNearlyFull,
    ShardFailing,
    ScrubDamage,
    TenantNearQuota,
    CertificateExpiring,
}

impl AlertKind {
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::DiskNearlyFull => "disk_nearly_full",
            AlertKind::ShardFailing => "shard_failing",
            AlertKind::ScrubDamage => "scrub_damage",
            AlertKind::TenantNearQuota => "tenant_near_quota",
            AlertKind::CertificateExpiring => "certificate_expiring",
        }
    }

    pub fn severity(self) -> &'static str {
        match self {
            AlertKind::DiskNearlyFull | AlertKind::ShardFailing | AlertKind::ScrubDamage => {
                "critical"
            }
            AlertKind::TenantNearQuota | AlertKind::CertificateExpiring => "warning",
        }
    }
}

/// The settings as stored (secrets sealed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSettings {
    #[serde(default)]
    pub webhooks: Vec<WebhookSettings>,
    #[serde(default)]
    pub smtp: Option<SmtpStored>,
    #[serde(default = "default_disk_used_percent_max")]
    pub disk_used_percent_max: u8,
    #[serde(default = "default_quota_used_percent_max")]
    pub quota_used_percent_max: u8,
    #[serde(default = "default_certificate_days_min")]
    pub certificate_days_min: u32,
    /// Roots for HTTPS webhooks and SMTP TLS instead of the system's.
    #[serde(default)]
    pub ca_pem: Option<String>,
}

fn default_disk_used_percent_max() -> u8 {
    90
}
fn default_quota_used_percent_max() -> u8 {
    90
}
fn default_certificate_days_min() -> u32 {
    14
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            webhooks: Vec::new(),
            smtp: None,
            disk_used_percent_max: default_disk_used_percent_max(),
            quota_used_percent_max: default_quota_used_percent_max(),
            certificate_days_min: default_certificate_days_min(),
            ca_pem: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSettings {
    pub url: String,
    /// Sent as `Authorization: Bearer <token>`; sealed.
    #[serde(default)]
    pub token_sealed: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpStored {
    pub host: String,
    pub port: u16,
    /// `starttls` (the default), `tls` or `plain`.
    pub security: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password_sealed: Option<String>,
    pub from: String,
    pub to: Vec<String>,
}

/// One alert's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertState {
    pub kind: AlertKind,
    pub subject: String,
    pub since_ms: u64,
    pub summary: String,
}

/// What one check found: `firing` None means the check could not tell (the
/// state stays as it was).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub kind: AlertKind,
    pub subject: String,
    pub firing: Option<bool>,
    pub summary: String,
}

/// The alerts now firing, by kind and subject.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertBook {
    pub firing: BTreeMap<String, AlertState>,
}

fn book_key(kind: AlertKind, subject: &str) -> String {
    format!("{}/{subject}", kind.name())
}

/// A change of state: the alert, and whether it began (true) or ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub state: AlertState,
    pub firing: bool,
}

impl AlertBook {
    /// Applies one round of checks of the kinds in `checked`: an alert that
    /// began or ended is a change; one firing whose subject a checked kind
    /// no longer reports (a tenant deleted) has ended.
    pub fn update(
        &mut self,
        now_ms: u64,
        checked: &BTreeSet<AlertKind>,
        conditions: &[Condition],
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut reported = BTreeSet::new();
        for condition in conditions {
            let key = book_key(condition.kind, &condition.subject);
            reported.insert(key.clone());
            let Some(firing) = condition.firing else {
                continue;
            };
            match (self.firing.get(&key), firing) {
                (None, true) => {
                    let state = AlertState {
                        kind: condition.kind,
                        subject: condition.subject.clone(),
                        since_ms: now_ms,
                        summary: condition.summary.clone(),
                    };
                    self.firing.insert(key, state.clone());
                    changes.push(Change {
                        state,
                        firing: true,
                    });
                }
                (Some(_), false) => {
                    let mut state = self.firing.remove(&key).expect("present");
                    state.summary = condition.summary.clone();
                    changes.push(Change {
                        state,
                        firing: false,
                    });
                }
                (Some(_), true) | (None, false) => {}
            }
        }
        let gone: Vec<String> = self
            .firing
            .iter()
            .filter(|(key, state)| checked.contains(&state.kind) && !reported.contains(*key))
            .map(|(key, _)| key.clone())
            .collect();
        for key in gone {
            let mut state = self.firing.remove(&key).expect("listed");
            state.summary = format!("{} no longer exists.", state.subject);
            changes.push(Change {
                state,
                firing: false,
            });
        }
        changes
    }
}

/// The control plane's alert machinery.
pub struct Alerts {
    pub notifier: notify::Notifier,
    /// Loaded at the first check and after each settings change.
    pub settings: Option<AlertSettings>,
    pub book: Option<AlertBook>,
    /// When the server's certificate expires, if it serves TLS.
    pub certificate_not_after_ms: Option<u64>,
    /// Scrub problems counted when last looked, and the scrub passes that
    /// must complete (all shards together) before damage counts as gone.
    pub scrub_problems_seen: u64,
    pub scrub_clean_after_passes: u64,
    /// The server's host name, in notices.
    pub server: String,
}

impl Alerts {
    pub fn start(certificate_not_after_ms: Option<u64>) -> Result<Alerts, String> {
        Ok(Alerts {
            notifier: notify::Notifier::start()?,
            settings: None,
            book: None,
            certificate_not_after_ms,
            scrub_problems_seen: 0,
            scrub_clean_after_passes: 0,
            server: host_name(),
        })
    }

    pub fn notice(&self, state: &AlertState, status: &str, now_ms: u64) -> Notice {
        Notice {
            alert: state.kind.name().to_owned(),
            subject: state.subject.clone(),
            status: status.to_owned(),
            severity: state.kind.severity().to_owned(),
            summary: state.summary.clone(),
            since_ms: state.since_ms,
            time_ms: now_ms,
            server: self.server.clone(),
        }
    }
}

/// The host name, from the kernel (no libc call needed).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "maxiofs".to_owned())
}

/// `part` of `whole` in percent, rounded down.
fn percent(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        return 0;
    }
    (u128::from(part) * 100 / u128::from(whole)) as u64
}

impl ControlPlane {
    /// The stored settings (defaults when none are stored; a damaged value
    /// is logged and replaced by the defaults).
    pub(crate) fn alert_settings(&mut self) -> AlertSettings {
        if let Some(settings) = &self.alerts.settings {
            return settings.clone();
        }
        let settings = match self.catalog.setting(SETTING_ALERTS) {
            Ok(Some(text)) => serde_json::from_str(&text).unwrap_or_else(|err| {
                tracing::error!(%err, "stored alert settings do not parse; defaults used");
                AlertSettings::default()
            }),
            Ok(None) => AlertSettings::default(),
            Err(err) => {
                tracing::error!(%err, "alert settings unreadable; defaults used");
                AlertSettings::default()
            }
        };
        self.alerts.settings = Some(settings.clone());
        self.alerts_configure(&settings);
        settings
    }

    /// Hands the channels of `settings` to the notifier.
    pub(crate) fn alerts_configure(&self, settings: &AlertSettings) {
        match self.alert_channels(settings) {
            Ok(channels) => self
                .alerts
                .notifier
                .request(NotifierRequest::Configure(channels)),
            Err(err) => tracing::error!(%err, "alert channels unusable"),
        }
    }

    /// The notifier's channels, secrets opened.
    pub(crate) fn alert_channels(
        &self,
        settings: &AlertSettings,
    ) -> Result<notify::Channels, String> {
        let open = |sealed: &Option<String>| -> Result<Option<String>, String> {
            let Some(sealed) = sealed else {
                return Ok(None);
            };
            let clear = self
                .master
                .open_text(sealed)
                .map_err(|err| format!("a sealed alert secret does not open: {err}"))?;
            String::from_utf8(clear)
                .map(Some)
                .map_err(|_| "a sealed alert secret is not text".to_owned())
        };
        let mut webhooks = Vec::new();
        for webhook in &settings.webhooks {
            let mut target = crate::outbound::http_post::HttpTarget::parse(&webhook.url)?;
            target.authorization =
                open(&webhook.token_sealed)?.map(|token| format!("Bearer {token}"));
            webhooks.push(target);
        }
        let smtp = match &settings.smtp {
            Some(stored) => Some(crate::outbound::smtp::SmtpSettings {
                host: stored.host.clone(),
                port: stored.port,
                security: smtp_security(&stored.security)?,
                username: stored.username.clone(),
                password: open(&stored.password_sealed)?,
                from: stored.from.clone(),
                to: stored.to.clone(),
                helo_name: self.alerts.server.clone(),
            }),
            None => None,
        };
        let needs_tls = webhooks.iter().any(|w| w.tls)
            || smtp
                .as_ref()
                .is_some_and(|s| !matches!(s.security, crate::outbound::smtp::SmtpSecurity::Plain));
        let tls = match (&settings.ca_pem, needs_tls) {
            (_, false) => None,
            (Some(pem), true) => Some(tls_from_pem(pem)?),
            (None, true) => Some(crate::outbound::tls::client_config(None)?),
        };
        Ok(notify::Channels {
            webhooks,
            smtp,
            tls,
        })
    }

    /// One round of checks; notices for every change.
    pub async fn alerts_tick(&mut self) {
        let settings = self.alert_settings();
        let now_ms = crate::control::now_ms();
        let mut checked = BTreeSet::new();
        let mut conditions = Vec::new();
        checked.insert(AlertKind::DiskNearlyFull);
        conditions.push(self.alert_disk(&settings));
        checked.insert(AlertKind::ShardFailing);
        conditions.extend(self.alert_shards().await);
        if let Some(condition) = self.alert_scrub() {
            conditions.push(condition);
        }
        checked.insert(AlertKind::TenantNearQuota);
        conditions.extend(self.alert_tenants(&settings).await);
        if let Some(not_after_ms) = self.alerts.certificate_not_after_ms {
            checked.insert(AlertKind::CertificateExpiring);
            let days_left = not_after_ms.saturating_sub(now_ms) / 86_400_000;
            let firing = days_left < u64::from(settings.certificate_days_min);
            conditions.push(Condition {
                kind: AlertKind::CertificateExpiring,
                subject: "tls certificate".to_owned(),
                firing: Some(firing),
                summary: if not_after_ms <= now_ms {
                    "The server's TLS certificate has expired.".to_owned()
                } else {
                    let unit = if days_left == 1 { "day" } else { "days" };
                    format!("The server's TLS certificate expires in {days_left} {unit}.")
                },
            });
        }
        let mut book = match self.alerts.book.take() {
            Some(book) => book,
            None => self.alert_book_stored(),
        };
        let changes = book.update(now_ms, &checked, &conditions);
        if !changes.is_empty() {
            match serde_json::to_string(&book) {
                Ok(text) => {
                    if let Err(err) = self.catalog.set_setting(SETTING_ALERT_STATE, &text) {
                        tracing::error!(%err, "alert state not stored");
                    }
                }
                Err(err) => tracing::error!(%err, "alert state not stored"),
            }
        }
        for change in changes {
            let status = if change.firing { "firing" } else { "resolved" };
            tracing::warn!(alert = change.state.kind.name(), subject = %change.state.subject,
                status, summary = %change.state.summary, "alert");
            let notice = self.alerts.notice(&change.state, status, now_ms);
            self.alerts.notifier.request(NotifierRequest::Send {
                notice,
                reply: None,
            });
        }
        self.alerts.book = Some(book);
    }

    fn alert_book_stored(&self) -> AlertBook {
        match self.catalog.setting(SETTING_ALERT_STATE) {
            Ok(Some(text)) => serde_json::from_str(&text).unwrap_or_else(|err| {
                tracing::error!(%err, "stored alert state does not parse; starting afresh");
                AlertBook::default()
            }),
            Ok(None) => AlertBook::default(),
            Err(err) => {
                tracing::error!(%err, "alert state unreadable; starting afresh");
                AlertBook::default()
            }
        }
    }

    /// The alerts now firing.
    pub(crate) fn alerts_firing(&mut self) -> Vec<AlertState> {
        if self.alerts.book.is_none() {
            self.alerts.book = Some(self.alert_book_stored());
        }
        let book = self.alerts.book.as_ref().expect("just loaded");
        book.firing.values().cloned().collect()
    }

    fn alert_disk(&self, settings: &AlertSettings) -> Condition {
        let subject = self.data_dir.display().to_string();
        match engine::io::uring::filesystem_bytes(&self.data_dir) {
            Ok(bytes) => {
                let used = bytes.total_bytes.saturating_sub(bytes.available_bytes);
                let used_percent = percent(used, bytes.total_bytes);
                Condition {
                    kind: AlertKind::DiskNearlyFull,
                    subject,
                    firing: Some(used_percent >= u64::from(settings.disk_used_percent_max)),
                    summary: format!(
                        "The data directory's filesystem is {used_percent}% used ({} of {} \
                         bytes free; the alert fires at {}%).",
                        bytes.available_bytes, bytes.total_bytes, settings.disk_used_percent_max
                    ),
                }
            }
            Err(err) => Condition {
                kind: AlertKind::DiskNearlyFull,
                subject,
                firing: None,
                summary: format!("The data directory's filesystem cannot be measured: {err}"),
            },
        }
    }

    /// Each shard must answer within [`SHARD_ANSWER_TIMEOUT`], with its
    /// disk writable (no segment poisoned by a failed write, not full).
    async fn alert_shards(&self) -> Vec<Condition> {
        let mut conditions = Vec::with_capacity(self.shards.len());
        for (index, shard) in self.shards.iter().enumerate() {
            let (reply, answer) = futures_channel::oneshot::channel();
            let asked = async {
                shard
                    .send(s3::shard::ShardRequest::Metrics { reply })
                    .await
                    .ok()?;
                answer.await.ok()
            };
            let metrics = monoio::time::timeout(SHARD_ANSWER_TIMEOUT, asked)
                .await
                .ok()
                .flatten();
            let (firing, summary) = match metrics {
                None => (true, format!("Shard {index} does not answer.")),
                Some(m) if m.segments_poisoned > 0 => (
                    true,
                    format!(
                        "Shard {index}'s disk failed a write or sync ({} segments set aside).",
                        m.segments_poisoned
                    ),
                ),
                Some(m) if m.disk_full => (
                    true,
                    format!("Shard {index} found its disk full and refuses writes."),
                ),
                Some(_) => (false, format!("Shard {index} answers and writes.")),
            };
            conditions.push(Condition {
                kind: AlertKind::ShardFailing,
                subject: format!("shard {index}"),
                firing: Some(firing),
                summary,
            });
        }
        conditions
    }

    /// Damage found by a scrubber fires; it is resolved once every shard
    /// completed another scrub pass without finding more.
    fn alert_scrub(&mut self) -> Option<Condition> {
        let stats = self.scrub_stats.get()?;
        let load =
            |f: fn(&engine::scrub::ScrubStats) -> u64| -> u64 { stats.iter().map(|s| f(s)).sum() };
        let problems = load(|s| s.problems_found.load(std::sync::atomic::Ordering::Relaxed));
        let passes = load(|s| {
            s.passes_completed
                .load(std::sync::atomic::Ordering::Relaxed)
        });
        let firing = if problems > self.alerts.scrub_problems_seen {
            // Passes already running may end having seen the damage again.
            self.alerts.scrub_clean_after_passes = passes + 2 * stats.len() as u64;
            self.alerts.scrub_problems_seen = problems;
            Some(true)
        } else if passes >= self.alerts.scrub_clean_after_passes {
            Some(false)
        } else {
            None
        };
        Some(Condition {
            kind: AlertKind::ScrubDamage,
            subject: "scrub".to_owned(),
            firing,
            summary: match firing {
                Some(true) => format!(
                    "The scrubber found {problems} damaged or unreadable records since the \
                     server started; `maxiofs check` names them."
                ),
                _ => "Scrub passes completed without finding more damage.".to_owned(),
            },
        })
    }

    async fn alert_tenants(&self, settings: &AlertSettings) -> Vec<Condition> {
        let accounts = match self
            .catalog
            .all_records::<crate::directory::AccountRecord>()
        {
            Ok(accounts) => accounts,
            Err(err) => {
                tracing::error!(%err, "tenants unreadable for the quota alerts");
                return Vec::new();
            }
        };
        let limited = accounts
            .iter()
            .any(|(_, a)| a.quota.storage_bytes.is_some() || a.quota.objects.is_some());
        if !limited {
            return Vec::new();
        }
        let usages = self.bucket_usages().await;
        let threshold = u64::from(settings.quota_used_percent_max);
        let mut conditions = Vec::new();
        for (_, account) in accounts {
            let (mut bytes, mut objects) = (0u64, 0u64);
            for bucket in self
                .snapshot
                .buckets
                .values()
                .filter(|b| b.owner_account == account.id)
            {
                if let Some(usage) = usages.get(&bucket.id) {
                    bytes += usage.bytes + usage.upload_bytes;
                    objects += usage.objects;
                }
            }
            let bytes_percent = account.quota.storage_bytes.map(|q| percent(bytes, q));
            let objects_percent = account.quota.objects.map(|q| percent(objects, q));
            if bytes_percent.is_none() && objects_percent.is_none() {
                continue;
            }
            let used = bytes_percent.unwrap_or(0).max(objects_percent.unwrap_or(0));
            conditions.push(Condition {
                kind: AlertKind::TenantNearQuota,
                subject: account.name.clone(),
                firing: Some(used >= threshold),
                summary: format!(
                    "Tenant {} uses {}% of its storage quota and {}% of its object quota \
                     (the alert fires at {threshold}%).",
                    account.name,
                    bytes_percent.map_or("-".to_owned(), |p| p.to_string()),
                    objects_percent.map_or("-".to_owned(), |p| p.to_string()),
                ),
            });
        }
        conditions
    }
}

fn smtp_security(name: &str) -> Result<crate::outbound::smtp::SmtpSecurity, String> {
    use crate::outbound::smtp::SmtpSecurity;
    match name {
        "starttls" => Ok(SmtpSecurity::StartTls),
        "tls" => Ok(SmtpSecurity::Tls),
        "plain" => Ok(SmtpSecurity::Plain),
        other => Err(format!(
            "unknown SMTP security {other:?}: starttls, tls or plain"
        )),
    }
}

/// A client configuration trusting the certificates of `pem`.
pub fn tls_from_pem(pem: &str) -> Result<std::sync::Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let certificate = certificate.map_err(|err| format!("ca_pem: {err}"))?;
        roots
            .add(certificate)
            .map_err(|err| format!("ca_pem: {err}"))?;
    }
    if roots.is_empty() {
        return Err("ca_pem: no CERTIFICATE block".to_owned());
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("TLS: {err}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(kind: AlertKind, subject: &str, firing: Option<bool>) -> Condition {
        Condition {
            kind,
            subject: subject.to_owned(),
            firing,
            summary: String::new(),
        }
    }

    #[test]
    fn each_alert_changes_once_per_state_and_unknown_keeps_it() {
        let mut book = AlertBook::default();
        let checked: BTreeSet<_> = [AlertKind::DiskNearlyFull].into();
        let disk = |firing| condition(AlertKind::DiskNearlyFull, "/data", firing);
        assert_eq!(book.update(1, &checked, &[disk(Some(false))]), vec![]);
        let began = book.update(2, &checked, &[disk(Some(true))]);
        assert_eq!(began.len(), 1);
        assert!(began[0].firing);
        assert_eq!(began[0].state.since_ms, 2);
        assert!(book.update(3, &checked, &[disk(Some(true))]).is_empty());
        assert!(book.update(4, &checked, &[disk(None)]).is_empty());
        let ended = book.update(5, &checked, &[disk(Some(false))]);
        assert_eq!(ended.len(), 1);
        assert!(!ended[0].firing);
        assert_eq!(ended[0].state.since_ms, 2);
        assert!(book.update(6, &checked, &[disk(Some(false))]).is_empty());
    }

    #[test]
    fn a_subject_that_disappears_is_resolved_only_when_its_kind_was_checked() {
        let mut book = AlertBook::default();
        let tenants: BTreeSet<_> = [AlertKind::TenantNearQuota].into();
        let acme = condition(AlertKind::TenantNearQuota, "acme", Some(true));
        assert_eq!(book.update(1, &tenants, &[acme]).len(), 1);
        assert!(book.update(2, &BTreeSet::new(), &[]).is_empty());
        let ended = book.update(3, &tenants, &[]);
        assert_eq!(ended.len(), 1);
        assert!(!ended[0].firing);
        assert!(book.firing.is_empty());
    }

    #[test]
    fn settings_default_and_round_trip() {
        let settings: AlertSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(settings, AlertSettings::default());
        assert_eq!(settings.disk_used_percent_max, 90);
        let text = serde_json::to_string(&settings).unwrap();
        assert_eq!(
            serde_json::from_str::<AlertSettings>(&text).unwrap(),
            settings
        );
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(5, 0), 0);
    }
}
