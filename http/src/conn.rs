//! One client connection: the TLS handshake when the port has TLS, its reused buffers,
//! reading request heads under the idle and header timeouts, running exchanges back to
//! back (keep-alive and pipelining), answering malformed heads, and closing, with a
//! lingering half-close when the client may still be sending.
//!
//! Owns `Conn`. The read buffer holds unconsumed bytes in `rbuf[rpos..]`; everything that
//! reads the socket for a request (head, chunk lines, body) goes through it, so bytes of a
//! pipelined next request are never lost. The exchange-level logic is in `exchange.rs`.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::net::TcpStream;

use crate::chunked::find_line;
use crate::error::HttpError;
use crate::exchange::{run_exchange, ExchangeEnd};
use crate::head::{head_end_maybe_present, parse_head, request_framing, Framing, Parsed};
use crate::io::{Socket, SocketError};
use crate::limits::ServerLimits;
use crate::response::write_error_head;
use crate::server::ShardState;
use crate::{Handler, RequestHead};

/// Why no request head could be read.
enum HeadFailure {
    /// Close without a word: idle timeout, shutdown, peer gone.
    Quiet,
    /// Answer with this status, then close.
    Answer(u16),
}

impl From<HttpError> for HeadFailure {
    fn from(e: HttpError) -> Self {
        e.status_u16()
            .map_or(HeadFailure::Quiet, HeadFailure::Answer)
    }
}

/// Serves requests on one connection until it closes, after a TLS handshake if the port
/// has TLS.
pub(crate) async fn serve_connection<H: Handler>(
    stream: TcpStream,
    peer_addr: SocketAddr,
    shard: Rc<ShardState>,
    handler: &H,
) {
    let Some(socket) = serve_connection_socket(stream, peer_addr, &shard).await else {
        return;
    };
    let mut conn = Conn::new(socket, peer_addr, shard);
    let mut first = true;
    loop {
        let framing = match conn.read_head(first).await {
            Ok(framing) => framing,
            Err(HeadFailure::Quiet) => return conn.close_quietly().await,
            Err(HeadFailure::Answer(status)) => return conn.answer_and_close(status).await,
        };
        first = false;
        match run_exchange(&mut conn, framing, handler).await {
            ExchangeEnd::KeepAlive => {}
            ExchangeEnd::Close { linger: false } => return,
            ExchangeEnd::Close { linger: true } => return conn.close_lingering().await,
        }
    }
}

/// The connection's transport, after the handshake when the port has TLS. A failed
/// handshake closes the connection quietly (None): whoever cannot complete one (a
/// plain-HTTP client, a scanner, a stalled peer) cannot read an answer either.
async fn serve_connection_socket(
    stream: TcpStream,
    peer_addr: SocketAddr,
    shard: &ShardState,
) -> Option<Socket> {
    let stop = shard.stopping.clone();
    let Some(acceptor) = &shard.tls else {
        return Some(Socket::plain(stream, stop));
    };
    let timeout = Duration::from_millis(shard.limits.tls_handshake_timeout_ms);
    match Socket::tls(stream, stop, acceptor, timeout).await {
        Ok(socket) => Some(socket),
        Err(e) => {
            tracing::debug!(%peer_addr, error = ?e, "TLS handshake failed; closing");
            None
        }
    }
}

pub(crate) struct Conn {
    pub(crate) socket: Socket,
    pub(crate) peer_addr: SocketAddr,
    pub(crate) shard: Rc<ShardState>,
    /// The current request's head; its strings are reused by the next request.
    pub(crate) head: RequestHead,
    spare_headers: Vec<(String, String)>,
    rbuf: Vec<u8>,
    rpos: usize,
    /// The last read filled all free space of `rbuf`: the client sends faster than the
    /// buffer drains, so it doubles before the next read (up to its maximum).
    rbuf_grow: bool,
    /// Response bytes not yet written (head, chunk framing, small bodies).
    pub(crate) wbuf: Vec<u8>,
    /// Large body reads land here first (io_uring needs an owned buffer); empty until the
    /// first large read.
    bounce: Vec<u8>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        let (read, bounce) = (
            std::mem::take(&mut self.rbuf),
            std::mem::take(&mut self.bounce),
        );
        self.shard
            .buffers
            .give_back(&self.shard.limits, read, bounce);
    }
}

