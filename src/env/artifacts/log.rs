//! train.log: header, one line per epoch, distractor warnings, errors, footer.

use crate::env::curves::{EpochRow, best_val, curves};
use crate::env::num::{fixed, log_time};
use crate::env::world::{Distractor, OptimizerKind, World};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    Header,
    Epoch,
    Warning,
    Error,
    Footer,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    pub kind: LineKind,
    /// The epoch a line belongs to (epoch lines and the warnings printed during that epoch).
    pub epoch: Option<u16>,
    pub text: String,
}

const DEPRECATIONS: [&str; 3] = [
    "UserWarning: TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the only storage class.",
    "FutureWarning: `torch.distributed.reduce_op` is deprecated, please use `torch.distributed.ReduceOp` instead",
    "DeprecationWarning: pkg_resources is deprecated as an API. See https://setuptools.pypa.io/en/latest/pkg_resources.html",
];

fn epoch_line(w: &World, r: &EpochRow) -> String {
    format!(
        "epoch {}/{} train_loss={} val_loss={} train_acc={} val_acc={} lr={} grad_norm={} time={}s",
        r.epoch,
        w.epochs,
        fixed(r.train_loss, 4),
        fixed(r.val_loss, 4),
        fixed(r.train_acc, 4),
        fixed(r.val_acc, 4),
        r.lr.text(),
        fixed(r.grad_norm, 2),
        fixed(r.seconds, 1),
    )
}

pub fn lines(w: &World) -> Vec<LogLine> {
    lines_with(w, &curves(w))
}

pub fn lines_with(w: &World, rows: &[EpochRow]) -> Vec<LogLine> {
    let c = w.config();
    let mut out = Vec::with_capacity(rows.len() + 16);
    let mut t = w.started_at;
    let push = |out: &mut Vec<LogLine>, kind, epoch, t: u64, level: &str, text: String| {
        out.push(LogLine { kind, epoch, text: format!("{} {level:<7} {text}", log_time(t)) });
    };
    let header = |text: String| (LineKind::Header, None, text);
    let mut head = vec![
        header(format!(
            "trainer: run_id={} model={} dataset={} task={}",
            w.run_id_hex(),
            c.model,
            c.dataset,
            c.task_type
        )),
        header(format!(
            "trainer: device=cuda:0 ({}) precision={} num_workers={} seed={}",
            w.gpu_name(),
            if w.bf16 { "bf16" } else { "fp32" },
            w.num_workers,
            w.train_seed
        )),
        header(format!(
            "data: samples={} splits train={} val={} test={}",
            w.n_total, w.n_train, w.n_val, w.n_test
        )),
    ];
    if let (Some(tok), Some((name, vocab))) = (w.tokenizer, c.tokenizer) {
        head.push(header(format!(
            "data: tokenizer={name} version={} vocab_size={vocab} max_length={}",
            tok.train_version.text(),
            c.input_size
        )));
    }
    let momentum = match w.optimizer {
        OptimizerKind::Sgd => format!(" momentum={}", super::tree::plain_float(w.momentum)),
        _ => String::new(),
    };
    head.push(header(format!(
        "trainer: optimizer={} lr={}{momentum} weight_decay={} batch_size={}",
        w.optimizer.display(),
        w.lr.text(),
        super::tree::plain_float(w.weight_decay),
        w.batch_size
    )));
    head.push(header(format!(
        "trainer: epochs={} steps_per_epoch={} scheduler={} warmup_steps={}",
        w.epochs,
        w.steps_per_epoch(),
        w.scheduler.name(),
        w.warmup_steps
    )));
    for (kind, epoch, text) in head {
        push(&mut out, kind, epoch, t, "INFO", text);
    }
    for d in &w.distractors {
        if let Distractor::Deprecation { variant } = d {
            push(
                &mut out,
                LineKind::Warning,
                None,
                t + 1,
                "WARNING",
                DEPRECATIONS[*variant as usize].to_string(),
            );
        }
    }

    for r in rows {
        t += libm::round(r.seconds) as u64;
        let e = Some(r.epoch);
        push(&mut out, LineKind::Epoch, e, t, "INFO", epoch_line(w, r));
        for d in &w.distractors {
            match *d {
                Distractor::WorkerRestart { epoch, pid } if epoch == r.epoch => push(
                    &mut out,
                    LineKind::Warning,
                    e,
                    t + 2,
                    "WARNING",
                    format!("dataloader: worker 3 (pid {pid}) exited unexpectedly with signal 9; respawning"),
                ),
                Distractor::CheckpointRetry { epoch } if epoch == r.epoch => {
                    push(
                        &mut out,
                        LineKind::Warning,
                        e,
                        t + 3,
                        "WARNING",
                        format!(
                            "checkpoint: write of checkpoints/epoch_{epoch:03}.pt interrupted (OSError: [Errno 5] Input/output error); retrying in 5s (attempt 2/3)"
                        ),
                    );
                    push(
                        &mut out,
                        LineKind::Warning,
                        e,
                        t + 9,
                        "INFO",
                        format!("checkpoint: saved checkpoints/epoch_{epoch:03}.pt on attempt 2"),
                    );
                }
                Distractor::SlowEpoch { epoch, factor } if epoch == r.epoch => push(
                    &mut out,
                    LineKind::Warning,
                    e,
                    t + 1,
                    "WARNING",
                    format!(
                        "trainer: epoch {epoch} took {}s, {}x the running mean; shared filesystem throughput dropped",
                        fixed(r.seconds, 1),
                        fixed(factor, 1)
                    ),
                ),
                _ => {}
            }
        }
    }

    let total: f64 = rows.iter().map(|r| r.seconds).sum();
    let (best, best_epoch) = best_val(rows);
    if let Some(halt) = w.outcome.halt_epoch {
        push(
            &mut out,
            LineKind::Error,
            Some(halt),
            t + 1,
            "ERROR",
            format!(
                "trainer: non-finite loss (nan) at epoch {halt}, step {}; stopping training",
                halt as u32 * w.steps_per_epoch()
            ),
        );
    }
    push(
        &mut out,
        LineKind::Footer,
        None,
        t + 2,
        "INFO",
        format!(
            "trainer: best val_acc={} at epoch {best_epoch}; checkpoint={}",
            fixed(best, 4),
            w.checkpoint()
        ),
    );
    let end = match w.outcome.halt_epoch {
        Some(h) => format!("trainer: training stopped after {h} epochs in {}s", fixed(total, 1)),
        None => format!("trainer: training finished after {} epochs in {}s", w.epochs, fixed(total, 1)),
    };
    push(&mut out, LineKind::Footer, None, t + 2, "INFO", end);
    out
}

pub fn join(lines: &[LogLine]) -> String {
    let mut s = String::with_capacity(lines.len() * 120);
    for l in lines {
        s.push_str(&l.text);
        s.push('\n');
    }
    s
}

pub fn render(w: &World) -> String {
    join(&lines(w))
}
