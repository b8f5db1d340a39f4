//! Socket operations with deadlines, on monoio's owned-buffer (io_uring) model, over plain
//! TCP or TLS.
//!
//! Owns `Socket` (one connection's transport, plain or TLS), `TimedStream` (a TcpStream
//! whose every operation ends by a deadline or the stop latch) and `race`. A timed-out
//! read or write is cancelled in the kernel and then awaited to completion, so the buffer
//! always comes back to its owner and no byte read is silently lost.
//!
//! The deadline is enforced under the TLS layer, never around it: a TLS stream keeps its
//! ciphertext buffers inside its in-flight operation, and a stream whose operation future
//! was dropped is unusable (monoio-rustls panics on its next use). So `Socket` arms the
//! shared `OpBounds` before each operation, and `TimedStream` ends the TCP operation
//! underneath, which the TLS layer then sees as an ordinary error. Bounds are absolute
//! deadlines, not per-syscall timeouts, so a peer trickling one TLS record a byte at a time
//! cannot stretch an operation. Nothing here knows about HTTP.

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{
    AsyncReadRent, AsyncWriteRent, CancelableAsyncReadRent, CancelableAsyncWriteRent, Canceller,
};
use monoio::net::TcpStream;
use monoio::BufResult;
use monoio_rustls::{ServerTlsStream, TlsAcceptor};

use crate::error::HttpError;
use crate::shutdown::Latch;

/// Which of two futures finished first.
pub(crate) enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Polls `a` then `b` until one completes. `a` goes first so that a completed operation
/// wins over a timer that fired in the same turn. The caller pins both (with `pin!`) and
/// drops the loser: an async fn taking the futures by value would keep each twice in its
/// state (argument and pinned copy), and races nest, so every connection task would carry
/// several copies of monoio's 640-byte `Sleep`.
pub(crate) fn race<'a, A: Future, B: Future>(
    mut a: Pin<&'a mut A>,
    mut b: Pin<&'a mut B>,
) -> impl Future<Output = Either<A::Output, B::Output>> + 'a {
    poll_fn(move |cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(out));
        }
        if let Poll::Ready(out) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(out));
        }
        Poll::Pending
    })
}

/// Why a socket operation ended without a result.
#[derive(Debug)]
pub(crate) enum SocketError {
    Io(io::Error),
    Timeout,
    /// The stop latch was set while waiting (graceful shutdown of an idle connection).
    Stopped,
}

impl From<SocketError> for HttpError {
    fn from(e: SocketError) -> Self {
        match e {
            SocketError::Io(e) => HttpError::Io(e),
            SocketError::Timeout => HttpError::Timeout,
            SocketError::Stopped => HttpError::ConnectionClosed,
        }
    }
}

/// What ends the socket operation in progress. Shared by `Socket`, which arms it before
/// each operation, and the `TimedStream` under the TLS layer, which `Socket` cannot reach.
struct OpBounds {
    deadline: Cell<Instant>,
    /// Whether the stop latch ends the operation (only waits between requests).
    stop_armed: Cell<bool>,
    stop: Rc<Latch>,
    /// Why the last operation was cut short, if it was.
    interrupted: Cell<Option<Interrupt>>,
}

#[derive(Clone, Copy, Debug)]
enum Interrupt {
    Timeout,
    Stopped,
}

impl OpBounds {
    fn arm(&self, timeout: Duration, stop_armed: bool) {
        self.deadline.set(Instant::now() + timeout);
        self.stop_armed.set(stop_armed);
        self.interrupted.set(None);
    }

    /// The operation's result as the caller sees it: an interruption, whatever error the
    /// TLS layer made of it, is reported as such.
    fn outcome<T>(&self, result: io::Result<T>) -> Result<T, SocketError> {
        match (self.interrupted.take(), result) {
            (_, Ok(value)) => Ok(value),
            (Some(Interrupt::Timeout), Err(_)) => Err(SocketError::Timeout),
            (Some(Interrupt::Stopped), Err(_)) => Err(SocketError::Stopped),
            (None, Err(e)) => Err(SocketError::Io(e)),
        }
    }
}

/// An accepted connection's transport. One operation is in flight at a time.
pub(crate) struct Socket {
    transport: Transport,
    bounds: Rc<OpBounds>,
}

enum Transport {
    Plain(TimedStream),
    /// Boxed: a rustls connection is large, and plain connections should not pay for it.
    Tls(Box<ServerTlsStream<TimedStream>>),
}

impl Socket {
    /// A plain TCP connection; `stop` ends the operations armed with it.
    pub(crate) fn plain(stream: TcpStream, stop: Rc<Latch>) -> Socket {
        let (stream, bounds) = TimedStream::new(stream, stop);
        Socket {
            transport: Transport::Plain(stream),
            bounds,
        }
    }

