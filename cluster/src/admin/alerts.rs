//! `/api/v1/alerts`: the alerts now firing (`GET`), their settings
//! (`GET|PUT /api/v1/alerts/settings`: webhooks, SMTP, thresholds) and a
//! test notice sent to every channel (`POST /api/v1/alerts/test`), answering
//! how each delivery went so an operator sees a wrong password or an
//! unreachable host at once. System admins only.
//!
//! Secrets come in clear (`token` of a webhook, `password` of SMTP) and are
//! stored sealed with the master key; answers say only whether one is set.
//! In a `PUT`, an absent secret keeps the stored one (for a webhook: the one
//! stored with the same URL) and `null` removes it.

use serde_json::{json, Value};

use super::{json_body, AdminError, AdminRequest, AdminResponse, AdminResult, Caller};
use crate::alerts::notify::{Notice, NotifierRequest};
use crate::alerts::{
    AlertSettings, SmtpStored, WebhookSettings, CA_PEM_BYTES_MAX, RECIPIENTS_MAX, SETTING_ALERTS,
    WEBHOOKS_MAX,
};
use crate::control::ControlPlane;

/// A URL, host, address or user name longer than this is refused.
const TEXT_FIELD_CHARS_MAX: usize = 2048;
/// The test waits this long for every channel's answer.
const TEST_ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl ControlPlane {
    pub(super) fn admin_get_alerts(&mut self, caller: &Caller) -> AdminResult {
        self.admin_require(caller, "admin:GetAlerts", None)?;
        let firing: Vec<Value> = self
            .alerts_firing()
            .into_iter()
            .map(|state| {
                json!({
                    "alert": state.kind.name(),
                    "severity": state.kind.severity(),
                    "subject": state.subject,
                    "status": "firing",
                    "since_ms": state.since_ms,
                    "summary": state.summary,
                })
            })
            .collect();
        Ok(AdminResponse::json(200, &json!({ "alerts": firing })))
    }

    pub(super) fn admin_get_alert_settings(&mut self, caller: &Caller) -> AdminResult {
        self.admin_require(caller, "admin:GetAlertSettings", None)?;
        let settings = self.alert_settings();
        Ok(AdminResponse::json(200, &settings_json(&settings)))
    }

    pub(super) fn admin_put_alert_settings(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
    ) -> AdminResult {
        self.admin_require(caller, "admin:PutAlertSettings", None)?;
        let body = json_body(request)?;
        let stored = self.alert_settings();
        let settings = self.alert_settings_from(&body, &stored)?;
        // Channels that cannot be built (a bad URL, a CA that does not parse)
        // are refused now rather than failing at the first alert.
        self.alert_channels(&settings)
            .map_err(AdminError::bad_request)?;
        let text = serde_json::to_string(&settings)
            .map_err(|err| AdminError::bad_request(err.to_string()))?;
        self.catalog.set_setting(SETTING_ALERTS, &text)?;
        self.alerts.settings = Some(settings.clone());
        self.alerts_configure(&settings);
        let default_account = self.default_account.clone();
        self.admin_audit_entry(
            request,
            &default_account,
            &caller.display,
            "admin:PutAlertSettings",
            "alerts",
            "success",
            "",
        );
        Ok(AdminResponse::json(200, &settings_json(&settings)))
    }

    pub(super) async fn admin_test_alerts(&mut self, caller: &Caller) -> AdminResult {
        self.admin_require(caller, "admin:TestAlerts", None)?;
        let settings = self.alert_settings();
        if settings.webhooks.is_empty() && settings.smtp.is_none() {
            return Err(AdminError::bad_request(
                "No alert channel is configured: PUT /api/v1/alerts/settings first.",
            ));
        }
        let now_ms = crate::control::now_ms();
        let notice = Notice {
            alert: "test".to_owned(),
            subject: "alert settings".to_owned(),
            status: "test".to_owned(),
            severity: "info".to_owned(),
            summary: "A test notice from maxiofs: this channel works.".to_owned(),
            since_ms: now_ms,
            time_ms: now_ms,
            server: self.alerts.server.clone(),
        };
        let (reply, answer) = futures_channel::oneshot::channel();
        self.alerts.notifier.request(NotifierRequest::Send {
            notice,
            reply: Some(reply),
        });
        let deliveries = monoio::time::timeout(TEST_ANSWER_TIMEOUT, answer)
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| {
                AdminError::new(504, "Timeout", "The alert channels did not answer in time.")
            })?;
        let delivered = deliveries.iter().all(|d| d.delivered);
        Ok(AdminResponse::json(
            200,
            &json!({ "delivered": delivered, "deliveries": deliveries }),
        ))
    }

    /// The settings a `PUT` body asks for, secrets sealed, validated.
    fn alert_settings_from(
        &self,
        body: &Value,
        stored: &AlertSettings,
    ) -> Result<AlertSettings, AdminError> {
        let mut settings = AlertSettings {
            disk_used_percent_max: percent_field(
                body,
                "disk_used_percent_max",
                stored.disk_used_percent_max,
            )?,
            quota_used_percent_max: percent_field(
                body,
                "quota_used_percent_max",
                stored.quota_used_percent_max,
            )?,
            ..AlertSettings::default()
        };
        settings.certificate_days_min = match body.get("certificate_days_min") {
            None => stored.certificate_days_min,
            Some(value) => value
                .as_u64()
                .filter(|days| (1..=365).contains(days))
                .ok_or_else(|| AdminError::bad_request("certificate_days_min must be 1 to 365."))?
                as u32,
        };
        settings.ca_pem = match body.get("ca_pem") {
            None => stored.ca_pem.clone(),
            Some(Value::Null) => None,
            Some(Value::String(pem)) if pem.len() <= CA_PEM_BYTES_MAX => {
                crate::alerts::tls_from_pem(pem).map_err(AdminError::bad_request)?;
                Some(pem.clone())
            }
            Some(_) => {
                return Err(AdminError::bad_request(
                    "ca_pem must be PEM text of at most 32 KiB, or null.",
                ))
            }
        };
        settings.webhooks = match body.get("webhooks") {
            None => stored.webhooks.clone(),
            Some(Value::Array(items)) if items.len() <= WEBHOOKS_MAX => items
                .iter()
                .map(|item| self.alert_webhook_from(item, stored))
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(AdminError::bad_request(format!(
                    "webhooks must be a list of at most {WEBHOOKS_MAX} objects."
                )))
            }
        };
        settings.smtp = match body.get("smtp") {
            None => stored.smtp.clone(),
            Some(Value::Null) => None,
            Some(item @ Value::Object(_)) => Some(self.alert_smtp_from(item, stored)?),
            Some(_) => return Err(AdminError::bad_request("smtp must be an object or null.")),
        };
        Ok(settings)
    }

    fn alert_webhook_from(
        &self,
        item: &Value,
        stored: &AlertSettings,
    ) -> Result<WebhookSettings, AdminError> {
        let url =
            text(item, "url")?.ok_or_else(|| AdminError::bad_request("A webhook needs a url."))?;
        crate::outbound::http_post::HttpTarget::parse(url)
            .map_err(|err| AdminError::bad_request(format!("webhook url: {err}")))?;
        let token_sealed = match item.get("token") {
            None => stored
                .webhooks
                .iter()
                .find(|w| w.url == url)
                .and_then(|w| w.token_sealed.clone()),
            Some(Value::Null) => None,
            Some(Value::String(token)) if valid_header_value(token) => {
                Some(self.master.seal_text(token.as_bytes()))
            }
            Some(_) => {
                return Err(AdminError::bad_request(
                    "A webhook token must be printable text without spaces, or null.",
                ))
            }
        };
        Ok(WebhookSettings {
            url: url.to_owned(),
            token_sealed,
        })
    }

    fn alert_smtp_from(
        &self,
        item: &Value,
        stored: &AlertSettings,
    ) -> Result<SmtpStored, AdminError> {
        let host =
            text(item, "host")?.ok_or_else(|| AdminError::bad_request("smtp needs a host."))?;
        let security = text(item, "security")?.unwrap_or("starttls");
        if !matches!(security, "starttls" | "tls" | "plain") {
            return Err(AdminError::bad_request(
                "smtp security must be starttls, tls or plain.",
            ));
        }
        let default_port = if security == "tls" { 465 } else { 587 };
        let port = match item.get("port") {
            None | Some(Value::Null) => default_port,
            Some(value) => value
                .as_u64()
                .and_then(|port| u16::try_from(port).ok())
                .filter(|port| *port > 0)
                .ok_or_else(|| AdminError::bad_request("smtp port must be 1 to 65535."))?,
        };
        let from =
            text(item, "from")?.ok_or_else(|| AdminError::bad_request("smtp needs from."))?;
        let to: Vec<String> = match item.get("to") {
            Some(Value::Array(list)) if !list.is_empty() && list.len() <= RECIPIENTS_MAX => list
                .iter()
                .map(|address| address.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| AdminError::bad_request("smtp to must list addresses."))?,
            _ => {
                return Err(AdminError::bad_request(format!(
                    "smtp to must list 1 to {RECIPIENTS_MAX} addresses."
                )))
            }
        };
        for address in std::iter::once(from).chain(to.iter().map(String::as_str)) {
            if !valid_address(address) {
                return Err(AdminError::bad_request(format!(
                    "{address:?} is not an e-mail address."
                )));
            }
        }
        let username = text(item, "username")?.map(str::to_owned);
        let password_sealed = match item.get("password") {
            None => stored.smtp.as_ref().and_then(|s| s.password_sealed.clone()),
            Some(Value::Null) => None,
            Some(Value::String(password)) if password.len() <= TEXT_FIELD_CHARS_MAX => {
                Some(self.master.seal_text(password.as_bytes()))
            }
            Some(_) => {
                return Err(AdminError::bad_request(
                    "smtp password must be text or null.",
                ))
            }
        };
        Ok(SmtpStored {
            host: host.to_owned(),
            port,
            security: security.to_owned(),
            username,
            password_sealed,
            from: from.to_owned(),
            to,
        })
    }
}

