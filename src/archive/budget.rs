//! The memory budget of deflate chunks in flight, shared by every stem of a
//! run: a stem's reader takes a chunk's worth before it reads the chunk, and
//! its writer gives it back once the compressed chunk is written. Memory in
//! flight therefore stays within one budget in bytes whatever the number of
//! workers and of stems running at once.
//!
//! The buffers themselves are reused ([`Spares`]): allocated and freed for
//! every chunk on many threads, 1 MiB buffers stay resident in the
//! allocator's per-thread arenas (glibc raises its mmap threshold after the
//! first free), and the process grew with the worker count whatever the
//! budget said.

use std::collections::BTreeSet;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use super::{Control, StemError};

/// How long a reader waits for room before it checks cancel and timeout again.
const RECHECK: Duration = Duration::from_millis(50);

/// Bytes that deflate chunks in flight may hold, across a whole run.
///
/// Readers are served in the order they asked (a ticket each), so with
/// more stems than the budget has chunks every stem goes on in turn: none
/// waits while others take the room it was waiting for.
#[derive(Debug)]
pub struct ChunkBudget {
    state: Mutex<Queue>,
    returned: Condvar,
    spares: Spares,
}

/// The free bytes, and the line of readers waiting for them.
#[derive(Debug, Default)]
struct Queue {
    free: usize,
    /// The next ticket to hand out.
    next: u64,
    /// The ticket served next.
    serving: u64,
    /// Tickets whose readers stopped waiting (cancel, timeout).
    abandoned: BTreeSet<u64>,
}

/// Buffers that finished chunks gave back, for the next chunks to reuse:
/// chunks read (inputs) and chunks compressed (outputs) apart, so that each
/// is reused at its own size. Cloning shares them (a compression task gives
/// its input back itself).
#[derive(Debug, Clone, Default)]
pub struct Spares {
    inputs: Arc<Mutex<Vec<Vec<u8>>>>,
    outputs: Arc<Mutex<Vec<Vec<u8>>>>,
    keep: usize,
}

/// Which kind of buffer.
#[derive(Debug, Clone, Copy)]
pub enum Buffer {
    /// A chunk as read.
    Input,
    /// A chunk compressed.
    Output,
}

impl Spares {
    fn list(&self, kind: Buffer) -> &Mutex<Vec<Vec<u8>>> {
        match kind {
            Buffer::Input => &self.inputs,
            Buffer::Output => &self.outputs,
        }
    }

    /// An empty buffer with room for `capacity` bytes (for an output): a
    /// spare one if any.
    pub fn get(&self, kind: Buffer, capacity: usize) -> Vec<u8> {
        let spare = self
            .list(kind)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut buffer = spare.unwrap_or_default();
        buffer.clear();
        buffer.reserve(capacity);
        buffer
    }

    /// A buffer of exactly `len` bytes to read into (contents unspecified):
    /// a spare input buffer of that length if any, else a new zeroed one.
    pub fn get_filled(&self, len: usize) -> Vec<u8> {
        let mut inputs = self.inputs.lock().unwrap_or_else(PoisonError::into_inner);
        match inputs.iter().position(|b| b.len() == len) {
            Some(i) => inputs.swap_remove(i),
            None => vec![0; len],
        }
    }

    /// Keeps `buffer` for reuse (as many as the budget has chunks).
    pub fn put(&self, kind: Buffer, buffer: Vec<u8>) {
        let mut list = self
            .list(kind)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if list.len() < self.keep {
            list.push(buffer);
        }
    }
}

impl ChunkBudget {
    /// A budget of `bytes`, taken `chunk` bytes at a time (what one chunk
    /// holds in flight: its input, then its output).
    pub fn new(bytes: usize, chunk: usize) -> Self {
        ChunkBudget {
            state: Mutex::new(Queue {
                free: bytes,
                ..Queue::default()
            }),
            returned: Condvar::new(),
            spares: Spares {
                keep: bytes.div_ceil(chunk.max(1)),
                ..Spares::default()
            },
        }
    }

    /// The buffers chunks reuse.
    pub fn spares(&self) -> &Spares {
        &self.spares
    }

