//! Fix rubrics: each bug's required concepts, each concept a set of
//! phrasings. A phrasing is a set of term slots that must all occur, not
//! negated, in one sentence, optionally with a number in a healthy range.
//! Phrasings marked `distinctive` are specific to their bug; only those count
//! when deciding whether a fix proposes another bug's fix.

use super::catalogue::BugKind;
use super::world::World;

#[derive(Clone, Copy, Debug)]
pub enum NumberRule {
    /// A learning rate in the healthy range of the episode's optimizer.
    HealthyLr,
    /// A momentum of at most 0.95.
    Momentum,
    /// A batch size below the episode's training split.
    BatchBelowTrain,
    /// A test_size in [0.1, 0.3] (percentages read as fractions).
    TestSize,
}

struct Phrasing {
    slots: &'static [&'static [&'static str]],
    number: Option<NumberRule>,
    distinctive: bool,
}

struct Concept(&'static [Phrasing]);

const fn p(slots: &'static [&'static [&'static str]], distinctive: bool) -> Phrasing {
    Phrasing { slots, number: None, distinctive }
}
const fn pn(slots: &'static [&'static [&'static str]], number: NumberRule, distinctive: bool) -> Phrasing {
    Phrasing { slots, number: Some(number), distinctive }
}

const LR: &[&str] = &["learning rate", "learning_rate", "lr"];
const DOWN: &[&str] = &[
    "lower",
    "lowering",
    "decrease",
    "decreasing",
    "reduce",
    "reducing",
    "drop",
    "cut",
    "smaller",
    "divide",
    "shrink",
    "less",
];
const UP: &[&str] = &["increase", "increasing", "raise", "raising", "double", "boost"];
const MOMENTUM: &[&str] = &["momentum"];
const SWITCH: &[&str] = &["replace", "switch", "use", "change", "move to", "instead"];
const ADAPTIVE: &[&str] = &["adam", "adamw", "adagrad", "rmsprop", "adafactor", "lamb"];
const BATCH: &[&str] = &["batch size", "batch_size", "batchsize"];
const NORMALISER: &[&str] = &[
    "*scaler",
    "*normalizer",
    "*normaliser",
    "normalization",
    "normalisation",
    "normalize",
    "normalise",
    "statistics",
    "stats",
    "mean",
    "std",
    "fit_transform",
];
const FIT: &[&str] = &[
    "fit",
    "fits",
    "fitted",
    "fitting",
    "fit_transform",
    "compute",
    "computed",
    "computing",
    "estimate",
    "calculate",
    "learn",
];
const TRAIN: &[&str] = &["train", "training", "x_train", "train_images", "x_train_raw"];
const ONLY: &[&str] = &["only", "solely", "exclusively", "alone"];
const AFTER: &[&str] = &["after"];
const SPLIT: &[&str] = &["split", "splitting", "train_test_split", "splits"];
const SEED: &[&str] = &["random_state", "random state", "seed", "seeded", "deterministic", "fixed seed"];
const DISJOINT: &[&str] = &[
    "remainder",
    "rest",
    "remaining",
    "disjoint",
    "never appear",
    "never appears",
    "no overlap",
    "not overlap",
    "without overlap",
    "non overlapping",
    "once",
    "single split",
    "one split",
];
const HELD_OUT: &[&str] = &["held out", "hold out", "holdout", "heldout"];
const RATIO: &[&str] = &[
    "test_size",
    "test size",
    "split ratio",
    "ratio",
    "hold out",
    "holdout",
    "held out",
    "test split",
    "split",
];
const MAJORITY: &[&str] = &["majority"];
const LABELS: &[&str] = &[
    "label encoder",
    "labelencoder",
    "encoder",
    "label mapping",
    "mapping",
    "label map",
    "classes_",
    "class indices",
    "class index",
    "label indices",
    "class order",
    "label_map",
    "label_to_index",
    "class_index",
    "eval_class_order",
];
const REUSE: &[&str] = &[
    "same",
    "reuse",
    "reusing",
    "reused",
    "persist",
    "persisted",
    "load",
    "loaded",
    "identical",
    "shared",
    "share",
    "consistent",
    "single",
];
const SWAP: &[&str] =
    &["swap", "swapping", "switch back", "exchange", "unswap", "interchange", "reverse", "flip"];
const METRIC: &[&str] = &[
    "val_accuracy",
    "test_accuracy",
    "metric",
    "metrics",
    "accuracy",
    "accuracies",
    "key",
    "keys",
    "assignment",
    "assignments",
    "names",
];
const STORE: &[&str] = &["store", "assign", "save", "write", "report", "record", "put"];
const OWN: &[&str] = &["own", "correct", "matching", "right", "proper"];
const KEY: &[&str] = &["key", "keys", "name", "names"];
const TOKENIZER: &[&str] = &["tokenizer", "tokenizers", "tokeniser", "vocab", "vocabulary"];
const VERSION: &[&str] = &["version", "versions", "revision", "vocab", "vocabulary", "release"];
const SAME: &[&str] = &[
    "same",
    "pin",
    "pinned",
    "one",
    "identical",
    "match",
    "matching",
    "consistent",
    "reuse",
    "align",
    "training",
    "train",
    "single",
];

const R_EXPLODING_LR: &[Concept] =
    &[Concept(&[p(&[LR, DOWN], true), pn(&[LR], NumberRule::HealthyLr, false)])];
const R_WRONG_OPTIMIZER: &[Concept] = &[Concept(&[
    p(&[MOMENTUM, DOWN], true),
    pn(&[MOMENTUM], NumberRule::Momentum, true),
    p(&[SWITCH, ADAPTIVE], true),
])];
const R_BATCH_SIZE_OVERFLOW: &[Concept] =
    &[Concept(&[p(&[BATCH, DOWN], true), pn(&[BATCH], NumberRule::BatchBelowTrain, true)])];
const R_DATA_LEAKAGE_SCALER: &[Concept] =
    &[Concept(&[p(&[NORMALISER, FIT, TRAIN, ONLY], true), p(&[NORMALISER, FIT, AFTER, SPLIT], true)])];
// Two concepts: a seeded split, and disjoint splits. "Held out" is shared with
// wrong_split_ratio, so it counts here but never makes a fix look like this one.
const R_DATA_LEAKAGE_OVERLAP: &[Concept] =
    &[Concept(&[p(&[SEED], true)]), Concept(&[p(&[DISJOINT], true), p(&[HELD_OUT], false)])];
const R_WRONG_SPLIT_RATIO: &[Concept] =
    &[Concept(&[pn(&[RATIO], NumberRule::TestSize, true), p(&[MAJORITY, TRAIN], true)])];
const R_LABEL_ENCODER_MISMATCH: &[Concept] = &[Concept(&[p(&[LABELS, REUSE, TRAIN], true)])];
const R_SILENT_METRIC_SWAP: &[Concept] = &[Concept(&[p(&[SWAP, METRIC], true), p(&[STORE, OWN, KEY], true)])];
const R_TOKENIZER_VERSION_DRIFT: &[Concept] = &[Concept(&[p(&[TOKENIZER, VERSION, SAME], true)])];

fn rubric(bug: BugKind) -> &'static [Concept] {
    match bug {
        BugKind::ExplodingLr => R_EXPLODING_LR,
        BugKind::WrongOptimizer => R_WRONG_OPTIMIZER,
        BugKind::BatchSizeOverflow => R_BATCH_SIZE_OVERFLOW,
        BugKind::DataLeakageScaler => R_DATA_LEAKAGE_SCALER,
        BugKind::DataLeakageOverlap => R_DATA_LEAKAGE_OVERLAP,
        BugKind::WrongSplitRatio => R_WRONG_SPLIT_RATIO,
        BugKind::LabelEncoderMismatch => R_LABEL_ENCODER_MISMATCH,
        BugKind::SilentMetricSwap => R_SILENT_METRIC_SWAP,
        BugKind::TokenizerVersionDrift => R_TOKENIZER_VERSION_DRIFT,
    }
}

const NEGATIONS: &[&str] =
    &["not", "never", "no", "dont", "don", "avoid", "without", "nor", "neither", "doesn", "isn", "shouldn"];
/// How many tokens before a term a negation still negates it.
const NEGATION_WINDOW: usize = 3;

#[derive(Clone, Debug, PartialEq)]
enum Token<'a> {
    Word(&'a str),
    Number(f64),
}

/// Lower-cases the text the tokens borrow from (ASCII; other characters separate words).
fn prepare(text: &str) -> String {
    text.to_ascii_lowercase().replace("e.g.", "eg").replace("i.e.", "ie")
}

/// Splits prepared text into sentences of tokens. A `.` ends a sentence only
/// when followed by white space or the end, so `optimizer.momentum` and `0.9` stay whole.
fn sentences(text: &str) -> Vec<Vec<Token<'_>>> {
    let b = text.as_bytes();
    let word_byte = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = vec![Vec::new()];
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let starts_number = c.is_ascii_digit()
            || (c == b'.' && next.is_some_and(|n| n.is_ascii_digit()) && !(i > 0 && word_byte(b[i - 1])));
        if starts_number {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < b.len() && b[i] == b'e' {
                let mut j = i + 1;
                if j < b.len() && matches!(b[j], b'-' | b'+') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    while j < b.len() && b[j].is_ascii_digit() {
                        j += 1;
                    }
                    i = j;
                }
            }
            let literal = &text[start..i];
            // an identifier that starts with digits (`3d`) is a word, not a number
            if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
                while i < b.len() && word_byte(b[i]) {
                    i += 1;
                }
                out.last_mut().expect("one sentence").push(Token::Word(&text[start..i]));
                continue;
            }
            let mut value: f64 = literal.parse().unwrap_or(f64::NAN);
            if i < b.len() && b[i] == b'%' {
                value /= 100.0;
                i += 1;
            }
            out.last_mut().expect("one sentence").push(Token::Number(value));
            continue;
        }
        if word_byte(c) {
            let start = i;
            while i < b.len() && word_byte(b[i]) {
                i += 1;
            }
            out.last_mut().expect("one sentence").push(Token::Word(&text[start..i]));
            continue;
        }
        let ends =
            matches!(c, b'!' | b'?' | b'\n') || (c == b'.' && next.is_none_or(|n| n.is_ascii_whitespace()));
        if ends && !out.last().expect("one sentence").is_empty() {
            out.push(Vec::new());
        }
        i += 1;
    }
    out.retain(|s| !s.is_empty());
    out
}

