//! The notifier thread: sends alert notices by webhook (an HTTP POST of
//! JSON) and by e-mail (SMTP, with STARTTLS or implicit TLS), off the
//! control plane's reactor, since both block on the network.
//!
//! Owns: the channels in use ([`Channels`], replaced whole when the settings
//! change) and the notices not yet delivered, retried with a growing delay
//! (1 s doubling to [`RETRY_DELAY_MAX`]) for [`RETRY_FOR`]; at most
//! [`PENDING_DELIVERIES_MAX`] wait, the oldest given up first (and said).

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::outbound::http_post::{self, HttpTarget};
use crate::outbound::smtp::{self, SmtpSettings};

/// Requests waiting for the notifier (a tick makes at most a few notices).
const INBOX_REQUESTS_MAX: usize = 256;
/// Deliveries waiting for a retry, all channels together.
const PENDING_DELIVERIES_MAX: usize = 1000;
/// A delivery that keeps failing is given up after this long.
const RETRY_FOR: Duration = Duration::from_secs(24 * 3600);
const RETRY_DELAY_MAX: Duration = Duration::from_secs(300);
/// One webhook call or one e-mail, connection included.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// What an alert notice says.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Notice {
    /// `disk_nearly_full`, `shard_failing`, `scrub_damage`,
    /// `tenant_near_quota`, `certificate_expiring`, or `test`.
    pub alert: String,
    /// What it concerns: a path, `shard 3`, a tenant's name.
    pub subject: String,
    /// `firing`, `resolved`, or `test`.
    pub status: String,
    /// `critical` or `warning`.
    pub severity: String,
    pub summary: String,
    /// When the alert began firing (for a resolution: when it had begun).
    pub since_ms: u64,
    pub time_ms: u64,
    /// The server's host name.
    pub server: String,
}

impl Notice {
    fn email_subject(&self) -> String {
        let status = self.status.to_uppercase();
        format!(
            "[maxiofs {}] {status}: {} ({})",
            self.server,
            self.alert.replace('_', " "),
            self.subject
        )
    }

    fn email_body(&self) -> String {
        format!(
            "{}\n\nAlert: {}\nSubject: {}\nStatus: {}\nSeverity: {}\nServer: {}\n",
            self.summary, self.alert, self.subject, self.status, self.severity, self.server
        )
    }
}

/// Where notices go.
#[derive(Clone, Default)]
pub struct Channels {
    pub webhooks: Vec<HttpTarget>,
    pub smtp: Option<SmtpSettings>,
    /// Roots for HTTPS webhooks and SMTP over TLS.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// How one delivery went (the admin API's test answers with these).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Delivery {
    pub channel: String,
    pub delivered: bool,
    pub error: Option<String>,
}

pub enum NotifierRequest {
    Configure(Channels),
    /// Sends `notice` everywhere; with `reply`, once, without retries, and
    /// answers how each channel went (a test).
    Send {
        notice: Notice,
        reply: Option<futures_channel::oneshot::Sender<Vec<Delivery>>>,
    },
}

/// The running notifier.
pub struct Notifier {
    tx: SyncSender<NotifierRequest>,
    _thread: JoinHandle<()>,
}

impl Notifier {
    pub fn start() -> Result<Notifier, String> {
        let (tx, rx) = std::sync::mpsc::sync_channel(INBOX_REQUESTS_MAX);
        let thread = std::thread::Builder::new()
            .name("alerts".into())
            .spawn(move || notify_loop(rx))
            .map_err(|err| err.to_string())?;
        Ok(Notifier {
            tx,
            _thread: thread,
        })
    }

    /// Hands a request over without waiting; a full inbox drops it (said).
    pub fn request(&self, request: NotifierRequest) {
        match self.tx.try_send(request) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::error!("alert notifier busy: a notice was dropped")
            }
            Err(TrySendError::Disconnected(_)) => tracing::error!("alert notifier stopped"),
        }
    }
}

/// Which channel of [`Channels`] a pending delivery is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Channel {
    Webhook(usize),
    Email,
}

struct Pending {
    notice: Notice,
    channel: Channel,
    first_failed: Instant,
    next_try: Instant,
    delay: Duration,
}

