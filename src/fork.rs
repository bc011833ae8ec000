//! State that stays usable in a child made by `fork()` while other threads of the parent were using it.
//!
//! `fork()` copies one thread. A lock another thread held at that moment stays held in the child forever, and a
//! one-time initialisation another thread was running never finishes there: Spark, Dask and `multiprocessing`
//! workers then hang in the first call that waits for it. So shared state is either a [`PerProcess`] value (a child
//! builds its own and leaks the inherited one, whose locks and contents may be half-way through a change) or a
//! [`RaceCell`] (initialised without waiting: a thread that finds it empty computes the value itself).

use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

/// Bumped in every child right after `fork()` (a `pthread_atfork` handler): which process a value belongs to.
static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTERED: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn forked_child() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// This process's generation: 0 in the first process, different in each child forked after it (and their
/// children). The fork handler is registered on first call, before any per-process value exists.
#[inline]
pub fn generation() -> u64 {
    if !REGISTERED.load(Ordering::Relaxed) && !REGISTERED.swap(true, Ordering::AcqRel) {
        // SAFETY: the handler only bumps an atomic, which is async-signal-safe as `fork()` requires.
        #[cfg(unix)]
        unsafe {
            libc::pthread_atfork(None, None, Some(forked_child));
        }
    }
    GENERATION.load(Ordering::Relaxed)
}

struct Slot<T> {
    generation: u64,
    value: T,
}

/// A `T` of this process: made by `init` when first needed, and made afresh in a forked child (the parent's is
/// leaked, never dropped: another thread may have held its locks, or been changing it, at the fork).
pub struct PerProcess<T> {
    slot: AtomicPtr<Slot<T>>,
    init: fn() -> T,
    _owns: PhantomData<Box<Slot<T>>>,
}

impl<T> PerProcess<T> {
    pub const fn new(init: fn() -> T) -> Self {
        PerProcess { slot: AtomicPtr::new(ptr::null_mut()), init, _owns: PhantomData }
    }

    /// This process's value (one relaxed load and a compare after the first call).
    #[inline]
    pub fn get(&self) -> &T {
        let generation = generation();
        let mut current = self.slot.load(Ordering::Acquire);
        loop {
            // SAFETY: a published slot is never freed while `self` lives (replaced ones are leaked).
            if let Some(slot) = unsafe { current.as_ref() } {
                if slot.generation == generation {
                    return &slot.value;
                }
            }
            let fresh = Box::into_raw(Box::new(Slot { generation, value: (self.init)() }));
            match self.slot.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
                // SAFETY: just published; never freed while `self` lives. The slot replaced, if any, is leaked.
                Ok(_) => return unsafe { &(*fresh).value },
                Err(now) => {
                    // Another thread published first: use its value, drop ours (never shared).
                    // SAFETY: `fresh` came from `Box::into_raw` above and was not published.
                    drop(unsafe { Box::from_raw(fresh) });
                    current = now;
                }
            }
        }
    }
}

impl<T> Drop for PerProcess<T> {
    fn drop(&mut self) {
        let slot = *self.slot.get_mut();
        // SAFETY: owned by `self`; a slot inherited across fork() is leaked instead (see the type's comment).
        if let Some(s) = unsafe { slot.as_ref() } {
            if s.generation == generation() {
                drop(unsafe { Box::from_raw(slot) });
            }
        }
    }
}

// SAFETY: the slot is shared between threads as `&T` and moved with `self`; as for `OnceLock<T>`.
unsafe impl<T: Send + Sync> Sync for PerProcess<T> {}
unsafe impl<T: Send> Send for PerProcess<T> {}

/// A value set once without any waiting (so never stuck across `fork()`): threads that find it empty each compute
/// it, the first to finish publishes it, and the others drop theirs.
pub struct RaceCell<T> {
    value: AtomicPtr<T>,
    _owns: PhantomData<Box<T>>,
}

impl<T> Default for RaceCell<T> {
    fn default() -> Self {
        RaceCell::new()
    }
}

impl<T> RaceCell<T> {
    pub const fn new() -> Self {
        RaceCell { value: AtomicPtr::new(ptr::null_mut()), _owns: PhantomData }
    }

    /// A cell holding `value`.
    pub fn with(value: T) -> Self {
        RaceCell { value: AtomicPtr::new(Box::into_raw(Box::new(value))), _owns: PhantomData }
    }