fn word_matches(pattern: &str, word: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => word.ends_with(suffix),
        None => pattern == word,
    }
}

/// A sentence's tokens plus its distinct words in sorted order, so that most
/// phrases are rejected by one binary search instead of a scan.
struct Sentence<'a> {
    tokens: Vec<Token<'a>>,
    sorted_words: Vec<&'a str>,
    /// Slots already evaluated on this sentence (by address of the static slot), with their answer.
    memo: std::cell::RefCell<Vec<(usize, bool)>>,
}

impl<'a> Sentence<'a> {
    fn new(tokens: Vec<Token<'a>>) -> Sentence<'a> {
        let mut sorted_words: Vec<&'a str> = tokens
            .iter()
            .filter_map(|t| match t {
                Token::Word(w) => Some(*w),
                Token::Number(_) => None,
            })
            .collect();
        sorted_words.sort();
        sorted_words.dedup();
        Sentence { tokens, sorted_words, memo: std::cell::RefCell::new(Vec::with_capacity(32)) }
    }

    /// `slot_present`, evaluated once per slot: rubrics share many slots.
    fn has(&self, slot: &'static [&'static str]) -> bool {
        let key = slot.as_ptr() as usize;
        if let Some(&(_, hit)) = self.memo.borrow().iter().find(|(k, _)| *k == key) {
            return hit;
        }
        let hit = slot_present(self, slot);
        self.memo.borrow_mut().push((key, hit));
        hit
    }