    /// Runs the server side of a TLS handshake, all of it within `timeout` and given up
    /// when `stop` is set. On failure the connection is closed by dropping it.
    pub(crate) async fn tls(
        stream: TcpStream,
        stop: Rc<Latch>,
        acceptor: &TlsAcceptor,
        timeout: Duration,
    ) -> Result<Socket, SocketError> {
        let (stream, bounds) = TimedStream::new(stream, stop);
        bounds.arm(timeout, true);
        // Boxed: see `read`.
        let accepted = Box::pin(acceptor.accept(stream)).await;
        let accepted = accepted.map_err(io::Error::from);
        let stream = bounds.outcome(accepted)?;
        Ok(Socket {
            transport: Transport::Tls(Box::new(stream)),
            bounds,
        })
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.transport, Transport::Tls(_))
    }

    /// Reads into `buf` (from its write position); Ok(0) means the peer closed. `stop_armed`:
    /// the stop latch ends the wait too.
    pub(crate) async fn read<B: IoBufMut>(
        &mut self,
        buf: B,
        timeout: Duration,
        stop_armed: bool,
    ) -> (Result<usize, SocketError>, B) {
        self.bounds.arm(timeout, stop_armed);
        let (result, buf) = match &mut self.transport {
            Transport::Plain(stream) => stream.read(buf).await,
            // Boxed, here and below: the TLS layer's futures are several KiB, and inline
            // they would size every connection task, plain ones too. One allocation per
            // TLS operation is small beside the record's decryption.
            Transport::Tls(stream) => Box::pin(stream.read(buf)).await,
        };
        (self.bounds.outcome(result), buf)
    }

    /// Writes all of `buf`; each write must make progress within `timeout`. Over TLS the
    /// bytes are copied into records, so `buf` may be any owned buffer either way.
    pub(crate) async fn write_all<B: IoBuf>(
        &mut self,
        mut buf: B,
        timeout: Duration,
    ) -> (Result<(), SocketError>, B) {
        let total_bytes = buf.bytes_init();
        let mut written_bytes = 0;
        while written_bytes < total_bytes {
            self.bounds.arm(timeout, false);
            let rest = buf.slice(written_bytes..);
            let (result, rest) = match &mut self.transport {
                Transport::Plain(stream) => stream.write(rest).await,
                Transport::Tls(stream) => Box::pin(stream.write(rest)).await,
            };
            buf = rest.into_inner();
            match self.bounds.outcome(result) {
                Ok(0) => return (Err(SocketError::Io(io::ErrorKind::WriteZero.into())), buf),
                Ok(n) => written_bytes += n,
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Half-closes: the peer reads end-of-stream after our last byte (TLS: after a
    /// close_notify alert), and we can still read.
    pub(crate) async fn shutdown_write(&mut self, timeout: Duration) {
        self.bounds.arm(timeout, false);
        // An error means the peer is gone already, which is what we wanted.
        let _ = match &mut self.transport {
            Transport::Plain(stream) => stream.shutdown().await,
            Transport::Tls(stream) => Box::pin(stream.shutdown()).await,
        };
    }
}

/// A TCP stream whose every operation ends by the armed deadline (or the stop latch): the
/// layer under TLS, and the whole transport of a plain connection.
pub(crate) struct TimedStream {
    stream: TcpStream,
    canceller: Canceller,
    bounds: Rc<OpBounds>,
}

impl TimedStream {
    fn new(stream: TcpStream, stop: Rc<Latch>) -> (TimedStream, Rc<OpBounds>) {
        let bounds = Rc::new(OpBounds {
            deadline: Cell::new(Instant::now()),
            stop_armed: Cell::new(false),
            stop,
            interrupted: Cell::new(None),
        });
        let stream = TimedStream {
            stream,
            canceller: Canceller::new(),
            bounds: bounds.clone(),
        };
        (stream, bounds)
    }
}

impl AsyncReadRent for TimedStream {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        let TimedStream {
            stream,
            canceller,
            bounds,
        } = self;
        let op = pin!(stream.cancelable_read(buf, canceller.handle()));
        socket_op_deadline(canceller, bounds, op).await
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        let TimedStream {
            stream,
            canceller,
            bounds,
        } = self;
        let op = pin!(stream.cancelable_readv(buf, canceller.handle()));
        socket_op_deadline(canceller, bounds, op).await
    }
}

impl AsyncWriteRent for TimedStream {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        let TimedStream {
            stream,
            canceller,
            bounds,
        } = self;
        let op = pin!(stream.cancelable_write(buf, canceller.handle()));
        socket_op_deadline(canceller, bounds, op).await
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        let TimedStream {
            stream,
            canceller,
            bounds,
        } = self;
        let op = pin!(stream.cancelable_writev(buf, canceller.handle()));
        socket_op_deadline(canceller, bounds, op).await
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.stream.flush().await
    }

    /// Not bounded: a TCP half-close does not wait for the peer.
    async fn shutdown(&mut self) -> io::Result<()> {
        self.stream.shutdown().await
    }
}

/// Runs `op` until it completes, the armed deadline passes, or the armed stop latch is
/// set. On timeout or stop the operation is cancelled and awaited, so its buffer is
/// returned; if it completed anyway, its result wins. An interruption is recorded in
/// `bounds` and returned as an error the TLS layer can carry up. The caller pins `op`, so
/// that it is stored once (see `race`).
async fn socket_op_deadline<T, F>(
    canceller: &mut Canceller,
    bounds: &OpBounds,
    mut op: Pin<&mut F>,
) -> BufResult<usize, T>
where
    F: Future<Output = BufResult<usize, T>>,
{
    let stopped = pin!(async {
        match bounds.stop_armed.get() {
            true => bounds.stop.wait().await,
            false => std::future::pending().await,
        }
    });
    let timeout = bounds
        .deadline
        .get()
        .saturating_duration_since(Instant::now());
    let timer = pin!(monoio::time::sleep(timeout));
    let interrupted = pin!(race(timer, stopped));
    let interrupt = match race(op.as_mut(), interrupted).await {
        Either::Left(done) => return done,
        Either::Right(Either::Left(())) => Interrupt::Timeout,
        Either::Right(Either::Right(())) => Interrupt::Stopped,
    };
    *canceller = std::mem::take(canceller).cancel();
    let (result, buf) = op.await;
    let result = result.map_err(|_| {
        bounds.interrupted.set(Some(interrupt));
        // Never `Interrupted`: monoio's write_all would retry it.
        match interrupt {
            Interrupt::Timeout => io::Error::from(io::ErrorKind::TimedOut),
            Interrupt::Stopped => io::Error::from(io::ErrorKind::ConnectionAborted),
        }
    });
    (result, buf)
}
