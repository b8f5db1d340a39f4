//! Batches the ETag MD5 of a shard's concurrent uploads into SIMD lanes
//! (`engine::md5_lanes`): MD5 is sequential within a stream, so the only
//! way past one MD5 per core is many streams at once.
//!
//! Owns: the shard's pending hash jobs. An upload with a chunk to hash adds
//! a job; the first to find no batch forming leads one: it lets the shard's
//! other ready tasks run a few times (so the uploads whose chunks arrived
//! meanwhile join), then hashes every job together and hands each its state
//! and buffer back. A leader waits in steps of up to a millisecond, 10 at most,
//! and stops waiting as soon as a step brings no new chunk (so an upload
//! beside a slow one is not held back by it); a leader that goes away (its
//! client disconnected) hashes the batch as it is dropped, so no job is ever
//! left waiting.
//!
//! A small PUT's body is not hashed here: small PUTs reach a shard one at a
//! time (yields and millisecond waits found no partner in measurements), so
//! their MD5s are left to the owner's commit loop, where they do wait
//! together (`engine::index::Md5AtCommit`).

use std::cell::{Cell, RefCell};

use engine::io::AlignedBuf;
use engine::md5_lanes::{lanes, update_many, Md5Stream};
use futures_channel::oneshot;

use crate::shard::Shard;

/// Chunks shorter than this are hashed at once: lanes pay off on whole
/// blocks of big chunks, and a small upload must not wait for a batch.
const LANE_CHUNK_BYTES_MIN: usize = 64 * 1024;
/// A leader's turns at most before it hashes what it has: the first
/// `LEADER_YIELDS` let the shard's other ready tasks run once each; the rest
/// wait `LEADER_WAIT_STEP` each (chunks of different uploads finish reading
/// at different reactor turns, so yields alone batched nothing).
const LEADER_TURNS_MAX: usize = 12;
const LEADER_YIELDS: usize = 2;
/// monoio's timers fire on whole-millisecond ticks, so a step ends at the
/// next tick after this: between a quarter and one millisecond.
const LEADER_WAIT_STEP: std::time::Duration = std::time::Duration::from_micros(250);

struct Job {
    stream: Md5Stream,
    buf: AlignedBuf,
    /// The bytes of `buf` to hash.
    start: usize,
    end: usize,
    reply: oneshot::Sender<(Md5Stream, AlignedBuf)>,
}

/// A shard's batch (see the module documentation).
#[derive(Default)]
pub struct Md5Batch {
    pending: RefCell<Vec<Job>>,
    leader: Cell<bool>,
    /// Uploads streaming on this shard now: a leader waits for no more
    /// than there are.
    ingesting: Cell<usize>,
    /// Chunks hashed in batches of two or more, and alone (for metrics:
    /// how much the lanes are used).
    pub chunks_batched: Cell<u64>,
    pub chunks_alone: Cell<u64>,
}

/// Counts an upload as streaming while it lives.
pub struct Ingesting<'s>(&'s Md5Batch);

impl Drop for Ingesting<'_> {
    fn drop(&mut self) {
        self.0.ingesting.set(self.0.ingesting.get() - 1);
    }
}

impl Md5Batch {
    pub fn ingesting(&self) -> Ingesting<'_> {
        self.ingesting.set(self.ingesting.get() + 1);
        Ingesting(self)
    }

    fn hash_pending(&self) {
        let jobs = std::mem::take(&mut *self.pending.borrow_mut());
        self.leader.set(false);
        if jobs.is_empty() {
            return;
        }
        let counter = if jobs.len() > 1 {
            &self.chunks_batched
        } else {
            &self.chunks_alone
        };
        counter.set(counter.get() + jobs.len() as u64);
        let mut jobs = jobs;
        {
            let mut work: Vec<(&mut Md5Stream, &[u8])> = jobs
                .iter_mut()
                .map(|job| {
                    let (start, end) = (job.start, job.end);
                    (&mut job.stream, &job.buf.as_full_mut()[start..end])
                })
                .collect();
            update_many(&mut work);
        }
        for job in jobs {
            // A job whose upload went away drops its buffer here.
            let _ = job.reply.send((job.stream, job.buf));
        }
    }
}

/// Lets every other task the shard has ready run once: done on the second
/// poll, after waking itself on the first (which puts it at the back of the
/// run queue).
struct YieldTurn(bool);

impl std::future::Future for YieldTurn {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// Hashes the batch if its leader is dropped before it did.
struct LeaderGuard<'b>(&'b Md5Batch);

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        self.0.hash_pending();
    }
}

/// Adds `buf[start..end]` to `stream`, in a batch with the shard's other
/// uploads when it is worth it. The buffer comes back unchanged.
pub async fn hash_chunk(
    shard: &Shard,
    stream: &mut Md5Stream,
    mut buf: AlignedBuf,
    (start, end): (usize, usize),
) -> AlignedBuf {
    let batch = &shard.md5_batch;
    if lanes() == 1 || end - start < LANE_CHUNK_BYTES_MIN || batch.ingesting.get() < 2 {
        batch.chunks_alone.set(batch.chunks_alone.get() + 1);
        stream.update(&buf.as_full_mut()[start..end]);
        return buf;
    }
    let (reply, answer) = oneshot::channel();
    batch.pending.borrow_mut().push(Job {
        stream: std::mem::take(stream),
        buf,
        start,
        end,
        reply,
    });
    if !batch.leader.replace(true) {
        let guard = LeaderGuard(batch);
        let mut joined_before = 0;
        for turn in 0..LEADER_TURNS_MAX {
            let waiting = batch.pending.borrow().len();
            if waiting >= lanes().min(batch.ingesting.get()) {
                break;
            }
            // Waiting pays only while chunks keep coming: an upload beside a
            // slow one (a client trickling its body) is not held back by it.
            if turn > LEADER_YIELDS && waiting == joined_before {
                break;
            }
            joined_before = waiting;
            if turn < LEADER_YIELDS {
                YieldTurn(false).await;
            } else {
                monoio::time::sleep(LEADER_WAIT_STEP).await;
            }
        }
        drop(guard);
    }
    let (hashed, buf) = answer
        .await
        .expect("a batch answers every job it takes before it is dropped");
    *stream = hashed;
    buf
}
