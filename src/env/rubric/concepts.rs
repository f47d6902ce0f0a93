//! The concepts of each bug's right fix, as detectors over the analysed text.
//! A detector answers whether the fix asserts the concept, and whether it does
//! so distinctively (a direction, a verb) or only generically (a healthy value
//! that any configuration might restate): only distinctive matches count when
//! deciding whether a fix also proposes another fault's fix.

use super::text::{Kind, Lex, Sentence, Span, word_matches};
use crate::env::catalogue::BugKind;
use crate::env::world::{MAX_HEALTHY_MOMENTUM, MIN_HEALTHY_LR, World};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Strength {
    Generic,
    Distinctive,
}

/// A concept of a fix rubric: its id (shown in the breakdown) and its detector.
pub(crate) struct Concept {
    pub id: &'static str,
    pub detect: fn(&Fix, &World) -> Option<Strength>,
}

/// The analysed fix.
pub(crate) struct Fix {
    pub sentences: Vec<Sentence>,
}

impl Fix {
    /// Each sentence with the one before it (for "Drop it to 3e-4" after a sentence naming the rate).
    fn pairs(&self) -> impl Iterator<Item = (Option<&Sentence>, &Sentence)> {
        self.sentences.iter().enumerate().map(|(i, s)| (i.checked_sub(1).map(|p| &self.sentences[p]), s))
    }
}

// ---- word classes -------------------------------------------------------------

const LR: Lex = &["learning rate", "learning_rate", "lr", "learningrate", "step size"];
const DOWN: Lex = &[
    "lower",
    "lowers",
    "lowered",
    "lowering",
    "decreas*",
    "reduc*",
    "drop",
    "drops",
    "dropped",
    "dropping",
    "cut",
    "cuts",
    "cutting",
    "smaller",
    "shrink*",
    "divid*",
    "less",
    "down",
    "halve",
    "halving",
    "downscal*",
];
const UP: Lex = &[
    "increas*", "raise", "raises", "raised", "raising", "bump*", "double", "doubling", "triple", "boost*",
    "higher", "larger", "bigger", "up to", "up by", "twice", "grow*", "maximiz*",
];
const MOMENTUM: Lex = &["momentum", "momentum_coefficient", "beta1"];
/// An optimizer named or configured in the sentence.
const OPTIMIZER_SPEC: Lex = &["adam*", "sgd", "rmsprop", "adagrad", "optimizer", "momentum"];
const ADAPTIVE: Lex = &["adam*", "adagrad", "adadelta", "rmsprop", "adafactor", "lamb", "nadam", "radam"];
const SWITCH: Lex =
    &["switch*", "replac*", "use", "using", "chang*", "swap*", "migrat*", "move to", "go with"];
const BATCH: Lex = &["batch size", "batch_size", "batchsize", "bs", "minibatch*", "batch", "batches"];
const NORMALISER: Lex = &[
    "*scaler",
    "*normalizer",
    "normaliz*",
    "standardiz*",
    "scaling",
    "statistics",
    "stats",
    "mean",
    "std",
    "mean_",
    "scale_",
    "fit_transform",
];
/// Statistics of the training split, named as such.
const TRAIN_STATS: Lex = &[
    "training set statistics",
    "training statistics",
    "train statistics",
    "training split statistics",
    "training stats",
    "train stats",
    "statistics of the training",
    "statistics from the training",
];
const FIT: Lex = &[
    "fit",
    "fits",
    "fitted",
    "fitting",
    "fit_transform",
    "refit*",
    "comput*",
    "estimat*",
    "calculat*",
    "learn",
    "learned",
    "deriv*",
];
const TRAIN_SIDE: Lex =
    &["train", "training", "trained", "x_train*", "x_tr", "xtr", "train_*", "trainset", "tr"];
const VAL_SIDE: Lex = &[
    "val",
    "validation",
    "valid",
    "x_val*",
    "x_va",
    "dev",
    "eval",
    "evaluation",
    "heldout",
    "holdout",
    "held",
];
const TEST_SIDE: Lex = &["test", "testing", "x_test*", "x_te"];
const ALL_SIDE: Lex =
    &["all", "whole", "full", "entire", "combined", "everything", "x", "dataset", "data", "both", "every"];
const AFTER_SPLIT: Lex = &[
    "after the split",
    "after splitting",
    "after train_test_split",
    "split first",
    "post split",
    "below the split",
    "split before scaling",
    "before scaling",
    "split the data before",
    "before normaliz*",
    "before fitting",
    "split before normaliz*",
];
const SPLIT: Lex =
    &["split", "splits", "splitting", "train_test_split", "partition*", "permutation", "call", "calls"];
/// Said of the split itself ("do it exactly once"), in a clause about splitting.
/// Seeding words: "set the seed once" is no single split.
const SEED: Lex = &["seed", "seeds", "seeded", "random_state", "random state"];
const ONCE: Lex = &["once", "one time", "single time", "a single call"];
/// Said next to a split word ("one split", "single train_test_split", "merge the two split calls").
const ONE: Lex = &["single", "one"];
const DISJOINT: Lex = &["disjoint", "mutually exclusive", "exactly one of"];
/// Negated, these say the splits are disjoint: "no overlap", "never appear in training".
const OVERLAP: Lex = &[
    "overlap*",
    "intersect*",
    "duplicat*",
    "appear*",
    "show up",
    "shows up",
    "end up",
    "leak*",
    "contaminat*",
    "shared",
    "in common",
];
const ROWS: Lex =
    &["sample*", "row*", "example*", "record*", "ids", "instance*", "indices", "split*", "train_test_split"];
