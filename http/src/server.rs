//! The per-shard server: `serve` accepts connections on one monoio runtime, enforces the
//! connection limit, spawns one task per connection, and runs graceful shutdown.
//!
//! Owns `ShardState` (limits, TLS acceptor, Date cache, buffer pool, stop latches,
//! connection counts, in all and per client address), shared by `Rc` among the shard's
//! connection tasks: one thread, so no locks. The per-address count is the shard's own,
//! like everything here: `connections_per_client_max` is a per-shard cap.
//!
//! Shutdown in three steps: (1) the trigger fires, so the accept loop stops and the
//! listener closes; (2) `stopping` is set: idle connections close at once, busy ones
//! finish their exchange with `Connection: close`; (3) after `shutdown_grace_ms`,
//! `halting` is set and every remaining connection task is dropped mid-flight.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use monoio::io::Canceller;
use monoio::net::{TcpListener, TcpStream};
use monoio_rustls::TlsAcceptor;

use crate::conn::serve_connection;
use crate::io::{race, Either};
use crate::limits::ServerLimits;
use crate::response::DateCache;
use crate::shutdown::{Latch, Shutdown};
use crate::tls::TlsConfig;
use crate::Handler;

/// The per-client map is not shrunk below this many entries: a few hundred bytes, not
/// worth rehashing for.
const CLIENT_MAP_SHRINK_CAPACITY_MIN: usize = 64;

/// Pause after an accept failure caused by resource exhaustion (EMFILE and friends): the
/// condition lasts until some connection closes, and retrying at once would spin a core.
const ACCEPT_BACKOFF_MS: u64 = 50;

/// State shared by one shard's connection tasks.
pub(crate) struct ShardState {
    pub(crate) limits: ServerLimits,
    /// Present when the port speaks TLS: every connection starts with a handshake.
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) date: DateCache,
    pub(crate) buffers: BufferPool,
    /// Set when shutdown starts: stop accepting, close idle connections. Shared with each
    /// connection's socket, which watches it while waiting between requests.
    pub(crate) stopping: Rc<Latch>,
    /// Set when the grace period ends: drop every connection.
    halting: Latch,
    /// Open connections; shared with the caller of [`serve_counted`].
    connections_count: Rc<Cell<usize>>,
    /// Open connections per client address (see `client_key`); an address leaves the map
    /// with its last connection.
    client_connections: RefCell<HashMap<IpAddr, usize>>,
    /// Set when the last connection closes after `stopping`.
    drained: Latch,
}

/// Read and bounce buffers of closed connections, kept warm for the next ones: freshly
/// allocated memory is several times slower on first touch than reused memory.
pub(crate) struct BufferPool {
    read: RefCell<Vec<Vec<u8>>>,
    bounce: RefCell<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// A read buffer of the initial size (`read_buffer_bytes`).
    pub(crate) fn take_read(&self, capacity_bytes: usize) -> Vec<u8> {
        let pooled = self.read.borrow_mut().pop();
        pooled.unwrap_or_else(|| Vec::with_capacity(capacity_bytes))
    }

    /// An empty Vec means "none yet": the bounce buffer is taken on first large read.
    pub(crate) fn take_bounce(&self, capacity_bytes: usize) -> Vec<u8> {
        let pooled = self.bounce.borrow_mut().pop();
        pooled.unwrap_or_else(|| Vec::with_capacity(capacity_bytes))
    }

    /// Keeps the buffers of a closed connection if they have their initial size and the
    /// pool has room; the rest is freed, so memory taken by a flood goes back.
    pub(crate) fn give_back(&self, limits: &ServerLimits, read: Vec<u8>, bounce: Vec<u8>) {
        let read_capacity = (limits.read_buffer_bytes, limits.pooled_read_buffers_max);
        Self::give_back_one(&self.read, read, read_capacity);
        let bounce_capacity = (
            limits.body_bounce_bytes_max,
            limits.pooled_bounce_buffers_max,
        );
        Self::give_back_one(&self.bounce, bounce, bounce_capacity);
    }

    fn give_back_one(
        pool: &RefCell<Vec<Vec<u8>>>,
        mut buf: Vec<u8>,
        (capacity_bytes, pooled_max): (usize, usize),
    ) {
        let mut pool = pool.borrow_mut();
        if buf.capacity() == capacity_bytes && pool.len() < pooled_max {
            buf.clear();
            pool.push(buf);
        }
    }
}

