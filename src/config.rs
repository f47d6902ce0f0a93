//! Settings of the farm server: every flag is also an environment variable
//! (`MLOPS_` + the flag in upper snake case); a flag beats its variable.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

/// What the farm reads: admission, the lifetimes of sessions and requests, episode options.
#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct FarmSettings {
    /// Live sessions at most.
    #[arg(long, env = "MLOPS_MAX_SESSIONS", default_value_t = FarmSettings::DEFAULT.max_sessions)]
    pub max_sessions: usize,
    /// Reap a session after this long without a request.
    #[arg(long, env = "MLOPS_IDLE_TIMEOUT_SECS", default_value_t = FarmSettings::DEFAULT.idle_timeout_secs, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,
    /// Reap a session older than this once its episode has ended (0: off).
    #[arg(long, env = "MLOPS_MAX_SESSION_LIFETIME_SECS", default_value_t = FarmSettings::DEFAULT.max_session_lifetime_secs)]
    pub max_session_lifetime_secs: u64,
    /// Per-request deadline.
    #[arg(long, env = "MLOPS_REQUEST_DEADLINE_SECS", default_value_t = FarmSettings::DEFAULT.request_deadline_secs)]
    pub request_deadline_secs: u64,
    /// Live sessions per client at most (0: off). A client is its token, else its address.
    #[arg(long, env = "MLOPS_MAX_SESSIONS_PER_CLIENT", default_value_t = FarmSettings::DEFAULT.max_sessions_per_client)]
    pub max_sessions_per_client: usize,
    /// End objects carry the ground truth (trusted training setups only; docs/SECURITY.md).
    #[arg(long, env = "MLOPS_REVEAL_GROUND_TRUTH")]
    pub reveal_ground_truth: bool,
    /// Accepted for compatibility: the ground truth is hidden by default; beats --reveal-ground-truth.
    #[arg(long, env = "MLOPS_HIDE_GROUND_TRUTH")]
    pub hide_ground_truth: bool,
    /// Mixed into every episode's seed, so a private evaluation's episodes cannot be computed offline.
    #[arg(long, env = "MLOPS_SEED_SALT", hide_env_values = true)]
    pub seed_salt: Option<String>,
    /// Truncate an episode after this many consecutive invalid actions (0: off).
    #[arg(long, env = "MLOPS_MAX_INVALID_ACTIONS", default_value_t = FarmSettings::DEFAULT.max_invalid_actions)]
    pub max_invalid_actions: u32,
}

impl FarmSettings {
    /// Every default, in one place (the flags' defaults read it).
    pub const DEFAULT: FarmSettings = FarmSettings {
        max_sessions: 10_000,
        idle_timeout_secs: 1800,
        max_session_lifetime_secs: 0,
        request_deadline_secs: 10,
        max_sessions_per_client: 0,
        reveal_ground_truth: false,
        hide_ground_truth: false,
        seed_salt: None,
        max_invalid_actions: 0,
    };
}

impl Default for FarmSettings {
    fn default() -> Self {
        FarmSettings::DEFAULT
    }
}

