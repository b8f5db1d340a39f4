//! Shutdown signalling: the cross-thread `ShutdownTrigger` / `Shutdown` pair that stops
//! every shard's `serve`, and `Latch`, the single-thread flag a shard uses to tell its own
//! connection tasks to stop.
//!
//! The cross-thread signal is a closed async-channel: closing wakes every receiver on any
//! thread (monoio's `sync` feature lets a foreign thread wake a shard task), and a closed
//! channel stays closed, so a late waiter sees the signal too.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Creates a shutdown signal: keep the trigger (e.g. in the signal handler thread) and
/// give a clone of the `Shutdown` to each shard's `serve`.
pub fn shutdown_signal() -> (ShutdownTrigger, Shutdown) {
    let (sender, receiver) = async_channel::bounded(1);
    let trigger = ShutdownTrigger {
        sender: sender.clone(),
    };
    (
        trigger,
        Shutdown {
            receiver,
            _keep_open: sender,
        },
    )
}

/// Fires the shutdown. Cloneable and Send; firing twice is harmless.
#[derive(Clone, Debug)]
pub struct ShutdownTrigger {
    sender: async_channel::Sender<()>,
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        self.sender.close();
    }
}

/// The receiving side of the shutdown signal. Cloneable and Send.
#[derive(Clone, Debug)]
pub struct Shutdown {
    receiver: async_channel::Receiver<()>,
    // Holding a sender means dropping every trigger does not count as a shutdown: only an
    // explicit `trigger()` does.
    _keep_open: async_channel::Sender<()>,
}

impl Shutdown {
    /// A signal that never fires (tests, tools).
    pub fn never() -> Shutdown {
        shutdown_signal().1
    }

    pub fn is_triggered(&self) -> bool {
        self.receiver.is_closed()
    }

    /// Completes once the trigger has fired.
    pub async fn triggered(&self) {
        // Nothing is ever sent, so `recv` only returns when the channel is closed.
        let _ = self.receiver.recv().await;
    }
}

/// A one-way flag for tasks of one thread: once set, every `wait` completes.
#[derive(Default)]
pub(crate) struct Latch {
    inner: RefCell<LatchInner>,
}

#[derive(Default)]
struct LatchInner {
    set: bool,
    /// One slot per pending waiter; a waiter keeps its slot across polls so a long-lived
    /// wait polled many times does not grow this list.
    wakers: Vec<Option<Waker>>,
    free_slots: Vec<usize>,
}

impl Latch {
    pub(crate) fn set(&self) {
        let wakers = {
            let mut inner = self.inner.borrow_mut();
            inner.set = true;
            inner.free_slots.clear();
            std::mem::take(&mut inner.wakers)
        };
        wakers.into_iter().flatten().for_each(Waker::wake);
    }

    pub(crate) fn is_set(&self) -> bool {
        self.inner.borrow().set
    }

    pub(crate) fn wait(&self) -> LatchWait<'_> {
        LatchWait {
            latch: self,
            slot: None,
        }
    }
}

/// Future returned by `Latch::wait`.
pub(crate) struct LatchWait<'a> {
    latch: &'a Latch,
    slot: Option<usize>,
}

impl Future for LatchWait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = self.latch.inner.borrow_mut();
        if inner.set {
            return Poll::Ready(());
        }
        let waker = Some(cx.waker().clone());
        let slot = match self.slot {
            Some(slot) => slot,
            None => match inner.free_slots.pop() {
                Some(slot) => slot,
                None => {
                    inner.wakers.push(None);
                    inner.wakers.len() - 1
                }
            },
        };
        inner.wakers[slot] = waker;
        drop(inner);
        self.slot = Some(slot);
        Poll::Pending
    }
}

impl Drop for LatchWait<'_> {
    fn drop(&mut self) {
        let mut inner = self.latch.inner.borrow_mut();
        if let (Some(slot), false) = (self.slot, inner.set) {
            inner.wakers[slot] = None;
            inner.free_slots.push(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;
    use std::time::Duration;

    #[test]
    fn trigger_from_another_thread_wakes_the_runtime() {
        let (trigger, shutdown) = shutdown_signal();
        let waiter = std::thread::spawn(move || {
            let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                .build()
                .unwrap();
            rt.block_on(shutdown.triggered());
            shutdown.is_triggered()
        });
        std::thread::sleep(Duration::from_millis(50));
        trigger.trigger();
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn dropping_triggers_is_not_a_shutdown() {
        let (trigger, shutdown) = shutdown_signal();
        drop(trigger);
        assert!(!shutdown.is_triggered());
        assert!(!Shutdown::never().is_triggered());
    }

    #[test]
    fn latch_wakes_all_waiters_and_reuses_slots() {
        let builder = monoio::RuntimeBuilder::<monoio::FusionDriver>::new();
        let mut rt = builder.enable_timer().build().unwrap();
        rt.block_on(async {
            let latch = Rc::new(Latch::default());
            let mut tasks = Vec::new();
            for _ in 0..3 {
                let latch = latch.clone();
                tasks.push(monoio::spawn(async move { latch.wait().await }));
            }
            monoio::time::sleep(Duration::from_millis(1)).await;
            assert_eq!(latch.inner.borrow().wakers.len(), 3);
            latch.set();
            for task in tasks {
                task.await;
            }
            assert!(latch.is_set());
            latch.wait().await;
        });
    }
}
