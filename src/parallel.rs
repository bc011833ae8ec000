//! Thread pools for batch work that stay usable after `fork()`.
//!
//! Spark, Dask and `multiprocessing` fork worker processes. A rayon pool created before the fork has no threads in
//! the child, and using it there hangs forever; so does a lock another thread held at the fork. The pools are
//! therefore a [`PerProcess`] value: a child that finds its parent's pools forgets them (their threads do not
//! exist here, so they cannot be joined or dropped) and builds its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{Error, Result};
use crate::fork::PerProcess;

static POOLS: PerProcess<Mutex<HashMap<usize, Arc<ThreadPool>>>> = PerProcess::new(|| Mutex::new(HashMap::new()));

/// The default thread count: `TOKENPRICE_NUM_THREADS` if set, else every available core.
pub fn default_threads() -> usize {
    std::env::var("TOKENPRICE_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The pool with `threads` threads for this process.
pub fn pool(threads: Option<usize>) -> Result<Arc<ThreadPool>> {
    let size = match threads {
        Some(0) => return Err(Error::InvalidArgument("num_threads must be at least 1".into())),
        Some(n) if n > 1024 => {
            return Err(Error::InvalidArgument(format!("num_threads={n} is more than the 1024 threads allowed")))
        }
        Some(n) => n,
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