/// What the transport reads: listeners, limits, deadlines, tokens, shutdown.
#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct ServerSettings {
    /// Listen address.
    #[arg(long, env = "MLOPS_HOST", default_value_t = ServerSettings::DEFAULT.host)]
    pub host: IpAddr,
    /// Listen port (0 picks a free port).
    #[arg(long, env = "MLOPS_PORT", default_value_t = ServerSettings::DEFAULT.port)]
    pub port: u16,
    /// Grace for open episodes at shutdown.
    #[arg(long, env = "MLOPS_DRAIN_TIMEOUT_SECS", default_value_t = ServerSettings::DEFAULT.drain_timeout_secs)]
    pub drain_timeout_secs: u64,
    /// After the drain: how long open connections get to finish before they are dropped.
    #[arg(long, env = "MLOPS_SHUTDOWN_GRACE_SECS", default_value_t = ServerSettings::DEFAULT.shutdown_grace_secs)]
    pub shutdown_grace_secs: u64,
    /// Port of the admin listener (/health, /ready, /metrics; outside the connection cap; 0 picks a free port; unset: off).
    #[arg(long, env = "MLOPS_ADMIN_PORT")]
    pub admin_port: Option<u16>,
    /// Open connections at most on the main port; beyond it the server stops accepting (the kernel queues).
    #[arg(long, env = "MLOPS_MAX_CONNECTIONS", default_value_t = ServerSettings::DEFAULT.max_connections, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// A request's headers (and an idle keep-alive connection's next request) must arrive within this.
    #[arg(long, env = "MLOPS_HEADER_READ_TIMEOUT_SECS", default_value_t = ServerSettings::DEFAULT.header_read_timeout_secs, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,
    /// A request's body must arrive within this (408 after it).
    #[arg(long, env = "MLOPS_BODY_READ_TIMEOUT_SECS", default_value_t = ServerSettings::DEFAULT.body_read_timeout_secs, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_read_timeout_secs: u64,
    /// A connection whose peer reads nothing of what the server writes for this long is dropped.
    #[arg(long, env = "MLOPS_WRITE_TIMEOUT_SECS", default_value_t = ServerSettings::DEFAULT.write_timeout_secs, value_parser = clap::value_parser!(u64).range(1..))]
    pub write_timeout_secs: u64,
    /// Request line and headers together at most (431 beyond; at least 8192).
    #[arg(long, env = "MLOPS_MAX_HEADER_BYTES", default_value_t = ServerSettings::DEFAULT.max_header_bytes, value_parser = clap::value_parser!(u32).range(8192..))]
    pub max_header_bytes: u32,
    /// HTTP body limit.
    #[arg(long, env = "MLOPS_MAX_BODY_BYTES", default_value_t = ServerSettings::DEFAULT.max_body_bytes)]
    pub max_body_bytes: usize,
    /// WebSocket message limit.
    #[arg(long, env = "MLOPS_MAX_WS_MESSAGE_BYTES", default_value_t = ServerSettings::DEFAULT.max_ws_message_bytes)]
    pub max_ws_message_bytes: usize,
    /// JSON nesting limit.
    #[arg(long, env = "MLOPS_MAX_JSON_DEPTH", default_value_t = ServerSettings::DEFAULT.max_json_depth)]
    pub max_json_depth: usize,
    /// Server ping interval, and how long a ping may go unanswered.
    #[arg(long, env = "MLOPS_WS_PING_INTERVAL_SECS", default_value_t = ServerSettings::DEFAULT.ws_ping_interval_secs)]
    pub ws_ping_interval_secs: u64,
    /// Close a WebSocket connection whose reader stalls this long (every send has this deadline).
    #[arg(long, env = "MLOPS_WS_WRITE_TIMEOUT_SECS", default_value_t = ServerSettings::DEFAULT.ws_write_timeout_secs)]
    pub ws_write_timeout_secs: u64,
    /// Bytes a WebSocket connection may have queued for a slow reader; beyond, it is dropped.
    #[arg(long, env = "MLOPS_WS_MAX_WRITE_BUFFER_BYTES", default_value_t = ServerSettings::DEFAULT.ws_max_write_buffer_bytes, value_parser = clap::value_parser!(u32).range(65_536..))]
    pub ws_max_write_buffer_bytes: u32,
    /// Client pings allowed per ping interval; one more closes the connection with 1008.
    #[arg(long, env = "MLOPS_WS_MAX_CLIENT_PINGS", default_value_t = ServerSettings::DEFAULT.ws_max_client_pings)]
    pub ws_max_client_pings: u32,
    /// Token for the agent routes (Bearer, or Basic with the token as password).
    #[arg(long, env = "MLOPS_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// File of agent tokens, one per line (one per client; they key --max-sessions-per-client).
    #[arg(long, env = "MLOPS_API_TOKEN_FILE")]
    pub api_token_file: Option<PathBuf>,
    /// Token for the operator routes; unset turns them off.
    #[arg(long, env = "MLOPS_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
    /// File holding the operator token (first line).
    #[arg(long, env = "MLOPS_OPERATOR_TOKEN_FILE")]
    pub operator_token_file: Option<PathBuf>,
    /// /metrics needs the operator token (on both ports).
    #[arg(long, env = "MLOPS_PRIVATE_METRICS")]
    pub private_metrics: bool,
    /// Comma-separated proxy addresses whose X-Forwarded-For names the client.
    #[arg(long, env = "MLOPS_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,
    /// Comma-separated origins allowed by CORS.
    #[arg(long, env = "MLOPS_CORS_ORIGINS")]
    pub cors_origins: Option<String>,
    /// Mark the session cookie Secure.
    #[arg(long, env = "MLOPS_COOKIE_SECURE")]
    pub cookie_secure: bool,
}

impl ServerSettings {
    /// Every default, in one place (the flags' defaults read it).
    pub const DEFAULT: ServerSettings = ServerSettings {
        host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        port: 7860,
        drain_timeout_secs: 30,
        shutdown_grace_secs: 5,
        admin_port: None,
        max_connections: 4096,
        header_read_timeout_secs: 15,
        body_read_timeout_secs: 10,
        write_timeout_secs: 30,
        max_header_bytes: 16_384,
        max_body_bytes: 65_536,
        max_ws_message_bytes: 65_536,
        max_json_depth: 32,
        ws_ping_interval_secs: 20,
        ws_write_timeout_secs: 30,
        ws_max_write_buffer_bytes: 262_144,
        ws_max_client_pings: 30,
        api_token: None,
        api_token_file: None,
        operator_token: None,
        operator_token_file: None,
        private_metrics: false,
        trusted_proxies: Vec::new(),
        cors_origins: None,
        cookie_secure: false,
    };
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings::DEFAULT
    }
}