impl Conn {
    fn new(socket: Socket, peer_addr: SocketAddr, shard: Rc<ShardState>) -> Conn {
        let rbuf = shard.buffers.take_read(shard.limits.read_buffer_bytes);
        // Allocated with the first response: a connection that never sends a request
        // (a flood, a port scan) costs no write buffer.
        let wbuf = Vec::new();
        Conn {
            socket,
            peer_addr,
            shard,
            head: RequestHead::default(),
            spare_headers: Vec::new(),
            rbuf,
            rpos: 0,
            rbuf_grow: false,
            wbuf,
            bounce: Vec::new(),
        }
    }

    pub(crate) fn limits(&self) -> &ServerLimits {
        &self.shard.limits
    }

    /// Bytes read from the socket and not consumed yet.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.rbuf[self.rpos..]
    }

    pub(crate) fn consume(&mut self, bytes: usize) {
        assert!(bytes <= self.rbuf.len() - self.rpos);
        self.rpos += bytes;
    }

    /// Reads more bytes into the read buffer; Ok(0) means the peer closed.
    async fn fill(
        &mut self,
        timeout: Duration,
        stop_on_shutdown: bool,
    ) -> Result<usize, SocketError> {
        self.fill_make_room();
        let rbuf = std::mem::take(&mut self.rbuf);
        let (filled, capacity) = (rbuf.len(), rbuf.capacity());
        let read = self
            .socket
            .read(rbuf.slice_mut(filled..capacity), timeout, stop_on_shutdown);
        let (result, slice) = read.await;
        self.rbuf = slice.into_inner();
        self.rbuf_grow = matches!(result, Ok(n) if n == capacity - filled);
        result
    }

    /// Rewinds an empty buffer, moves unconsumed bytes to the front when less than half
    /// the buffer is free (a memmove of at most a few KiB, cheaper than a short read), and
    /// grows the buffer when it is full or the last read filled it.
    fn fill_make_room(&mut self) {
        if self.rpos == self.rbuf.len() {
            self.rbuf.clear();
            self.rpos = 0;
        }
        let free_bytes = self.rbuf.capacity() - self.rbuf.len();
        if self.rpos > 0 && free_bytes < self.rbuf.capacity() / 2 {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
        if self.rbuf_grow || self.rbuf.len() == self.rbuf.capacity() {
            self.rbuf_grow = false;
            let capacity_max = self.limits().read_buffer_capacity_bytes_max();
            let capacity = (self.rbuf.capacity() * 2).min(capacity_max);
            self.rbuf.reserve_exact(capacity - self.rbuf.len());
        }
        // Callers stop at their line or head limit, each no larger than the capacity the
        // buffer grows to.
        assert!(self.rbuf.len() < self.rbuf.capacity(), "read buffer full");
    }

    /// Reads until a CRLF-terminated line of at most `line_bytes_max` bytes (CRLF included)
    /// is buffered, each read waiting at most `timeout`; returns (line length without CRLF,
    /// bytes to consume).
    pub(crate) async fn read_line(
        &mut self,
        line_bytes_max: usize,
        timeout: Duration,
    ) -> Result<(usize, usize), HttpError> {
        loop {
            if let Some((line_bytes, consume_bytes)) = find_line(self.buffered())? {
                if consume_bytes > line_bytes_max {
                    return Err(HttpError::BadChunk("line too long"));
                }
                return Ok((line_bytes, consume_bytes));
            }
            if self.buffered().len() >= line_bytes_max {
                return Err(HttpError::BadChunk("line too long"));
            }
            match self.fill(timeout, false).await? {
                0 => return Err(HttpError::BodyTruncated),
                _ => continue,
            }
        }
    }

    /// Copies up to `dst.len()` (and at most `remaining_bytes`) body bytes into `dst`:
    /// from the read buffer if it holds any, else straight from the socket through the
    /// bounce buffer for large destinations, else through the read buffer.
    pub(crate) async fn read_body_bytes(
        &mut self,
        dst: &mut [u8],
        remaining_bytes: u64,
        timeout: Duration,
    ) -> Result<usize, HttpError> {
        let want_bytes = body_want_bytes(remaining_bytes, dst.len());
        let dst = &mut dst[..want_bytes];
        if self.reads_body_direct(want_bytes) {
            return self.read_body_bounce(dst, timeout).await;
        }
        self.read_body_buffered(dst, timeout).await
    }

    /// [`Conn::read_body_bytes`] into `buf[range]` of an owned buffer: bytes already in the
    /// read buffer are copied, and a large read goes from the socket straight into `buf`.
    /// That is safe with an owned buffer (a cancelled read still owns its memory until the
    /// kernel lets go) and saves the bounce buffer's copy. `range.start` must be within
    /// `buf`'s initialized bytes (monoio's rule for a slice).
    pub(crate) async fn read_body_bytes_into<B>(
        &mut self,
        mut buf: B,
        range: std::ops::Range<usize>,
        remaining_bytes: u64,
        timeout: Duration,
    ) -> (Result<usize, HttpError>, B)
    where
        B: IoBufMut + monoio::buf::IoBuf + AsMut<[u8]>,
    {
        let want = range.start..range.start + body_want_bytes(remaining_bytes, range.len());
        if !self.reads_body_direct(want.len()) {
            let result = self
                .read_body_buffered(&mut buf.as_mut()[want], timeout)
                .await;
            return (result, buf);
        }
        let (result, slice) = self.socket.read(buf.slice_mut(want), timeout, false).await;
        let result = match result {
            Ok(0) => Err(HttpError::BodyTruncated),
            Ok(n) => Ok(n),
            Err(err) => Err(err.into()),
        };
        (result, slice.into_inner())
    }

    /// Whether a body read of `want_bytes` should skip the read buffer: nothing is
    /// buffered and the read is large enough to be worth its own syscall.
    fn reads_body_direct(&self, want_bytes: usize) -> bool {
        self.buffered().is_empty() && want_bytes >= self.limits().body_direct_read_bytes_min
    }

    /// Copies body bytes into `dst` from the read buffer, filling it first if empty.
    async fn read_body_buffered(
        &mut self,
        dst: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, HttpError> {
        if self.buffered().is_empty() && self.fill(timeout, false).await? == 0 {
            return Err(HttpError::BodyTruncated);
        }
        let copied_bytes = dst.len().min(self.buffered().len());
        dst[..copied_bytes].copy_from_slice(&self.buffered()[..copied_bytes]);
        self.consume(copied_bytes);
        Ok(copied_bytes)
    }

    /// Reads at most `dst.len()` bytes, so nothing past the body (a pipelined request) can
    /// land in the bounce buffer, then makes the one copy into `dst`.
    async fn read_body_bounce(
        &mut self,
        dst: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, HttpError> {
        let mut bounce = std::mem::take(&mut self.bounce);
        if bounce.capacity() == 0 {
            bounce = self
                .shard
                .buffers
                .take_bounce(self.limits().body_bounce_bytes_max);
        }
        bounce.clear();
        let read_bytes = dst.len().min(bounce.capacity());
        let (result, slice) = self
            .socket
            .read(bounce.slice_mut(0..read_bytes), timeout, false)
            .await;
        self.bounce = slice.into_inner();
        match result? {
            0 => Err(HttpError::BodyTruncated),
            n => {
                dst[..n].copy_from_slice(&self.bounce[..n]);
                Ok(n)
            }
        }
    }

    /// Discards up to `budget_bytes` (and at most `remaining_bytes`) of body, waiting at
    /// most `timeout` for them; returns how many. Skips the copy `read_body_bytes` would
    /// make.
    pub(crate) async fn discard_body_bytes(
        &mut self,
        remaining_bytes: u64,
        budget_bytes: u64,
        timeout: Duration,
    ) -> Result<u64, HttpError> {
        if self.buffered().is_empty() && self.fill(timeout, false).await? == 0 {
            return Err(HttpError::BodyTruncated);
        }
        let buffered_bytes = self.buffered().len() as u64;
        let discarded_bytes = remaining_bytes.min(budget_bytes).min(buffered_bytes);
        self.consume(discarded_bytes as usize);
        Ok(discarded_bytes)
    }

    /// Writes and empties the response buffer.
    pub(crate) async fn flush_wbuf(&mut self) -> Result<(), HttpError> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let timeout = Duration::from_millis(self.limits().write_timeout_ms);
        let wbuf = std::mem::take(&mut self.wbuf);
        let (result, mut wbuf) = self.socket.write_all(wbuf, timeout).await;
        wbuf.clear();
        self.wbuf = wbuf;
        Ok(result?)
    }

    /// Reads and parses the next request head. `first`: the connection was just accepted,
    /// so the header timeout runs from now; later heads get the idle timeout until their
    /// first byte, then the header timeout.
    async fn read_head(&mut self, first: bool) -> Result<Framing, HeadFailure> {
        let header_timeout = Duration::from_millis(self.limits().header_read_timeout_ms);
        let mut deadline = first.then(|| Instant::now() + header_timeout);
        let mut scanned_bytes = 0;
        loop {
            let buffered_bytes = self.buffered().len();
            if buffered_bytes > scanned_bytes
                && head_end_maybe_present(self.buffered(), scanned_bytes)
            {
                if let Some(framing) = self.read_head_parse()? {
                    return Ok(framing);
                }
            }
            scanned_bytes = buffered_bytes;
            if buffered_bytes >= self.limits().header_bytes_max {
                return Err(HeadFailure::Answer(431));
            }
            if buffered_bytes == 0 && self.shard.stopping.is_set() {
                return Err(HeadFailure::Quiet);
            }
            if buffered_bytes > 0 {
                deadline.get_or_insert_with(|| Instant::now() + header_timeout);
            }
            self.read_head_wait(deadline).await?;
        }
    }

    fn read_head_parse(&mut self) -> Result<Option<Framing>, HeadFailure> {
        let limits = &self.shard.limits;
        let buffered = &self.rbuf[self.rpos..];
        let count_max = limits.headers_count_max;
        let parsed = parse_head(buffered, count_max, &mut self.head, &mut self.spare_headers)?;
        let Parsed::Complete {
            head_bytes,
            version_minor,
        } = parsed
        else {
            return Ok(None);
        };
        if head_bytes > limits.header_bytes_max {
            return Err(HeadFailure::Answer(431));
        }
        self.consume(head_bytes);
        Ok(Some(request_framing(&self.head, version_minor)?))
    }

    /// Waits for more head bytes: until the header deadline if one runs, else for the
    /// idle timeout, giving up early on shutdown while no byte of a request has arrived.
    async fn read_head_wait(&mut self, deadline: Option<Instant>) -> Result<(), HeadFailure> {
        let idle = self.buffered().is_empty();
        let timeout = match deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => Duration::from_millis(self.limits().idle_timeout_ms),
        };
        match self.fill(timeout, idle).await {
            Ok(0) => Err(HeadFailure::Quiet),
            Ok(_) => Ok(()),
            Err(SocketError::Timeout) if !idle => Err(HeadFailure::Answer(408)),
            Err(e) => {
                let peer_addr = self.peer_addr;
                tracing::debug!(%peer_addr, error = ?e, "closing between requests");
                Err(HeadFailure::Quiet)
            }
        }
    }

    /// Sends a bodiless error response and closes.
    pub(crate) async fn answer_and_close(mut self, status: u16) {
        self.answer(status).await;
        self.close_lingering().await;
    }

    /// Replaces any unsent response bytes with a bodiless error response that announces
    /// the close, and writes it; errors are moot since the connection closes next.
    pub(crate) async fn answer(&mut self, status: u16) {
        tracing::debug!(peer_addr = %self.peer_addr, status, "answering and closing");
        self.wbuf.clear();
        self.wbuf.reserve(self.shard.limits.write_buffer_bytes);
        write_error_head(&mut self.wbuf, status, &self.shard.date);
        let _ = self.flush_wbuf().await;
    }

    /// Closes between requests. Over TLS a close_notify goes first, so the client sees a
    /// clean end of stream rather than a possible truncation attack; plain TCP needs
    /// nothing before the close.
    async fn close_quietly(mut self) {
        if self.socket.is_tls() {
            let linger = Duration::from_millis(self.limits().close_linger_ms);
            self.socket.shutdown_write(linger).await;
        }
    }

    /// Half-closes, then discards what the client still sends for a short while, so that
    /// closing with unread bytes does not reset the connection before the client has read
    /// our last response. Over TLS, a read that timed out leaves the stream reporting that
    /// error once more, which ends the linger early: acceptable for a best-effort nicety.
    pub(crate) async fn close_lingering(mut self) {
        let linger = Duration::from_millis(self.limits().close_linger_ms);
        let deadline = Instant::now() + linger;
        self.socket.shutdown_write(linger).await;
        let mut discarded_bytes = 0;
        while discarded_bytes < self.limits().close_linger_bytes_max {
            let timeout = deadline.saturating_duration_since(Instant::now());
            if timeout.is_zero() {
                break;
            }
            self.rpos = self.rbuf.len();
            match self.fill(timeout, false).await {
                Ok(0) | Err(_) => break,
                Ok(n) => discarded_bytes += n as u64,
            }
        }
    }
}

/// How many bytes one body read asks for: the room it was given, at most what is left of
/// the current body data (so nothing past the body is read).
fn body_want_bytes(remaining_bytes: u64, room_bytes: usize) -> usize {
    let want_bytes = usize::try_from(remaining_bytes)
        .unwrap_or(usize::MAX)
        .min(room_bytes);
    assert!(want_bytes > 0);
    want_bytes
}
