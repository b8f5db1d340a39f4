//! Brute-force defence for the admin login, in memory and bounded.
//!
//! Two rules, each its own type, both fed only with failed logins:
//! - `LoginLimiter`, per account: `failures_max` failures within `window_ms`
//!   lock the account for `lock_ms`. A success clears the account's record.
//! - `SourceThrottle`, per client address: `failures_max` failures within
//!   `window_ms` from one address refuse further attempts from it until the
//!   oldest of them leaves the window. Without it one client could lock every
//!   account cheaply, or guess at full speed across many accounts.
//!
//! Callers should record failures for unknown user names too, so that the
//! answers do not tell which accounts exist.
//!
//! Owns: the failure tables. Must not touch: the clock (callers pass `now_ms`)
//! and storage (a restart forgets every record, which only ends locks early).
//!
//! Memory is bounded by `tracked_max` entries per table, each of a fixed size:
//! accounts are keyed by the SHA-256 of the user name, so a long name costs
//! no more than a short one. When a table is full, entries that no longer
//! hold anything (no lock, no failure in the window) go first, then the one
//! seen longest ago, unlocked entries before locked ones so that flooding the
//! table with new names cannot lift a lock.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;

use sha2::{Digest, Sha256};

/// The account is locked; attempts are refused until `until_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub until_ms: u64,
}

/// The client address failed too often; attempts from it are refused until
/// `until_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub until_ms: u64,
}

/// What one recorded failure did to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Counted; `remaining` more failures within the window lock the account.
    Counted { remaining: u32 },
    /// This failure locked the account (the caller audits the lockout). Also
    /// returned, with the lock unchanged, for a failure recorded while the
    /// account is already locked (a caller that skipped `check`).
    LockedNow { until_ms: u64 },
}

/// Per-account failure counting and locking.
#[derive(Debug)]
pub struct LoginLimiter {
    failures_max: u32,
    lock_ms: u64,
    table: FailureTable<[u8; 32]>,
}

impl LoginLimiter {
    /// `failures_max` failures (e.g. 5) within `window_ms` (e.g. 15 min) lock
    /// the account for `lock_ms` (e.g. 15 min); at most `tracked_max`
    /// accounts (e.g. 100 000) are remembered.
    pub fn new(failures_max: u32, window_ms: u64, lock_ms: u64, tracked_max: usize) -> Self {
        assert!(failures_max >= 1, "failures_max must be at least 1");
        LoginLimiter {
            failures_max,
            lock_ms,
            table: FailureTable::new(window_ms, tracked_max),
        }
    }

    /// Refuses a login attempt for a locked account before the password is
    /// even checked.
    pub fn check(&self, username: &str, now_ms: u64) -> Result<(), Locked> {
        match self.table.entries.get(&account_key(username)) {
            Some(entry) if entry.is_locked(now_ms) => Err(Locked {
                until_ms: entry.locked_until_ms,
            }),
            _ => Ok(()),
        }
    }

    /// Records a failed login for `username`.
    pub fn record_failure(&mut self, username: &str, now_ms: u64) -> FailureOutcome {
        let failures_max = self.failures_max;
        let lock_ms = self.lock_ms;
        let window_ms = self.table.window_ms;
        let entry = self.table.entry_mut(account_key(username), now_ms);
        entry.last_seen_ms = now_ms;
        // A lock is neither extended nor counted into: otherwise anyone could
        // keep an account locked for good with one failure now and then.
        if entry.is_locked(now_ms) {
            return FailureOutcome::LockedNow {
                until_ms: entry.locked_until_ms,
            };
        }
        entry.prune(now_ms, window_ms);
        entry.failures_ms.push_back(now_ms);
        let failures = entry.failures_ms.len() as u32;
        if failures >= failures_max {
            entry.failures_ms.clear();
            entry.locked_until_ms = now_ms.saturating_add(lock_ms);
            return FailureOutcome::LockedNow {
                until_ms: entry.locked_until_ms,
            };
        }
        FailureOutcome::Counted {
            remaining: failures_max - failures,
        }
    }

    /// Forgets the account's failures after a successful login.
    pub fn record_success(&mut self, username: &str) {
        self.table.entries.remove(&account_key(username));
    }

    /// Accounts currently remembered (for metrics and tests).
    pub fn tracked(&self) -> usize {
        self.table.entries.len()
    }
}

