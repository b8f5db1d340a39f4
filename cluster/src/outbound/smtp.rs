//! Alert e-mail: one blocking RFC 5321 SMTP session that submits one
//! plain-text RFC 5322 message.
//!
//! Owns: the SMTP dialogue (greeting, EHLO and its capabilities, STARTTLS,
//! AUTH PLAIN or LOGIN, MAIL, RCPT, DATA, QUIT) with every reply code
//! checked, the bounds on what the server may send back, and composing the
//! message (headers, RFC 2047 subject, quoted-printable body, CRLF lines,
//! dot-stuffing). Credentials are never sent unencrypted unless the settings
//! say `Plain`, and never appear in an error or `Debug` output. Must not:
//! queue or retry mail; the caller decides. Main items: `SmtpSettings`,
//! `SmtpSecurity`, `send`.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rustls::ClientConfig;

use super::syslog::UtcTime;
use super::tls::{self, TlsStream};

/// RFC 5321 (4.5.3.1.5) allows reply lines of 512 bytes; real servers send
/// longer EHLO and error lines, so allow eight times that before deciding the
/// peer is not an SMTP server.
const REPLY_LINE_BYTES_MAX: usize = 4096;
/// A multi-line reply is an EHLO list of a few dozen extensions at most.
const REPLY_LINES_MAX: usize = 128;
/// RFC 5322 (2.1.1): a message line is at most 998 characters; a body with a
/// longer line is sent quoted-printable, which folds it.
const MESSAGE_LINE_BYTES_MAX: usize = 998;
/// RFC 2045 (6.7): an encoded quoted-printable line is at most 76
/// characters, one of which the soft line break's `=` may take.
const QP_LINE_CHARS_MAX: usize = 76;
/// RFC 2047 (2): an encoded word is at most 75 characters. 45 bytes of text
/// are 60 base64 characters, plus the 12 of `=?UTF-8?B?` and `?=`.
const ENCODED_WORD_TEXT_BYTES_MAX: usize = 45;
/// An ASCII subject longer than this is sent as encoded words, which fold,
/// so that the header line stays under RFC 5322's 998 characters.
const SUBJECT_PLAIN_BYTES_MAX: usize = 900;

/// How the session is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No TLS at all; only for lab servers. The only mode in which
    /// credentials may travel unencrypted.
    Plain,
    /// Upgrade with STARTTLS (port 587 or 25); a server that does not offer
    /// it is refused before anything else is sent.
    StartTls,
    /// Implicit TLS from the first byte (port 465).
    Tls,
}

/// Where and how to submit alert mail. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Authenticate when set (then `password` is required too).
    pub username: Option<String>,
    pub password: Option<String>,
    /// The envelope sender and the `From` header.
    pub from: String,
    /// Envelope recipients and the `To` header; at least one.
    pub to: Vec<String>,
    /// The name this server gives in EHLO and in the Message-ID.
    pub helo_name: String,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("to", &self.to)
            .field("helo_name", &self.helo_name)
            .finish()
    }
}

/// Submits one message. `tls` is required unless the security is `Plain`.
/// Every connect, read and write is bounded by `timeout`. An error names the
/// step that failed and the server's reply, never a credential.
pub fn send(
    settings: &SmtpSettings,
    tls: Option<&Arc<ClientConfig>>,
    subject: &str,
    body_text: &str,
    timeout: Duration,
) -> Result<(), String> {
    let prefix = format!("SMTP {}:{}", settings.host, settings.port);
    send_check_settings(settings, tls.is_some()).map_err(|why| format!("{prefix}: {why}"))?;
    let time_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let message_id = format!(
        "{time_ms}.{:016x}@{}",
        rand::random::<u64>(),
        settings.helo_name
    );
    let message = compose_message(settings, subject, body_text, time_ms, &message_id);
    let mut session =
        Session::open(settings, tls, timeout).map_err(|why| format!("{prefix} connect: {why}"))?;
    session
        .submit(settings, tls, &message)
        .map_err(|why| format!("{prefix} {}", session.scrub(why)))
}

