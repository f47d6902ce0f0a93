//! When everything in the run happened, in milliseconds: one source for the
//! log's line times, the footer's duration, the evaluation's timestamp, and
//! the world's placement of the run before its upload times.
//!
//! Order: header (config loaded) -> setup -> per epoch: the epoch's steps and
//! its val pass end at the epoch line, then its checkpoint is written (a
//! failed first attempt costs the partial write plus the 5 s back-off) and the
//! next epoch starts -> footer -> the evaluation job runs later and stamps its
//! end -> the artifacts are uploaded after that (drawn first: see world.rs).

use super::curves::EpochRow;
use super::world::{Distractor, World};

/// Seconds the trainer waits before retrying a failed checkpoint write.
pub const RETRY_BACKOFF_MS: u64 = 5_000;

/// One epoch's times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochTimes {
    pub start_ms: u64,
    /// The epoch line (training steps and the val pass done).
    pub end_ms: u64,
    /// The failed first write of the checkpoint, when the write was retried.
    pub failed_write_ms: Option<u64>,
    /// The checkpoint saved (none for an epoch whose loss was non-finite).
    pub saved_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// The header lines (config loaded, model built).
    pub header_ms: u64,
    pub epochs: Vec<EpochTimes>,
    /// The footer lines (training over).
    pub footer_ms: u64,
    /// The evaluation job's end: eval_results.json's timestamp.
    pub eval_end_ms: u64,
}

impl Timeline {
    /// Wall time of training, from the first epoch's start to the footer, in seconds (one decimal).
    pub fn training_seconds(&self) -> f64 {
        let first = self.epochs.first().map_or(self.footer_ms, |e| e.start_ms);
        (self.footer_ms - first) as f64 / 1000.0
    }
}

/// Milliseconds to write one checkpoint: weights plus optimiser state (fp32).
pub fn checkpoint_write_ms(w: &World) -> u64 {
    let per_param = if w.optimizer.is_adaptive() { 12.0 } else { 8.0 };
    let bytes = w.parameters() as f64 * per_param;
    libm::round(bytes / (w.timing.write_mb_per_s * 1e6) * 1000.0) as u64 + 40
}

/// The run's times for the rows the log prints, counted from `w.started_at_ms`.
pub fn timeline(w: &World, rows: &[EpochRow]) -> Timeline {
    let header_ms = w.started_at_ms;
    let write = checkpoint_write_ms(w);
    let mut t = header_ms + w.timing.setup_ms as u64;
    let mut epochs = Vec::with_capacity(rows.len());
    for r in rows {
        let start_ms = t;
        let end_ms = start_ms + libm::round(r.seconds * 1000.0) as u64;
        t = end_ms;
        let (mut failed_write_ms, mut saved_ms) = (None, None);
        if r.train_loss.is_finite() {
            let retried = w
                .distractors
                .iter()
                .any(|d| matches!(*d, Distractor::CheckpointRetry { epoch } if epoch == r.epoch));
            if retried {
                let failed = t + libm::round(write as f64 * w.timing.failed_write_share) as u64;
                failed_write_ms = Some(failed);
                t = failed + RETRY_BACKOFF_MS;
            }
            t += write;
            saved_ms = Some(t);
        }
        epochs.push(EpochTimes { start_ms, end_ms, failed_write_ms, saved_ms });
        // the next epoch's first step follows the save (or the halt)
        t += 15;
    }
    let footer_ms = t + 20;
    let eval_end_ms = footer_ms + w.timing.eval_delay_ms + w.timing.eval_ms;
    Timeline { header_ms, epochs, footer_ms, eval_end_ms }
}