/// Every setting of the server: the farm's and the transport's, flattened into one command line.
#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
pub struct Settings {
    #[command(flatten)]
    pub server: ServerSettings,
    #[command(flatten)]
    pub farm: FarmSettings,
}

impl FarmSettings {
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }
    pub fn request_deadline(&self) -> Duration {
        Duration::from_secs(self.request_deadline_secs)
    }
    /// Whether end objects carry the ground truth (`--hide-ground-truth` wins).
    pub fn reveals_answers(&self) -> bool {
        self.reveal_ground_truth && !self.hide_ground_truth
    }
}

impl ServerSettings {
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_secs(self.drain_timeout_secs)
    }
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout_secs)
    }
}

fn path_or_unset(v: &Option<PathBuf>) -> String {
    v.as_ref().map_or_else(|| "unset".to_string(), |p| p.display().to_string())
}

fn set_or_unset(v: &Option<String>) -> &'static str {
    if v.is_some() { "set" } else { "unset" }
}

/// Every setting, one per line; tokens only as set or unset.
impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (farm, server) = (&self.farm, &self.server);
        writeln!(f, "  host                       {}", server.host)?;
        writeln!(f, "  port                       {}", server.port)?;
        writeln!(f, "  max_sessions               {}", farm.max_sessions)?;
        writeln!(f, "  idle_timeout_secs          {}", farm.idle_timeout_secs)?;
        writeln!(f, "  max_session_lifetime_secs  {}", farm.max_session_lifetime_secs)?;
        writeln!(f, "  drain_timeout_secs         {}", server.drain_timeout_secs)?;
        writeln!(f, "  shutdown_grace_secs        {}", server.shutdown_grace_secs)?;
        let admin = server.admin_port.map_or_else(|| "off".to_string(), |p| p.to_string());
        writeln!(f, "  admin_port                 {admin}")?;
        writeln!(f, "  max_connections            {}", server.max_connections)?;
        writeln!(f, "  header_read_timeout_secs   {}", server.header_read_timeout_secs)?;
        writeln!(f, "  body_read_timeout_secs     {}", server.body_read_timeout_secs)?;
        writeln!(f, "  write_timeout_secs         {}", server.write_timeout_secs)?;
        writeln!(f, "  max_header_bytes           {}", server.max_header_bytes)?;
        writeln!(f, "  max_body_bytes             {}", server.max_body_bytes)?;
        writeln!(f, "  max_ws_message_bytes       {}", server.max_ws_message_bytes)?;
        writeln!(f, "  max_json_depth             {}", server.max_json_depth)?;
        writeln!(f, "  request_deadline_secs      {}", farm.request_deadline_secs)?;
        writeln!(f, "  ws_ping_interval_secs      {}", server.ws_ping_interval_secs)?;
        writeln!(f, "  ws_write_timeout_secs      {}", server.ws_write_timeout_secs)?;
        writeln!(f, "  ws_max_write_buffer_bytes  {}", server.ws_max_write_buffer_bytes)?;
        writeln!(f, "  ws_max_client_pings        {}", server.ws_max_client_pings)?;
        writeln!(f, "  api_token                  {}", set_or_unset(&server.api_token))?;
        writeln!(f, "  api_token_file             {}", path_or_unset(&server.api_token_file))?;
        writeln!(f, "  operator_token             {}", set_or_unset(&server.operator_token))?;
        writeln!(f, "  operator_token_file        {}", path_or_unset(&server.operator_token_file))?;
        writeln!(f, "  private_metrics            {}", server.private_metrics)?;
        writeln!(f, "  max_sessions_per_client    {}", farm.max_sessions_per_client)?;
        let proxies: Vec<String> = server.trusted_proxies.iter().map(ToString::to_string).collect();
        writeln!(
            f,
            "  trusted_proxies            {}",
            if proxies.is_empty() { "none".into() } else { proxies.join(",") }
        )?;
        writeln!(f, "  cors_origins               {}", server.cors_origins.as_deref().unwrap_or("unset"))?;
        writeln!(f, "  cookie_secure              {}", server.cookie_secure)?;
        writeln!(f, "  reveal_ground_truth        {}", farm.reveal_ground_truth)?;
        writeln!(f, "  hide_ground_truth          {}", farm.hide_ground_truth)?;
        writeln!(f, "  seed_salt                  {}", set_or_unset(&farm.seed_salt))?;
        write!(f, "  max_invalid_actions        {}", farm.max_invalid_actions)
    }
}

#[cfg(test)]
mod tests {
    use super::Settings;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
    }

    #[test]
    fn the_empty_command_line_parses_to_the_defaults() {
        let parsed = Cli::try_parse_from(["serve"]).expect("parses").settings;
        assert_eq!(parsed, Settings::default());
        assert_eq!(parsed.to_string(), Settings::default().to_string());
    }
}