/// Refuses settings that cannot work (or would leak) before connecting.
fn send_check_settings(settings: &SmtpSettings, have_tls: bool) -> Result<(), String> {
    if settings.security != SmtpSecurity::Plain && !have_tls {
        return Err("STARTTLS and implicit TLS need a TLS configuration".into());
    }
    if settings.username.is_some() && settings.password.is_none() {
        return Err("a username is set without a password".into());
    }
    if settings.to.is_empty() {
        return Err("no recipient".into());
    }
    for address in std::iter::once(&settings.from).chain(&settings.to) {
        let plain_ascii = address
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
        if address.is_empty() || !plain_ascii || !address.contains('@') {
            return Err(format!(
                "{address:?} is not an address this client can send to \
                 (user@domain in ASCII, without <> or spaces)"
            ));
        }
    }
    let helo_ok = settings
        .helo_name
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b"<>@".contains(&b));
    if settings.helo_name.is_empty() || !helo_ok {
        return Err(format!(
            "the HELO name {:?} must be a domain name or an address literal",
            settings.helo_name
        ));
    }
    Ok(())
}

/// The socket under the session: plain until STARTTLS, or TLS.
enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
    /// Only while the plain socket is handed to the TLS handshake; a
    /// handshake failure leaves the session here, unusable.
    Upgrading,
}

fn transport_upgrading_error() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the TLS upgrade failed")
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(tcp) => tcp.read(buf),
            Transport::Tls(tls) => tls.read(buf),
            Transport::Upgrading => Err(transport_upgrading_error()),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(tcp) => tcp.write(buf),
            Transport::Tls(tls) => tls.write(buf),
            Transport::Upgrading => Err(transport_upgrading_error()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(tcp) => tcp.flush(),
            Transport::Tls(tls) => tls.flush(),
            Transport::Upgrading => Err(transport_upgrading_error()),
        }
    }
}

/// One server reply: its code and the text of each line.
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    /// `code text` with lines joined, control characters replaced: what an
    /// error message quotes.
    fn quoted(&self) -> String {
        let text: String = self
            .lines
            .join(" / ")
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        format!("{} {text}", self.code)
    }
}

/// What EHLO said the server supports: each extension line, upper-cased.
struct Capabilities(Vec<String>);

impl Capabilities {
    fn offers(&self, keyword: &str) -> bool {
        self.0
            .iter()
            .any(|line| line.split_whitespace().next() == Some(keyword))
    }

    /// The mechanisms of `AUTH …`, and of the pre-standard `AUTH=…` that
    /// some servers still send.
    fn auth_mechanisms(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|line| {
                line.strip_prefix("AUTH ")
                    .or_else(|| line.strip_prefix("AUTH="))
            })
            .flat_map(str::split_whitespace)
            .collect()
    }
}

struct Session {
    reader: BufReader<Transport>,
    encrypted: bool,
    timeout: Duration,
    /// Credentials in every form sent, removed from any error text (a
    /// server may echo a refused command).
    secrets: Vec<String>,
}

impl Session {
    fn open(
        settings: &SmtpSettings,
        tls: Option<&Arc<ClientConfig>>,
        timeout: Duration,
    ) -> Result<Session, String> {
        let tcp = tls::connect(&settings.host, settings.port, timeout)
            .map_err(|err| io_error_text(&err, timeout))?;
        let (transport, encrypted) = match (settings.security, tls) {
            (SmtpSecurity::Tls, Some(config)) => {
                let stream = tls::handshake(config, &settings.host, tcp)?;
                (Transport::Tls(Box::new(stream)), true)
            }
            _ => (Transport::Plain(tcp), false),
        };
        Ok(Session {
            reader: BufReader::new(transport),
            encrypted,
            timeout,
            secrets: Vec::new(),
        })
    }

