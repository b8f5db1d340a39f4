//! Syslog forwarding: `syslog+udp|tcp|tls://` URLs, RFC 5424 message
//! formatting, and a sender that keeps one connection to the collector.
//!
//! Owns: the RFC 5424 header (PRI, RFC 3339 UTC timestamp, field character
//! sets and lengths), UDP datagrams (RFC 5426) and octet-counting framing on
//! TCP (RFC 6587) and TLS (RFC 5425), reconnecting after any error. Also the
//! civil calendar arithmetic the outbound clients share (`UtcTime`), so no
//! date crate is needed. Must not: buffer or retry messages; the caller's
//! queue keeps them until `send` says they left. Main items: `SyslogTarget`,
//! `format_rfc5424`, `SyslogSender`.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;

use super::http_post::parse_authority;
use super::tls::{self, TlsStream};

/// RFC 5424's maximum lengths of the header fields (section 6).
const HOSTNAME_CHARS_MAX: usize = 255;
const APP_NAME_CHARS_MAX: usize = 48;
const PROCID_CHARS_MAX: usize = 128;
const MSGID_CHARS_MAX: usize = 32;
/// RFC 5426 asks receivers to take at least 2048 bytes and warns that larger
/// datagrams fragment; 8 KiB keeps a long access line whole on collectors
/// configured for it (rsyslog's default `maxMessageSize`) without sending
/// datagrams near UDP's 64 KiB ceiling.
const UDP_MESSAGE_BYTES_MAX: usize = 8 * 1024;
/// Stream transports have no datagram limit, but collectors drop the
/// connection on an oversized frame, which would stall the whole queue
/// behind one message; 64 KiB is the largest size rsyslog and syslog-ng are
/// commonly configured to accept.
const STREAM_MESSAGE_BYTES_MAX: usize = 64 * 1024;
/// How many reads a liveness check may spend discarding bytes a collector
/// sent us (syslog collectors send nothing; this only bounds a chatty one).
const LIVENESS_READS_MAX: usize = 16;

/// How messages travel to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogTransport {
    /// RFC 5426: one datagram per message, no delivery guarantee.
    Udp,
    /// RFC 6587 octet counting over plain TCP.
    Tcp,
    /// RFC 5425: octet counting over TLS.
    Tls,
}

/// A syslog collector, from a `syslog+udp://`, `syslog+tcp://` or
/// `syslog+tls://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogTarget {
    pub transport: SyslogTransport,
    /// A name or an address; IPv6 without its brackets.
    pub host: String,
    pub port: u16,
}

impl SyslogTarget {
    /// Parses `syslog+udp://host[:514]`, `syslog+tcp://host[:514]` or
    /// `syslog+tls://host[:6514]` (the ports are the defaults); a trailing
    /// `/` is allowed, a path is not.
    pub fn parse(url: &str) -> Result<SyslogTarget, String> {
        let invalid = |why: &str| format!("URL {url:?}: {why}");
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            invalid("must start with syslog+udp://, syslog+tcp:// or syslog+tls://")
        })?;
        let (transport, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "syslog+udp" => (SyslogTransport::Udp, 514),
            "syslog+tcp" => (SyslogTransport::Tcp, 514),
            "syslog+tls" => (SyslogTransport::Tls, 6514),
            _ => {
                return Err(invalid(
                    "must start with syslog+udp://, syslog+tcp:// or syslog+tls://",
                ))
            }
        };
        if rest.contains('@') {
            // Not quoted back: what precedes the @ may be a password.
            return Err("a syslog URL must not hold user information (user@)".to_owned());
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(invalid("a syslog URL names a host and a port only"));
        }
        let (host, port) = parse_authority(authority).map_err(invalid)?;
        Ok(SyslogTarget {
            transport,
            host,
            port: port.unwrap_or(default_port),
        })
    }
}

/// The URL, always with its port.
impl fmt::Display for SyslogTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.transport {
            SyslogTransport::Udp => "syslog+udp",
            SyslogTransport::Tcp => "syslog+tcp",
            SyslogTransport::Tls => "syslog+tls",
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// A moment in UTC, split into the civil calendar's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct UtcTime {
    pub year: u64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millisecond: u32,
    /// 0 is Sunday.
    pub weekday: u32,
}