const REMAINDER: Lex = &[
    "remainder",
    "rest",
    "remaining",
    "leftover",
    "x_hold",
    "heldout part",
    "heldout portion",
    "heldout rows",
    "heldout data",
    "heldout set",
    "holdout part",
    "holdout portion",
    "holdout rows",
    "holdout data",
    "holdout set",
];
const DRAW: Lex = &["split", "draw*", "take", "carv*", "from", "sampl*"];
const HOLDOUT: Lex = &[
    "test_size",
    "test size",
    "testsize",
    "heldout",
    "holdout",
    "hold out",
    "held out",
    "holds out",
    "reserv*",
    "test split",
    "test set",
    "val_size",
    "validation_size",
    "valid_size",
    "test fraction",
    "eval split",
    "test on",
    "tests on",
    "evaluate on",
    "for test",
    "for testing",
    "for evaluation",
    "for validation",
];
const TRAIN_SHARE: Lex = &[
    "train_size",
    "train size",
    "train on",
    "trains on",
    "training on",
    "for training",
    "used for training",
    "training share",
    "training fraction",
    "train share",
    "train fraction",
];
const MAJORITY: Lex = &["majority", "most of the data", "most of the rows", "bulk of"];
const LABELS: Lex = &[
    "label encoder",
    "labelencoder",
    "*encoder",
    "le",
    "*_le",
    "label mapping",
    "mapping",
    "label map",
    "label_map",
    "label2id",
    "id2label",
    "classes_",
    "class order",
    "class indices",
    "class index",
    "label indices",
    "label_to_index",
    "class_index",
    "label vocabulary",
    "class_to_idx",
    "dict",
    "lookup",
];
const REUSE: Lex = &[
    "reus*",
    "same",
    "share*",
    "persist*",
    "save",
    "saved",
    "saving",
    "serializ*",
    "pickl*",
    "dump*",
    "load*",
    "restor*",
    "identical",
    "verbatim",
    "use",
    "uses",
    "using",
    "used",
    "keep",
    "read",
    "consistent",
    "from",
];
const LOADED: Lex = &["load*", "joblib", "unpickl*", "restor*", "np load"];
const REFIT: Lex = &["refit*", "fresh", "new", "another", "second", "rebuild*"];
const CLASSES_USE: Lex = &["enumerate", "from", "build*", "deriv*", "set", "use*", "list", "reus*", "load*"];
const METRIC_KEYS: Lex = &["val_accuracy", "test_accuracy"];
const METRIC: Lex = &[
    "val_accuracy",
    "test_accuracy",
    "metric*",
    "accurac*",
    "key",
    "keys",
    "assignment*",
    "field*",
    "score*",
];
const SWAP: Lex = &["swap*", "unswap*", "exchang*", "flip*", "interchang*", "revers*", "undo*", "revert*"];
const BACK: Lex = &["back", "unswap*", "undo*", "revert*", "the two", "both", "vice versa", "around"];
const OWN_KEY: Lex = &[
    "own key",
    "own keys",
    "own name",
    "proper key",
    "proper name",
    "proper keys",
    "correct key",
    "correct keys",
    "correct name",
    "right key",
    "right keys",
    "right name",
    "matching key",
    "matching keys",
    "respective key",
    "respective keys",
    "own field",
    "correct field",
    "proper field",
];
const REPAIR: Lex = &["fix*", "correct*", "undo*", "repair*", "rekey", "re key", "restor*"];
const KEYING: Lex = &["key", "keys", "mapping", "assignment*", "names"];
const TOKENIZER: Lex = &[
    "tokenizer*",
    "tokeniz*",
    "autotokenizer",
    "tokenizer_version",
    "*_tokenizer",
    "vocab",
    "vocabulary",
    "vocabularies",
];
/// The training tokenizer named as such ("call load_training_tokenizer()").
const TRAINING_TOKENIZER: Lex = &["load_training_tokenizer", "training_tokenizer", "train_tokenizer"];
const SAME_VERSION: Lex = &[
    "same",
    "identical",
    "match*",
    "consistent",
    "exact*",
    "align*",
    "reus*",
    "share*",
    "single",
    "one version",
    "standardiz*",
];
const TRAINING_ONE: Lex = &[
    "use",
    "uses",
    "used",
    "using",
    "load*",
    "saved",
    "save",
    "sav*",
    "from_pretrained",
    "switch*",
    "upgrad*",
    "pin*",
    "pass",
    "chang*",
    "set",
    "passing",
    "hand",
];
const UPGRADE: Lex = &["upgrad*", "newer", "bump*"];
const DOWNGRADE: Lex = &["downgrad*", "older", "old", "previous", "earlier", "roll*", "revert*", "shrink*"];
const EVAL_SIDE: Lex = &["eval*", "test*", "scoring*", "inference", "evaluat*"];

// ---- helpers ------------------------------------------------------------------

fn clause_of(s: &Sentence, span: Span) -> u32 {
    s.tokens[span.start].clause
}

/// The subject is named in this sentence, or in the one before.
fn about(prev: Option<&Sentence>, s: &Sentence, subject: Lex) -> bool {
    s.mentions(subject) || prev.is_some_and(|p| p.mentions(subject))
}

