//! The network ends of log shipping: a forwarding URL parsed into a
//! `ForwardTarget`, and the `Sink` that delivers a batch to it over the
//! blocking clients of `crate::outbound` (syslog over UDP, TCP or TLS; an
//! HTTP(S) collector taking NDJSON).
//!
//! Owns: how a `LogRecord` looks on the wire (RFC 5424 fields; one JSON
//! object per line) and what counts as delivered (the syslog write
//! succeeded; a 2xx answer). Must not: queue or retry; the spool and the
//! delivery thread in `ship` do that. Main items: `ForwardTarget`,
//! `sink_for`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use serde::Serialize;

use super::{LogRecord, LogStream, Sink};
use crate::outbound::http_post::{self, HttpTarget};
use crate::outbound::syslog::{format_rfc5424, SyslogSender, SyslogTarget};

/// Every connect, read and write of a delivery, and an HTTP delivery up to
/// its answer's head. A collector slower than this is treated as down: the
/// batch stays in the spool and is retried.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// RFC 5424 facility 13, "log audit", for the audit log.
const FACILITY_LOG_AUDIT: u8 = 13;
/// RFC 5424 facility 16, "local0", for the access log: the first facility
/// reserved for local use, where collectors expect application traffic logs.
const FACILITY_LOCAL0: u8 = 16;
/// RFC 5424 severity 6: every record is an ordinary event, not an alarm.
const SEVERITY_INFORMATIONAL: u8 = 6;
/// The APP-NAME of every syslog message.
const SYSLOG_APP_NAME: &str = "maxiofs";
/// Newline-delimited JSON, one object per record.
const NDJSON_CONTENT_TYPE: &str = "application/x-ndjson";

/// Where forwarded logs go, from a `--log-forward` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardTarget {
    Syslog(SyslogTarget),
    Http(HttpTarget),
}

impl ForwardTarget {
    /// Parses `syslog+udp://`, `syslog+tcp://`, `syslog+tls://`, `http://`
    /// or `https://` URLs.
    pub fn parse(url: &str) -> Result<ForwardTarget, String> {
        let scheme = url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("syslog+udp" | "syslog+tcp" | "syslog+tls") => {
                SyslogTarget::parse(url).map(ForwardTarget::Syslog)
            }
            Some("http" | "https") => HttpTarget::parse(url).map(ForwardTarget::Http),
            // Only the scheme is quoted: the rest may hold a password.
            _ => Err(format!(
                "unknown scheme {:?}: a log forwarding URL starts with syslog+udp://, \
                 syslog+tcp://, syslog+tls://, http:// or https://",
                scheme.unwrap_or_default()
            )),
        }
    }
}

/// The URL without secrets (an HTTP query is hidden).
impl fmt::Display for ForwardTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardTarget::Syslog(target) => target.fmt(f),
            ForwardTarget::Http(target) => target.fmt(f),
        }
    }
}

/// The sink delivering to `target`. `tls` (the trusted roots) is required
/// by `syslog+tls` and `https` targets: without it each of their deliveries
/// fails, saying so. `hostname` is the HOSTNAME of syslog messages.
pub fn sink_for(
    target: &ForwardTarget,
    tls: Option<Arc<ClientConfig>>,
    hostname: &str,
) -> Box<dyn Sink> {
    match target {
        ForwardTarget::Syslog(syslog) => Box::new(SyslogSink {
            url: syslog.to_string(),
            sender: SyslogSender::new(syslog.clone(), tls, DELIVERY_TIMEOUT),
            hostname: hostname.to_owned(),
            procid: std::process::id().to_string(),
        }),
        ForwardTarget::Http(http) => Box::new(HttpSink {
            target: http.clone(),
            tls,
        }),
    }
}

/// RFC 5424 messages over one kept connection (or UDP).
struct SyslogSink {
    url: String,
    sender: SyslogSender,
    hostname: String,
    procid: String,
}

impl Sink for SyslogSink {
    fn deliver(&mut self, records: &[LogRecord]) -> Result<(), String> {
        let messages: Vec<String> = records
            .iter()
            .map(|record| {
                let (facility, msgid) = match record.stream {
                    LogStream::Access => (FACILITY_LOCAL0, "access"),
                    LogStream::Audit => (FACILITY_LOG_AUDIT, "audit"),
                    LogStream::Event => (FACILITY_LOCAL0, "event"),
                };
                format_rfc5424(
                    facility,
                    SEVERITY_INFORMATIONAL,
                    record.time_ms,
                    &self.hostname,
                    SYSLOG_APP_NAME,
                    &self.procid,
                    msgid,
                    &record.message,
                )
            })
            .collect();
        self.sender.send(&messages)
    }

    fn describe(&self) -> String {
        self.url.clone()
    }
}

/// One POST per batch, NDJSON.
struct HttpSink {
    target: HttpTarget,
    tls: Option<Arc<ClientConfig>>,
}

/// One NDJSON line: `{"log":"access","time_ms":…,"message":"…"}`.
#[derive(Serialize)]
struct NdjsonRecord<'a> {
    log: &'static str,
    time_ms: u64,
    message: &'a str,
}

