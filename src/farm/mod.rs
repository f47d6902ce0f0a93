//! The farm: many isolated sessions, one actor each, owned by a supervisor
//! (docs/PROTOCOL.md: shape, lifecycle). Admission happens here, before a session is spawned,
//! because actor mailboxes are unbounded.

pub mod id;
pub mod session;
pub mod status;
pub mod supervisor;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use dashmap::DashMap;
use ractor::rpc::CallResult;
use ractor::{Actor, ActorRef};
use serde_json::Value;

pub use id::{SessionId, SessionSecret};
use session::{ResetRequest, SessionError, SessionMsg, StepDone};
pub use status::{CloseReason, SessionStatus, Transport};
use supervisor::{Supervisor, SupervisorMsg, reap_interval};

use crate::config::FarmSettings;
use crate::env::catalogue::TRAINING_SEED_START;
use crate::env::grader::GroundTruth;
use crate::env::{EpisodeOptions, Observation, ResetParams, State, TaskId};
use crate::metrics::{EpisodeOutcome, Metrics, RejectReason};

/// How long a reaped or crashed session's id keeps answering SESSION_EXPIRED.
pub const EXPIRED_MEMORY: Duration = Duration::from_secs(3600);
/// How many such ids are remembered at most (oldest forgotten first).
pub const EXPIRED_CAPACITY: usize = 1_000_000;
/// A session past its lifetime is reaped at once when idle this long.
pub const LIFETIME_IDLE_GRACE: Duration = Duration::from_secs(60);

/// Who holds a session, for the per-client cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// The index of the agent token the client presented.
    Token(usize),
    /// The client's address.
    Addr(IpAddr),
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FarmError {
    #[error("server at capacity: {active}/{max} sessions active")]
    CapacityReached { active: usize, max: usize },
    #[error("this client holds {active} of its {max} sessions (--max-sessions-per-client)")]
    ClientCapReached { active: usize, max: usize },
    #[error("a live session holds this id; present its secret or propose another id")]
    SessionConflict,
    #[error("the server is draining; connect to another instance")]
    Draining,
    #[error("no such session")]
    SessionNotFound,
    #[error("the session has expired")]
    SessionExpired,
    #[error("the session crashed")]
    SessionCrashed,
    #[error("no reply within the request deadline; the request may still be applied")]
    DeadlineExceeded,
    #[error("another step of this session is in flight")]
    StepInProgress,
    #[error("{0}")]
    Session(SessionError),
    /// The farm failed (the session actor could not be spawned); the cause is
    /// logged, not sent.
    #[error("internal error: the session could not be started")]
    Internal,
}

/// A live session as the transports see it.
pub struct SessionEntry {
    pub id: SessionId,
    /// What the holder presents on every request after the first.
    pub secret: SessionSecret,
    pub actor: ActorRef<SessionMsg>,
    pub status: Arc<SessionStatus>,
}

pub struct Farm {
    pub settings: FarmSettings,
    pub metrics: Arc<Metrics>,
    sessions: DashMap<SessionId, Arc<SessionEntry>>,
    expired: DashMap<SessionId, Instant>,
    expired_order: Mutex<VecDeque<(SessionId, Instant)>>,
    live: AtomicUsize,
    draining: AtomicBool,
    ready: AtomicBool,
    started: Instant,
    supervisor: Mutex<Option<ActorRef<SupervisorMsg>>>,
    /// Live sessions per client (entries at zero are removed).
    per_client: DashMap<ClientKey, usize>,
    /// Woken whenever an episode ends or a session ends: shutdown waits on it.
    pub(crate) activity: Arc<Notify>,
}

impl Farm {
    /// Starts the supervisor and returns the farm, ready for sessions.
    pub async fn start(settings: FarmSettings) -> Arc<Farm> {
        let farm = Arc::new(Farm {
            metrics: Metrics::new(settings.max_sessions),
            settings,
            sessions: DashMap::new(),
            expired: DashMap::new(),
            expired_order: Mutex::new(VecDeque::new()),
            live: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            ready: AtomicBool::new(false),
            started: Instant::now(),
            supervisor: Mutex::new(None),
            per_client: DashMap::new(),
            activity: Arc::new(Notify::new()),
        });
        let every = reap_interval(farm.settings.idle_timeout());
        let (supervisor, _) = Actor::spawn(None, Supervisor, (Arc::downgrade(&farm), every))
            .await
            .expect("the supervisor starts");
        *farm.supervisor.lock().expect("not poisoned") = Some(supervisor);
        farm.ready.store(true, Ordering::Release);
        farm
    }

