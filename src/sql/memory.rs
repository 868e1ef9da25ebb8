//! The local engine's memory budget (`[engine] memory_mib`): how it is shared between the
//! operators of a query.
//!
//! DataFusion's greedy pool serves memory first come, first served. A sort or a grouping that
//! can spill then takes the whole budget before it spills, and the next operator that cannot
//! spill (a hash join's build side, a merge's buffers, the merge reservation of another sort)
//! fails the query, although the sort would have spilled had it been asked. The daily pipeline
//! of a 14-district city failed that way at 48 MiB. Its fair pool, which splits the
//! budget evenly among the operators that can spill, fails the other way: a plan with a dozen
//! sorts leaves each a share smaller than one batch.
//!
//! [`SpillFirst`] keeps the greedy pool's single budget and adds one rule: operators that can
//! spill take memory while the budget is at most three quarters used, and beyond that only
//! while they hold at most half of it together. What cannot spill thus finds a quarter of the
//! budget free of them, and half once they are past three quarters. An operator that can spill
//! but holds less than an eighth of the budget may grow regardless (within the budget): it has
//! little to spill, and refusing it fails the query instead of letting it progress, while the
//! operators holding more are refused and spill. (Only the first batch of one holding nothing
//! was too little: the unique check of a 14-district city's headline failed under 8 MiB, one
//! of its two groupings refused 1.1 MB while holding 0.3 MB, the other holding 3 MB.)
//! (Half alone was too little: a step of sixteen groupings failed a 14-district city at
//! 32 MiB, its groups refused with a quarter of the budget unused.)

use std::sync::Mutex;

use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::{MemoryLimit, MemoryPool, MemoryReservation};

/// A memory pool whose operators that can spill leave room for those that cannot.
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

    /// What operators that can spill may hold together once the budget is three quarters used
    /// (beyond what a small one may take: `small`).
    fn spillable_share(&self) -> usize {
        self.limit / 2
    }

    /// Below this, an operator that can spill grows whatever the others hold (within the budget).
    fn small(&self) -> usize {
        self.limit / 8
    }

    /// How much of the budget may be used before operators that can spill are held to their share.
    fn open_to_all(&self) -> usize {
        self.limit / 4 * 3
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
            || reservation.size() < self.small()
            || used.spillable.saturating_add(additional) <= self.spillable_share()
            || used.total.saturating_add(additional) <= self.open_to_all();
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
    fn operators_that_can_spill_leave_room_to_those_that_cannot() {
        let pool = pool(100);
        let sort = MemoryConsumer::new("sort").with_can_spill(true).register(&pool);
        sort.try_grow(10 * MIB).unwrap();
        sort.try_grow(65 * MIB).unwrap();
        // Beyond three quarters of the budget and half of it: the sort is refused (and
        // spills), although the budget has room.
        let refused = sort.try_grow(MIB).unwrap_err().to_string();
        assert!(refused.contains("for sort with 75.0 MB already allocated"), "{refused}");
        // What cannot spill gets the rest of the budget, and no more.
        let join = MemoryConsumer::new("join build side").register(&pool);
        join.try_grow(25 * MIB).unwrap();
        assert!(join.try_grow(1).is_err());
        assert_eq!(pool.reserved(), 100 * MIB);
        // Freed memory is there again; past three quarters, the sort grows to half the budget.
        sort.shrink(45 * MIB);
        sort.try_grow(20 * MIB).unwrap();
        assert!(sort.try_grow(MIB).is_err(), "past three quarters and half");
        join.try_grow(20 * MIB).unwrap();
        assert_eq!(pool.reserved(), 95 * MIB);
        drop(sort);
        drop(join);
        assert_eq!(pool.reserved(), 0);
    }

    #[test]
    fn an_operator_that_can_spill_but_holds_little_may_grow() {
        let pool = pool(100);
        let first = MemoryConsumer::new("first sort").with_can_spill(true).register(&pool);
        first.try_grow(75 * MIB).unwrap();
        assert!(first.try_grow(MIB).is_err(), "past three quarters and half");
        // Another sort, holding less than an eighth of the budget, has little to spill to make
        // room: it may grow beyond its share, within the budget...
        let second = MemoryConsumer::new("second sort").with_can_spill(true).register(&pool);
        second.try_grow(10 * MIB).unwrap();
        second.try_grow(5 * MIB).unwrap();
        // ...but not once it holds an eighth.
        let refused = second.try_grow(MIB).unwrap_err().to_string();
        assert!(refused.contains("for second sort with 15.0 MB already allocated"), "{refused}");
        // And never beyond the budget.
        let join = MemoryConsumer::new("join build side").register(&pool);
        join.try_grow(10 * MIB).unwrap();
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