/// Per-address throttle on failed logins.
#[derive(Debug)]
pub struct SourceThrottle {
    failures_max: u32,
    table: FailureTable<IpAddr>,
}

impl SourceThrottle {
    /// At most `failures_max` failures (e.g. 20) within `window_ms` (e.g.
    /// one minute) from one address; at most `tracked_max` addresses
    /// remembered.
    pub fn new(failures_max: u32, window_ms: u64, tracked_max: usize) -> Self {
        assert!(failures_max >= 1, "failures_max must be at least 1");
        SourceThrottle {
            failures_max,
            table: FailureTable::new(window_ms, tracked_max),
        }
    }

    /// Refuses an attempt from `source` once it has `failures_max` failures
    /// in the window, until the oldest of them leaves it.
    pub fn check_source(&self, source: IpAddr, now_ms: u64) -> Result<(), Throttled> {
        let Some(entry) = self.table.entries.get(&source_key(source)) else {
            return Ok(());
        };
        let window_ms = self.table.window_ms;
        let mut recent_ms = entry
            .failures_ms
            .iter()
            .filter(|failed_ms| failed_ms.saturating_add(window_ms) > now_ms)
            .peekable();
        let Some(&&oldest_recent_ms) = recent_ms.peek() else {
            return Ok(());
        };
        if recent_ms.count() < self.failures_max as usize {
            return Ok(());
        }
        Err(Throttled {
            until_ms: oldest_recent_ms.saturating_add(window_ms),
        })
    }

    /// Records a failed login from `source`.
    pub fn record_source_failure(&mut self, source: IpAddr, now_ms: u64) {
        let failures_max = self.failures_max as usize;
        let window_ms = self.table.window_ms;
        let entry = self.table.entry_mut(source_key(source), now_ms);
        entry.last_seen_ms = now_ms;
        entry.prune(now_ms, window_ms);
        entry.failures_ms.push_back(now_ms);
        // Only the last `failures_max` failures decide the throttle.
        while entry.failures_ms.len() > failures_max {
            entry.failures_ms.pop_front();
        }
    }

    /// Addresses currently remembered (for metrics and tests).
    pub fn tracked(&self) -> usize {
        self.table.entries.len()
    }
}

/// Accounts are keyed by a digest so that every entry has the same size
/// whatever name an attacker sends.
fn account_key(username: &str) -> [u8; 32] {
    Sha256::digest(username.as_bytes()).into()
}

/// IPv6 clients usually hold a whole /64, so one /64 counts as one source;
/// an IPv4-mapped IPv6 address counts as the IPv4 address it carries.
fn source_key(source: IpAddr) -> IpAddr {
    match source {
        IpAddr::V4(_) => source,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !(u128::from(u64::MAX))).into()),
        },
    }
}

/// Failures of one account or address.
#[derive(Debug, Default)]
struct FailureEntry {
    /// Times of recent failures, oldest first; older ones are pruned lazily.
    failures_ms: VecDeque<u64>,
    /// Locked while `now_ms < locked_until_ms`; 0 when never locked.
    locked_until_ms: u64,
    /// Last failure recorded, for choosing what to forget when full.
    last_seen_ms: u64,
}

impl FailureEntry {
    fn is_locked(&self, now_ms: u64) -> bool {
        now_ms < self.locked_until_ms
    }

    /// Drops failures that are `window_ms` old or older.
    fn prune(&mut self, now_ms: u64, window_ms: u64) {
        while let Some(&failed_ms) = self.failures_ms.front() {
            if failed_ms.saturating_add(window_ms) > now_ms {
                break;
            }
            self.failures_ms.pop_front();
        }
    }

    /// Holds nothing any more: no lock, no failure within the window.
    fn is_stale(&self, now_ms: u64, window_ms: u64) -> bool {
        !self.is_locked(now_ms)
            && self
                .failures_ms
                .iter()
                .all(|failed_ms| failed_ms.saturating_add(window_ms) <= now_ms)
    }
}

/// A map of failure entries holding at most `tracked_max` of them.
#[derive(Debug)]
struct FailureTable<K> {
    entries: HashMap<K, FailureEntry>,
    window_ms: u64,
    tracked_max: usize,
}

