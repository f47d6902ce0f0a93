//! The run model's rules (issue 11, docs/ENVIRONMENT.md), each a named test
//! over the first 1,000 seeds of every task plus random u64 seeds. They read
//! the rendered artifacts, as an agent does; the world is used only for the
//! fault and for latents the rule is about.

use mlops_debug_env::env::artifacts::render;
use mlops_debug_env::env::calibration;
use mlops_debug_env::env::catalogue::*;
use mlops_debug_env::env::world::World;
use serde_json::Value;

const SEEDS_PER_TASK: u64 = 1_000;
const RANDOM_SEEDS: u64 = 300;
const LN_2: f64 = core::f64::consts::LN_2;
/// Half a unit of the 4th decimal: every rendered metric is rounded to it.
const ROUNDING: f64 = 5e-5;

/// Every (task, seed) a rule runs over: 1,000 official seeds per task and
/// random u64 seeds from a fixed-seed generator (reproducible failures).
fn episodes() -> impl Iterator<Item = (TaskId, u64)> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let random = (0..RANDOM_SEEDS).map(move |i| {
        // splitmix64
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (TaskId::ALL[(i % 3) as usize], z ^ (z >> 31))
    });
    TaskId::ALL.into_iter().flat_map(|t| (0..SEEDS_PER_TASK).map(move |s| (t, s))).chain(random)
}

fn kv<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|t| t.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

fn num(s: &str) -> f64 {
    s.trim_end_matches(['s', ';', ',']).parse().unwrap_or_else(|_| panic!("number: {s}"))
}

fn f(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        other => panic!("not a number: {other}"),
    }
}

#[derive(Debug)]
struct Epoch {
    epoch: u16,
    train_loss: f64,
    val_loss: f64,
    train_acc: f64,
    val_acc: f64,
    lr: f64,
}

fn epochs(log: &str) -> Vec<Epoch> {
    log.lines()
        .filter(|l| l.contains(" epoch ") && l.contains("train_loss="))
        .map(|l| Epoch {
            epoch: l.split(" epoch ").nth(1).unwrap().split('/').next().unwrap().parse().unwrap(),
            train_loss: num(kv(l, "train_loss").unwrap()),
            val_loss: num(kv(l, "val_loss").unwrap()),
            train_acc: num(kv(l, "train_acc").unwrap()),
            val_acc: num(kv(l, "val_acc").unwrap()),
            lr: num(kv(l, "lr").unwrap()),
        })
        .collect()
}

fn eval(w: &World) -> Value {
    serde_json::from_str(&render(w, ArtifactName::EvalResults)).unwrap()
}

/// Which band of docs/ENVIRONMENT.md a reported (accuracy, loss) pair belongs to.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Band {
    /// A model trained and scored as intended: ratio to the floor in [1, 1.5].
    Healthy,
    /// Held-out data scored by a checkpoint chosen on a view that flattered it
    /// (memorised small training split; val overlapping train): [1, 2.5].
    Overfit,
    /// An optimiser swinging every epoch: [1, 1.4].
    Unstable,
    /// A diverging run: only the floor.
    Diverging,
    /// Inputs the model was not trained on (tokenizer drift): [1, 2.5].
    Shifted,
    /// Deranged targets: the permuted loss of the checkpoint's predictions.
    Permuted,
}

impl Band {
    fn upper(self) -> f64 {
        match self {
            Band::Healthy => 1.5,
            Band::Overfit => 2.5,
            Band::Unstable => 1.4,
            Band::Shifted => 2.5,
            Band::Diverging | Band::Permuted => f64::INFINITY,
        }
    }
}

/// Every reported (accuracy, loss) pair of an episode with its band.
fn pairs(w: &World) -> Vec<(&'static str, f64, f64, Band)> {
    let log = render(w, ArtifactName::TrainLog);
    let training_band = match w.bug {
        BugKind::ExplodingLr => Band::Diverging,
        BugKind::WrongOptimizer => Band::Unstable,
        _ => Band::Healthy,
    };
    let held_out_band = match w.bug {
        BugKind::WrongSplitRatio => Band::Overfit,
        _ => training_band,
    };
    let mut out = Vec::new();
    for e in epochs(&log) {
        if e.train_loss.is_finite() {
            out.push(("log train", e.train_acc, e.train_loss, training_band));
        }
        if e.val_loss.is_finite() {
            out.push(("log val", e.val_acc, e.val_loss, held_out_band));
        }
    }
    let ev = eval(w);
    let m = &ev["metrics"];
    let (val_acc, test_acc) = (f(&m["val_accuracy"]), f(&m["test_accuracy"]));
    // The loss under a key was computed with that split's accuracy; a swap
    // moves only the accuracies, so pair each loss with the accuracy it was computed from.
    let (val_pair_acc, test_pair_acc) =
        if w.bug == BugKind::SilentMetricSwap { (test_acc, val_acc) } else { (val_acc, test_acc) };
    let eval_band = match w.bug {
        BugKind::LabelEncoderMismatch => Band::Permuted,
        BugKind::TokenizerVersionDrift => Band::Shifted,
        _ => held_out_band,
    };
    out.push(("eval val", val_pair_acc, f(&m["val_loss"]), eval_band));
    let test_band = if w.bug == BugKind::DataLeakageOverlap { Band::Overfit } else { eval_band };
    out.push(("eval test", test_pair_acc, f(&m["test_loss"]), test_band));
    out
}

#[test]
fn rule_cross_entropy_is_at_least_the_half_bound() {
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        for (what, acc, loss, _) in pairs(&w) {
            assert!(
                loss + ROUNDING >= (1.0 - acc) * LN_2,
                "{} {seed} {}: {what} loss {loss} at accuracy {acc}",
                task.as_str(),
                w.bug.as_str()
            );
        }
    }
}

