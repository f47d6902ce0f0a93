//! Reading a proposed fix: normalised spelling, tokens (words, numbers in any
//! notation, ratios, versions, code symbols), sentences and clauses, and the
//! scopes the concept detectors respect: negation ("not", "instead of"),
//! hedges ("optionally", "if you want") and old values ("from X to", "was X").

/// One token of a fix.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    Word(String),
    /// A number; percentages are already divided by 100.
    Number(f64),
    /// `a/b` whose parts add up to 100 (or 10): a split ratio, first part first.
    Ratio(f64, f64),
    /// `v4`, `v3.2`.
    Version(u32, Option<u32>),
    Sym(char),
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub kind: Kind,
    /// Clause within the sentence (clauses end at `;`, `,`, parentheses and
    /// conjunctions), for binding a direction word to its subject.
    pub clause: u32,
    pub negated: bool,
    /// In an optional aside: counts neither for nor against a fix.
    pub hedged: bool,
    /// A current or old value ("from 45 to", "was 80", "rather than 50,000"), not a proposal.
    pub old: bool,
}

impl Token {
    pub fn word(&self) -> Option<&str> {
        match &self.kind {
            Kind::Word(w) => Some(w),
            _ => None,
        }
    }
    pub fn is_sym(&self, c: char) -> bool {
        self.kind == Kind::Sym(c)
    }
    /// Counts as asserted: neither negated nor hedged.
    pub fn asserted(&self) -> bool {
        !self.negated && !self.hedged
    }
}

pub(crate) struct Sentence {
    pub tokens: Vec<Token>,
    /// Spans already found per word class (keyed by the class's address):
    /// detectors ask for the same classes many times, and without this a long
    /// fix costs quadratic time (a 2,000-character fix took seconds).
    spans_cache: std::cell::RefCell<Vec<(usize, std::rc::Rc<[Span]>)>>,
}

/// A word class: each entry is a word pattern or a phrase of patterns
/// separated by spaces. A pattern `abc*` matches words starting with `abc`,
/// `*abc` words ending with it; other patterns match the word exactly, with
/// doubled letters folded, or (patterns of five letters or more) one typo away.
pub(crate) type Lex = &'static [&'static str];

/// Lower-cases and rewrites what has several spellings into one: arrows,
/// dashes, superscripts, contractions, abbreviations.
pub(crate) fn normalise(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\u{2192}' | '\u{21d2}' | '\u{27f6}' | '\u{2794}' => s.push_str(" to "),
            '\u{2190}' | '\u{27f5}' => s.push_str(" = "),
            '\u{d7}' | '\u{22c5}' => s.push_str(" x "),
            '\u{2212}' | '\u{2013}' | '\u{2010}' | '\u{2011}' => s.push('-'),
            '\u{2014}' => s.push_str(" ; "),
            '\u{207b}' => s.push_str("^-"),
            '\u{2070}' => s.push('0'),
            '\u{b9}' => s.push('1'),
            '\u{b2}' => s.push('2'),
            '\u{b3}' => s.push('3'),
            '\u{2074}'..='\u{2079}' => s.push(char::from(b'4' + (c as u32 - 0x2074) as u8)),
            '\u{2018}' | '\u{2019}' => s.push('\''),
            '\u{201c}' | '\u{201d}' => s.push('"'),
            '~' | '\u{2248}' => s.push_str(" about "),
            '\u{2264}' => s.push_str(" at most "),
            '\u{2265}' => s.push_str(" at least "),
            _ => s.extend(c.to_lowercase()),
        }
    }
    let mut s = s
        .replace("n't", " not")
        .replace("cannot", "can not")
        .replace("e.g.", "eg")
        .replace("i.e.", "ie")
        .replace("vs.", "vs")
        .replace("etc.", "etc")
        .replace(" w/o ", " without ")
        .replace(" w/ ", " with ")
        .replace("->", " to ")
        .replace("=>", " to ")
        .replace("<-", " = ")
        .replace("**", "^")
        .replace("held-out", "heldout")
        .replace("hold-out", "holdout")
        .replace("warm-up", "warmup")
        .replace("mini-batch", "minibatch")
        .replace("re-key", "rekey");
    // a spaced hyphen is a dash: a clause break; a hyphen between letters joins two words
    s = s.replace(" - ", " ; ");
    let chars: Vec<char> = s.chars().collect();
    let mut joined = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        let between_letters = c == '-'
            && i > 0
            && chars[i - 1].is_alphabetic()
            && chars.get(i + 1).is_some_and(|n| n.is_alphabetic());
        joined.push(if between_letters { ' ' } else { c });
    }
    joined
}

