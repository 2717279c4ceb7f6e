//! The Wasmtime engine: compilation settings, the pooling allocator, the epoch ticker and the
//! per-store resource limits.
//!
//! One engine serves every component of a process. Stores are created per call elsewhere
//! (`runtime`); this module only fixes what all of them share. Compiled components are cached
//! on disk by [`cache`].

pub mod cache;

use std::time::Duration;

use wasmtime::{
    Config, Engine, EngineWeak, InstanceAllocationStrategy, PoolingAllocationConfig,
    ResourceLimiter, StoreLimits, StoreLimitsBuilder,
};

/// How often the epoch advances. Deadlines are counted in these ticks; 10 ms (Spin's value)
/// keeps the ticker's cost negligible while trapping a looping guest close to its deadline.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Largest linear memory a component may grow to by default. The guests need a few MiB;
/// 128 MiB leaves room for large mail bodies while stopping a memory bomb early.
pub const DEFAULT_MEMORY_LIMIT: usize = 128 << 20;

/// Concurrent instances the pool reserves slots for: a tool call uses two (the tool and its
/// credential provider), so this allows about 100 calls in flight.
const POOL_INSTANCES: u32 = 200;

/// The settings every engine of this host needs: epoch interruption (per-call deadlines) and
/// no component-model async (neither guest uses it; turning it off makes calls several times
/// cheaper, reference/wasm-hosts.md §7.1). Embedders and tests may add to it.
pub fn base_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.concurrency_support(false);
    config
}

/// What an engine will run, which decides how instances get their memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// A long-lived process making many calls (MCP, an embedder, the demo): the pooling
    /// allocator, whose reserved slots make every fresh instance cheap.
    Server,
    /// A process that makes a call or two and exits (`mcs call`, `mcs tools`): instances
    /// allocated on demand, which spares reserving and tearing down the pool (about 2 ms of a
    /// 10 ms process). Limits still hold: the store's limiter caps memory.
    OneShot,
}

/// Builds the engine every component runs on: [`base_config`] with the pooling allocator, and
/// an epoch ticker thread.
///
/// # Errors
///
/// When Wasmtime rejects the configuration (e.g. the pooling allocator cannot reserve its
/// virtual memory).
pub fn new_engine() -> wasmtime::Result<Engine> {
    new_engine_for(Workload::Server)
}

/// Builds an engine for `workload`: [`base_config`], the pooling allocator for
/// [`Workload::Server`], and an epoch ticker thread.
///
/// # Errors
///
/// As [`new_engine`].
pub fn new_engine_for(workload: Workload) -> wasmtime::Result<Engine> {
    let mut config = base_config();
    if workload == Workload::OneShot {
        let engine = Engine::new(&config)?;
        start_epoch_ticker(&engine);
        return Ok(engine);
    }
    // Measured on guest-mail (docs/benchmarks.md), each against these settings:
    // - `linear_memory_keep_resident(2 MiB)` covers the component's whole memory, so dropping a
    //   store resets it with `memset`/`memcpy` (about 20 µs, done after the call answers, see
    //   `runtime::reaper`). With 0 the reset is an `madvise` (7 µs) but the next call takes
    //   page faults instead (+6 µs on the call's own path), a loss once the drop is deferred.
    // - `pagemap_scan` would reset only the pages written (a fresh call's CPU 31 → 12 µs), but
    //   Wasmtime 48 skips written pages that are swapped out, and the next instance in the slot
    //   could read them (https://github.com/bytecodealliance/wasmtime/pull/14357): left off.
    // - `memory_init_cow(false)` copies more per call (+1.4% instructions); the default 4 GiB
    //   reservation lets Cranelift drop bounds checks (128 MiB: +30% guest instructions);
    //   `wasm_backtrace_max_frames(None)` and `native_unwind_info(false)` change nothing per call.
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 4)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 4)
        .total_stacks(POOL_INSTANCES)
        .max_memory_size(DEFAULT_MEMORY_LIMIT)
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(512 << 10);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config)?;
    start_epoch_ticker(&engine);
    Ok(engine)
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`] until the engine is dropped. Engines built
/// from [`base_config`] by an embedder need this for deadlines to fire.
pub fn start_epoch_ticker(engine: &Engine) {
    spawn_epoch_ticker(engine.weak());
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
fn spawn_epoch_ticker(engine: EngineWeak) {
    let spawned = std::thread::Builder::new()
        .name("mcs-epoch".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(e) = spawned {
        // Without a ticker deadlines never fire; calls are still bounded by the async timeout.
        tracing::warn!("could not start the epoch ticker thread: {e}");
    }
}

/// Deadline in epoch ticks for a call that may run `timeout`.
pub fn deadline_ticks(timeout: Duration) -> u64 {
    u64::try_from(timeout.as_millis() / EPOCH_TICK.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// The limits of one store: memory, and no more than a component needs of the rest. Growing
/// a memory past the limit traps with a message that says so (Wasmtime's own says only that
/// a growth failure became a trap).
pub struct Limiter {
    memory: usize,
    rest: StoreLimits,
}

impl Limiter {
    /// Limits with `memory` bytes of linear memory per component instance.
    pub fn new(memory: usize) -> Self {
        Self {
            memory,
            rest: StoreLimitsBuilder::new()
                .memory_size(memory)
                .instances(64)
                .tables(64)
                .memories(16)
                .trap_on_grow_failure(true)
                .build(),
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory {
            return Err(wasmtime::format_err!(
                "memory limit exceeded: the component asked for {} MiB, the limit is {} MiB",
                desired >> 20,
                self.memory >> 20
            ));
        }
        self.rest.memory_growing(current, desired, maximum)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.rest.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.rest.instances()
    }

    fn tables(&self) -> usize {
        self.rest.tables()
    }

    fn memories(&self) -> usize {
        self.rest.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_is_counted_in_ticks_and_never_zero() {
        assert_eq!(deadline_ticks(Duration::from_secs(30)), 3000);
        assert_eq!(deadline_ticks(Duration::from_millis(1)), 1);
    }
}
