//! Per-epoch curves of the run, derived from the world and its own stream.
//! Computed on demand (the log, three checks) rather than stored, so an idle
//! episode stays small.

use super::calibration as cal;
use super::num::{Sci2, quantise};
use super::rng::{Purpose, Stream};
use super::world::{Distractor, Regime, SchedulerKind, World, one_count, snap_accuracy};

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

/// Optimizer steps of the whole run as configured.
pub fn total_steps(w: &World) -> u64 {
    w.steps_per_epoch() as u64 * w.epochs as u64
}

/// The learning rate of optimizer step `s` (0-based): linear warmup over
/// `warmup_steps` (the rate of step s is base x (s+1)/warmup), then the
/// schedule over the remaining steps as transformers' `get_*_schedule_with_warmup`
/// computes it; `step` decays by 10x every third of the epochs (torch StepLR).
pub fn lr_at_step(w: &World, s: u64) -> f64 {
    let base = w.lr.value();
    let warmup = w.warmup_steps as u64;
    let total = total_steps(w);
    if s < warmup {
        return base * (s + 1) as f64 / warmup as f64;
    }
    let after = (s - warmup) as f64;
    let span = (total.saturating_sub(warmup)).max(1) as f64;
    match w.scheduler {
        SchedulerKind::Constant => base,
        SchedulerKind::Linear => base * ((span - after) / span).max(0.0),
        SchedulerKind::Cosine => {
            base * 0.5 * (1.0 + libm::cos(core::f64::consts::PI * (after / span).min(1.0)))
        }
        SchedulerKind::Step => {
            let step_epochs = step_size_epochs(w) as u64;
            let epoch = s / w.steps_per_epoch() as u64;
            let mut lr = base;
            for _ in 0..(epoch / step_epochs) {
                lr *= 0.1;
            }
            lr
        }
    }
}

/// Epochs between two 10x decays of the `step` scheduler (config.yaml's step_size).
pub fn step_size_epochs(w: &World) -> u16 {
    (w.epochs / 3).max(1)
}

/// The rate the log prints for epoch `e` (1-based): that of the epoch's last step.
fn logged_lr(w: &World, e: u16) -> Sci2 {
    Sci2::from_f64(lr_at_step(w, e as u64 * w.steps_per_epoch() as u64 - 1))
}

/// Mean learning rate over epoch `e`'s steps (16 evenly spaced samples).
fn mean_lr(w: &World, e: u16) -> f64 {
    let spe = w.steps_per_epoch() as u64;
    let first = (e as u64 - 1) * spe;
    let samples = spe.min(16);
    (0..samples).map(|i| lr_at_step(w, first + (2 * i + 1) * spe / (2 * samples))).sum::<f64>()
        / samples as f64
}

/// Progress of optimisation by the end of each epoch, 0 after epoch 1 and 1
/// after the last: the share of the learning rate spent since epoch 1, so a
/// run whose rate decays 1000x stops moving, and a run still warming up moves slowly.
fn progress(w: &World, n: usize) -> Vec<f64> {
    let mut spent = Vec::with_capacity(n);
    let mut total = 0.0;
    for e in 1..=n {
        if e > 1 {
            total += mean_lr(w, e as u16);
        }
        spent.push(total);
    }
    spent.iter().map(|s| if total > 0.0 { s / total } else { 0.0 }).collect()
}