/// British spellings to American ones, so that one lexicon serves both.
fn americanise(word: &str) -> String {
    const ALREADY_RIGHT: &[&str] = &[
        "otherwise",
        "likewise",
        "clockwise",
        "promise",
        "premise",
        "precise",
        "concise",
        "expertise",
        "exercise",
    ];
    if ALREADY_RIGHT.contains(&word) {
        return word.to_string();
    }
    let w = word.replace("isation", "ization").replace("artefact", "artifact");
    for suffix in ["ise", "ised", "ises", "ising", "iser", "isers"] {
        if let Some(stem) = w.strip_suffix(suffix)
            && stem.len() >= 4
            && stem.bytes().all(|b| b.is_ascii_alphabetic())
        {
            return format!("{stem}iz{}", &suffix[2..]);
        }
    }
    w
}

fn fold_doubles(w: &str) -> String {
    let mut out = String::with_capacity(w.len());
    for c in w.chars() {
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

/// Damerau-Levenshtein distance of at most one.
fn one_typo(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    if la == lb {
        ra[1..] == rb[1..] || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
    } else if la > lb {
        ra[1..] == *rb
    } else {
        *ra == rb[1..]
    }
}

pub(crate) fn word_matches(pattern: &str, word: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix('*') {
        return word.starts_with(prefix);
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        return word.ends_with(suffix);
    }
    if pattern == word {
        return true;
    }
    if fold_doubles(pattern) == fold_doubles(word) {
        return true;
    }
    pattern.len() >= 5
        && word.len() >= 4
        && pattern.as_bytes()[0] == word.as_bytes()[0]
        && !word.bytes().any(|b| b.is_ascii_digit())
        && one_typo(pattern.as_bytes(), word.as_bytes())
}

const NEGATIONS: &[&str] =
    &["not", "no", "never", "without", "avoid", "nor", "neither", "stop", "non", "none"];
/// Two-word negations: what follows is what the fix replaces.
const NEGATION_PAIRS: &[(&str, &str)] =
    &[("instead", "of"), ("rather", "than"), ("in", "place"), ("as", "opposed"), ("other", "than")];
const HEDGES: &[&str] = &["optionally", "optional", "nice", "bonus"];
const HEDGE_PAIRS: &[(&str, &str)] = &[
    ("if", "desired"),
    ("if", "needed"),
    ("if", "necessary"),
    ("could", "also"),
    ("might", "also"),
    ("may", "also"),
];
/// Words after which numbers are the current value, until the clause ends.
const OLD_MARKERS: &[&str] =
    &["was", "were", "currently", "current", "than", "from", "previously", "vs", "existing", "unchanged"];
/// Words that make their clause a statement about what is already so ("the
/// tokenizer is fine", "the splits are already disjoint"): an aside.
const STATUS_QUO: &[&str] = &["already", "fine", "ok", "okay"];
/// Words after which the rest of the sentence is an alternative or an aside:
/// it counts neither for a fix nor as proposing another fault's fix.
const ALTERNATIVES: &[&str] = &["alternatively", "otherwise"];
/// `or` followed by one of these starts an alternative ("or lower it to 0.01").
const ALTERNATIVE_VERBS: &[&str] = &[
    "lower", "raise", "reduce", "increase", "decrease", "switch", "use", "change", "set", "drop", "cut",
    "bump", "try", "replace", "swap", "move", "go",
];
/// Verbs whose object up to the next `to`/`with` is the old value when new values follow.
const CHANGE_VERBS: &[&str] =
    &["change", "replace", "switch", "move", "go", "edit", "update", "turn", "convert"];
/// Verbs that start new advice after "and" inside a negation.
const ADVICE_VERBS: &[&str] = &[
    "fit",
    "use",
    "set",
    "split",
    "call",
    "load",
    "move",
    "apply",
    "reuse",
    "transform",
    "lower",
    "reduce",
    "store",
    "write",
    "build",
    "take",
    "draw",
    "carve",
    "keep",
    "put",
    "swap",
    "pin",
    "pass",
    "compute",
];
/// Words that end a clause (besides `;`, `,`, `:` and parentheses).
const CLAUSE_WORDS: &[&str] =
    &["and", "but", "so", "because", "since", "which", "while", "whereas", "then", "instead"];
/// Nouns after which a parenthesised number is the value in place.
const SETTING_NOUNS: &[&str] =
    &["size", "rate", "lr", "momentum", "batch_size", "test_size", "learning_rate"];

const FRACTION_COUNTS: &[(&str, f64)] = &[
    ("a", 1.0),
    ("an", 1.0),
    ("one", 1.0),
    ("two", 2.0),
    ("three", 3.0),
    ("four", 4.0),
    ("five", 5.0),
    ("six", 6.0),
    ("seven", 7.0),
    ("eight", 8.0),
    ("nine", 9.0),
];
const FRACTION_PARTS: &[(&str, f64)] = &[
    ("half", 2.0),
    ("halves", 2.0),
    ("third", 3.0),
    ("thirds", 3.0),
    ("quarter", 4.0),
    ("quarters", 4.0),
    ("fifth", 5.0),
    ("fifths", 5.0),
    ("tenth", 10.0),
    ("tenths", 10.0),
];

/// Raw lexing: words, numbers and symbols, with `None` marking a sentence end.
fn lex(s: &str) -> Vec<Option<Kind>> {
    let b: Vec<char> = s.chars().collect();
    let word_char = |c: char| c.is_alphanumeric() || c == '_';
    let mut out: Vec<Option<Kind>> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let prev_word = i > 0 && word_char(b[i - 1]);
        let starts_number =
            c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit()) && !prev_word);
        if starts_number && !prev_word {
            let start = i;
            let mut digits = String::new();
            while i < b.len() && b[i].is_ascii_digit() {
                digits.push(b[i]);
                i += 1;
                // thousands separators: 12,000 and 50,000 (0,001 is a decimal comma)
                if digits != "0"
                    && b.get(i) == Some(&',')
                    && b.get(i + 1..i + 4).is_some_and(|g| g.iter().all(|d| d.is_ascii_digit()))
                    && !b.get(i + 4).is_some_and(|d| d.is_ascii_digit())
                {
                    i += 1;
                }
            }
            let mut text = digits;
            let decimal_comma = b.get(i) == Some(&',') && text == "0";
            if i + 1 < b.len() && (b[i] == '.' || decimal_comma) && b[i + 1].is_ascii_digit() {
                text.push('.');
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    text.push(b[i]);
                    i += 1;
                }
            }
            if i < b.len() && b[i] == 'e' {
                let mut j = i + 1;
                if j < b.len() && matches!(b[j], '-' | '+') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    text.push('e');
                    text.extend(&b[i + 1..j]);
                    while j < b.len() && b[j].is_ascii_digit() {
                        text.push(b[j]);
                        j += 1;
                    }
                    i = j;
                }
            }
            // `1k`, `60k`: thousands
            if b.get(i) == Some(&'k') && !b.get(i + 1).is_some_and(|c| word_char(*c)) {
                let value: f64 = text.parse::<f64>().unwrap_or(f64::NAN) * 1000.0;
                out.push(Some(Kind::Number(value)));
                i += 1;
                continue;
            }
            if i < b.len() && (b[i].is_alphabetic() || b[i] == '_') {
                // `10x`, `3d`: a word
                while i < b.len() && word_char(b[i]) {
                    i += 1;
                }
                out.push(Some(Kind::Word(b[start..i].iter().collect())));
                continue;
            }
            let mut value: f64 = text.parse().unwrap_or(f64::NAN);
            // `20%`, `20 %`
            let spaces = b[i..].iter().take_while(|c| **c == ' ').count();
            if b.get(i + spaces) == Some(&'%') {
                value /= 100.0;
                i += spaces + 1;
            }
            out.push(Some(Kind::Number(value)));
            continue;
        }
        if word_char(c) {
            let start = i;
            while i < b.len() && word_char(b[i]) {
                i += 1;
            }
            let w: String = b[start..i].iter().collect();
            if let Some(v) = version(&w, &b[i..]) {
                // `v3.2`: consume the minor part
                if v.1.is_some() {
                    i += 1;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                out.push(Some(Kind::Version(v.0, v.1)));
                continue;
            }
            out.push(Some(Kind::Word(americanise(&w))));
            continue;
        }
        let ends_sentence =
            matches!(c, '!' | '?' | '\n') || (c == '.' && next.is_none_or(|n| n.is_whitespace()));
        if ends_sentence {
            out.push(None);
        } else if !c.is_whitespace() && !matches!(c, '"' | '\'' | '`') {
            out.push(Some(Kind::Sym(c)));
        }
        i += 1;
    }
    out
}

