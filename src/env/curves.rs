//! Per-epoch curves of the run, derived from the world and its own stream.
//! Computed on demand (the log, three checks) rather than stored, so an idle
//! episode stays small.

use super::num::{Sci2, quantise};
use super::rng::{Purpose, Stream};
use super::world::{Distractor, Regime, SchedulerKind, World};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochRow {
    pub epoch: u16,
    pub train_loss: f64,
    pub val_loss: f64,
    pub train_acc: f64,
    pub val_acc: f64,
    pub lr: Sci2,
    /// Two decimals; infinite at the halting epoch of a diverging run.
    pub grad_norm: f64,
    pub seconds: f64,
}

fn q4(x: f64) -> f64 {
    quantise(x, 4)
}

/// 0 at t = 0 rising to 1 at t = 1, fast at first: how training curves flatten out.
fn ease_out(t: f64) -> f64 {
    let u = 1.0 - t;
    1.0 - u * u
}

/// Learning rate at the end of epoch `e` of `epochs` under the schedule.
fn scheduled_lr(w: &World, e: u16) -> Sci2 {
    let base = w.lr.value();
    let frac = e as f64 / w.epochs as f64;
    let lr = match w.scheduler {
        SchedulerKind::Constant => base,
        SchedulerKind::Linear => base * (1.0 - frac),
        SchedulerKind::Cosine => base * 0.5 * (1.0 + libm::cos(core::f64::consts::PI * frac)),
        SchedulerKind::Step => {
            let step = (w.epochs / 3).max(1);
            let mut lr = base;
            for _ in 0..(e / step) {
                lr *= 0.1;
            }
            lr
        }
    };
    Sci2::from_f64(lr)
}

/// The rows the log reports: epochs 1..=final_epoch.
pub fn curves(w: &World) -> Vec<EpochRow> {
    let mut c = Stream::new(w.task, w.seed, Purpose::Curves);
    let o = &w.outcome;
    let last = w.final_epoch();
    let n = last as usize;
    let mut rows = Vec::with_capacity(n);

    // Training loss.
    let mut train_loss = vec![0.0; n];
    match o.regime {
        Regime::Diverging => {
            let mut l = o.first_train_loss;
            for (i, slot) in train_loss.iter_mut().enumerate() {
                *slot = if i + 1 == n { f64::NAN } else { q4(l) };
                l *= c.uniform(2.0, 5.0);
            }
        }
        Regime::Oscillating => {
            let base = o.first_train_loss / (1.0 + c.uniform(0.08, 0.15));
            for (i, slot) in train_loss.iter_mut().enumerate() {
                let amp = c.uniform(0.08, 0.15);
                *slot = if i == 0 {
                    o.first_train_loss
                } else if i % 2 == 1 {
                    q4(base * (1.0 - amp))
                } else {
                    q4(base * (1.0 + amp))
                };
            }
        }
        _ => {
            // Geometric interpolation with noise, strictly decreasing, ending on target.
            let ln_ratio = libm::log(o.final_train_loss / o.first_train_loss);
            let mut prev = f64::INFINITY;
            for (i, slot) in train_loss.iter_mut().enumerate() {
                let t = if n == 1 { 1.0 } else { i as f64 / (n - 1) as f64 };
                let shaped = ease_out(t);
                let mut l = o.first_train_loss * libm::exp(ln_ratio * shaped);
                if i > 0 && i + 1 < n {
                    l *= c.uniform(0.985, 1.015);
                }
                if i + 1 == n {
                    l = o.final_train_loss;
                }
                let l = q4(q4(l).min(prev - 0.0001));
                *slot = l;
                prev = l;
            }
            train_loss[n - 1] = train_loss[n - 1].max(0.0001);
        }
    }

    // Accuracies: rise to their targets; val peaks exactly at the best epoch.
    let best = o.best_epoch.min(last) as usize;
    for i in 0..n {
        let e = i + 1;
        let t = if n == 1 { 1.0 } else { i as f64 / (n - 1) as f64 };
        let train_acc = if o.regime == Regime::Oscillating || o.regime == Regime::Diverging {
            q4(o.first_train_acc + (o.final_train_acc - o.first_train_acc) * c.uniform(0.0, 1.0))
        } else {
            q4(o.first_train_acc + (o.final_train_acc - o.first_train_acc) * ease_out(t))
        };
        let val_acc = if e == best {
            o.best_val_acc
        } else if e < best {
            let tb = if best == 1 { 1.0 } else { i as f64 / (best - 1) as f64 };
            let v = o.first_val_acc + (o.best_val_acc - o.first_val_acc) * ease_out(tb);
            let v = match o.regime {
                Regime::Oscillating | Regime::Diverging => v - c.uniform(0.0005, 0.03),
                _ => v + c.uniform(-0.004, 0.002),
            };
            q4(v.min(o.best_val_acc - 0.0005).max(0.0))
        } else {
            q4((o.best_val_acc - c.uniform(0.0005, 0.01)).max(0.0))
        };
        let train_l = train_loss[i];
        let val_loss = if !train_l.is_finite() {
            f64::NAN
        } else if e == best {
            o.best_val_loss
        } else if e < best && train_loss[best - 1].is_finite() {
            // Before the best epoch val loss falls with the training loss.
            let excess = (train_l - train_loss[best - 1]).max(0.0);
            q4(o.best_val_loss + excess * c.uniform(0.8, 1.0) + c.uniform(0.0005, 0.01))
        } else {
            let distance = (e as f64 - best as f64).abs();
            q4(o.best_val_loss * (1.0 + distance * c.uniform(0.01, 0.04)))
        };
        let grad_norm = match o.regime {
            Regime::Diverging if e == n => f64::INFINITY,
            Regime::Diverging => {
                let mut g = o.grad_norm_start;
                for _ in 1..e {
                    g *= 5.0;
                }
                quantise(g * c.uniform(0.8, 1.2), 2)
            }
            Regime::Oscillating => quantise(o.grad_norm_start * c.uniform(0.9, 1.6), 2),
            _ => {
                let mut g = o.grad_norm_start;
                for _ in 1..e {
                    g *= 0.97;
                }
                quantise(g * c.uniform(0.85, 1.15), 2)
            }
        };
        let slow = w
            .distractors
            .iter()
            .find_map(|d| match *d {
                Distractor::SlowEpoch { epoch, factor } if epoch as usize == e => Some(factor),
                _ => None,
            })
            .unwrap_or(1.0);
        let seconds = quantise(w.epoch_seconds * c.uniform(0.97, 1.03) * slow, 1);
        rows.push(EpochRow {
            epoch: e as u16,
            train_loss: train_l,
            val_loss,
            train_acc,
            val_acc,
            lr: scheduled_lr(w, e as u16),
            grad_norm,
            seconds,
        });
    }
    rows
}

/// The log's best val accuracy and its epoch.
pub fn best_val(rows: &[EpochRow]) -> (f64, u16) {
    rows.iter().fold(
        (f64::NEG_INFINITY, 0),
        |(best, at), r| {
            if r.val_acc > best { (r.val_acc, r.epoch) } else { (best, at) }
        },
    )
}
