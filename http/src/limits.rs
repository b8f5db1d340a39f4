//! Every bound the HTTP layer enforces, with its unit and the reason for its default.
//!
//! Owns `ServerLimits`. Nothing here does I/O; `server.rs` checks the limits once with
//! `ServerLimits::check` before serving, so the rest of the crate may rely on them.

/// Upper bound on `headers_count_max`: the parser's header slots live on the stack.
pub const HEADERS_COUNT_CAP: usize = 256;

/// A limit the operator may change while the server runs; every clone sees
/// the same value.
#[derive(Clone, Debug, Default)]
pub struct LiveLimit(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl LiveLimit {
    pub fn new(value: usize) -> Self {
        LiveLimit(std::sync::Arc::new(value.into()))
    }

    pub fn get(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Values below 1 are raised to 1 (0 would refuse every connection).
    pub fn set(&self, value: usize) {
        self.0
            .store(value.max(1), std::sync::atomic::Ordering::Relaxed);
    }
}

impl PartialEq for LiveLimit {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for LiveLimit {}

impl ServerLimits {
    /// The per-client connection cap in force now.
    pub fn connections_per_client(&self) -> usize {
        match &self.connections_per_client_live {
            Some(live) => live.get(),
            None => self.connections_per_client_max,
        }
    }
}

/// Limits of one shard's HTTP server. `Default` gives production values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Request line plus header fields. AWS caps PUT headers at 8 KiB; presigned URLs with
    /// STS session tokens make request lines of several KiB, so 16 KiB leaves margin while
    /// bounding what one connection can make us buffer. Beyond it: 431 and close.
    pub header_bytes_max: usize,
    /// Header fields per request. S3 requests carry 10-30; 100 allows generous user
    /// metadata while keeping the parser's slot array small. Beyond it: 431 and close.
    pub headers_count_max: usize,
    /// How long a keep-alive connection may sit between requests. Longer than the idle
    /// expiry of common client pools, so the server is rarely the side that closes an idle
    /// connection (a close racing a new request costs the client a retry).
    pub idle_timeout_ms: u64,
    /// Time from a connection's first byte (or accept) to a complete request head. A head
    /// fits in one or two packets; a client dribbling it (slowloris) is cut off.
    pub header_read_timeout_ms: u64,
    /// Longest wait for any progress on one read of a request body. Backup clients on slow
    /// links pause, but a peer silent this long is gone or hostile.
    pub body_read_timeout_ms: u64,
    /// Longest wait for any progress on one socket write. A client that stops reading a
    /// response must not hold a connection slot and its buffers forever.
    pub write_timeout_ms: u64,
    /// Open connections per shard. Each costs a read buffer and a file descriptor; beyond
    /// this a new connection is accepted and closed at once, so the client retries
    /// (possibly on another shard through SO_REUSEPORT).
    pub connections_max: usize,
    /// Open connections per shard from one client address (an IPv6 client counts per /64,
    /// the block one host usually gets). A quarter of `connections_max`, so one address
    /// cannot take the others' slots (health checks, other tenants), while a busy client
    /// behind one address (a NAT, a backup fleet) still gets a thousand connections per
    /// shard. Per shard because each shard accepts on its own SO_REUSEPORT socket and
    /// shares nothing with the others: the kernel spreads one address's connections over
    /// the shards, so the whole server admits about `shards` times this from one address.
    pub connections_per_client_max: usize,
    /// When set, replaces `connections_per_client_max` and may change while
    /// serving (a configuration reload); shared by every shard.
    pub connections_per_client_live: Option<LiveLimit>,
    /// How long `serve` lets in-flight exchanges finish after shutdown is triggered. Below
    /// the common 30 s kill deadline of orchestrators, so we close cleanly before SIGKILL.
    pub shutdown_grace_ms: u64,
    /// Initial capacity of each connection's read buffer, reused for every request on it.
    /// Small, because most connections only ever hold a request head of a few hundred
    /// bytes, and a flood of idle or dripping connections must cost little memory. It
    /// doubles when a read fills it, up to what `header_bytes_max` and the chunked-framing
    /// line limits need (16 KiB by default).
    pub read_buffer_bytes: usize,
    /// Initial capacity of each connection's response-head buffer, allocated with the
    /// first response (grows if needed once).
    pub write_buffer_bytes: usize,
    /// Size of the per-connection buffer that large body reads go through, allocated on
    /// the first large read and reused: big enough that a fast upload costs one syscall per
    /// 256 KiB, small enough that thousands of uploading connections fit in memory.
    pub body_bounce_bytes_max: usize,
    /// A body read into a destination at least this large bypasses the read buffer and
    /// reads the socket through the bounce buffer (fewer, larger syscalls).
    pub body_direct_read_bytes_min: usize,
    /// Unread request body the server discards to keep the connection (before a response
    /// head, on `Exchange::discard_body`, or after the handler returns); a larger
    /// remainder is cheaper to abandon by closing.
    pub body_drain_bytes_max: u64,
    /// Deadline over a whole discard of unread body, however many reads it takes. A client
    /// still sending a body nobody wants must not hold a connection slot by trickling it
    /// (each read alone may wait `body_read_timeout_ms`): one byte every 29 s would hold
    /// a slot for weeks. With `body_drain_bytes_max` this sets the slowest acceptable
    /// drain: 64 KiB in 3 s, about 21 KiB/s; a slower client is closed (it has its answer
    /// already or gets one with `Connection: close`).
    pub body_drain_timeout_ms: u64,
    /// Largest response body sent while the request body is still arriving unread and
    /// cannot be discarded (beyond `body_drain_bytes_max` or too slow). A client reads
    /// nothing before it has sent its whole request, so a response bigger than the
    /// client's socket receive buffer would deadlock both sides, and closing afterwards
    /// would make the client's kernel drop the unread tail. 16 KiB fits the smallest
    /// default receive buffers (64 KiB) with room to spare, and every error answer;
    /// `send_head` refuses larger ones with `HttpError::RequestBodyUnread`.
    pub unread_body_response_bytes_max: u64,
    /// One chunk-size line of a chunked body, extensions included. aws-chunked signatures
    /// add about 80 bytes; 4 KiB is generous and bounds buffering.
    pub chunk_line_bytes_max: usize,
    /// All trailer fields of a chunked body together.
    pub trailer_bytes_max: usize,
    /// Small response bodies given to `respond` are copied behind the head so that both
    /// leave in one write: copying 16 KiB costs less than a syscall and a packet.
    pub respond_coalesce_bytes_max: usize,
    /// When closing with request bytes possibly still in flight, the server half-closes and
    /// reads for this long before closing, so the client's kernel does not reset the
    /// connection before the client has read our response (e.g. a 403 to a large PUT).
    /// One deadline over the whole linger, not per read, so a dripping client cannot
    /// stretch it: this is how long a refused request (failed authentication) can hold
    /// its connection slot after the answer.
    pub close_linger_ms: u64,
    /// Bytes discarded while lingering; a client that keeps sending past this is cut off.
    pub close_linger_bytes_max: u64,
    /// Read buffers of closed connections kept per shard for new connections, only those
    /// of the initial size (a grown buffer is freed). Few: a 4 KiB allocation is cheap,
    /// and after a flood of connections the pool must not keep the memory.
    pub pooled_read_buffers_max: usize,
    /// Bounce buffers of closed connections kept per shard (8 x 256 KiB = 2 MiB): reused
    /// memory is warm, a fresh 256 KiB costs 64 page faults on first touch. Only a few, so
    /// that memory taken by a flood of uploads goes back once they end.
    pub pooled_bounce_buffers_max: usize,
    /// Time from accept to a completed TLS handshake, as one deadline over every handshake
    /// read and write. A handshake is two round trips and a signature, well under a second
    /// on any working link; a peer that connects and stalls, or trickles its ClientHello,
    /// holds a connection slot like a slow request head, so it gets the same 10 s.
    pub tls_handshake_timeout_ms: u64,
    /// TLS sessions each shard remembers for resumption (rustls' default size; about 100
    /// bytes each). The cache is per shard so a handshake never takes a lock shared with
    /// another core; a client that reconnects to another shard does a full handshake.
    /// 0 disables resumption.
    pub tls_session_cache_entries_max: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_bytes_max: 16 * 1024,
            headers_count_max: 100,
            idle_timeout_ms: 90_000,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            write_timeout_ms: 30_000,
            connections_max: 4096,
            connections_per_client_max: 1024,
            connections_per_client_live: None,
            shutdown_grace_ms: 25_000,
            read_buffer_bytes: 4 * 1024,
            write_buffer_bytes: 1024,
            body_bounce_bytes_max: 256 * 1024,
            body_direct_read_bytes_min: 16 * 1024,
            body_drain_bytes_max: 64 * 1024,
            body_drain_timeout_ms: 3_000,
            unread_body_response_bytes_max: 16 * 1024,
            chunk_line_bytes_max: 4 * 1024,
            trailer_bytes_max: 8 * 1024,
            respond_coalesce_bytes_max: 16 * 1024,
            close_linger_ms: 1_000,
            close_linger_bytes_max: 1024 * 1024,
            pooled_read_buffers_max: 16,
            pooled_bounce_buffers_max: 8,
            tls_handshake_timeout_ms: 10_000,
            tls_session_cache_entries_max: 256,
        }
    }
}