/// An opposite direction asserted before token `at` in its clause: "raise
/// it to 450" counts against the value, "to 1e-3 for higher stability" not.
fn opposed(s: &Sentence, at: usize, opposite: Lex) -> bool {
    let c = s.tokens[at].clause;
    s.asserted(opposite).iter().any(|o| clause_of(s, *o) == c && o.start < at)
}

/// A direction word asserted in a clause that names the subject, or that
/// refers back to it ("drop it to ..."), not preceded there by the opposite.
fn direction(prev: Option<&Sentence>, s: &Sentence, subject: Lex, dir: Lex, opposite: Lex) -> bool {
    s.asserted(dir).into_iter().any(|d| {
        let c = clause_of(s, d);
        let names = s.spans(subject).iter().any(|x| clause_of(s, *x) == c);
        let refers =
            s.tokens.iter().any(|t| t.clause == c && matches!(t.word(), Some("it" | "this" | "that")))
                && (s.spans(subject).iter().any(|x| x.start < d.start)
                    || prev.is_some_and(|p| p.mentions(subject)));
        (names || refers) && !opposed(s, d.start, opposite) && !s.clause_has(c, TOO_LITTLE)
    })
}

/// A change too small for a setting that is orders of magnitude off.
const TOO_LITTLE: Lex = &[
    "slightly",
    "a bit",
    "a little",
    "somewhat",
    "marginally",
    "halve",
    "halving",
    "by half",
    "in half",
    "a notch",
];

/// Words after a number that make it a count of something else ("30 epochs").
const UNITS: Lex = &[
    "epoch*",
    "step*",
    "iteration*",
    "minute*",
    "second*",
    "hour*",
    "gb",
    "gib",
    "mb",
    "layer*",
    "worker*",
    "gpu*",
    "times",
    "x",
    "warmup",
];

/// Proposed numbers of the sentence that are a setting's value (not a count
/// of epochs, steps, ...), outside an opposite direction before them.
fn numbers<'a>(s: &'a Sentence, opposite: Lex) -> impl Iterator<Item = (usize, f64)> + 'a {
    s.proposed_numbers().filter(move |(i, _)| {
        let unit = s
            .tokens
            .get(i + 1)
            .and_then(|t| t.word())
            .is_some_and(|w| UNITS.iter().any(|u| word_matches(u, w)));
        // "divide it by 10,000": a factor, not the value
        let factor = *i > 0 && s.tokens[i - 1].word() == Some("by");
        !unit && !factor && !opposed(s, *i, opposite)
    })
}

/// Names of settings other than the rubric subjects: a value after one of
/// them belongs to it ("weight_decay 5e-4" is no learning rate).
const OTHER_SETTINGS: Lex = &[
    "weight_decay",
    "weight decay",
    "decay",
    "warmup*",
    "dropout",
    "epoch*",
    "nesterov",
    "beta*",
    "eps",
    "epsilon",
    "max_length",
    "max_seq_length",
    "num_workers",
    "workers",
    "seed",
    "random_state",
    "step_size",
    "gamma",
    "label_smoothing",
    "clip*",
    "max_norm",
    "patience",
    "accuracy",
    "acc",
    "loss",
    "val_acc",
    "val_loss",
    "test_size",
    "micro_batch_size",
    "gradient_accumulation_steps",
    "steps",
];

/// Verbs that propose a value for what follows them in their segment.
const PROPOSING: Lex = &[
    "set",
    "sets",
    "setting",
    "use",
    "using",
    "change",
    "switch",
    "lower",
    "reduce",
    "decrease",
    "increase",
    "raise",
    "pick",
    "choose",
    "try",
    "make",
    "drop",
    "cut",
    "bring",
    "adjust",
    "configure",
    "go",
    "replace",
    "move",
    "bump",
    "shrink",
    "start",
];

/// Whether the value at `at` is bound to `subject`: the nearest setting name
/// before it in the sentence is the subject's, or none precedes it and the
/// subject follows in its clause or was the previous sentence's.
fn bound(prev: Option<&Sentence>, s: &Sentence, subject: Lex, at: usize) -> bool {
    let last_before = |lex: Lex| s.spans(lex).iter().filter(|x| x.start < at).map(|x| x.start).max();
    match (last_before(subject), last_before(OTHER_SETTINGS)) {
        (Some(a), Some(b)) => a > b,
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None) => {
            s.spans(subject).iter().any(|x| clause_of(s, *x) == s.tokens[at].clause)
                || (!s.mentions(subject) && prev.is_some_and(|p| p.mentions(subject)))
        }
    }
}

/// A proposing verb before `at` in its segment (segments end at `;` and
/// parentheses), or an assignment sign just before it.
fn proposed_at(s: &Sentence, at: usize) -> bool {
    let t = &s.tokens;
    let assigned = t[at.saturating_sub(2)..at].iter().any(|x| x.is_sym('=') || x.is_sym(':'));
    let mut i = at;
    while i > 0 {
        i -= 1;
        if t[i].is_sym(';') || t[i].is_sym('(') || t[i].is_sym(')') {
            break;
        }
        if t[i].asserted() && t[i].word().is_some_and(|w| PROPOSING.iter().any(|p| word_matches(p, w))) {
            return true;
        }
    }
    assigned
}

