//! The pool of places for CPU-heavy image work.

use super::{ImagingError, unreadable};
use crate::metrics::Histogram;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Which work gets a free place first. Finishing a job whose model has answered frees its
/// answer's memory and a guest who is waiting; starting a new job can wait for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turn {
    Finish,
    Start,
}

/// The pool CPU-heavy image work waits for: no wider than the machine, so a burst of uploads
/// queues here instead of multiplying decoded buffers in memory. Waiting work is served
/// finishing first, then in order of arrival.
#[derive(Clone)]
pub struct CpuPool {
    places: Arc<Places>,
    /// Where the time spent waiting for a place is recorded.
    wait: Arc<Histogram>,
}

struct Places(Mutex<Queue>);

struct Queue {
    free: usize,
    finish: VecDeque<oneshot::Sender<Place>>,
    start: VecDeque<oneshot::Sender<Place>>,
}

/// A place in the pool, handed on to the next waiter when dropped (empty once handed on).
struct Place(Option<Arc<Places>>);

impl Drop for Place {
    fn drop(&mut self) {
        if let Some(places) = self.0.take() {
            places.hand_on();
        }
    }
}

impl Places {
    fn hand_on(self: &Arc<Self>) {
        let mut queue = self.0.lock().expect("cpu pool lock");
        while let Some(waiter) = queue.finish.pop_front().or_else(|| queue.start.pop_front()) {
            match waiter.send(Place(Some(self.clone()))) {
                Ok(()) => return,
                // That waiter has gone (its job ended); the place goes to the next one.
                Err(mut place) => drop(place.0.take()),
            }
        }
        queue.free += 1;
    }

    async fn take(self: &Arc<Self>, turn: Turn) -> Option<Place> {
        let placed = {
            let mut queue = self.0.lock().expect("cpu pool lock");
            if queue.free > 0 {
                queue.free -= 1;
                return Some(Place(Some(self.clone())));
            }
            let (sender, placed) = oneshot::channel();
            match turn {
                Turn::Finish => queue.finish.push_back(sender),
                Turn::Start => queue.start.push_back(sender),
            }
            placed
        };
        placed.await.ok()
    }
}

impl CpuPool {
    pub fn new(width: usize, wait: Arc<Histogram>) -> CpuPool {
        let queue = Queue {
            free: width.max(1),
            finish: VecDeque::new(),
            start: VecDeque::new(),
        };
        CpuPool {
            places: Arc::new(Places(Mutex::new(queue))),
            wait,
        }
    }

    pub fn machine_wide(wait: Arc<Histogram>) -> CpuPool {
        CpuPool::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()),
            wait,
        )
    }

    /// Runs `work` on a blocking thread once a place is free. A panic inside becomes an error.
    pub async fn run<T, F>(&self, turn: Turn, work: F) -> Result<T, ImagingError>
    where
        F: FnOnce() -> Result<T, ImagingError> + Send + 'static,
        T: Send + 'static,
    {
        let queued = std::time::Instant::now();
        let place = self
            .places
            .take(turn)
            .await
            .ok_or_else(|| unreadable("the image workers have stopped"))?;
        self.wait.observe(queued.elapsed());
        let result = tokio::task::spawn_blocking(work)
            .await
            .unwrap_or_else(|e| Err(unreadable(format!("image worker failed: {e}"))));
        drop(place);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn finishing_work_gets_a_free_place_before_starting_work() {
        let pool = CpuPool::new(1, Arc::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let busy = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(Turn::Start, move || {
                    released.recv().ok();
                    Ok(())
                })
                .await
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut waiting = Vec::new();
        for (name, turn) in [("start", Turn::Start), ("finish", Turn::Finish)] {
            let (pool, order) = (pool.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                pool.run(turn, move || {
                    order.lock().unwrap().push(name);
                    Ok(())
                })
                .await
            }));
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // A waiter that gives up does not keep the place it would have been handed.
        let gone = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(Turn::Finish, || Ok(())).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        gone.abort();
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        for job in waiting {
            job.await.unwrap().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["finish", "start"]);
        let place_back = pool.run(Turn::Start, || Ok(()));
        tokio::time::timeout(std::time::Duration::from_secs(1), place_back)
            .await
            .expect("the place came back to the pool")
            .unwrap();
    }
}