#[test]
fn rule_loss_accuracy_pairs_lie_in_their_band() {
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let k = w.config().num_classes();
        for (what, acc, loss, band) in pairs(&w) {
            let ctx =
                format!("{} {seed} {}: {what} loss {loss} at accuracy {acc}", task.as_str(), w.bug.as_str());
            let floor = calibration::floor(acc, k);
            assert!(loss + ROUNDING >= floor, "{ctx}: below the floor {floor:.4}");
            assert!(
                loss - ROUNDING <= floor * band.upper(),
                "{ctx}: above {band:?} band ({floor:.4} x {})",
                band.upper()
            );
            if band == Band::Permuted {
                // The checkpoint's own predictions scored against deranged targets.
                let o = &w.outcome;
                let true_acc = if what == "eval val" { o.true_val_acc } else { o.true_test_acc };
                let expected = calibration::permuted_cross_entropy(true_acc, o.confidence, k);
                assert!((loss - expected).abs() <= ROUNDING, "{ctx}: permuted loss {expected:.4}");
                assert!(loss > libm::log(k as f64), "{ctx}: a confident model scores worse than chance");
            }
        }
    }
}

#[test]
fn rule_evaluated_checkpoint_is_logged_and_reproduced() {
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let ctx = format!("{} {seed} {}", task.as_str(), w.bug.as_str());
        let log = render(&w, ArtifactName::TrainLog);
        let ev = eval(&w);
        let checkpoint = ev["checkpoint"].as_str().unwrap();
        let epoch: u16 =
            checkpoint.trim_start_matches("checkpoints/epoch_").trim_end_matches(".pt").parse().unwrap();
        assert!(
            log.lines().any(|l| l.contains(&format!("saved {checkpoint}"))),
            "{ctx}: {checkpoint} is never saved in the log"
        );
        let rows = epochs(&log);
        let row =
            rows.iter().find(|r| r.epoch == epoch).unwrap_or_else(|| panic!("{ctx}: epoch {epoch} logged"));
        assert!(row.val_loss.is_finite(), "{ctx}: the evaluated checkpoint is finite");
        let m = &ev["metrics"];
        for key in ["val_loss", "val_accuracy", "test_loss", "test_accuracy"] {
            assert!(m[key].is_number(), "{ctx}: {key} is a number, not {}", m[key]);
        }
        // A healthy evaluation of the checkpoint reproduces its logged val
        // metrics exactly (same data, same weights, eval mode): tolerance 0.
        let (val_acc, val_loss) = (f(&m["val_accuracy"]), f(&m["val_loss"]));
        match w.bug {
            BugKind::LabelEncoderMismatch | BugKind::TokenizerVersionDrift => {
                assert!(val_acc < row.val_acc - 0.05, "{ctx}: the fault lowers eval accuracy");
                assert!(val_loss > row.val_loss, "{ctx}: and raises eval loss");
            }
            BugKind::SilentMetricSwap => {
                assert_eq!(val_loss, row.val_loss, "{ctx}: losses keep their keys");
                assert_eq!(f(&m["test_accuracy"]), row.val_acc, "{ctx}: val accuracy stored as test");
                assert!(val_acc < row.val_acc, "{ctx}");
            }
            _ => {
                assert_eq!(val_acc, row.val_acc, "{ctx}: eval val accuracy reproduces the log");
                assert_eq!(val_loss, row.val_loss, "{ctx}: eval val loss reproduces the log");
            }
        }
        // Test is scored by the same checkpoint: lower accuracy, higher loss (no swap).
        if w.bug != BugKind::SilentMetricSwap {
            let (test_acc, test_loss) = (f(&m["test_accuracy"]), f(&m["test_loss"]));
            assert!(
                test_acc <= val_acc && test_loss >= val_loss,
                "{ctx}: test {test_acc}/{test_loss} vs val"
            );
        }
    }
}

#[test]
#[ignore]
fn measure_bands() {
    let mut max: std::collections::BTreeMap<String, (f64, f64)> = Default::default();
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let k = w.config().num_classes();
        for (what, acc, loss, band) in pairs(&w) {
            let r = loss / calibration::floor(acc, k);
            let e =
                max.entry(format!("{:?} {} {what}", band, w.bug.as_str())).or_insert((f64::INFINITY, 0.0));
            e.0 = e.0.min(r);
            e.1 = e.1.max(r);
        }
    }
    for (k, v) in max {
        println!("{k}: {:.3} .. {:.3}", v.0, v.1);
    }
}

/// A log line's time in unix milliseconds (`YYYY-MM-DD HH:MM:SS,mmm`).
fn line_ms(line: &str) -> u64 {
    let iso = format!("{}T{}Z", &line[..10], &line[11..19]);
    unix(&iso) * 1000 + line[20..23].parse::<u64>().unwrap()
}

/// Unix seconds of `YYYY-MM-DDTHH:MM:SSZ` (days-from-civil).
fn unix(iso: &str) -> u64 {
    let p = |a: usize, b: usize| iso[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (p(0, 4), p(5, 7), p(8, 10));
    let (y, m) = if m <= 2 { (y - 1, m + 12) } else { (y, m) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m - 3) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + p(11, 13) * 3600 + p(14, 16) * 60 + p(17, 19)) as u64
}

