//! SIGHUP: the settings that can change while the server runs are read
//! again from the configuration file: the log filter, the per-client
//! connection limit, the lifecycle and alert intervals; and the access log
//! is reopened (after logrotate renamed it). A setting given on the command
//! line or by the environment keeps its value: the precedence is the one at
//! start (flag > environment > file > default). Everything else applies at
//! the next start, and the log says so.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::config::Applied;

/// The settings a reload changes, shared with the parts that use them.
pub struct Reloadable {
    pub lifecycle_interval_s: Arc<AtomicU64>,
    pub alert_interval_s: Arc<AtomicU64>,
    /// The per-shard share of `--connections-per-client-max`.
    pub connections_per_client: http::LiveLimit,
    pub shard_count: usize,
}

/// One reloadable setting: its file key and how a value is applied (`None`:
/// the setting's default, when it has no value of its own).
struct Setting {
    key: &'static str,
    apply: fn(&Reloadable, Option<u64>),
}

const SETTINGS: [Setting; 3] = [
    Setting {
        key: "lifecycle_interval_s",
        apply: |live, value| {
            let value = value.expect("the lifecycle interval has a default");
            live.lifecycle_interval_s.store(value, Ordering::Relaxed)
        },
    },
    Setting {
        key: "alert_interval_s",
        apply: |live, value| {
            let value = value.expect("the alert interval has a default");
            live.alert_interval_s.store(value, Ordering::Relaxed)
        },
    },
    Setting {
        key: "connections_per_client_max",
        apply: |live, value| {
            let per_shard = match value {
                Some(whole_server) => (whole_server as usize).div_ceil(live.shard_count.max(1)),
                None => http::ServerLimits::default().connections_per_client_max,
            };
            live.connections_per_client.set(per_shard);
        },
    },
];

/// Reads the reloadable settings again; each is logged with its new value.
pub fn reload(
    config: &Applied,
    live: &Reloadable,
    access_log: Option<&cluster::access_log::AccessLogWriter>,
) {
    crate::systemd::notify("RELOADING=1\n");
    let reloaded = crate::config::reloaded_log_filter(config).and_then(|filter| {
        let reload = crate::LOG_FILTER_RELOAD
            .get()
            .ok_or_else(|| "the log filter cannot be reloaded".to_owned())?;
        reload(&filter).map(|()| filter)
    });
    match reloaded {
        Ok(filter) => tracing::warn!(%filter, "SIGHUP: log filter reloaded"),
        Err(err) => tracing::error!(%err, "SIGHUP: log filter not reloaded"),
    }
    let given = crate::command_line_settings();
    for setting in &SETTINGS {
        use crate::config::Reloaded;
        let on_command_line = given.contains(setting.key);
        let value = match crate::config::reloaded_setting(config, setting.key, on_command_line) {
            Ok(Reloaded::Keep) => continue,
            Ok(Reloaded::Value(text)) => crate::server_setting_value(setting.key, Some(&text)),
            Ok(Reloaded::Default) => crate::server_setting_value(setting.key, None),
            Err(err) => Err(err),
        };
        match value {
            Ok(value) => {
                (setting.apply)(live, value);
                tracing::warn!(setting = setting.key, value = ?value, "SIGHUP: setting reloaded");
            }
            Err(err) => {
                tracing::error!(setting = setting.key, %err, "SIGHUP: setting not reloaded")
            }
        }
    }
    if let Some(writer) = access_log {
        writer.reopen();
    }
    tracing::info!("SIGHUP: other settings apply at the next start");
    crate::systemd::notify("READY=1\n");
}