fn notify_loop(rx: Receiver<NotifierRequest>) {
    let mut channels = Channels::default();
    let mut pending: VecDeque<Pending> = VecDeque::new();
    loop {
        let wait = pending
            .iter()
            .map(|p| p.next_try.saturating_duration_since(Instant::now()))
            .min()
            .unwrap_or(Duration::from_secs(3600));
        match rx.recv_timeout(wait) {
            Ok(NotifierRequest::Configure(new)) => {
                // Deliveries to channels that no longer exist are dropped.
                pending.clear();
                channels = new;
            }
            Ok(NotifierRequest::Send { notice, reply }) => {
                let targets = channel_list(&channels);
                let mut deliveries = Vec::with_capacity(targets.len());
                for channel in targets {
                    let outcome = deliver(&channels, channel, &notice);
                    if let Err(err) = &outcome {
                        tracing::warn!(channel = %describe(&channels, channel), %err,
                            alert = %notice.alert, "alert notice not delivered");
                        if reply.is_none() {
                            let now = Instant::now();
                            if pending.len() >= PENDING_DELIVERIES_MAX {
                                pending.pop_front();
                                tracing::error!(
                                    "alert notices waiting for a retry: the oldest was given up"
                                );
                            }
                            pending.push_back(Pending {
                                notice: notice.clone(),
                                channel,
                                first_failed: now,
                                next_try: now + Duration::from_secs(1),
                                delay: Duration::from_secs(1),
                            });
                        }
                    }
                    deliveries.push(Delivery {
                        channel: describe(&channels, channel),
                        delivered: outcome.is_ok(),
                        error: outcome.err(),
                    });
                }
                if let Some(reply) = reply {
                    let _ = reply.send(deliveries);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        retry_due(&channels, &mut pending);
    }
}

fn retry_due(channels: &Channels, pending: &mut VecDeque<Pending>) {
    let now = Instant::now();
    let mut kept = VecDeque::with_capacity(pending.len());
    while let Some(mut item) = pending.pop_front() {
        if item.next_try > now {
            kept.push_back(item);
            continue;
        }
        match deliver(channels, item.channel, &item.notice) {
            Ok(()) => tracing::info!(channel = %describe(channels, item.channel),
                alert = %item.notice.alert, "alert notice delivered after a retry"),
            Err(err) if item.first_failed.elapsed() >= RETRY_FOR => {
                tracing::error!(channel = %describe(channels, item.channel), %err,
                    alert = %item.notice.alert, "alert notice given up after a day of retries");
            }
            Err(_) => {
                item.delay = (item.delay * 2).min(RETRY_DELAY_MAX);
                item.next_try = Instant::now() + item.delay;
                kept.push_back(item);
            }
        }
    }
    *pending = kept;
}

fn channel_list(channels: &Channels) -> Vec<Channel> {
    let mut list: Vec<Channel> = (0..channels.webhooks.len()).map(Channel::Webhook).collect();
    if channels.smtp.is_some() {
        list.push(Channel::Email);
    }
    list
}

fn describe(channels: &Channels, channel: Channel) -> String {
    match channel {
        Channel::Webhook(index) => match channels.webhooks.get(index) {
            Some(target) => format!(
                "webhook {}://{}:{}{}",
                if target.tls { "https" } else { "http" },
                target.host,
                target.port,
                target.path_and_query
            ),
            None => "webhook".to_owned(),
        },
        Channel::Email => match &channels.smtp {
            Some(smtp) => format!(
                "email via {}:{} to {}",
                smtp.host,
                smtp.port,
                smtp.to.join(", ")
            ),
            None => "email".to_owned(),
        },
    }
}

fn deliver(channels: &Channels, channel: Channel, notice: &Notice) -> Result<(), String> {
    match channel {
        Channel::Webhook(index) => {
            let target = channels
                .webhooks
                .get(index)
                .ok_or("the webhook was removed")?;
            let body = serde_json::to_vec(notice).map_err(|err| err.to_string())?;
            let status = http_post::post(
                target,
                channels.tls.as_ref(),
                "application/json",
                &body,
                DELIVERY_TIMEOUT,
            )?;
            match status {
                200..=299 => Ok(()),
                other => Err(format!("the webhook answered HTTP {other}")),
            }
        }
        Channel::Email => {
            let settings = channels.smtp.as_ref().ok_or("e-mail was turned off")?;
            smtp::send(
                settings,
                channels.tls.as_ref(),
                &notice.email_subject(),
                &notice.email_body(),
                DELIVERY_TIMEOUT,
            )
        }
    }
}