impl Sink for HttpSink {
    fn deliver(&mut self, records: &[LogRecord]) -> Result<(), String> {
        if records.is_empty() {
            return Ok(());
        }
        let mut body = Vec::with_capacity(records.iter().map(|r| r.message.len() + 48).sum());
        for record in records {
            let line = NdjsonRecord {
                log: match record.stream {
                    LogStream::Access => "access",
                    LogStream::Audit => "audit",
                    LogStream::Event => "event",
                },
                time_ms: record.time_ms,
                message: &record.message,
            };
            serde_json::to_writer(&mut body, &line)
                .map_err(|err| format!("POST {}: {err}", self.target))?;
            body.push(b'\n');
        }
        let status = http_post::post(
            &self.target,
            self.tls.as_ref(),
            NDJSON_CONTENT_TYPE,
            &body,
            DELIVERY_TIMEOUT,
        )?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!(
                "POST {}: the collector answered HTTP {status}",
                self.target
            ))
        }
    }

    fn describe(&self) -> String {
        self.target.to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, UdpSocket};
    use std::thread;

    use super::*;

    fn records() -> Vec<LogRecord> {
        vec![
            LogRecord {
                stream: LogStream::Access,
                time_ms: 1_796_601_118_123,
                message: "GET /b/k 200".into(),
            },
            LogRecord {
                stream: LogStream::Audit,
                time_ms: 1_796_601_118_124,
                message: "user \"alice\" created".into(),
            },
        ]
    }

    #[test]
    fn parses_forwarding_urls() {
        let syslog = ForwardTarget::parse("syslog+tls://logs.example.com").expect("parses");
        assert_eq!(syslog.to_string(), "syslog+tls://logs.example.com:6514");
        let http = ForwardTarget::parse("https://c.example.com/in?token=t0k").expect("parses");
        assert!(matches!(&http, ForwardTarget::Http(target) if target.tls));
        assert_eq!(http.to_string(), "https://c.example.com/in?[query hidden]");
        let err = ForwardTarget::parse("ftp://u:pw@h/").expect_err("unknown scheme");
        assert!(err.contains("\"ftp\"") && !err.contains("pw"), "{err}");
        assert!(ForwardTarget::parse("logs.example.com").is_err());
        let sink = sink_for(&http, None, "node1");
        assert_eq!(sink.describe(), "https://c.example.com/in?[query hidden]");
    }

    #[test]
    fn syslog_sink_sends_access_as_local0_and_audit_as_log_audit() {
        let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind");
        receiver
            .set_read_timeout(Some(DELIVERY_TIMEOUT))
            .expect("timeout");
        let port = receiver.local_addr().expect("addr").port();
        let target = ForwardTarget::parse(&format!("syslog+udp://127.0.0.1:{port}")).expect("url");
        let mut sink = sink_for(&target, None, "node1");
        assert_eq!(sink.describe(), format!("syslog+udp://127.0.0.1:{port}"));
        sink.deliver(&records()).expect("delivers");
        let pid = std::process::id();
        let mut datagram = [0u8; 1024];
        let n = receiver.recv(&mut datagram).expect("access");
        assert_eq!(
            std::str::from_utf8(&datagram[..n]).expect("utf-8"),
            format!(
                "<134>1 2026-12-06T23:51:58.123Z node1 maxiofs {pid} access - \u{feff}GET /b/k 200"
            )
        );
        let n = receiver.recv(&mut datagram).expect("audit");
        assert_eq!(
            std::str::from_utf8(&datagram[..n]).expect("utf-8"),
            format!(
                "<110>1 2026-12-06T23:51:58.124Z node1 maxiofs {pid} audit - \
                 \u{feff}user \"alice\" created"
            )
        );
    }

    /// Answers each of `answers` to one POST and returns the bodies.
    fn collector(answers: Vec<&'static str>) -> (u16, thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = thread::spawn(move || {
            let mut bodies = Vec::new();
            for answer in answers {
                let (stream, _) = listener.accept().expect("accept");
                let mut reader = BufReader::new(stream);
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).expect("head");
                    if let Some(value) = line.strip_prefix("Content-Length: ") {
                        length = value.trim().parse().expect("length");
                    }
                    assert!(!line.starts_with("Content-Type: ") || line.contains("x-ndjson"));
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0u8; length];
                reader.read_exact(&mut body).expect("body");
                bodies.push(String::from_utf8(body).expect("utf-8"));
                reader
                    .get_mut()
                    .write_all(answer.as_bytes())
                    .expect("answer");
            }
            bodies
        });
        (port, server)
    }

    #[test]
    fn http_sink_posts_ndjson_and_refuses_a_non_2xx() {
        let (port, server) = collector(vec![
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
        ]);
        let target = ForwardTarget::parse(&format!("http://127.0.0.1:{port}/ingest")).expect("url");
        let mut sink = sink_for(&target, None, "node1");
        sink.deliver(&records()).expect("delivered");
        let err = sink.deliver(&records()[..1]).expect_err("503");
        assert_eq!(
            err,
            format!("POST http://127.0.0.1:{port}/ingest: the collector answered HTTP 503")
        );
        let bodies = server.join().expect("server");
        assert_eq!(
            bodies[0],
            "{\"log\":\"access\",\"time_ms\":1796601118123,\"message\":\"GET /b/k 200\"}\n\
             {\"log\":\"audit\",\"time_ms\":1796601118124,\
             \"message\":\"user \\\"alice\\\" created\"}\n"
        );
        assert_eq!(bodies.len(), 2);
    }
}
