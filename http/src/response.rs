//! Response heads: status reason phrases, validation of handler-supplied fields, the
//! per-shard Date cache, and serialization into a connection's reused write buffer.
//!
//! Pure apart from reading the wall clock for Date. Framing fields (Content-Length,
//! Transfer-Encoding, Connection) belong to this layer; handlers may not set them.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::chunked::is_token_byte;
use crate::error::HttpError;

/// The value of the Server field.
pub const SERVER_NAME: &str = "maxiofs";

/// Reason phrase for a status code; clients ignore it, humans reading traces do not.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        507 => "Insufficient Storage",
        _ => reason_phrase_class(status),
    }
}

fn reason_phrase_class(status: u16) -> &'static str {
    match status / 100 {
        2 => "Success",
        3 => "Redirection",
        4 => "Client Error",
        5 => "Server Error",
        _ => "Unknown",
    }
}

/// The Date field value, formatted at most once per second per shard.
#[derive(Default)]
pub(crate) struct DateCache {
    formatted_secs: Cell<u64>,
    text: RefCell<String>,
}

impl DateCache {
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        let now = SystemTime::now();
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut text = self.text.borrow_mut();
        if secs != self.formatted_secs.get() || text.is_empty() {
            *text = httpdate::fmt_http_date(now);
            self.formatted_secs.set(secs);
        }
        out.extend_from_slice(text.as_bytes());
    }
}

/// The framing field this layer adds to a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LengthField {
    /// None: 204, 304 without a length, or an HTTP/1.0 close-delimited body.
    Absent,
    ContentLength(u64),
    Chunked,
}

/// The Connection field this layer adds to a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnectionField {
    Absent,
    Close,
    /// HTTP/1.0 clients need it spelled out to keep the connection.
    KeepAlive,
}

/// Which optional fields the handler already supplied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SuppliedFields {
    pub date: bool,
    pub server: bool,
}

/// Checks a handler's status and fields before anything is written, so a bad value
/// (e.g. a CR LF smuggled in from user metadata) can never split the response.
pub(crate) fn check_head(
    status: u16,
    headers: &[(&str, &str)],
) -> Result<SuppliedFields, HttpError> {
    if !(200..=999).contains(&status) {
        return Err(HttpError::BadResponseHead("status must be in 200..=999"));
    }
    let mut supplied = SuppliedFields::default();
    for (name, value) in headers {
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(HttpError::BadResponseHead("invalid header name"));
        }
        if value
            .bytes()
            .any(|b| (b.is_ascii_control() && b != b'\t') || b == 0x7f)
        {
            return Err(HttpError::BadResponseHead("control byte in header value"));
        }
        let reserved = ["content-length", "transfer-encoding", "connection"];
        if reserved.iter().any(|r| name.eq_ignore_ascii_case(r)) {
            return Err(HttpError::BadResponseHead(
                "framing fields belong to the HTTP layer",
            ));
        }
        supplied.date |= name.eq_ignore_ascii_case("date");
        supplied.server |= name.eq_ignore_ascii_case("server");
    }
    Ok(supplied)
}

/// Serializes a checked head (see `check_head`) onto `out`.
pub(crate) fn write_head(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &str)],
    fields: (LengthField, ConnectionField, SuppliedFields),
    date: &DateCache,
) {
    let (length, connection, supplied) = fields;
    write_status_line(out, status);
    for (name, value) in headers {
        write_field(out, name, value.as_bytes());
    }
    match length {
        LengthField::Absent => {}
        LengthField::ContentLength(n) => {
            out.extend_from_slice(b"Content-Length: ");
            write!(out, "{n}\r\n").expect("writing to a Vec cannot fail");
        }
        LengthField::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    match connection {
        ConnectionField::Absent => {}
        ConnectionField::Close => out.extend_from_slice(b"Connection: close\r\n"),
        ConnectionField::KeepAlive => out.extend_from_slice(b"Connection: keep-alive\r\n"),
    }
    write_common_fields(out, supplied, date);
    out.extend_from_slice(b"\r\n");
}

/// A bodiless response that closes the connection, for errors found before a handler.
pub(crate) fn write_error_head(out: &mut Vec<u8>, status: u16, date: &DateCache) {
    write_status_line(out, status);
    out.extend_from_slice(b"Content-Length: 0\r\nConnection: close\r\n");
    write_common_fields(out, SuppliedFields::default(), date);
    out.extend_from_slice(b"\r\n");
}

fn write_status_line(out: &mut Vec<u8>, status: u16) {
    write!(out, "HTTP/1.1 {status} {}\r\n", reason_phrase(status))
        .expect("writing to a Vec cannot fail");
}

fn write_common_fields(out: &mut Vec<u8>, supplied: SuppliedFields, date: &DateCache) {
    if !supplied.date {
        out.extend_from_slice(b"Date: ");
        date.write_to(out);
        out.extend_from_slice(b"\r\n");
    }
    if !supplied.server {
        write_field(out, "Server", SERVER_NAME.as_bytes());
    }
}

fn write_field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_reason_phrases() {
        let codes = [
            200, 204, 206, 304, 400, 403, 404, 405, 408, 409, 411, 412, 416, 431,
        ];
        for code in codes.into_iter().chain([500, 501, 503, 507]) {
            assert!(!reason_phrase(code).is_empty());
            assert_ne!(reason_phrase(code), reason_phrase_class(code), "{code}");
        }
        assert_eq!(reason_phrase(299), "Success");
    }

    #[test]
    fn writes_head_with_framing_and_common_fields() {
        let mut out = Vec::new();
        let fields = (
            LengthField::ContentLength(5),
            ConnectionField::Close,
            Default::default(),
        );
        write_head(
            &mut out,
            404,
            &[("ETag", "\"x\"")],
            fields,
            &DateCache::default(),
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\nETag: \"x\"\r\n"));
        assert!(text.contains("\r\nContent-Length: 5\r\nConnection: close\r\nDate: "));
        assert!(text.ends_with(" GMT\r\nServer: maxiofs\r\n\r\n"), "{text}");
    }

    #[test]
    fn handler_supplied_date_and_server_win() {
        let headers = [("date", "x"), ("Server", "AmazonS3")];
        let supplied = check_head(200, &headers).unwrap();
        let mut out = Vec::new();
        let fields = (LengthField::Chunked, ConnectionField::Absent, supplied);
        write_head(&mut out, 200, &headers, fields, &DateCache::default());
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("ate:").count(), 1);
        assert_eq!(text.matches("erver:").count(), 1);
    }

    #[test]
    fn rejects_bad_heads() {
        assert!(check_head(100, &[]).is_err());
        assert!(check_head(1000, &[]).is_err());
        assert!(check_head(200, &[("a", "b\r\nx: y")]).is_err());
        assert!(check_head(200, &[("a b", "c")]).is_err());
        assert!(check_head(200, &[("Content-Length", "1")]).is_err());
        assert!(check_head(200, &[("connection", "close")]).is_err());
        assert!(check_head(200, &[("x", "tab\tok")]).is_ok());
    }
}