    /// The dialogue after connecting, up to QUIT.
    fn submit(
        &mut self,
        settings: &SmtpSettings,
        tls: Option<&Arc<ClientConfig>>,
        message: &str,
    ) -> Result<(), String> {
        let greeting = self.read_reply("greeting")?;
        expect_code("greeting", &greeting, &[220])?;
        let mut capabilities = self.ehlo(&settings.helo_name)?;
        if settings.security == SmtpSecurity::StartTls {
            if !capabilities.offers("STARTTLS") {
                return Err("STARTTLS: the server does not offer STARTTLS; refusing to \
                            continue unencrypted"
                    .into());
            }
            self.command("STARTTLS", "STARTTLS", &[220])?;
            let config = tls.ok_or("STARTTLS: no TLS configuration")?;
            self.start_tls(config, &settings.host)?;
            // RFC 3207 (4.2): forget what was learnt before the upgrade.
            capabilities = self.ehlo(&settings.helo_name)?;
        }
        if let (Some(username), Some(password)) = (&settings.username, &settings.password) {
            if !self.encrypted && settings.security != SmtpSecurity::Plain {
                return Err("AUTH: refusing to send credentials unencrypted".into());
            }
            self.authenticate(&capabilities, username, password)?;
        }
        self.command(
            "MAIL FROM",
            &format!("MAIL FROM:<{}>", settings.from),
            &[250],
        )?;
        for recipient in &settings.to {
            let step = format!("RCPT TO <{recipient}>");
            self.command(&step, &format!("RCPT TO:<{recipient}>"), &[250, 251])?;
        }
        self.command("DATA", "DATA", &[354])?;
        self.write("message", dot_stuff(message).as_bytes())?;
        let accepted = self.read_reply("end of message")?;
        expect_code("end of message", &accepted, &[250])?;
        // The message is accepted at this point: a failing QUIT must not make
        // the caller send the alert twice.
        let _ = self.command("QUIT", "QUIT", &[221]);
        Ok(())
    }

    fn ehlo(&mut self, helo_name: &str) -> Result<Capabilities, String> {
        let reply = self.command("EHLO", &format!("EHLO {helo_name}"), &[250])?;
        // The first line is the server's name and greeting, not an extension.
        let extensions = reply.lines[1..]
            .iter()
            .map(|line| line.to_ascii_uppercase())
            .collect();
        Ok(Capabilities(extensions))
    }

    fn start_tls(&mut self, config: &Arc<ClientConfig>, host: &str) -> Result<(), String> {
        // Anything the server sent after its 220 came in plaintext and could
        // be injected; RFC 3207 (6) says to discard it, and a server doing it
        // is not to be trusted with the session.
        if !self.reader.buffer().is_empty() {
            return Err("STARTTLS: the server sent data before the TLS handshake".into());
        }
        let upgrading = BufReader::new(Transport::Upgrading);
        let transport = std::mem::replace(&mut self.reader, upgrading).into_inner();
        let Transport::Plain(tcp) = transport else {
            return Err("STARTTLS: the session is not a plain one".into());
        };
        let stream = tls::handshake(config, host, tcp).map_err(|why| format!("STARTTLS: {why}"))?;
        self.reader = BufReader::new(Transport::Tls(Box::new(stream)));
        self.encrypted = true;
        Ok(())
    }

    fn authenticate(
        &mut self,
        capabilities: &Capabilities,
        username: &str,
        password: &str,
    ) -> Result<(), String> {
        let mechanisms = capabilities.auth_mechanisms();
        let user_b64 = BASE64.encode(username);
        let password_b64 = BASE64.encode(password);
        if mechanisms.contains(&"PLAIN") {
            // RFC 4616: authorization identity (empty), NUL, user, NUL, password.
            let token = BASE64.encode(format!("\0{username}\0{password}"));
            self.secrets = vec![password.to_owned(), password_b64, token.clone()];
            self.command("AUTH PLAIN", &format!("AUTH PLAIN {token}"), &[235])?;
        } else if mechanisms.contains(&"LOGIN") {
            self.secrets = vec![password.to_owned(), password_b64.clone()];
            self.command("AUTH LOGIN", "AUTH LOGIN", &[334])?;
            self.command("AUTH LOGIN (username)", &user_b64, &[334])?;
            self.command("AUTH LOGIN (password)", &password_b64, &[235])?;
        } else {
            return Err(format!(
                "AUTH: the server offers no mechanism this client speaks (PLAIN, LOGIN); \
                 it offers: {}",
                if mechanisms.is_empty() {
                    "none".to_owned()
                } else {
                    mechanisms.join(" ")
                }
            ));
        }
        Ok(())
    }