#[test]
fn rule_one_timeline() {
    use mlops_debug_env::env::Episode;
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let ctx = format!("{} {seed} {}", task.as_str(), w.bug.as_str());
        let log = render(&w, ArtifactName::TrainLog);
        let times: Vec<u64> = log.lines().map(line_ms).collect();
        assert!(times.windows(2).all(|p| p[0] < p[1]), "{ctx}: log lines strictly increasing");
        let lines: Vec<&str> = log.lines().collect();
        // Durations: epoch k+1's line comes its own time= after epoch k's checkpoint.
        let epoch_at: Vec<(u64, f64)> = lines
            .iter()
            .zip(&times)
            .filter(|(l, _)| l.contains("train_loss="))
            .map(|(l, t)| (*t, num(kv(l, "time").unwrap())))
            .collect();
        let saved_at: Vec<u64> = lines
            .iter()
            .zip(&times)
            .filter(|(l, _)| l.contains("checkpoint: saved"))
            .map(|(_, t)| *t)
            .collect();
        for i in 1..epoch_at.len() {
            let gap = epoch_at[i].0 - saved_at[i - 1];
            let expected = (epoch_at[i].1 * 1000.0) as u64;
            assert!(gap.abs_diff(expected) <= 100, "{ctx}: epoch {} took {gap} ms after the save", i + 1);
        }
        // A retried checkpoint costs the back-off: save >= failure + 5 s.
        for (i, l) in lines.iter().enumerate() {
            if l.contains("retrying in 5s") {
                let saved =
                    lines[i + 1..].iter().position(|l| l.contains("checkpoint: saved")).unwrap() + i + 1;
                assert!(times[saved] >= times[i] + 5_000, "{ctx}: a retry costs its back-off");
            }
        }
        let total: f64 = epoch_at.iter().map(|e| e.1).sum();
        let footer = lines.iter().find(|l| l.contains(" epochs in ")).unwrap();
        let wall = num(footer.rsplit(' ').next().unwrap());
        assert!(wall >= total - 0.1, "{ctx}: wall time {wall} covers the epochs' {total}");
        assert!(wall <= total + 60.0 * epoch_at.len() as f64, "{ctx}: wall time {wall} vs epochs {total}");
        // Slow-epoch warnings state the ratio to the epochs before, never for epoch 1.
        for l in lines.iter().filter(|l| l.contains("x the mean of the epochs before it")) {
            let e: usize = l.split("epoch ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
            assert!(e >= 2, "{ctx}: {l}");
            let mean = epoch_at[..e - 1].iter().map(|p| p.1).sum::<f64>() / (e - 1) as f64;
            let factor = num(l.split(", ").nth(1).unwrap().split('x').next().unwrap());
            assert!((factor - epoch_at[e - 1].1 / mean).abs() <= 0.051, "{ctx}: {l}");
        }
        // Evaluation after the last epoch and after its checkpoint was written.
        let ev = eval(&w);
        let eval_ms = unix(ev["timestamp"].as_str().unwrap()) * 1000;
        assert!(eval_ms > *times.last().unwrap(), "{ctx}: evaluation after training ended");
        // Every upload time after the event its artifact records (all after the evaluation).
        let ep = Episode::new(task, seed, "t");
        let obs = serde_json::to_value(ep.reset_observation(Vec::new())).unwrap();
        for a in obs["available_artifacts"].as_array().unwrap() {
            let up = unix(a["last_modified"].as_str().unwrap()) * 1000;
            assert!(up > eval_ms, "{ctx}: {} uploaded before its run ended", a["name"]);
        }
    }
}

fn header_num(log: &str, key: &str) -> f64 {
    log.lines().filter(|l| !l.contains("train_loss=")).find_map(|l| kv(l, key)).map(num).unwrap()
}

/// The rate of optimizer step `s` under linear warmup and the configured
/// schedule (transformers' get_*_schedule_with_warmup; step = StepLR x0.1 every third of the epochs).
fn expected_lr(base: f64, scheduler: &str, warmup: u64, total: u64, epochs: u64, spe: u64, s: u64) -> f64 {
    if s < warmup {
        return base * (s + 1) as f64 / warmup as f64;
    }
    let (after, span) = ((s - warmup) as f64, (total - warmup.min(total)).max(1) as f64);
    match scheduler {
        "constant" => base,
        "linear" => base * ((span - after) / span).max(0.0),
        "cosine" => base * 0.5 * (1.0 + libm::cos(core::f64::consts::PI * (after / span).min(1.0))),
        "step" => base * libm::pow(0.1, ((s / spe) / (epochs / 3).max(1)) as f64),
        other => panic!("scheduler {other}"),
    }
}

#[test]
fn rule_schedule_warmup_and_progress() {
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let ctx = format!("{} {seed} {}", task.as_str(), w.bug.as_str());
        let log = render(&w, ArtifactName::TrainLog);
        let config = yaml_rust2::YamlLoader::load_from_str(&render(&w, ArtifactName::Config)).unwrap();
        let config = &config[0];
        let base = config["optimizer"]["learning_rate"].as_f64().unwrap();
        let scheduler = config["scheduler"]["name"].as_str().unwrap();
        let warmup = config["scheduler"]["warmup_steps"].as_i64().unwrap() as u64;
        let n_epochs = config["training"]["epochs"].as_i64().unwrap() as u64;
        let spe = header_num(&log, "steps_per_epoch") as u64;
        let total = n_epochs * spe;
        let rows = epochs(&log);
        if w.bug == BugKind::BatchSizeOverflow && warmup >= total {
            assert!(rows.iter().all(|r| r.lr < base), "{ctx}: warmup never finishes, the rate never peaks");
        } else {
            assert!(warmup < total, "{ctx}: warmup {warmup} within {total} steps");
        }
        for r in &rows {
            let expected =
                expected_lr(base, scheduler, warmup, total, n_epochs, spe, r.epoch as u64 * spe - 1);
            // the log prints two significant digits
            assert!(
                (r.lr - expected).abs() <= 0.051 * expected,
                "{ctx}: epoch {} lr {} vs {expected:.3e}",
                r.epoch,
                r.lr
            );
        }
        // Progress follows the rate: epochs run at 1/100 of the peak rate or
        // less move the training loss by at most 5% of the run's total fall
        // (an overflowing batch runs all its steps inside warmup: its whole
        // run is slow, the plateau the fault is known by).
        if !matches!(w.bug, BugKind::ExplodingLr | BugKind::WrongOptimizer | BugKind::BatchSizeOverflow) {
            let fall = rows[0].train_loss - rows.last().unwrap().train_loss;
            let slow: f64 = rows
                .windows(2)
                .filter(|p| {
                    let mid = (p[1].epoch as u64 - 1) * spe + spe / 2;
                    expected_lr(base, scheduler, warmup, total, n_epochs, spe, mid) <= base / 100.0
                })
                .map(|p| p[0].train_loss - p[1].train_loss)
                .sum();
            assert!(slow <= 0.05 * fall + 2e-4, "{ctx}: {slow} of {fall} fell at 1/100 of the rate");
        }
    }
}