impl ServerLimits {
    /// Rejects combinations the server cannot honour.
    pub fn check(&self) -> Result<(), String> {
        if self.headers_count_max == 0 || self.headers_count_max > HEADERS_COUNT_CAP {
            return Err(format!(
                "headers_count_max must be in 1..={HEADERS_COUNT_CAP}"
            ));
        }
        if self.header_bytes_max < 64 || self.chunk_line_bytes_max < 16 {
            return Err("header_bytes_max >= 64 and chunk_line_bytes_max >= 16".into());
        }
        let timeouts_ms = [
            self.idle_timeout_ms,
            self.header_read_timeout_ms,
            self.body_read_timeout_ms,
            self.write_timeout_ms,
            self.tls_handshake_timeout_ms,
            self.body_drain_timeout_ms,
        ];
        if timeouts_ms.contains(&0) {
            return Err("timeouts must be > 0 ms".into());
        }
        if self.connections_max == 0 || self.body_bounce_bytes_max == 0 {
            return Err("connections_max and body_bounce_bytes_max must be > 0".into());
        }
        if self.connections_per_client_max == 0 || self.read_buffer_bytes == 0 {
            return Err("connections_per_client_max and read_buffer_bytes must be > 0".into());
        }
        Ok(())
    }

    /// Capacity a connection's read buffer may grow to: every line the server must see
    /// whole (request head, chunk-size line, one trailer line) has to fit in it.
    pub(crate) fn read_buffer_capacity_bytes_max(&self) -> usize {
        self.read_buffer_bytes
            .max(self.header_bytes_max)
            .max(self.chunk_line_bytes_max)
            .max(self.trailer_bytes_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_nonsense_fails() {
        let defaults = ServerLimits::default();
        assert_eq!(defaults.check(), Ok(()));
        assert!(defaults.read_buffer_capacity_bytes_max() >= defaults.header_bytes_max);
        assert!(defaults.connections_per_client_max * 4 <= defaults.connections_max);
        let cases = [
            ServerLimits {
                headers_count_max: 0,
                ..ServerLimits::default()
            },
            ServerLimits {
                headers_count_max: HEADERS_COUNT_CAP + 1,
                ..ServerLimits::default()
            },
            ServerLimits {
                idle_timeout_ms: 0,
                ..ServerLimits::default()
            },
            ServerLimits {
                tls_handshake_timeout_ms: 0,
                ..ServerLimits::default()
            },
            ServerLimits {
                connections_max: 0,
                ..ServerLimits::default()
            },
            ServerLimits {
                connections_per_client_max: 0,
                ..ServerLimits::default()
            },
            ServerLimits {
                body_drain_timeout_ms: 0,
                ..ServerLimits::default()
            },
            ServerLimits {
                header_bytes_max: 10,
                ..ServerLimits::default()
            },
        ];
        for limits in cases {
            assert!(limits.check().is_err(), "{limits:?}");
        }
    }
}
