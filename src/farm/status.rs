//! What the farm knows about a live session without asking its actor: the
//! transport, activity times, the current task, whether an episode is open,
//! and why the session ended. The actor writes it; the reaper and transports read it.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};

use tokio::sync::Notify;

use super::ClientKey;
use crate::env::TaskId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Ws,
    Http,
    Mcp,
}

impl Transport {
    pub const fn as_str(self) -> &'static str {
        match self {
            Transport::Ws => "ws",
            Transport::Http => "http",
            Transport::Mcp => "mcp",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CloseReason {
    ClientClose = 1,
    IdleTimeout = 2,
    MaxLifetime = 3,
    Panic = 4,
    Shutdown = 5,
}

impl CloseReason {
    pub const ALL: [CloseReason; 5] = [
        CloseReason::ClientClose,
        CloseReason::IdleTimeout,
        CloseReason::MaxLifetime,
        CloseReason::Panic,
        CloseReason::Shutdown,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClose => "client_close",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::MaxLifetime => "max_lifetime",
            CloseReason::Panic => "panic",
            CloseReason::Shutdown => "shutdown",
        }
    }

    fn from_u8(v: u8) -> Option<CloseReason> {
        CloseReason::ALL.into_iter().find(|r| *r as u8 == v)
    }
}

pub struct SessionStatus {
    pub transport: Transport,
    /// Milliseconds since the farm started.
    pub created_ms: u64,
    last_activity_ms: AtomicU64,
    /// 0 before the first reset, else 1 + the task's index.
    task: AtomicU8,
    episode_open: AtomicBool,
    step_count: AtomicU32,
    step_in_flight: AtomicBool,
    end_reason: AtomicU8,
    /// Signalled when the session ends (reaped, crashed, shut down).
    pub ended: Notify,
    /// The client the session counts against (per-client cap).
    pub client: Option<ClientKey>,
    /// Whether the session won its id and was counted created.
    registered: AtomicBool,
}

impl SessionStatus {
    pub fn new(transport: Transport, now_ms: u64, client: Option<ClientKey>) -> SessionStatus {
        SessionStatus {
            transport,
            created_ms: now_ms,
            last_activity_ms: AtomicU64::new(now_ms),
            task: AtomicU8::new(0),
            episode_open: AtomicBool::new(false),
            step_count: AtomicU32::new(0),
            step_in_flight: AtomicBool::new(false),
            end_reason: AtomicU8::new(0),
            ended: Notify::new(),
            client,
            registered: AtomicBool::new(false),
        }
    }

    pub fn mark_registered(&self) {
        self.registered.store(true, Ordering::Release);
    }
    pub fn registered(&self) -> bool {
        self.registered.load(Ordering::Acquire)
    }

    pub fn touch(&self, now_ms: u64) {
        self.last_activity_ms.store(now_ms, Ordering::Relaxed);
    }
    pub fn last_activity_ms(&self) -> u64 {
        self.last_activity_ms.load(Ordering::Relaxed)
    }
    pub fn task(&self) -> Option<TaskId> {
        match self.task.load(Ordering::Relaxed) {
            0 => None,
            n => TaskId::ALL.get(n as usize - 1).copied(),
        }
    }
    pub fn set_task(&self, task: TaskId) {
        let i = TaskId::ALL.iter().position(|t| *t == task).expect("known task");
        self.task.store(i as u8 + 1, Ordering::Relaxed);
    }
    pub fn episode_open(&self) -> bool {
        self.episode_open.load(Ordering::Relaxed)
    }
    pub fn set_episode_open(&self, open: bool) {
        self.episode_open.store(open, Ordering::Relaxed);
    }
    pub fn step_count(&self) -> u32 {
        self.step_count.load(Ordering::Relaxed)
    }
    pub fn set_step_count(&self, n: u32) {
        self.step_count.store(n, Ordering::Relaxed);
    }
    /// Claims the session for one step; false when another step is in flight.
    pub fn begin_step(&self) -> bool {
        self.step_in_flight.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }
    pub fn end_step(&self) {
        self.step_in_flight.store(false, Ordering::Release);
    }
    /// Records why the session ends; the first reason recorded wins.
    pub fn mark_ended(&self, reason: CloseReason) {
        let _ = self.end_reason.compare_exchange(0, reason as u8, Ordering::AcqRel, Ordering::Acquire);
        self.ended.notify_one();
    }
    pub fn end_reason(&self) -> Option<CloseReason> {
        CloseReason::from_u8(self.end_reason.load(Ordering::Acquire))
    }
}
