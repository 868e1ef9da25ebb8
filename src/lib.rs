//! wangge (网格): a batch data pipeline and reporting toolkit for grid-based community
//! management offices.
//!
//! Data flows one way through rooms that never print and never read the clock:
//! `config` (workspace and pipeline files) → `normalize` (values) → … ; `demo` writes the
//! synthetic sample district; `cli` is the only place that talks to the user.

pub mod atomic_file;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod deliver;
pub mod demo;
pub mod digest;
pub mod failpoint;
pub mod guard;
pub mod ingest;
pub mod normalize;
pub mod privacy;
pub mod report;
pub mod runner;
pub mod sql;
pub mod warehouse;

/// One allocator for every program built on this crate (the binary, its tests and benchmarks),
/// so that the benchmarks measure what users run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// mimalloc's options, as members of `mi_option_t` in the `mimalloc.h` of the mimalloc 3 that
// libmimalloc-sys 0.1.49 builds (pinned by Cargo.lock).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
const MI_OPTION_ARENA_PURGE_MULT: std::ffi::c_int = 24;
unsafe extern "C" {
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// Makes the allocator give freed memory back to the system after 10 ms instead of mimalloc 3's
/// default second: a streamed 200,000-row ingest peaked at 96-97 MiB with the default and
/// 71-77 MiB with this, in the same time (`bench_ingest`). Programs call it first thing.
pub fn configure_allocator() {
    // SAFETY: mimalloc's options are atomics; setting one takes two plain integers.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 10) }
}

/// While held, the allocator gives the memory that queries free back to the system at once,
/// not after the purge delay (10 ms, and only when it next looks): a query's operators free
/// large buffers as the next ones allocate, and what was freed but still held added up to a
/// step's peak. A 14-district city's daily pipeline peaked at 169-176 MB with the delay and
/// 132-138 MB without, in the same time (1 district: 117-119 and 114-115 MB). Not for the
/// whole program: set so, the sample district's whole `wangge daily` (ingest and reports, with
/// their many small allocations) took 1.3 s longer, in system time. The option is the
/// process's: it stays set while any holder lives.
pub struct EngineMemory(());

/// How many `EngineMemory` are held, and the setting to restore when none is (tests run
/// queries on several threads at once).
static ENGINE_MEMORY: std::sync::Mutex<(usize, std::ffi::c_long)> = std::sync::Mutex::new((0, 0));

impl EngineMemory {
    pub fn release_at_once() -> Self {
        let mut held = ENGINE_MEMORY.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.0 == 0 {
            // SAFETY: as in `configure_allocator`.
            held.1 = unsafe { mi_option_get(MI_OPTION_ARENA_PURGE_MULT) };
            unsafe { mi_option_set(MI_OPTION_ARENA_PURGE_MULT, 0) };
        }
        held.0 += 1;
        EngineMemory(())
    }
}

impl Drop for EngineMemory {
    fn drop(&mut self) {
        let mut held = ENGINE_MEMORY.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        held.0 -= 1;
        if held.0 == 0 {
            // SAFETY: as in `configure_allocator`.
            unsafe { mi_option_set(MI_OPTION_ARENA_PURGE_MULT, held.1) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_memory_is_released_at_once_while_any_holder_lives() {
        let get = || unsafe { mi_option_get(MI_OPTION_ARENA_PURGE_MULT) };
        let first = EngineMemory::release_at_once();
        let second = std::thread::spawn(EngineMemory::release_at_once).join().expect("no panic");
        assert_eq!(get(), 0);
        drop(first);
        assert_eq!(get(), 0, "the second holder still runs queries");
        drop(second);
        // mimalloc 3's default multiplier (options.c), unless another test's query holds one now.
        assert!([0, 1].contains(&get()), "option {MI_OPTION_ARENA_PURGE_MULT} is not arena_purge_mult: {}", get());
    }
}