impl<K: Hash + Eq + Copy> FailureTable<K> {
    fn new(window_ms: u64, tracked_max: usize) -> Self {
        assert!(tracked_max >= 1, "tracked_max must be at least 1");
        FailureTable {
            entries: HashMap::new(),
            window_ms,
            tracked_max,
        }
    }

    /// The entry for `key`, made (after making room) if absent.
    fn entry_mut(&mut self, key: K, now_ms: u64) -> &mut FailureEntry {
        if !self.entries.contains_key(&key) {
            self.entry_mut_make_room(now_ms);
        }
        self.entries.entry(key).or_default()
    }

    /// Frees one slot when full: stale entries first, then the entry seen
    /// longest ago, unlocked ones before locked ones. The scans are O(n) in
    /// `tracked_max` but run only when the table is full, and each follows a
    /// failed login that already cost an argon2 hash (~20 ms), far more than
    /// a scan of 100 000 entries.
    fn entry_mut_make_room(&mut self, now_ms: u64) {
        if self.entries.len() < self.tracked_max {
            return;
        }
        let window_ms = self.window_ms;
        self.entries
            .retain(|_, entry| !entry.is_stale(now_ms, window_ms));
        if self.entries.len() < self.tracked_max {
            return;
        }
        let victim = self
            .entries
            .iter()
            .min_by_key(|(_, entry)| (entry.is_locked(now_ms), entry.last_seen_ms))
            .map(|(key, _)| *key);
        if let Some(key) = victim {
            self.entries.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const MINUTE_MS: u64 = 60_000;
    const WINDOW_MS: u64 = 15 * MINUTE_MS;
    const LOCK_MS: u64 = 15 * MINUTE_MS;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(5, WINDOW_MS, LOCK_MS, 100_000)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn fifth_failure_locks_and_reports_it() {
        let mut limiter = limiter();
        let t0 = 1_000_000;
        for (i, remaining) in [4, 3, 2, 1].into_iter().enumerate() {
            let now_ms = t0 + i as u64 * 1000;
            assert_eq!(limiter.check("root", now_ms), Ok(()));
            assert_eq!(
                limiter.record_failure("root", now_ms),
                FailureOutcome::Counted { remaining }
            );
        }
        let now_ms = t0 + 4000;
        let until_ms = now_ms + LOCK_MS;
        assert_eq!(
            limiter.record_failure("root", now_ms),
            FailureOutcome::LockedNow { until_ms }
        );
        assert_eq!(limiter.check("root", now_ms), Err(Locked { until_ms }));
        assert_eq!(
            limiter.check("root", until_ms - 1),
            Err(Locked { until_ms })
        );
        // Other accounts are unaffected.
        assert_eq!(limiter.check("tenant/acme", now_ms), Ok(()));
    }

    #[test]
    fn lock_ends_after_lock_ms_and_counting_starts_afresh() {
        let mut limiter = limiter();
        for _ in 0..5 {
            limiter.record_failure("root", 0);
        }
        assert!(limiter.check("root", LOCK_MS - 1).is_err());
        assert_eq!(limiter.check("root", LOCK_MS), Ok(()));
        assert_eq!(
            limiter.record_failure("root", LOCK_MS),
            FailureOutcome::Counted { remaining: 4 }
        );
    }

    #[test]
    fn failures_while_locked_neither_extend_nor_count() {
        let mut limiter = limiter();
        for _ in 0..5 {
            limiter.record_failure("root", 0);
        }
        for now_ms in [1, 1000, LOCK_MS - 1] {
            assert_eq!(
                limiter.record_failure("root", now_ms),
                FailureOutcome::LockedNow { until_ms: LOCK_MS }
            );
        }
        assert_eq!(limiter.check("root", LOCK_MS), Ok(()));
        assert_eq!(
            limiter.record_failure("root", LOCK_MS),
            FailureOutcome::Counted { remaining: 4 }
        );
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        let mut limiter = limiter();
        // Four failures at the start of a window, then four more just after
        // the first ones aged out: never five within the window.
        for i in 0..4 {
            limiter.record_failure("root", i);
        }
        for i in 0..4 {
            let outcome = limiter.record_failure("root", WINDOW_MS + i);
            assert_eq!(outcome, FailureOutcome::Counted { remaining: 1 });
        }
        assert_eq!(limiter.check("root", WINDOW_MS + 4), Ok(()));
        // The window slides: one more within it locks.
        assert!(matches!(
            limiter.record_failure("root", WINDOW_MS + 5),
            FailureOutcome::LockedNow { .. }
        ));
    }

    #[test]
    fn success_clears_the_count() {
        let mut limiter = limiter();
        for i in 0..4 {
            limiter.record_failure("root", i);
        }
        limiter.record_success("root");
        assert_eq!(limiter.tracked(), 0);
        assert_eq!(
            limiter.record_failure("root", 10),
            FailureOutcome::Counted { remaining: 4 }
        );
        limiter.record_success("nobody");
        assert_eq!(limiter.tracked(), 1);
    }

    #[test]
    fn user_names_are_distinct_and_exact() {
        let mut limiter = limiter();
        for _ in 0..5 {
            limiter.record_failure("alice", 0);
        }
        assert!(limiter.check("alice", 1).is_err());
        assert_eq!(limiter.check("Alice", 1), Ok(()));
        assert_eq!(limiter.check("alice ", 1), Ok(()));
    }

    #[test]
    fn table_bound_drops_stale_entries_first() {
        let mut limiter = LoginLimiter::new(5, WINDOW_MS, LOCK_MS, 3);
        limiter.record_failure("old", 0);
        limiter.record_failure("b", WINDOW_MS);
        limiter.record_failure("c", WINDOW_MS + 1);
        // "old" has no failure within the window any more: it goes, and the
        // live entry seen longest ago, "b", stays.
        limiter.record_failure("d", WINDOW_MS + 2);
        assert_eq!(limiter.tracked(), 3);
        assert_eq!(
            limiter.record_failure("b", WINDOW_MS + 3),
            FailureOutcome::Counted { remaining: 3 }
        );
    }

    #[test]
    fn table_bound_then_drops_the_oldest() {
        let mut limiter = LoginLimiter::new(5, WINDOW_MS, LOCK_MS, 3);
        limiter.record_failure("a", 10);
        limiter.record_failure("b", 20);
        limiter.record_failure("c", 30);
        limiter.record_failure("d", 40);
        assert_eq!(limiter.tracked(), 3);
        // "a" was forgotten: its count starts again; "b" kept its failure.
        assert_eq!(
            limiter.record_failure("b", 50),
            FailureOutcome::Counted { remaining: 3 }
        );
        assert_eq!(
            limiter.record_failure("a", 60),
            FailureOutcome::Counted { remaining: 4 }
        );
        assert_eq!(limiter.tracked(), 3);
    }

    #[test]
    fn flooding_new_names_does_not_lift_a_lock() {
        let mut limiter = LoginLimiter::new(5, WINDOW_MS, LOCK_MS, 100);
        for _ in 0..5 {
            limiter.record_failure("root", 0);
        }
        for i in 0..1000u64 {
            limiter.record_failure(&format!("spray-{i}"), 1 + i);
            assert!(limiter.tracked() <= 100);
        }
        assert_eq!(
            limiter.check("root", 2000),
            Err(Locked { until_ms: LOCK_MS })
        );
    }

    #[test]
    fn table_bound_holds_when_every_entry_is_locked() {
        let mut limiter = LoginLimiter::new(1, WINDOW_MS, LOCK_MS, 2);
        limiter.record_failure("a", 0);
        limiter.record_failure("b", 1);
        limiter.record_failure("c", 2);
        assert_eq!(limiter.tracked(), 2);
        assert_eq!(limiter.check("a", 3), Ok(()));
        assert!(limiter.check("b", 3).is_err());
        assert!(limiter.check("c", 3).is_err());
    }

    #[test]
    fn long_names_cost_a_fixed_size_key() {
        let mut limiter = limiter();
        let long = "x".repeat(1 << 16);
        limiter.record_failure(&long, 0);
        assert_eq!(limiter.tracked(), 1);
        assert_eq!(
            limiter.record_failure(&long, 1),
            FailureOutcome::Counted { remaining: 3 }
        );
    }

    #[test]
    #[should_panic(expected = "failures_max")]
    fn zero_failures_max_is_a_bug() {
        LoginLimiter::new(0, WINDOW_MS, LOCK_MS, 10);
    }

    #[test]
    #[should_panic(expected = "tracked_max")]
    fn zero_tracked_max_is_a_bug() {
        SourceThrottle::new(20, MINUTE_MS, 0);
    }

    #[test]
    fn source_is_throttled_after_failures_max_in_the_window() {
        let mut throttle = SourceThrottle::new(20, MINUTE_MS, 10_000);
        let source = ip("203.0.113.7");
        for i in 0..20 {
            assert_eq!(
                throttle.check_source(source, 1000 + i),
                Ok(()),
                "attempt {i}"
            );
            throttle.record_source_failure(source, 1000 + i);
        }
        assert_eq!(
            throttle.check_source(source, 1020),
            Err(Throttled {
                until_ms: 1000 + MINUTE_MS
            })
        );
        // Other addresses are unaffected.
        assert_eq!(throttle.check_source(ip("203.0.113.8"), 1020), Ok(()));
        // The oldest failure leaves the window: one attempt is allowed again.
        assert_eq!(throttle.check_source(source, 1000 + MINUTE_MS), Ok(()));
        throttle.record_source_failure(source, 1000 + MINUTE_MS);
        assert_eq!(
            throttle.check_source(source, 1000 + MINUTE_MS),
            Err(Throttled {
                until_ms: 1001 + MINUTE_MS
            })
        );
        assert_eq!(throttle.check_source(source, 1020 + 2 * MINUTE_MS), Ok(()));
    }

    #[test]
    fn source_throttle_is_a_sliding_window() {
        let mut throttle = SourceThrottle::new(20, MINUTE_MS, 10_000);
        let source = ip("198.51.100.1");
        // 19 failures at the end of one minute and one at the start of the
        // next: 20 within 60 s, so throttled, unlike a fixed per-minute count.
        for i in 0..19 {
            throttle.record_source_failure(source, MINUTE_MS - 100 + i);
        }
        throttle.record_source_failure(source, MINUTE_MS + 1);
        assert!(throttle.check_source(source, MINUTE_MS + 2).is_err());
    }

    #[test]
    fn ipv6_sources_count_per_64_and_mapped_ipv4_as_ipv4() {
        let mut throttle = SourceThrottle::new(2, MINUTE_MS, 10_000);
        throttle.record_source_failure(ip("2001:db8:1:2::1"), 0);
        throttle.record_source_failure(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"), 1);
        assert!(throttle.check_source(ip("2001:db8:1:2::abcd"), 2).is_err());
        assert_eq!(throttle.check_source(ip("2001:db8:1:3::1"), 2), Ok(()));

        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        throttle.record_source_failure(ip("192.0.2.1"), 0);
        throttle.record_source_failure(mapped, 1);
        assert!(throttle.check_source(ip("192.0.2.1"), 2).is_err());
        let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 1, 2, 3, 4));
        assert_eq!(source_key(v6), ip("2001:db8::"));
    }

    #[test]
    fn source_table_is_bounded() {
        let mut throttle = SourceThrottle::new(20, MINUTE_MS, 50);
        for i in 0..500u32 {
            throttle.record_source_failure(IpAddr::V4(Ipv4Addr::from(i)), u64::from(i));
            assert!(throttle.tracked() <= 50);
        }
        // The 50 addresses seen last are the ones remembered.
        let remembered = |i: u32| {
            let source = IpAddr::V4(Ipv4Addr::from(i));
            throttle.table.entries.contains_key(&source)
        };
        assert!((450..500).all(remembered));
        assert!(!(0..450).any(remembered));
    }

    #[test]
    fn source_entry_keeps_at_most_failures_max_times() {
        let mut throttle = SourceThrottle::new(3, MINUTE_MS, 10);
        let source = ip("192.0.2.9");
        for i in 0..100 {
            throttle.record_source_failure(source, i);
        }
        assert_eq!(throttle.table.entries[&source].failures_ms.len(), 3);
        assert_eq!(
            throttle.check_source(source, 100),
            Err(Throttled {
                until_ms: 97 + MINUTE_MS
            })
        );
    }

    #[test]
    fn clock_going_backwards_does_not_panic() {
        let mut limiter = limiter();
        limiter.record_failure("root", 10_000);
        assert_eq!(
            limiter.record_failure("root", 5),
            FailureOutcome::Counted { remaining: 3 }
        );
        let mut throttle = SourceThrottle::new(1, MINUTE_MS, 10);
        throttle.record_source_failure(ip("192.0.2.1"), u64::MAX);
        assert_eq!(
            throttle.check_source(ip("192.0.2.1"), 0),
            Err(Throttled { until_ms: u64::MAX })
        );
    }
}
