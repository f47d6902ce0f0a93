//! train.log: header, one line per epoch, distractor warnings, errors, footer.
//! Rendered once into one buffer with line spans, so a filtered read selects
//! lines without re-rendering or re-allocating them.

use crate::env::curves::{EpochRow, best_val, curves};
use crate::env::num::{push_fixed, push_padded, push_time, push_u64};
use crate::env::timeline::{RETRY_BACKOFF_MS, Timeline, timeline};
use crate::env::world::{Distractor, OptimizerKind, World};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    Header,
    Epoch,
    Warning,
    Error,
    Footer,
}

/// One line of the log: what it is, the epoch it belongs to (epoch lines and
/// the warnings printed during that epoch), and where its text lies in the buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineSpan {
    pub kind: LineKind,
    pub epoch: Option<u16>,
    pub start: usize,
    pub end: usize,
}

/// The rendered log: its text (each line ending in '\n') and its lines.
pub struct Log {
    pub text: String,
    pub lines: Vec<LineSpan>,
}

impl Log {
    pub fn line(&self, span: &LineSpan) -> &str {
        &self.text[span.start..span.end]
    }
}

const DEPRECATIONS: [&str; 3] = [
    "UserWarning: TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the only storage class. This should only matter to you if you are using storages directly.  To access UntypedStorage directly, use tensor.untyped_storage() instead of tensor.storage()",
    "FutureWarning: `torch.distributed.reduce_op` is deprecated, please use `torch.distributed.ReduceOp` instead",
    "DeprecationWarning: pkg_resources is deprecated as an API. See https://setuptools.pypa.io/en/latest/pkg_resources.html",
];

struct Writer {
    log: Log,
}

impl Writer {
    /// Starts a line: timestamp (Python logging's `%(asctime)s`, milliseconds
    /// after a comma) and level; the caller appends the message and calls `end`.
    fn begin(&mut self, t_ms: u64, level: &str) -> usize {
        let start = self.log.text.len();
        push_time(&mut self.log.text, t_ms / 1000, b' ');
        self.log.text.push(',');
        push_padded(&mut self.log.text, t_ms % 1000, 3);
        self.log.text.push(' ');
        self.log.text.push_str(level);
        for _ in level.len()..7 {
            self.log.text.push(' ');
        }
        self.log.text.push(' ');
        start
    }

    fn end(&mut self, start: usize, kind: LineKind, epoch: Option<u16>) {
        let end = self.log.text.len();
        self.log.text.push('\n');
        self.log.lines.push(LineSpan { kind, epoch, start, end });
    }

    fn line(&mut self, t: u64, level: &str, kind: LineKind, epoch: Option<u16>, message: &str) {
        let start = self.begin(t, level);
        self.log.text.push_str(message);
        self.end(start, kind, epoch);
    }

    fn s(&mut self, s: &str) {
        self.log.text.push_str(s);
    }

    fn n(&mut self, n: u64) {
        push_u64(&mut self.log.text, n);
    }

    fn f(&mut self, x: f64, decimals: usize) {
        push_fixed(&mut self.log.text, x, decimals);
    }
}

fn epoch_line(out: &mut Writer, w: &World, r: &EpochRow, t: u64) {
    let start = out.begin(t, "INFO");
    out.s("epoch ");
    out.n(r.epoch as u64);
    out.s("/");
    out.n(w.epochs as u64);
    out.s(" train_loss=");
    out.f(r.train_loss, 4);
    out.s(" val_loss=");
    out.f(r.val_loss, 4);
    out.s(" train_acc=");
    out.f(r.train_acc, 4);
    out.s(" val_acc=");
    out.f(r.val_acc, 4);
    out.s(" lr=");
    out.s(&r.lr.text());
    out.s(" grad_norm=");
    out.f(r.grad_norm, 2);
    out.s(" time=");
    out.f(r.seconds, 1);
    out.s("s");
    out.end(start, LineKind::Epoch, Some(r.epoch));
}

