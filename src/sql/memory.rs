//! The local engine's memory budget (`[engine] memory_mib`): how it is shared between the
//! operators of a query.
//!
//! DataFusion's greedy pool serves memory first come, first served. A sort or a grouping that
//! can spill then takes the whole budget before it spills, and the next operator that cannot
//! spill (a hash join's build side, a merge's buffers, the merge reservation of another sort)
//! fails the query, although the sort would have spilled had it been asked. The daily pipeline
//! of a 14-district city failed that way at 48 and 64 MiB. Its fair pool, which splits the
//! budget evenly among the operators that can spill, fails the other way: a plan with a dozen
//! sorts leaves each a share smaller than one batch.
//!
//! [`SpillFirst`] keeps the greedy pool's single budget and adds one rule: operators that can
//! spill hold at most half of it together, so that the other half is always there for those
//! that cannot. An operator that can spill but holds nothing yet may take its first batch
//! beyond that half (within the budget): it has nothing to spill, and refusing it would fail
//! the query instead of letting it make progress.

use std::sync::Mutex;

use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::{MemoryLimit, MemoryPool, MemoryReservation};

/// A memory pool with a budget of which operators that can spill hold at most half.
#[derive(Debug)]
pub struct SpillFirst {
    limit: usize,
    used: Mutex<Used>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Used {
    /// By every reservation.
    total: usize,
    /// By the reservations of operators that can spill.
    spillable: usize,
}

impl SpillFirst {
    pub fn new(limit: usize) -> SpillFirst {
        SpillFirst { limit, used: Mutex::new(Used::default()) }
    }

    /// What operators that can spill may hold together (beyond their first batches).
    fn spillable_share(&self) -> usize {
        self.limit / 2
    }

    fn used(&self) -> std::sync::MutexGuard<'_, Used> {
        // The counters stay consistent whatever a panicking holder was doing: each update is
        // a single assignment.
        self.used.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl std::fmt::Display for SpillFirst {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let used = *self.used();
        write!(
            f,
            "spill-first(used: {}, of which operators that can spill: {}, pool_size: {})",
            mib(used.total),
            mib(used.spillable),
            mib(self.limit)
        )
    }
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / (1 << 20) as f64)
}

impl MemoryPool for SpillFirst {
    fn name(&self) -> &str {
        "spill-first"
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        let mut used = self.used();
        used.total += additional;
        if reservation.consumer().can_spill() {
            used.spillable += additional;
        }
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        let mut used = self.used();
        used.total = used.total.saturating_sub(shrink);
        if reservation.consumer().can_spill() {
            used.spillable = used.spillable.saturating_sub(shrink);
        }
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> datafusion::error::Result<()> {
        let mut used = self.used();
        let can_spill = reservation.consumer().can_spill();
        let within_budget = used.total.saturating_add(additional) <= self.limit;
        let within_share = !can_spill
            || reservation.size() == 0
            || used.spillable.saturating_add(additional) <= self.spillable_share();
        if !(within_budget && within_share) {
            let available = if within_budget {
                self.spillable_share().saturating_sub(used.spillable)
            } else {
                self.limit.saturating_sub(used.total)
            };
            drop(used);
            return Err(DataFusionError::ResourcesExhausted(format!(
                "Failed to allocate additional {} for {} with {} already allocated for this reservation - {} remain available for the total memory pool: {}",
                mib(additional),
                reservation.consumer().name(),
                mib(reservation.size()),
                mib(available),
                self
            )));
        }
        used.total += additional;
        if can_spill {
            used.spillable += additional;
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.used().total
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool};

    use super::SpillFirst;

    const MIB: usize = 1 << 20;

    fn pool(mib: usize) -> Arc<dyn MemoryPool> {
        Arc::new(SpillFirst::new(mib * MIB))
    }

    #[test]
    fn operators_that_can_spill_leave_half_the_budget_to_those_that_cannot() {
        let pool = pool(100);
        let sort = MemoryConsumer::new("sort").with_can_spill(true).register(&pool);
        sort.try_grow(10 * MIB).unwrap();
        sort.try_grow(40 * MIB).unwrap();
        // Beyond half: the sort is refused (and spills), although the budget has room.
        let refused = sort.try_grow(MIB).unwrap_err().to_string();
        assert!(refused.contains("for sort with 50.0 MB already allocated"), "{refused}");
        // What cannot spill gets the rest of the budget, and no more.
        let join = MemoryConsumer::new("join build side").register(&pool);
        join.try_grow(50 * MIB).unwrap();
        assert!(join.try_grow(1).is_err());
        assert_eq!(pool.reserved(), 100 * MIB);
        // Freed memory is there again, for either kind.
        sort.shrink(30 * MIB);
        join.try_grow(10 * MIB).unwrap();
        sort.try_grow(20 * MIB).unwrap();
        assert_eq!(pool.reserved(), 100 * MIB);
        drop(sort);
        drop(join);
        assert_eq!(pool.reserved(), 0);
    }

    #[test]
    fn an_operator_that_can_spill_but_holds_nothing_gets_its_first_batch() {
        let pool = pool(100);
        let first = MemoryConsumer::new("first sort").with_can_spill(true).register(&pool);
        first.try_grow(50 * MIB).unwrap();
        // Another sort, holding nothing, could not spill to make room: it may take a batch
        // beyond the half, within the budget...
        let second = MemoryConsumer::new("second sort").with_can_spill(true).register(&pool);
        second.try_grow(8 * MIB).unwrap();
        // ...but not a second one.
        assert!(second.try_grow(MIB).is_err());
        // And never beyond the budget.
        let join = MemoryConsumer::new("join build side").register(&pool);
        join.try_grow(42 * MIB).unwrap();
        let third = MemoryConsumer::new("third sort").with_can_spill(true).register(&pool);
        let refused = third.try_grow(1).unwrap_err().to_string();
        assert!(refused.contains("0.0 MB remain available"), "{refused}");
    }

    #[test]
    fn growing_without_asking_is_counted_for_its_kind() {
        let pool = pool(10);
        let sort = MemoryConsumer::new("sort").with_can_spill(true).register(&pool);
        // `grow` cannot fail: DataFusion uses it for memory already taken.
        sort.grow(8 * MIB);
        assert!(sort.try_grow(MIB).is_err(), "beyond the sorts' half");
        let merge = MemoryConsumer::new("merge").register(&pool);
        merge.try_grow(2 * MIB).unwrap();
        assert!(merge.try_grow(1).is_err(), "beyond the budget");
        assert!(pool.to_string().contains("used: 10.0 MB, of which operators that can spill: 8.0 MB"), "{pool}");
    }
}
