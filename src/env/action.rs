//! Actions and reset parameters: parsed from JSON with full validation.
//! Every rejection names the field and the reason (environment.md §5).

use serde::Serialize;
use serde_json::{Map, Value};

use super::catalogue::*;
use super::grader::Diagnosis;

/// A rejected action or reset: the field at fault and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    pub field: String,
    pub reason: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ValidationError { field: field.into(), reason: reason.into() }
    }
}

/// A log filter: an inclusive epoch range (as written, before clipping) or a keyword.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogFilter {
    Epochs { from: u64, to: u64 },
    Keyword(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    ReadConfig,
    ReadLogs { filter: Option<(String, LogFilter)> },
    CheckDatasetStats,
    InspectPreprocessing,
    ReadEvalResults,
    RunSanityCheck(CheckKind),
    QueryArtifact { artifact: ArtifactName, field_path: Option<String> },
    SubmitDiagnosis(Diagnosis),
}

/// The kinds of action: one list from which the parser, the schemas, the MCP
/// tools, the metric labels and the agents derive. A new action is a variant
/// here (with its fields and description) plus its behaviour in `Episode::step`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActionType {
    ReadConfig,
    ReadLogs,
    CheckDatasetStats,
    InspectPreprocessing,
    ReadEvalResults,
    RunSanityCheck,
    QueryArtifact,
    SubmitDiagnosis,
}

impl ActionType {
    pub const ALL: [ActionType; 8] = [
        ActionType::ReadConfig,
        ActionType::ReadLogs,
        ActionType::CheckDatasetStats,
        ActionType::InspectPreprocessing,
        ActionType::ReadEvalResults,
        ActionType::RunSanityCheck,
        ActionType::QueryArtifact,
        ActionType::SubmitDiagnosis,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ActionType::ReadConfig => "read_config",
            ActionType::ReadLogs => "read_logs",
            ActionType::CheckDatasetStats => "check_dataset_stats",
            ActionType::InspectPreprocessing => "inspect_preprocessing",
            ActionType::ReadEvalResults => "read_eval_results",
            ActionType::RunSanityCheck => "run_sanity_check",
            ActionType::QueryArtifact => "query_artifact",
            ActionType::SubmitDiagnosis => "submit_diagnosis",
        }
    }

    pub fn parse(s: &str) -> Option<ActionType> {
        ActionType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The fields this action may carry, besides action_type and metadata.
    pub const fn fields(self) -> &'static [&'static str] {
        match self {
            ActionType::ReadLogs => &["log_filter"],
            ActionType::RunSanityCheck => &["sanity_check_type"],
            ActionType::QueryArtifact => &["artifact_name", "field_path"],
            ActionType::SubmitDiagnosis => {
                &["failure_category", "root_cause_file", "root_cause_field", "diagnosis", "proposed_fix"]
            }
            ActionType::ReadConfig
            | ActionType::CheckDatasetStats
            | ActionType::InspectPreprocessing
            | ActionType::ReadEvalResults => &[],
        }
    }

    /// What the action does, in one sentence (the MCP tool description).
    pub const fn description(self) -> &'static str {
        match self {
            ActionType::ReadConfig => "Read config.yaml.",
            ActionType::ReadLogs => {
                "Read train.log, optionally only the lines a keyword or epoch range selects."
            }
            ActionType::CheckDatasetStats => "Read dataset_stats.json.",
            ActionType::InspectPreprocessing => "Read preprocessing.py (data pipeline and evaluation code).",
            ActionType::ReadEvalResults => "Read eval_results.json.",
            ActionType::RunSanityCheck => "Run one of eight computed sanity checks.",
            ActionType::QueryArtifact => {
                "Read one field (dot path) of an artifact, or matching lines of the log or code; without field_path, the whole artifact."
            }
            ActionType::SubmitDiagnosis => "Submit the diagnosis; ends the episode and returns the score.",
        }
    }

    /// Whether the action ends the episode.
    pub const fn ends_episode(self) -> bool {
        matches!(self, ActionType::SubmitDiagnosis)
    }
}

impl Serialize for ActionType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Every field any action may carry, besides action_type and metadata.
fn is_action_field(key: &str) -> bool {
    ActionType::ALL.iter().any(|t| t.fields().contains(&key))
}

fn present<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn string<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    max_chars: usize,
    required: bool,
) -> Result<Option<&'a str>, ValidationError> {
    match present(obj, key) {
        None if required => Err(ValidationError::new(key, "is required")),
        None => Ok(None),
        Some(Value::String(s)) => {
            if s.chars().count() > max_chars {
                Err(ValidationError::new(key, format!("longer than {max_chars} characters")))
            } else {
                Ok(Some(s))
            }
        }
        Some(_) => Err(ValidationError::new(key, "must be a string")),
    }
}

