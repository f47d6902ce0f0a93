//! The one relation between a split's accuracy and its cross-entropy.
//!
//! A classifier on a split of `K` classes is described by two numbers: its
//! accuracy `a` (share of examples whose arg-max is the target) and its
//! confidence `c` (the probability it puts on its arg-max, the rest spread
//! evenly over the other `K - 1` classes). Its cross-entropy is then
//!
//! ```text
//! CE(a, c) = -a ln c - (1 - a) ln((1 - c) / m)
//! ```
//!
//! where `m` (see `spread`) is over how many classes the doubt is spread: all
//! `K - 1` at chance, the few confusable ones once the model has learnt. CE is
//! smallest when the model is calibrated (`c = a`); that minimum `H(a)` is the
//! floor of every reported loss, and it is above `(1 - a) ln 2` (a wrong
//! prediction puts at most 1/2 on the true class). At or below chance the
//! floor is `ln K` (the uniform prediction). The world draws, for
//! every split it reports, an *excess* `x >= 0` and reports `H(a) (1 + x)`;
//! the confidence that produces that loss (`c > a`, over-confident) is what the
//! faults that change evaluation re-use: a permuted label map scores the same
//! confident predictions against other targets, a drifted tokenizer lowers the
//! accuracy while the model stays as confident. docs/ENVIRONMENT.md states the
//! bands of `x` per kind of split.

/// Confidence never reaches 1 (a finite loss).
const MAX_CONFIDENCE: f64 = 1.0 - 1e-12;

fn ln(x: f64) -> f64 {
    libm::log(x)
}

/// Classes a model that has learnt something spreads its doubt over: a
/// trained model confuses a class with a few others, not with all of them.
pub const CONFUSABLE: usize = 4;

/// Over how many classes the non-arg-max mass is spread at accuracy `acc`:
/// all `K - 1` at chance, narrowing to `min(K - 1, CONFUSABLE)` as the model
/// learns (by the square of the distance still to go).
pub fn spread(acc: f64, k: usize) -> f64 {
    let kf = k as f64;
    let top = (k - 1).min(CONFUSABLE) as f64;
    let skill = ((acc - 1.0 / kf) / (1.0 - 1.0 / kf)).clamp(0.0, 1.0);
    let rest = 1.0 - skill;
    top + (kf - 1.0 - top) * rest * rest
}

/// Cross-entropy of a model with accuracy `acc` and confidence `conf` on `k` classes.
pub fn cross_entropy(acc: f64, conf: f64, k: usize) -> f64 {
    let m = spread(acc, k);
    let conf = conf.clamp(1.0 / (m + 1.0), MAX_CONFIDENCE);
    let wrong = (1.0 - conf) / m;
    -acc * ln(conf) - (1.0 - acc) * ln(wrong)
}

/// The smallest cross-entropy any model of accuracy `acc` can have (the floor `H(a)`).
pub fn floor(acc: f64, k: usize) -> f64 {
    if acc >= 1.0 {
        return 0.0;
    }
    let c = acc.max(1.0 / (spread(acc, k) + 1.0)).min(MAX_CONFIDENCE);
    cross_entropy(acc, c, k)
}

/// The loss reported for a split of accuracy `acc` whose excess over the floor is `excess`.
pub fn loss(acc: f64, k: usize, excess: f64) -> f64 {
    floor(acc, k) * (1.0 + excess)
}

/// The (over-)confidence `c >= max(acc, 1/K)` whose cross-entropy is `loss`
/// (bisection; CE rises with `c` above the calibrated point).
pub fn confidence(acc: f64, k: usize, loss: f64) -> f64 {
    let mut lo = acc.max(1.0 / (spread(acc, k) + 1.0)).min(MAX_CONFIDENCE);
    let mut hi = MAX_CONFIDENCE;
    if cross_entropy(acc, lo, k) >= loss {
        return lo;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if cross_entropy(acc, mid, k) < loss {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Accuracy when every target is replaced by another class's index (a
/// derangement of the label map): the model is right only where it was wrong
/// and happened to pick exactly the class the new target names.
pub fn permuted_accuracy(acc: f64, k: usize) -> f64 {
    (1.0 - acc) / (k as f64 - 1.0)
}

/// Cross-entropy of the same predictions (accuracy `acc`, confidence `conf`)
/// scored against deranged targets: a right prediction now puts `(1-c)/(K-1)`
/// on the target; a wrong one puts `c` on it with chance `1/(K-1)` (it picked
/// the new target) and `(1-c)/(K-1)` otherwise. The target, a class the model
/// was never asked to confuse with the true one, gets an even share of the
/// non-arg-max mass: a lower bound of the loss a real model would show.
pub fn permuted_cross_entropy(acc: f64, conf: f64, k: usize) -> f64 {
    let kf = k as f64;
    let conf = conf.clamp(1.0 / kf, MAX_CONFIDENCE);
    let other = (1.0 - conf) / (kf - 1.0);
    let hit = (1.0 - acc) / (kf - 1.0);
    -hit * ln(conf) - (1.0 - hit) * ln(other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_is_calibrated_minimum_and_above_the_half_bound() {
        for k in [2usize, 3, 4, 10, 14, 100] {
            for i in 0..=1000 {
                let a = i as f64 / 1000.0;
                let h = floor(a, k);
                assert!(h + 1e-12 >= (1.0 - a) * core::f64::consts::LN_2, "k {k} a {a} h {h}");
                for j in 0..50 {
                    let c = 1.0 / k as f64 + (1.0 - 1.0 / k as f64) * j as f64 / 50.0;
                    assert!(cross_entropy(a, c, k) + 1e-12 >= h, "k {k} a {a} c {c}");
                }
            }
            assert!((floor(1.0 / k as f64, k) - libm::log(k as f64)).abs() < 1e-12);
        }
    }

    #[test]
    fn confidence_inverts_the_loss() {
        for k in [2usize, 4, 14] {
            for a in [0.3, 0.55, 0.8, 0.93, 0.999] {
                for x in [0.0, 0.05, 0.3, 1.0] {
                    let l = loss(a, k, x);
                    let c = confidence(a, k, l);
                    assert!((cross_entropy(a, c, k) - l).abs() < 1e-6 * l, "k {k} a {a} x {x}");
                }
            }
        }
    }

    #[test]
    fn a_permuted_map_costs_more_than_chance() {
        // a confident 93% model scored against deranged targets is far above ln K
        for k in [2usize, 4, 14] {
            let c = confidence(0.93, k, loss(0.93, k, 0.1));
            assert!(permuted_cross_entropy(0.93, c, k) > 1.5 * libm::log(k as f64), "k {k}");
        }
        // binary: the permuted loss is the loss of the complementary predictions
        let (a, c) = (0.9, 0.95);
        let expected = -a * libm::log(1.0 - c) - (1.0 - a) * libm::log(c);
        assert!((permuted_cross_entropy(a, c, 2) - expected).abs() < 1e-12);
    }
}
