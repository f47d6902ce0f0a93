//! One episode: the world plus the agent's progress. `step` applies the
//! reward rules, the budget and the end of the episode (environment.md §5, §7).

use super::action::{Action, ActionType, LogFilter, ValidationError};
use super::artifacts::log::{LineKind, log};
use super::artifacts::{self, QueryAnswer};
use super::catalogue::*;
use super::checks;
use super::grader::{self, Bp, Breakdown};
use super::observation::*;
use super::world::World;

/// Settings a server applies to every episode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EpisodeOptions {
    /// End an open episode truncated at this many consecutive invalid actions (0: off).
    pub max_invalid_actions: u32,
    /// Show the answer key after the end: `ground_truth`, the expected field
    /// location, the fix concepts missing and other faults' fixes recognised.
    pub reveal_answers: bool,
    /// Leave the constant fields out of step observations (`compact` at reset).
    pub compact: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StepOutcome {
    pub observation: Observation,
    /// Basis points: the per-step reward, or the score for a submit.
    pub reward: Bp,
    pub done: bool,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StepError {
    #[error("{0}")]
    Invalid(ValidationError),
    #[error("the episode has ended; reset to start a new one")]
    EpisodeDone,
}

/// A read as remembered for duplicate detection.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ReadKey {
    Whole,
    Epochs(u64, u64),
    Keyword(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Finished {
    truncated: bool,
    score: Bp,
}

pub struct Episode {
    world: Box<World>,
    episode_id: String,
    options: EpisodeOptions,
    step_count: u32,
    artifacts_read: Vec<ArtifactName>,
    /// Artifacts a field query found a field in: they count as looked at
    /// for the investigation rule, without a read reward.
    queried: Vec<ArtifactName>,
    checks_run: Vec<CheckKind>,
    reads: Vec<(ArtifactName, ReadKey)>,
    duplicate_reads: u32,
    invalid_actions: u32,
    consecutive_invalid: u32,
    total_reward: i64,
    finished: Option<Finished>,
}

impl Episode {
    pub fn new(task: TaskId, seed: u64, episode_id: impl Into<String>) -> Episode {
        Episode::with_options(task, seed, episode_id, EpisodeOptions::default())
    }

    pub fn with_options(
        task: TaskId,
        seed: u64,
        episode_id: impl Into<String>,
        options: EpisodeOptions,
    ) -> Episode {
        Episode {
            world: Box::new(World::generate(task, seed)),
            episode_id: episode_id.into(),
            options,
            step_count: 0,
            artifacts_read: Vec::new(),
            queried: Vec::new(),
            checks_run: Vec::new(),
            reads: Vec::new(),
            duplicate_reads: 0,
            invalid_actions: 0,
            consecutive_invalid: 0,
            total_reward: 0,
            finished: None,
        }
    }

    pub fn world(&self) -> &World {
        &self.world
    }

    pub fn task(&self) -> TaskId {
        self.world.task
    }

    pub fn seed(&self) -> u64 {
        self.world.seed
    }

    pub fn episode_id(&self) -> &str {
        &self.episode_id
    }

    pub fn is_done(&self) -> bool {
        self.finished.is_some()
    }

    pub fn step_count(&self) -> u32 {
        self.step_count
    }

    /// The final score once the episode has ended.
    pub fn score(&self) -> Option<Bp> {
        self.finished.map(|f| f.score)
    }

    pub fn episode_return(&self) -> Bp {
        Bp(self.total_reward)
    }

    pub fn truncated(&self) -> bool {
        self.finished.is_some_and(|f| f.truncated)
    }

    /// The observation returned by reset, with the given notices.
    pub fn reset_observation(&self, messages: Vec<String>) -> Observation {
        let mut o = self.observation(ActionResult::Reset(ResetResult { action_type: "reset" }), messages);
        // even a compact episode shows its brief and artifacts once
        o.task_description = Some(Brief(self.world.task));
        o.available_artifacts = Some(self.available_artifacts());
        o
    }

    fn available_artifacts(&self) -> AvailableArtifacts {
        let w = &self.world;
        AvailableArtifacts {
            task: w.task,
            last_modified: w.upload_offsets.map(|offset| w.uploaded_at + u64::from(offset)),
        }
    }

    /// Applies one JSON action.
    pub fn step_json(&mut self, action: &serde_json::Value) -> Result<StepOutcome, StepError> {
        if self.finished.is_some() {
            return Err(StepError::EpisodeDone);
        }
        match Action::from_json(action) {
            Ok(a) => self.step(a),
            Err(e) => self.reject(e),
        }
    }

    fn reject(&mut self, e: ValidationError) -> Result<StepOutcome, StepError> {
        self.invalid_actions += 1;
        self.consecutive_invalid += 1;
        let limit = self.options.max_invalid_actions;
        if limit > 0 && self.consecutive_invalid >= limit {
            let result = ActionResult::Error(ErrorBody::validation(&e));
            let end = self.finish_truncated(result);
            let observation = self.observation(
                end,
                vec![format!("{limit} consecutive invalid actions: the episode ended without a diagnosis")],
            );
            return Ok(StepOutcome { observation, reward: Bp(0), done: true });
        }
        Err(StepError::Invalid(e))
    }

    /// Applies one validated action.
    pub fn step(&mut self, action: Action) -> Result<StepOutcome, StepError> {
        if self.finished.is_some() {
            return Err(StepError::EpisodeDone);
        }
        self.consecutive_invalid = 0;
        self.step_count += 1;
        let mut messages = Vec::new();
        let (result, reward) = match action {
            Action::ReadConfig => self.read(ArtifactName::Config, ActionType::ReadConfig, &mut messages),
            Action::CheckDatasetStats => {
                self.read(ArtifactName::DatasetStats, ActionType::CheckDatasetStats, &mut messages)
            }
            Action::InspectPreprocessing => {
                self.read(ArtifactName::Preprocessing, ActionType::InspectPreprocessing, &mut messages)
            }
            Action::ReadEvalResults => {
                self.read(ArtifactName::EvalResults, ActionType::ReadEvalResults, &mut messages)
            }
            Action::ReadLogs { filter: None } => {
                self.read(ArtifactName::TrainLog, ActionType::ReadLogs, &mut messages)
            }
            Action::ReadLogs { filter: Some((raw, filter)) } => {
                self.read_log_filtered(raw, filter, &mut messages)
            }
            Action::QueryArtifact { artifact, field_path: None } => {
                self.read(artifact, ActionType::QueryArtifact, &mut messages)
            }
            Action::QueryArtifact { artifact, field_path: Some(path) } => {
                let result = self.query(artifact, path, &mut messages);
                if matches!(&result, ActionResult::Query(q) if q.found) && !self.queried.contains(&artifact) {
                    self.queried.push(artifact);
                }
                (result, 0)
            }
            Action::RunSanityCheck(kind) => {
                let reward = if self.checks_run.contains(&kind) {
                    0
                } else {
                    self.checks_run.push(kind);
                    REWARD_FIRST_CHECK
                };
                (ActionResult::Check(checks::run(&self.world, kind)), reward)
            }
            Action::SubmitDiagnosis(d) => {
                let (score, breakdown) = grader::grade(&self.world, &d, self.artifacts_examined(), true);
                self.total_reward += score.0;
                self.finished = Some(Finished { truncated: false, score });
                let end = self.end_object(EndStatus::Submitted, score, breakdown, None);
                let observation = self.observation(end, messages);
                return Ok(StepOutcome { observation, reward: score, done: true });
            }
        };
        self.total_reward += reward;
        let result = if self.step_count >= self.task().max_steps() {
            messages.push("step budget spent: the episode ended without a diagnosis".into());
            self.finish_truncated(result)
        } else {
            let left = self.task().max_steps() - self.step_count;
            if left <= BUDGET_NOTICE_STEPS {
                messages.push(format!("budget nearly spent: {left} steps left"));
            }
            result
        };
        let done = self.finished.is_some();
        Ok(StepOutcome { observation: self.observation(result, messages), reward: Bp(reward), done })
    }

    /// Grades a diagnosis as if the investigation had been adequate (no
    /// investigation penalty) and ends the episode: the offline `grade` command.
    pub fn submit_offline(&mut self, d: &grader::Diagnosis) -> ActionResult {
        let (score, breakdown) = grader::grade(&self.world, d, MIN_ARTIFACTS_READ, false);
        self.total_reward += score.0;
        self.finished = Some(Finished { truncated: false, score });
        self.end_object(EndStatus::Submitted, score, breakdown, None)
    }

    /// Distinct artifacts read or queried with a field found.
    fn artifacts_examined(&self) -> usize {
        self.artifacts_read.len() + self.queried.iter().filter(|a| !self.artifacts_read.contains(a)).count()
    }

    /// The public state (never the bug or the fix).
    pub fn state(&self) -> State {
        State {
            episode_id: Some(self.episode_id.clone()),
            task_id: Some(self.task()),
            seed: Some(self.seed()),
            step_count: self.step_count,
            max_steps: Some(self.task().max_steps()),
            done: self.finished.is_some(),
            truncated: self.truncated(),
            artifacts_read: self.artifacts_read.clone(),
            sanity_checks_run: self.checks_run.clone(),
            duplicate_reads: self.duplicate_reads,
            invalid_actions: self.invalid_actions,
            total_reward: Bp(self.total_reward),
            score: self.score(),
            env_version: ENV_VERSION,
        }
    }

    fn finish_truncated(&mut self, action_result: ActionResult) -> ActionResult {
        self.finished = Some(Finished { truncated: true, score: Bp(0) });
        self.end_object(EndStatus::Truncated, Bp(0), Breakdown::ungraded(), Some(action_result))
    }

    fn end_object(
        &self,
        status: EndStatus,
        score: Bp,
        breakdown: Breakdown,
        action_result: Option<ActionResult>,
    ) -> ActionResult {
        ActionResult::End(Box::new(EndObject {
            status,
            score,
            episode_return: Bp(self.total_reward),
            env_version: ENV_VERSION,
            breakdown: if self.options.reveal_answers { breakdown } else { breakdown.redacted() },
            ground_truth: self.options.reveal_answers.then(|| grader::ground_truth(&self.world)),
            action_result: action_result.map(Box::new),
        }))
    }

    /// Records a read and returns its reward (environment.md §7).
    fn record_read(&mut self, artifact: ArtifactName, key: ReadKey, messages: &mut Vec<String>) -> i64 {
        if self.reads.iter().any(|(a, k)| *a == artifact && *k == key) {
            self.duplicate_reads += 1;
            messages
                .push(format!("duplicate read of {} (same filter): no new information", artifact.as_str()));
            return REWARD_DUPLICATE_READ;
        }
        self.reads.push((artifact, key));
        if self.artifacts_read.contains(&artifact) {
            0
        } else {
            self.artifacts_read.push(artifact);
            REWARD_FIRST_READ
        }
    }

    fn read(
        &mut self,
        artifact: ArtifactName,
        action_type: ActionType,
        messages: &mut Vec<String>,
    ) -> (ActionResult, i64) {
        let reward = self.record_read(artifact, ReadKey::Whole, messages);
        let content = artifacts::render(&self.world, artifact);
        (
            ActionResult::Read(ReadResult {
                action_type,
                artifact,
                filter: None,
                content,
                lines_matched: None,
            }),
            reward,
        )
    }

    fn read_log_filtered(
        &mut self,
        raw: String,
        filter: LogFilter,
        messages: &mut Vec<String>,
    ) -> (ActionResult, i64) {
        let log = log(&self.world);
        let last_epoch = self.world.final_epoch() as u64;
        let (key, selected): (ReadKey, Vec<bool>) = match &filter {
            LogFilter::Epochs { from, to } => {
                let to = (*to).min(last_epoch);
                let sel = log
                    .lines
                    .iter()
                    .map(|l| l.epoch.is_some_and(|e| (*from..=to).contains(&(e as u64))))
                    .collect();
                (ReadKey::Epochs(*from, to), sel)
            }
            LogFilter::Keyword(k) => {
                // Lower-case the whole log once; spans stay valid only when lengths do.
                let lower = log.text.to_lowercase();
                let sel = if lower.len() == log.text.len() {
                    log.lines.iter().map(|l| lower[l.start..l.end].contains(k.as_str())).collect()
                } else {
                    log.lines.iter().map(|l| log.line(l).to_lowercase().contains(k.as_str())).collect()
                };
                (ReadKey::Keyword(k.clone()), sel)
            }
        };
        let matched = selected.iter().filter(|s| **s).count();
        let mut content = String::with_capacity(log.text.len());
        for (l, s) in log.lines.iter().zip(&selected) {
            if *s || matches!(l.kind, LineKind::Header | LineKind::Error) {
                content.push_str(log.line(l));
                content.push('\n');
            }
        }
        let reward = if matched == 0 {
            messages.push(format!("log_filter '{raw}' selected no line; not counted as a read"));
            0
        } else {
            self.record_read(ArtifactName::TrainLog, key, messages)
        };
        let result = ReadResult {
            action_type: ActionType::ReadLogs,
            artifact: ArtifactName::TrainLog,
            filter: Some(raw),
            content,
            lines_matched: Some(matched),
        };
        (ActionResult::Read(result), reward)
    }

    fn query(&self, artifact: ArtifactName, path: String, messages: &mut Vec<String>) -> ActionResult {
        let answer = artifacts::query(&self.world, artifact, &path);
        let (found, value, available) = match answer {
            QueryAnswer::Found(v) => (true, Some(v), None),
            QueryAnswer::Missing { available } => {
                messages.push(format!("field_path '{path}' not found in {}", artifact.as_str()));
                (false, None, Some(available))
            }
            QueryAnswer::NoLines => {
                messages.push(format!(
                    "no line of {} contains '{}'",
                    artifact.as_str(),
                    path.rsplit('.').next().unwrap_or(&path)
                ));
                (false, None, None)
            }
        };
        ActionResult::Query(QueryResult {
            action_type: ActionType::QueryArtifact,
            artifact,
            field_path: path,
            found,
            value,
            available,
        })
    }

    fn observation(&self, last_action_result: ActionResult, messages: Vec<String>) -> Observation {
        let w = &self.world;
        let c = w.config();
        Observation {
            task_id: w.task,
            task_description: (!self.options.compact).then_some(Brief(w.task)),
            run_id: w.run_id_hex(),
            run_summary: RunSummary {
                model: c.model,
                dataset: c.dataset,
                task_type: c.task_type,
                status: w.task.status_line(),
            },
            available_artifacts: (!self.options.compact).then(|| self.available_artifacts()),
            artifacts_read: self.artifacts_read.clone(),
            last_action_result,
            step_count: self.step_count,
            max_steps: w.task.max_steps(),
            done: self.finished.is_some(),
            truncated: self.truncated(),
            messages,
            seed: w.seed,
            episode_id: self.episode_id.clone(),
        }
    }
}