fn enum_value<T>(
    obj: &Map<String, Value>,
    key: &str,
    parse: impl Fn(&str) -> Option<T>,
    expected: &[&str],
) -> Result<T, ValidationError> {
    let s = string(obj, key, usize::MAX, true)?.expect("required");
    parse(s).ok_or_else(|| {
        ValidationError::new(
            key,
            format!("unknown value '{}'; expected one of: {}", truncate(s), expected.join(", ")),
        )
    })
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Parses a log filter; `None` for an absent or blank filter.
pub fn parse_log_filter(raw: &str) -> Result<Option<(String, LogFilter)>, ValidationError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let malformed = || {
        ValidationError::new(
            "log_filter",
            "malformed epoch range; expected epoch:N or epoch:N-M with 1 <= N <= M",
        )
    };
    let lower = trimmed.to_lowercase();
    let filter = match lower.strip_prefix("epoch:") {
        Some(range) => {
            let number = |s: &str| -> Result<u64, ValidationError> {
                let s = s.trim();
                if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
                    return Err(malformed());
                }
                // Absurdly large bounds are still ranges; they clip to the log.
                Ok(s.parse::<u64>().unwrap_or(u64::MAX))
            };
            let (from, to) = match range.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None => {
                    let n = number(range)?;
                    (n, n)
                }
            };
            if from == 0 || from > to {
                return Err(malformed());
            }
            LogFilter::Epochs { from, to }
        }
        None => LogFilter::Keyword(lower),
    };
    Ok(Some((trimmed.to_string(), filter)))
}

impl Action {
    /// Validates a JSON action.
    pub fn from_json(value: &Value) -> Result<Action, ValidationError> {
        let Value::Object(obj) = value else {
            return Err(ValidationError::new("action", "must be a JSON object"));
        };
        let name = match obj.get("action_type") {
            None | Some(Value::Null) => return Err(ValidationError::new("action_type", "is required")),
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(ValidationError::new("action_type", "must be a string")),
        };
        let Some(action_type) = ActionType::parse(name) else {
            let names: Vec<&str> = ActionType::ALL.iter().map(|t| t.as_str()).collect();
            return Err(ValidationError::new(
                "action_type",
                format!("unknown action type '{}'; expected one of: {}", truncate(name), names.join(", ")),
            ));
        };
        // Keys in sorted order, so the reported field never depends on map order.
        let mut keys: Vec<&String> = obj.keys().collect();
        keys.sort();
        for key in &keys {
            let key = key.as_str();
            if key == "action_type" {
                continue;
            }
            if key == "metadata" {
                if !matches!(obj[key], Value::Object(_) | Value::Null) {
                    return Err(ValidationError::new("metadata", "must be an object"));
                }
                continue;
            }
            if !is_action_field(key) {
                return Err(ValidationError::new(truncate(key), "unknown field"));
            }
            if !action_type.fields().contains(&key) && !obj[key].is_null() {
                return Err(ValidationError::new(key, format!("not allowed for action_type {name}")));
            }
        }
        Ok(match action_type {
            ActionType::ReadConfig => Action::ReadConfig,
            ActionType::CheckDatasetStats => Action::CheckDatasetStats,
            ActionType::InspectPreprocessing => Action::InspectPreprocessing,
            ActionType::ReadEvalResults => Action::ReadEvalResults,
            ActionType::ReadLogs => {
                let filter = match string(obj, "log_filter", MAX_LOG_FILTER, false)? {
                    Some(raw) => parse_log_filter(raw)?,
                    None => None,
                };
                Action::ReadLogs { filter }
            }
            ActionType::RunSanityCheck => {
                let names: Vec<&str> = CheckKind::ALL.iter().map(|c| c.as_str()).collect();
                Action::RunSanityCheck(enum_value(obj, "sanity_check_type", CheckKind::parse, &names)?)
            }
            ActionType::QueryArtifact => {
                let names: Vec<&str> = ArtifactName::ALL.iter().map(|a| a.as_str()).collect();
                let artifact = enum_value(obj, "artifact_name", ArtifactName::parse, &names)?;
                let field_path = string(obj, "field_path", MAX_FIELD_PATH, false)?
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string);
                Action::QueryArtifact { artifact, field_path }
            }
            ActionType::SubmitDiagnosis => {
                let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
                let failure_category = enum_value(obj, "failure_category", Category::parse, &names)?;
                let text = |key, max| string(obj, key, max, true).map(|s| s.expect("required").to_string());
                Action::SubmitDiagnosis(Diagnosis {
                    failure_category,
                    root_cause_file: text("root_cause_file", MAX_ROOT_CAUSE)?,
                    root_cause_field: text("root_cause_field", MAX_ROOT_CAUSE)?,
                    diagnosis: text("diagnosis", MAX_DIAGNOSIS)?,
                    proposed_fix: text("proposed_fix", MAX_PROPOSED_FIX)?,
                })
            }
        })
    }

    pub fn action_type(&self) -> ActionType {
        match self {
            Action::ReadConfig => ActionType::ReadConfig,
            Action::ReadLogs { .. } => ActionType::ReadLogs,
            Action::CheckDatasetStats => ActionType::CheckDatasetStats,
            Action::InspectPreprocessing => ActionType::InspectPreprocessing,
            Action::ReadEvalResults => ActionType::ReadEvalResults,
            Action::RunSanityCheck(_) => ActionType::RunSanityCheck,
            Action::QueryArtifact { .. } => ActionType::QueryArtifact,
            Action::SubmitDiagnosis(_) => ActionType::SubmitDiagnosis,
        }
    }
}

