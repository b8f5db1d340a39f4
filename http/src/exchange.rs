//! One request/response exchange: the `Exchange` a handler receives, request body
//! reading (Content-Length or chunked, `100 Continue` on first read), response writing
//! (head, framed body, finish), and what happens after the handler returns: a 500 if it
//! never answered, draining a small unread body, and the keep-alive decision.
//!
//! Owns the exchange state machines; socket and buffer mechanics are in `conn.rs`.
//! Rules kept throughout:
//! - After any socket error, timeout or framing error the connection closes once the
//!   exchange ends, because what follows can no longer be trusted. A failed read still
//!   lets the handler answer (e.g. an S3 `RequestTimeout`); a failed write ends the
//!   response.
//! - Unread body is discarded only within `body_drain_bytes_max` and one deadline of
//!   `body_drain_timeout_ms`, so a client trickling a body nobody reads cannot hold its
//!   connection; past either, the connection closes.
//! - A response never starts in a way that cannot be delivered: while the request body
//!   is still arriving unread, the client reads nothing, so only a small response head
//!   and body may go out (`unread_body_response_bytes_max`); `send_head` discards a small
//!   body first and refuses a large response otherwise.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use monoio::buf::IoBuf;

use crate::chunked::{parse_chunk_size_line, parse_trailer_line, ChunkState};
use crate::conn::Conn;
use crate::error::HttpError;
use crate::head::{Framing, RequestBody, RequestHead};
use crate::response::{check_head, write_head, ConnectionField, LengthField};
use crate::Handler;

/// The length of a response body, declared in `send_head`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLen {
    /// No body; `Content-Length: 0` (nothing for 204 and 304).
    Empty,
    /// Exactly this many bytes will follow through `write_body`.
    Fixed(u64),
    /// Unknown length: each `write_body` becomes one chunk; `finish` ends the body.
    Chunked,
    /// Only for a HEAD request or a 304: advertise `Content-Length` but send no body.
    /// (For HEAD, `Fixed` does the same, so a GET handler can serve HEAD unchanged.)
    HeadOnly(u64),
}