impl UtcTime {
    /// The calendar time of `time_ms` (milliseconds since 1970, UTC).
    pub fn from_unix_ms(time_ms: u64) -> UtcTime {
        let days = time_ms / 86_400_000;
        let ms_of_day = time_ms % 86_400_000;
        // One calendar conversion for the whole server (the S3 layer's).
        let (year, month, day) = s3::xml::civil_from_days(days as u32);
        let year = u64::from(year);
        UtcTime {
            year,
            month,
            day,
            hour: (ms_of_day / 3_600_000) as u32,
            minute: (ms_of_day / 60_000 % 60) as u32,
            second: (ms_of_day / 1000 % 60) as u32,
            millisecond: (ms_of_day % 1000) as u32,
            // 1970-01-01 was a Thursday.
            weekday: ((days + 4) % 7) as u32,
        }
    }

    /// RFC 3339 with milliseconds, as RFC 5424's TIMESTAMP:
    /// `2026-12-06T23:51:58.123Z`.
    pub fn rfc3339_ms(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millisecond
        )
    }
}

/// One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID -
/// BOM MSG`, with no structured data. Header fields keep only printable
/// US-ASCII (anything else becomes `_`), are cut to RFC 5424's lengths and
/// are `-` when empty. The UTF-8 BOM marks MSG as UTF-8, as section 6.4 asks.
///
/// Facility (0 to 23) and severity (0 to 7) are the caller's constants; any
/// other value is a bug.
#[allow(clippy::too_many_arguments)] // One argument per RFC 5424 header field.
pub fn format_rfc5424(
    facility: u8,
    severity: u8,
    time_ms: u64,
    hostname: &str,
    app_name: &str,
    procid: &str,
    msgid: &str,
    message: &str,
) -> String {
    assert!(facility <= 23, "syslog facility {facility} out of range");
    assert!(severity <= 7, "syslog severity {severity} out of range");
    let priority = u16::from(facility) * 8 + u16::from(severity);
    let mut line = format!(
        "<{priority}>1 {} {} {} {} {} -",
        UtcTime::from_unix_ms(time_ms).rfc3339_ms(),
        header_field(hostname, HOSTNAME_CHARS_MAX),
        header_field(app_name, APP_NAME_CHARS_MAX),
        header_field(procid, PROCID_CHARS_MAX),
        header_field(msgid, MSGID_CHARS_MAX),
    );
    if !message.is_empty() {
        line.push_str(" \u{feff}");
        line.push_str(message);
    }
    line
}

/// PRINTUSASCII (33 to 126) only, at most `chars_max`, NILVALUE when empty.
fn header_field(value: &str, chars_max: usize) -> String {
    let field: String = value
        .chars()
        .take(chars_max)
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    if field.is_empty() {
        "-".to_owned()
    } else {
        field
    }
}

/// The longest prefix of `message` of at most `bytes_max` bytes that ends
/// on a character boundary.
fn truncate_utf8(message: &str, bytes_max: usize) -> &str {
    if message.len() <= bytes_max {
        return message;
    }
    let mut end = bytes_max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// An open way to the collector.
enum Connection {
    /// Connected to one resolved address, so errors (ICMP port unreachable)
    /// come back on later sends.
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<TlsStream>),
}

impl Connection {
    /// Whether the collector has closed a kept connection since the last
    /// send. A write into a connection the peer has closed succeeds locally
    /// and its messages are lost, so this is checked before reusing one.
    /// (A close racing with the write itself can still lose that batch; no
    /// syslog transport acknowledges messages.)
    fn peer_gone(&mut self) -> bool {
        match self {
            Connection::Udp(_) => false,
            Connection::Tcp(tcp) => {
                if tcp.set_nonblocking(true).is_err() {
                    return true;
                }
                let gone = read_says_peer_gone(tcp);
                tcp.set_nonblocking(false).is_err() || gone
            }
            Connection::Tls(tls) => {
                if tls.sock.set_nonblocking(true).is_err() {
                    return true;
                }
                // Read through rustls: it consumes TLS 1.3 session tickets and
                // reports a close_notify as the end of the stream.
                let gone = read_says_peer_gone(tls.as_mut());
                tls.sock.set_nonblocking(false).is_err() || gone
            }
        }
    }
}

