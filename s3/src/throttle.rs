//! Per-tenant bandwidth limits: transfers above the limit are slowed, never
//! refused.
//!
//! Owns: [`TenantThrottle`], one per limited tenant, shared by every shard
//! (the control plane keeps it across snapshots). A limit is a generic cell
//! rate (GCRA) schedule kept in one atomic: each chunk of body bytes moves
//! the tenant's "theoretical arrival time" forward by its length divided by
//! the rate, and the transfer waits until that time less a small burst. All
//! connections of the tenant, on every shard, draw from the same schedule in
//! the order they arrive, so they share the rate fairly and together never
//! exceed it; tenants never wait on each other. An atomic is not a lock: no
//! request ever blocks a thread on it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Bytes that may go at once above the rate: enough for one body chunk on
/// each of several connections, small enough to hold the average.
const BURST_NS: u64 = 50_000_000;

/// One direction's limit.
#[derive(Debug, Default)]
pub struct RateLimit {
    /// 0: unlimited.
    bytes_per_second: AtomicU64,
    /// Nanoseconds since [`epoch`] at which the schedule is next free.
    free_at_ns: AtomicU64,
}

impl RateLimit {
    pub fn set(&self, bytes_per_second: Option<u64>) {
        self.bytes_per_second
            .store(bytes_per_second.unwrap_or(0), Ordering::Relaxed);
    }

    pub fn bytes_per_second(&self) -> Option<u64> {
        match self.bytes_per_second.load(Ordering::Relaxed) {
            0 => None,
            rate => Some(rate),
        }
    }

    /// Takes `len_bytes` from the schedule; returns how long to wait before
    /// moving them (zero when within the rate and burst).
    pub fn take(&self, len_bytes: u64) -> Duration {
        let Some(rate) = self.bytes_per_second() else {
            return Duration::ZERO;
        };
        let cost_ns =
            (len_bytes as u128 * 1_000_000_000 / rate as u128).min(u64::MAX as u128) as u64;
        let now_ns = now_ns();
        let mut current = self.free_at_ns.load(Ordering::Relaxed);
        loop {
            let next = current.max(now_ns).saturating_add(cost_ns);
            match self.free_at_ns.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    let wait_ns = next.saturating_sub(now_ns).saturating_sub(BURST_NS);
                    return Duration::from_nanos(wait_ns);
                }
                Err(seen) => current = seen,
            }
        }
    }
}

/// A tenant's limits, in (uploads) and out (downloads).
#[derive(Debug, Default)]
pub struct TenantThrottle {
    pub inbound: RateLimit,
    pub outbound: RateLimit,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    Instant::now().duration_since(epoch()).as_nanos() as u64
}

/// The bandwidth schedule of a tenant, when it has limits.
pub fn of_tenant(
    catalog: &crate::shard::CatalogSnapshot,
    account: &str,
) -> Option<std::sync::Arc<TenantThrottle>> {
    catalog.tenants.get(account)?.throttle.clone()
}

/// The slowest limit a tenant may be given (the admin API refuses less):
/// below it one body chunk would wait longer than a write may stay open.
pub const RATE_BYTES_PER_SECOND_MIN: u64 = 64 * 1024;

/// Sleeps of a paced transfer are cut into slices this long, each checking
/// whether the limit was lifted meanwhile.
const PACE_SLICE: Duration = Duration::from_secs(1);

/// Waits as a schedule says for `len_bytes` just moved (charged after the
/// bytes moved, so a client that vanishes is charged only what it got).
pub async fn pace(limit: Option<&RateLimit>, len_bytes: usize) {
    let Some(limit) = limit else {
        return;
    };
    let mut wait = limit.take(len_bytes as u64);
    while !wait.is_zero() {
        let slice = wait.min(PACE_SLICE);
        monoio::time::sleep(slice).await;
        wait -= slice;
        if limit.bytes_per_second().is_none() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_waits() {
        let limit = RateLimit::default();
        assert_eq!(limit.take(u64::MAX), Duration::ZERO);
    }

    #[test]
    fn the_schedule_spaces_bytes_at_the_rate_after_the_burst() {
        let limit = RateLimit::default();
        limit.set(Some(1_000_000));
        // 50 ms of burst pass without waiting.
        assert_eq!(limit.take(50_000), Duration::ZERO);
        // One more second's worth waits about a second.
        let wait = limit.take(1_000_000);
        assert!(wait > Duration::from_millis(900), "{wait:?}");
        assert!(wait <= Duration::from_millis(1000), "{wait:?}");
        // Callers on other threads queue behind it.
        let wait = limit.take(1_000_000);
        assert!(wait > Duration::from_millis(1900), "{wait:?}");
    }
}