    fn may_contain(&self, word_pattern: &str) -> bool {
        match word_pattern.strip_prefix('*') {
            Some(suffix) => self.sorted_words.iter().any(|w| w.ends_with(suffix)),
            None => self.sorted_words.binary_search(&word_pattern).is_ok(),
        }
    }
}

/// Whether a slot's term occurs in the sentence, not preceded by a negation.
fn slot_present(sentence: &Sentence, slot: &[&str]) -> bool {
    let words = &sentence.tokens;
    for phrase in slot {
        if !phrase.split(' ').all(|part| sentence.may_contain(part)) {
            continue;
        }
        let len = phrase.split(' ').count();
        if len > words.len() {
            continue;
        }
        for start in 0..=words.len() - len {
            let hit = phrase
                .split(' ')
                .enumerate()
                .all(|(k, part)| matches!(&words[start + k], Token::Word(w) if word_matches(part, w)));
            if !hit {
                continue;
            }
            let from = start.saturating_sub(NEGATION_WINDOW);
            let negated =
                words[from..start].iter().any(|t| matches!(t, Token::Word(w) if NEGATIONS.contains(w)));
            if !negated {
                return true;
            }
        }
    }
    false
}

fn number_ok(rule: NumberRule, x: f64, w: &World) -> bool {
    match rule {
        NumberRule::HealthyLr => (super::world::MIN_HEALTHY_LR..=w.optimizer.max_healthy_lr()).contains(&x),
        NumberRule::Momentum => (0.0..=super::world::MAX_HEALTHY_MOMENTUM).contains(&x),
        NumberRule::BatchBelowTrain => x >= 1.0 && x < w.n_train as f64 && x == libm::floor(x),
        NumberRule::TestSize => (0.1..=0.3).contains(&x),
    }
}

