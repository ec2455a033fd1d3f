//! The cancel token: how a run is asked to stop, from the window's Cancel
//! button, Ctrl-C, or a failed start-up. Shared by the engine (which stops
//! starting stems) and the archive writer (which stops within one buffer).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Stops a run: running stems stop within one buffer, queued stems do not start.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether cancel was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
