//! Root-cause fields, grounded in the faulty statement (docs/GRADING.md).
//!
//! A config fault lives at a key path: the path, its last key, or a listed
//! alias earns the field. A code fault lives in one or two statements of
//! preprocessing.py: an answer earns the field when every part of it is an
//! identifier on a faulty statement or a name qualifying it (the enclosing
//! function, class, or the class of an object it uses), and it names the fault
//! more specifically than any healthy statement: it contains the identifier
//! that carries the fault, or it designates no healthy statement at all. The
//! enclosing function alone earns half, where that function hosts no other
//! fault of the task's pool. A list of several locations earns nothing unless
//! every one of them is the fault's.

use super::artifacts::code::{names, render_marked};
use super::catalogue::{ArtifactName, BugKind};
use super::locations::{Statement, statements};
use super::world::World;

/// Where in the code a fault sits, by the role of the function around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeSite {
    Split,
    Scale,
    Eval,
}

fn code_site(bug: BugKind) -> Option<CodeSite> {
    match bug {
        BugKind::ExplodingLr | BugKind::WrongOptimizer | BugKind::BatchSizeOverflow => None,
        BugKind::DataLeakageOverlap | BugKind::WrongSplitRatio => Some(CodeSite::Split),
        BugKind::DataLeakageScaler => Some(CodeSite::Scale),
        BugKind::LabelEncoderMismatch | BugKind::SilentMetricSwap | BugKind::TokenizerVersionDrift => {
            Some(CodeSite::Eval)
        }
    }
}

/// The function the site's statements sit in, for this episode's code.
pub fn site_function(w: &World, site: CodeSite) -> &'static str {
    let n = names(w);
    match site {
        CodeSite::Split => n.split_fn,
        CodeSite::Scale => n.scale_fn,
        CodeSite::Eval => n.eval_fn,
    }
}