    /// The value, if set.
    #[inline]
    pub fn get(&self) -> Option<&T> {
        // SAFETY: a published value is only freed by `drop`.
        unsafe { self.value.load(Ordering::Acquire).as_ref() }
    }

    #[inline]
    pub fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        match self.get_or_try_init(|| Ok::<T, std::convert::Infallible>(init())) {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// [`RaceCell::get_or_init`] with an `init` that may fail: the cell stays empty, and the error is returned.
    #[inline]
    pub fn get_or_try_init<E>(&self, init: impl FnOnce() -> std::result::Result<T, E>) -> std::result::Result<&T, E> {
        if let Some(v) = self.get() {
            return Ok(v);
        }
        let fresh = Box::into_raw(Box::new(init()?));
        match self.value.compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
            // SAFETY: published, freed only by `drop`.
            Ok(_) => Ok(unsafe { &*fresh }),
            Err(first) => {
                // SAFETY: `fresh` was never published; `first` is, and lives as long as `self`.
                drop(unsafe { Box::from_raw(fresh) });
                Ok(unsafe { &*first })
            }
        }
    }
}

impl<T> Drop for RaceCell<T> {
    fn drop(&mut self) {
        let value = *self.value.get_mut();
        if !value.is_null() {
            // SAFETY: owned by `self`, published once by `Box::into_raw`.
            drop(unsafe { Box::from_raw(value) });
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for RaceCell<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RaceCell").field(&self.get()).finish()
    }
}

// SAFETY: as `OnceLock<T>`: the value is shared as `&T` and may be made (and dropped) on any thread.
unsafe impl<T: Send + Sync> Sync for RaceCell<T> {}
unsafe impl<T: Send> Send for RaceCell<T> {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn a_race_cell_keeps_its_first_value() {
        let cell = RaceCell::new();
        assert!(cell.get().is_none());
        assert_eq!(*cell.get_or_init(|| 1), 1);
        assert_eq!(*cell.get_or_init(|| 2), 1);
        assert_eq!(RaceCell::with("x").get(), Some(&"x"));
    }

    #[test]
    fn a_per_process_value_is_made_once_per_process() {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let v: PerProcess<Vec<u8>> = PerProcess::new(|| {
            MADE.fetch_add(1, Ordering::Relaxed);
            vec![1]
        });
        let a = v.get() as *const _;
        let b = v.get() as *const _;
        assert_eq!(a, b);
        assert_eq!(MADE.load(Ordering::Relaxed), 1);
    }

    /// A child forked while another thread is inside a cell's first initialisation makes the value itself (a
    /// `OnceLock` there would wait forever for a thread the child does not have); a failed init leaves it empty.
    #[cfg(unix)]
    #[test]
    fn a_child_forked_during_a_first_initialisation_does_not_wait_for_it() {
        static CELL: RaceCell<u32> = RaceCell::new();
        let (entered, inside) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let initialiser = std::thread::spawn(move || {
            *CELL.get_or_init(|| {
                entered.send(()).unwrap();
                released.recv().unwrap();
                1
            })
        });
        inside.recv().unwrap();
        // SAFETY: the child only uses the cell (no locks) and exits without unwinding.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let failed = CELL.get_or_try_init(|| Err::<u32, ()>(())).is_err() && CELL.get().is_none();
            let code = if failed && *CELL.get_or_init(|| 2) == 2 { 0 } else { 1 };
            unsafe { libc::_exit(code) };
        }
        release.send(()).unwrap();
        assert_eq!(initialiser.join().unwrap(), 1);
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status}");
    }

    /// A child forked while another thread holds the value's lock gets a fresh value instead of waiting forever.
    #[cfg(unix)]
    #[test]
    fn a_child_forked_while_a_lock_is_held_does_not_wait_for_it() {
        static SHARED: PerProcess<std::sync::Mutex<u32>> = PerProcess::new(|| std::sync::Mutex::new(7));
        let held = SHARED.get().lock().unwrap();
        // SAFETY: the child only takes the (fresh) lock and exits without unwinding.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = match SHARED.get().try_lock() {
                Ok(v) if *v == 7 => 0,
                _ => 1,
            };
            unsafe { libc::_exit(code) };
        }
        drop(held);
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status}");
    }
}
