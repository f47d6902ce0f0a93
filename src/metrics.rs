//! Every metric the farm exports: names, help texts, buckets and label sets in
//! one place. Handles for every label combination are registered at start-up
//! (so every series exists from the first scrape) on a recorder owned by the
//! farm, not a global one, so several farms can share a process (tests).

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Key, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::env::action::ActionType;
use crate::env::{ENV_VERSION, TaskId};
use crate::farm::{CloseReason, Transport};

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

/// One metric label: its key and its closed set of values. `index` is a
/// match, not a lookup, so a value outside the set cannot be named.
pub trait Label: Copy + 'static {
    const KEY: &'static str;
    /// Every value, in index order.
    const ALL: &'static [Self];
    fn value(self) -> &'static str;
    /// The position of this value in `ALL`.
    fn index(self) -> usize;
}

/// The task of a session's current episode; `None` ("none") before the first reset.
impl Label for Option<TaskId> {
    const KEY: &'static str = "task";
    const ALL: &'static [Self] = &[Some(TaskId::Easy), Some(TaskId::Medium), Some(TaskId::Hard), None];
    fn value(self) -> &'static str {
        self.map_or("none", TaskId::as_str)
    }
    fn index(self) -> usize {
        self.map_or(TaskId::ALL.len(), |t| t as usize)
    }
}

impl Label for TaskId {
    const KEY: &'static str = "task";
    const ALL: &'static [Self] = &TaskId::ALL;
    fn value(self) -> &'static str {
        self.as_str()
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// A step's action type; `None` ("unknown") for an action that did not parse.
impl Label for Option<ActionType> {
    const KEY: &'static str = "action";
    const ALL: &'static [Self] = &{
        let mut all = [None; ActionType::ALL.len() + 1];
        let mut i = 0;
        while i < ActionType::ALL.len() {
            all[i] = Some(ActionType::ALL[i]);
            i += 1;
        }
        all
    };
    fn value(self) -> &'static str {
        self.map_or("unknown", ActionType::as_str)
    }
    fn index(self) -> usize {
        self.map_or(ActionType::ALL.len(), |t| t as usize)
    }
}

impl Label for Transport {
    const KEY: &'static str = "transport";
    const ALL: &'static [Self] = &[Transport::Ws, Transport::Http, Transport::Mcp];
    fn value(self) -> &'static str {
        self.as_str()
    }
    fn index(self) -> usize {
        self as usize
    }
}

impl Label for CloseReason {
    const KEY: &'static str = "reason";
    const ALL: &'static [Self] = &CloseReason::ALL;
    fn value(self) -> &'static str {
        self.as_str()
    }
    fn index(self) -> usize {
        // the discriminants start at 1 (0 is "open" in the session status)
        self as usize - 1
    }
}

/// Defines a label enum local to the metrics: variants, their values and the key.
macro_rules! label_enum {
    ($(#[$doc:meta])* $name:ident, $key:literal, [$($variant:ident => $value:literal),+ $(,)?]) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($variant),+
        }

        impl Label for $name {
            const KEY: &'static str = $key;
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn value(self) -> &'static str {
                match self {
                    $($name::$variant => $value),+
                }
            }
            fn index(self) -> usize {
                self as usize
            }
        }
    };
}

label_enum!(
    /// Why a new session was refused.
    RejectReason, "reason", [
        Capacity => "capacity",
        Draining => "draining",
        ClientCapacity => "client_capacity",
        Conflict => "conflict",
    ]
);
label_enum!(
    /// How a step ended: applied, rejected as invalid, or refused (episode over).
    StepOutcome, "outcome", [Ok => "ok", Invalid => "invalid", Error => "error"]
);
label_enum!(
    /// How an episode ended.
    EpisodeOutcome, "outcome", [Submitted => "submitted", Truncated => "truncated", Abandoned => "abandoned"]
);
label_enum!(
    /// A WebSocket message's direction, seen from the server.
    Direction, "direction", [In => "in", Out => "out"]
);
label_enum!(
    /// An HTTP status class (1xx counts as 2xx).
    StatusClass, "status", [S2xx => "2xx", S3xx => "3xx", S4xx => "4xx", S5xx => "5xx"]
);

impl StatusClass {
    pub fn of(status: u16) -> StatusClass {
        StatusClass::ALL[usize::from((status / 100).clamp(2, 5) - 2)]
    }
}

/// An HTTP route pattern of `ROUTES`, or unmatched (a pattern, never a raw path).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route(usize);

