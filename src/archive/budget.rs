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

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use super::{Control, StemError};

/// How long a reader waits for room before it checks cancel and timeout again.
const RECHECK: Duration = Duration::from_millis(50);

/// Bytes that deflate chunks in flight may hold, across a whole run.
#[derive(Debug)]
pub struct ChunkBudget {
    free: Mutex<usize>,
    returned: Condvar,
    spares: Spares,
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
            free: Mutex::new(bytes),
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

    /// Waits until `bytes` are free and takes them; gives up when the stem
    /// must stop (cancel, timeout). The bytes come back when the permit drops.
    pub fn take(&self, bytes: usize, control: &Control) -> Result<ChunkPermit<'_>, StemError> {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if *free >= bytes {
                *free -= bytes;
                return Ok(ChunkPermit {
                    budget: self,
                    bytes,
                });
            }
            control.check()?;
            free = match self.returned.wait_timeout(free, RECHECK) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Bytes free now.
    pub fn free(&self) -> usize {
        *self.free.lock().unwrap_or_else(PoisonError::into_inner)
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
        let mut free = self
            .budget
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *free += self.bytes;
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
}