    /// Sends one command line and checks the reply's code. `step` names it
    /// in errors; `line` may hold a credential and is never quoted.
    fn command(&mut self, step: &str, line: &str, accepted: &[u16]) -> Result<Reply, String> {
        self.write(step, format!("{line}\r\n").as_bytes())?;
        let reply = self.read_reply(step)?;
        expect_code(step, &reply, accepted)?;
        Ok(reply)
    }

    fn write(&mut self, step: &str, bytes: &[u8]) -> Result<(), String> {
        let timeout = self.timeout;
        let stream = self.reader.get_mut();
        stream
            .write_all(bytes)
            .and_then(|()| stream.flush())
            .map_err(|err| format!("{step}: {}", io_error_text(&err, timeout)))
    }

    /// One reply: lines `NNN-text` up to the last `NNN text`, all with the
    /// same code (RFC 5321 4.2.1).
    fn read_reply(&mut self, step: &str) -> Result<Reply, String> {
        let mut reply = Reply {
            code: 0,
            lines: Vec::new(),
        };
        for _ in 0..REPLY_LINES_MAX {
            let line = self.read_reply_line(step)?;
            let code = line
                .get(..3)
                .filter(|code| code.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|code| code.parse::<u16>().ok())
                .filter(|code| (200..600).contains(code));
            let not_smtp = || format!("{step}: the server's answer is not SMTP: {line:?}");
            let code = code.ok_or_else(not_smtp)?;
            if !reply.lines.is_empty() && code != reply.code {
                return Err(format!(
                    "{step}: a reply mixes codes {} and {code}",
                    reply.code
                ));
            }
            reply.code = code;
            let (last, text) = match line.as_bytes().get(3) {
                None => (true, ""),
                Some(b' ') => (true, &line[4..]),
                Some(b'-') => (false, &line[4..]),
                Some(_) => return Err(not_smtp()),
            };
            reply.lines.push(text.to_owned());
            if last {
                return Ok(reply);
            }
        }
        Err(format!(
            "{step}: the reply runs past {REPLY_LINES_MAX} lines"
        ))
    }

    fn read_reply_line(&mut self, step: &str) -> Result<String, String> {
        let mut line = Vec::new();
        let limit = REPLY_LINE_BYTES_MAX as u64 + 1;
        (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut line)
            .map_err(|err| format!("{step}: {}", io_error_text(&err, self.timeout)))?;
        if line.last() != Some(&b'\n') {
            return Err(if line.len() > REPLY_LINE_BYTES_MAX {
                format!("{step}: a reply line is longer than {REPLY_LINE_BYTES_MAX} bytes")
            } else {
                format!("{step}: the server closed the connection")
            });
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    /// Removes every credential form this session sent from an error text.
    fn scrub(&self, mut text: String) -> String {
        for secret in self.secrets.iter().filter(|secret| !secret.is_empty()) {
            text = text.replace(secret.as_str(), "[redacted]");
        }
        text
    }
}

fn expect_code(step: &str, reply: &Reply, accepted: &[u16]) -> Result<(), String> {
    if accepted.contains(&reply.code) {
        Ok(())
    } else {
        Err(format!("{step}: the server answered {}", reply.quoted()))
    }
}

/// Socket timeouts surface as WouldBlock (reads) or TimedOut (connect).
fn io_error_text(err: &io::Error, timeout: Duration) -> String {
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            format!("no answer within {} ms", timeout.as_millis())
        }
        _ => err.to_string(),
    }
}

