//! The session actor: owns one session's episodes; nothing else touches them.
//! It applies resets and steps, answers state, and records step and episode metrics.

use std::sync::Arc;
use std::time::Instant;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde_json::Value;

use super::status::SessionStatus;
use crate::env::action::ActionType;
use crate::env::grader::{GroundTruth, ground_truth};
use crate::env::{
    Episode, EpisodeOptions, Observation, State, StepError, StepOutcome, TaskId, ValidationError,
};
use crate::metrics::{EpisodeOutcome, Label, Metrics, StepOutcome as StepLabel};

/// A reset with every parameter resolved (seed and episode id drawn when absent).
#[derive(Debug)]
pub struct ResetRequest {
    pub task: TaskId,
    /// The seed the client asked for (or the farm drew): what observations and state show.
    pub seed: u64,
    /// The seed the episode is generated from: `seed`, or `seed` salted (`--seed-salt`).
    pub world_seed: u64,
    pub episode_id: String,
    pub compact: bool,
    pub messages: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct StepDone {
    pub outcome: StepOutcome,
    /// The request id matched the last applied step: this is its stored reply.
    pub replayed: bool,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SessionError {
    #[error("no episode: send reset first")]
    NoEpisode,
    #[error("{0}")]
    Invalid(ValidationError),
    #[error("the episode has ended; reset to start a new one")]
    EpisodeDone,
}

pub enum SessionMsg {
    Reset(ResetRequest, RpcReplyPort<Observation>),
    Step { action: Value, request_id: Option<String>, reply: RpcReplyPort<Result<StepDone, SessionError>> },
    State(RpcReplyPort<State>),
    Reveal(RpcReplyPort<Option<GroundTruth>>),
}

pub struct SessionArgs {
    pub status: Arc<SessionStatus>,
    pub metrics: Arc<Metrics>,
    pub options: EpisodeOptions,
    pub session_id: String,
    /// Woken when an episode ends (shutdown waits for open episodes on it).
    pub activity: Arc<tokio::sync::Notify>,
}

pub struct SessionState {
    episode: Option<Episode>,
    /// The client's seed of the current episode, when the episode was generated from a salted one.
    shown_seed: Option<u64>,
    /// The last step applied with a request id, and its reply (for idempotent retries).
    last_request: Option<(String, StepOutcome)>,
    args: SessionArgs,
}

pub struct SessionActor;

/// The action type a step names, if it names a known one (its metric label).
fn action_label(action: &Value) -> Option<ActionType> {
    action.get("action_type").and_then(Value::as_str).and_then(ActionType::parse)
}

impl SessionState {
    fn reset(&mut self, r: ResetRequest) -> Observation {
        let started = Instant::now();
        let a = &self.args;
        if let Some(old) = self.episode.take().filter(|e| !e.is_done()) {
            a.metrics.episode_end(
                old.task(),
                EpisodeOutcome::Abandoned,
                None,
                old.step_count(),
                old.episode_return().as_f64(),
            );
        }
        let previous = a.status.task();
        if previous != Some(r.task) {
            a.metrics.session_active(previous).decrement(1.0);
            a.metrics.session_active(Some(r.task)).increment(1.0);
            a.status.set_task(r.task);
        }
        let options = EpisodeOptions { compact: r.compact, ..a.options };
        let episode = Episode::with_options(r.task, r.world_seed, r.episode_id, options);
        self.shown_seed = (r.world_seed != r.seed).then_some(r.seed);
        let mut observation = episode.reset_observation(r.messages);
        self.show_seed(&mut observation);
        a.status.set_episode_open(true);
        a.status.set_step_count(0);
        self.episode = Some(episode);
        self.last_request = None;
        a.metrics.reset_duration.record(started.elapsed().as_secs_f64());
        observation
    }

    fn step(&mut self, action: Value, request_id: Option<String>) -> Result<StepDone, SessionError> {
        let started = Instant::now();
        let a = &self.args;
        let Some(episode) = self.episode.as_mut() else { return Err(SessionError::NoEpisode) };
        if let (Some(id), Some((last_id, last))) = (&request_id, &self.last_request)
            && id == last_id
        {
            return Ok(StepDone { outcome: last.clone(), replayed: true });
        }
        #[cfg(feature = "fault-injection")]
        match action.get("action_type").and_then(Value::as_str) {
            Some("__panic__") => panic!("fault injection: session {} was asked to panic", a.session_id),
            Some("__sleep__") => {
                // Blocks this session's actor only; other sessions run on other tasks.
                let ms = action.get("ms").and_then(Value::as_u64).unwrap_or(0);
                std::thread::sleep(std::time::Duration::from_millis(ms));
                return Err(SessionError::Invalid(ValidationError::new("action_type", "slept")));
            }
            _ => {}
        }
        let label = action_label(&action);
        let task = episode.task();
        let result = episode.step_json(&action);
        a.metrics.step_duration(label).record(started.elapsed().as_secs_f64());
        match result {
            Ok(outcome) => {
                a.metrics.step(task, label, StepLabel::Ok).increment(1);
                a.status.set_step_count(episode.step_count());
                let mut outcome = outcome;
                if let Some(seed) = self.shown_seed {
                    outcome.observation.seed = seed;
                }
                if outcome.done {
                    a.status.set_episode_open(false);
                    a.activity.notify_waiters();
                    let status = if episode.truncated() {
                        EpisodeOutcome::Truncated
                    } else {
                        EpisodeOutcome::Submitted
                    };
                    let score = episode.score().map(|s| s.as_f64());
                    let ret = episode.episode_return().as_f64();
                    a.metrics.episode_end(task, status, score, episode.step_count(), ret);
                    tracing::info!(
                        session = %a.session_id, episode = episode.episode_id(), task = task.as_str(),
                        seed = episode.seed(), steps = episode.step_count(), score = score.unwrap_or(0.0),
                        outcome = status.value(), "episode ended"
                    );
                }
                if let Some(id) = request_id {
                    self.last_request = Some((id, outcome.clone()));
                }
                Ok(StepDone { outcome, replayed: false })
            }
            Err(StepError::Invalid(e)) => {
                a.metrics.step(task, None, StepLabel::Invalid).increment(1);
                Err(SessionError::Invalid(e))
            }
            Err(StepError::EpisodeDone) => {
                a.metrics.step(task, label, StepLabel::Error).increment(1);
                Err(SessionError::EpisodeDone)
            }
        }
    }

    fn state(&self) -> State {
        let mut state = self.episode.as_ref().map_or_else(State::before_first_reset, Episode::state);
        if let Some(seed) = self.shown_seed {
            state.seed = Some(seed);
        }
        state
    }

    /// A salted episode shows the client's seed, never the one it was generated
    /// from (which would let the episode be computed offline).
    fn show_seed(&self, observation: &mut Observation) {
        if let Some(seed) = self.shown_seed {
            observation.seed = seed;
        }
    }
}

impl Actor for SessionActor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<SessionMsg>,
        args: SessionArgs,
    ) -> Result<SessionState, ActorProcessingErr> {
        args.metrics.session_active(None).increment(1.0);
        Ok(SessionState { episode: None, shown_seed: None, last_request: None, args })
    }

    async fn handle(
        &self,
        _myself: ActorRef<SessionMsg>,
        message: SessionMsg,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        // A dropped reply port means the caller gave up (deadline); nothing to do.
        match message {
            SessionMsg::Reset(request, reply) => {
                let _ = reply.send(state.reset(request));
            }
            SessionMsg::Step { action, request_id, reply } => {
                let _ = reply.send(state.step(action, request_id));
            }
            SessionMsg::State(reply) => {
                let _ = reply.send(state.state());
            }
            SessionMsg::Reveal(reply) => {
                let _ = reply.send(state.episode.as_ref().map(|e| ground_truth(e.world())));
            }
        }
        Ok(())
    }
}
