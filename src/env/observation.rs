//! What the agent sees: the observation, the results of actions, the end
//! object and the public state. All serialised from typed structs.

use serde::Serialize;

use super::action::{ActionType, ValidationError};
use super::artifacts::tree::Node;
use super::catalogue::*;
use super::checks::CheckResult;
use super::grader::{Bp, Breakdown, GroundTruth};
use super::num::IsoTime;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSummary {
    pub model: &'static str,
    pub dataset: &'static str,
    pub task_type: &'static str,
    pub status: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ArtifactInfo {
    pub name: ArtifactName,
    pub description: &'static str,
    pub size_hint: &'static str,
    /// When the artifact was uploaded for review: the six are uploaded
    /// together, in listing order, a while after the run's evaluation (not the
    /// time the run wrote the file; docs/ENVIRONMENT.md, Timeline).
    pub last_modified: IsoTime,
}

/// The six artifacts' listing, held as the upload times it is made from and
/// listed while it is serialised: building six strings for every reply cost
/// more than the rest of the observation's fields together.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AvailableArtifacts {
    pub task: TaskId,
    /// Unix seconds, in `ArtifactName::ALL` order.
    pub last_modified: [u64; 6],
}

impl AvailableArtifacts {
    pub fn iter(self) -> impl Iterator<Item = ArtifactInfo> {
        ArtifactName::ALL.into_iter().map(move |a| ArtifactInfo {
            name: a,
            description: a.description(),
            size_hint: a.size_hint(self.task),
            last_modified: IsoTime(self.last_modified[a.index()]),
        })
    }
}

impl Serialize for AvailableArtifacts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReadResult {
    pub action_type: ActionType,
    pub artifact: ArtifactName,
    pub filter: Option<String>,
    pub content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines_matched: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueryResult {
    pub action_type: ActionType,
    pub artifact: ArtifactName,
    pub field_path: String,
    pub found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<Vec<String>>,
}

/// The body of an error: a code, a message and details (the shape the farm sends too).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message: String,
    pub details: ValidationError,
}

impl ErrorBody {
    pub fn validation(e: &ValidationError) -> ErrorBody {
        ErrorBody { code: "VALIDATION_ERROR", message: e.to_string(), details: e.clone() }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndStatus {
    Submitted,
    Truncated,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EndObject {
    pub status: EndStatus,
    pub score: Bp,
    pub episode_return: Bp,
    pub env_version: &'static str,
    pub breakdown: Breakdown,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ground_truth: Option<GroundTruth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_result: Option<Box<ActionResult>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResetResult {
    pub action_type: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ActionResult {
    Reset(ResetResult),
    Read(ReadResult),
    Query(QueryResult),
    Check(CheckResult),
    End(Box<EndObject>),
    Error(ErrorBody),
}

/// A task's brief in an observation. Briefs are constant per task, so their
/// JSON text is escaped once and written verbatim: re-escaping 3.4 KB on every
/// step was the largest single cost of a step reply (14% of the server's CPU
/// in a profile of `bench`, docs/PERFORMANCE.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Brief(pub TaskId);

/// The briefs as JSON string literals, escaped once (a cache of a pure function, not state).
static BRIEFS_JSON: std::sync::LazyLock<Vec<Box<serde_json::value::RawValue>>> =
    std::sync::LazyLock::new(|| {
        TaskId::ALL
            .iter()
            .map(|t| {
                let text = serde_json::to_string(t.brief()).expect("a string serialises");
                serde_json::value::RawValue::from_string(text).expect("valid JSON")
            })
            .collect()
    });

impl Serialize for Brief {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let index = TaskId::ALL.iter().position(|t| *t == self.0).expect("known task");
        BRIEFS_JSON[index].serialize(s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Observation {
    pub task_id: TaskId,
    /// Absent from the step observations of a compact episode (constant per task).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_description: Option<Brief>,
    pub run_id: String,
    pub run_summary: RunSummary,
    /// Absent from the step observations of a compact episode (constant per episode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_artifacts: Option<AvailableArtifacts>,
    pub artifacts_read: Vec<ArtifactName>,
    pub last_action_result: ActionResult,
    pub step_count: u32,
    pub max_steps: u32,
    pub done: bool,
    pub truncated: bool,
    pub messages: Vec<String>,
    pub seed: u64,
    pub episode_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct State {
    pub episode_id: Option<String>,
    pub task_id: Option<TaskId>,
    pub seed: Option<u64>,
    pub step_count: u32,
    pub max_steps: Option<u32>,
    pub done: bool,
    pub truncated: bool,
    pub artifacts_read: Vec<ArtifactName>,
    pub sanity_checks_run: Vec<CheckKind>,
    pub duplicate_reads: u32,
    pub invalid_actions: u32,
    pub total_reward: Bp,
    pub score: Option<Bp>,
    pub env_version: &'static str,
}

impl State {
    /// The state of a session that has no episode yet.
    pub fn before_first_reset() -> State {
        State {
            episode_id: None,
            task_id: None,
            seed: None,
            step_count: 0,
            max_steps: None,
            done: false,
            truncated: false,
            artifacts_read: Vec::new(),
            sanity_checks_run: Vec::new(),
            duplicate_reads: 0,
            invalid_actions: 0,
            total_reward: Bp(0),
            score: None,
            env_version: ENV_VERSION,
        }
    }
}