/// Config faults: the key path, then other accepted names.
fn config_key(bug: BugKind) -> Option<(&'static str, &'static [&'static str])> {
    match bug {
        BugKind::ExplodingLr => Some(("optimizer.learning_rate", &["learning_rate", "lr"])),
        BugKind::WrongOptimizer => Some(("optimizer.momentum", &["momentum"])),
        BugKind::BatchSizeOverflow => Some(("training.batch_size", &["batch_size"])),
        _ => None,
    }
}

/// The identifiers that carry a code fault (lower case).
fn fault_elements(w: &World) -> Vec<String> {
    let n = names(w);
    let v: Vec<&str> = match w.bug {
        BugKind::DataLeakageScaler => vec!["fit_transform"],
        BugKind::DataLeakageOverlap => vec!["x_val", "y_val"],
        BugKind::WrongSplitRatio => vec!["test_size"],
        BugKind::LabelEncoderMismatch => vec!["eval_class_order", n.label_map_var],
        BugKind::SilentMetricSwap => vec!["val_accuracy", "test_accuracy"],
        BugKind::TokenizerVersionDrift => vec![n.eval_tokenizer_var],
        _ => vec![],
    };
    v.into_iter().map(str::to_string).collect()
}

/// Answers accepted besides the statement rule: the healthy side a label
/// mapping must match, and the reported metric a swap corrupts.
fn extra_forms(w: &World) -> Vec<String> {
    let n = names(w);
    match w.bug {
        BugKind::LabelEncoderMismatch => {
            vec!["labelencoder.classes_".into(), format!("{}.classes_", n.encoder_var), "classes_".into()]
        }
        BugKind::SilentMetricSwap => vec!["metrics.val_accuracy".into(), "metrics.test_accuracy".into()],
        _ => vec![],
    }
}

/// Names too generic to locate anything on their own.
const GENERIC: &[&str] = &[
    "for",
    "in",
    "return",
    "if",
    "else",
    "not",
    "and",
    "or",
    "lambda",
    "none",
    "true",
    "false",
    "enumerate",
    "len",
    "range",
    "list",
    "dict",
    "float",
    "int",
    "str",
    "np",
    "x",
    "y",
    "self",
    "_",
    "print",
    "index",
    "label",
    "name",
    "names",
    "split",
    "model",
];

/// The canonical field answer: it scores the field in full.
pub fn canonical_field(w: &World) -> String {
    if let Some((key, _)) = config_key(w.bug) {
        return key.into();
    }
    let n = names(w);
    match w.bug {
        BugKind::DataLeakageScaler => format!("{}.fit_transform", n.normaliser_class),
        BugKind::DataLeakageOverlap => format!("{}.X_val", n.split_fn),
        BugKind::WrongSplitRatio => "train_test_split.test_size".into(),
        BugKind::LabelEncoderMismatch => "EVAL_CLASS_ORDER".into(),
        BugKind::SilentMetricSwap => format!("{}.val_accuracy", n.results_var),
        _ => format!("{}.version", n.eval_tokenizer_var),
    }
}

/// The fault's location as a person reads it.
pub fn expected_location(w: &World) -> String {
    if let Some((key, _)) = config_key(w.bug) {
        return format!("config.yaml: {key}");
    }
    let (stmts, faulty) = code_statements(w);
    faulty.iter().map(|&i| describe(&stmts[i])).collect::<Vec<_>>().join("; ")
}

fn describe(s: &Statement) -> String {
    let head = if s.head.len() > 90 {
        format!("{} ...", s.head.chars().take(86).collect::<String>())
    } else {
        s.head.clone()
    };
    match &s.function {
        Some(f) => format!("preprocessing.py line {}, in {f}(): {head}", s.line + 1),
        None => format!("preprocessing.py line {}: {head}", s.line + 1),
    }
}

/// The statements of the episode's code and the indices of the faulty ones.
fn code_statements(w: &World) -> (Vec<Statement>, Vec<usize>) {
    let (code, lines) = render_marked(w);
    let stmts = statements(&code);
    let faulty = stmts.iter().enumerate().filter(|(_, s)| lines.contains(&s.line)).map(|(i, _)| i).collect();
    (stmts, faulty)
}

/// Trim, lower-case, drop quotes and backticks and a leading artifact name,
/// read `x[k]`, `::`, `->` and `:` as `.`, `f(k=v)` as `f.k` and `x = ...` as `x`.
pub fn normalise(answer: &str) -> String {
    let mut s: String =
        answer.trim().to_lowercase().chars().filter(|c| !matches!(c, '"' | '\'' | '`')).collect();
    for a in ArtifactName::ALL {
        if let Some(rest) = s.strip_prefix(a.as_str()) {
            let rest = rest.trim_start_matches([':', '.', ' ', '>', '-']);
            if !rest.is_empty() {
                s = rest.to_string();
            }
            break;
        }
    }
    // an assignment names its target ("optimizer.learning_rate: 21",
    // "split_dataset.test_size=0.87", "results[val_accuracy] = val_acc")
    let literal_after =
        |rest: &str| rest.trim_start().starts_with(|c: char| c.is_ascii_digit() || "-+.[{(".contains(c));
    let target = match s.split_once('=') {
        Some((lhs, _)) if !lhs.contains('(') && !lhs.trim().is_empty() => Some(lhs.to_string()),
        _ => match s.rsplit_once(':') {
            Some((lhs, rest)) if literal_after(rest) && !lhs.trim().is_empty() => Some(lhs.to_string()),
            _ => None,
        },
    };
    if let Some(lhs) = target {
        s = lhs;
    }
    // a call names the function and its keyword arguments
    if let Some((f, args)) = s.split_once('(') {
        let args = args.trim_end_matches(')');
        let keys: Vec<&str> = args
            .split(',')
            .map(|a| a.split('=').next().unwrap_or("").trim())
            .filter(|a| !a.is_empty())
            .collect();
        s = match (keys.len(), args.contains('=')) {
            (1, true) => format!("{}.{}", f.trim(), keys[0]),
            _ => f.trim().to_string(),
        };
    }
    s = s.replace("::", ".").replace("->", ".").replace([':', '['], ".").replace(']', "");
    let parts: Vec<&str> = s.split('.').map(str::trim).filter(|p| !p.is_empty()).collect();
    parts.join(".")
}

/// How an answer (or one item of a list) earned the field.
#[derive(Clone, Debug, PartialEq)]
enum Hit {
    Full(String),
    Half(String),
    Miss,
}

fn designates(parts: &[&str], s: &Statement) -> bool {
    let on = |p: &&str| s.idents.iter().any(|i| i == p);
    parts.iter().all(|p| on(p) || s.qualifiers.iter().any(|q| q == p))
        && parts.iter().any(|p| on(p) && !GENERIC.contains(p))
}

fn grade_item(w: &World, item: &str, code: &(Vec<Statement>, Vec<usize>)) -> Hit {
    if item.is_empty() {
        return Hit::Miss;
    }
    if let Some((key, aliases)) = config_key(w.bug) {
        let hit = item == key || aliases.contains(&item) || key.ends_with(&format!(".{item}"));
        return if hit { Hit::Full(format!("config.yaml: {key}")) } else { Hit::Miss };
    }
    let (stmts, faulty) = code;
    if extra_forms(w).iter().any(|f| f == item) {
        let at = faulty.first().map(|&i| describe(&stmts[i])).unwrap_or_default();
        return Hit::Full(at);
    }
    let parts: Vec<&str> = item.split('.').collect();
    let elements = fault_elements(w);
    let specific = parts.iter().any(|p| elements.iter().any(|e| e == p));
    let healthy_too = || stmts.iter().enumerate().any(|(i, s)| !faulty.contains(&i) && designates(&parts, s));
    for &i in faulty {
        if designates(&parts, &stmts[i]) && (specific || !healthy_too()) {
            return Hit::Full(describe(&stmts[i]));
        }
    }
    let site = code_site(w.bug).expect("code faults have a site");
    let shared = w.task.bug_pool().iter().any(|&b| b != w.bug && code_site(b) == Some(site));
    if let [one] = parts.as_slice()
        && !shared
        && faulty.iter().any(|&i| stmts[i].function.as_deref() == Some(*one))
    {
        return Hit::Half(format!("preprocessing.py: {one}() (the function, not the statement)"));
    }
    Hit::Miss
}

/// The field's grade: credit in basis points of `weight`, and the location the answer was matched to.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldGrade {
    pub credit: i64,
    pub matched: Option<String>,
}