#[test]
fn rule_datasets_are_the_real_ones() {
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let ctx = format!("{} {seed} {}", task.as_str(), w.bug.as_str());
        let data = w.config().data;
        let stats: Value = serde_json::from_str(&render(&w, ArtifactName::DatasetStats)).unwrap();
        let card: Value = serde_json::from_str(&render(&w, ArtifactName::ModelCard)).unwrap();
        let config = yaml_rust2::YamlLoader::load_from_str(&render(&w, ArtifactName::Config)).unwrap();
        let code = render(&w, ArtifactName::Preprocessing);
        assert_eq!(stats["dataset"], data.name, "{ctx}");
        assert_eq!(f(&stats["num_classes"]) as usize, data.classes.len(), "{ctx}");
        let card_classes: Vec<&str> =
            card["classes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        assert_eq!(card_classes, data.classes, "{ctx}: the model card lists every class");
        let n = f(&stats["num_samples"]) as u32;
        match config[0]["data"]["max_samples"].as_i64() {
            Some(max) => {
                assert_eq!(n as i64, max, "{ctx}: the subset config.yaml names");
                assert!(n < data.total(), "{ctx}: a subset is smaller than the dataset");
                assert!(code.contains("[:MAX_SAMPLES]"), "{ctx}: the code takes the subset");
            }
            None => assert_eq!(n, data.total(), "{ctx}: every labelled example of {}", data.name),
        }
        // Class totals: the splits partition the data (the overlap bug's val is a second draw).
        let [train, val, test] = &w.class_counts;
        for c in 0..data.classes.len() {
            let used = train[c] + test[c] + if w.bug == BugKind::DataLeakageOverlap { 0 } else { val[c] };
            if n == data.total() {
                assert_eq!(used, data.class_totals[c], "{ctx}: class {} total", data.classes[c]);
            } else {
                assert!(used <= data.class_totals[c], "{ctx}: class {} above the dataset's", data.classes[c]);
            }
        }
        // Split sizes are the code's own split of that total.
        let test_size: f64 =
            code.split("test_size=").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
        let hold = (test_size * n as f64).ceil() as u32;
        assert_eq!(f(&stats["splits"]["train"]) as u32, n - hold, "{ctx}: train split");
        if w.bug == BugKind::DataLeakageOverlap {
            let val_size: f64 =
                code.split("test_size=").nth(2).unwrap().split(',').next().unwrap().parse().unwrap();
            assert_eq!(f(&stats["splits"]["val"]) as u32, (val_size * n as f64).ceil() as u32, "{ctx}");
            assert_eq!(f(&stats["splits"]["test"]) as u32, hold, "{ctx}");
            // train and test partition the data: every val example overlaps one of them
            let overlap = f(&stats["overlap"]["train_val"]) + f(&stats["overlap"]["val_test"]);
            assert_eq!(overlap, f(&stats["splits"]["val"]), "{ctx}: overlap counts add up to val");
        } else {
            assert_eq!(
                f(&stats["splits"]["test"]) as u32,
                (0.5 * hold as f64).ceil() as u32,
                "{ctx}: test split"
            );
        }
        // A split without stratify= has the spread of a random draw, not exact proportions.
        let n_train = train.iter().sum::<u32>() as f64;
        if !code.contains("stratify=") && n_train >= 10_000.0 && data.classes.len() >= 4 {
            let share = |c: usize| data.class_totals[c] as f64 / data.total() as f64;
            let max_dev = (0..data.classes.len())
                .map(|c| (train[c] as f64 - n_train * share(c)).abs())
                .fold(0.0, f64::max);
            assert!(max_dev >= 2.0, "{ctx}: a random split matches proportions to {max_dev}");
        }
        if let Some(tokens) = stats.get("token_lengths") {
            let profile = data.tokens.unwrap();
            let mean = f(&tokens["train"]["mean"]);
            assert!((mean - profile.mean).abs() <= 0.05 * profile.mean, "{ctx}: token mean {mean}");
            if data.name == "imdb" {
                assert!(
                    (270.0..=330.0).contains(&mean),
                    "{ctx}: IMDB reviews average ~300 tokens, not {mean}"
                );
            }
        }
        let (lo, hi) = w.config().accuracy;
        assert!(lo >= 1.0 / data.classes.len() as f64 && hi < 1.0, "{ctx}");
    }
}

#[test]
fn rule_round_four_decimal_metrics_are_rare() {
    let (mut total, mut round) = (0u64, 0u64);
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let log = render(&w, ArtifactName::TrainLog);
        // An accuracy over fewer than 10,000 examples is a count ratio
        // (rule_accuracies_are_counts_over_their_split): 700/1000 is genuine.
        let mut values: Vec<String> = Vec::new();
        let counted = |n: u32| n >= 10_000;
        for l in log.lines().filter(|l| l.contains("train_loss=")) {
            for (key, n) in [
                ("train_loss", u32::MAX),
                ("val_loss", u32::MAX),
                ("train_acc", w.n_train),
                ("val_acc", w.n_val),
            ] {
                if counted(n) {
                    values.push(kv(l, key).unwrap().to_string());
                }
            }
        }
        let ev = eval(&w);
        for (key, n) in [
            ("val_loss", u32::MAX),
            ("val_accuracy", w.n_val.min(w.n_test)),
            ("test_loss", u32::MAX),
            ("test_accuracy", w.n_val.min(w.n_test)),
        ] {
            if counted(n) {
                values.push(mlops_debug_env::env::num::fixed(f(&ev["metrics"][key]), 4));
            }
        }
        for v in values.iter().filter(|v| v.contains('.')) {
            total += 1;
            round += u64::from(v.ends_with("00"));
        }
    }
    assert!(round * 100 <= total, "{round} of {total} four-decimal metrics end in 00");
}