/// The sentence gives the subject a healthy value. It is distinctive when it
/// changes the setting: proposed (a verb or an assignment), different from
/// the episode's current value and from any value the fix marks as the old
/// one; a value restated or only described ("keeping lr 5e-3", "(AdamW,
/// batch size 16)") is generic.
fn healthy_value(
    prev: Option<&Sentence>,
    s: &Sentence,
    subject: Lex,
    opposite: Lex,
    current: Option<f64>,
    ok: impl Fn(f64) -> bool,
) -> Option<Strength> {
    if !about(prev, s, subject) {
        return None;
    }
    let same = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12);
    let old: Vec<f64> = s
        .tokens
        .iter()
        .filter(|t| t.old || t.negated)
        .filter_map(|t| if let Kind::Number(v) = t.kind { Some(v) } else { None })
        .collect();
    let values: Vec<(usize, f64)> =
        numbers(s, opposite).filter(|&(i, v)| ok(v) && bound(prev, s, subject, i)).collect();
    if values.is_empty() {
        return None;
    }
    let changes = values.iter().any(|&(i, v)| {
        proposed_at(s, i) && !current.is_some_and(|c| same(c, v)) && !old.iter().any(|&o| same(o, v))
    });
    Some(if changes { Strength::Distinctive } else { Strength::Generic })
}

/// No value proposed, or one of them healthy: "lower the rate from 45 to 5" is not a fix.
fn no_bad_target(s: &Sentence, opposite: Lex, ok: impl Fn(f64) -> bool) -> bool {
    let mut values = numbers(s, opposite).map(|(_, v)| v).peekable();
    values.peek().is_none() || values.any(ok)
}

/// A switch whose destination is an adaptive optimizer: "switch to AdamW",
/// "replace SGD with Adam", "use Adam"; not "replace Adam with SGD".
fn switches_to_adaptive(s: &Sentence) -> bool {
    s.asserted(ADAPTIVE).iter().any(|a| {
        let t = &s.tokens;
        let before = &t[a.start.saturating_sub(6)..a.start];
        !t[a.start].old
            && s.has(SWITCH)
            && before
                .iter()
                .any(|x| matches!(x.word(), Some("to" | "with" | "for" | "by" | "use" | "using" | "adopt")))
            && !matches!(t.get(a.start.wrapping_sub(1)).and_then(|x| x.word()), Some("from"))
            && !s.clause_has(clause_of(s, *a), &["before", "previously", "earlier"])
    })
}

fn strongest(matches: impl IntoIterator<Item = Option<Strength>>) -> Option<Strength> {
    matches.into_iter().flatten().max()
}

// ---- config faults ------------------------------------------------------------

fn healthy_lr(w: &World) -> impl Fn(f64) -> bool + '_ {
    move |x| (MIN_HEALTHY_LR..=w.optimizer.max_healthy_lr()).contains(&x)
}

fn lower_learning_rate(f: &Fix, w: &World) -> Option<Strength> {
    strongest(f.pairs().map(|(prev, s)| {
        if direction(prev, s, LR, DOWN, UP) && no_bad_target(s, UP, healthy_lr(w)) {
            Some(Strength::Distinctive)
        } else {
            // a rate given with an optimizer (a switch, a config block) is part of its setup
            healthy_value(prev, s, LR, UP, Some(w.lr.value()), healthy_lr(w))
                .map(|st| if s.mentions(OPTIMIZER_SPEC) { Strength::Generic } else { st })
        }
    }))
}

fn lower_momentum_or_adaptive(f: &Fix, w: &World) -> Option<Strength> {
    let ok = |x: f64| (0.0..=MAX_HEALTHY_MOMENTUM).contains(&x);
    let current = (!w.optimizer.is_adaptive()).then_some(w.momentum);
    strongest(f.pairs().map(|(prev, s)| {
        if (direction(prev, s, MOMENTUM, DOWN, UP) && no_bad_target(s, UP, ok)) || switches_to_adaptive(s) {
            Some(Strength::Distinctive)
        } else {
            healthy_value(prev, s, MOMENTUM, UP, current, ok)
        }
    }))
}

fn smaller_batch(f: &Fix, w: &World) -> Option<Strength> {
    let ok = |x: f64| x >= 1.0 && x < w.n_train as f64 && x == libm::floor(x);
    strongest(f.pairs().map(|(prev, s)| {
        if direction(prev, s, BATCH, DOWN, UP) && no_bad_target(s, UP, ok) {
            Some(Strength::Distinctive)
        } else {
            healthy_value(prev, s, BATCH, UP, Some(w.batch_size as f64), ok)
        }
    }))
}

// ---- data faults ----------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Train,
    Other,
}

