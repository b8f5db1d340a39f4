//! `POST /api/v1/auth/s3-credentials`: temporary S3 credentials for the signed-in console user,
//! so the console's browser side can sign S3 requests itself (through the console port's `/s3`
//! proxy) and presign share links, with exactly the caller's own permissions: the session is a
//! GetSessionToken-style session of the caller's identity (the root's, or the user's), and
//! every shard authorises its requests as it would any client's.
//!
//! One set per console session, made at its first call and answered again to later ones
//! (a page load asks each time), ending when the console session ends.

use serde_json::json;

use super::{AdminError, AdminRequest, AdminResponse, AdminResult, Caller};
use crate::control::ControlPlane;
use crate::directory::{RecordChange, SessionRecord};

/// The console's credentials of one console session, kept while it lasts.
#[derive(Clone)]
pub struct ConsoleS3Credentials {
    pub access_key_id: String,
    pub secret: String,
    pub token: String,
    pub expires_ms: u64,
}

impl std::fmt::Debug for ConsoleS3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleS3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("expires_ms", &self.expires_ms)
            .finish_non_exhaustive()
    }
}

/// Console sessions holding S3 credentials at once (each is a few hundred bytes here and one
/// key in every shard's snapshot until it expires).
const CONSOLE_S3_SESSIONS_MAX: usize = 10_000;

impl ControlPlane {
    pub(super) async fn admin_s3_credentials(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
    ) -> AdminResult {
        let now_ms = crate::control::now_ms();
        let sessions = &mut self.admin.console_s3;
        sessions.retain(|_, credentials| credentials.expires_ms > now_ms);
        let credentials = match sessions.get(&caller.session_id) {
            Some(credentials) => credentials.clone(),
            None => {
                if sessions.len() >= CONSOLE_S3_SESSIONS_MAX {
                    return Err(AdminError::new(
                        429,
                        "TooManyRequests",
                        "Too many console sessions hold S3 credentials; try again later.",
                    ));
                }
                let credentials = self.console_s3_session(caller, now_ms)?;
                self.admin_publish().await?;
                self.admin
                    .console_s3
                    .insert(caller.session_id.clone(), credentials.clone());
                credentials
            }
        };
        let s3_endpoint = format!(
            "{}://{}:{}",
            if self.console_s3.s3_tls {
                "https"
            } else {
                "http"
            },
            request_host_name(request.host.as_deref()),
            self.console_s3.s3_port
        );
        Ok(AdminResponse::json(
            200,
            &json!({
                "access_key_id": credentials.access_key_id,
                "secret_access_key": credentials.secret,
                "session_token": credentials.token,
                "expires_ms": credentials.expires_ms,
                "region": self.region,
                "s3_proxy": "/s3",
                "s3_endpoint": s3_endpoint,
            }),
        ))
    }

    /// Stores a session of the caller's identity lasting as long as its console session.
    fn console_s3_session(
        &self,
        caller: &Caller,
        now_ms: u64,
    ) -> Result<ConsoleS3Credentials, AdminError> {
        let secret = crate::credentials::random_secret();
        let session = SessionRecord {
            id: crate::credentials::random_id("ASIA"),
            secret_sealed: self.master.seal_text(secret.as_bytes()),
            token: crate::credentials::random_from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                160,
            ),
            created_ms: now_ms,
            expires_ms: caller.expires_ms,
            role: None,
            // The root's session (no user) is the account root's, as GetSessionToken's is.
            user_id: (!caller.is_root()).then(|| caller.principal.user_id.clone()),
            session_name: "console".to_owned(),
            policy: None,
            policy_arns: Vec::new(),
        };
        self.catalog
            .write_records(&[RecordChange::put(caller.account(), &session)])?;
        Ok(ConsoleS3Credentials {
            access_key_id: session.id,
            secret,
            token: session.token,
            expires_ms: session.expires_ms,
        })
    }
}

/// The host name the browser reached the console by (the S3 endpoint is on the same host):
/// `Host` without its port, `localhost` when absent or odd.
fn request_host_name(host: Option<&str>) -> String {
    let Some(host) = host.filter(|h| !h.is_empty() && h.len() <= 255) else {
        return "localhost".to_owned();
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        // An IPv6 literal keeps its brackets.
        match rest.split_once(']') {
            Some((address, _)) => format!("[{address}]"),
            None => return "localhost".to_owned(),
        }
    } else {
        host.split(':').next().unwrap_or("localhost").to_owned()
    };
    let printable = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b));
    if printable {
        name
    } else {
        "localhost".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_name_drops_the_port_and_keeps_ipv6_brackets() {
        assert_eq!(
            request_host_name(Some("console.example.com:9001")),
            "console.example.com"
        );
        assert_eq!(request_host_name(Some("[::1]:9001")), "[::1]");
        assert_eq!(request_host_name(Some("10.0.0.5")), "10.0.0.5");
        assert_eq!(request_host_name(None), "localhost");
        assert_eq!(request_host_name(Some("evil\"><script>")), "localhost");
    }
}
