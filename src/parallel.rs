//! Thread pools for batch work that stay usable after `fork()`.
//!
//! Spark, Dask and `multiprocessing` fork worker processes. A rayon pool created before the fork has no threads in
//! the child, and using it there hangs forever; so does a lock another thread held at the fork. The pools are
//! therefore a `PerProcess` value: a child that finds its parent's pools forgets them (their threads do not
//! exist here, so they cannot be joined or dropped) and builds its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{Error, Result};
use crate::fork::PerProcess;

static POOLS: PerProcess<Mutex<HashMap<usize, Arc<ThreadPool>>>> = PerProcess::new(|| Mutex::new(HashMap::new()));

/// The default thread count: `TOKENPRICE_NUM_THREADS` if set, else every available core. Read once per process
/// (a forked child reads it again: its cores or environment may differ); setting the variable later in a running
/// process does not change it.
pub fn default_threads() -> usize {
    use std::sync::atomic::{AtomicU64, Ordering};
    // (pid << 32) | threads; 0 until first read.
    static CACHED: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    let cached = CACHED.load(Ordering::Relaxed);
    if cached != 0 && (cached >> 32) as u32 == pid {
        return (cached & 0xffff_ffff) as usize;
    }
    let threads = std::env::var("TOKENPRICE_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(u32::MAX as usize);
    CACHED.store(((pid as u64) << 32) | threads as u64, Ordering::Relaxed);
    threads
}

/// A `num_threads` value: from 1 to 1024.
pub fn check_threads(n: i128) -> Result<usize> {
    match n {
        ..=0 => Err(Error::InvalidArgument(format!("num_threads={n}: must be at least 1 (or None for the default)"))),
        1..=1024 => Ok(n as usize),
        _ => Err(Error::InvalidArgument(format!("num_threads={n} is more than the 1024 threads allowed"))),
    }
}

/// The pool with `threads` threads for this process.
pub fn pool(threads: Option<usize>) -> Result<Arc<ThreadPool>> {
    let size = match threads {
        Some(n) => check_threads(n as i128)?,
        None => default_threads(),
    };
    let mut pools = POOLS.get().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(pool) = pools.get(&size) {
        return Ok(pool.clone());
    }
    let pool = ThreadPoolBuilder::new()
        .num_threads(size)
        .thread_name(|i| format!("tokenprice-{i}"))
        .build()
        .map_err(|e| Error::Internal(format!("cannot start {size} threads: {e}")))?;
    let pool = Arc::new(pool);
    pools.insert(size, pool.clone());
    Ok(pool)
}

/// Runs `f` on the pool with `threads` threads (so rayon's parallel iterators inside use that pool).
pub fn install<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> Result<R> {
    Ok(pool(threads)?.install(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_are_reused_and_sized() {
        let a = pool(Some(2)).unwrap();
        let b = pool(Some(2)).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(install(Some(3), rayon::current_num_threads).unwrap(), 3);
        assert!(pool(Some(0)).is_err());
    }
}