/// The RFC 5322 message with CRLF line endings, before dot-stuffing.
fn compose_message(
    settings: &SmtpSettings,
    subject: &str,
    body_text: &str,
    time_ms: u64,
    message_id: &str,
) -> String {
    // A final line break ends the last line rather than starting another.
    let body_text = body_text
        .strip_suffix("\r\n")
        .or_else(|| body_text.strip_suffix('\n'))
        .unwrap_or(body_text);
    let body_lines: Vec<&str> = body_text
        .split("\r\n")
        .flat_map(|line| line.split(['\r', '\n']))
        .collect();
    let seven_bit = body_lines.iter().all(|line| {
        line.len() <= MESSAGE_LINE_BYTES_MAX
            && line
                .bytes()
                .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    });
    let (encoding, body) = if seven_bit {
        (
            "7bit",
            body_lines
                .iter()
                .map(|line| format!("{line}\r\n"))
                .collect(),
        )
    } else {
        ("quoted-printable", quoted_printable(&body_lines))
    };
    format!(
        "Date: {}\r\nFrom: {}\r\nTo: {}\r\nSubject: {}\r\nMessage-ID: <{message_id}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: {encoding}\r\n\r\n{body}",
        rfc5322_date(time_ms),
        settings.from,
        settings.to.join(",\r\n "),
        encode_subject(subject),
    )
}

/// `Sun, 06 Dec 2026 23:51:58 +0000` (RFC 5322 3.3).
fn rfc5322_date(time_ms: u64) -> String {
    const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let time = UtcTime::from_unix_ms(time_ms);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000",
        WEEKDAYS[time.weekday as usize],
        time.day,
        MONTHS[time.month as usize - 1],
        time.year,
        time.hour,
        time.minute,
        time.second
    )
}