#[test]
fn rule_hardware_fits_and_sets_the_pace() {
    use mlops_debug_env::env::world::gpu_speed;
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let ctx = format!("{} {seed} {}", task.as_str(), w.bug.as_str());
        let log = render(&w, ArtifactName::TrainLog);
        let config = yaml_rust2::YamlLoader::load_from_str(&render(&w, ArtifactName::Config)).unwrap();
        let training = &config[0]["training"];
        let card: Value = serde_json::from_str(&render(&w, ArtifactName::ModelCard)).unwrap();
        let gpu = log.split("device=cuda:0 (").nth(1).unwrap().split(')').next().unwrap();
        let memory_gb = match gpu {
            "NVIDIA A10G" | "NVIDIA L4" => 24.0,
            name => {
                name.split("GB").next().unwrap().rsplit(['-', ' ']).next().unwrap().parse::<f64>().unwrap()
            }
        };
        let batch = training["batch_size"].as_i64().unwrap();
        let micro = training["micro_batch_size"].as_i64().unwrap();
        let accumulation = training["gradient_accumulation_steps"].as_i64().unwrap();
        assert_eq!(micro * accumulation, batch, "{ctx}: micro-batches make up the batch");
        let bf16 = training["precision"].as_str().unwrap() == "bf16";
        let adaptive = config[0]["optimizer"]["name"].as_str().unwrap() != "sgd";
        let params = f(&card["parameters"]);
        let states = params * if adaptive { 16.0 } else { 12.0 } / 1e9;
        let act = w.config().activation_mb * if bf16 { 1.0 } else { 2.0 } / 1e3;
        assert!(
            states + act * micro as f64 + 1.5 <= 0.9 * memory_gb,
            "{ctx}: micro-batch {micro} fits {gpu}"
        );
        if micro < batch {
            assert!(
                states + act * 2.0 * micro as f64 + 1.5 > 0.9 * memory_gb,
                "{ctx}: twice {micro} would not fit"
            );
        }
        // Throughput follows the GPU and the precision (slow epochs aside).
        let n_train = header_num(&log, "train");
        let slow: Vec<u16> = log
            .lines()
            .filter(|l| l.contains("x the mean of the epochs"))
            .map(|l| l.split("epoch ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap())
            .collect();
        let gpu_index = mlops_debug_env::env::world::GPUS.iter().position(|g| *g == gpu).unwrap() as u8;
        for l in log.lines().filter(|l| l.contains("train_loss=")) {
            let epoch: u16 = l.split(" epoch ").nth(1).unwrap().split('/').next().unwrap().parse().unwrap();
            let seconds = num(kv(l, "time").unwrap());
            // (times print one decimal: short epochs carry a visible rounding share)
            if slow.contains(&epoch) || seconds < 10.0 {
                continue;
            }
            let rate = n_train / seconds / gpu_speed(gpu_index, bf16);
            let expected = w.config().throughput;
            assert!(
                (rate / expected - 1.0).abs() <= 0.12,
                "{ctx}: {rate:.0} samples/s at A100-bf16 pace vs {expected}"
            );
        }
    }
}

#[test]
fn rule_status_lines_are_borne_out() {
    use mlops_debug_env::env::Episode;
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let ctx = format!("{} {seed} {}", task.as_str(), w.bug.as_str());
        let ep = Episode::new(task, seed, "t");
        let obs = serde_json::to_value(ep.reset_observation(Vec::new())).unwrap();
        let status = obs["run_summary"]["status"].as_str().unwrap();
        let log = render(&w, ArtifactName::TrainLog);
        let ev = eval(&w);
        let val = f(&ev["metrics"]["val_accuracy"]).max(f(&ev["metrics"]["test_accuracy"]));
        if status.contains("far from what this setup usually reaches") {
            assert!(val < w.config().accuracy.0 - 0.1, "{ctx}: {status} but eval accuracy {val}");
        }
        // a run that stopped on an error did not finish or complete
        if status.contains("finished") || status.contains("completed") {
            assert!(!log.contains(" ERROR "), "{ctx}: {status} but the log has an error");
            assert!(log.contains("training finished after"), "{ctx}");
        }
        if status.contains("cleanly") {
            assert!(!log.contains(" WARNING "), "{ctx}: {status} but the log has a warning");
        }
        for claim in ["do not hold up", "fresh hold-out", "overfit", "leak"] {
            assert!(!status.contains(claim), "{ctx}: the status claims {claim:?}");
        }
    }
}

/// The framework and trainer messages an episode's log may carry, each as
/// its source prints it (PyTorch's warnings word for word; the rest the
/// trainer's own format). A line matches when it starts with one of these.
const KNOWN_MESSAGES: &[&str] = &[
    "trainer: run_id=",
    "trainer: device=cuda:0 (",
    "data: samples=",
    "data: tokenizer=",
    "trainer: optimizer=",
    "trainer: epochs=",
    "epoch ",
    "checkpoint: saved checkpoints/epoch_",
    "checkpoint: write of checkpoints/epoch_",
    "trainer: non-finite loss (nan) at epoch ",
    "trainer: best val_acc=",
    "trainer: training finished after ",
    "trainer: training stopped after ",
    // torch/storage.py
    "UserWarning: TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the only storage class. This should only matter to you if you are using storages directly.  To access UntypedStorage directly, use tensor.untyped_storage() instead of tensor.storage()",
    // torch/distributed/distributed_c10d.py
    "FutureWarning: `torch.distributed.reduce_op` is deprecated, please use `torch.distributed.ReduceOp` instead",
    // setuptools' pkg_resources
    "DeprecationWarning: pkg_resources is deprecated as an API. See https://setuptools.pypa.io/en/latest/pkg_resources.html",
    // torch/utils/data/dataloader.py, check_worker_number_rationality
    "UserWarning: This DataLoader will create ",
];

