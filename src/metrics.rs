//! Every metric the farm exports: names, help texts, buckets and label sets in
//! one place. Handles for every label combination are registered at start-up
//! (so every series exists from the first scrape) on a recorder owned by the
//! farm, not a global one, so several farms can share a process (tests).

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Key, Label, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::env::action::ACTION_TYPES;
use crate::env::{ENV_VERSION, TaskId};

pub const SESSIONS_ACTIVE: &str = "mlops_sessions_active";
pub const SESSIONS_CAPACITY: &str = "mlops_sessions_capacity";
pub const SESSIONS_CREATED: &str = "mlops_sessions_created_total";
pub const SESSIONS_CLOSED: &str = "mlops_sessions_closed_total";
pub const SESSIONS_REJECTED: &str = "mlops_sessions_rejected_total";
pub const STEPS: &str = "mlops_steps_total";
pub const STEP_DURATION: &str = "mlops_step_duration_seconds";
pub const RESET_DURATION: &str = "mlops_reset_duration_seconds";
pub const EPISODES: &str = "mlops_episodes_total";
pub const EPISODE_SCORE: &str = "mlops_episode_score";
pub const EPISODE_STEPS: &str = "mlops_episode_steps";
pub const EPISODE_REWARD: &str = "mlops_episode_reward";
pub const WS_CONNECTIONS_ACTIVE: &str = "mlops_ws_connections_active";
pub const WS_MESSAGES: &str = "mlops_ws_messages_total";
pub const HTTP_REQUESTS: &str = "mlops_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "mlops_http_request_duration_seconds";
pub const BUILD_INFO: &str = "mlops_build_info";
pub const ACTOR_PANICS: &str = "mlops_actor_panics_total";

/// Every metric name, for tests and docs that must cover them all.
pub const ALL: [&str; 18] = [
    SESSIONS_ACTIVE,
    SESSIONS_CAPACITY,
    SESSIONS_CREATED,
    SESSIONS_CLOSED,
    SESSIONS_REJECTED,
    STEPS,
    STEP_DURATION,
    RESET_DURATION,
    EPISODES,
    EPISODE_SCORE,
    EPISODE_STEPS,
    EPISODE_REWARD,
    WS_CONNECTIONS_ACTIVE,
    WS_MESSAGES,
    HTTP_REQUESTS,
    HTTP_REQUEST_DURATION,
    BUILD_INFO,
    ACTOR_PANICS,
];

pub const TRANSPORTS: [&str; 3] = ["ws", "http", "mcp"];
pub const CLOSE_REASONS: [&str; 5] = ["client_close", "idle_timeout", "max_lifetime", "panic", "shutdown"];
pub const REJECT_REASONS: [&str; 4] = ["capacity", "draining", "client_capacity", "conflict"];
pub const STEP_OUTCOMES: [&str; 3] = ["ok", "invalid", "error"];
pub const EPISODE_OUTCOMES: [&str; 3] = ["submitted", "truncated", "abandoned"];
/// Route patterns labelled on HTTP metrics; anything else is "unmatched".
pub const ROUTES: [&str; 15] = [
    "/reset",
    "/step",
    "/state",
    "/session",
    "/close",
    "/health",
    "/ready",
    "/tasks",
    "/metadata",
    "/schema",
    "/openapi.json",
    "/metrics",
    "/mcp",
    "/ws",
    "/operator",
];
pub const STATUS_CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

/// Seconds from 25 us to 10 s, roughly doubling.
pub const SECONDS_BUCKETS: [f64; 15] =
    [25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 0.1, 0.5, 2.5, 10.0];

fn steps_of(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let n = ((hi - lo) / step).round() as usize;
    (0..=n).map(|i| ((lo + step * i as f64) * 1e6).round() / 1e6).collect()
}

/// Label value of an episode's task, or "none" before the first reset.
pub fn task_label(task: Option<TaskId>) -> &'static str {
    task.map_or("none", TaskId::as_str)
}

const TASK_LABELS: [&str; 4] = ["easy", "medium", "hard", "none"];
/// Step actions: the eight types, or "unknown" for an invalid action.
pub const ACTION_LABELS: [&str; 9] = [
    ACTION_TYPES[0],
    ACTION_TYPES[1],
    ACTION_TYPES[2],
    ACTION_TYPES[3],
    ACTION_TYPES[4],
    ACTION_TYPES[5],
    ACTION_TYPES[6],
    ACTION_TYPES[7],
    "unknown",
];

fn idx(list: &[&str], value: &str) -> usize {
    list.iter().position(|v| *v == value).unwrap_or(list.len() - 1)
}

