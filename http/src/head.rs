//! Request heads: the `RequestHead` type handed to handlers, its parsing from the
//! connection's read buffer (httparse), and the framing decisions it implies (body length,
//! keep-alive, `Expect: 100-continue`).
//!
//! Pure functions only: no sockets, no clocks. Parsing reuses the `String`s of the
//! previous request on the connection so a steady keep-alive stream allocates nothing.

use std::mem::MaybeUninit;

use crate::error::HttpError;
use crate::limits::HEADERS_COUNT_CAP;

/// A parsed request line and header fields, exactly as the client sent them apart from
/// lowercased field names and trimmed field values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    /// Raw request-target (not percent-decoded).
    pub target: String,
    /// Field names lowercased, values trimmed of spaces and tabs, in arrival order.
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    /// The first field with this (lowercase) name.
    pub fn header(&self, name_lowercase: &str) -> Option<&str> {
        let field = self.headers.iter().find(|(n, _)| n == name_lowercase);
        field.map(|(_, v)| v.as_str())
    }

    /// Every field with this (lowercase) name, in arrival order.
    pub fn header_all<'a>(&'a self, name_lowercase: &'a str) -> impl Iterator<Item = &'a str> {
        let fields = self.headers.iter();
        fields
            .filter(move |(n, _)| n == name_lowercase)
            .map(|(_, v)| v.as_str())
    }

    /// The raw path: the target before '?'. For an absolute-form target
    /// (`http://host/p`) the scheme and authority are dropped, which may leave "".
    pub fn path(&self) -> &str {
        let origin = target_origin_form(&self.target);
        match origin.find('?') {
            Some(i) => &origin[..i],
            None => origin,
        }
    }

    /// The raw query: the target after the first '?', "" if none.
    pub fn query(&self) -> &str {
        match self.target.find('?') {
            Some(i) => &self.target[i + 1..],
            None => "",
        }
    }
}

/// Strips `scheme://authority` from an absolute-form target (RFC 9112 section 3.2.2).
fn target_origin_form(target: &str) -> &str {
    let Some(scheme_end) = target.find("://") else {
        return target;
    };
    let scheme = &target[..scheme_end];
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return target;
    }
    let authority_start = scheme_end + 3;
    let rest = &target[authority_start..];
    match rest.find(['/', '?']) {
        Some(i) => &rest[i..],
        None => "",
    }
}

/// How the request body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestBody {
    Empty,
    Fixed(u64),
    Chunked,
}

/// What the head says about the body and the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Framing {
    pub body: RequestBody,
    pub version_minor: u8,
    /// The client allows the connection to stay open after this exchange.
    pub keep_alive: bool,
    /// The client waits for "100 Continue" before sending the body.
    pub expect_continue: bool,
}

/// Outcome of one parse attempt over the buffered bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    Partial,
    Complete {
        head_bytes: usize,
        version_minor: u8,
    },
}

/// Parses a request head from `buf` into `head`. Field slots no longer needed go to
/// `spare` and are taken from it first, so their allocations survive across requests.
pub(crate) fn parse_head(
    buf: &[u8],
    headers_count_max: usize,
    head: &mut RequestHead,
    spare: &mut Vec<(String, String)>,
) -> Result<Parsed, HttpError> {
    assert!(headers_count_max <= HEADERS_COUNT_CAP);
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; HEADERS_COUNT_CAP];
    let mut req = httparse::Request::new(&mut []);
    let parsed = req.parse_with_uninit_headers(buf, &mut slots[..headers_count_max]);
    let head_bytes = match parsed.map_err(parse_head_error)? {
        httparse::Status::Partial => return Ok(Parsed::Partial),
        httparse::Status::Complete(n) => n,
    };
    let (Some(method), Some(target), Some(version_minor)) = (req.method, req.path, req.version)
    else {
        return Err(HttpError::BadRequest("incomplete request line"));
    };
    head.method.clear();
    head.method.push_str(method);
    head.target.clear();
    head.target.push_str(target);
    parse_head_fill_headers(req.headers, head, spare)?;
    Ok(Parsed::Complete {
        head_bytes,
        version_minor,
    })
}