#[test]
fn rule_framework_messages_are_real() {
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let ctx = format!("{} {seed} {}", task.as_str(), w.bug.as_str());
        let log = render(&w, ArtifactName::TrainLog);
        let workers = header_num(&log, "num_workers");
        for l in log.lines() {
            let message = l[24..].split_once(' ').unwrap().1.trim_start();
            let known = KNOWN_MESSAGES.iter().any(|k| message.starts_with(k))
                || (message.starts_with("trainer: epoch ")
                    && message.contains("x the mean of the epochs before it"));
            assert!(known, "{ctx}: unknown message {message:?}");
            assert!(
                !message.contains("respawn"),
                "{ctx}: PyTorch raises on a dead worker, it does not respawn"
            );
            if let Some(rest) = message.strip_prefix("UserWarning: This DataLoader will create ") {
                let created: f64 = rest.split(' ').next().unwrap().parse().unwrap();
                assert_eq!(created, workers, "{ctx}: the warning names the configured workers");
                let suggested: f64 =
                    rest.split("system is ").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
                assert!(suggested < created, "{ctx}: PyTorch warns only above its suggestion");
            }
        }
        // [UNK] rates only under tokenizers that have an unknown token (not byte-level BPE).
        if let Some((name, _)) = w.config().tokenizer {
            for bpe in ["roberta", "gpt2", "bart", "longformer"] {
                assert!(!name.contains(bpe), "{ctx}: {name} is byte-level BPE and has no [UNK]");
            }
        }
    }
}

#[test]
fn rule_pipeline_trains_what_config_and_card_say() {
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let ctx = format!("{} {seed} {}", task.as_str(), w.bug.as_str());
        let config = yaml_rust2::YamlLoader::load_from_str(&render(&w, ArtifactName::Config)).unwrap();
        let config = &config[0];
        let code = render(&w, ArtifactName::Preprocessing);
        let card: Value = serde_json::from_str(&render(&w, ArtifactName::ModelCard)).unwrap();
        let constant = |name: &str| {
            code.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} = ")))
                .map(|v| v.trim_matches('"').to_string())
        };
        let model = config["model"]["name"].as_str().unwrap();
        assert_eq!(constant("MODEL_NAME").as_deref(), Some(model), "{ctx}: the code's model is the config's");
        assert_eq!(card["model_name"], model, "{ctx}");
        assert_eq!(card["architecture"]["class"], config["model"]["architecture"].as_str().unwrap(), "{ctx}");
        let dataset = config["data"]["dataset"].as_str().unwrap();
        assert_eq!(constant("DATA_PATH"), Some(format!("data/{dataset}")), "{ctx}");
        assert_eq!(card["dataset"], dataset, "{ctx}");
        assert_eq!(
            config["model"]["num_labels"].as_i64().unwrap() as usize,
            card["classes"].as_array().unwrap().len(),
            "{ctx}"
        );
        match w.config().modality {
            Modality::Text => {
                let max_len = config["data"]["max_seq_length"].as_i64().unwrap().to_string();
                assert_eq!(constant("MAX_LENGTH"), Some(max_len), "{ctx}");
                // a frozen encoder's embeddings feed a head; a fine-tuned model gets token ids
                let frozen = config["model"]["freeze_encoder"].as_bool().unwrap_or(false);
                assert_eq!(
                    code.contains("sentence_embeddings("),
                    frozen,
                    "{ctx}: embeddings only for a frozen encoder"
                );
                if frozen {
                    let encoder = config["model"]["encoder"].as_str().unwrap();
                    assert_eq!(constant("ENCODER_NAME").as_deref(), Some(encoder), "{ctx}");
                    assert!(
                        !config["model"]["architecture"]
                            .as_str()
                            .unwrap()
                            .ends_with("ForSequenceClassification"),
                        "{ctx}"
                    );
                } else {
                    assert!(
                        config["model"]["architecture"]
                            .as_str()
                            .unwrap()
                            .ends_with("ForSequenceClassification"),
                        "{ctx}"
                    );
                }
            }
            Modality::Image => {
                let side = config["data"]["image_size"].as_i64().unwrap() as u32;
                assert_eq!(constant("IMAGE_SIZE"), Some(side.to_string()), "{ctx}");
                let (native, channels) = w.config().data.image.unwrap();
                if native != side {
                    assert!(
                        code.contains("resize(r[\"image\"], IMAGE_SIZE)"),
                        "{ctx}: {native}px images resized to {side}"
                    );
                }
                if channels == 1 {
                    assert!(code.contains("to_rgb("), "{ctx}: grayscale images made RGB");
                }
            }
            Modality::Tabular => {
                let features = config["data"]["num_features"].as_i64().unwrap().to_string();
                assert_eq!(constant("NUM_FEATURES"), Some(features), "{ctx}");
            }
        }
    }
}

/// Whether a reported 4-decimal accuracy is k/n for an integer k.
fn is_count(acc: f64, n: u32) -> bool {
    if n >= 10_000 {
        return true;
    }
    let k = (acc * n as f64).round();
    [k - 1.0, k, k + 1.0].iter().any(|&k| k >= 0.0 && ((k / n as f64) - acc).abs() <= ROUNDING + 1e-9)
}

#[test]
fn rule_accuracies_are_counts_over_their_split() {
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let ctx = format!("{} {seed} {}", task.as_str(), w.bug.as_str());
        for e in epochs(&render(&w, ArtifactName::TrainLog)) {
            assert!(
                is_count(e.train_acc, w.n_train),
                "{ctx}: epoch {} train_acc {} of {}",
                e.epoch,
                e.train_acc,
                w.n_train
            );
            assert!(
                is_count(e.val_acc, w.n_val),
                "{ctx}: epoch {} val_acc {} of {}",
                e.epoch,
                e.val_acc,
                w.n_val
            );
        }
        let ev = eval(&w);
        let m = &ev["metrics"];
        // the swap stores each split's accuracy under the other's key
        let (nv, nt) =
            if w.bug == BugKind::SilentMetricSwap { (w.n_test, w.n_val) } else { (w.n_val, w.n_test) };
        let (va, ta) = (f(&m["val_accuracy"]), f(&m["test_accuracy"]));
        assert!(is_count(va, nv), "{ctx}: eval val_accuracy {va} of {nv}");
        assert!(is_count(ta, nt), "{ctx}: eval test_accuracy {ta} of {nt}");
    }
}