/// How the exchange ended, for the connection loop.
pub(crate) enum ExchangeEnd {
    KeepAlive,
    /// `linger`: request bytes may still be in flight, so close gently.
    Close {
        linger: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyState {
    Fixed { remaining_bytes: u64 },
    Chunked(ChunkState),
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ContinueState {
    NotExpected,
    /// The client sent `Expect: 100-continue` and has not been answered.
    Pending,
    /// "100 Continue" went out, or the body was first read after the final response had
    /// started (the client then decides alone whether to send it).
    Answered,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ResponseState {
    NotStarted,
    Sending(Outgoing),
    Finished,
}

/// How response body bytes are framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outgoing {
    Fixed {
        remaining_bytes: u64,
    },
    Chunked,
    /// HTTP/1.0 client and unknown length: the body ends when the connection closes.
    CloseDelimited,
    /// HEAD or `BodyLen::HeadOnly`: body bytes are accepted and dropped.
    Discard,
}

/// Set when reading the request body failed (timeout, bad framing, peer gone): no more
/// body can be read and the connection closes after this exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ReadBroken {
    /// What the server answers if the handler does not (None: the peer is gone).
    answer_status: Option<u16>,
}

/// One request/response exchange on a connection.
pub struct Exchange<'c> {
    conn: &'c mut Conn,
    framing: Framing,
    body: BodyState,
    continue_state: ContinueState,
    response: ResponseState,
    close_after: bool,
    read_broken: Option<ReadBroken>,
    /// The rest of the body was discarded (or given up on): `read_body` fails from now on
    /// rather than return a body with a hole in it.
    body_discarded: bool,
    /// A write failed: nothing more can be sent on this connection.
    write_broken: bool,
    trailers: Vec<(String, String)>,
    /// Request body bytes handed to the handler (after de-chunking).
    body_read_bytes: u64,
    /// Response body bytes written.
    body_written_bytes: u64,
    /// The status of the response head, once one was accepted.
    status_sent: Option<u16>,
    /// When the exchange began (its head was parsed), the last request body
    /// bytes arrived, and the response head went out: the access log's
    /// total and turn-around times.
    started_at: Instant,
    body_last_read_at: Option<Instant>,
    head_sent_at: Option<Instant>,
    /// A short label the handler attaches for its logs (S3: the error code).
    log_label: Option<&'static str>,
}

/// Runs one exchange: the handler, then the clean-up that decides keep-alive.
pub(crate) async fn run_exchange<H: Handler>(
    conn: &mut Conn,
    framing: Framing,
    handler: &H,
) -> ExchangeEnd {
    let mut ex = Exchange::new(conn, framing);
    // Boxed: the handler's future (tens of KiB for S3) then lives only while a request
    // runs, instead of inside every connection task, idle or not.
    Box::pin(handler.handle(&mut ex)).await;
    ex.complete().await
}

impl<'c> Exchange<'c> {
    fn new(conn: &'c mut Conn, framing: Framing) -> Exchange<'c> {
        let body = match framing.body {
            RequestBody::Empty => BodyState::Done,
            RequestBody::Fixed(n) => BodyState::Fixed { remaining_bytes: n },
            RequestBody::Chunked => BodyState::Chunked(ChunkState::SizeLine),
        };
        let continue_state = match framing.expect_continue {
            true => ContinueState::Pending,
            false => ContinueState::NotExpected,
        };
        Exchange {
            conn,
            framing,
            body,
            continue_state,
            response: ResponseState::NotStarted,
            close_after: false,
            read_broken: None,
            body_discarded: false,
            write_broken: false,
            trailers: Vec::new(),
            body_read_bytes: 0,
            body_written_bytes: 0,
            status_sent: None,
            started_at: Instant::now(),
            body_last_read_at: None,
            head_sent_at: None,
            log_label: None,
        }
    }

    /// Request body bytes read so far (usage accounting).
    pub fn body_read_bytes(&self) -> u64 {
        self.body_read_bytes
    }

    /// Response body bytes written so far (usage accounting).
    pub fn body_written_bytes(&self) -> u64 {
        self.body_written_bytes
    }

    /// The status of the response head the handler sent (metrics); `None`
    /// when it sent none.
    pub fn status_sent(&self) -> Option<u16> {
        self.status_sent
    }

    /// Milliseconds from the end of the request (its last body bytes, or
    /// its head when it had no body) to the response head: the server's
    /// own time, as AWS's access log counts "turn-around time".
    pub fn turn_around_ms(&self) -> Option<u64> {
        let request_end = self.body_last_read_at.unwrap_or(self.started_at);
        let head_sent = self.head_sent_at?;
        Some(head_sent.saturating_duration_since(request_end).as_millis() as u64)
    }

    /// Milliseconds since the exchange began.
    pub fn elapsed_ms(&self) -> u64 {
        self.started_at.elapsed().as_millis() as u64
    }

    /// Attaches a label for the logs (S3: the error code of the answer).
    pub fn set_log_label(&mut self, label: &'static str) {
        self.log_label = Some(label);
    }

    pub fn log_label(&self) -> Option<&'static str> {
        self.log_label
    }
}

/// Request side.
impl Exchange<'_> {
    pub fn head(&self) -> &RequestHead {
        &self.conn.head
    }

    pub fn peer_addr(&self) -> SocketAddr {
        self.conn.peer_addr
    }

    /// Whether the request came over TLS (S3 needs it for SSE-C and the
    /// `aws:SecureTransport` policy condition).
    pub fn is_tls(&self) -> bool {
        self.conn.socket.is_tls()
    }

    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub fn http_version_minor(&self) -> u8 {
        self.framing.version_minor
    }

    /// The request body length: the Content-Length, Some(0) when the request has no body
    /// framing at all, None for a chunked body.
    pub fn body_len_declared(&self) -> Option<u64> {
        match self.framing.body {
            RequestBody::Empty => Some(0),
            RequestBody::Fixed(n) => Some(n),
            RequestBody::Chunked => None,
        }
    }

    /// Trailer fields of a chunked body (names lowercased); complete once `read_body` has
    /// returned Ok(0).
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// Reads the next bytes of the request body into `dst`, de-chunked. Ok(0) means the
    /// body has ended (or `dst` is empty). Sends "100 Continue" first if the client asked
    /// for it. After an error the connection is closed once the handler returns.
    pub async fn read_body(&mut self, dst: &mut [u8]) -> Result<usize, HttpError> {
        if let Some(refused) = self.body_read_refused() {
            return Err(refused);
        }
        if dst.is_empty() {
            return Ok(0);
        }
        let result = match self.next_body_data().await {
            Ok(None) => Ok(0),
            Ok(Some((remaining_bytes, timeout))) => {
                self.conn
                    .read_body_bytes(dst, remaining_bytes, timeout)
                    .await
            }
            Err(err) => Err(err),
        };
        self.body_read_done(result)
    }

