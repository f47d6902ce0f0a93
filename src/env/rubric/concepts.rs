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
    "higher", "larger", "bigger", "more", "further", "up to", "up by", "twice", "grow*", "maximiz*",
];
const MOMENTUM: Lex = &["momentum", "momentum_coefficient", "beta1"];
const ADAPTIVE: Lex = &["adam*", "adagrad", "adadelta", "rmsprop", "adafactor", "lamb", "nadam", "radam"];
const SWITCH: Lex =
    &["switch*", "replac*", "use", "using", "chang*", "swap*", "migrat*", "move to", "go with"];
const OPTIMIZER_SPEC: Lex = &["adam*", "sgd", "rmsprop", "adagrad", "optimizer"];
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
const AFTER_SPLIT: Lex =
    &["after the split", "after splitting", "after train_test_split", "split first", "post split"];
const SPLIT: Lex =
    &["split", "splits", "splitting", "train_test_split", "partition*", "permutation", "call", "calls"];
/// Said of the split itself ("do it exactly once"), in a clause about splitting.
const ONCE: Lex = &["once", "one time", "single time", "a single call"];
/// Said next to a split word ("one split", "single train_test_split", "merge the two split calls").
const ONE: Lex = &["single", "one", "merge*"];
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
];
const TRAIN_SHARE: Lex = &["train_size", "train size", "train on", "trains on", "training", "train"];
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
    "eval_class_order",
    "label vocabulary",
    "labels",
    "label",
    "class_to_idx",
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
const SWAP: Lex =
    &["swap*", "unswap*", "exchang*", "switch*", "flip*", "interchang*", "revers*", "undo*", "revert*"];
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
const KEYING: Lex = &["key", "keys", "mapping", "assignment*", "names", "labels", "labeling"];
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
const SAME_VERSION: Lex =
    &["same", "identical", "pin*", "match*", "consistent", "exact*", "align*", "reus*", "share*", "single"];
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
    "tokeniz*",
    "pin*",
];
const UPGRADE: Lex = &["upgrad*", "newer"];
const DOWNGRADE: Lex = &["downgrad*", "older", "old", "previous", "earlier", "roll*", "revert*", "shrink*"];
const EVAL_SIDE: Lex = &["eval*", "test*", "scoring", "inference"];

// ---- helpers ------------------------------------------------------------------

fn clause_of(s: &Sentence, span: Span) -> u32 {
    s.tokens[span.start].clause
}

/// The subject is named in this sentence, or in the one before.
fn about(prev: Option<&Sentence>, s: &Sentence, subject: Lex) -> bool {
    s.mentions(subject) || prev.is_some_and(|p| p.mentions(subject))
}

/// A direction word asserted in a clause that names the subject, or that
/// refers back to it ("drop it to ..."), with no opposite direction there.
fn direction(prev: Option<&Sentence>, s: &Sentence, subject: Lex, dir: Lex, opposite: Lex) -> bool {
    s.asserted(dir).into_iter().any(|d| {
        let c = clause_of(s, d);
        let names = s.spans(subject).iter().any(|x| clause_of(s, *x) == c);
        let refers =
            s.tokens.iter().any(|t| t.clause == c && matches!(t.word(), Some("it" | "this" | "that")))
                && (s.spans(subject).iter().any(|x| x.start < d.start)
                    || prev.is_some_and(|p| p.mentions(subject)));
        (names || refers) && !s.clause_has(c, opposite)
    })
}

/// Proposed numbers of the sentence outside clauses asserting `opposite`.
fn numbers<'a>(s: &'a Sentence, opposite: Lex) -> impl Iterator<Item = f64> + 'a {
    s.proposed_numbers().filter(move |(i, _)| !s.clause_has(s.tokens[*i].clause, opposite)).map(|(_, v)| v)
}

/// Verbs and signs that make a value a proposal rather than a description
/// ("AdamW, batch size 16" describes; "set batch_size: 32" proposes).
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
    "to",
    "be",
    "should",
    "want",
    "go",
    "start",
    "replace",
    "move",
    "bump",
    "shrink",
];

/// The sentence is about the subject and gives a healthy value: distinctive
/// when proposed (a verb or an assignment in its clause), generic when only stated.
fn healthy_value(
    prev: Option<&Sentence>,
    s: &Sentence,
    subject: Lex,
    opposite: Lex,
    ok: impl Fn(f64) -> bool,
) -> Option<Strength> {
    if !about(prev, s, subject) {
        return None;
    }
    let values: Vec<usize> = s
        .proposed_numbers()
        .filter(|(i, v)| !s.clause_has(s.tokens[*i].clause, opposite) && ok(*v))
        .map(|(i, _)| i)
        .collect();
    let proposed = values.iter().any(|&i| {
        let c = s.tokens[i].clause;
        s.clause_has(c, PROPOSING)
            || s.tokens.iter().any(|t| t.clause == c && (t.is_sym('=') || t.is_sym(':')))
    });
    match (values.is_empty(), proposed) {
        (true, _) => None,
        (false, true) => Some(Strength::Distinctive),
        (false, false) => Some(Strength::Generic),
    }
}