impl ShardState {
    fn new(
        limits: ServerLimits,
        tls: Option<TlsConfig>,
        connections_count: Rc<Cell<usize>>,
    ) -> ShardState {
        let buffers = BufferPool {
            read: RefCell::default(),
            bounce: RefCell::default(),
        };
        let tls = tls.map(|tls| tls.shard_acceptor(limits.tls_session_cache_entries_max));
        ShardState {
            limits,
            tls,
            date: DateCache::default(),
            buffers,
            stopping: Rc::default(),
            halting: Latch::default(),
            connections_count,
            client_connections: RefCell::default(),
            drained: Latch::default(),
        }
    }

    /// Open connections from the client address `client`.
    fn client_connections_count(&self, client: IpAddr) -> usize {
        let counts = self.client_connections.borrow();
        counts.get(&client).copied().unwrap_or(0)
    }
}

/// The address a client is counted under: its IPv4 address, or the /64 of its IPv6
/// address, since one host usually holds a whole /64 and could otherwise pick a fresh
/// address per connection.
fn client_key(peer_addr: SocketAddr) -> IpAddr {
    match peer_addr.ip() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

/// Counts a connection task, in all and for its client address; the counts drop when the
/// task ends however it ends.
struct ConnectionSlot {
    shard: Rc<ShardState>,
    client: IpAddr,
}

impl ConnectionSlot {
    fn new(shard: &Rc<ShardState>, client: IpAddr) -> ConnectionSlot {
        shard
            .connections_count
            .set(shard.connections_count.get() + 1);
        *shard
            .client_connections
            .borrow_mut()
            .entry(client)
            .or_default() += 1;
        ConnectionSlot {
            shard: shard.clone(),
            client,
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let count = self.shard.connections_count.get() - 1;
        self.shard.connections_count.set(count);
        self.release_client();
        if count == 0 && self.shard.stopping.is_set() {
            self.shard.drained.set();
        }
    }
}

impl ConnectionSlot {
    /// Takes one connection off the client's count, and the client off the map at zero.
    /// The map shrinks once mostly empty, so a flood from many addresses does not leave
    /// its peak size behind.
    fn release_client(&self) {
        let mut counts = self.shard.client_connections.borrow_mut();
        let count = counts.get_mut(&self.client).expect("counted at admission");
        *count -= 1;
        if *count == 0 {
            counts.remove(&self.client);
            let len = counts.len();
            if counts.capacity() > CLIENT_MAP_SHRINK_CAPACITY_MIN && len * 4 < counts.capacity() {
                counts.shrink_to(len * 2);
            }
        }
    }
}

/// Serves HTTP/1.1 on `listener` until `shutdown` fires, then shuts down gracefully (see
/// the module comment) and returns. With `tls`, every connection is HTTPS: a client that
/// fails the handshake (or sends plain HTTP) is closed without an answer. Run one per
/// shard runtime; the runtime must have its timer enabled. Returns an error for invalid
/// limits or a fatal accept error.
pub async fn serve<H: Handler + 'static>(
    listener: TcpListener,
    handler: Rc<H>,
    limits: ServerLimits,
    shutdown: Shutdown,
    tls: Option<TlsConfig>,
) -> io::Result<()> {
    serve_counted(listener, handler, limits, shutdown, tls, Rc::default()).await
}

/// [`serve`], keeping the number of open connections in `open_connections`
/// for the caller to read (a metrics gauge).
pub async fn serve_counted<H: Handler + 'static>(
    listener: TcpListener,
    handler: Rc<H>,
    limits: ServerLimits,
    shutdown: Shutdown,
    tls: Option<TlsConfig>,
    open_connections: Rc<Cell<usize>>,
) -> io::Result<()> {
    limits
        .check()
        .map_err(|why| io::Error::new(io::ErrorKind::InvalidInput, why))?;
    let shard = Rc::new(ShardState::new(limits, tls, open_connections));
    let result = {
        let accepting = pin!(accept_loop(&listener, &handler, &shard));
        let watch_shutdown = pin!(async {
            shutdown.triggered().await;
            shard.stopping.set();
            std::future::pending::<std::convert::Infallible>().await
        });
        match race(accepting, watch_shutdown).await {
            Either::Left(result) => result,
            Either::Right(never) => match never {},
        }
    };
    drop(listener);
    serve_stop_connections(&shard).await;
    result
}