impl Route {
    pub fn of_path(path: &str) -> Route {
        if path.starts_with("/operator/") {
            return Route::of_path("/operator");
        }
        Route(ROUTES.iter().position(|r| *r == path).unwrap_or(ROUTES.len()))
    }
}

impl Label for Route {
    const KEY: &'static str = "route";
    const ALL: &'static [Self] = &{
        let mut all = [Route(0); ROUTES.len() + 1];
        let mut i = 0;
        while i < all.len() {
            all[i] = Route(i);
            i += 1;
        }
        all
    };
    fn value(self) -> &'static str {
        ROUTES.get(self.0).copied().unwrap_or("unmatched")
    }
    fn index(self) -> usize {
        self.0
    }
}

/// One series per value of a label, or per combination of two or three labels.
struct Family<L, M> {
    series: Vec<M>,
    _labels: std::marker::PhantomData<L>,
}

/// A label or a tuple of labels: the combinations, in index order, and the
/// position of one.
trait LabelSet: Copy {
    fn all() -> Vec<(Self, Vec<(&'static str, &'static str)>)>;
    fn position(self) -> usize;
}

impl<A: Label> LabelSet for (A,) {
    fn all() -> Vec<(Self, Vec<(&'static str, &'static str)>)> {
        A::ALL.iter().map(|a| ((*a,), vec![(A::KEY, a.value())])).collect()
    }
    fn position(self) -> usize {
        self.0.index()
    }
}

impl<A: Label, B: Label> LabelSet for (A, B) {
    fn all() -> Vec<(Self, Vec<(&'static str, &'static str)>)> {
        let mut all = Vec::new();
        for a in A::ALL {
            for b in B::ALL {
                all.push(((*a, *b), vec![(A::KEY, a.value()), (B::KEY, b.value())]));
            }
        }
        all
    }
    fn position(self) -> usize {
        self.0.index() * B::ALL.len() + self.1.index()
    }
}

impl<A: Label, B: Label, C: Label> LabelSet for (A, B, C) {
    fn all() -> Vec<(Self, Vec<(&'static str, &'static str)>)> {
        let mut all = Vec::new();
        for ((a, b), mut labels) in <(A, B)>::all() {
            for c in C::ALL {
                labels.push((C::KEY, c.value()));
                all.push(((a, b, *c), labels.clone()));
                labels.pop();
            }
        }
        all
    }
    fn position(self) -> usize {
        (self.0, self.1).position() * C::ALL.len() + self.2.index()
    }
}

impl<L: LabelSet, M> Family<L, M> {
    fn new(mut make: impl FnMut(&[(&'static str, &'static str)]) -> M) -> Self {
        let series = L::all().iter().map(|(_, labels)| make(labels)).collect();
        Family { series, _labels: std::marker::PhantomData }
    }
    fn get(&self, labels: L) -> &M {
        &self.series[labels.position()]
    }
}

/// Seconds from 25 us to 10 s, roughly doubling.
pub const SECONDS_BUCKETS: [f64; 15] =
    [25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 0.1, 0.5, 2.5, 10.0];

fn steps_of(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let n = ((hi - lo) / step).round() as usize;
    (0..=n).map(|i| ((lo + step * i as f64) * 1e6).round() / 1e6).collect()
}

/// Handles for every series, one family per metric with labels.
pub struct Metrics {
    handle: PrometheusHandle,
    pub capacity: Gauge,
    sessions_active: Family<(Option<TaskId>,), Gauge>,
    created: Family<(Transport,), Counter>,
    closed: Family<(CloseReason,), Counter>,
    rejected: Family<(RejectReason,), Counter>,
    steps: Family<(TaskId, Option<ActionType>, StepOutcome), Counter>,
    step_duration: Family<(Option<ActionType>,), Histogram>,
    pub reset_duration: Histogram,
    episodes: Family<(TaskId, EpisodeOutcome), Counter>,
    episode_score: Family<(TaskId,), Histogram>,
    episode_steps: Family<(TaskId,), Histogram>,
    episode_reward: Family<(TaskId,), Histogram>,
    pub ws_connections: Gauge,
    ws_messages: Family<(Direction,), Counter>,
    http_requests: Family<(Route, StatusClass), Counter>,
    http_duration: Family<(Route,), Histogram>,
    pub panics: Counter,
}

struct Registrar {
    recorder: PrometheusRecorder,
}