/// The rows the log reports: epochs 1..=final_epoch.
pub fn curves(w: &World) -> Vec<EpochRow> {
    let mut c = Stream::new(w.task, w.seed, Purpose::Curves);
    let o = &w.outcome;
    let k = w.config().num_classes();
    let last = w.final_epoch();
    let n = last as usize;
    let best = o.best_epoch.min(last) as usize;
    let t = progress(w, n);
    let lerp = |a: f64, b: f64, f: f64| a + (b - a) * f;

    let (n_train, n_val) = (w.n_train, w.n_val);
    let snap_t = |x: f64| snap_accuracy(x, n_train);
    let snap_v = |x: f64| snap_accuracy(x, n_val);
    // How far the weights moved in each epoch, as a share of an average
    // epoch's move (1 for the first): noise that is not sampling noise scales with it.
    let moved: Vec<f64> = (0..n)
        .map(|i| if i == 0 || n < 2 { 1.0 } else { ((t[i] - t[i - 1]) * (n - 1) as f64).min(1.0) })
        .collect();

    // Training accuracy and loss: one point of the calibration relation per epoch.
    let mut train_acc = vec![0.0; n];
    let mut train_loss = vec![0.0; n];
    match o.regime {
        Regime::Diverging => {
            let mut l = o.first_train_loss;
            for i in 0..n {
                train_acc[i] = snap_t(lerp(o.first_train_acc, o.final_train_acc, c.uniform(0.0, 1.0)));
                train_loss[i] = if i + 1 == n { f64::NAN } else { q4(l) };
                l *= c.uniform(2.0, 5.0);
            }
        }
        Regime::Oscillating => {
            // Momentum 0.99+ overshoots: accuracy and confidence swing against each other every epoch.
            let (lo_acc, hi_acc) = (o.first_train_acc, o.final_train_acc.max(o.first_train_acc + 0.004));
            for i in 0..n {
                let amp = c.uniform(0.08, 0.15);
                let x = o.train_excess.0;
                // at a negligible rate the swing shrinks with the steps: one
                // example either way, the loss still turning every epoch
                if i > 0 && moved[i] < 0.05 {
                    let step = one_count(n_train).max(1e-4);
                    let (prev_acc, prev_loss) = (train_acc[i - 1], train_loss[i - 1]);
                    let acc = snap_t(if i % 2 == 1 { prev_acc + step } else { prev_acc - step });
                    let l = q4(prev_loss * cal::floor(acc, k) / cal::floor(prev_acc, k));
                    train_acc[i] = acc;
                    train_loss[i] =
                        q4(if i % 2 == 1 { l.min(prev_loss - 1e-4) } else { l.max(prev_loss + 1e-4) });
                    continue;
                }
                let (acc, excess) = if i == 0 {
                    (o.first_train_acc, x + 0.5 * amp)
                } else if i % 2 == 1 {
                    (lerp(lo_acc, hi_acc, c.uniform(0.6, 1.0)), x * c.uniform(0.0, 0.5))
                } else {
                    (lerp(lo_acc, hi_acc, c.uniform(0.0, 0.4)), x + amp)
                };
                train_acc[i] = snap_t(acc);
                train_loss[i] = q4(cal::loss(train_acc[i], k, excess));
            }
        }
        Regime::Plateau => {
            // One optimizer step an epoch: the loss falls a little every epoch, never stays put.
            for i in 0..n {
                let f = ease_out(t[i]);
                train_acc[i] = snap_t(lerp(o.first_train_acc, o.final_train_acc, f));
                let excess = lerp(o.train_excess.0, o.train_excess.1, f);
                let l = q4(cal::loss(train_acc[i], k, excess));
                train_loss[i] = if i > 0 { l.min(train_loss[i - 1]) } else { l };
                if i > 0 && train_loss[i] == train_loss[i - 1] && train_acc[i] == train_acc[i - 1] {
                    train_acc[i] = snap_t(train_acc[i] + one_count(n_train).max(1e-4));
                    train_loss[i] = q4(cal::loss(train_acc[i], k, excess)).min(train_loss[i - 1]);
                }
            }
        }
        _ => {
            // The epoch mean of a running loss moves with the sampling of the
            // epoch (shuffling, dropout) even when the weights barely do.
            for i in 0..n {
                let f = ease_out(t[i]);
                let trend = lerp(o.first_train_acc, o.final_train_acc, f);
                let sd = 0.25 * libm::sqrt(trend * (1.0 - trend) / n_train.max(1) as f64);
                let noise = if i == 0 { 0.0 } else { sd * c.normal() };
                let top = (1.0 - one_count(n_train)).min(0.9999);
                train_acc[i] = snap_t((trend + noise).min(top));
                let excess = lerp(o.train_excess.0, o.train_excess.1, f);
                train_loss[i] = q4(cal::loss(train_acc[i], k, excess));
            }
        }
    }

    let best_t = t[best - 1];
    // How far val falls back from its best over the rest of the run's rate.
    let val_drop = c.uniform(0.001, 0.01);
    let mut rows = Vec::with_capacity(n);
    let mut prev_val: Option<(f64, f64)> = None;
    for i in 0..n {
        let e = i + 1;
        // Val accuracy rises to its peak at the best epoch and falls back a
        // little after it, by as much as the rate spent since allows.
        let below_best = o.best_val_acc - one_count(n_val).max(1e-4);
        let val_acc = if e == best {
            o.best_val_acc
        } else if e < best {
            let tb = if best == 1 || best_t <= 0.0 { 1.0 } else { t[i] / best_t };
            let v = o.first_val_acc + (o.best_val_acc - o.first_val_acc) * ease_out(tb.min(1.0));
            let v = match o.regime {
                Regime::Oscillating => v - c.uniform(0.0005, 0.03) * moved[i],
                Regime::Diverging => v - c.uniform(0.0005, 0.03),
                // one small step an epoch: no wobble beyond the trend
                Regime::Plateau => v,
                _ => v + c.uniform(-0.004, 0.002) * moved[i],
            };
            snap_v(v.min(below_best).max(0.0)).min(snap_v(below_best))
        } else {
            // in units of an average epoch's share of the rate
            let after = ((t[i] - best_t) * (n - 1).max(1) as f64).clamp(0.0, 1.0);
            snap_v((o.best_val_acc - val_drop * after).max(0.0))
        };
        let train_l = train_loss[i];
        let val_loss = if !train_l.is_finite() {
            f64::NAN
        } else if e == best {
            o.best_val_loss
        } else if o.regime == Regime::Diverging {
            q4(train_l.max(cal::floor(val_acc, k)) * c.uniform(1.0, 1.3))
        } else {
            // Confidence keeps growing with training: the excess rises with
            // the rate spent (noisy when the optimiser swings), so the
            // lowest-loss epoch need not be the best-accuracy one.
            let mut excess = o.val_excess + o.val_excess_slope * (n - 1) as f64 * (t[i] - best_t);
            if o.regime == Regime::Oscillating {
                excess += c.uniform(0.0, 0.1) * moved[i];
            }
            q4(cal::loss(val_acc, k, excess.max(0.01)))
        };
        // A running training mean cannot repeat to four decimals while the
        // weights move enough to change val: one more correct example.
        if i > 0
            && o.regime != Regime::Diverging
            && train_acc[i] == train_acc[i - 1]
            && train_loss[i] == train_loss[i - 1]
            && prev_val != Some((val_acc, val_loss))
        {
            let step = one_count(n_train).max(1e-4);
            let up = snap_t(train_acc[i] + step);
            // (at the top, one fewer)
            let up = if up < 1.0 { up } else { snap_t(train_acc[i] - step) };
            {
                // same excess over the floor as before, at one more correct example
                train_loss[i] = q4(train_loss[i] * cal::floor(up, k) / cal::floor(train_acc[i], k));
                train_acc[i] = up;
            }
        }
        prev_val = Some((val_acc, val_loss));
        let train_l = train_loss[i];
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
            train_acc: train_acc[i],
            val_acc,
            lr: logged_lr(w, e as u16),
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