pub fn grade_field(w: &World, answer: &str, weight: i64) -> FieldGrade {
    FieldKey::of(w).grade(answer, weight)
}

/// An episode's field key: its faulty and healthy statements, parsed once.
pub struct FieldKey<'w> {
    world: &'w World,
    code: (Vec<Statement>, Vec<usize>),
}

impl<'w> FieldKey<'w> {
    pub fn of(w: &'w World) -> FieldKey<'w> {
        let code = if config_key(w.bug).is_some() { (Vec::new(), Vec::new()) } else { code_statements(w) };
        FieldKey { world: w, code }
    }

    /// The statements of preprocessing.py (empty for a config fault).
    pub fn statements(&self) -> &[Statement] {
        &self.code.0
    }

    pub fn grade(&self, answer: &str, weight: i64) -> FieldGrade {
        grade_with(self.world, &self.code, answer, weight)
    }
}

fn grade_with(w: &World, code: &(Vec<Statement>, Vec<usize>), answer: &str, weight: i64) -> FieldGrade {
    let miss = FieldGrade { credit: 0, matched: None };
    // naming another artifact ("model_card.json: lr") is not this fault's place
    let lower = answer.trim().to_lowercase();
    if ArtifactName::ALL.iter().any(|a| *a != w.bug.file() && lower.starts_with(a.as_str())) {
        return miss;
    }
    // `x = y` with a name on the right: the left side counts alone only where
    // it is what a faulty statement assigns ("test_size = X_val" is not)
    if config_key(w.bug).is_none()
        && let Some((lhs, rhs)) = answer.split_once('=')
        && rhs.trim_start().starts_with(|c: char| c.is_alphabetic() || c == '_')
        && !assigns(code, &normalise(lhs))
    {
        let fragment = super::locations::identifiers(&lower).join(".");
        return match grade_item(w, &fragment, code) {
            Hit::Full(at) => FieldGrade { credit: weight, matched: Some(at) },
            _ => miss,
        };
    }
    // the answer as a whole; in config `/` separates keys, in code it separates a list
    let whole =
        if config_key(w.bug).is_some() { normalise(&answer.replace('/', ".")) } else { normalise(answer) };
    match grade_item(w, &whole, code) {
        Hit::Full(at) => return FieldGrade { credit: weight, matched: Some(at) },
        Hit::Half(at) => return FieldGrade { credit: weight / 2, matched: Some(at) },
        Hit::Miss => {}
    }
    // a quoted statement or call: all its names together designate one statement
    if answer.contains(['(', '=']) {
        let fragment = super::locations::identifiers(&answer.to_lowercase()).join(".");
        if let Hit::Full(at) = grade_item(w, &fragment, code) {
            return FieldGrade { credit: weight, matched: Some(at) };
        }
    }
    // a list: every item must be the fault's
    let items: Vec<String> = lower
        .replace(" and ", ",")
        .replace(" or ", ",")
        .split([',', ';', '/', '&', '|', '\n'])
        .map(normalise)
        .filter(|i| !i.is_empty())
        .collect();
    if items.len() < 2 {
        return miss;
    }
    let hits: Vec<Hit> = items.iter().map(|i| grade_item(w, i, code)).collect();
    if hits.iter().all(|h| matches!(h, Hit::Full(_))) {
        let at = hits.iter().filter_map(|h| if let Hit::Full(a) = h { Some(a.clone()) } else { None });
        let mut at: Vec<String> = at.collect();
        at.dedup();
        return FieldGrade { credit: weight, matched: Some(at.join("; ")) };
    }
    miss
}

/// Whether a faulty statement assigns to every name of `target` (qualifiers aside).
fn assigns(code: &(Vec<Statement>, Vec<usize>), target: &str) -> bool {
    let (stmts, faulty) = code;
    faulty.iter().any(|&i| {
        let s = &stmts[i];
        let Some((lhs, _)) = s.head.split_once(" = ") else { return false };
        let assigned = super::locations::identifiers(&lhs.to_lowercase());
        let parts: Vec<&str> = target.split('.').filter(|p| !s.qualifiers.iter().any(|q| q == p)).collect();
        !parts.is_empty() && parts.iter().all(|p| assigned.iter().any(|a| a == p))
    })
}

/// Whether an answer earns the whole field.
pub fn field_matches(w: &World, answer: &str) -> bool {
    grade_field(w, answer, 2).credit == 2
}

/// Answers that earn the whole field, canonical first (examples for tests
/// and docs; the rule above is what decides).
pub fn accepted_forms(w: &World) -> Vec<String> {
    let mut out = vec![canonical_field(w)];
    if let Some((_, aliases)) = config_key(w.bug) {
        out.extend(aliases.iter().map(|a| a.to_string()));
        return out;
    }
    let n = names(w);
    let site = site_function(w, code_site(w.bug).expect("code fault"));
    match w.bug {
        BugKind::DataLeakageScaler => {
            out.extend([format!("{}.fit_transform", n.normaliser_var), format!("{site}.fit_transform")])
        }
        BugKind::DataLeakageOverlap => out.extend(["X_val".into(), "train_test_split.X_val".into()]),
        BugKind::WrongSplitRatio => out.extend(["test_size".into(), format!("{site}.test_size")]),
        BugKind::LabelEncoderMismatch => out.extend([
            n.label_map_var.to_string(),
            "LabelEncoder.classes_".into(),
            format!("{site}.{}", n.label_map_var),
        ]),
        BugKind::SilentMetricSwap => out.extend([
            "val_accuracy".into(),
            format!("{}[\"test_accuracy\"]", n.results_var),
            "metrics.val_accuracy".into(),
        ]),
        _ => out.extend([n.eval_tokenizer_var.to_string(), format!("{site}.version")]),
    }
    out
}
