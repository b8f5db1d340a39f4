//! The shard's LMDB committer thread. An LMDB write transaction commits with an
//! fsync, which would block the shard's reactor (and every connection on that
//! core); so the reactor hands each group-commit batch to this thread and
//! awaits the reply over a channel.

use std::sync::mpsc;
use std::thread::JoinHandle;

use futures_channel::oneshot;

use crate::error::{EngineError, EngineResult};
use crate::index::{Index, IndexOp};
use crate::limits::COMMITTER_QUEUE_BATCHES_MAX;

/// The per-op outcomes of one batch (each op's bucket usage changes when it
/// was applied), or the batch's own failure.
pub type BatchOutcome = EngineResult<Vec<EngineResult<crate::usage::UsageDeltas>>>;

struct CommitJob {
    ops: Vec<IndexOp>,
    segment_ends: Vec<(u32, u64)>,
    reply: oneshot::Sender<BatchOutcome>,
}

/// The reactor's end of the committer. Dropping it stops the thread after the
/// queued batches are committed.
pub struct Committer {
    jobs: Option<mpsc::SyncSender<CommitJob>>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    pub fn spawn(index: Index, shard: u16) -> std::io::Result<Committer> {
        let (jobs, queue) = mpsc::sync_channel::<CommitJob>(COMMITTER_QUEUE_BATCHES_MAX);
        let thread = std::thread::Builder::new()
            .name(format!("committer-{shard}"))
            .spawn(move || {
                for job in queue {
                    let outcome = index.apply_batch(&job.ops, &job.segment_ends);
                    // The waiting request may have been dropped (client gone):
                    // the commit happened regardless, which is what it asked.
                    let _ = job.reply.send(outcome);
                }
            })?;
        Ok(Committer {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Commits `ops` durably; resolves when LMDB's commit (and fsync) returned.
    pub async fn commit(&self, ops: Vec<IndexOp>, segment_ends: Vec<(u32, u64)>) -> BatchOutcome {
        let (reply, outcome) = oneshot::channel();
        let job = CommitJob {
            ops,
            segment_ends,
            reply,
        };
        let jobs = self.jobs.as_ref().ok_or(EngineError::ShuttingDown)?;
        // The group-commit loop has at most one batch outstanding, so the
        // bounded queue never fills and this send never blocks the reactor.
        jobs.try_send(job).map_err(|_| EngineError::ShuttingDown)?;
        outcome.await.map_err(|_| EngineError::ShuttingDown)?
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