impl Registrar {
    fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
        Key::from_parts(name, labels.iter().map(|(k, v)| metrics::Label::new(*k, *v)).collect::<Vec<_>>())
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
        let build = r.gauge(
            BUILD_INFO,
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("git_sha", option_env!("MLOPS_GIT_SHA").unwrap_or("unknown")),
                ("env_version", ENV_VERSION),
            ],
        );
        build.set(1.0);
        let m = Metrics {
            capacity,
            sessions_active: Family::new(|l| r.gauge(SESSIONS_ACTIVE, l)),
            created: Family::new(|l| r.counter(SESSIONS_CREATED, l)),
            closed: Family::new(|l| r.counter(SESSIONS_CLOSED, l)),
            rejected: Family::new(|l| r.counter(SESSIONS_REJECTED, l)),
            steps: Family::new(|l| r.counter(STEPS, l)),
            step_duration: Family::new(|l| r.histogram(STEP_DURATION, l)),
            reset_duration: r.histogram(RESET_DURATION, &[]),
            episodes: Family::new(|l| r.counter(EPISODES, l)),
            episode_score: Family::new(|l| r.histogram(EPISODE_SCORE, l)),
            episode_steps: Family::new(|l| r.histogram(EPISODE_STEPS, l)),
            episode_reward: Family::new(|l| r.histogram(EPISODE_REWARD, l)),
            ws_connections: r.gauge(WS_CONNECTIONS_ACTIVE, &[]),
            ws_messages: Family::new(|l| r.counter(WS_MESSAGES, l)),
            http_requests: Family::new(|l| r.counter(HTTP_REQUESTS, l)),
            http_duration: Family::new(|l| r.histogram(HTTP_REQUEST_DURATION, l)),
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
        self.sessions_active.get((task,))
    }
    pub fn created(&self, transport: Transport) -> &Counter {
        self.created.get((transport,))
    }
    pub fn closed(&self, reason: CloseReason) -> &Counter {
        self.closed.get((reason,))
    }
    pub fn rejected(&self, reason: RejectReason) -> &Counter {
        self.rejected.get((reason,))
    }
    /// A step's counter; `action` is `None` for an action that did not parse.
    pub fn step(&self, task: TaskId, action: Option<ActionType>, outcome: StepOutcome) -> &Counter {
        self.steps.get((task, action, outcome))
    }
    pub fn step_duration(&self, action: Option<ActionType>) -> &Histogram {
        self.step_duration.get((action,))
    }
    /// Records an ended episode.
    pub fn episode_end(
        &self,
        task: TaskId,
        outcome: EpisodeOutcome,
        score: Option<f64>,
        steps: u32,
        reward: f64,
    ) {
        self.episodes.get((task, outcome)).increment(1);
        if let Some(score) = score {
            self.episode_score.get((task,)).record(score);
        }
        self.episode_steps.get((task,)).record(steps as f64);
        self.episode_reward.get((task,)).record(reward);
    }
    pub fn ws_message(&self, direction: Direction) -> &Counter {
        self.ws_messages.get((direction,))
    }
    /// Records one HTTP request by route pattern (or unmatched) and status.
    pub fn http_request(&self, route: Route, status: u16, seconds: f64) {
        self.http_requests.get((route, StatusClass::of(status))).increment(1);
        self.http_duration.get((route,)).record(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexed<L: Label + std::fmt::Debug + PartialEq>() {
        for (i, value) in L::ALL.iter().enumerate() {
            assert_eq!(value.index(), i, "{value:?}");
        }
        let mut values: Vec<&str> = L::ALL.iter().map(|v| v.value()).collect();
        values.sort();
        values.dedup();
        assert_eq!(values.len(), L::ALL.len(), "label values of {} are distinct", L::KEY);
    }

    #[test]
    fn every_label_value_sits_at_its_index() {
        indexed::<Option<TaskId>>();
        indexed::<TaskId>();
        indexed::<Option<ActionType>>();
        indexed::<Transport>();
        indexed::<CloseReason>();
        indexed::<RejectReason>();
        indexed::<StepOutcome>();
        indexed::<EpisodeOutcome>();
        indexed::<Direction>();
        indexed::<StatusClass>();
        indexed::<Route>();
    }

    #[test]
    fn routes_and_status_classes() {
        assert_eq!(Route::of_path("/step").value(), "/step");
        assert_eq!(Route::of_path("/operator/sessions").value(), "/operator");
        assert_eq!(Route::of_path("/nope").value(), "unmatched");
        assert_eq!(StatusClass::of(101), StatusClass::S2xx);
        assert_eq!(StatusClass::of(404), StatusClass::S4xx);
        assert_eq!(StatusClass::of(599), StatusClass::S5xx);
    }
}
