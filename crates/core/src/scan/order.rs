//! Work spread over the threads of the current pool, results handed on in order,
//! with memory bounded whatever the number of items: items are started in order,
//! never too far past the oldest one whose result is not yet handed on.
//!
//! The scan uses it twice: over inputs (a report is in path order) and over the
//! chunks of one large input (its findings in offset order), so that findings
//! leave as they are confirmed instead of being gathered for the whole run.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Items a thread may start past the oldest one not yet handed on, per thread.
const AHEAD_PER_THREAD: usize = 2;

/// Lets the thread help with other work of the pool, or sleeps a little when there
/// is none, before a condition is tested again.
pub(crate) fn pause() {
    if !matches!(rayon::yield_now(), Some(rayon::Yield::Executed)) {
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

/// Runs `work` for items `0..n` on the threads of the current rayon pool and hands
/// the results to `emit` in item order. `start(i)` is called for each item in item
/// order, one at a time, before its work (what an item needs from the items before
/// it, such as a running count, is computed there). `gate` is called before an item
/// is started and may wait ([`pause`]) until more may be started. A thread does not
/// start an item more than a few per thread past the oldest one not yet handed on,
/// so memory holds the results of a few items. With one thread, everything runs in
/// order on the calling thread. A panic in `work` is raised again once the other
/// threads have stopped.
pub(crate) fn ordered<S: Send, T: Send>(
    n: usize,
    start: impl FnMut(usize) -> S + Send,
    work: impl Fn(usize, S) -> T + Sync,
    emit: impl FnMut(T) + Send,
    gate: impl Fn() + Sync,
) {
    let threads = rayon::current_num_threads().min(n);
    if threads <= 1 {
        let (mut start, mut emit) = (start, emit);
        for i in 0..n {
            gate();
            let s = start(i);
            emit(work(i, s));
        }
        return;
    }
    let ahead = AHEAD_PER_THREAD * threads;
    // Next item to start, and the function that prepares it.
    let starter = Mutex::new((0usize, start));
    // Next item to hand on, the results that wait for it, and the receiver.
    let results = Mutex::new((0usize, BTreeMap::new(), emit));
    let handed = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let panic = Mutex::new(None);
    let run = || loop {
        if failed.load(Ordering::Acquire) {
            return;
        }
        gate();
        let taken = {
            let mut s = starter.lock().unwrap_or_else(|e| e.into_inner());
            let i = s.0;
            if i >= n {
                return;
            }
            if i >= handed.load(Ordering::Acquire) + ahead {
                None
            } else {
                s.0 += 1;
                Some((i, (s.1)(i)))
            }
        };
        let Some((i, prepared)) = taken else {
            pause();
            continue;
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(i, prepared)));
        let t = match result {
            Ok(t) => t,
            Err(payload) => {
                failed.store(true, Ordering::Release);
                let mut p = panic.lock().unwrap_or_else(|e| e.into_inner());
                p.get_or_insert(payload);
                return;
            }
        };
        let mut r = results.lock().unwrap_or_else(|e| e.into_inner());
        let (next, waiting, emit) = &mut *r;
        waiting.insert(i, t);
        while let Some(t) = waiting.remove(next) {
            emit(t);
            *next += 1;
        }
        handed.store(*next, Ordering::Release);
    };
    rayon::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|_| run());
        }
        run();
    });
    if let Some(payload) = panic.into_inner().unwrap_or_else(|e| e.into_inner()) {
        std::panic::resume_unwind(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    #[test]
    fn results_come_in_order_with_what_start_computed_in_order() {
        for threads in [1, 2, 4] {
            let mut got = Vec::new();
            pool(threads).install(|| {
                let mut total = 0u64;
                ordered(
                    100,
                    |i| {
                        // a running sum, only right when called in order
                        let base = total;
                        total += i as u64;
                        base
                    },
                    |i, base| {
                        // uneven work, so that later items often finish first
                        if i % 7 == 0 {
                            std::thread::sleep(std::time::Duration::from_millis(2));
                        }
                        (i, base)
                    },
                    |r| got.push(r),
                    || {},
                );
            });
            let want: Vec<(usize, u64)> = (0..100).map(|i| (i, (0..i as u64).sum())).collect();
            assert_eq!(got, want, "{threads} threads");
        }
    }

    #[test]
    fn items_never_start_far_past_the_oldest_one_not_handed_on() {
        let pool = pool(4);
        let started = AtomicUsize::new(0);
        let handed = AtomicUsize::new(0);
        let worst = AtomicUsize::new(0);
        pool.install(|| {
            ordered(
                200,
                |i| {
                    started.store(i + 1, Ordering::SeqCst);
                    let gap = i + 1 - handed.load(Ordering::SeqCst);
                    worst.fetch_max(gap, Ordering::SeqCst);
                },
                |i, ()| {
                    // item 0 is slow: the others may not run away from it
                    if i == 0 {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                },
                |()| {
                    handed.fetch_add(1, Ordering::SeqCst);
                },
                || {},
            )
        });
        assert_eq!(started.load(Ordering::SeqCst), 200);
        assert_eq!(handed.load(Ordering::SeqCst), 200);
        let bound = AHEAD_PER_THREAD * 4;
        let worst = worst.load(Ordering::SeqCst);
        assert!(
            worst <= bound,
            "started {worst} items past the oldest (bound {bound})"
        );
        assert!(worst > 1, "the threads did not work in parallel");
    }

    #[test]
    fn a_panic_in_one_item_is_raised_after_the_others_stop() {
        let pool = pool(2);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.install(|| {
                ordered(
                    50,
                    |_| (),
                    |i, ()| {
                        if i == 3 {
                            panic!("item 3");
                        }
                    },
                    |()| {},
                    || {},
                )
            })
        }));
        assert!(result.is_err());
    }
}
