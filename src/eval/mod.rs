//! `eval`: plays thousands of episodes against a farm over the OpenEnv
//! WebSocket protocol, one connection per concurrent episode, and reports
//! scores and throughput. An episode that fails for an infrastructure reason
//! (connection lost, server error) is reported as such, never scored as zero.

pub mod report;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::agent::llm::LlmConfig;
use crate::agent::{Agent, AgentKind};
use crate::env::TaskId;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long one reply may take before the episode counts as an infrastructure failure.
const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

fn parse_task(s: &str) -> Result<TaskId, String> {
    TaskId::parse(s).ok_or_else(|| format!("unknown task '{s}'; expected easy, medium or hard"))
}

#[derive(clap::Args, Clone, Debug)]
pub struct EvalArgs {
    /// Which agent plays.
    #[arg(long, value_enum, default_value = "heuristic")]
    pub agent: AgentKind,
    /// Comma-separated tasks.
    #[arg(long, value_delimiter = ',', default_value = "easy,medium,hard", value_parser = parse_task)]
    pub tasks: Vec<TaskId>,
    /// Episodes per task.
    #[arg(long, default_value_t = 100)]
    pub episodes: u64,
    /// Episodes played at once (one WebSocket connection each).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub concurrency: u64,
    /// A running farm (http://host:port); without it a farm starts in this process on a loopback port.
    #[arg(long)]
    pub url: Option<String>,
    /// First seed (0: the official evaluation seeds).
    #[arg(long, default_value_t = 0)]
    pub seed_start: u64,
    /// Print [START]/[STEP]/[END] lines for every episode.
    #[arg(long)]
    pub trace: bool,
    /// Print the summary as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write one JSON line per episode (actions, rewards, observations, score, ground truth).
    #[arg(long)]
    pub trajectories: Option<PathBuf>,
    /// Truncate artifact contents in trajectory lines to this many characters.
    #[arg(long)]
    pub max_content_chars: Option<usize>,
    /// llm agent: an OpenAI-compatible API (key from OPENAI_API_KEY or API_KEY).
    #[arg(long, default_value = "https://api.openai.com/v1")]
    pub api_base_url: String,
    /// llm agent: the model name.
    #[arg(long, default_value = "gpt-4o-mini")]
    pub model: String,
    /// llm agent: chat requests in flight at most.
    #[arg(long, default_value_t = 8)]
    pub llm_concurrency: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepRecord {
    pub action: Value,
    pub reward: Option<f64>,
    pub done: bool,
    pub observation: Value,
    /// The error frame's data when the action was rejected.
    pub error: Option<Value>,
    #[serde(skip)]
    pub latency_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct EpisodeRecord {
    pub task: TaskId,
    pub seed: u64,
    pub agent: &'static str,
    pub env_version: String,
    pub episode_id: Option<String>,
    pub steps: Vec<StepRecord>,
    pub score: Option<f64>,
    pub breakdown: Value,
    pub ground_truth: Value,
    pub duration_s: f64,
    pub infra_error: Option<String>,
}

impl EpisodeRecord {
    fn new(task: TaskId, seed: u64, agent: AgentKind) -> EpisodeRecord {
        EpisodeRecord {
            task,
            seed,
            agent: agent.as_str(),
            env_version: crate::env::ENV_VERSION.to_string(),
            episode_id: None,
            steps: Vec::new(),
            score: None,
            breakdown: Value::Null,
            ground_truth: Value::Null,
            duration_s: 0.0,
            infra_error: None,
        }
    }
}

async fn recv(ws: &mut Ws) -> Result<Value, String> {
    loop {
        let next = tokio::time::timeout(REPLY_TIMEOUT, ws.next())
            .await
            .map_err(|_| "no reply in time".to_string())?;
        match next {
            Some(Ok(Message::Text(t))) => {
                return serde_json::from_str(&t).map_err(|e| format!("bad frame: {e}"));
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(format!(
                    "connection closed: {}",
                    frame.map(|f| format!("{} {}", f.code, f.reason)).unwrap_or_default()
                ));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("connection error: {e}")),
            None => return Err("connection closed".into()),
        }
    }
}

async fn request(ws: &mut Ws, message: Value) -> Result<Value, String> {
    ws.send(Message::Text(message.to_string().into())).await.map_err(|e| format!("send failed: {e}"))?;
    recv(ws).await
}

/// Plays one episode on an open connection.
async fn play(ws: &mut Ws, agent: &mut Agent, record: &mut EpisodeRecord) -> Result<(), String> {
    let reset =
        request(ws, json!({"type": "reset", "data": {"task_id": record.task.as_str(), "seed": record.seed}}))
            .await?;
    if reset["type"] != "observation" {
        return Err(format!("reset refused: {}", reset["data"]));
    }
    let mut observation = reset["data"]["observation"].clone();
    record.episode_id = observation["episode_id"].as_str().map(str::to_string);
    let max_steps = observation["max_steps"].as_u64().unwrap_or(40) as usize;
    // Rejected actions cost no step; bound how many an agent may make.
    for _ in 0..max_steps * 3 {
        let action = agent.act(&observation).await;
        let started = Instant::now();
        let reply = request(ws, json!({"type": "step", "data": action})).await?;
        let latency_s = started.elapsed().as_secs_f64();
        if reply["type"] == "error" {
            let code = reply["data"]["code"].as_str().unwrap_or("");
            if code != "VALIDATION_ERROR" {
                return Err(format!("server error {code}: {}", reply["data"]["message"]));
            }
            record.steps.push(StepRecord {
                action,
                reward: None,
                done: false,
                observation: Value::Null,
                error: Some(reply["data"].clone()),
                latency_s,
            });
            continue;
        }
        let data = &reply["data"];
        observation = data["observation"].clone();
        let done = data["done"] == true;
        record.steps.push(StepRecord {
            action,
            reward: data["reward"].as_f64(),
            done,
            observation: observation.clone(),
            error: None,
            latency_s,
        });
        if done {
            let end = &observation["last_action_result"];
            record.score = end["score"].as_f64();
            record.breakdown = end["breakdown"].clone();
            record.ground_truth = end["ground_truth"].clone();
            return Ok(());
        }
    }
    Err("the agent made too many rejected actions".into())
}

/// A farm in this process on a loopback port; stops when the sender drops.
async fn local_farm(concurrency: u64) -> Result<(String, tokio::sync::oneshot::Sender<()>), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let settings = crate::config::Settings {
        farm: crate::config::FarmSettings {
            max_sessions: (concurrency as usize) * 2 + 16,
            // Its own farm, its own agent: the end objects may carry the answer (the report shows it).
            reveal_ground_truth: true,
            ..Default::default()
        },
        server: crate::config::ServerSettings {
            host: addr.ip(),
            port: addr.port(),
            drain_timeout_secs: 1,
            ..Default::default()
        },
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(crate::server::serve(settings, listener, async {
        let _ = stopped.await;
    }));
    Ok((format!("http://{addr}"), stop))
}

fn ws_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    let base = base
        .strip_prefix("http://")
        .map(|r| format!("ws://{r}"))
        .or_else(|| base.strip_prefix("https://").map(|r| format!("wss://{r}")))
        .unwrap_or_else(|| base.to_string());
    format!("{base}/ws")
}

/// Runs the evaluation; `on_episode` sees every finished episode (trace, trajectories, progress).
pub async fn run(
    args: &EvalArgs,
    mut on_episode: impl FnMut(&EpisodeRecord),
) -> Result<report::Summary, String> {
    let (base, local) = match &args.url {
        Some(url) => (url.clone(), None),
        None => {
            let (url, stop) = local_farm(args.concurrency).await?;
            (url, Some(stop))
        }
    };
    let url = ws_url(&base);
    let llm = (args.agent == AgentKind::Llm).then(|| {
        Arc::new(LlmConfig::new(args.api_base_url.clone(), args.model.clone(), args.llm_concurrency))
    });
    let mut jobs = VecDeque::new();
    for i in 0..args.episodes {
        for &task in &args.tasks {
            jobs.push_back((task, args.seed_start + i));
        }
    }
    let total = jobs.len();
    let queue = Arc::new(Mutex::new(jobs));
    let (tx, mut rx) = mpsc::unbounded_channel::<EpisodeRecord>();
    let started = Instant::now();
    for worker in 0..args.concurrency.min(total as u64) {
        let (queue, tx, url, llm, kind) = (queue.clone(), tx.clone(), url.clone(), llm.clone(), args.agent);
        tokio::spawn(async move {
            let mut conn: Option<Ws> = None;
            loop {
                let Some((task, seed)) = queue.lock().expect("not poisoned").pop_front() else { break };
                let mut record = EpisodeRecord::new(task, seed, kind);
                let begun = Instant::now();
                if conn.is_none() {
                    match tokio_tungstenite::connect_async(url.as_str()).await {
                        Ok((ws, _)) => conn = Some(ws),
                        Err(e) => record.infra_error = Some(format!("connect failed: {e}")),
                    }
                }
                if let Some(ws) = conn.as_mut() {
                    let mut agent = Agent::new(kind, seed ^ (worker << 48), llm.as_ref());
                    if let Err(e) = play(ws, &mut agent, &mut record).await {
                        record.infra_error = Some(e);
                        conn = None; // reconnect for the next episode
                    }
                }
                record.duration_s = begun.elapsed().as_secs_f64();
                if tx.send(record).is_err() {
                    break;
                }
            }
            if let Some(mut ws) = conn {
                let _ = ws.send(Message::Text(r#"{"type":"close"}"#.into())).await;
                let _ = ws.close(None).await;
            }
        });
    }
    drop(tx);
    let mut records = Vec::with_capacity(total);
    while let Some(record) = rx.recv().await {
        on_episode(&record);
        records.push(record);
    }
    let wall = started.elapsed().as_secs_f64();
    drop(local);
    Ok(report::Summary::new(args, &records, wall))
}