fn phrasing_matches(ph: &Phrasing, sentence: &Sentence, w: &World) -> bool {
    if !ph.slots.iter().all(|slot| sentence.has(slot)) {
        return false;
    }
    match ph.number {
        None => true,
        Some(rule) => {
            let no_up = !sentence.has(UP);
            no_up && sentence.tokens.iter().any(|t| matches!(t, Token::Number(x) if number_ok(rule, *x, w)))
        }
    }
}

/// Concepts of `bug`'s rubric the fix covers (out of how many), counting all
/// phrasings or only the distinctive ones.
fn coverage(bug: BugKind, fix: &[Sentence], w: &World, distinctive_only: bool) -> (usize, usize) {
    let concepts = rubric(bug);
    let matched = concepts
        .iter()
        .filter(|c| {
            c.0.iter()
                .filter(|ph| ph.distinctive || !distinctive_only)
                .any(|ph| fix.iter().any(|s| phrasing_matches(ph, s, w)))
        })
        .count();
    (matched, concepts.len())
}

/// Fix credit in basis points of the full weight `weight`.
pub fn fix_credit(w: &World, fix: &str, weight: i64) -> i64 {
    let text = prepare(fix);
    let tokens: Vec<Sentence> = sentences(&text).into_iter().map(Sentence::new).collect();
    let (matched, required) = coverage(w.bug, &tokens, w, false);
    let foreign = BugKind::ALL
        .iter()
        .filter(|&&b| b != w.bug)
        .filter(|&&b| {
            let (m, r) = coverage(b, &tokens, w, true);
            m == r
        })
        .count();
    let credit = weight * matched as i64 / required as i64;
    match foreign {
        0 => credit,
        1 => credit / 2,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_identifiers_and_sentences_tokenise() {
        let text = prepare("Set optimizer.momentum to 0.9. Use lr=3e-4 or 20% (e.g. 1e-4)!");
        let s = sentences(&text);
        assert_eq!(s.len(), 2);
        assert!(s[0].contains(&Token::Word("momentum")));
        assert!(s[0].contains(&Token::Number(0.9)));
        assert!(s[1].contains(&Token::Number(3e-4)));
        assert!(s[1].contains(&Token::Number(0.2)));
        assert!(s[1].contains(&Token::Number(1e-4)));
    }

    #[test]
    fn negation_blocks_a_term() {
        let text = prepare("Do not lower the learning rate");
        let s = Sentence::new(sentences(&text).remove(0));
        assert!(!slot_present(&s, DOWN));
        let text = prepare("Lower the learning rate");
        let s = Sentence::new(sentences(&text).remove(0));
        assert!(slot_present(&s, DOWN));
    }
}
