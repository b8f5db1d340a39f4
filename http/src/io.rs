//! Socket operations with deadlines, on monoio's owned-buffer (io_uring) model.
//!
//! Owns `Socket`, a TcpStream plus the canceller its operations are tied to, and `race`.
//! A timed-out read or write is cancelled in the kernel and then awaited to completion,
//! so the buffer always comes back to its owner and no byte read is silently lost.
//! Nothing here knows about HTTP.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncWriteRent, CancelableAsyncReadRent, CancelableAsyncWriteRent, Canceller};
use monoio::net::TcpStream;
use monoio::BufResult;

use crate::error::HttpError;
use crate::shutdown::Latch;

/// Which of two futures finished first.
pub(crate) enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Polls `a` then `b` until one completes; the other is dropped. `a` goes first so that a
/// completed operation wins over a timer that fired in the same turn.
pub(crate) async fn race<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    poll_fn(|cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(out));
        }
        if let Poll::Ready(out) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(out));
        }
        Poll::Pending
    })
    .await
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

/// An accepted connection's stream. One operation is in flight at a time.
pub(crate) struct Socket {
    stream: TcpStream,
    canceller: Canceller,
}

impl Socket {
    pub(crate) fn new(stream: TcpStream) -> Socket {
        Socket {
            stream,
            canceller: Canceller::new(),
        }
    }

    /// Reads into `buf` (from its write position); Ok(0) means the peer closed.
    pub(crate) async fn read<B: IoBufMut>(
        &mut self,
        buf: B,
        timeout: Duration,
        stop: Option<&Latch>,
    ) -> (Result<usize, SocketError>, B) {
        let Socket { stream, canceller } = self;
        let op = stream.cancelable_read(buf, canceller.handle());
        socket_op_deadline(canceller, op, timeout, stop).await
    }

    /// Writes all of `buf`; each write must make progress within `timeout`.
    pub(crate) async fn write_all<B: IoBuf>(
        &mut self,
        mut buf: B,
        timeout: Duration,
    ) -> (Result<(), SocketError>, B) {
        let total_bytes = buf.bytes_init();
        let mut written_bytes = 0;
        while written_bytes < total_bytes {
            let Socket { stream, canceller } = self;
            let op = stream.cancelable_write(buf.slice(written_bytes..), canceller.handle());
            let (result, slice) = socket_op_deadline(canceller, op, timeout, None).await;
            buf = slice.into_inner();
            match result {
                Ok(0) => return (Err(SocketError::Io(io::ErrorKind::WriteZero.into())), buf),
                Ok(n) => written_bytes += n,
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Half-closes: the peer reads end-of-stream after our last byte, we can still read.
    pub(crate) async fn shutdown_write(&mut self) {
        // An error means the peer is gone already, which is what we wanted.
        let _ = self.stream.shutdown().await;
    }
}

/// Runs `op` until it completes, `timeout` passes, or `stop` is set. On timeout or stop
/// the operation is cancelled and awaited, so its buffer is returned; if it completed
/// anyway, its result wins.
async fn socket_op_deadline<T, F>(
    canceller: &mut Canceller,
    op: F,
    timeout: Duration,
    stop: Option<&Latch>,
) -> (Result<usize, SocketError>, T)
where
    F: Future<Output = BufResult<usize, T>>,
{
    let mut op = pin!(op);
    let stopped = async {
        match stop {
            Some(latch) => latch.wait().await,
            None => std::future::pending().await,
        }
    };
    let interrupt = match race(op.as_mut(), race(monoio::time::sleep(timeout), stopped)).await {
        Either::Left((result, buf)) => return (result.map_err(SocketError::Io), buf),
        Either::Right(Either::Left(())) => SocketError::Timeout,
        Either::Right(Either::Right(())) => SocketError::Stopped,
    };
    *canceller = std::mem::take(canceller).cancel();
    let (result, buf) = op.await;
    (result.map_err(|_| interrupt), buf)
}