/// Validated reset parameters (null is the same as absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResetParams {
    pub task_id: Option<TaskId>,
    pub seed: Option<u64>,
    pub episode_id: Option<String>,
    /// Step observations of this episode leave out the constant fields
    /// (`task_description`, `available_artifacts`); the reset observation keeps them.
    pub compact: bool,
    /// Keys that were ignored, sorted.
    pub ignored_keys: Vec<String>,
}

impl ResetParams {
    pub fn from_json(value: &Value) -> Result<ResetParams, ValidationError> {
        let obj = match value {
            Value::Null => return Ok(ResetParams::default()),
            Value::Object(obj) => obj,
            _ => return Err(ValidationError::new("reset", "must be a JSON object")),
        };
        let task_names: Vec<&str> = TaskId::ALL.iter().map(|t| t.as_str()).collect();
        let task = |key: &str| -> Result<Option<TaskId>, ValidationError> {
            match present(obj, key) {
                None => Ok(None),
                Some(Value::String(s)) => TaskId::parse(s).map(Some).ok_or_else(|| {
                    ValidationError::new(
                        key,
                        format!("unknown task '{}'; expected one of: {}", truncate(s), task_names.join(", ")),
                    )
                }),
                Some(_) => Err(ValidationError::new(key, "must be a string")),
            }
        };
        let (a, b) = (task("task_id")?, task("task")?);
        let task_id = match (a, b) {
            (Some(x), Some(y)) if x != y => {
                return Err(ValidationError::new("task", "conflicts with task_id"));
            }
            (x, y) => x.or(y),
        };
        let seed = match present(obj, "seed") {
            None => None,
            Some(Value::Number(n)) => Some(n.as_u64().filter(|_| !n.is_f64()).ok_or_else(|| {
                ValidationError::new("seed", "must be an integer in [0, 18446744073709551615]")
            })?),
            Some(_) => {
                return Err(ValidationError::new("seed", "must be an integer in [0, 18446744073709551615]"));
            }
        };
        let episode_id = match present(obj, "episode_id") {
            None => None,
            Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_EPISODE_ID => Some(s.clone()),
            Some(Value::String(_)) => {
                return Err(ValidationError::new(
                    "episode_id",
                    format!("must be 1 to {MAX_EPISODE_ID} characters"),
                ));
            }
            Some(_) => return Err(ValidationError::new("episode_id", "must be a string")),
        };
        let compact = match present(obj, "compact") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ValidationError::new("compact", "must be a boolean")),
        };
        // a pinned benchmark version: "2", "2.0" or "2.0.0" pin 2.0.0
        match present(obj, "env_version") {
            None => {}
            Some(Value::String(v)) if pins(v, ENV_VERSION) => {}
            Some(Value::String(v)) => {
                return Err(ValidationError::new(
                    "env_version",
                    format!("this server runs env_version {ENV_VERSION}, not '{}'", truncate(v)),
                ));
            }
            Some(_) => return Err(ValidationError::new("env_version", "must be a string such as \"2.0.0\"")),
        }
        let mut ignored_keys: Vec<String> = obj
            .keys()
            .filter(|k| {
                !matches!(k.as_str(), "task_id" | "task" | "seed" | "episode_id" | "compact" | "env_version")
            })
            .map(|k| truncate(k))
            .collect();
        ignored_keys.sort();
        Ok(ResetParams { task_id, seed, episode_id, compact, ignored_keys })
    }
}

/// Whether a requested version ("2", "2.0", "2.0.0") names this one.
fn pins(requested: &str, current: &str) -> bool {
    let req: Vec<&str> = requested.trim_start_matches('v').split('.').collect();
    let cur: Vec<&str> = current.split('.').collect();
    !req.is_empty() && req.len() <= cur.len() && req.iter().zip(&cur).all(|(a, b)| a == b)
}
