//! Fix rubrics: each bug's right fix as concepts (`concepts.rs`), detected in
//! the fix as written (`text.rs`: spelling, numbers in any notation, negation
//! scoped to its clause, hedges, old values versus proposed ones). A fix
//! earns the fix weight times the share of its bug's concepts it asserts; a
//! fix that also distinctively proposes one other fault's fix keeps half of
//! that, two or more nothing.

mod concepts;
mod text;

use concepts::{Fix, Strength, rubric};

use super::catalogue::BugKind;
use super::world::World;

/// What the rubric found in a fix.
#[derive(Clone, Debug, PartialEq)]
pub struct FixGrade {
    /// Basis points of the weight asked for.
    pub credit: i64,
    /// Concepts of the episode's rubric the fix asserts.
    pub found: Vec<&'static str>,
    /// Concepts of the episode's rubric it does not.
    pub missing: Vec<&'static str>,
    /// Other faults whose fix it also proposes.
    pub foreign: Vec<BugKind>,
}

/// Grades a fix against the episode's bug, out of `weight` basis points.
pub fn grade_fix(w: &World, fix: &str, weight: i64) -> FixGrade {
    let fix = Fix { sentences: text::analyse(fix) };
    let (found, missing): (Vec<_>, Vec<_>) =
        rubric(w.bug).iter().partition(|c| (c.detect)(&fix, w).is_some());
    let foreign: Vec<BugKind> = BugKind::ALL
        .into_iter()
        .filter(|&b| b != w.bug)
        .filter(|&b| rubric(b).iter().all(|c| (c.detect)(&fix, w) == Some(Strength::Distinctive)))
        .collect();
    let required = rubric(w.bug).len() as i64;
    let credit = weight * found.len() as i64 / required;
    let credit = match foreign.len() {
        0 => credit,
        1 => credit / 2,
        _ => 0,
    };
    FixGrade {
        credit,
        found: found.iter().map(|c| c.id).collect(),
        missing: missing.iter().map(|c| c.id).collect(),
        foreign,
    }
}

/// Fix credit in basis points of the full weight `weight`.
pub fn fix_credit(w: &World, fix: &str, weight: i64) -> i64 {
    grade_fix(w, fix, weight).credit
}