/// Handles for every series, indexed by label position.
pub struct Metrics {
    handle: PrometheusHandle,
    pub capacity: Gauge,
    sessions_active: Vec<Gauge>,
    created: Vec<Counter>,
    closed: Vec<Counter>,
    rejected: Vec<Counter>,
    steps: Vec<Counter>,
    step_duration: Vec<Histogram>,
    pub reset_duration: Histogram,
    episodes: Vec<Counter>,
    episode_score: Vec<Histogram>,
    episode_steps: Vec<Histogram>,
    episode_reward: Vec<Histogram>,
    pub ws_connections: Gauge,
    ws_messages: Vec<Counter>,
    http_requests: Vec<Counter>,
    http_duration: Vec<Histogram>,
    pub panics: Counter,
}

struct Registrar {
    recorder: PrometheusRecorder,
}

impl Registrar {
    fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
        Key::from_parts(name, labels.iter().map(|(k, v)| Label::new(*k, *v)).collect::<Vec<_>>())
    }
    fn meta() -> Metadata<'static> {
        Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()))
    }
    fn counter(&self, name: &'static str, labels: &[(&'static str, &'static str)]) -> Counter {
        let c = self.recorder.register_counter(&Self::key(name, labels), &Self::meta());
        c.increment(0);
        c
    }
    fn gauge(&self, name: &'static str, labels: &[(&'static str, &'static str)]) -> Gauge {
        let g = self.recorder.register_gauge(&Self::key(name, labels), &Self::meta());
        g.set(0.0);
        g
    }
    fn histogram(&self, name: &'static str, labels: &[(&'static str, &'static str)]) -> Histogram {
        self.recorder.register_histogram(&Self::key(name, labels), &Self::meta())
    }
    fn describe(&self, name: &'static str, unit: Option<Unit>, help: &'static str, kind: char) {
        let help = SharedString::const_str(help);
        match kind {
            'c' => self.recorder.describe_counter(name.into(), unit, help),
            'g' => self.recorder.describe_gauge(name.into(), unit, help),
            _ => self.recorder.describe_histogram(name.into(), unit, help),
        }
    }
}