fn header(out: &mut Writer, w: &World, t: u64) {
    let c = w.config();
    // Header lines follow each other by a millisecond.
    let h = |out: &mut Writer, message: String| {
        let at = t + out.log.lines.len() as u64;
        out.line(at, "INFO", LineKind::Header, None, &message)
    };
    h(
        out,
        format!(
            "trainer: run_id={} model={} dataset={} task={}",
            w.run_id_hex(),
            c.model,
            c.dataset,
            c.task_type
        ),
    );
    h(
        out,
        format!(
            "trainer: device=cuda:0 ({}) precision={} num_workers={} seed={}",
            w.gpu_name(),
            if w.bf16 { "bf16" } else { "fp32" },
            w.num_workers,
            w.train_seed
        ),
    );
    h(
        out,
        format!("data: samples={} splits train={} val={} test={}", w.n_total, w.n_train, w.n_val, w.n_test),
    );
    if let (Some(tok), Some((name, _))) = (w.tokenizer, c.tokenizer) {
        h(
            out,
            format!(
                "data: tokenizer={name} version={} vocab_size={} max_length={}",
                tok.train_version.text(),
                tok.vocab_size,
                c.input_size
            ),
        );
    }
    let momentum = match w.optimizer {
        OptimizerKind::Sgd => format!(" momentum={}", super::tree::plain_float(w.momentum)),
        _ => String::new(),
    };
    h(
        out,
        format!(
            "trainer: optimizer={} lr={}{momentum} weight_decay={} batch_size={} micro_batch_size={} grad_accum_steps={}",
            w.optimizer.display(),
            w.lr.text(),
            super::tree::plain_float(w.weight_decay),
            w.batch_size,
            w.micro_batch_size,
            w.batch_size / w.micro_batch_size
        ),
    );
    h(
        out,
        format!(
            "trainer: epochs={} steps_per_epoch={} scheduler={} warmup_steps={}",
            w.epochs,
            w.steps_per_epoch(),
            w.scheduler.name(),
            w.warmup_steps
        ),
    );
    let mut at = t + 10;
    for d in &w.distractors {
        match *d {
            Distractor::Deprecation { variant } => {
                out.line(at, "WARNING", LineKind::Warning, None, DEPRECATIONS[variant as usize]);
                at += 3;
            }
            Distractor::WorkerOversubscribed => {
                // torch.utils.data.DataLoader's check_worker_number_rationality, word for word.
                let message = format!(
                    "UserWarning: This DataLoader will create {} worker processes in total. Our suggested max number of worker in current system is {}, which is smaller than what this DataLoader is going to create. Please be aware that excessive worker creation might get DataLoader running slow or even freeze, lower the worker number to avoid potential slowness/freeze if necessary.",
                    w.num_workers,
                    w.num_workers / 2
                );
                out.line(at, "WARNING", LineKind::Warning, None, &message);
                at += 3;
            }
            _ => {}
        }
    }
}

/// What follows an epoch line: the slow-epoch warning, the halt, and the checkpoint write.
fn after_epoch(out: &mut Writer, w: &World, rows: &[EpochRow], i: usize, tl: &Timeline) {
    let r = &rows[i];
    let times = &tl.epochs[i];
    let e = Some(r.epoch);
    for d in &w.distractors {
        if let Distractor::SlowEpoch { epoch, .. } = *d
            && epoch == r.epoch
            && i > 0
        {
            let mean = rows[..i].iter().map(|p| p.seconds).sum::<f64>() / i as f64;
            let start = out.begin(times.end_ms + 1, "WARNING");
            out.s("trainer: epoch ");
            out.n(epoch as u64);
            out.s(" took ");
            out.f(r.seconds, 1);
            out.s("s, ");
            out.f(r.seconds / mean, 1);
            out.s("x the mean of the epochs before it");
            out.end(start, LineKind::Warning, e);
        }
    }
    if let Some(halt) = w.outcome.halt_epoch
        && halt == r.epoch
    {
        let start = out.begin(times.end_ms + 2, "ERROR");
        out.s("trainer: non-finite loss (nan) at epoch ");
        out.n(halt as u64);
        out.s(", step ");
        out.n(halt as u64 * w.steps_per_epoch() as u64);
        out.s("; stopping training");
        out.end(start, LineKind::Error, Some(halt));
    }
    let file = format!("checkpoints/epoch_{:03}.pt", r.epoch);
    if let Some(failed) = times.failed_write_ms {
        let start = out.begin(failed, "WARNING");
        out.s("checkpoint: write of ");
        out.s(&file);
        out.s(" interrupted (OSError: [Errno 5] Input/output error); retrying in ");
        out.n(RETRY_BACKOFF_MS / 1000);
        out.s("s (attempt 2/3)");
        out.end(start, LineKind::Warning, e);
    }
    if let Some(saved) = times.saved_ms {
        let start = out.begin(saved, "INFO");
        out.s("checkpoint: saved ");
        out.s(&file);
        if times.failed_write_ms.is_some() {
            out.s(" on attempt 2");
        }
        out.end(start, LineKind::Epoch, e);
    }
}

pub fn log(w: &World) -> Log {
    log_with(w, &curves(w))
}

pub fn log_with(w: &World, rows: &[EpochRow]) -> Log {
    let mut out = Writer {
        log: Log {
            text: String::with_capacity(512 + rows.len() * 220),
            lines: Vec::with_capacity(2 * rows.len() + 14),
        },
    };
    let tl = timeline(w, rows);
    header(&mut out, w, tl.header_ms);
    for (i, r) in rows.iter().enumerate() {
        epoch_line(&mut out, w, r, tl.epochs[i].end_ms);
        after_epoch(&mut out, w, rows, i, &tl);
    }
    let (best, best_epoch) = best_val(rows);
    let start = out.begin(tl.footer_ms, "INFO");
    out.s("trainer: best val_acc=");
    out.f(best, 4);
    out.s(" at epoch ");
    out.n(best_epoch as u64);
    out.s("; checkpoint=");
    out.s(&w.checkpoint());
    out.end(start, LineKind::Footer, None);
    let start = out.begin(tl.footer_ms + 1, "INFO");
    match w.outcome.halt_epoch {
        Some(h) => {
            out.s("trainer: training stopped after ");
            out.n(h as u64);
        }
        None => {
            out.s("trainer: training finished after ");
            out.n(w.epochs as u64);
        }
    }
    out.s(" epochs in ");
    out.f(tl.training_seconds(), 1);
    out.s("s");
    out.end(start, LineKind::Footer, None);
    out.log
}

pub fn render(w: &World) -> String {
    log(w).text
}
