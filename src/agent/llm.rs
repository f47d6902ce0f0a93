//! An agent over any OpenAI-compatible chat-completions API. Its prompt
//! explains the task and the actions and contains no answers. It parses one
//! JSON action per reply (one corrective retry, then a safe fallback), shares
//! a concurrency limit with the other episodes, and retries 429 and 5xx with
//! exponential backoff.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::env::action::ActionType;

/// Characters of an action result shown to the model.
const RESULT_CHARS: usize = 6_000;
/// Messages of history kept after the system prompt.
const HISTORY: usize = 16;
const MAX_ATTEMPTS: u32 = 5;

pub struct LlmConfig {
    pub api_base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub limiter: Arc<Semaphore>,
    pub client: reqwest::Client,
}

impl LlmConfig {
    pub fn new(api_base_url: String, model: String, max_concurrency: usize) -> LlmConfig {
        let api_key = std::env::var("OPENAI_API_KEY").or_else(|_| std::env::var("API_KEY")).ok();
        LlmConfig {
            api_base_url: api_base_url.trim_end_matches('/').to_string(),
            model,
            api_key,
            limiter: Arc::new(Semaphore::new(max_concurrency.max(1))),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("HTTP client"),
        }
    }
}

const SYSTEM_PROMPT: &str = "You are a senior ML engineer debugging a broken training run. \
You investigate by taking one action per turn and finally submit a diagnosis. \
Reply with exactly one JSON object and nothing else, for example {\"action_type\": \"read_config\"}. \
Actions: read_config; read_logs (optional log_filter: a keyword, or epoch:N / epoch:N-M); check_dataset_stats; \
inspect_preprocessing; read_eval_results; run_sanity_check (sanity_check_type: label_consistency, data_leakage, \
gradient_norms, class_balance, feature_statistics, encoder_version_match, loss_trajectory, metric_gap_analysis); \
query_artifact (artifact_name, optional field_path); submit_diagnosis (failure_category, root_cause_file, \
root_cause_field, diagnosis, proposed_fix), which ends the episode. Read at least three artifacts before submitting. \
Name exactly one field, and propose a concrete fix with values. The task description below says what the fault can be.";

pub struct LlmAgent {
    config: Arc<LlmConfig>,
    messages: Vec<Value>,
    /// Artifact reads not yet taken, for the fallback.
    unread: Vec<ActionType>,
}

/// The first balanced JSON object in a reply that has an action_type.
pub fn parse_action(reply: &str) -> Option<Value> {
    let mut start = 0;
    while let Some(open) = reply[start..].find('{').map(|i| i + start) {
        let mut depth = 0i32;
        for (i, b) in crate::json_scan::outside_strings(&reply.as_bytes()[open..]) {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        if let Ok(v) = serde_json::from_str::<Value>(&reply[open..=open + i])
                            && v.get("action_type").is_some_and(Value::is_string)
                        {
                            return Some(v);
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
        start = open + 1;
    }
    None
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n).collect::<String>() + " ...[truncated]"
    }
}

impl LlmAgent {
    pub fn new(config: Arc<LlmConfig>) -> LlmAgent {
        LlmAgent {
            config,
            messages: vec![json!({"role": "system", "content": SYSTEM_PROMPT})],
            unread: vec![
                ActionType::ReadConfig,
                ActionType::ReadLogs,
                ActionType::CheckDatasetStats,
                ActionType::InspectPreprocessing,
                ActionType::ReadEvalResults,
            ],
        }
    }

    fn user_turn(&self, observation: &Value) -> String {
        if observation["step_count"] == 0 {
            format!(
                "{}\n\nRun: {}\nArtifacts: {}\nBudget: {} steps. Your first action?",
                observation["task_description"].as_str().unwrap_or(""),
                observation["run_summary"],
                observation["available_artifacts"].as_array().map_or(0, Vec::len),
                observation["max_steps"]
            )
        } else {
            let result = truncate(&observation["last_action_result"].to_string(), RESULT_CHARS);
            let notes = observation["messages"].to_string();
            format!(
                "Result: {result}\nNotices: {notes}\nStep {} of {}. Next action?",
                observation["step_count"], observation["max_steps"]
            )
        }
    }

    /// One chat completion, retrying 429 and 5xx (and transport errors) with backoff.
    async fn complete(&self, messages: &[Value]) -> Option<String> {
        let _permit = self.config.limiter.acquire().await.ok()?;
        let url = format!("{}/chat/completions", self.config.api_base_url);
        let body = json!({"model": self.config.model, "messages": messages, "temperature": 0});
        for attempt in 0..MAX_ATTEMPTS {
            let mut request = self.config.client.post(&url).json(&body);
            if let Some(key) = &self.config.api_key {
                request = request.bearer_auth(key);
            }
            match request.send().await {
                Ok(r) if r.status().is_success() => {
                    let v: Value = r.json().await.ok()?;
                    return v["choices"][0]["message"]["content"].as_str().map(str::to_string);
                }
                Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {}
                Ok(_) => return None,
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
        None
    }

    fn remember(&mut self, role: &str, content: String) {
        self.messages.push(json!({"role": role, "content": content}));
        if self.messages.len() > HISTORY + 1 {
            self.messages.drain(1..self.messages.len() - HISTORY);
        }
    }

    /// A safe action when the model gives none: read what is unread, else submit.
    fn fallback(&mut self, observation: &Value) -> Value {
        let left =
            observation["max_steps"].as_u64().unwrap_or(20) - observation["step_count"].as_u64().unwrap_or(0);
        match self.unread.pop() {
            Some(read) if left > 1 => json!({"action_type": read.as_str()}),
            _ => {
                json!({"action_type": ActionType::SubmitDiagnosis.as_str(), "failure_category": "config_error",
                        "root_cause_file": "config.yaml", "root_cause_field": "", "diagnosis": "no answer from the model",
                        "proposed_fix": ""})
            }
        }
    }

    pub async fn act(&mut self, observation: &Value) -> Value {
        if let Some(read) =
            observation["last_action_result"]["action_type"].as_str().and_then(ActionType::parse)
        {
            self.unread.retain(|r| *r != read);
        }
        let turn = self.user_turn(observation);
        self.remember("user", turn);
        for attempt in 0..2 {
            let Some(reply) = self.complete(&self.messages.clone()).await else { break };
            self.remember("assistant", reply.clone());
            if let Some(action) = parse_action(&reply) {
                return action;
            }
            if attempt == 0 {
                self.remember(
                    "user",
                    "Reply with exactly one JSON object with an action_type, nothing else.".into(),
                );
            }
        }
        self.fallback(observation)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_action;

    #[test]
    fn actions_are_found_in_chatty_replies() {
        let a = parse_action("Sure! {\"action_type\": \"read_config\"} done").unwrap();
        assert_eq!(a["action_type"], "read_config");
        let a = parse_action(
            "```json\n{\"x\": {\"y\": 1}}\n``` then {\"action_type\": \"read_logs\", \"log_filter\": \"}\"}",
        )
        .unwrap();
        assert_eq!(a["log_filter"], "}");
        assert!(parse_action("no json here").is_none());
        assert!(parse_action("{\"action\": 1}").is_none());
    }
}