/// No value proposed, or one of them healthy: "lower the rate from 45 to 5" is not a fix.
fn no_bad_target(s: &Sentence, opposite: Lex, ok: impl Fn(f64) -> bool) -> bool {
    let mut values = numbers(s, opposite).peekable();
    values.peek().is_none() || values.any(ok)
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
            // a rate given with an optimizer is part of that optimizer's setup
            healthy_value(prev, s, LR, UP, healthy_lr(w))
                .map(|st| if s.mentions(OPTIMIZER_SPEC) { Strength::Generic } else { st })
        }
    }))
}

fn lower_momentum_or_adaptive(f: &Fix, _w: &World) -> Option<Strength> {
    let ok = |x: f64| (0.0..=MAX_HEALTHY_MOMENTUM).contains(&x);
    strongest(f.pairs().map(|(prev, s)| {
        let switch = s.asserted(ADAPTIVE).iter().any(|a| !s.tokens[a.start].old) && s.has(SWITCH);
        if (direction(prev, s, MOMENTUM, DOWN, UP) && no_bad_target(s, UP, ok)) || switch {
            Some(Strength::Distinctive)
        } else {
            healthy_value(prev, s, MOMENTUM, UP, ok)
                .map(|st| if s.mentions(&["sgd", "optimizer"]) { Strength::Generic } else { st })
        }
    }))
}

fn smaller_batch(f: &Fix, w: &World) -> Option<Strength> {
    let ok = |x: f64| x >= 1.0 && x < w.n_train as f64 && x == libm::floor(x);
    strongest(f.pairs().map(|(prev, s)| {
        if direction(prev, s, BATCH, DOWN, UP) && no_bad_target(s, UP, ok) {
            Some(Strength::Distinctive)
        } else {
            healthy_value(prev, s, BATCH, UP, ok)
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
        if t[i].is_sym('(')
            || matches!(t[i].word(), Some("on" | "over" | "from" | "using" | "with" | "in" | "across"))
        {
            introduced = true;
            continue;
        }
        if !introduced {
            continue;
        }
        let Some(side) = t[i].word().and_then(side_of) else { continue };
        if side == Side::Other {
            return Some(Side::Other);
        }
        // a list: "train, val and test", "train/val", "train + test"
        let mut j = i + 1;
        while j < t.len()
            && (t[j].is_sym(',') || t[j].is_sym('/') || t[j].is_sym('+') || t[j].word() == Some("and"))
        {
            j += 1;
            if t.get(j).and_then(|x| x.word()).and_then(side_of) == Some(Side::Other) {
                return Some(Side::Other);
            }
            j += 1;
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
        let ordered = s.has(AFTER_SPLIT) && s.mentions(NORMALISER) && !bad;
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
        Some(if !ordered && good.iter().all(redone) { Strength::Generic } else { Strength::Distinctive })
    }))
}

/// `X_train, X_val, ... = train_test_split(...)`: one call yields both.
fn one_call_yields_train_and_val(s: &Sentence) -> bool {
    let t = &s.tokens;
    let Some(eq) = t.iter().position(|x| x.is_sym('=')) else { return false };
    let calls_split = t[eq..].iter().take(3).any(|x| x.word() == Some("train_test_split"));
    let lhs =
        |lex: Lex| t[..eq].iter().any(|x| x.word().is_some_and(|w| lex.iter().any(|p| word_matches(p, w))));
    calls_split
        && lhs(&["x_train", "train_*", "train", "x_tr"])
        && lhs(&["x_val", "val_*", "val", "x_va", "x_dev"])
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
            refers && about(prev, s, SPLIT) && !s.clause_has(c, FIT)
        });
        let about_rows = s.mentions(ROWS) && !s.mentions(NORMALISER);
        let disjoint = s.has(DISJOINT)
            || (about_rows
                && s.spans(OVERLAP).iter().any(|o| s.tokens[o.start].negated && !s.tokens[o.start].hedged));
        let remainder = s.asserted(REMAINDER).iter().any(|r| s.clause_has(clause_of(s, *r), DRAW));
        (one || once || disjoint || remainder || one_call_yields_train_and_val(s))
            .then_some(Strength::Distinctive)
    }))
}