/// `v4` or `v3` followed by `.2`: a version.
fn version(word: &str, rest: &[char]) -> Option<(u32, Option<u32>)> {
    let digits = word.strip_prefix('v')?;
    let major: u32 = digits.parse().ok()?;
    let minor = (rest.first() == Some(&'.') && rest.get(1).is_some_and(|c| c.is_ascii_digit())).then(|| {
        rest[1..].iter().take_while(|c| c.is_ascii_digit()).collect::<String>().parse().unwrap_or(0)
    });
    Some((major, minor))
}

/// Combines numbers written in several tokens: `1 x 10^-4`, `2^7`, ranges
/// `10-20%`, ratios `80/20`, fractions `1/5`, and fraction words `four fifths`.
fn combine_numbers(tokens: Vec<Kind>) -> Vec<Kind> {
    let num = |k: Option<&Kind>| match k {
        Some(Kind::Number(v)) => Some(*v),
        _ => None,
    };
    // powers first: a ^ [-] b
    let mut out: Vec<Kind> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if let Some(a) = num(tokens.get(i))
            && tokens.get(i + 1) == Some(&Kind::Sym('^'))
        {
            let neg = tokens.get(i + 2) == Some(&Kind::Sym('-'));
            let at = if neg { i + 3 } else { i + 2 };
            if let Some(e) = num(tokens.get(at)) {
                let e = if neg { -e } else { e };
                let mut value = libm::pow(a, e);
                // `1 x 10^-4`, `5*10^-1`
                let times = matches!(out.last(), Some(Kind::Word(w)) if w == "x")
                    || out.last() == Some(&Kind::Sym('*'));
                if times && let Some(Kind::Number(m)) = out.get(out.len().wrapping_sub(2)) {
                    value *= *m;
                    out.truncate(out.len() - 2);
                }
                out.push(Kind::Number(value));
                i = at + 1;
                continue;
            }
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    let tokens = out;
    let mut out: Vec<Kind> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        // a three-way split `70/15/15`: train against the rest
        if let (Some(a), Some(Kind::Sym('/')), Some(b), Some(Kind::Sym('/')), Some(c)) = (
            num(tokens.get(i)),
            tokens.get(i + 1),
            num(tokens.get(i + 2)),
            tokens.get(i + 3),
            num(tokens.get(i + 4)),
        ) && a + b + c == 100.0
        {
            out.push(Kind::Ratio(a, b + c));
            i += 5;
            continue;
        }
        // `80-20`, `80:20`: a split, not a range
        if let (Some(a), Some(Kind::Sym('-' | ':')), Some(b)) =
            (num(tokens.get(i)), tokens.get(i + 1), num(tokens.get(i + 2)))
            && a + b == 100.0
            && a >= 5.0
            && b >= 5.0
        {
            out.push(Kind::Ratio(a, b));
            i += 3;
            continue;
        }
        // `version="2.1"`, `version 3.4`, `version to 2.1`: a version, not a number
        let link = matches!(out.last(), Some(Kind::Sym('=' | ':')) | Some(Kind::Word(_)) if !matches!(out.last(), Some(Kind::Word(w)) if w == "version"))
            && !matches!(out.last(), Some(Kind::Word(w)) if !["to", "of", "is"].contains(&w.as_str()));
        if let Some(v) = num(tokens.get(i))
            && (matches!(out.last(), Some(Kind::Word(w)) if w == "version")
                || (link
                    && matches!(out.get(out.len().wrapping_sub(2)), Some(Kind::Word(w)) if w == "version")))
        {
            let text = format!("{v}");
            let (major, minor) = text.split_once('.').unwrap_or((&text, ""));
            if let Ok(major) = major.parse() {
                out.push(Kind::Version(major, minor.parse().ok()));
                i += 1;
                continue;
            }
        }
        // ranges: the percent of the upper bound applies to the lower one
        if let (Some(a), Some(Kind::Sym('-')), Some(b)) =
            (num(tokens.get(i)), tokens.get(i + 1), num(tokens.get(i + 2)))
        {
            let a = if b < 1.0 && (1.0..=100.0).contains(&a) && b * 100.0 >= a { a / 100.0 } else { a };
            out.push(Kind::Number(a));
            out.push(Kind::Number(b));
            i += 3;
            continue;
        }
        if let (Some(a), Some(Kind::Sym('/')), Some(b)) =
            (num(tokens.get(i)), tokens.get(i + 1), num(tokens.get(i + 2)))
        {
            if a + b == 100.0 || a + b == 10.0 || a + b == 1.0 {
                out.push(Kind::Ratio(a, b));
            } else if b > 0.0 {
                out.push(Kind::Number(a / b));
            }
            i += 3;
            continue;
        }
        if let (Some(Kind::Word(count)), Some(Kind::Word(part))) = (tokens.get(i), tokens.get(i + 1))
            && let Some(&(_, n)) = FRACTION_COUNTS.iter().find(|(w, _)| w == count)
            && let Some(&(_, d)) = FRACTION_PARTS.iter().find(|(w, _)| w == part)
        {
            out.push(Kind::Number(n / d));
            i += 2;
            continue;
        }
        if let (Some(a), Some(Kind::Word(w))) = (num(tokens.get(i)), tokens.get(i + 1))
            && w == "percent"
        {
            out.push(Kind::Number(a / 100.0));
            i += 2;
            continue;
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    out
}

/// Structural words (conjunctions, negations, markers) match exactly: "whole" is not "while".
fn is_word(k: &Kind, set: &[&str]) -> bool {
    matches!(k, Kind::Word(w) if set.contains(&w.as_str()))
}

fn is_value(k: &Kind) -> bool {
    matches!(k, Kind::Number(_) | Kind::Ratio(..) | Kind::Version(..))
}

/// Marks clauses and scopes on one sentence's tokens.
fn sentence(kinds: Vec<Kind>) -> Sentence {
    let kinds = combine_numbers(kinds);
    let n = kinds.len();
    let mut tokens: Vec<Token> = kinds
        .into_iter()
        .map(|kind| Token { kind, clause: 0, negated: false, hedged: false, old: false })
        .collect();
    let word = |t: &[Token], i: usize| t.get(i).and_then(|t| t.word().map(str::to_string));
    let breaks_clause = |t: &Token| {
        matches!(t.kind, Kind::Sym(';' | ',' | '(' | ')' | ':' | '[' | ']' | '{' | '}'))
            || is_word(&t.kind, CLAUSE_WORDS)
    };
    // clauses
    let mut clause = 0;
    for t in tokens.iter_mut() {
        if breaks_clause(t) {
            clause += 1;
        }
        t.clause = clause;
    }
    // negation: to the end of the clause ("and" does not end it)
    let ends_negation = |t: &Token| {
        matches!(t.kind, Kind::Sym(';' | ',' | '(' | ')' | ':'))
            || is_word(&t.kind, &["but", "instead", "so", "then", "because", "which", "while"])
    };
    // "do not fit on X and fit it on X_train": the second verb is new advice
    let restarts_advice = |t: &[Token], j: usize| {
        t[j].word() == Some("and")
            && t.get(j + 1).and_then(|x| x.word()).is_some_and(|v| ADVICE_VERBS.contains(&v))
            || matches!(t[j].word(), Some("by" | "set" | "use"))
    };
    let mut i = 0;
    while i < n {
        let w = word(&tokens, i);
        let pair = w.as_deref().is_some_and(|a| {
            NEGATION_PAIRS.iter().any(|(x, y)| *x == a && word(&tokens, i + 1).as_deref() == Some(*y))
        });
        let single = w.as_deref().is_some_and(|a| NEGATIONS.contains(&a));
        // "avoid divergence by lowering ...", "to avoid leakage set ...": what is
        // avoided is a short phrase, not the advice that follows
        let avoid = matches!(w.as_deref(), Some("avoid" | "avoiding" | "prevent" | "preventing"));
        if pair || single || avoid {
            let mut j = i + if pair { 2 } else { 1 };
            let limit = if avoid { i + 3 } else { n };
            while j < n.min(limit) && !ends_negation(&tokens[j]) && !restarts_advice(&tokens, j) {
                tokens[j].negated = true;
                j += 1;
            }
            i = j;
            continue;
        }
        i += 1;
    }
    // hedges: "optional" hedges its whole clause ("warmup is optional"), the
    // others what follows them; either to the end of the sentence
    for i in 0..n {
        let w = word(&tokens, i);
        let next = word(&tokens, i + 1);
        let after = word(&tokens, i + 2);
        // "fine" in "fine-tune" is no verdict
        let status_quo = (w.as_deref().is_some_and(|a| STATUS_QUO.contains(&a))
            && !matches!(next.as_deref(), Some("tune" | "tuned" | "tuning" | "grained")))
            || (w.as_deref() == Some("as") && next.as_deref() == Some("is"));
        // "(and if you want, ...)": an aside; "if you want stable training, lower ..." is advice
        let if_you_want = w.as_deref() == Some("if")
            && next.as_deref() == Some("you")
            && matches!(after.as_deref(), Some("want" | "like" | "wish" | "prefer"))
            && tokens.get(i + 3).is_none_or(|t| t.is_sym(',') || t.is_sym(')'));
        let whole_clause = w.as_deref().is_some_and(|a| HEDGES.contains(&a)) || status_quo || if_you_want;
        let from_here = w.as_deref().is_some_and(|a| {
            HEDGE_PAIRS.iter().any(|(x, y)| *x == a && next.as_deref() == Some(*y))
                || ALTERNATIVES.contains(&a)
                || (a == "or" && next.as_deref().is_some_and(|v| ALTERNATIVE_VERBS.contains(&v)))
        });
        if whole_clause || from_here {
            let c = tokens[i].clause;
            for (j, t) in tokens.iter_mut().enumerate() {
                if (whole_clause && t.clause >= c) || j >= i {
                    t.hedged = true;
                }
            }
            break;
        }
    }
    // old values
    for i in 0..n {
        let is_marker = word(&tokens, i).is_some_and(|a| OLD_MARKERS.contains(&a.as_str()))
            || (word(&tokens, i).as_deref() == Some("right")
                && word(&tokens, i + 1).as_deref() == Some("now"))
            || tokens[i].is_sym('#');
        if is_marker {
            let c = tokens[i].clause;
            let mut j = i + 1;
            while j < n && tokens[j].clause == c && !is_word(&tokens[j].kind, &["to", "into"]) {
                tokens[j].old = true;
                j += 1;
            }
        }
        // `0.99 to 0.9`, `v3 to v4`
        if is_value(&tokens[i].kind)
            && word(&tokens, i + 1).as_deref() == Some("to")
            && tokens.get(i + 2).is_some_and(|t| is_value(&t.kind))
        {
            tokens[i].old = true;
        }
        // `(16384)` after the setting it describes
        if tokens[i].is_sym('(')
            && i > 0
            && is_word(&tokens[i - 1].kind, SETTING_NOUNS)
            && tokens.get(i + 1).is_some_and(|t| is_value(&t.kind))
            && tokens.get(i + 2).is_some_and(|t| t.is_sym(')'))
        {
            tokens[i + 1].old = true;
        }
        // `change A to B`: A is old when B holds a value
        if is_word(&tokens[i].kind, CHANGE_VERBS) {
            let to = (i + 1..n).find(|&j| is_word(&tokens[j].kind, &["to", "with", "by", "for"]));
            if let Some(to) = to
                && tokens[to + 1..].iter().any(|t| is_value(&t.kind))
            {
                for t in &mut tokens[i + 1..to] {
                    t.old = true;
                }
            }
        }
    }
    Sentence { tokens, spans_cache: std::cell::RefCell::new(Vec::new()) }
}

/// The fix as sentences of tokens.
pub(crate) fn analyse(fix: &str) -> Vec<Sentence> {
    let mut sentences = Vec::new();
    let mut current = Vec::new();
    for k in lex(&normalise(fix)) {
        match k {
            Some(k) => current.push(k),
            None if current.is_empty() => {}
            None => sentences.push(sentence(std::mem::take(&mut current))),
        }
    }
    if !current.is_empty() {
        sentences.push(sentence(current));
    }
    // a diff: the lines it removes (`- lr: 1e-3` beside `+ lr: 21`) are old
    let starts = |s: &Sentence, c: char| s.tokens.first().is_some_and(|t| t.is_sym(c));
    if sentences.iter().any(|s| starts(s, '+')) && sentences.iter().any(|s| starts(s, '-')) {
        for s in sentences.iter_mut().filter(|s| starts(s, '-')) {
            for t in &mut s.tokens {
                t.old = true;
                t.negated = true;
            }
        }
    }
    sentences
}

/// A phrase occurrence: the index of its first token.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub start: usize,
}

impl Sentence {
    /// Every occurrence of the class's phrases, with any polarity, outside hedges.
    pub fn spans(&self, lex: Lex) -> std::rc::Rc<[Span]> {
        let key = lex.as_ptr() as usize;
        if let Some((_, hit)) = self.spans_cache.borrow().iter().find(|(k, _)| *k == key) {
            return hit.clone();
        }
        let found: std::rc::Rc<[Span]> = self.find_spans(lex).into();
        self.spans_cache.borrow_mut().push((key, found.clone()));
        found
    }

    fn find_spans(&self, lex: Lex) -> Vec<Span> {
        let t = &self.tokens;
        let mut out = Vec::new();
        for phrase in lex {
            let parts: Vec<&str> = phrase.split(' ').collect();
            if parts.len() > t.len() {
                continue;
            }
            for start in 0..=t.len() - parts.len() {
                let hit = parts
                    .iter()
                    .enumerate()
                    .all(|(k, p)| t[start + k].word().is_some_and(|w| word_matches(p, w)));
                if hit && !t[start].hedged {
                    out.push(Span { start });
                }
            }
        }
        out.sort_by_key(|s| s.start);
        out
    }

    /// Occurrences that are asserted (not negated, not hedged).
    pub fn asserted(&self, lex: Lex) -> Vec<Span> {
        self.spans(lex).iter().copied().filter(|s| self.tokens[s.start].asserted()).collect()
    }

    /// Mentioned at all, outside hedges: subjects count even when negated
    /// ("don't keep momentum at 0.999; drop it to 0.9").
    pub fn mentions(&self, lex: Lex) -> bool {
        !self.spans(lex).is_empty()
    }

    pub fn has(&self, lex: Lex) -> bool {
        self.spans(lex).iter().any(|s| self.tokens[s.start].asserted())
    }

    /// Asserted in the given clause.
    pub fn clause_has(&self, clause: u32, lex: Lex) -> bool {
        self.spans(lex)
            .iter()
            .any(|s| self.tokens[s.start].asserted() && self.tokens[s.start].clause == clause)
    }

    /// Proposed numbers: asserted and not an old value, with their token index.
    pub fn proposed_numbers(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.tokens.iter().enumerate().filter_map(|(i, t)| match t.kind {
            Kind::Number(v) if t.asserted() && !t.old && v.is_finite() => Some((i, v)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Kind> {
        analyse(text).into_iter().flat_map(|s| s.tokens.into_iter().map(|t| t.kind)).collect()
    }

    #[test]
    fn numbers_in_any_notation() {
        let k = kinds("lr 1 × 10⁻⁴ or 10^-4, 2^7 = 128, 50,000 rows, 20%, 80 percent, 3e-4, a fifth, 10-20%");
        for v in [1e-4, 128.0, 50_000.0, 0.2, 0.8, 3e-4, 0.1] {
            assert!(k.iter().any(|x| matches!(x, Kind::Number(n) if (n - v).abs() < 1e-12)), "{v} in {k:?}");
        }
        assert!(k.contains(&Kind::Number(128.0)));
        assert!(kinds("an 80/20 split").contains(&Kind::Ratio(80.0, 20.0)));
        assert!(kinds("tokenizer v3.2 at eval").contains(&Kind::Version(3, Some(2))));
    }

    #[test]
    fn negation_is_scoped_to_its_clause() {
        let s = &analyse("Don't keep momentum at 0.999; drop it to 0.9")[0];
        let neg: Vec<bool> = s.tokens.iter().map(|t| t.negated).collect();
        let drop = s.tokens.iter().position(|t| t.word() == Some("drop")).unwrap();
        assert!(neg[2] && !neg[drop]);
        let s = &analyse("use train_size=0.8 instead of test_size=0.8")[0];
        assert!(s.tokens.iter().any(|t| t.word() == Some("test_size") && t.negated));
        assert!(s.tokens.iter().any(|t| t.word() == Some("train_size") && !t.negated));
    }

    #[test]
    fn old_values_and_hedges() {
        let s = &analyse("Lower optimizer.learning_rate from 45.0 to 1e-3, optionally lower the momentum")[0];
        let nums: Vec<f64> = s.proposed_numbers().map(|(_, v)| v).collect();
        assert_eq!(nums, vec![1e-3]);
        assert!(s.tokens.iter().any(|t| t.word() == Some("momentum") && t.hedged));
    }

    #[test]
    fn spelling_and_typos() {
        assert!(word_matches("normalization", &americanise("normalisation")));
        assert!(word_matches("optimizer", &americanise("optimiser")));
        assert!(word_matches("learning", "learnign"));
        assert!(word_matches("fit", "fitt"));
        assert!(!word_matches("increase", "decrease"));
        assert_eq!(americanise("raise"), "raise");
    }
}