/// What a fit is applied to: the first split named after the fit word, and
/// whether the list goes on to other splits ("train, val and test combined").
fn fit_target(s: &Sentence, fit_at: usize) -> Option<Side> {
    let t = &s.tokens;
    let side_of = |w: &str| {
        if w == "train_test_split" {
            None
        } else if TRAIN_SIDE.iter().any(|p| word_matches(p, w)) {
            Some(Side::Train)
        } else if [VAL_SIDE, TEST_SIDE, ALL_SIDE].iter().any(|l| l.iter().any(|p| word_matches(p, w))) {
            Some(Side::Other)
        } else {
            None
        }
    };
    // the target follows a preposition or an opening parenthesis: "fit on X_train", "fit(X_tr)"
    let mut introduced = false;
    for i in fit_at + 1..(fit_at + 12).min(t.len()) {
        if t[i].is_sym(';') {
            return None;
        }
        // "fit the model on ...", "compute accuracy on ...": not the normaliser
        if matches!(
            t[i].word(),
            Some(
                "model"
                    | "classifier"
                    | "network"
                    | "weights"
                    | "head"
                    | "accuracy"
                    | "loss"
                    | "metrics"
                    | "metric"
            )
        ) {
            return None;
        }
        if t[i].is_sym('(')
            || matches!(t[i].word(), Some("on" | "over" | "from" | "using" | "with" | "in" | "across"))
        {
            introduced = true;
            continue;
        }
        if !introduced {
            continue;
        }
        if t[i].negated {
            continue;
        }
        let Some(side) = t[i].word().and_then(side_of) else { continue };
        if side == Side::Other {
            return Some(Side::Other);
        }
        // a list: "train, val and test", "train/val", "the training set plus the
        // validation set", "training data as well as test data"
        let end = (i + 1..(i + 8).min(t.len()))
            .find(|&k| t[k].is_sym(')') || t[k].is_sym(';'))
            .unwrap_or((i + 8).min(t.len()));
        let window = &t[i + 1..end];
        let joins = |x: &super::text::Token| {
            x.is_sym(',')
                || x.is_sym('/')
                || x.is_sym('+')
                || x.is_sym('&')
                || matches!(
                    x.word(),
                    Some("and" | "plus" | "with" | "along" | "together" | "well" | "including")
                )
        };
        let verb = |x: &super::text::Token| {
            matches!(
                x.word(),
                Some("apply" | "applied" | "transform" | "transforms" | "use" | "reuse" | "only" | "then")
            )
        };
        if let Some(k) = window.iter().position(joins) {
            for x in window[k + 1..].iter().take(3) {
                if verb(x) {
                    break;
                }
                if x.asserted() && x.word().and_then(side_of) == Some(Side::Other) {
                    return Some(Side::Other);
                }
            }
        }
        return Some(Side::Train);
    }
    None
}

fn fit_on_train_only(f: &Fix, _w: &World) -> Option<Strength> {
    strongest(f.pairs().map(|(prev, s)| {
        let fits: Vec<(Span, Option<Side>)> =
            s.asserted(FIT).into_iter().map(|sp| (sp, fit_target(s, sp.start))).collect();
        let bad = fits.iter().any(|(_, side)| *side == Some(Side::Other));
        let good: Vec<Span> =
            fits.iter().filter(|(_, side)| *side == Some(Side::Train)).map(|(sp, _)| *sp).collect();
        let is_transformer = s.tokens.iter().any(|t| t.word() == Some("fit_transform"));
        let subject = about(prev, s, NORMALISER) || is_transformer;
        let ordered = (s.has(AFTER_SPLIT) || s.has(TRAIN_STATS)) && s.mentions(NORMALISER) && !bad;
        if !subject || bad || (good.is_empty() && !ordered) {
            return None;
        }
        // "then re-fit the scaler on the new train split": a step redone after
        // another change, not a correction of how the scaler is fitted
        let redone = |sp: &Span| {
            let t = &s.tokens;
            t[sp.start].word().is_some_and(|w| w.starts_with("refit") || w.starts_with("recomput"))
                || (sp.start > 0 && t[sp.start - 1].word() == Some("re"))
        };
        let after_resplit = s.mentions(&["new", "resulting", "resplit", "re split"]);
        Some(if !ordered && after_resplit && good.iter().all(redone) {
            Strength::Generic
        } else {
            Strength::Distinctive
        })
    }))
}

/// `X_train, X_val, ... = train_test_split(...)`: one call yields both.
/// Validation taken from a part of the data: "draw X_val from X_test", "carve
/// the validation set out of X_train", "split the test portion into val and test".
fn val_from_a_part(s: &Sentence) -> bool {
    let t = &s.tokens;
    let part: Lex = &[
        "x_test",
        "x_train",
        "x_hold",
        "x_tmp",
        "x_temp",
        "x_rest",
        "x_holdout",
        "test portion",
        "training portion",
        "train portion",
        "test set",
        "test split",
        "heldout",
        "holdout",
        "remainder",
        "rest",
        "training set",
        "train split",
        "training split",
        "test part",
        "held",
        "hold",
    ];
    let val: Lex = &["x_val", "val", "validation", "val_*"];
    let is =
        |x: &super::text::Token, lex: Lex| x.word().is_some_and(|w| lex.iter().any(|p| word_matches(p, w)));
    let whole = |x: &super::text::Token| matches!(x.word(), Some("x" | "full" | "whole" | "all"));
    let asserted_part = |from: usize| {
        let window = &t[from.min(t.len())..(from + 4).min(t.len())];
        window.iter().any(|x| x.asserted() && is(x, part)) && !window.iter().any(|x| x.asserted() && whole(x))
    };
    let draws = s.has(&["draw*", "take", "taking", "carv*", "sampl*", "split*", "hold*", "pull*"]);
    // "val ... from|out of PART"
    let from_part = t.iter().enumerate().any(|(i, x)| {
        x.asserted()
            && is(x, val)
            && (i + 1..(i + 8).min(t.len())).any(|j| {
                t[j].asserted() && matches!(t[j].word(), Some("from" | "of")) && asserted_part(j + 1)
            })
    });
    // "split PART into val"
    let split_part = t.iter().enumerate().any(|(i, x)| {
        x.asserted()
            && matches!(x.word(), Some("split" | "splitting" | "divide"))
            && asserted_part(i + 1)
            && t[i + 1..].iter().take(8).any(|y| y.word() == Some("into"))
            && t[i + 1..].iter().any(|y| is(y, val))
    });
    draws && (from_part || split_part)
}