fn training_majority(f: &Fix, _w: &World) -> Option<Strength> {
    strongest(f.pairs().map(|(prev, s)| {
        if s.has(MAJORITY) && s.mentions(TRAIN_SHARE) {
            return Some(Strength::Distinctive);
        }
        // a ratio: train first unless the sentence says test/train
        let test_first = s.tokens.windows(3).any(|w| {
            w[0].word().is_some_and(|x| x.starts_with("test") || x.starts_with("val"))
                && w[1].is_sym('/')
                && w[2].word().is_some_and(|x| x.starts_with("train"))
        });
        let ratio = s.tokens.iter().any(|t| match t.kind {
            Kind::Ratio(a, b) if t.asserted() && !t.old => {
                let train = if test_first { b } else { a } / (a + b);
                (0.7..=0.9).contains(&train)
            }
            _ => false,
        });
        // a share bound to the nearest subject before it, else after it in its clause
        let share = s.proposed_numbers().any(|(i, v)| {
            if s.clause_has(s.tokens[i].clause, UP) {
                return false;
            }
            let holdout = s.spans(HOLDOUT);
            let train = s.spans(TRAIN_SHARE);
            let before = |sp: &Vec<Span>| sp.iter().filter(|x| x.start < i).map(|x| x.start).max();
            let after = |sp: &Vec<Span>| {
                sp.iter()
                    .filter(|x| x.start > i && clause_of(s, **x) == s.tokens[i].clause)
                    .map(|x| x.start)
                    .min()
            };
            let held_ok = (0.1..=0.3).contains(&v);
            let train_ok = (0.7..=0.9).contains(&v);
            match (before(&holdout), before(&train)) {
                (Some(h), Some(t)) => {
                    if h > t {
                        held_ok
                    } else {
                        train_ok
                    }
                }
                (Some(_), None) => held_ok,
                (None, Some(_)) => train_ok,
                (None, None) => match (after(&holdout), after(&train)) {
                    (Some(h), Some(t)) => {
                        if h < t {
                            held_ok
                        } else {
                            train_ok
                        }
                    }
                    (Some(_), None) => held_ok,
                    (None, Some(_)) => train_ok,
                    (None, None) => prev.is_some_and(|p| p.mentions(HOLDOUT)) && held_ok,
                },
            }
        });
        (ratio || share).then_some(Strength::Generic)
    }))
}

// ---- evaluation faults ------------------------------------------------------------

fn reuse_training_mapping(f: &Fix, _w: &World) -> Option<Strength> {
    strongest(f.pairs().map(|(prev, s)| {
        if !about(prev, s, LABELS) {
            return None;
        }
        let reuse = s.asserted(REUSE).into_iter().any(|r| {
            let c = clause_of(s, r);
            !s.clause_has(c, REFIT) && (s.has(TRAIN_SIDE) || s.has(LOADED))
        });
        let classes = s.has(&["classes_"]) && s.has(CLASSES_USE) && !s.has(REFIT);
        (reuse || classes).then_some(Strength::Distinctive)
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
                        ["receive", "receives", "gets", "get", "holds", "takes"].contains(&w)
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
            && (about(prev, s, METRIC_KEYS) || s.mentions(&["val", "validation"]));
        let pairs = metric_pairs(s);
        let paired = !pairs.is_empty() && pairs.iter().all(|(k, v)| k == v);
        (swap || own || repair || paired).then_some(Strength::Distinctive)
    }))
}

/// A version the fix proposes for evaluation: not older than the current one.
fn proposes_newer_version(s: &Sentence, w: &World) -> bool {
    let Some(tok) = w.tokenizer else { return false };
    let (cur_major, cur_minor) = (tok.eval_version.major as u32, tok.eval_version.minor as u32);
    s.tokens.iter().any(|t| match t.kind {
        Kind::Version(major, minor) if t.asserted() && !t.old => match minor {
            Some(m) => (major, m) > (cur_major, cur_minor),
            None => major >= cur_major,
        },
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
        let clause_ok = |sp: Span| !s.clause_has(clause_of(s, sp), DOWNGRADE);
        let same = s.asserted(SAME_VERSION).into_iter().any(clause_ok);
        let training = s.asserted(TRAINING_ONE).into_iter().any(clause_ok) && s.has(TRAIN_SIDE);
        let upgrade = s.asserted(UPGRADE).into_iter().any(clause_ok);
        let version = proposes_newer_version(s, w) && s.mentions(EVAL_SIDE) && !s.has(DOWNGRADE);
        (same || training || upgrade || version).then_some(Strength::Distinctive)
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