async fn accept_loop<H: Handler + 'static>(
    listener: &TcpListener,
    handler: &Rc<H>,
    shard: &Rc<ShardState>,
) -> io::Result<()> {
    let canceller = Canceller::new();
    loop {
        let mut accept = pin!(listener.cancelable_accept(canceller.handle()));
        let stopping = pin!(shard.stopping.wait());
        let accepted = match race(accept.as_mut(), stopping).await {
            Either::Left(accepted) => accepted,
            Either::Right(()) => {
                // Cancel and await, so a connection accepted in the same instant is
                // closed here rather than leaked by the kernel operation.
                let _ = canceller.cancel();
                let _ = accept.await;
                return Ok(());
            }
        };
        match accepted {
            Ok((stream, peer_addr)) => accept_admit(stream, peer_addr, handler, shard),
            Err(e) => accept_error(e).await?,
        }
    }
}

/// Starts a task for a new connection, or closes it at once when the shard is full or
/// the client address already holds its share of it.
fn accept_admit<H: Handler + 'static>(
    stream: TcpStream,
    peer_addr: SocketAddr,
    handler: &Rc<H>,
    shard: &Rc<ShardState>,
) {
    if shard.connections_count.get() >= shard.limits.connections_max {
        tracing::debug!(%peer_addr, "connection limit reached; closing new connection");
        return;
    }
    let client = client_key(peer_addr);
    if shard.client_connections_count(client) >= shard.limits.connections_per_client() {
        tracing::debug!(%peer_addr, "per-client connection limit reached; closing");
        return;
    }
    if let Err(e) = stream.set_nodelay(true) {
        // Only fails on a socket that is already dead; the first read will say so.
        tracing::debug!(%peer_addr, error = %e, "TCP_NODELAY failed");
    }
    let slot = ConnectionSlot::new(shard, client);
    let handler = handler.clone();
    monoio::spawn(async move {
        {
            let shard = &slot.shard;
            let served = pin!(serve_connection(
                stream,
                peer_addr,
                shard.clone(),
                &*handler
            ));
            let halting = pin!(shard.halting.wait());
            if let Either::Right(()) = race(served, halting).await {
                tracing::debug!(%peer_addr, "connection dropped at the end of shutdown grace");
            }
        }
        // Only now, with the connection's futures gone, is its slot free.
        drop(slot);
    });
}

/// Transient accept failures are logged and survived; anything else ends `serve`.
async fn accept_error(e: io::Error) -> io::Result<()> {
    let exhausted = [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM];
    if e.raw_os_error()
        .is_some_and(|code| exhausted.contains(&code))
    {
        tracing::warn!(error = %e, "accept: out of resources; backing off");
        monoio::time::sleep(Duration::from_millis(ACCEPT_BACKOFF_MS)).await;
        return Ok(());
    }
    let transient = [
        libc::ECONNABORTED,
        libc::EINTR,
        libc::EAGAIN,
        libc::EPROTO,
        libc::EPERM,
    ];
    if e.raw_os_error()
        .is_some_and(|code| transient.contains(&code))
    {
        tracing::debug!(error = %e, "accept: transient failure");
        return Ok(());
    }
    Err(e)
}

/// Steps 2 and 3 of shutdown (see the module comment).
async fn serve_stop_connections(shard: &Rc<ShardState>) {
    shard.stopping.set();
    if shard.connections_count.get() == 0 {
        return;
    }
    let grace = Duration::from_millis(shard.limits.shutdown_grace_ms);
    let (drained, grace_over) = (pin!(shard.drained.wait()), pin!(monoio::time::sleep(grace)));
    if let Either::Right(()) = race(drained, grace_over).await {
        tracing::info!(
            connections = shard.connections_count.get(),
            "shutdown grace over; dropping connections"
        );
        shard.halting.set();
        shard.drained.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_counted_per_ipv4_address_and_ipv6_slash_64() {
        let key = |text: &str| client_key(text.parse().expect("socket address"));
        assert_eq!(key("192.0.2.7:1234"), key("192.0.2.7:80"));
        assert_ne!(key("192.0.2.7:1234"), key("192.0.2.8:1234"));
        assert_eq!(
            key("[2001:db8:1:2:aaaa::1]:1"),
            key("[2001:db8:1:2:bbbb::9]:2")
        );
        assert_eq!(
            key("[2001:db8:1:2:aaaa::1]:1"),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_ne!(key("[2001:db8:1:2::1]:1"), key("[2001:db8:1:3::1]:1"));
        // An IPv4 client of a dual-stack listener counts as its IPv4 address.
        assert_eq!(key("[::ffff:192.0.2.7]:1"), key("192.0.2.7:2"));
    }
}
