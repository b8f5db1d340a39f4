//! The one error enum of the HTTP layer.
//!
//! Owns `HttpError` and its mapping to the status the server answers with when the
//! response has not started yet. The S3 layer turns any of these into `InternalError`
//! or simply stops: by the time it sees one, the connection is already marked for close.

use std::fmt;

/// Everything that can go wrong on a connection or in the use of an `Exchange`.
#[derive(Debug)]
pub enum HttpError {
    /// The socket failed (reset, broken pipe, ...).
    Io(std::io::Error),
    /// The peer closed the connection before a request started.
    ConnectionClosed,
    /// A read or write made no progress within its limit.
    Timeout,
    /// The peer closed the connection before the end of the request body.
    BodyTruncated,
    /// The chunked framing of the request body is malformed.
    BadChunk(&'static str),
    /// The request head is larger than `header_bytes_max`.
    HeaderTooLarge,
    /// The request head has more than `headers_count_max` fields.
    HeadersTooMany,
    /// The request head is malformed or its body framing is invalid.
    BadRequest(&'static str),
    /// An unread request body was to be discarded but is larger than
    /// `body_drain_bytes_max`.
    UnreadBodyTooLarge,
    /// `send_head` refused a response too large to deliver while the request body is still
    /// arriving unread (see `Exchange::send_head`); nothing was sent.
    RequestBodyUnread,
    /// `read_body` after the body was discarded (`discard_body`, or `send_head` before
    /// the body had arrived).
    BodyDiscarded,
    /// `send_head` was called twice.
    HeadAlreadySent,
    /// Body bytes or `finish` before `send_head`.
    HeadNotSent,
    /// The handler tried to write more body bytes than it declared.
    BodyTooLong {
        declared_remaining_bytes: u64,
        attempted_bytes: u64,
    },
    /// `finish` was called before all declared body bytes were written.
    BodyIncomplete { missing_bytes: u64 },
    /// The status and body length contradict each other (e.g. 204 with a body).
    BodyNotAllowed,
    /// The handler gave an invalid status or header; nothing was sent.
    BadResponseHead(&'static str),
    /// An earlier error left the connection unusable; nothing more can be sent or read.
    ConnectionBroken,
}

impl HttpError {
    /// The status the server sends for this error if the response has not started, or
    /// None when the peer cannot or need not be answered.
    pub fn status_u16(&self) -> Option<u16> {
        match self {
            HttpError::Io(_) => None,
            HttpError::ConnectionClosed => None,
            HttpError::Timeout => Some(408),
            HttpError::BodyTruncated => None,
            HttpError::BadChunk(_) => Some(400),
            HttpError::HeaderTooLarge => Some(431),
            HttpError::HeadersTooMany => Some(431),
            HttpError::BadRequest(_) => Some(400),
            HttpError::UnreadBodyTooLarge => Some(413),
            HttpError::RequestBodyUnread => Some(400),
            HttpError::BodyDiscarded => Some(500),
            HttpError::HeadAlreadySent => Some(500),
            HttpError::HeadNotSent => Some(500),
            HttpError::BodyTooLong { .. } => Some(500),
            HttpError::BodyIncomplete { .. } => Some(500),
            HttpError::BodyNotAllowed => Some(500),
            HttpError::BadResponseHead(_) => Some(500),
            HttpError::ConnectionBroken => None,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Io(e) => write!(f, "socket error: {e}"),
            HttpError::ConnectionClosed => f.write_str("connection closed by peer"),
            HttpError::Timeout => f.write_str("timed out"),
            HttpError::BodyTruncated => f.write_str("request body truncated"),
            HttpError::BadChunk(why) => write!(f, "bad chunked encoding: {why}"),
            HttpError::HeaderTooLarge => f.write_str("request header too large"),
            HttpError::HeadersTooMany => f.write_str("too many request header fields"),
            HttpError::BadRequest(why) => write!(f, "bad request: {why}"),
            HttpError::UnreadBodyTooLarge => {
                f.write_str("unread request body too large to discard")
            }
            HttpError::RequestBodyUnread => {
                f.write_str("response too large to send while the request body is unread")
            }
            HttpError::BodyDiscarded => f.write_str("request body already discarded"),
            HttpError::HeadAlreadySent => f.write_str("response head already sent"),
            HttpError::HeadNotSent => f.write_str("response head not sent yet"),
            HttpError::BodyTooLong {
                declared_remaining_bytes,
                attempted_bytes,
            } => write!(
                f,
                "response body overrun: {attempted_bytes} bytes written, \
                 {declared_remaining_bytes} remained"
            ),
            HttpError::BodyIncomplete { missing_bytes } => {
                write!(f, "response body incomplete: {missing_bytes} bytes missing")
            }
            HttpError::BodyNotAllowed => f.write_str("status does not allow a body"),
            HttpError::BadResponseHead(why) => write!(f, "invalid response head: {why}"),
            HttpError::ConnectionBroken => f.write_str("connection already broken"),
        }
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        if let HttpError::Io(e) = self {
            Some(e)
        } else {
            None
        }
    }
}

impl From<std::io::Error> for HttpError {
    fn from(e: std::io::Error) -> Self {
        HttpError::Io(e)
    }
}
