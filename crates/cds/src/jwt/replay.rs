//! The `jti` replay cache: every accepted token's `(iss, jti)` is
//! remembered until the token expires, so the same token is refused a
//! second time.

use std::collections::HashMap;
use std::sync::Mutex;

/// Entries of the default replay cache. 450 000 fits hashbrown's table of
/// 2^19 buckets (7/8 load), so it is never resized.
pub const REPLAY_CAPACITY: usize = 450_000;

/// Remembers `jti`s until their token expires. Implement it over the
/// store to share the cache between replicas.
pub trait ReplayCache: Send + Sync {
    /// Record `(iss, jti)` until `keep_until` (epoch seconds). Returns
    /// `false` when the pair was already recorded and has not expired.
    fn first_use(&self, iss: &str, jti: &str, keep_until: i64, now: i64) -> bool;
}

/// An in-memory [`ReplayCache`] holding at most `capacity` entries.
/// Expired entries are dropped first; when all are live, the eighth that
/// expires soonest is evicted at once (those tokens are nearly dead), so a
/// flood of tokens can neither grow memory without bound nor make each
/// insert scan the whole cache.
pub struct InMemoryReplayCache {
    capacity: usize,
    inner: Mutex<ReplayState>,
}

/// Entries are keyed by a 128-bit digest of `(iss, jti)`, not the strings,
/// in one map swept of expired entries every [`SWEEP_EVERY`] inserts: a
/// cache sized for a busy EHR holds hundreds of thousands of entries, and
/// at ~25 bytes an entry (two string copies each plus an expiry index
/// would take ~250) it stays small. A digest collision could only refuse
/// a fresh token as replayed (the safe side); at 2^-128 per pair it does
/// not happen.
///
/// The map is allocated for `capacity` up front: grown on demand it would
/// double (and briefly hold both tables) while a 5-minute token window
/// fills, which reads as resident-memory growth.
#[derive(Default)]
struct ReplayState {
    by_key: HashMap<u128, i64>,
    inserts: u64,
}

const SWEEP_EVERY: u64 = 1024;

/// Evict this fraction (1/n) of a full cache at a time: the scan that
/// finds the soonest-expiring entries then runs once per `capacity / n`
/// inserts, not once per insert (a full cache of 250 000 scanned per
/// insert stalls hook calls for seconds).
const EVICT_ONE_IN: usize = 8;

fn replay_key(iss: &str, jti: &str) -> u128 {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(iss.as_bytes());
    h.update([0u8]);
    h.update(jti.as_bytes());
    let d = h.finalize();
    u128::from_le_bytes(d[..16].try_into().expect("16 bytes of a SHA-256 digest"))
}

impl InMemoryReplayCache {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            inner: Mutex::new(ReplayState {
                by_key: HashMap::with_capacity(capacity),
                inserts: 0,
            }),
        }
    }
    pub fn len(&self) -> usize {
        self.lock().by_key.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, ReplayState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ReplayState {
    /// Drop the `n` live entries that expire soonest (of those expiring
    /// at the cut, only as many as needed). Returns how many were dropped.
    fn evict_soonest(&mut self, n: usize) -> usize {
        let before = self.by_key.len();
        let n = n.min(before);
        if n == 0 {
            return 0;
        }
        let mut untils: Vec<i64> = self.by_key.values().copied().collect();
        let (lower, cut, _) = untils.select_nth_unstable(n - 1);
        let cut = *cut;
        let mut ties = n - lower.iter().filter(|u| **u < cut).count();
        self.by_key.retain(|_, until| {
            if *until < cut {
                false
            } else if *until == cut && ties > 0 {
                ties -= 1;
                false
            } else {
                true
            }
        });
        before - self.by_key.len()
    }
}

impl ReplayCache for InMemoryReplayCache {
    fn first_use(&self, iss: &str, jti: &str, keep_until: i64, now: i64) -> bool {
        let key = replay_key(iss, jti);
        let mut s = self.lock();
        if let Some(&until) = s.by_key.get(&key) {
            if until >= now {
                return false;
            }
        }
        s.inserts += 1;
        if s.inserts.is_multiple_of(SWEEP_EVERY) || s.by_key.len() >= self.capacity {
            s.by_key.retain(|_, until| *until >= now);
        }
        if s.by_key.len() >= self.capacity {
            // Full of live entries: drop the soonest to expire, a batch at
            // a time (one warning per batch, not per token).
            let evicted = s.evict_soonest((self.capacity / EVICT_ONE_IN).max(1));
            tracing::warn!(
                capacity = self.capacity,
                evicted,
                "jti replay cache full: evicted the unexpired entries closest to expiry; raise the capacity"
            );
        }
        s.by_key.insert(key, keep_until);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cache_expires_and_is_bounded() {
        let c = InMemoryReplayCache::new(2);
        assert!(c.first_use("i", "a", 100, 0));
        assert!(!c.first_use("i", "a", 100, 50), "replay within lifetime");
        assert!(c.first_use("j", "a", 100, 50), "jti is scoped by issuer");
        // Full: the soonest-expiring entry is evicted, size stays bounded.
        assert!(c.first_use("i", "b", 300, 60));
        assert_eq!(c.len(), 2);
        // After expiry the entry is forgotten.
        assert!(
            c.first_use("i", "b", 500, 301),
            "expired entry is forgotten"
        );
        assert!(!c.first_use("i", "b", 500, 302));
    }

    #[test]
    fn a_full_replay_cache_evicts_the_soonest_expiring_batch() {
        let c = InMemoryReplayCache::new(80);
        // 80 live tokens expiring at 1000 + i.
        for i in 0..80 {
            assert!(c.first_use("i", &format!("t{i}"), 1000 + i, 0));
        }
        assert_eq!(c.len(), 80);
        // The 81st evicts the 10 (80 / 8) closest to expiry in one go, so
        // the next 9 inserts evict nothing.
        assert!(c.first_use("i", "new0", 5000, 1));
        assert_eq!(c.len(), 71);
        for i in 1..10 {
            assert!(c.first_use("i", &format!("new{i}"), 5000, 1));
        }
        assert_eq!(c.len(), 80);
        // The evicted ones were the soonest to expire; the rest are still
        // refused as replays.
        assert!(c.first_use("i", "t0", 1000, 2), "t0 was evicted");
        assert!(!c.first_use("i", "t79", 1079, 2), "t79 is still remembered");
        assert!(!c.first_use("i", "new3", 5000, 2));
    }
}