    /// [`Exchange::read_body`] into `buf[range]` of an owned buffer, which a large read
    /// fills straight from the socket (no copy through the bounce buffer). Returns the
    /// buffer with how many bytes went to the range's start; 0 once the body has ended.
    /// `range.start` must be within `buf`'s initialized bytes (monoio's rule for a slice) and
    /// `range.end` within `buf.as_mut()`; otherwise the read fails (an I/O error), not panics.
    pub async fn read_body_into<B>(
        &mut self,
        mut buf: B,
        range: std::ops::Range<usize>,
    ) -> (Result<usize, HttpError>, B)
    where
        B: monoio::buf::IoBufMut + IoBuf + AsMut<[u8]>,
    {
        if let Some(refused) = self.body_read_refused() {
            return (Err(refused), buf);
        }
        if range.start > buf.bytes_init() || range.end > buf.as_mut().len() {
            // A caller's mistake: this request fails (as an I/O error on its body), rather
            // than a panic taking the whole shard down.
            let misuse = std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "body read range outside the buffer's initialized bytes",
            );
            return (Err(HttpError::Io(misuse)), buf);
        }
        if range.is_empty() {
            return (Ok(0), buf);
        }
        let (result, buf) = match self.next_body_data().await {
            Ok(None) => (Ok(0), buf),
            Ok(Some((remaining_bytes, timeout))) => {
                self.conn
                    .read_body_bytes_into(buf, range, remaining_bytes, timeout)
                    .await
            }
            Err(err) => (Err(err), buf),
        };
        (self.body_read_done(result), buf)
    }

    /// Why no body can be read, if none can.
    fn body_read_refused(&self) -> Option<HttpError> {
        if self.read_broken.is_some() || self.write_broken {
            Some(HttpError::ConnectionBroken)
        } else if self.body_discarded {
            Some(HttpError::BodyDiscarded)
        } else {
            None
        }
    }

    /// Sends a pending "100 Continue" and moves past chunk framing to the next body data:
    /// its remaining length and the read timeout, or None once the body has ended. A
    /// zero-length body with `Expect: 100-continue` still gets its "100 Continue": aws cli
    /// v1's vendored botocore otherwise treats the final response as an early answer and
    /// misreads the next response on the connection.
    async fn next_body_data(&mut self) -> Result<Option<(u64, Duration)>, HttpError> {
        self.send_continue().await?;
        let timeout = Duration::from_millis(self.conn.limits().body_read_timeout_ms);
        loop {
            if self.body == BodyState::Done {
                return Ok(None);
            }
            if let Some(remaining_bytes) = self.body_data_remaining_bytes() {
                return Ok(Some((remaining_bytes, timeout)));
            }
            self.chunk_advance(timeout).await?;
        }
    }

    /// Accounts a body read's outcome: its bytes consumed, or the body broken.
    fn body_read_done(&mut self, result: Result<usize, HttpError>) -> Result<usize, HttpError> {
        match &result {
            Ok(0) => {}
            Ok(n) => {
                self.body_data_consumed(*n as u64);
                self.body_read_bytes += *n as u64;
                self.body_last_read_at = Some(Instant::now());
            }
            Err(e) => self.body_failed(e),
        }
        result
    }

    /// Records a failed body read or discard: no more body can be read, and the
    /// connection closes after this exchange.
    fn body_failed(&mut self, e: &HttpError) {
        tracing::debug!(peer_addr = %self.conn.peer_addr, error = %e, "request body failed");
        let answer_status = e.status_u16();
        self.read_broken = Some(ReadBroken { answer_status });
    }

    /// Discards the rest of the request body, for a request that should have none (GET,
    /// HEAD, DELETE and the like). Call it before answering: the client reads nothing
    /// until it has sent its whole request, so a large response to a request whose body
    /// is still coming would deadlock (see `send_head`). At most `body_drain_bytes_max`
    /// bytes within `body_drain_timeout_ms`; a larger or slower body is an error
    /// (`UnreadBodyTooLarge`, `Timeout`), after which the connection closes once the
    /// exchange ends and the handler should answer with a small error (S3: 400). With
    /// `Expect: 100-continue` unanswered the client is not sending, so nothing is read and
    /// the connection closes after the answer instead. A later `read_body` fails.
    pub async fn discard_body(&mut self) -> Result<(), HttpError> {
        if self.read_broken.is_some() || self.write_broken {
            return Err(HttpError::ConnectionBroken);
        }
        if self.body == BodyState::Done {
            return Ok(());
        }
        self.body_discarded = true;
        if self.continue_state == ContinueState::Pending {
            if !self.discard_buffered() {
                self.close_after = true;
            }
            return Ok(());
        }
        let result = self.discard_rest().await;
        if let Err(e) = &result {
            self.body_failed(e);
        }
        result
    }

    /// Whether the whole body has arrived (it may still sit unread in the read buffer):
    /// then the client is no longer sending and reads whatever we answer.
    fn body_arrived(&self) -> bool {
        match self.body {
            BodyState::Done => true,
            BodyState::Fixed { remaining_bytes } => {
                remaining_bytes <= self.conn.buffered().len() as u64
            }
            BodyState::Chunked(_) => false,
        }
    }

    /// Discards body until it ends: at most `body_drain_bytes_max` bytes, framing
    /// included (or endless one-byte chunks with long extensions would keep it going),
    /// all within `body_drain_timeout_ms`.
    async fn discard_rest(&mut self) -> Result<(), HttpError> {
        let limits = self.conn.limits();
        let budget_bytes = limits.body_drain_bytes_max;
        let deadline = Instant::now() + Duration::from_millis(limits.body_drain_timeout_ms);
        if let BodyState::Fixed { remaining_bytes } = self.body {
            if remaining_bytes > budget_bytes {
                return Err(HttpError::UnreadBodyTooLarge);
            }
        }
        let mut discarded_bytes = 0;
        while self.body != BodyState::Done {
            if discarded_bytes >= budget_bytes {
                return Err(HttpError::UnreadBodyTooLarge);
            }
            let timeout = deadline.saturating_duration_since(Instant::now());
            if timeout.is_zero() {
                return Err(HttpError::Timeout);
            }
            let budget_left_bytes = budget_bytes - discarded_bytes;
            discarded_bytes += self.discard_step(budget_left_bytes, timeout).await?;
        }
        Ok(())
    }

    /// Discards one run of body data or one framing line, each read waiting at most
    /// `timeout`; returns the bytes it consumed.
    async fn discard_step(
        &mut self,
        budget_left_bytes: u64,
        timeout: Duration,
    ) -> Result<u64, HttpError> {
        let Some(remaining_bytes) = self.body_data_remaining_bytes() else {
            return self.chunk_advance(timeout).await;
        };
        let discard = self
            .conn
            .discard_body_bytes(remaining_bytes, budget_left_bytes, timeout);
        let data_bytes = discard.await?;
        self.body_data_consumed(data_bytes);
        Ok(data_bytes)
    }

    /// Skips a body that has fully arrived already, without waiting for any byte; false if
    /// some of it is still to come.
    fn discard_buffered(&mut self) -> bool {
        let buffered_bytes = self.conn.buffered().len() as u64;
        match self.body {
            BodyState::Done => true,
            BodyState::Fixed { remaining_bytes } if remaining_bytes <= buffered_bytes => {
                self.conn.consume(remaining_bytes as usize);
                self.body = BodyState::Done;
                true
            }
            _ => false,
        }
    }

    /// Sends "100 Continue" unless a final response already went out, in which case the
    /// client decides by itself whether to send the body.
    async fn send_continue(&mut self) -> Result<(), HttpError> {
        if self.continue_state != ContinueState::Pending {
            return Ok(());
        }
        self.continue_state = ContinueState::Answered;
        if self.response != ResponseState::NotStarted {
            return Ok(());
        }
        let timeout = Duration::from_millis(self.conn.limits().write_timeout_ms);
        let continue_line: &'static [u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
        let (result, _) = self.conn.socket.write_all(continue_line, timeout).await;
        Ok(result?)
    }

    /// Bytes left in the current run of body data (whole body or current chunk), or None
    /// when the decoder is between chunks.
    fn body_data_remaining_bytes(&self) -> Option<u64> {
        match self.body {
            BodyState::Fixed { remaining_bytes } => Some(remaining_bytes),
            BodyState::Chunked(ChunkState::Data { remaining_bytes }) => Some(remaining_bytes),
            BodyState::Chunked(_) | BodyState::Done => None,
        }
    }

    fn body_data_consumed(&mut self, bytes: u64) {
        self.body = match self.body {
            BodyState::Fixed { remaining_bytes } if remaining_bytes == bytes => BodyState::Done,
            BodyState::Fixed { remaining_bytes } => BodyState::Fixed {
                remaining_bytes: remaining_bytes - bytes,
            },
            BodyState::Chunked(ChunkState::Data { remaining_bytes })
                if remaining_bytes == bytes =>
            {
                BodyState::Chunked(ChunkState::DataEnd)
            }
            BodyState::Chunked(ChunkState::Data { remaining_bytes }) => {
                BodyState::Chunked(ChunkState::Data {
                    remaining_bytes: remaining_bytes - bytes,
                })
            }
            other => panic!("body data consumed in state {other:?}"),
        };
    }

    /// Reads and applies one framing line of a chunked body (size, data end, trailer), each
    /// read waiting at most `timeout`; returns the bytes it consumed.
    async fn chunk_advance(&mut self, timeout: Duration) -> Result<u64, HttpError> {
        let BodyState::Chunked(state) = self.body else {
            panic!("chunk_advance outside a chunked body");
        };
        let trailers_count_max = self.conn.limits().headers_count_max;
        let line_bytes_max = self.chunk_line_bytes_max(state);
        let (line_bytes, consume_bytes) = self.conn.read_line(line_bytes_max, timeout).await?;
        let line = &self.conn.buffered()[..line_bytes];
        let next = match state {
            ChunkState::SizeLine => match parse_chunk_size_line(line)? {
                0 => BodyState::Chunked(ChunkState::Trailers { seen_bytes: 0 }),
                n => BodyState::Chunked(ChunkState::Data { remaining_bytes: n }),
            },
            ChunkState::DataEnd => BodyState::Chunked(ChunkState::SizeLine),
            ChunkState::Trailers { .. } if line.is_empty() => BodyState::Done,
            ChunkState::Trailers { seen_bytes } => {
                if self.trailers.len() >= trailers_count_max {
                    return Err(HttpError::BadChunk("too many trailer fields"));
                }
                self.trailers.push(parse_trailer_line(line)?);
                let seen_bytes = seen_bytes + consume_bytes;
                BodyState::Chunked(ChunkState::Trailers { seen_bytes })
            }
            ChunkState::Data { .. } => unreachable!("rejected by chunk_line_bytes_max"),
        };
        self.conn.consume(consume_bytes);
        self.body = next;
        Ok(consume_bytes as u64)
    }

    /// The longest framing line accepted in `state`, CRLF included.
    fn chunk_line_bytes_max(&self, state: ChunkState) -> usize {
        let limits = self.conn.limits();
        match state {
            ChunkState::SizeLine => limits.chunk_line_bytes_max,
            ChunkState::DataEnd => 2,
            ChunkState::Trailers { seen_bytes } => {
                limits.trailer_bytes_max.saturating_sub(seen_bytes).max(2)
            }
            ChunkState::Data { .. } => panic!("chunk data is read, not advanced over"),
        }
    }

    fn check_writable(&self) -> Result<(), HttpError> {
        match self.write_broken {
            true => Err(HttpError::ConnectionBroken),
            false => Ok(()),
        }
    }
}

