//! Blocking clients that send things out of the control plane to other
//! servers: log forwarding to syslog and HTTP collectors, alert webhooks and
//! alert e-mail.
//!
//! Owns: plain `std::net` + rustls code with a timeout on every connect,
//! read and write. It runs only on dedicated std threads, never on a monoio
//! reactor, and keeps no queue: callers (`ship`, alerting) decide what to
//! retry. Credentials given to it never appear in errors or `Debug` output.
//! Main types: `HttpTarget` (`http_post`), `SmtpSettings` (`smtp`),
//! `SyslogTarget` and `SyslogSender` (`syslog`); `tls` holds the shared
//! trusted-roots loading and handshake, also used by `maxiofs admin`.

pub mod http_post;
pub mod smtp;
pub mod syslog;
pub mod tls;

pub use http_post::HttpTarget;
pub use smtp::{SmtpSecurity, SmtpSettings};
pub use syslog::{format_rfc5424, SyslogSender, SyslogTarget, SyslogTransport};
pub use tls::TlsStream;
