//! Dropping finished stores off the call's critical path.
//!
//! Dropping a store hands its instance back to the pooling allocator, which resets the
//! instance's linear memory to its initial image right there: a `memset` and `memcpy` of up to
//! `linear_memory_keep_resident` bytes (about 1 MiB for guest-mail), 20–35 µs, more than
//! instantiating took. A [`Reaper`] drops the store in a Tokio task of its own instead, so the
//! call answers first and the reset runs when the worker thread next has time (typically while
//! it waits for network I/O).
//!
//! A task, not a thread of our own: handing the store to a parked thread costs a wake-up
//! (`futex`, and an inter-processor interrupt to an idle core), which measured 10–15 µs on the
//! development VM, while spawning onto the current worker's own queue usually needs no system
//! call.
//!
//! Only tool stores come here. A credential provider's store is dropped at once: its memory
//! holds the token it just issued, which must be gone before the tool's request is sent.
//!
//! Only *when* the reset happens changes: the pool hands the slot to another instance only
//! after its reset is complete, exactly as when the caller drops the store, so no instance ever
//! sees another's memory. At most [`BACKLOG`] stores wait at a time, and outside a Tokio
//! runtime nothing waits; beyond that the caller drops inline, so calls that never yield to the
//! runtime cannot keep pool slots out of use.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmtime::Store;

use crate::state::ComponentState;

/// Stores that may wait to be dropped at once. Each holds a pool slot until it is dropped.
const BACKLOG: usize = 4;

/// Drops stores after the call that used them has answered.
#[derive(Default)]
pub(super) struct Reaper {
    waiting: Arc<AtomicUsize>,
}

/// Counts one waiting store; uncounts it when dropped (with the store, or with the task if the
/// runtime shuts down before running it).
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Reaper {
    /// Drops `store` in a task on the current Tokio runtime, or here if there is none or
    /// [`BACKLOG`] stores are already waiting.
    pub(super) fn drop_later(&self, store: Store<ComponentState>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return drop(store);
        };
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= BACKLOG {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return drop(store);
        }
        let waiting = Waiting(Arc::clone(&self.waiting));
        runtime.spawn(async move {
            drop(store);
            drop(waiting);
        });
    }
}