/// `X_train, X_val, ... = train_test_split(X, ...)`: one call yields both; or
/// `X_val, ... = train_test_split(X_hold, ...)`: validation drawn from a part, not from all of X.
fn code_draws_disjoint_val(s: &Sentence) -> bool {
    let t = &s.tokens;
    let is =
        |x: &super::text::Token, lex: Lex| x.word().is_some_and(|w| lex.iter().any(|p| word_matches(p, w)));
    let val: Lex = &["x_val", "val_*", "val", "x_va", "x_dev"];
    let train: Lex = &["x_train", "train_*", "train", "x_tr"];
    let whole: Lex = &["x", "data", "df", "dataset", "x_all", "features", "records"];
    // each assignment: from a statement start to `=`, then the call and its first argument
    let mut start = 0;
    for (eq, x) in t.iter().enumerate() {
        if !x.is_sym('=') || t.get(eq + 1).and_then(|n| n.word()) != Some("train_test_split") {
            if x.is_sym(';') {
                start = eq + 1;
            }
            continue;
        }
        let lhs = &t[start..eq];
        let first_arg = t.get(eq + 3);
        let yields_val = lhs.iter().any(|y| is(y, val));
        let yields_train = lhs.iter().any(|y| is(y, train));
        let from_part = first_arg.is_some_and(|a| a.word().is_some() && !is(a, whole));
        if yields_val && (yields_train || from_part) {
            return true;
        }
        start = eq + 1;
    }
    false
}

fn disjoint_splits(f: &Fix, _w: &World) -> Option<Strength> {
    strongest(f.pairs().map(|(prev, s)| {
        let split_near = |at: Span| s.spans(SPLIT).iter().any(|sp| sp.start.abs_diff(at.start) <= 3);
        let one = s.asserted(ONE).into_iter().any(split_near);
        // "do it exactly once": a clause about splitting, not about fitting
        let once = s.asserted(ONCE).into_iter().any(|o| {
            let c = clause_of(s, o);
            let refers =
                s.tokens.iter().any(|t| t.clause == c && matches!(t.word(), Some("it" | "split" | "splits")));
            // "set the seed once": what is done once is the seeding, not the split
            let last = |lex: Lex| s.spans(lex).iter().filter(|x| x.start < o.start).map(|x| x.start).max();
            let seeding = last(SEED) > last(SPLIT);
            refers && about(prev, s, SPLIT) && !s.clause_has(c, FIT) && !seeding
        });
        let about_rows = s.mentions(ROWS) && !s.mentions(NORMALISER);
        let disjoint = s.has(DISJOINT)
            || (about_rows
                && s.spans(OVERLAP).iter().any(|o| s.tokens[o.start].negated && !s.tokens[o.start].hedged));
        let remainder = s.asserted(REMAINDER).iter().any(|r| s.clause_has(clause_of(s, *r), DRAW));
        (one || once || disjoint || remainder || val_from_a_part(s) || code_draws_disjoint_val(s))
            .then_some(Strength::Distinctive)
    }))
}

fn training_majority(f: &Fix, w: &World) -> Option<Strength> {
    let current = w.test_size();
    strongest(f.pairs().map(|(prev, s)| {
        if s.has(MAJORITY) && s.mentions(TRAIN_SHARE) {
            return Some(Strength::Distinctive);
        }
        // the held-out shares the sentence proposes
        let mut held: Vec<(usize, f64)> = Vec::new();
        // a ratio: train first unless the sentence says test/train
        let test_first = s.tokens.windows(3).any(|w| {
            w[0].word().is_some_and(|x| x.starts_with("test") || x.starts_with("val"))
                && w[1].is_sym('/')
                && w[2].word().is_some_and(|x| x.starts_with("train"))
        });
        for (i, t) in s.tokens.iter().enumerate() {
            if let Kind::Ratio(a, b) = t.kind
                && t.asserted()
                && !t.old
                && !opposed(s, i, UP)
            {
                held.push((i, if test_first { a } else { b } / (a + b)));
            }
        }
        // a share bound to the nearest subject before it, else after it in its clause
        let holdout = s.spans(HOLDOUT);
        let train = s.spans(TRAIN_SHARE);
        for (i, v) in numbers(s, UP) {
            let before = |sp: &[Span]| sp.iter().filter(|x| x.start < i).map(|x| x.start).max();
            let after = |sp: &[Span]| {
                sp.iter()
                    .filter(|x| x.start > i && clause_of(s, **x) == s.tokens[i].clause)
                    .map(|x| x.start)
                    .min()
            };
            let is_held = match (before(&holdout), before(&train)) {
                (Some(h), Some(t)) => Some(h > t),
                (Some(_), None) => Some(true),
                (None, Some(_)) => Some(false),
                (None, None) => match (after(&holdout), after(&train)) {
                    (Some(h), Some(t)) => Some(h < t),
                    (Some(_), None) => Some(true),
                    (None, Some(_)) => Some(false),
                    (None, None) => prev.is_some_and(|p| p.mentions(HOLDOUT)).then_some(true),
                },
            };
            match is_held {
                Some(true) => held.push((i, v)),
                Some(false) => held.push((i, 1.0 - v)),
                None => {}
            }
        }
        let good: Vec<(usize, f64)> = held.into_iter().filter(|(_, h)| (0.05..=0.4).contains(h)).collect();
        if good.is_empty() {
            return None;
        }
        // a share written into a split call that does something else is part of that call;
        // one described ("that gives 77/11.5/11.5") or equal to the current setting changes nothing
        let in_call =
            s.tokens.windows(2).any(|p| p[0].word() == Some("train_test_split") && p[1].is_sym('('));
        let changes = good.iter().any(|&(i, h)| proposed_at(s, i) && (h - current).abs() > 1e-9);
        Some(if changes && !in_call { Strength::Distinctive } else { Strength::Generic })
    }))
}