/// Response side.
impl Exchange<'_> {
    /// Whether `send_head` has been called.
    pub fn response_started(&self) -> bool {
        self.response != ResponseState::NotStarted
    }

    /// Ask for the connection to be closed after this exchange (the head says so if it is
    /// not sent yet).
    pub fn close_after(&mut self) {
        self.close_after = true;
    }

    /// Says the request failed authentication; call it before answering. The answer goes
    /// out with `Connection: close` and the connection closes after it, without draining
    /// an unread body: at most a linger of `close_linger_ms` (one deadline) lets the
    /// client read the answer. An anonymous client thus holds a connection for no longer
    /// than that, whatever it sends, and cannot reuse it for more attempts.
    pub fn mark_unauthenticated(&mut self) {
        self.close_after = true;
    }

    /// True once a response head was written (or is being written).
    pub fn head_started(&self) -> bool {
        self.response != ResponseState::NotStarted
    }

    /// Queues the status line and headers; they are written together with the first body
    /// bytes, or by `finish`, or when the handler returns. Adds Content-Length or
    /// Transfer-Encoding from `body_len`, Date and Server (unless given), and Connection
    /// as needed. `headers` must not contain framing fields (Content-Length,
    /// Transfer-Encoding, Connection). For a HEAD request a Fixed or Chunked body is
    /// announced but not sent.
    ///
    /// A request body that has not fully arrived is discarded first, within the drain
    /// limits, unless the connection closes anyway (`close_after`,
    /// `mark_unauthenticated`); so read the body before answering if you need it. If the
    /// body is still coming after that, the connection closes after this response, and a
    /// response body larger than `unread_body_response_bytes_max` (or chunked) is refused
    /// with `RequestBodyUnread` before anything is sent: the client, still sending, would
    /// not read it, and the exchange would deadlock or be cut off.
    pub async fn send_head(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body_len: BodyLen,
    ) -> Result<(), HttpError> {
        self.check_writable()?;
        if self.response != ResponseState::NotStarted {
            return Err(HttpError::HeadAlreadySent);
        }
        let supplied = check_head(status, headers)?;
        let (length, outgoing) = self.send_head_framing(status, body_len)?;
        self.status_sent = Some(status);
        self.head_sent_at = Some(Instant::now());
        self.send_head_settle_body(outgoing).await?;
        self.close_after |= self.send_head_must_close(outgoing);
        let connection = match (self.close_after, self.framing.version_minor) {
            (true, _) => ConnectionField::Close,
            (false, 0) => ConnectionField::KeepAlive,
            (false, _) => ConnectionField::Absent,
        };
        assert!(
            self.conn.wbuf.is_empty(),
            "unsent bytes before a response head"
        );
        let fields = (length, connection, supplied);
        self.conn
            .wbuf
            .reserve(self.conn.limits().write_buffer_bytes);
        write_head(
            &mut self.conn.wbuf,
            status,
            headers,
            fields,
            &self.conn.shard.date,
        );
        self.response = ResponseState::Sending(outgoing);
        Ok(())
    }

    fn send_head_framing(
        &self,
        status: u16,
        body_len: BodyLen,
    ) -> Result<(LengthField, Outgoing), HttpError> {
        use {LengthField as L, Outgoing as O};
        let head_request = self.conn.head.method == "HEAD";
        let http10 = self.framing.version_minor == 0;
        let nothing = O::Fixed { remaining_bytes: 0 };
        Ok(match body_len {
            BodyLen::Empty if status == 204 || status == 304 => (L::Absent, nothing),
            BodyLen::Empty => (L::ContentLength(0), nothing),
            _ if status == 204 => return Err(HttpError::BodyNotAllowed),
            BodyLen::HeadOnly(_) if !head_request && status != 304 => {
                // The client would wait for a body that never comes.
                return Err(HttpError::BadResponseHead("HeadOnly outside HEAD and 304"));
            }
            BodyLen::HeadOnly(n) => (L::ContentLength(n), O::Discard),
            _ if status == 304 => return Err(HttpError::BodyNotAllowed),
            BodyLen::Fixed(n) if head_request => (L::ContentLength(n), O::Discard),
            BodyLen::Fixed(n) => (L::ContentLength(n), O::Fixed { remaining_bytes: n }),
            BodyLen::Chunked if head_request && http10 => (L::Absent, O::Discard),
            BodyLen::Chunked if head_request => (L::Chunked, O::Discard),
            BodyLen::Chunked if http10 => (L::Absent, O::CloseDelimited),
            BodyLen::Chunked => (L::Chunked, O::Chunked),
        })
    }

    /// Makes sure a response framed as `outgoing` can reach a client that may still be
    /// sending its request body (see `send_head`).
    async fn send_head_settle_body(&mut self, outgoing: Outgoing) -> Result<(), HttpError> {
        // With "100 Continue" unanswered the client waits for us and reads what we send.
        if self.body_arrived() || self.continue_state == ContinueState::Pending {
            return Ok(());
        }
        if !self.close_after && self.read_broken.is_none() && !self.body_discarded {
            // An error is recorded by discard_body and only means closing afterwards.
            let _ = self.discard_body().await;
            if self.body == BodyState::Done {
                return Ok(());
            }
        }
        self.close_after = true;
        let response_bytes_max = self.conn.limits().unread_body_response_bytes_max;
        let deliverable = match outgoing {
            Outgoing::Fixed { remaining_bytes } => remaining_bytes <= response_bytes_max,
            Outgoing::Discard => true,
            Outgoing::Chunked | Outgoing::CloseDelimited => false,
        };
        match deliverable {
            true => Ok(()),
            false => Err(HttpError::RequestBodyUnread),
        }
    }

    /// Whether the connection will close after this response, decided before the head is
    /// written so that the head can say so.
    fn send_head_must_close(&self, outgoing: Outgoing) -> bool {
        let drain_budget_bytes = self.conn.limits().body_drain_bytes_max;
        let buffered_bytes = self.conn.buffered().len() as u64;
        let body_forces_close = match self.body {
            BodyState::Done => false,
            // The client may be waiting for 100 and never send the rest.
            BodyState::Fixed { remaining_bytes }
                if self.continue_state == ContinueState::Pending =>
            {
                remaining_bytes > buffered_bytes
            }
            BodyState::Chunked(_) if self.continue_state == ContinueState::Pending => true,
            BodyState::Fixed { remaining_bytes } => remaining_bytes > drain_budget_bytes,
            BodyState::Chunked(_) => false,
        };
        self.close_after
            || self.read_broken.is_some()
            || body_forces_close
            || !self.framing.keep_alive
            || outgoing == Outgoing::CloseDelimited
            || self.conn.shard.stopping.is_set()
    }

    /// Writes body bytes. With `BodyLen::Chunked` each non-empty buffer is one chunk. Fails
    /// without writing if it would exceed the declared length. The buffer comes back.
    pub async fn write_body<T: IoBuf>(&mut self, buf: T) -> (Result<(), HttpError>, T) {
        let len_bytes = buf.bytes_init() as u64;
        let outgoing = match self.write_body_admit(len_bytes) {
            Ok(outgoing) => outgoing,
            Err(e) => return (Err(e), buf),
        };
        if len_bytes == 0 || outgoing == Outgoing::Discard {
            return (Ok(()), buf);
        }
        if outgoing == Outgoing::Chunked {
            write!(self.conn.wbuf, "{len_bytes:x}\r\n").expect("writing to a Vec cannot fail");
        }
        let (result, buf) = self.write_body_bytes(buf).await;
        self.write_body_written(&result, outgoing, len_bytes);
        (result, buf)
    }

    /// Like `write_body`, but copies `bytes` behind whatever is pending (the
    /// response head, a chunk-size line) so that they leave in one send. For small
    /// bodies: a small GET then costs the client one wakeup instead of two, and on
    /// loopback the server pays for the client's receive path as well.
    pub async fn write_body_copied(&mut self, bytes: &[u8]) -> Result<(), HttpError> {
        let len_bytes = bytes.len() as u64;
        let outgoing = self.write_body_admit(len_bytes)?;
        if len_bytes == 0 || outgoing == Outgoing::Discard {
            return Ok(());
        }
        if outgoing == Outgoing::Chunked {
            write!(self.conn.wbuf, "{len_bytes:x}\r\n").expect("writing to a Vec cannot fail");
        }
        self.conn.wbuf.extend_from_slice(bytes);
        let result = self.conn.flush_wbuf().await;
        self.write_body_written(&result, outgoing, len_bytes);
        result
    }

    /// Accounts for `len_bytes` of body that were (or failed to be) written.
    fn write_body_written(
        &mut self,
        result: &Result<(), HttpError>,
        outgoing: Outgoing,
        len_bytes: u64,
    ) {
        match (result, outgoing) {
            (Err(_), _) => self.write_broken = true,
            (Ok(()), Outgoing::Fixed { remaining_bytes }) => {
                self.body_written_bytes += len_bytes;
                let remaining_bytes = remaining_bytes - len_bytes;
                self.response = ResponseState::Sending(Outgoing::Fixed { remaining_bytes });
            }
            // The CRLF closing this chunk goes out with the next chunk or the last one.
            (Ok(()), Outgoing::Chunked) => {
                self.body_written_bytes += len_bytes;
                self.conn.wbuf.extend_from_slice(b"\r\n")
            }
            (Ok(()), Outgoing::CloseDelimited | Outgoing::Discard) => {}
        }
    }

    fn write_body_admit(&self, len_bytes: u64) -> Result<Outgoing, HttpError> {
        self.check_writable()?;
        let too_long = |declared_remaining_bytes| HttpError::BodyTooLong {
            declared_remaining_bytes,
            attempted_bytes: len_bytes,
        };
        match self.response {
            ResponseState::NotStarted => Err(HttpError::HeadNotSent),
            ResponseState::Finished => Err(too_long(0)),
            ResponseState::Sending(Outgoing::Fixed { remaining_bytes })
                if len_bytes > remaining_bytes =>
            {
                Err(too_long(remaining_bytes))
            }
            ResponseState::Sending(outgoing) => Ok(outgoing),
        }
    }

    /// Flushes queued head or framing bytes, then writes `buf` from its own memory (an
    /// arbitrary IoBuf cannot be copied behind them without unsafe code).
    async fn write_body_bytes<T: IoBuf>(&mut self, buf: T) -> (Result<(), HttpError>, T) {
        if let Err(e) = self.conn.flush_wbuf().await {
            return (Err(e), buf);
        }
        let timeout = Duration::from_millis(self.conn.limits().write_timeout_ms);
        let (result, buf) = self.conn.socket.write_all(buf, timeout).await;
        (result.map_err(HttpError::from), buf)
    }

    /// Ends the response: writes the last chunk of a chunked body and flushes. A chunked
    /// response the handler does not finish is cut off by closing the connection, so the
    /// client sees a truncated body rather than a complete-looking one. Fails (and leaves
    /// the response open) if a Fixed body is short.
    pub async fn finish(&mut self) -> Result<(), HttpError> {
        self.check_writable()?;
        match self.response {
            ResponseState::NotStarted => return Err(HttpError::HeadNotSent),
            ResponseState::Finished => return Ok(()),
            ResponseState::Sending(Outgoing::Fixed { remaining_bytes }) if remaining_bytes > 0 => {
                return Err(HttpError::BodyIncomplete {
                    missing_bytes: remaining_bytes,
                });
            }
            ResponseState::Sending(Outgoing::Chunked) => {
                self.conn.wbuf.extend_from_slice(b"0\r\n\r\n");
            }
            ResponseState::Sending(_) => {}
        }
        let result = self.conn.flush_wbuf().await;
        match result {
            Ok(()) => self.response = ResponseState::Finished,
            Err(_) => self.write_broken = true,
        }
        result
    }

    /// Sends a whole response: head, body, finish. Small bodies leave in the same write as
    /// the head.
    pub async fn respond(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<(), HttpError> {
        let len_bytes = body.len() as u64;
        let body_len = if len_bytes == 0 {
            BodyLen::Empty
        } else {
            BodyLen::Fixed(len_bytes)
        };
        self.send_head(status, headers, body_len).await?;
        let coalesce = body.len() <= self.conn.limits().respond_coalesce_bytes_max;
        match self.response {
            ResponseState::Sending(Outgoing::Fixed { remaining_bytes }) if coalesce => {
                assert_eq!(remaining_bytes, len_bytes);
                self.conn.wbuf.extend_from_slice(&body);
                self.body_written_bytes += len_bytes;
                let remaining_bytes = 0;
                self.response = ResponseState::Sending(Outgoing::Fixed { remaining_bytes });
            }
            _ => self.write_body(body).await.0?,
        }
        self.finish().await
    }
}