fn parse_head_error(e: httparse::Error) -> HttpError {
    match e {
        httparse::Error::TooManyHeaders => HttpError::HeadersTooMany,
        httparse::Error::HeaderName => HttpError::BadRequest("invalid header name"),
        httparse::Error::HeaderValue => HttpError::BadRequest("invalid header value"),
        httparse::Error::NewLine => HttpError::BadRequest("invalid line ending"),
        httparse::Error::Status => HttpError::BadRequest("invalid status"),
        httparse::Error::Token => HttpError::BadRequest("invalid request line"),
        httparse::Error::Version => HttpError::BadRequest("invalid HTTP version"),
    }
}

fn parse_head_fill_headers(
    fields: &[httparse::Header<'_>],
    head: &mut RequestHead,
    spare: &mut Vec<(String, String)>,
) -> Result<(), HttpError> {
    while head.headers.len() > fields.len() {
        spare.extend(head.headers.pop());
    }
    while head.headers.len() < fields.len() {
        head.headers.push(spare.pop().unwrap_or_default());
    }
    for (field, (name, value)) in fields.iter().zip(head.headers.iter_mut()) {
        let text = std::str::from_utf8(field.value)
            .map_err(|_| HttpError::BadRequest("header value is not UTF-8"))?;
        name.clear();
        name.push_str(field.name);
        name.make_ascii_lowercase();
        value.clear();
        value.push_str(text.trim_matches([' ', '\t']));
    }
    Ok(())
}

/// Reports whether `buf` may hold a complete head, looking only at bytes from
/// `scanned_bytes` on (minus an overlap). Saves re-running the parser on every byte of a
/// head that arrives slowly, which would cost quadratic time.
pub(crate) fn head_end_maybe_present(buf: &[u8], scanned_bytes: usize) -> bool {
    let from = scanned_bytes.saturating_sub(2).min(buf.len());
    let window = &buf[from..];
    // A small PUT's body usually arrives with its head: stop at the first
    // blank line instead of walking the body byte by byte.
    memchr::memchr_iter(b'\n', window).any(|at| {
        let after = &window[at + 1..];
        after.first() == Some(&b'\n') || after.starts_with(b"\r\n")
    })
}

/// Derives body framing and connection semantics from a parsed head (RFC 9112 section 6).
pub(crate) fn request_framing(head: &RequestHead, version_minor: u8) -> Result<Framing, HttpError> {
    let fields = FramingFields::collect(head)?;
    let body = fields.body(version_minor)?;
    if version_minor == 1 && fields.hosts_count != 1 {
        return Err(HttpError::BadRequest("HTTP/1.1 needs exactly one Host"));
    }
    Ok(Framing {
        body,
        version_minor,
        keep_alive: !fields.close && (version_minor == 1 || fields.keep_alive),
        expect_continue: fields.expect_continue && version_minor == 1,
    })
}

/// What the framing-relevant fields of a head say, before they are reconciled.
#[derive(Default)]
struct FramingFields {
    content_length: Option<u64>,
    transfer_encoding_seen: bool,
    chunked: bool,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
    hosts_count: usize,
}

impl FramingFields {
    fn collect(head: &RequestHead) -> Result<FramingFields, HttpError> {
        let mut fields = FramingFields::default();
        for (name, value) in &head.headers {
            match name.as_str() {
                "content-length" if fields.content_length.is_some() => {
                    return Err(HttpError::BadRequest("repeated Content-Length"));
                }
                "content-length" => fields.content_length = Some(parse_content_length(value)?),
                "transfer-encoding" => {
                    fields.transfer_encoding_seen = true;
                    fields.chunked = parse_transfer_encoding(value, fields.chunked)?;
                }
                "connection" => {
                    for token in value.split(',').map(str::trim) {
                        fields.close |= token.eq_ignore_ascii_case("close");
                        fields.keep_alive |= token.eq_ignore_ascii_case("keep-alive");
                    }
                }
                "expect" => fields.expect_continue = value.eq_ignore_ascii_case("100-continue"),
                "host" => fields.hosts_count += 1,
                _ => {}
            }
        }
        Ok(fields)
    }

    fn body(&self, version_minor: u8) -> Result<RequestBody, HttpError> {
        let bad = HttpError::BadRequest;
        if self.transfer_encoding_seen && self.content_length.is_some() {
            return Err(bad("both Content-Length and Transfer-Encoding"));
        }
        if self.transfer_encoding_seen && version_minor == 0 {
            return Err(bad("Transfer-Encoding in an HTTP/1.0 request"));
        }
        if self.transfer_encoding_seen && !self.chunked {
            return Err(bad("Transfer-Encoding without chunked"));
        }
        Ok(match (self.chunked, self.content_length) {
            (true, _) => RequestBody::Chunked,
            (false, None | Some(0)) => RequestBody::Empty,
            (false, Some(n)) => RequestBody::Fixed(n),
        })
    }
}

/// Content-Length is 1*DIGIT; `u64::from_str` would also take a leading '+'.
fn parse_content_length(value: &str) -> Result<u64, HttpError> {
    let invalid = HttpError::BadRequest("invalid Content-Length");
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid);
    }
    value.parse().map_err(|_| invalid)
}

