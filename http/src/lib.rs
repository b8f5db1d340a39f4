//! HTTP/1.1 server for one shard: runs on a single monoio (io_uring) runtime, one per
//! shard thread, with no locks and no `Send` requirements on handlers.
//!
//! Owns connections (plain or TLS), request parsing, body framing (Content-Length,
//! chunked, `Expect: 100-continue`), response framing, timeouts, connection limits and
//! graceful shutdown. Knows nothing of S3: the S3 layer implements `Handler` and sees each request
//! as an `Exchange`.
//!
//! Main types: `serve`, `Handler`, `Exchange`, `RequestHead`, `BodyLen`, `ServerLimits`,
//! `TlsConfig`, `Shutdown`/`ShutdownTrigger`, `HttpError`. Module map: `server` (accept
//! loop, shutdown), `conn` (one connection: handshake, read buffer, keep-alive loop),
//! `exchange` (one request/response), `head` and `chunked` (pure parsers), `response`
//! (heads, status phrases), `io` (plain or TLS socket ops with deadlines), `tls`
//! (certificate loading, rustls settings), `limits`, `error`, `shutdown`.

#![forbid(unsafe_code)]

mod chunked;
mod conn;
mod error;
mod exchange;
mod head;
mod io;
mod limits;
mod response;
mod server;
mod shutdown;
mod tls;

pub use error::HttpError;
pub use exchange::{BodyLen, Exchange};
pub use head::RequestHead;
pub use limits::{LiveLimit, ServerLimits, HEADERS_COUNT_CAP};
pub use response::{reason_phrase, SERVER_NAME};
pub use server::{serve, serve_counted};
pub use shutdown::{shutdown_signal, Shutdown, ShutdownTrigger};
pub use tls::TlsConfig;

/// The application side of the server: called once per request, on the shard thread.
///
/// The handler reads the body with `Exchange::read_body` and answers with `respond`, or
/// with `send_head`, `write_body` and `finish`. If it returns without answering, the
/// client gets a 500 and the connection closes. A request that takes no body should have
/// it discarded first (`Exchange::discard_body`), and a request that failed
/// authentication marked so (`Exchange::mark_unauthenticated`) before it is answered.
#[allow(async_fn_in_trait)]
pub trait Handler {
    async fn handle(&self, ex: &mut Exchange<'_>);
}