/// The settings as answers show them: secrets only as `*_set`.
fn settings_json(settings: &AlertSettings) -> Value {
    json!({
        "webhooks": settings.webhooks.iter().map(|w| json!({
            "url": w.url,
            "token_set": w.token_sealed.is_some(),
        })).collect::<Vec<_>>(),
        "smtp": settings.smtp.as_ref().map(|s| json!({
            "host": s.host,
            "port": s.port,
            "security": s.security,
            "username": s.username,
            "password_set": s.password_sealed.is_some(),
            "from": s.from,
            "to": s.to,
        })),
        "disk_used_percent_max": settings.disk_used_percent_max,
        "quota_used_percent_max": settings.quota_used_percent_max,
        "certificate_days_min": settings.certificate_days_min,
        "ca_pem": settings.ca_pem,
    })
}

/// A bounded text field without control characters (they would end a
/// header or an SMTP command).
fn text<'a>(item: &'a Value, field: &str) -> Result<Option<&'a str>, AdminError> {
    match item.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value))
            if !value.is_empty()
                && value.chars().count() <= TEXT_FIELD_CHARS_MAX
                && !value.chars().any(char::is_control) =>
        {
            Ok(Some(value))
        }
        Some(_) => Err(AdminError::bad_request(format!(
            "{field} must be non-empty text without control characters."
        ))),
    }
}

fn percent_field(body: &Value, field: &str, stored: u8) -> Result<u8, AdminError> {
    match body.get(field) {
        None => Ok(stored),
        Some(value) => value
            .as_u64()
            .filter(|percent| (1..=100).contains(percent))
            .map(|percent| percent as u8)
            .ok_or_else(|| AdminError::bad_request(format!("{field} must be 1 to 100."))),
    }
}

fn valid_header_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= TEXT_FIELD_CHARS_MAX
        && value.bytes().all(|b| b.is_ascii_graphic())
}

/// `local@domain`, with nothing an SMTP command or header would misread.
fn valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && address.len() <= 254
        && address
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>,;\"".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_tokens_are_checked() {
        assert!(valid_address("ops@example.com"));
        assert!(!valid_address("ops@"));
        assert!(!valid_address("a b@example.com"));
        assert!(!valid_address("x@y>\r\nRCPT TO:<z@w"));
        assert!(valid_header_value("abc.DEF-123"));
        assert!(!valid_header_value("a b"));
        assert!(!valid_header_value("a\r\nX: y"));
    }
}