/// Plain when it is short printable ASCII, else RFC 2047 `B` encoded words
/// of whole characters, folded one per line. Control characters (a line
/// break would start a new header) become spaces.
fn encode_subject(subject: &str) -> String {
    let subject: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if subject.is_ascii() && !subject.contains("=?") && subject.len() <= SUBJECT_PLAIN_BYTES_MAX {
        return subject;
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in subject.chars() {
        if chunk.len() + c.len_utf8() > ENCODED_WORD_TEXT_BYTES_MAX {
            words.push(format!("=?UTF-8?B?{}?=", BASE64.encode(&chunk)));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", BASE64.encode(&chunk)));
    }
    words.join("\r\n ")
}

/// RFC 2045 (6.7) quoted-printable of text lines, each ending in CRLF:
/// printable ASCII but `=` stays, spaces and tabs stay unless they end a
/// line, everything else is `=XX`, and soft breaks keep lines at 76.
fn quoted_printable(lines: &[&str]) -> String {
    let mut out = String::new();
    for line in lines {
        let bytes = line.as_bytes();
        let mut column = 0;
        for (i, &byte) in bytes.iter().enumerate() {
            let ends_line = i + 1 == bytes.len();
            let literal = (byte.is_ascii_graphic() && byte != b'=')
                || ((byte == b' ' || byte == b'\t') && !ends_line);
            let token = if literal {
                char::from(byte).to_string()
            } else {
                format!("={byte:02X}")
            };
            // One column is kept for the `=` of a soft line break.
            if column + token.len() > QP_LINE_CHARS_MAX - 1 {
                out.push_str("=\r\n");
                column = 0;
            }
            out.push_str(&token);
            column += token.len();
        }
        out.push_str("\r\n");
    }
    out
}

/// The DATA payload: a line starting with `.` gets a second one (RFC 5321
/// 4.5.2), and `.` alone on a line ends it. `message` ends with CRLF.
fn dot_stuff(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 16);
    for line in message.split_inclusive("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::thread::{self, JoinHandle};

    use rustls::{ServerConnection, StreamOwned};

    use super::super::tls::test_pki;
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);

    /// One step of a scripted SMTP server.
    enum Step {
        /// Write this (whole reply lines with CRLF).
        Reply(&'static str),
        /// Read one line, which must start with this.
        Expect(&'static str),
        /// Read message lines up to the lone `.`.
        Data,
        /// Run the server side of a TLS handshake.
        StartTls,
    }

    enum ServerStream {
        Plain(TcpStream),
        Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
    }

    impl Read for ServerStream {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self {
                ServerStream::Plain(tcp) => tcp.read(buf),
                ServerStream::Tls(tls) => tls.read(buf),
            }
        }
    }

    impl Write for ServerStream {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            match self {
                ServerStream::Plain(tcp) => tcp.write(buf),
                ServerStream::Tls(tls) => tls.write(buf),
            }
        }

        fn flush(&mut self) -> io::Result<()> {
            match self {
                ServerStream::Plain(tcp) => tcp.flush(),
                ServerStream::Tls(tls) => tls.flush(),
            }
        }
    }

    /// Plays `script`, then reads until the client hangs up; returns every
    /// line the client sent.
    fn fake_server(script: Vec<Step>) -> (u16, JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = thread::spawn(move || {
            let (tcp, _) = listener.accept().expect("accept");
            tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
            let mut reader = BufReader::new(ServerStream::Plain(tcp));
            let mut transcript = Vec::new();
            let read_line = |reader: &mut BufReader<ServerStream>| {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => None,
                    Ok(_) => Some(line),
                }
            };
            for step in script {
                match step {
                    Step::Reply(text) => {
                        let stream = reader.get_mut();
                        stream.write_all(text.as_bytes()).expect("reply");
                        stream.flush().expect("flush");
                    }
                    Step::Expect(prefix) => {
                        let line = read_line(&mut reader).expect("a command");
                        assert!(
                            line.starts_with(prefix),
                            "expected {prefix:?}, got {line:?}"
                        );
                        transcript.push(line);
                    }
                    Step::Data => loop {
                        let line = read_line(&mut reader).expect("message line");
                        transcript.push(line.clone());
                        if line == ".\r\n" {
                            break;
                        }
                    },
                    Step::StartTls => {
                        let ServerStream::Plain(tcp) = reader.into_inner() else {
                            panic!("already TLS");
                        };
                        reader = BufReader::new(ServerStream::Tls(Box::new(test_pki::accept(tcp))));
                    }
                }
            }
            while let Some(line) = read_line(&mut reader) {
                transcript.push(line);
            }
            transcript
        });
        (port, server)
    }

    fn settings(port: u16, security: SmtpSecurity) -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            security,
            username: Some("alerts".into()),
            password: Some("s3cret".into()),
            from: "maxiofs@example.com".into(),
            to: vec!["ops@example.com".into(), "oncall@example.org".into()],
            helo_name: "node1.example.com".into(),
        }
    }

    const BODY: &str = "Disk /data/3 failed.\n.hidden line\nCafé: 3 objects";

    #[test]
    fn plain_session_with_auth_plain_delivers_the_message() {
        let (port, server) = fake_server(vec![
            Step::Reply("220 mail.test ESMTP ready\r\n"),
            Step::Expect("EHLO node1.example.com\r\n"),
            Step::Reply(
                "250-mail.test greets node1\r\n250-PIPELINING\r\n\
                 250-AUTH LOGIN PLAIN\r\n250 8BITMIME\r\n",
            ),
            Step::Expect("AUTH PLAIN AGFsZXJ0cwBzM2NyZXQ=\r\n"),
            Step::Reply("235 2.7.0 Authentication successful\r\n"),
            Step::Expect("MAIL FROM:<maxiofs@example.com>\r\n"),
            Step::Reply("250 2.1.0 Ok\r\n"),
            Step::Expect("RCPT TO:<ops@example.com>\r\n"),
            Step::Reply("250 2.1.5 Ok\r\n"),
            Step::Expect("RCPT TO:<oncall@example.org>\r\n"),
            Step::Reply("251 2.1.5 will forward\r\n"),
            Step::Expect("DATA\r\n"),
            Step::Reply("354 End data with <CR><LF>.<CR><LF>\r\n"),
            Step::Data,
            Step::Reply("250 2.0.0 Ok: queued as 12345\r\n"),
            Step::Expect("QUIT\r\n"),
            Step::Reply("221 2.0.0 Bye\r\n"),
        ]);
        let settings = settings(port, SmtpSecurity::Plain);
        send(&settings, None, "Disk failed on node1 ✗", BODY, TIMEOUT).expect("sends");
        let transcript = server.join().expect("server");
        let data_start = transcript
            .iter()
            .position(|l| l == "DATA\r\n")
            .expect("DATA")
            + 1;
        let data = transcript[data_start..].concat();
        assert!(data.starts_with("Date: "), "{data}");
        for expected in [
            "\r\nFrom: maxiofs@example.com\r\n",
            "\r\nTo: ops@example.com,\r\n oncall@example.org\r\n",
            "\r\nSubject: =?UTF-8?B?RGlzayBmYWlsZWQgb24gbm9kZTEg4pyX?=\r\n",
            "@node1.example.com>\r\nMIME-Version: 1.0\r\n",
            "Content-Type: text/plain; charset=utf-8\r\n",
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
            "\r\n\r\nDisk /data/3 failed.\r\n..hidden line\r\n\
             Caf=C3=A9: 3 objects\r\n.\r\nQUIT\r\n",
        ] {
            assert!(data.contains(expected), "{expected:?} not in {data}");
        }
    }

    #[test]
    fn start_tls_required_but_not_offered_sends_no_credentials() {
        let (port, server) = fake_server(vec![
            Step::Reply("220 mail.test ESMTP\r\n"),
            Step::Expect("EHLO "),
            Step::Reply("250-mail.test\r\n250 AUTH PLAIN LOGIN\r\n"),
        ]);
        let ca_path = test_pki::ca_file("smtp-no-starttls");
        let config = tls::client_config(Some(&ca_path)).expect("config");
        std::fs::remove_file(&ca_path).expect("remove CA file");
        let settings = settings(port, SmtpSecurity::StartTls);
        let err = send(&settings, Some(&config), "s", "b", TIMEOUT).expect_err("refused");
        assert!(err.contains("does not offer STARTTLS"), "{err}");
        let transcript = server.join().expect("server");
        assert_eq!(transcript.len(), 1, "{transcript:?}");
        assert!(!transcript.concat().contains("AUTH"));
    }

    #[test]
    fn start_tls_upgrades_then_authenticates_with_login() {
        let (port, server) = fake_server(vec![
            Step::Reply("220 mail.test ESMTP\r\n"),
            Step::Expect("EHLO node1.example.com\r\n"),
            Step::Reply("250-mail.test\r\n250 STARTTLS\r\n"),
            Step::Expect("STARTTLS\r\n"),
            Step::Reply("220 2.0.0 Ready to start TLS\r\n"),
            Step::StartTls,
            Step::Expect("EHLO node1.example.com\r\n"),
            Step::Reply("250-mail.test\r\n250 AUTH=LOGIN\r\n"),
            Step::Expect("AUTH LOGIN\r\n"),
            Step::Reply("334 VXNlcm5hbWU6\r\n"),
            Step::Expect("YWxlcnRz\r\n"),
            Step::Reply("334 UGFzc3dvcmQ6\r\n"),
            Step::Expect("czNjcmV0\r\n"),
            Step::Reply("235 ok\r\n"),
            Step::Expect("MAIL FROM:"),
            Step::Reply("250 ok\r\n"),
            Step::Expect("RCPT TO:<ops@example.com>"),
            Step::Reply("250 ok\r\n"),
            Step::Expect("RCPT TO:<oncall@example.org>"),
            Step::Reply("250 ok\r\n"),
            Step::Expect("DATA\r\n"),
            Step::Reply("354 go\r\n"),
            Step::Data,
            Step::Reply("250 queued\r\n"),
            Step::Expect("QUIT\r\n"),
            Step::Reply("221 bye\r\n"),
        ]);
        let ca_path = test_pki::ca_file("smtp-starttls");
        let config = tls::client_config(Some(&ca_path)).expect("config");
        std::fs::remove_file(&ca_path).expect("remove CA file");
        let settings = settings(port, SmtpSecurity::StartTls);
        send(&settings, Some(&config), "Alert", "all ASCII", TIMEOUT).expect("sends");
        let data = server.join().expect("server").concat();
        assert!(data.contains("Subject: Alert\r\n"), "{data}");
        assert!(data.contains("Content-Transfer-Encoding: 7bit\r\n\r\nall ASCII\r\n.\r\n"));
    }

    #[test]
    fn refusals_name_the_step_and_never_the_password() {
        let (port, server) = fake_server(vec![
            Step::Reply("220 mail.test\r\n"),
            Step::Expect("EHLO"),
            Step::Reply("250-mail.test\r\n250 AUTH PLAIN\r\n"),
            Step::Expect("AUTH PLAIN"),
            Step::Reply("535 5.7.8 bad credentials: AUTH PLAIN AGFsZXJ0cwBzM2NyZXQ= (s3cret)\r\n"),
        ]);
        let err = send(
            &settings(port, SmtpSecurity::Plain),
            None,
            "s",
            "b",
            TIMEOUT,
        )
        .expect_err("refused");
        assert!(
            err.starts_with(&format!("SMTP 127.0.0.1:{port} AUTH PLAIN: ")),
            "{err}"
        );
        assert!(err.contains("535 5.7.8 bad credentials"), "{err}");
        assert!(
            !err.contains("s3cret") && !err.contains("AGFsZXJ0"),
            "{err}"
        );
        server.join().expect("server");

        let (port, server) = fake_server(vec![
            Step::Reply("220 mail.test\r\n"),
            Step::Expect("EHLO"),
            Step::Reply("250 mail.test\r\n"),
            Step::Expect("MAIL FROM:"),
            Step::Reply("250 ok\r\n"),
            Step::Expect("RCPT TO:<ops@example.com>"),
            Step::Reply("550 5.1.1 <ops@example.com>: user unknown\r\n"),
        ]);
        let mut anonymous = settings(port, SmtpSecurity::Plain);
        anonymous.username = None;
        anonymous.password = None;
        let err = send(&anonymous, None, "s", "b", TIMEOUT).expect_err("refused");
        assert!(
            err.ends_with(
                "RCPT TO <ops@example.com>: the server answered \
                           550 5.1.1 <ops@example.com>: user unknown"
            ),
            "{err}"
        );
        server.join().expect("server");
    }

    #[test]
    fn an_endless_reply_line_is_cut_off() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = thread::spawn(move || {
            let (mut tcp, _) = listener.accept().expect("accept");
            tcp.write_all(b"220-").expect("start");
            while tcp.write_all(&[b'x'; 1024]).is_ok() {}
        });
        let err = send(
            &settings(port, SmtpSecurity::Plain),
            None,
            "s",
            "b",
            TIMEOUT,
        )
        .expect_err("bounded");
        assert!(
            err.contains("greeting: a reply line is longer than 4096 bytes"),
            "{err}"
        );
        server.join().expect("server");
    }

    #[test]
    fn settings_are_checked_before_connecting() {
        let mut bad = settings(1, SmtpSecurity::StartTls);
        let err = send(&bad, None, "s", "b", TIMEOUT).expect_err("no TLS config");
        assert!(err.contains("need a TLS configuration"), "{err}");
        bad.security = SmtpSecurity::Plain;
        bad.password = None;
        assert!(send(&bad, None, "s", "b", TIMEOUT).is_err());
        let mut injected = settings(1, SmtpSecurity::Plain);
        injected.to = vec!["a@b>\r\nRCPT TO:<c@d".into()];
        assert!(send(&injected, None, "s", "b", TIMEOUT).is_err());
        let mut nobody = settings(1, SmtpSecurity::Plain);
        nobody.to.clear();
        assert!(send(&nobody, None, "s", "b", TIMEOUT).is_err());
        let shown = format!("{:?}", settings(1, SmtpSecurity::Plain));
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn message_parts_follow_the_rfcs() {
        assert_eq!(
            rfc5322_date(1_796_601_118_123),
            "Sun, 06 Dec 2026 23:51:58 +0000"
        );
        assert_eq!(encode_subject("Disk\r\nBcc: x"), "Disk  Bcc: x");
        let long = encode_subject(&"é".repeat(40));
        let words: Vec<&str> = long.split("\r\n ").collect();
        assert_eq!(words.len(), 2);
        assert!(words
            .iter()
            .all(|w| w.len() <= 75 && w.starts_with("=?UTF-8?B?")));
        assert_eq!(
            quoted_printable(&["a=b ", "tab\there"]),
            "a=3Db=20\r\ntab\there\r\n"
        );
        let folded = quoted_printable(&[&"x".repeat(100)]);
        assert_eq!(
            folded,
            format!("{}=\r\n{}\r\n", "x".repeat(75), "x".repeat(25))
        );
        assert_eq!(dot_stuff(".a\r\nb\r\n.\r\n"), "..a\r\nb\r\n..\r\n.\r\n");
    }
}
