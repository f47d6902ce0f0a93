//! Settings of the farm server: every flag is also an environment variable
//! (`MLOPS_` + the flag in upper snake case); a flag beats its variable.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

#[derive(clap::Args, Clone, Debug)]
pub struct Settings {
    /// Listen address.
    #[arg(long, env = "MLOPS_HOST", default_value = "0.0.0.0")]
    pub host: IpAddr,
    /// Listen port (0 picks a free port).
    #[arg(long, env = "MLOPS_PORT", default_value_t = 7860)]
    pub port: u16,
    /// Live sessions at most.
    #[arg(long, env = "MLOPS_MAX_SESSIONS", default_value_t = 10_000)]
    pub max_sessions: usize,
    /// Reap a session after this long without a request.
    #[arg(long, env = "MLOPS_IDLE_TIMEOUT_SECS", default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,
    /// Reap a session older than this once its episode has ended (0: off).
    #[arg(long, env = "MLOPS_MAX_SESSION_LIFETIME_SECS", default_value_t = 0)]
    pub max_session_lifetime_secs: u64,
    /// Grace for open episodes at shutdown.
    #[arg(long, env = "MLOPS_DRAIN_TIMEOUT_SECS", default_value_t = 30)]
    pub drain_timeout_secs: u64,
    /// HTTP body limit.
    #[arg(long, env = "MLOPS_MAX_BODY_BYTES", default_value_t = 65_536)]
    pub max_body_bytes: usize,
    /// WebSocket message limit.
    #[arg(long, env = "MLOPS_MAX_WS_MESSAGE_BYTES", default_value_t = 65_536)]
    pub max_ws_message_bytes: usize,
    /// JSON nesting limit.
    #[arg(long, env = "MLOPS_MAX_JSON_DEPTH", default_value_t = 32)]
    pub max_json_depth: usize,
    /// Per-request deadline.
    #[arg(long, env = "MLOPS_REQUEST_DEADLINE_SECS", default_value_t = 10)]
    pub request_deadline_secs: u64,
    /// Server ping interval, and how long a ping may go unanswered.
    #[arg(long, env = "MLOPS_WS_PING_INTERVAL_SECS", default_value_t = 20)]
    pub ws_ping_interval_secs: u64,
    /// Close a WebSocket connection whose reader stalls this long.
    #[arg(long, env = "MLOPS_WS_WRITE_TIMEOUT_SECS", default_value_t = 30)]
    pub ws_write_timeout_secs: u64,
    /// Token for the agent routes (Bearer, or Basic with the token as password).
    #[arg(long, env = "MLOPS_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// Token for the operator routes; unset turns them off.
    #[arg(long, env = "MLOPS_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
    /// Comma-separated origins allowed by CORS.
    #[arg(long, env = "MLOPS_CORS_ORIGINS")]
    pub cors_origins: Option<String>,
    /// Mark the session cookie Secure.
    #[arg(long, env = "MLOPS_COOKIE_SECURE")]
    pub cookie_secure: bool,
    /// End objects without ground_truth.
    #[arg(long, env = "MLOPS_HIDE_GROUND_TRUTH")]
    pub hide_ground_truth: bool,
    /// Truncate an episode after this many consecutive invalid actions (0: off).
    #[arg(long, env = "MLOPS_MAX_INVALID_ACTIONS", default_value_t = 0)]
    pub max_invalid_actions: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            host: IpAddr::from([0, 0, 0, 0]),
            port: 7860,
            max_sessions: 10_000,
            idle_timeout_secs: 1800,
            max_session_lifetime_secs: 0,
            drain_timeout_secs: 30,
            max_body_bytes: 65_536,
            max_ws_message_bytes: 65_536,
            max_json_depth: 32,
            request_deadline_secs: 10,
            ws_ping_interval_secs: 20,
            ws_write_timeout_secs: 30,
            api_token: None,
            operator_token: None,
            cors_origins: None,
            cookie_secure: false,
            hide_ground_truth: false,
            max_invalid_actions: 0,
        }
    }
}

impl Settings {
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }
    pub fn request_deadline(&self) -> Duration {
        Duration::from_secs(self.request_deadline_secs)
    }
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_secs(self.drain_timeout_secs)
    }
}

fn set_or_unset(v: &Option<String>) -> &'static str {
    if v.is_some() { "set" } else { "unset" }
}

/// Every setting, one per line; tokens only as set or unset.
impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  host                       {}", self.host)?;
        writeln!(f, "  port                       {}", self.port)?;
        writeln!(f, "  max_sessions               {}", self.max_sessions)?;
        writeln!(f, "  idle_timeout_secs          {}", self.idle_timeout_secs)?;
        writeln!(f, "  max_session_lifetime_secs  {}", self.max_session_lifetime_secs)?;
        writeln!(f, "  drain_timeout_secs         {}", self.drain_timeout_secs)?;
        writeln!(f, "  max_body_bytes             {}", self.max_body_bytes)?;
        writeln!(f, "  max_ws_message_bytes       {}", self.max_ws_message_bytes)?;
        writeln!(f, "  max_json_depth             {}", self.max_json_depth)?;
        writeln!(f, "  request_deadline_secs      {}", self.request_deadline_secs)?;
        writeln!(f, "  ws_ping_interval_secs      {}", self.ws_ping_interval_secs)?;
        writeln!(f, "  ws_write_timeout_secs      {}", self.ws_write_timeout_secs)?;
        writeln!(f, "  api_token                  {}", set_or_unset(&self.api_token))?;
        writeln!(f, "  operator_token             {}", set_or_unset(&self.operator_token))?;
        writeln!(f, "  cors_origins               {}", self.cors_origins.as_deref().unwrap_or("unset"))?;
        writeln!(f, "  cookie_secure              {}", self.cookie_secure)?;
        writeln!(f, "  hide_ground_truth          {}", self.hide_ground_truth)?;
        write!(f, "  max_invalid_actions        {}", self.max_invalid_actions)
    }
}