/// Reads from a non-blocking stream: the end of the stream or an error
/// means the peer is gone; nothing to read means it is still there.
fn read_says_peer_gone<R: Read>(stream: &mut R) -> bool {
    let mut discard = [0u8; 512];
    for _ in 0..LIVENESS_READS_MAX {
        match stream.read(&mut discard) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return false,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return true,
        }
    }
    false
}

/// Sends formatted messages to one collector, keeping the connection open
/// between calls. Any error drops the connection, so the next call
/// reconnects; the caller keeps the messages and sends them again.
pub struct SyslogSender {
    target: SyslogTarget,
    /// Required for `syslog+tls`.
    tls: Option<Arc<ClientConfig>>,
    timeout: Duration,
    connection: Option<Connection>,
}

impl SyslogSender {
    /// Connects lazily, on the first `send`.
    pub fn new(target: SyslogTarget, tls: Option<Arc<ClientConfig>>, timeout: Duration) -> Self {
        SyslogSender {
            target,
            tls,
            timeout,
            connection: None,
        }
    }

    /// Sends every message, in order: one datagram each over UDP (cut to
    /// `UDP_MESSAGE_BYTES_MAX`), one write of octet-counted frames over TCP
    /// and TLS (each cut to `STREAM_MESSAGE_BYTES_MAX`).
    pub fn send(&mut self, messages: &[String]) -> Result<(), String> {
        if messages.is_empty() {
            return Ok(());
        }
        let result = self.send_on_connection(messages);
        if result.is_err() {
            self.connection = None;
        }
        result.map_err(|why| format!("{}: {why}", self.target))
    }

