//! Baseline agents (client side): they see only what the environment shows.

pub mod heuristic;
pub mod llm;
pub mod random;
pub mod stuffing;

use std::sync::Arc;

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentKind {
    Heuristic,
    Random,
    Stuffing,
    Llm,
}

impl AgentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentKind::Heuristic => "heuristic",
            AgentKind::Random => "random",
            AgentKind::Stuffing => "stuffing",
            AgentKind::Llm => "llm",
        }
    }
}

/// One episode's agent.
pub enum Agent {
    Heuristic(heuristic::Heuristic),
    Random(random::RandomAgent),
    Stuffing(stuffing::Stuffing),
    Llm(Box<llm::LlmAgent>),
}

impl Agent {
    /// A fresh agent for one episode; `salt` varies the random agent between episodes.
    pub fn new(kind: AgentKind, salt: u64, llm: Option<&Arc<llm::LlmConfig>>) -> Agent {
        match kind {
            AgentKind::Heuristic => Agent::Heuristic(heuristic::Heuristic::new()),
            AgentKind::Random => Agent::Random(random::RandomAgent::new(salt)),
            AgentKind::Stuffing => Agent::Stuffing(stuffing::Stuffing),
            AgentKind::Llm => Agent::Llm(Box::new(llm::LlmAgent::new(llm.expect("llm settings").clone()))),
        }
    }

    /// The next action for the latest observation.
    pub async fn act(&mut self, observation: &Value) -> Value {
        match self {
            Agent::Heuristic(a) => a.act(observation),
            Agent::Random(a) => a.act(observation),
            Agent::Stuffing(a) => a.act(observation),
            Agent::Llm(a) => a.act(observation).await,
        }
    }
}