/// After the handler.
impl Exchange<'_> {
    async fn complete(mut self) -> ExchangeEnd {
        let body_pending = self.body != BodyState::Done;
        if self.write_broken {
            // Lingering only helps a client read an answer; there is none.
            return ExchangeEnd::Close { linger: false };
        }
        if let Some(ReadBroken { answer_status }) = self.read_broken {
            return self.complete_read_broken(answer_status).await;
        }
        if !self.complete_response().await {
            let linger = body_pending;
            return ExchangeEnd::Close { linger };
        }
        if self.close_after || self.conn.shard.stopping.is_set() {
            let linger = body_pending;
            return ExchangeEnd::Close { linger };
        }
        match self.complete_drain().await {
            true => ExchangeEnd::KeepAlive,
            false => ExchangeEnd::Close { linger: true },
        }
    }

    /// The body read failed: answer for the handler if it did not, then close.
    async fn complete_read_broken(&mut self, answer_status: Option<u16>) -> ExchangeEnd {
        match (self.response, answer_status) {
            (ResponseState::NotStarted, Some(status)) => self.conn.answer(status).await,
            (ResponseState::NotStarted, None) => return ExchangeEnd::Close { linger: false },
            _ => {
                self.complete_response().await;
            }
        }
        ExchangeEnd::Close { linger: true }
    }

    /// Finishes what the handler left open; false if the response is unusable.
    async fn complete_response(&mut self) -> bool {
        let peer_addr = self.conn.peer_addr;
        match self.response {
            ResponseState::NotStarted => {
                tracing::warn!(%peer_addr, "handler returned without responding; sending 500");
                self.conn.answer(500).await;
                false
            }
            ResponseState::Sending(Outgoing::Chunked) => {
                tracing::debug!(%peer_addr, "chunked response not finished; cutting it off");
                let _ = self.conn.flush_wbuf().await;
                false
            }
            ResponseState::Sending(Outgoing::Fixed { remaining_bytes }) if remaining_bytes > 0 => {
                tracing::debug!(%peer_addr, remaining_bytes, "response body short; closing");
                let _ = self.conn.flush_wbuf().await;
                false
            }
            ResponseState::Sending(_) => self.finish().await.is_ok(),
            ResponseState::Finished => true,
        }
    }

    /// Discards a small unread request body so the connection can serve the next request;
    /// false if the body is too large, too slow, broken, or may never come (100-continue
    /// unanswered).
    async fn complete_drain(&mut self) -> bool {
        if self.continue_state == ContinueState::Pending {
            // Without "100 Continue" the client may hold the body back, so only a body
            // that has fully arrived already can be skipped without waiting.
            return self.discard_buffered();
        }
        self.discard_rest().await.is_ok()
    }
}