impl Metrics {
    pub fn new(max_sessions: usize) -> Arc<Metrics> {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(EPISODE_SCORE.into()), &steps_of(0.0, 1.0, 0.05))
            })
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(EPISODE_REWARD.into()), &steps_of(-1.0, 1.25, 0.05))
            })
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(EPISODE_STEPS.into()), &steps_of(5.0, 40.0, 5.0))
            })
            .expect("bucket lists are non-empty");
        let r = Registrar { recorder: builder.build_recorder() };
        for (name, help, kind) in [
            (
                SESSIONS_ACTIVE,
                "Live sessions, by the task of their current episode (none before the first reset).",
                'g',
            ),
            (SESSIONS_CAPACITY, "Live sessions allowed (--max-sessions).", 'g'),
            (SESSIONS_CREATED, "Sessions created, by transport.", 'c'),
            (SESSIONS_CLOSED, "Sessions ended, by reason.", 'c'),
            (SESSIONS_REJECTED, "New sessions refused, by reason.", 'c'),
            (STEPS, "Steps, by task, action and outcome (ok, invalid, error).", 'c'),
            (EPISODES, "Episodes ended, by task and outcome (submitted, truncated, abandoned).", 'c'),
            (EPISODE_SCORE, "Final score of submitted and truncated episodes, by task.", 'h'),
            (EPISODE_STEPS, "Steps taken by ended episodes, by task.", 'h'),
            (EPISODE_REWARD, "Episode return (sum of step rewards) of ended episodes, by task.", 'h'),
            (WS_CONNECTIONS_ACTIVE, "Open WebSocket connections.", 'g'),
            (WS_MESSAGES, "WebSocket messages, by direction.", 'c'),
            (HTTP_REQUESTS, "HTTP requests, by route pattern and status class.", 'c'),
            (BUILD_INFO, "Build information; the value is always 1.", 'g'),
            (ACTOR_PANICS, "Session actors that panicked.", 'c'),
        ] {
            r.describe(name, None, help, kind);
        }
        for (name, help) in [
            (STEP_DURATION, "Time to apply one step in its session actor, by action."),
            (RESET_DURATION, "Time to reset one episode in its session actor."),
            (HTTP_REQUEST_DURATION, "HTTP request latency, by route pattern."),
        ] {
            r.describe(name, Some(Unit::Seconds), help, 'h');
        }
        let capacity = r.gauge(SESSIONS_CAPACITY, &[]);
        capacity.set(max_sessions as f64);
        let mut steps = Vec::new();
        for task in &TASK_LABELS[..3] {
            for action in ACTION_LABELS {
                for outcome in STEP_OUTCOMES {
                    steps.push(r.counter(STEPS, &[("task", task), ("action", action), ("outcome", outcome)]));
                }
            }
        }
        let mut episodes = Vec::new();
        for task in &TASK_LABELS[..3] {
            for outcome in EPISODE_OUTCOMES {
                episodes.push(r.counter(EPISODES, &[("task", task), ("outcome", outcome)]));
            }
        }
        let mut http_requests = Vec::new();
        for route in ROUTES.iter().copied().chain(["unmatched"]) {
            for class in STATUS_CLASSES {
                http_requests.push(r.counter(HTTP_REQUESTS, &[("route", route), ("status", class)]));
            }
        }
        let build = r.gauge(
            BUILD_INFO,
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("git_sha", option_env!("MLOPS_GIT_SHA").unwrap_or("unknown")),
                ("env_version", ENV_VERSION),
            ],
        );
        build.set(1.0);
        let per_task =
            |name| TASK_LABELS[..3].iter().map(|t| r.histogram(name, &[("task", t)])).collect::<Vec<_>>();
        let m = Metrics {
            capacity,
            sessions_active: TASK_LABELS.iter().map(|t| r.gauge(SESSIONS_ACTIVE, &[("task", t)])).collect(),
            created: TRANSPORTS.iter().map(|t| r.counter(SESSIONS_CREATED, &[("transport", t)])).collect(),
            closed: CLOSE_REASONS.iter().map(|t| r.counter(SESSIONS_CLOSED, &[("reason", t)])).collect(),
            rejected: REJECT_REASONS.iter().map(|t| r.counter(SESSIONS_REJECTED, &[("reason", t)])).collect(),
            steps,
            step_duration: ACTION_LABELS
                .iter()
                .map(|a| r.histogram(STEP_DURATION, &[("action", a)]))
                .collect(),
            reset_duration: r.histogram(RESET_DURATION, &[]),
            episodes,
            episode_score: per_task(EPISODE_SCORE),
            episode_steps: per_task(EPISODE_STEPS),
            episode_reward: per_task(EPISODE_REWARD),
            ws_connections: r.gauge(WS_CONNECTIONS_ACTIVE, &[]),
            ws_messages: ["in", "out"].iter().map(|d| r.counter(WS_MESSAGES, &[("direction", d)])).collect(),
            http_requests,
            http_duration: ROUTES
                .iter()
                .copied()
                .chain(["unmatched"])
                .map(|route| r.histogram(HTTP_REQUEST_DURATION, &[("route", route)]))
                .collect(),
            panics: r.counter(ACTOR_PANICS, &[]),
            handle: r.recorder.handle(),
        };
        Arc::new(m)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains histogram samples into their buckets; call periodically.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    pub fn session_active(&self, task: Option<TaskId>) -> &Gauge {
        &self.sessions_active[idx(&TASK_LABELS, task_label(task))]
    }
    pub fn created(&self, transport: &str) -> &Counter {
        &self.created[idx(&TRANSPORTS, transport)]
    }
    pub fn closed(&self, reason: &str) -> &Counter {
        &self.closed[idx(&CLOSE_REASONS, reason)]
    }
    pub fn rejected(&self, reason: &str) -> &Counter {
        &self.rejected[idx(&REJECT_REASONS, reason)]
    }
    pub fn step(&self, task: TaskId, action: &str, outcome: &str) -> &Counter {
        let t = idx(&TASK_LABELS, task.as_str());
        let a = idx(&ACTION_LABELS, action);
        let o = idx(&STEP_OUTCOMES, outcome);
        &self.steps[(t * ACTION_LABELS.len() + a) * STEP_OUTCOMES.len() + o]
    }
    pub fn step_duration(&self, action: &str) -> &Histogram {
        &self.step_duration[idx(&ACTION_LABELS, action)]
    }
    /// Records an ended episode.
    pub fn episode_end(&self, task: TaskId, outcome: &str, score: Option<f64>, steps: u32, reward: f64) {
        let t = idx(&TASK_LABELS, task.as_str());
        self.episodes[t * EPISODE_OUTCOMES.len() + idx(&EPISODE_OUTCOMES, outcome)].increment(1);
        if let Some(score) = score {
            self.episode_score[t].record(score);
        }
        self.episode_steps[t].record(steps as f64);
        self.episode_reward[t].record(reward);
    }
    pub fn ws_message(&self, inbound: bool) -> &Counter {
        &self.ws_messages[usize::from(!inbound)]
    }
    /// Records one HTTP request by route pattern (or unmatched) and status.
    pub fn http_request(&self, route: Option<&str>, status: u16, seconds: f64) {
        let r = route.and_then(|r| ROUTES.iter().position(|x| *x == r)).unwrap_or(ROUTES.len());
        let class = ((status / 100).clamp(2, 5) - 2) as usize;
        self.http_requests[r * STATUS_CLASSES.len() + class].increment(1);
        self.http_duration[r].record(seconds);
    }
}