    fn send_on_connection(&mut self, messages: &[String]) -> Result<(), String> {
        if self.connection.as_mut().is_some_and(Connection::peer_gone) {
            self.connection = None;
        }
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => self.connection.insert(self.connect()?),
        };
        let timeout = self.timeout;
        let io_text = |err: io::Error| match err.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                format!("the collector took more than {} ms", timeout.as_millis())
            }
            _ => err.to_string(),
        };
        match connection {
            Connection::Udp(socket) => {
                for message in messages {
                    let datagram = truncate_utf8(message, UDP_MESSAGE_BYTES_MAX);
                    socket.send(datagram.as_bytes()).map_err(io_text)?;
                }
                Ok(())
            }
            Connection::Tcp(tcp) => write_frames(tcp, messages).map_err(io_text),
            Connection::Tls(tls) => write_frames(tls.as_mut(), messages).map_err(io_text),
        }
    }

    fn connect(&self) -> Result<Connection, String> {
        let SyslogTarget {
            transport,
            host,
            port,
        } = &self.target;
        let connect_text = |err: io::Error| format!("connect: {err}");
        match transport {
            SyslogTransport::Udp => {
                let address = (host.as_str(), *port)
                    .to_socket_addrs()
                    .map_err(connect_text)?
                    .next()
                    .ok_or("the host has no address")?;
                let local: SocketAddr = if address.is_ipv4() {
                    ([0u8; 4], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let socket = UdpSocket::bind(local).map_err(connect_text)?;
                socket.connect(address).map_err(connect_text)?;
                socket
                    .set_write_timeout(Some(self.timeout))
                    .map_err(connect_text)?;
                Ok(Connection::Udp(socket))
            }
            SyslogTransport::Tcp => {
                let tcp = tls::connect(host, *port, self.timeout).map_err(connect_text)?;
                Ok(Connection::Tcp(tcp))
            }
            SyslogTransport::Tls => {
                let config = self
                    .tls
                    .as_ref()
                    .ok_or("syslog+tls needs a TLS configuration")?;
                let tcp = tls::connect(host, *port, self.timeout).map_err(connect_text)?;
                let stream = tls::handshake(config, host, tcp)?;
                Ok(Connection::Tls(Box::new(stream)))
            }
        }
    }
}

/// `LEN SP MSG` for each message (RFC 6587 section 3.4.1), written at once
/// so a batch is one TLS record run and few segments.
fn write_frames<W: Write>(stream: &mut W, messages: &[String]) -> io::Result<()> {
    let mut frames = Vec::with_capacity(messages.iter().map(|m| m.len() + 8).sum());
    for message in messages {
        let message = truncate_utf8(message, STREAM_MESSAGE_BYTES_MAX);
        frames.extend_from_slice(message.len().to_string().as_bytes());
        frames.push(b' ');
        frames.extend_from_slice(message.as_bytes());
    }
    stream.write_all(&frames)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use std::io::BufRead;
    use std::io::BufReader;
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::thread;
    use std::time::Instant;

    use super::super::tls::test_pki;
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);

    #[test]
    fn parses_urls() {
        let udp = SyslogTarget::parse("syslog+udp://logs.example.com").expect("parses");
        assert_eq!(
            udp,
            SyslogTarget {
                transport: SyslogTransport::Udp,
                host: "logs.example.com".into(),
                port: 514
            }
        );
        assert_eq!(udp.to_string(), "syslog+udp://logs.example.com:514");
        let tcp = SyslogTarget::parse("SYSLOG+TCP://10.0.0.5:1514/").expect("parses");
        assert_eq!((tcp.transport, tcp.port), (SyslogTransport::Tcp, 1514));
        let tls = SyslogTarget::parse("syslog+tls://[2001:db8::7]").expect("parses");
        assert_eq!(
            (tls.transport, tls.host.as_str(), tls.port),
            (SyslogTransport::Tls, "2001:db8::7", 6514)
        );
        assert_eq!(tls.to_string(), "syslog+tls://[2001:db8::7]:6514");
        for bad in [
            "syslog://h",
            "udp://h",
            "logs.example.com:514",
            "syslog+udp://",
            "syslog+tcp://h/path",
            "syslog+tcp://h:0",
            "syslog+tls://h?x",
        ] {
            assert!(SyslogTarget::parse(bad).is_err(), "{bad:?}");
        }
        let userinfo = SyslogTarget::parse("syslog+tcp://u:pw@h").expect_err("userinfo");
        assert!(!userinfo.contains("pw"), "{userinfo}");
    }

    #[test]
    fn civil_dates_match_known_days() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z", 4),
            (951_825_600_000, "2000-02-29T12:00:00.000Z", 2),
            (1_796_601_118_123, "2026-12-06T23:51:58.123Z", 0),
            (4_107_542_399_999, "2100-02-28T23:59:59.999Z", 0),
        ];
        for (time_ms, expected, weekday) in cases {
            let time = UtcTime::from_unix_ms(time_ms);
            assert_eq!(time.rfc3339_ms(), expected);
            assert_eq!(time.weekday, weekday, "{expected}");
        }
    }

    #[test]
    fn formats_rfc5424() {
        let line = format_rfc5424(
            16,
            6,
            1_796_601_118_123,
            "node-1.example.com",
            "maxiofs",
            "4242",
            "access",
            "GET /photos/cat.jpg 200 – café",
        );
        assert_eq!(
            line,
            "<134>1 2026-12-06T23:51:58.123Z node-1.example.com maxiofs 4242 access - \
             \u{feff}GET /photos/cat.jpg 200 – café"
        );
        let nil = format_rfc5424(13, 6, 0, "", "my app", "", &"m".repeat(40), "");
        assert_eq!(
            nil,
            format!(
                "<110>1 1970-01-01T00:00:00.000Z - my_app - {} -",
                "m".repeat(32)
            )
        );
    }

    #[test]
    fn truncates_at_character_boundaries() {
        assert_eq!(truncate_utf8("héllo", 2), "h");
        assert_eq!(truncate_utf8("héllo", 3), "hé");
        assert_eq!(truncate_utf8("abc", 8), "abc");
    }

    #[test]
    fn udp_sends_one_datagram_per_message() {
        let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind");
        receiver.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let port = receiver.local_addr().expect("addr").port();
        let target = SyslogTarget::parse(&format!("syslog+udp://127.0.0.1:{port}")).expect("url");
        let mut sender = SyslogSender::new(target, None, TIMEOUT);
        let long = "é".repeat(UDP_MESSAGE_BYTES_MAX);
        sender
            .send(&["first".to_owned(), long.clone()])
            .expect("sends");
        let mut datagram = vec![0u8; 65_536];
        let n = receiver.recv(&mut datagram).expect("first");
        assert_eq!(&datagram[..n], b"first");
        let n = receiver.recv(&mut datagram).expect("second");
        assert_eq!(n, UDP_MESSAGE_BYTES_MAX);
        assert_eq!(&datagram[..n], &long.as_bytes()[..n]);
    }

    /// Reads `count` octet-counted frames.
    fn read_frames<R: BufRead>(reader: &mut R, count: usize) -> Vec<String> {
        (0..count)
            .map(|_| {
                let mut length = Vec::new();
                reader.read_until(b' ', &mut length).expect("length");
                length.pop();
                let length: usize = std::str::from_utf8(&length)
                    .expect("ascii")
                    .parse()
                    .expect("number");
                let mut message = vec![0u8; length];
                reader.read_exact(&mut message).expect("message");
                String::from_utf8(message).expect("utf-8")
            })
            .collect()
    }

    #[test]
    fn tcp_frames_by_octet_count_and_reconnects_after_a_close() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (closed_tx, closed_rx) = mpsc::channel();
        let server = thread::spawn(move || {
            // The first connection takes one batch and is closed by the collector.
            let (first, _) = listener.accept().expect("accept");
            let first_batch = read_frames(&mut BufReader::new(&first), 2);
            drop(first);
            closed_tx.send(()).expect("signal");
            let (second, _) = listener.accept().expect("accept again");
            let second_batch = read_frames(&mut BufReader::new(second), 1);
            (first_batch, second_batch)
        });
        let target = SyslogTarget::parse(&format!("syslog+tcp://127.0.0.1:{port}")).expect("url");
        let mut sender = SyslogSender::new(target, None, TIMEOUT);
        sender
            .send(&["<134>1 a".to_owned(), "line\nwith a break é".to_owned()])
            .expect("first batch");
        closed_rx.recv().expect("closed");
        // Wait until the close has reached this side, as it would have long
        // before the next batch in a real deployment.
        let deadline = Instant::now() + TIMEOUT;
        let connection = sender.connection.as_mut().expect("kept open");
        while !connection.peer_gone() {
            assert!(Instant::now() < deadline, "the close never arrived");
            thread::sleep(Duration::from_millis(1));
        }
        sender.send(&["after".to_owned()]).expect("reconnects");
        let (first_batch, second_batch) = server.join().expect("server");
        assert_eq!(first_batch, ["<134>1 a", "line\nwith a break é"]);
        assert_eq!(second_batch, ["after"]);
    }

    #[test]
    fn an_error_drops_the_connection() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let target = SyslogTarget::parse(&format!("syslog+tcp://127.0.0.1:{port}")).expect("url");
        let mut sender = SyslogSender::new(target, None, TIMEOUT);
        let err = sender.send(&["x".to_owned()]).expect_err("nobody listens");
        assert!(
            err.starts_with(&format!("syslog+tcp://127.0.0.1:{port}: connect")),
            "{err}"
        );
        assert!(sender.connection.is_none());
    }

    #[test]
    fn tls_frames_over_a_verified_session() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = thread::spawn(move || {
            let (tcp, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(test_pki::accept(tcp));
            let mut frames = read_frames(&mut reader, 1);
            frames.extend(read_frames(&mut reader, 1));
            frames
        });
        let ca_path = test_pki::ca_file("syslog-tls");
        let config = tls::client_config(Some(&ca_path)).expect("config");
        std::fs::remove_file(&ca_path).expect("remove CA file");
        let target = SyslogTarget::parse(&format!("syslog+tls://127.0.0.1:{port}")).expect("url");
        let mut sender = SyslogSender::new(target.clone(), Some(config), TIMEOUT);
        sender.send(&["one".to_owned()]).expect("first");
        // The second batch goes on the same session (the server accepts once).
        sender.send(&["two".to_owned()]).expect("second");
        assert_eq!(server.join().expect("server"), ["one", "two"]);

        let mut without_tls = SyslogSender::new(target, None, TIMEOUT);
        let err = without_tls.send(&["x".to_owned()]).expect_err("no TLS");
        assert!(err.contains("TLS configuration"), "{err}");
    }
}