    /// Waits for its turn and until `bytes` are free, and takes them; gives
    /// up when the stem must stop (cancel, timeout). The bytes come back
    /// when the permit drops.
    pub fn take(&self, bytes: usize, control: &Control) -> Result<ChunkPermit<'_>, StemError> {
        let mut queue = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let ticket = queue.next;
        queue.next += 1;
        loop {
            while queue.abandoned.first() == Some(&queue.serving) {
                queue.abandoned.pop_first();
                queue.serving += 1;
            }
            if queue.serving == ticket && queue.free >= bytes {
                queue.free -= bytes;
                queue.serving += 1;
                // The next in line may fit too.
                self.returned.notify_all();
                return Ok(ChunkPermit {
                    budget: self,
                    bytes,
                });
            }
            if let Err(stop) = control.check() {
                queue.abandoned.insert(ticket);
                self.returned.notify_all();
                return Err(stop);
            }
            queue = match self.returned.wait_timeout(queue, RECHECK) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Bytes free now.
    pub fn free(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .free
    }
}

/// Bytes of the budget held by one chunk until it is written.
#[derive(Debug)]
pub struct ChunkPermit<'a> {
    budget: &'a ChunkBudget,
    bytes: usize,
}

impl Drop for ChunkPermit<'_> {
    fn drop(&mut self) {
        let mut queue = self
            .budget
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        queue.free += self.bytes;
        self.budget.returned.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancel::CancelToken;

    #[test]
    fn a_reader_waits_for_room_and_stops_waiting_when_cancelled() {
        let budget = ChunkBudget::new(3, 1);
        let control = Control {
            cancel: CancelToken::new(),
            deadline: None,
        };
        let a = budget.take(2, &control).unwrap();
        let b = budget.take(1, &control).unwrap();
        assert_eq!(budget.free(), 0);
        std::thread::scope(|s| {
            // Blocks until `a` comes back.
            let waiter = s.spawn(|| budget.take(2, &control).map(|p| p.bytes));
            std::thread::sleep(Duration::from_millis(100));
            assert!(!waiter.is_finished());
            drop(a);
            assert_eq!(waiter.join().unwrap().unwrap(), 2);
        });
        drop(b);
        assert_eq!(budget.free(), 3);
        // A cancelled stem stops waiting.
        let hold = budget.take(3, &control).unwrap();
        control.cancel.cancel();
        let started = std::time::Instant::now();
        assert!(matches!(
            budget.take(1, &control),
            Err(StemError::Cancelled)
        ));
        assert!(started.elapsed() < Duration::from_secs(1));
        drop(hold);
    }

    #[test]
    fn readers_are_served_in_the_order_they_asked_and_a_stopped_one_leaves_the_line() {
        let budget = ChunkBudget::new(2, 1);
        let go = Control {
            cancel: CancelToken::new(),
            deadline: None,
        };
        let stopped = Control {
            cancel: CancelToken::new(),
            deadline: None,
        };
        let first = budget.take(1, &go).unwrap();
        let second = budget.take(1, &go).unwrap();
        let order = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            // In line: a reader that will be cancelled, one that needs both
            // units, then one that needs one.
            let quitter = s.spawn(|| budget.take(1, &stopped).map(drop));
            std::thread::sleep(Duration::from_millis(50));
            let big = s.spawn(|| {
                let permit = budget.take(2, &go).unwrap();
                order.lock().unwrap().push("big");
                std::thread::sleep(Duration::from_millis(50));
                drop(permit);
            });
            std::thread::sleep(Duration::from_millis(50));
            let small = s.spawn(|| {
                let _permit = budget.take(1, &go).unwrap();
                order.lock().unwrap().push("small");
            });
            std::thread::sleep(Duration::from_millis(50));
            stopped.cancel.cancel();
            assert!(matches!(quitter.join().unwrap(), Err(StemError::Cancelled)));
            // One unit back: the small reader fits but is behind the big one.
            drop(first);
            std::thread::sleep(Duration::from_millis(150));
            assert!(!small.is_finished(), "the small reader jumped the line");
            drop(second);
            big.join().unwrap();
            small.join().unwrap();
        });
        assert_eq!(*order.lock().unwrap(), ["big", "small"]);
        assert_eq!(budget.free(), 2);
    }
}