// ---- evaluation faults ------------------------------------------------------------

fn reuse_training_mapping(f: &Fix, _w: &World) -> Option<Strength> {
    strongest(f.pairs().map(|(prev, s)| {
        if !about(prev, s, LABELS) {
            return None;
        }
        // a new or refitted encoder in the same segment (up to `;`) is not the training one
        let segment = |at: usize| {
            let t = &s.tokens;
            let start = (0..at).rev().find(|&k| t[k].is_sym(';')).map_or(0, |k| k + 1);
            let end = (at..t.len()).find(|&k| t[k].is_sym(';')).unwrap_or(t.len());
            start..end
        };
        let reuse = (s.has(TRAIN_SIDE) || s.has(LOADED))
            && s.asserted(REUSE).iter().any(|r| {
                let seg = segment(r.start);
                !s.asserted(REFIT).iter().any(|x| seg.contains(&x.start))
            });
        let classes = s.has(&["classes_"]) && s.has(CLASSES_USE) && !s.has(REFIT);
        // LabelEncoder orders classes by sorting them; its own transform is the training mapping
        let sorted = s.has(&["sorted", "sort", "alphabetical*"]) && !s.has(REFIT);
        let transform = s.tokens.windows(3).any(|w| {
            w[0].word().is_some_and(|x| x.ends_with("encoder") || x == "le" || x.ends_with("_le"))
                && w[1].is_sym('.')
                && w[2].asserted()
                && w[2].word() == Some("transform")
        });
        (reuse || classes || sorted || transform).then_some(Strength::Distinctive)
    }))
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Split {
    Val,
    Test,
}

fn key_split(w: &str) -> Option<Split> {
    match w {
        "val_accuracy" => Some(Split::Val),
        "test_accuracy" => Some(Split::Test),
        _ => None,
    }
}

/// The value a token starts, if it names a split's accuracy: `val_acc`, "validation accuracy".
fn value_split(s: &Sentence, i: usize) -> Option<Split> {
    let w = s.tokens.get(i)?.word()?;
    match w {
        "val_acc" | "valacc" | "val_accuracy_value" => Some(Split::Val),
        "test_acc" | "testacc" => Some(Split::Test),
        "validation" | "val" | "test" => {
            let next = s.tokens.get(i + 1).and_then(|t| t.word());
            let noun =
                next.is_some_and(|n| ["accuracy", "score", "number", "value", "acc", "result"].contains(&n));
            noun.then_some(if w == "test" { Split::Test } else { Split::Val })
        }
        _ => None,
    }
}

/// Key-value pairs the fix states (`key = value`, `value under key`), as (key, value) splits.
fn metric_pairs(s: &Sentence) -> Vec<(Split, Split)> {
    let t = &s.tokens;
    let mut out = Vec::new();
    for i in 0..t.len() {
        if !t[i].asserted() {
            continue;
        }
        if let Some(k) = t[i].word().and_then(key_split) {
            let link = (i + 1..(i + 4).min(t.len())).find(|&j| {
                t[j].is_sym('=')
                    || t[j].is_sym(':')
                    || t[j].word().is_some_and(|w| {
                        ["receive", "receives", "gets", "get", "holds", "takes", "from"].contains(&w)
                    })
            });
            if let Some(l) = link
                && let Some(v) = (l + 1..(l + 4).min(t.len())).find_map(|j| value_split(s, j))
            {
                out.push((k, v));
            }
        }
        if let Some(v) = value_split(s, i) {
            let link = (i + 1..(i + 5).min(t.len()))
                .find(|&j| t[j].word().is_some_and(|w| ["under", "as", "to", "into", "in"].contains(&w)));
            if let Some(l) = link {
                let mut j = l + 1;
                while j < t.len() && j <= l + 6 {
                    if let Some(k) = t[j].word().and_then(key_split) {
                        out.push((k, v));
                    } else if !(t[j].is_sym(',')
                        || matches!(t[j].word(), Some("both" | "and" | "the" | "key" | "results")))
                    {
                        break;
                    }
                    j += 1;
                }
            }
        }
    }
    out
}

fn metrics_under_own_keys(f: &Fix, _w: &World) -> Option<Strength> {
    strongest(f.pairs().map(|(prev, s)| {
        let metric_context = about(prev, s, METRIC);
        let involves_train = s.mentions(&["train_accuracy", "train_acc"]);
        let both = s.mentions(&["val_accuracy", "val", "validation", "val_acc"])
            && s.mentions(&["test_accuracy", "test", "test_acc"]);
        let swap = s.has(SWAP) && (s.has(BACK) || both) && metric_context && !involves_train;
        let own = s.has(OWN_KEY) && metric_context;
        let repair = s.has(REPAIR)
            && s.has(KEYING)
            && (about(prev, s, METRIC_KEYS)
                || s.mentions(&["val", "validation", "swapped", "mixed", "switched"]));
        let pairs = metric_pairs(s);
        let paired = !pairs.is_empty() && pairs.iter().all(|(k, v)| k == v);
        (swap || own || repair || paired).then_some(Strength::Distinctive)
    }))
}

/// The evaluation's current (older) version, asserted as the one to use.
fn names_the_eval_version(s: &Sentence, w: &World) -> bool {
    let Some(tok) = w.tokenizer else { return false };
    let eval = (tok.eval_version.major as u32, tok.eval_version.minor as u32);
    s.tokens.iter().any(|t| {
        t.asserted()
            && !t.old
            && match t.kind {
                Kind::Version(major, Some(minor)) => (major, minor) == eval,
                Kind::Number(v) => eval.1 < 10 && libm::round(v * 10.0) == (eval.0 * 10 + eval.1) as f64,
                _ => false,
            }
    })
}

/// A version the fix proposes for evaluation: the training one.
fn proposes_newer_version(s: &Sentence, w: &World) -> bool {
    let Some(tok) = w.tokenizer else { return false };
    let (major_t, minor_t) = (tok.train_version.major as u32, tok.train_version.minor as u32);
    // the training version itself ("v4" names it when the training version is 4.x)
    let newer = |major: u32, minor: Option<u32>| match minor {
        Some(m) => (major, m) == (major_t, minor_t),
        None => major == major_t,
    };
    s.tokens.iter().any(|t| match t.kind {
        Kind::Version(major, minor) if t.asserted() && !t.old => newer(major, minor),
        // a plain number in a sentence about tokenizers: read "2.1" as a version
        Kind::Number(v) if t.asserted() && !t.old && (1.0..100.0).contains(&v) => {
            let text = format!("{v}");
            let (major, minor) = text.split_once('.').unwrap_or((&text, ""));
            major.parse().is_ok_and(|m| newer(m, minor.parse().ok()))
        }
        _ => false,
    })
}

fn training_tokenizer_at_eval(f: &Fix, w: &World) -> Option<Strength> {
    strongest(f.pairs().map(|(prev, s)| {
        let vocab_is_labels = s.tokens.windows(2).any(|p| {
            matches!(p[0].word(), Some("label" | "class"))
                && matches!(p[1].word(), Some("vocab" | "vocabulary"))
        });
        if !about(prev, s, TOKENIZER) || vocab_is_labels {
            return None;
        }
        // no downgrade or retraining in the clause, and the evaluation's own version not proposed
        let clause_ok = |sp: Span| {
            let c = clause_of(s, sp);
            !s.clause_has(c, DOWNGRADE) && !s.clause_has(c, &["retrain*", "re train*"])
        };
        if names_the_eval_version(s, w) {
            return None;
        }
        let same = s.asserted(SAME_VERSION).into_iter().any(clause_ok);
        let training = s.asserted(TRAINING_ONE).into_iter().any(clause_ok) && s.has(TRAIN_SIDE);
        let upgrade = s.asserted(UPGRADE).into_iter().any(clause_ok);
        let version = proposes_newer_version(s, w) && s.mentions(EVAL_SIDE) && !s.has(DOWNGRADE);
        let training_tokenizer = s.has(TRAINING_TOKENIZER);
        (same || training || upgrade || version || training_tokenizer).then_some(Strength::Distinctive)
    }))
}

const C_LR: &[Concept] =
    &[Concept { id: "learning_rate_lowered_to_a_healthy_value", detect: lower_learning_rate }];
const C_MOMENTUM: &[Concept] =
    &[Concept { id: "momentum_lowered_or_adaptive_optimizer", detect: lower_momentum_or_adaptive }];
const C_BATCH: &[Concept] = &[Concept { id: "batch_size_below_the_training_split", detect: smaller_batch }];
const C_SCALER: &[Concept] =
    &[Concept { id: "normaliser_fitted_on_training_split_only", detect: fit_on_train_only }];
const C_OVERLAP: &[Concept] = &[Concept { id: "disjoint_splits_from_one_split", detect: disjoint_splits }];
const C_RATIO: &[Concept] =
    &[Concept { id: "training_gets_the_majority_of_the_data", detect: training_majority }];
const C_LABELS: &[Concept] =
    &[Concept { id: "evaluation_reuses_the_training_label_mapping", detect: reuse_training_mapping }];
const C_SWAP: &[Concept] =
    &[Concept { id: "each_accuracy_under_its_own_key", detect: metrics_under_own_keys }];
const C_TOKENIZER: &[Concept] =
    &[Concept { id: "evaluation_uses_the_training_tokenizer_version", detect: training_tokenizer_at_eval }];

/// The concepts of a bug's right fix; all are required for full credit.
pub(crate) fn rubric(bug: BugKind) -> &'static [Concept] {
    match bug {
        BugKind::ExplodingLr => C_LR,
        BugKind::WrongOptimizer => C_MOMENTUM,
        BugKind::BatchSizeOverflow => C_BATCH,
        BugKind::DataLeakageScaler => C_SCALER,
        BugKind::DataLeakageOverlap => C_OVERLAP,
        BugKind::WrongSplitRatio => C_RATIO,
        BugKind::LabelEncoderMismatch => C_LABELS,
        BugKind::SilentMetricSwap => C_SWAP,
        BugKind::TokenizerVersionDrift => C_TOKENIZER,
    }
}
