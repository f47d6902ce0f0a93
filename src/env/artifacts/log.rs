//! train.log: header, one line per epoch, distractor warnings, errors, footer.
//! Rendered once into one buffer with line spans, so a filtered read selects
//! lines without re-rendering or re-allocating them.

use crate::env::curves::{EpochRow, best_val, curves};
use crate::env::num::{push_fixed, push_time, push_u64};
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
    "UserWarning: TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the only storage class.",
    "FutureWarning: `torch.distributed.reduce_op` is deprecated, please use `torch.distributed.ReduceOp` instead",
    "DeprecationWarning: pkg_resources is deprecated as an API. See https://setuptools.pypa.io/en/latest/pkg_resources.html",
];

struct Writer {
    log: Log,
}

impl Writer {
    /// Starts a line: timestamp and level; the caller appends the message and calls `end`.
    fn begin(&mut self, t: u64, level: &str) -> usize {
        let start = self.log.text.len();
        push_time(&mut self.log.text, t, b' ');
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
    let h = |out: &mut Writer, message: String| out.line(t, "INFO", LineKind::Header, None, &message);
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
    if let (Some(tok), Some((name, vocab))) = (w.tokenizer, c.tokenizer) {
        h(
            out,
            format!(
                "data: tokenizer={name} version={} vocab_size={vocab} max_length={}",
                tok.train_version.text(),
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
            "trainer: optimizer={} lr={}{momentum} weight_decay={} batch_size={}",
            w.optimizer.display(),
            w.lr.text(),
            super::tree::plain_float(w.weight_decay),
            w.batch_size
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
    for d in &w.distractors {
        if let Distractor::Deprecation { variant } = d {
            out.line(t + 1, "WARNING", LineKind::Warning, None, DEPRECATIONS[*variant as usize]);
        }
    }
}

fn distractor_lines(out: &mut Writer, w: &World, r: &EpochRow, t: u64) {
    let e = Some(r.epoch);
    for d in &w.distractors {
        match *d {
            Distractor::WorkerRestart { epoch, pid } if epoch == r.epoch => {
                let start = out.begin(t + 2, "WARNING");
                out.s("dataloader: worker 3 (pid ");
                out.n(pid as u64);
                out.s(") exited unexpectedly with signal 9; respawning");
                out.end(start, LineKind::Warning, e);
            }
            Distractor::CheckpointRetry { epoch } if epoch == r.epoch => {
                let file = format!("checkpoints/epoch_{epoch:03}.pt");
                let start = out.begin(t + 3, "WARNING");
                out.s("checkpoint: write of ");
                out.s(&file);
                out.s(" interrupted (OSError: [Errno 5] Input/output error); retrying in 5s (attempt 2/3)");
                out.end(start, LineKind::Warning, e);
                let start = out.begin(t + 9, "INFO");
                out.s("checkpoint: saved ");
                out.s(&file);
                out.s(" on attempt 2");
                out.end(start, LineKind::Warning, e);
            }
            Distractor::SlowEpoch { epoch, factor } if epoch == r.epoch => {
                let start = out.begin(t + 1, "WARNING");
                out.s("trainer: epoch ");
                out.n(epoch as u64);
                out.s(" took ");
                out.f(r.seconds, 1);
                out.s("s, ");
                out.f(factor, 1);
                out.s("x the running mean; shared filesystem throughput dropped");
                out.end(start, LineKind::Warning, e);
            }
            _ => {}
        }
    }
}

pub fn log(w: &World) -> Log {
    log_with(w, &curves(w))
}

pub fn log_with(w: &World, rows: &[EpochRow]) -> Log {
    let mut out = Writer {
        log: Log {
            text: String::with_capacity(256 + rows.len() * 150),
            lines: Vec::with_capacity(rows.len() + 12),
        },
    };
    let mut t = w.started_at;
    header(&mut out, w, t);
    for r in rows {
        t += libm::round(r.seconds) as u64;
        epoch_line(&mut out, w, r, t);
        distractor_lines(&mut out, w, r, t);
    }
    let total: f64 = rows.iter().map(|r| r.seconds).sum();
    let (best, best_epoch) = best_val(rows);
    if let Some(halt) = w.outcome.halt_epoch {
        let start = out.begin(t + 1, "ERROR");
        out.s("trainer: non-finite loss (nan) at epoch ");
        out.n(halt as u64);
        out.s(", step ");
        out.n(halt as u64 * w.steps_per_epoch() as u64);
        out.s("; stopping training");
        out.end(start, LineKind::Error, Some(halt));
    }
    let start = out.begin(t + 2, "INFO");
    out.s("trainer: best val_acc=");
    out.f(best, 4);
    out.s(" at epoch ");
    out.n(best_epoch as u64);
    out.s("; checkpoint=");
    out.s(&w.checkpoint());
    out.end(start, LineKind::Footer, None);
    let start = out.begin(t + 2, "INFO");
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
    out.f(total, 1);
    out.s("s");
    out.end(start, LineKind::Footer, None);
    out.log
}

pub fn render(w: &World) -> String {
    log(w).text
}