#[test]
fn rule_train_and_val_move_with_the_rate_spent() {
    let mut finals: std::collections::BTreeMap<(&str, String), u32> = Default::default();
    let mut counted: std::collections::BTreeMap<&str, u32> = Default::default();
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let ctx = format!("{} {seed} {}", task.as_str(), w.bug.as_str());
        let log = render(&w, ArtifactName::TrainLog);
        let config = yaml_rust2::YamlLoader::load_from_str(&render(&w, ArtifactName::Config)).unwrap();
        let base = config[0]["optimizer"]["learning_rate"].as_f64().unwrap();
        let rows = epochs(&log);
        for p in rows.windows(2) {
            let (a, b) = (&p[0], &p[1]);
            if !b.train_loss.is_finite() || !a.train_loss.is_finite() {
                continue;
            }
            // a running training mean never repeats to four decimals while val moves
            let frozen = a.train_loss == b.train_loss && a.train_acc == b.train_acc;
            let val_moved = a.val_loss != b.val_loss || a.val_acc != b.val_acc;
            assert!(!(frozen && val_moved), "{ctx}: epoch {} train frozen while val moves", b.epoch);
            // an epoch whose every step runs at 1/1000 of the configured rate or less barely moves anything
            if a.lr.max(b.lr) <= base * 1e-3 {
                let dv = (b.val_acc - a.val_acc).abs();
                let dl = (b.val_loss - a.val_loss).abs();
                assert!(
                    dv <= 1.0 / w.n_val as f64 + 5e-4 + ROUNDING,
                    "{ctx}: epoch {} val_acc moved {dv} at lr {}",
                    b.epoch,
                    b.lr
                );
                assert!(
                    dl <= 0.01 * a.val_loss + 1e-3,
                    "{ctx}: epoch {} val_loss moved {dl} at lr {}",
                    b.epoch,
                    b.lr
                );
                let sd = (b.train_acc * (1.0 - b.train_acc) / w.n_train as f64).sqrt();
                let dt = (b.train_acc - a.train_acc).abs();
                assert!(
                    dt <= 4.0 * sd + 1.0 / w.n_train as f64 + 5e-4,
                    "{ctx}: epoch {} train_acc moved {dt} at lr {}",
                    b.epoch,
                    b.lr
                );
                let dtl = (b.train_loss - a.train_loss).abs();
                // what the accuracy's sampling wobble explains at the same excess, and a little more
                let k = w.config().num_classes();
                let explained =
                    1.5 * (calibration::floor(b.train_acc, k) - calibration::floor(a.train_acc, k)).abs();
                assert!(
                    dtl <= 0.03 * a.train_loss + explained + 1e-3,
                    "{ctx}: epoch {} train_loss moved {dtl} at lr {}",
                    b.epoch,
                    b.lr
                );
            }
        }
        if !matches!(w.bug, BugKind::WrongSplitRatio | BugKind::ExplodingLr) {
            let last = rows.last().unwrap();
            *finals.entry((task.as_str(), format!("{:.4}", last.train_acc))).or_default() += 1;
            *counted.entry(task.as_str()).or_default() += 1;
        }
    }
    // no shared ceiling: no final training accuracy is common to many runs
    for ((task, acc), n) in &finals {
        assert!(*n as f64 <= 0.02 * counted[task] as f64, "{task}: {n} runs end at train_acc {acc}");
    }
}

#[test]
fn rule_parameters_follow_the_logged_vocabulary() {
    use mlops_debug_env::env::world::embedding_width;
    let mut vocab: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let ctx = format!("{} {seed} {}", task.as_str(), w.bug.as_str());
        let card: Value = serde_json::from_str(&render(&w, ArtifactName::ModelCard)).unwrap();
        let log = render(&w, ArtifactName::TrainLog);
        let params = card["parameters"].as_u64().unwrap();
        let c = w.config();
        let Some((name, base)) = c.tokenizer else {
            assert_eq!(params, c.parameters, "{ctx}");
            continue;
        };
        let t = &card["tokenizer"];
        let size = t["vocab_size"].as_u64().unwrap();
        let logged = log.lines().find_map(|l| kv(l, "vocab_size")).map(num).unwrap() as u64;
        assert_eq!(size, logged, "{ctx}: card and log agree on the vocabulary");
        // one embedding row per entry added to the public vocabulary (a frozen encoder's head alone is counted)
        let expected = if c.frozen_encoder {
            c.parameters
        } else {
            c.parameters + (size - base as u64) * embedding_width(name)
        };
        assert_eq!(params, expected, "{ctx}: {params} parameters at vocabulary {size}");
        // one tokenizer version, one vocabulary, in every episode
        let version = t["version"].as_str().unwrap().to_string();
        let previous = t["previous_version"].as_str().unwrap().to_string();
        let added = t["tokens_added_since_previous"].as_u64().unwrap();
        let seen = *vocab.entry((name.to_string(), version.clone())).or_insert(size);
        assert_eq!(seen, size, "{ctx}: {name} {version} has one vocabulary");
        if let Some(&before) = vocab.get(&(name.to_string(), previous.clone())) {
            assert_eq!(before + added, size, "{ctx}: {previous} + {added} = {version}");
        }
    }
}