/// Only `chunked`, exactly once, is supported: any other coding would need decoding the
/// S3 layer does not expect, and a repeated `chunked` is a smuggling pattern.
fn parse_transfer_encoding(value: &str, chunked_before: bool) -> Result<bool, HttpError> {
    let mut chunked = chunked_before;
    for coding in value.split(',').map(|c| c.trim_matches([' ', '\t'])) {
        if chunked || !coding.eq_ignore_ascii_case("chunked") {
            return Err(HttpError::BadRequest("unsupported Transfer-Encoding"));
        }
        chunked = true;
    }
    Ok(chunked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(Parsed, RequestHead), HttpError> {
        let mut head = RequestHead::default();
        let parsed = parse_head(text.as_bytes(), 100, &mut head, &mut Vec::new())?;
        Ok((parsed, head))
    }

    fn framing(text: &str) -> Result<Framing, HttpError> {
        match parse(text)? {
            (Parsed::Complete { version_minor, .. }, head) => request_framing(&head, version_minor),
            (Parsed::Partial, _) => panic!("partial: {text:?}"),
        }
    }

    #[test]
    fn parses_lowercases_and_trims() {
        let text = "PUT /b/k%20x?uploads&x=1 HTTP/1.1\r\nHost: h\r\nX-Amz-Meta-A:  v \r\n\r\nrest";
        let (parsed, head) = parse(text).unwrap();
        let head_bytes = text.len() - "rest".len();
        assert_eq!(
            parsed,
            Parsed::Complete {
                head_bytes,
                version_minor: 1
            }
        );
        assert_eq!(head.method, "PUT");
        assert_eq!(head.path(), "/b/k%20x");
        assert_eq!(head.query(), "uploads&x=1");
        assert_eq!(head.header("x-amz-meta-a"), Some("v"));
        assert_eq!(head.header("host"), Some("h"));
        assert_eq!(head.header("missing"), None);
    }

    #[test]
    fn partial_until_blank_line() {
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHost: h\r\n").unwrap().0,
            Parsed::Partial
        );
        assert_eq!(parse("GET / HT").unwrap().0, Parsed::Partial);
    }

    #[test]
    fn reuses_header_slots_across_requests() {
        let mut head = RequestHead::default();
        let mut spare = Vec::new();
        let big = b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
        parse_head(big, 100, &mut head, &mut spare).unwrap();
        parse_head(
            b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n",
            100,
            &mut head,
            &mut spare,
        )
        .unwrap();
        assert_eq!(head.headers, vec![("host".to_string(), "h".to_string())]);
        assert_eq!(spare.len(), 2);
        parse_head(big, 100, &mut head, &mut spare).unwrap();
        assert_eq!(head.headers.len(), 3);
        assert!(spare.is_empty());
    }

    #[test]
    fn rejects_bad_heads() {
        assert!(matches!(
            parse("GET / HTTP/1.1\r\nA\r\n\r\n"),
            Err(HttpError::BadRequest(_))
        ));
        assert!(matches!(
            parse("GET / HTTP/2.0\r\n\r\n"),
            Err(HttpError::BadRequest(_))
        ));
        assert!(matches!(
            parse("G(T / HTTP/1.1\r\n\r\n"),
            Err(HttpError::BadRequest(_))
        ));
        let latin1 = b"GET / HTTP/1.1\r\nHost: h\r\nA: \xe9\r\n\r\n";
        let result = parse_head(latin1, 100, &mut RequestHead::default(), &mut Vec::new());
        assert!(matches!(result, Err(HttpError::BadRequest(_))));
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "A: 1\r\n".repeat(5));
        let result = parse_head(
            many.as_bytes(),
            4,
            &mut RequestHead::default(),
            &mut Vec::new(),
        );
        assert!(matches!(result, Err(HttpError::HeadersTooMany)));
    }

    /// (body, keep-alive, expect-continue), or None for a 400.
    type Expected = Option<(RequestBody, bool, bool)>;

    #[test]
    fn framing_table() {
        use RequestBody::{Chunked, Empty, Fixed};
        // (version, fields after a Host field for 1.1, expected)
        let cases: &[(&str, &str, Expected)] = &[
            ("1.1", "", Some((Empty, true, false))),
            ("1.0", "", Some((Empty, false, false))),
            ("1.0", "Connection: Keep-Alive", Some((Empty, true, false))),
            ("1.1", "Connection: x, close", Some((Empty, false, false))),
            ("1.1", "Content-Length: 5", Some((Fixed(5), true, false))),
            ("1.1", "Content-Length: 0", Some((Empty, true, false))),
            (
                "1.1",
                "Content-Length: 5|Expect: 100-Continue",
                Some((Fixed(5), true, true)),
            ),
            (
                "1.1",
                "Content-Length: 0|Expect: 100-continue",
                Some((Empty, true, true)),
            ),
            (
                "1.0",
                "Content-Length: 5|Expect: 100-continue",
                Some((Fixed(5), false, false)),
            ),
            (
                "1.1",
                "Transfer-Encoding: Chunked",
                Some((Chunked, true, false)),
            ),
            ("1.1", "Content-Length: +5", None),
            ("1.1", "Content-Length: 5, 5", None),
            ("1.1", "Content-Length: 99999999999999999999", None),
            ("1.1", "Content-Length: 1|Content-Length: 1", None),
            ("1.1", "Content-Length: 1|Transfer-Encoding: chunked", None),
            ("1.1", "Transfer-Encoding: gzip, chunked", None),
            ("1.1", "Transfer-Encoding: chunked, chunked", None),
            (
                "1.1",
                "Transfer-Encoding: chunked|Transfer-Encoding: chunked",
                None,
            ),
            ("1.1", "Transfer-Encoding: ", None),
            ("1.0", "Transfer-Encoding: chunked", None),
            ("1.1", "Host: second", None),
        ];
        for (version, fields, want) in cases {
            let host = if *version == "1.1" { "Host: h\r\n" } else { "" };
            let fields: String = fields.split('|').map(|f| format!("{f}\r\n")).collect();
            let fields = if fields == "\r\n" {
                String::new()
            } else {
                fields
            };
            let text = format!("PUT / HTTP/{version}\r\n{host}{fields}\r\n");
            let got = framing(&text)
                .ok()
                .map(|f| (f.body, f.keep_alive, f.expect_continue));
            assert_eq!(&got, want, "{text:?}");
        }
        assert!(
            framing("GET / HTTP/1.1\r\n\r\n").is_err(),
            "Host is required in 1.1"
        );
    }

    #[test]
    fn path_and_query_forms() {
        let head = |target: &str| RequestHead {
            target: target.into(),
            ..Default::default()
        };
        assert_eq!(head("/a/b?c=d?e").path(), "/a/b");
        assert_eq!(head("/a/b?c=d?e").query(), "c=d?e");
        assert_eq!(head("/a").query(), "");
        assert_eq!(head("http://host:9000/a/b?x").path(), "/a/b");
        assert_eq!(head("HTTPS://host").path(), "");
        assert_eq!(head("*").path(), "*");
        assert_eq!(head("/x://y").path(), "/x://y");
    }

    #[test]
    fn head_end_detection_scans_only_new_bytes() {
        assert!(head_end_maybe_present(b"GET / HTTP/1.1\r\n\r\n", 0));
        assert!(head_end_maybe_present(b"GET / HTTP/1.1\r\n\r\n", 16));
        assert!(head_end_maybe_present(b"GET /\n\n", 6));
        assert!(!head_end_maybe_present(b"GET / HTTP/1.1\r\nHost: h\r\n", 0));
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let alphabet = b"GET PUT/ HTTP/1.1\r\n:;,chunkedContent-Length0123456789\t\x00\xff";
        for _ in 0..20_000 {
            let len = (xorshift(&mut seed) % 200) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[(xorshift(&mut seed) % alphabet.len() as u64) as usize])
                .collect();
            let mut head = RequestHead::default();
            if let Ok(Parsed::Complete { version_minor, .. }) =
                parse_head(&bytes, 8, &mut head, &mut Vec::new())
            {
                let _ = request_framing(&head, version_minor);
                let _ = (head.path(), head.query());
            }
        }
    }

    pub(crate) fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }
}