    /// Milliseconds since the farm started (the clock of session activity).
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) && !self.is_draining()
    }
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
    pub fn live_sessions(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }
    pub fn episode_options(&self) -> EpisodeOptions {
        EpisodeOptions {
            max_invalid_actions: self.settings.max_invalid_actions,
            reveal_answers: self.settings.reveals_answers(),
            compact: false,
        }
    }
    fn supervisor(&self) -> Option<ActorRef<SupervisorMsg>> {
        self.supervisor.lock().expect("not poisoned").clone()
    }

    /// Admits and spawns a session (under `id`, or a minted one). A proposed
    /// id that a live session holds is a conflict, never an attach: only the
    /// holder (who presents the secret) may reach that session.
    pub async fn open_session(
        &self,
        transport: Transport,
        id: Option<SessionId>,
        client: Option<ClientKey>,
    ) -> Result<Arc<SessionEntry>, FarmError> {
        if self.is_draining() {
            self.metrics.rejected(RejectReason::Draining).increment(1);
            return Err(FarmError::Draining);
        }
        if id.is_some_and(|id| self.sessions.contains_key(&id)) {
            return Err(self.conflict());
        }
        let max = self.settings.max_sessions;
        let admitted =
            self.live.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1));
        if let Err(active) = admitted {
            self.metrics.rejected(RejectReason::Capacity).increment(1);
            return Err(FarmError::CapacityReached { active, max });
        }
        if let Err(e) = self.admit_client(client) {
            self.live.fetch_sub(1, Ordering::AcqRel);
            self.metrics.rejected(RejectReason::ClientCapacity).increment(1);
            return Err(e);
        }
        let id = id.unwrap_or_else(SessionId::mint);
        let status = Arc::new(SessionStatus::new(transport, self.now_ms(), client));
        let actor = match self.spawn(id, status.clone()).await {
            Ok(actor) => actor,
            Err(cause) => {
                self.live.fetch_sub(1, Ordering::AcqRel);
                self.release_client(client);
                // The supervisor is gone once shutdown has begun: that is draining.
                if self.is_draining() {
                    self.metrics.rejected(RejectReason::Draining).increment(1);
                    return Err(FarmError::Draining);
                }
                tracing::error!(session = %id, %cause, "cannot start a session");
                return Err(FarmError::Internal);
            }
        };
        let entry = Arc::new(SessionEntry { id, secret: SessionSecret::mint(), actor, status });
        match self.sessions.entry(id) {
            dashmap::Entry::Vacant(v) => {
                v.insert(entry.clone());
            }
            dashmap::Entry::Occupied(o) => {
                // Another request opened a session under this id first: this
                // one never existed (not counted created, nor closed).
                drop(o);
                entry.status.mark_ended(CloseReason::ClientClose);
                entry.actor.stop(None);
                return Err(self.conflict());
            }
        }
        entry.status.mark_registered();
        self.expired.remove(&id);
        self.metrics.created(transport).increment(1);
        tracing::info!(session = %id, transport = transport.as_str(), "session started");
        Ok(entry)
    }

    /// Asks the supervisor to spawn a session actor; the error says why it did not.
    async fn spawn(&self, id: SessionId, status: Arc<SessionStatus>) -> Result<ActorRef<SessionMsg>, String> {
        let Some(sup) = self.supervisor() else { return Err("the supervisor has stopped".into()) };
        let options = self.episode_options();
        let call = sup.call(
            |reply| SupervisorMsg::Spawn { id, status, options, reply },
            Some(self.settings.request_deadline()),
        );
        match call.await {
            Ok(CallResult::Success(Ok(actor))) => Ok(actor),
            Ok(CallResult::Success(Err(e))) => Err(format!("spawn failed: {e}")),
            Ok(CallResult::Timeout) => {
                Err("the supervisor did not answer within the request deadline".into())
            }
            Ok(CallResult::SenderError) => Err("the supervisor dropped the request".into()),
            Err(e) => Err(format!("the supervisor is unreachable: {e}")),
        }
    }

    /// Refuses a proposed id that a live session holds (counted as a rejection).
    pub fn conflict(&self) -> FarmError {
        self.metrics.rejected(RejectReason::Conflict).increment(1);
        FarmError::SessionConflict
    }

    /// Counts a new session against its client's cap.
    fn admit_client(&self, client: Option<ClientKey>) -> Result<(), FarmError> {
        let max = self.settings.max_sessions_per_client;
        let Some(client) = client.filter(|_| max > 0) else { return Ok(()) };
        let mut held = self.per_client.entry(client).or_insert(0);
        if *held >= max {
            return Err(FarmError::ClientCapReached { active: *held, max });
        }
        *held += 1;
        Ok(())
    }

    fn release_client(&self, client: Option<ClientKey>) {
        if self.settings.max_sessions_per_client == 0 {
            return;
        }
        if let Some(client) = client {
            self.per_client.remove_if_mut(&client, |_, n| {
                *n = n.saturating_sub(1);
                *n == 0
            });
        }
    }

    /// The live session with this id; SESSION_EXPIRED for a remembered reaped one.
    pub fn lookup(&self, id: SessionId) -> Result<Arc<SessionEntry>, FarmError> {
        if let Some(entry) = self.sessions.get(&id) {
            // Crashed or reaped but not yet removed by the supervisor: already expired
            // (only the request that saw the crash reports SESSION_CRASHED).
            return match entry.status.end_reason() {
                Some(CloseReason::Panic | CloseReason::IdleTimeout | CloseReason::MaxLifetime) => {
                    Err(FarmError::SessionExpired)
                }
                _ => Ok(entry.clone()),
            };
        }
        match self.expired.get(&id) {
            Some(at) if at.elapsed() < EXPIRED_MEMORY => Err(FarmError::SessionExpired),
            _ => Err(FarmError::SessionNotFound),
        }
    }

    /// Whether this id was reaped recently (a new session under it says so).
    pub fn was_expired(&self, id: SessionId) -> bool {
        self.expired.get(&id).is_some_and(|at| at.elapsed() < EXPIRED_MEMORY)
    }

    fn remember_expired(&self, id: SessionId) {
        let now = Instant::now();
        self.expired.insert(id, now);
        let mut order = self.expired_order.lock().expect("not poisoned");
        order.push_back((id, now));
        while order.len() > EXPIRED_CAPACITY
            || order.front().is_some_and(|(_, at)| at.elapsed() >= EXPIRED_MEMORY)
        {
            if let Some((old, at)) = order.pop_front() {
                self.expired.remove_if(&old, |_, v| *v == at);
            }
        }
    }

    /// Resolves reset parameters (seed and episode id drawn when absent) and resets the session.
    pub async fn reset(
        &self,
        entry: &SessionEntry,
        params: ResetParams,
        mut messages: Vec<String>,
    ) -> Result<Observation, FarmError> {
        if self.is_draining() {
            self.metrics.rejected(RejectReason::Draining).increment(1);
            return Err(FarmError::Draining);
        }
        let task = params.task_id.unwrap_or_else(|| {
            messages.push("task_id absent: defaulting to easy".into());
            TaskId::Easy
        });
        if !params.ignored_keys.is_empty() {
            messages.push(format!("ignored reset keys: {}", params.ignored_keys.join(", ")));
        }
        let seed = params.seed.unwrap_or_else(draw_seed);
        // Salted: the episode comes from (task, salted seed); clients keep seeing their seed.
        let world_seed = match &self.settings.seed_salt {
            Some(salt) => crate::env::rng::salted_seed(salt.as_bytes(), seed),
            None => seed,
        };
        let episode_id = params
            .episode_id
            .unwrap_or_else(|| format!("{:016x}{:016x}", id::random_u64(), id::random_u64()));
        let request = ResetRequest { task, seed, world_seed, episode_id, compact: params.compact, messages };
        entry.status.touch(self.now_ms());
        self.call(entry, |reply| SessionMsg::Reset(request, reply)).await
    }

    /// Applies one step (at most one in flight per session).
    pub async fn step(
        &self,
        entry: &SessionEntry,
        action: Value,
        request_id: Option<String>,
    ) -> Result<StepDone, FarmError> {
        if !entry.status.begin_step() {
            return Err(FarmError::StepInProgress);
        }
        entry.status.touch(self.now_ms());
        let result = self.call(entry, |reply| SessionMsg::Step { action, request_id, reply }).await;
        entry.status.end_step();
        result?.map_err(FarmError::Session)
    }

    pub async fn state(&self, entry: &SessionEntry) -> Result<State, FarmError> {
        entry.status.touch(self.now_ms());
        self.call(entry, SessionMsg::State).await
    }

    pub async fn reveal(&self, entry: &SessionEntry) -> Result<Option<GroundTruth>, FarmError> {
        self.call(entry, SessionMsg::Reveal).await
    }

    async fn call<T: Send + 'static>(
        &self,
        entry: &SessionEntry,
        msg: impl FnOnce(ractor::RpcReplyPort<T>) -> SessionMsg,
    ) -> Result<T, FarmError> {
        match entry.actor.call(msg, Some(self.settings.request_deadline())).await {
            Ok(CallResult::Success(v)) => Ok(v),
            Ok(CallResult::Timeout) => Err(FarmError::DeadlineExceeded),
            // The reply port was dropped: the actor died with the message (a panic), or had stopped.
            Ok(CallResult::SenderError) | Err(_) => Err(match entry.status.end_reason() {
                Some(CloseReason::Panic) | None => {
                    entry.status.mark_ended(CloseReason::Panic);
                    FarmError::SessionCrashed
                }
                Some(_) => FarmError::SessionExpired,
            }),
        }
    }

    /// Ends a session at a client's or operator's request.
    pub fn close(&self, entry: &SessionEntry, reason: CloseReason) {
        // Only this entry: a newer session may live under the same (reused) id.
        if self.sessions.remove_if(&entry.id, |_, e| Arc::ptr_eq(&e.status, &entry.status)).is_some() {
            entry.status.mark_ended(reason);
            entry.actor.stop(Some(reason.as_str().into()));
        }
    }

    /// Supervisor: a session actor has stopped; close the books.
    fn session_ended(&self, id: SessionId, status: &SessionStatus) {
        let reason = status.end_reason().unwrap_or(CloseReason::ClientClose);
        // Only this session's entry: a new session may already live under a reused id.
        self.sessions.remove_if(&id, |_, e| std::ptr::eq(Arc::as_ptr(&e.status), status));
        if matches!(reason, CloseReason::Panic | CloseReason::IdleTimeout | CloseReason::MaxLifetime) {
            self.remember_expired(id);
        }
        if reason == CloseReason::Panic {
            self.metrics.panics.increment(1);
        }
        // A session that lost the race for its id was never created: not closed either.
        if status.registered() {
            self.metrics.closed(reason).increment(1);
        }
        self.metrics.session_active(status.task()).decrement(1.0);
        if status.episode_open() {
            if let Some(task) = status.task() {
                self.metrics.episode_end(task, EpisodeOutcome::Abandoned, None, status.step_count(), 0.0);
            }
        }
        self.live.fetch_sub(1, Ordering::AcqRel);
        self.release_client(status.client);
        status.ended.notify_one();
        self.activity.notify_waiters();
        if status.registered() {
            tracing::info!(session = %id, transport = status.transport.as_str(), reason = reason.as_str(), "session ended");
        }
    }

    /// Supervisor timer: stops sessions idle past the timeout or past their lifetime.
    fn reap(&self) {
        let now = self.now_ms();
        let idle_limit = self.settings.idle_timeout().as_millis() as u64;
        let lifetime = self.settings.max_session_lifetime_secs * 1000;
        let grace = LIFETIME_IDLE_GRACE.as_millis() as u64;
        let mut doomed = Vec::new();
        for entry in self.sessions.iter() {
            let s = &entry.status;
            let idle = now.saturating_sub(s.last_activity_ms());
            if idle >= idle_limit {
                doomed.push((entry.clone(), CloseReason::IdleTimeout));
            } else if lifetime > 0
                && now.saturating_sub(s.created_ms) >= lifetime
                && (!s.episode_open() || idle >= grace)
            {
                doomed.push((entry.clone(), CloseReason::MaxLifetime));
            }
        }
        for (entry, reason) in doomed {
            self.close(&entry, reason);
        }
        self.metrics.upkeep();
    }

    /// Shutdown step 1-2: not ready, refuse new sessions and resets.
    pub fn begin_drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Shutdown step 3: wait until no episode is open, or the drain timeout.
    pub async fn wait_for_open_episodes(&self, timeout: Duration) {
        self.wait_until(timeout, || !self.sessions.iter().any(|e| e.status.episode_open())).await;
    }

    /// Waits (on `activity`, never by polling) until `done` holds or `timeout` passes; false on timeout.
    async fn wait_until(&self, timeout: Duration, done: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let changed = self.activity.notified();
            tokio::pin!(changed);
            // Registered before the check, so a change right after it still wakes us.
            changed.as_mut().enable();
            if done() {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return false;
            }
        }
    }

    /// Shutdown step 4: tell every session it ends (WS loops close with 1001).
    pub fn announce_shutdown(&self) {
        for entry in self.sessions.iter() {
            entry.status.mark_ended(CloseReason::Shutdown);
        }
    }

    /// Stops every session actor (waiting at most `timeout` for them) and the supervisor.
    pub async fn stop_all(&self, timeout: Duration) {
        let entries: Vec<Arc<SessionEntry>> = self.sessions.iter().map(|e| e.clone()).collect();
        for entry in entries {
            self.close(&entry, CloseReason::Shutdown);
        }
        if !self.wait_until(timeout, || self.live_sessions() == 0).await {
            tracing::warn!(live = self.live_sessions(), "session actors still running at exit");
        }
        if let Some(sup) = self.supervisor.lock().expect("not poisoned").take() {
            sup.stop(None);
        }
    }

    /// Snapshot of live sessions for operators.
    pub fn list(&self) -> Vec<Arc<SessionEntry>> {
        self.sessions.iter().map(|e| e.clone()).collect()
    }
}

/// A seed drawn by the farm: uniform in [2^32, 2^53), so JavaScript clients can echo it.
pub fn draw_seed() -> u64 {
    let span = (1u64 << 53) - TRAINING_SEED_START;
    TRAINING_SEED_START + id::random_u64() % span
}