#[test]
fn rule_uploads_are_one_batch_after_the_run() {
    use mlops_debug_env::env::Episode;
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let ctx = format!("{} {seed} {}", task.as_str(), w.bug.as_str());
        let ev = eval(&w);
        let eval_s = unix(ev["timestamp"].as_str().unwrap());
        let ep = Episode::new(task, seed, "t");
        let obs = serde_json::to_value(ep.reset_observation(Vec::new())).unwrap();
        let ups: Vec<u64> = obs["available_artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| unix(a["last_modified"].as_str().unwrap()))
            .collect();
        // one upload, in listing order, after everything the artifacts record
        assert!(ups.windows(2).all(|p| p[0] < p[1]), "{ctx}: uploads in listing order {ups:?}");
        assert!(ups[5] - ups[0] <= 30, "{ctx}: one batch {ups:?}");
        assert!(ups[0] > eval_s, "{ctx}: uploaded after the evaluation");
    }
}

/// Pooled mean and std of a dataset's pixels under the ImageNet constants
/// (published per-channel pixel statistics; grey images repeated on 3 channels).
fn imagenet_normalised(dataset: &str) -> (f64, f64) {
    let (m, s): ([f64; 3], [f64; 3]) = match dataset {
        "cifar10" => ([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]),
        "cifar100" => ([0.5071, 0.4865, 0.4409], [0.2673, 0.2564, 0.2762]),
        "fashion_mnist" => ([0.2860; 3], [0.3530; 3]),
        "mnist" => ([0.1307; 3], [0.3081; 3]),
        "stl10" => ([0.4467, 0.4398, 0.4066], [0.2603, 0.2566, 0.2713]),
        other => panic!("no pixel statistics for {other}"),
    };
    let (mean_c, std_c) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
    let mu: Vec<f64> = (0..3).map(|c| (m[c] - mean_c[c]) / std_c[c]).collect();
    let mean = mu.iter().sum::<f64>() / 3.0;
    let second = (0..3).map(|c| (s[c] / std_c[c]) * (s[c] / std_c[c]) + mu[c] * mu[c]).sum::<f64>() / 3.0;
    (mean, (second - mean * mean).sqrt())
}

#[test]
fn rule_splits_and_statistics_are_what_sampling_gives() {
    use mlops_debug_env::env::catalogue::Modality;
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let ctx = format!("{} {seed} {}", task.as_str(), w.bug.as_str());
        let code = render(&w, ArtifactName::Preprocessing);
        let stats: Value = serde_json::from_str(&render(&w, ArtifactName::DatasetStats)).unwrap();
        // a stratified 50/50 split of the hold-out: val and test within one example per class
        if code.contains("stratify=y_hold") {
            for (c, (v, t)) in w.class_counts[1].iter().zip(&w.class_counts[2]).enumerate() {
                assert!(v.abs_diff(*t) <= 1, "{ctx}: class {c} val {v} test {t}");
            }
        }
        // val drawn afresh from all rows: its overlap with train is hypergeometric
        if w.bug == BugKind::DataLeakageOverlap {
            let (n, nv, nt) = (w.n_total as f64, w.n_val as f64, w.n_train as f64);
            let p = nt / n;
            let sd = (nv * p * (1.0 - p) * (n - nv) / (n - 1.0)).sqrt();
            let tv = stats["overlap"]["train_val"].as_f64().unwrap();
            assert!((tv - nv * p).abs() <= 5.0 * sd + 1.0, "{ctx}: overlap {tv} vs {} +- {sd:.1}", nv * p);
        }
        let fs = &stats["feature_stats"];
        if fs.is_null() || w.normaliser_fitted_before_split {
            continue;
        }
        let features = match w.config().modality {
            Modality::Tabular => w.config().input_size as f64,
            Modality::Image => 4.0,
            Modality::Text => 50.0,
        };
        let fixed = code.contains("IMAGENET_MEAN");
        let (whole_mean, whole_std) =
            if fixed { imagenet_normalised(w.config().data.name) } else { (0.0, 1.0) };
        for (split, n) in [("train", w.n_train), ("val", w.n_val), ("test", w.n_test)] {
            let (mean, std) = (f(&fs[split]["mean"]), f(&fs[split]["std"]));
            if split == "train" && !fixed {
                assert_eq!((mean, std), (0.0, 1.0), "{ctx}: a scaler fitted on train gives train 0 and 1");
                continue;
            }
            let values = n as f64 * features;
            let (se_m, se_s) = (whole_std / values.sqrt(), whole_std / (2.0 * values).sqrt());
            assert!(
                (mean - whole_mean).abs() <= 5.0 * se_m + 2e-4,
                "{ctx}: {split} mean {mean} vs {whole_mean:.4}"
            );
            assert!(
                (std - whole_std).abs() <= 5.0 * se_s + 2e-4,
                "{ctx}: {split} std {std} vs {whole_std:.4}"
            );
        }
    }
}

#[test]
fn rule_config_and_messages_say_only_what_is_known() {
    for (task, seed) in episodes() {
        let w = World::generate(task, seed);
        let ctx = format!("{} {seed} {}", task.as_str(), w.bug.as_str());
        let log = render(&w, ArtifactName::TrainLog);
        let code = render(&w, ArtifactName::Preprocessing);
        let config = yaml_rust2::YamlLoader::load_from_str(&render(&w, ArtifactName::Config)).unwrap();
        let s = &config[0]["scheduler"];
        if s["name"].as_str() == Some("step") {
            // StepLR's own arguments: the log's decays follow them
            let step = s["step_size"].as_i64().unwrap() as usize;
            assert_eq!(s["gamma"].as_f64(), Some(0.1), "{ctx}");
            let rows = epochs(&log);
            let lr0 = rows[0].lr;
            for r in rows.iter().filter(|r| r.epoch as usize > 1) {
                let decays = (r.epoch as usize - 1) / step;
                let expected = lr0 * libm::pow(0.1, decays as f64);
                if s["warmup_steps"].as_i64() == Some(0) {
                    assert!(
                        (r.lr - expected).abs() <= 0.06 * expected,
                        "{ctx}: epoch {} lr {}",
                        r.epoch,
                        r.lr
                    );
                }
            }
        }
        // a trainer measures a slow epoch; it cannot know why
        assert!(!log.contains("filesystem"), "{ctx}");
        // the public datasets have no id column
        assert!(!code.contains("key=\"id\""), "{ctx}");
    }
}
