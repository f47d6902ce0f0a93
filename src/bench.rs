//! `bench`: how close the farm comes to this machine's ceiling. In one run and
//! with the same client code it measures a raw WebSocket echo server (the
//! ceiling for this traffic), the farm over WebSocket and over HTTP keep-alive
//! playing real episodes with the heuristic agent's action mix, server memory
//! with idle sessions, session churn and reaping. Servers run as child
//! processes pinned to core 0; the load generator pins itself to core 1.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message as AxMessage, WebSocketUpgrade};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::agent::heuristic::Heuristic;
use crate::env::{Episode, EpisodeOptions, TaskId};
use crate::server::StepData;
use crate::server::ws::frame_text;

#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    /// Concurrent connections of the load generator.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Seconds each throughput phase runs.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Idle sessions for the memory phase (RSS is read at 0, a tenth of this, and this).
    #[arg(long, default_value_t = 100_000)]
    pub sessions: usize,
    /// Play compact episodes (reset with `compact: true`): step replies
    /// without the brief and the artifact listing. The echo reply shrinks to match.
    #[arg(long)]
    pub compact: bool,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Run the servers from this binary instead of this one: compares two
    /// builds under the very same load generator (before/after a change).
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<std::path::PathBuf>,
}

#[derive(clap::Args, Clone, Debug)]
pub struct EchoArgs {
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Bytes of every reply.
    #[arg(long, default_value_t = 4096)]
    pub reply_bytes: usize,
}

/// The minimal echo server: one reply of `reply_bytes` per message, same WS settings as the farm.
pub async fn echo_server(args: EchoArgs) {
    let reply: Arc<str> = Arc::from("x".repeat(args.reply_bytes));
    let app = axum::Router::new().route(
        "/ws",
        axum::routing::get(move |ws: WebSocketUpgrade| {
            let reply = reply.clone();
            async move {
                ws.read_buffer_size(crate::server::ws::READ_BUFFER).on_upgrade(move |mut socket| async move {
                    while let Some(Ok(msg)) = socket.recv().await {
                        if matches!(msg, AxMessage::Text(_) | AxMessage::Binary(_))
                            && socket.send(AxMessage::Text(reply.to_string().into())).await.is_err()
                        {
                            break;
                        }
                    }
                })
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await.expect("bind");
    println!("echo listening on http://{}", listener.local_addr().expect("addr"));
    // the farm's socket settings too
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await.expect("serve");
}

/// A server child process pinned to core 0 (when taskset exists).
struct ServerProcess {
    child: Child,
    addr: String,
}

impl ServerProcess {
    fn spawn(exe: &std::path::Path, args: &[&str]) -> ServerProcess {
        let mut cmd = if which("taskset") {
            let mut c = Command::new("taskset");
            c.arg("-c").arg("0").arg(exe);
            c
        } else {
            Command::new(exe)
        };
        let mut child =
            cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("server starts");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).expect("start-up line");
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let addr = line.rsplit("http://").next().unwrap_or("").trim().to_string();
        ServerProcess { child, addr }
    }

    /// (user, system) CPU seconds the process has used.
    fn cpu_seconds(&self) -> Cpu {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // after the command name: state is field 0, utime 11, stime 12 (clock ticks, 100 per second on Linux)
        Cpu { user: ticks(11) / 100.0, system: ticks(12) / 100.0 }
    }

    fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn pin_self_to_core_1() -> bool {
    which("taskset")
        && Command::new("taskset")
            .args(["-a", "-cp", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// CPU seconds of a process, split by where they were spent.
#[derive(Clone, Copy, Debug, Default)]
struct Cpu {
    user: f64,
    system: f64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, o: Cpu) -> Cpu {
        Cpu { user: self.user - o.user, system: self.system - o.system }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Throughput {
    pub messages_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    /// Server CPU per message (user + system), when the server is a child process.
    pub server_cpu_us_per_message: f64,
    /// The part of it spent in the kernel (sockets, scheduling, page faults).
    pub server_system_us_per_message: f64,
    pub messages: u64,
    /// Replies that were not what the client expected: an error frame, or an
    /// episode that ended at another step than when it was played in-process.
    pub errors: u64,
}

fn summarise(run: ClientRun, seconds: f64, cpu: Cpu) -> Throughput {
    let ClientRun { latencies: mut lat, errors } = run;
    lat.sort_by(f64::total_cmp);
    let at = |p: f64| {
        if lat.is_empty() {
            0.0
        } else {
            lat[((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1] * 1e6
        }
    };
    let n = lat.len() as u64;
    Throughput {
        messages_per_s: n as f64 / seconds,
        p50_us: at(0.50),
        p99_us: at(0.99),
        p999_us: at(0.999),
        server_cpu_us_per_message: if n == 0 { 0.0 } else { (cpu.user + cpu.system) / n as f64 * 1e6 },
        server_system_us_per_message: if n == 0 { 0.0 } else { cpu.system / n as f64 * 1e6 },
        messages: n,
        errors,
    }
}

/// One heuristic episode played in-process beforehand. The load generator
/// replays its actions against the farm, so its own work per step is the echo
/// client's (send a prepared text, wait for the reply): the farm, not the
/// client's JSON parsing and agent, sets the pace. Each reply is checked for
/// the episode ending exactly where it ended in-process.
struct Script {
    ws_reset: String,
    ws_steps: Vec<String>,
    http_reset: String,
    http_steps: Vec<String>,
}

/// `per_task` episodes of every task, and the mean size of their step reply frames.
fn scripts(per_task: usize, compact: bool) -> (Vec<Script>, usize) {
    let (mut bytes, mut replies) = (0usize, 0usize);
    let mut out = Vec::new();
    for i in 0..per_task {
        for task in TaskId::ALL {
            let seed = 1000 + i as u64;
            let mut ep =
                Episode::with_options(task, seed, "bench", EpisodeOptions { compact, ..Default::default() });
            let mut agent = Heuristic::new();
            let mut obs = serde_json::to_value(ep.reset_observation(Vec::new())).expect("json");
            let mut reset = json!({"task_id": task.as_str(), "seed": seed});
            if compact {
                reset["compact"] = json!(true);
            }
            let mut script = Script {
                ws_reset: json!({"type": "reset", "data": reset}).to_string(),
                ws_steps: Vec::new(),
                http_reset: reset.to_string(),
                http_steps: Vec::new(),
            };
            loop {
                let action = agent.act(&obs);
                script.ws_steps.push(json!({"type": "step", "data": action}).to_string());
                script.http_steps.push(json!({"action": action}).to_string());
                let Ok(done) = ep.step_json(&action) else { break };
                let data =
                    StepData { observation: &done.observation, reward: Some(done.reward), done: done.done };
                bytes += frame_text("observation", data).len();
                replies += 1;
                if done.done {
                    break;
                }
                obs = serde_json::to_value(&done.observation).expect("json");
            }
            out.push(script);
        }
    }
    (out, bytes / replies.max(1))
}

/// Whether a reply ends its episode: the last key of every step reply is `done`.
fn ends_episode(reply: &str) -> bool {
    reply.trim_end_matches('}').ends_with("\"done\":true")
}

async fn ws_connect(url: &str) -> Ws {
    let mut config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
    config.read_buffer_size = 16 * 1024; // replies are 5-8 KB: one read each
    tokio_tungstenite::connect_async_with_config(url, Some(config), true).await.expect("ws connects").0
}

/// What one client of the load generator saw.
#[derive(Default)]
struct ClientRun {
    /// Round trips, in seconds.
    latencies: Vec<f64>,
    errors: u64,
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends one text message and waits for a text reply: the reply and the round
/// trip in seconds, or None when the connection failed or answered otherwise.
async fn round_trip(ws: &mut Ws, text: &str) -> Option<(tokio_tungstenite::tungstenite::Utf8Bytes, f64)> {
    let started = Instant::now();
    ws.send(Message::Text(text.into())).await.ok()?;
    match ws.next().await {
        Some(Ok(Message::Text(reply))) => Some((reply, started.elapsed().as_secs_f64())),
        _ => None,
    }
}

/// Runs `connections` clients for `duration`, then stops them and gathers
/// what they saw. A client gets its index and the stop flag.
async fn drive<F, Fut>(connections: usize, duration: Duration, client: F) -> ClientRun
where
    F: Fn(usize, Arc<AtomicBool>) -> Fut,
    Fut: std::future::Future<Output = ClientRun> + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..connections).map(|c| tokio::spawn(client(c, stop.clone()))).collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = ClientRun::default();
    for t in tasks {
        let run = t.await.unwrap_or_default();
        all.latencies.extend(run.latencies);
        all.errors += run.errors;
    }
    all
}

/// Echo ceiling: C connections, request then reply, for `duration`.
async fn run_echo(url: &str, connections: usize, duration: Duration) -> ClientRun {
    drive(connections, duration, |_, stop| {
        let url = url.to_string();
        async move {
            let mut ws = ws_connect(&url).await;
            let mut run = ClientRun::default();
            let request = json!({"type": "step", "data": {"action_type": "run_sanity_check", "sanity_check_type": "loss_trajectory"}}).to_string();
            while !stop.load(Ordering::Relaxed) {
                let Some((_, seconds)) = round_trip(&mut ws, &request).await else {
                    run.errors += 1;
                    break;
                };
                run.latencies.push(seconds);
            }
            run
        }
    })
    .await
}

/// The farm over WS: each connection replays heuristic episodes back to back.
async fn run_farm_ws(
    url: &str,
    scripts: &Arc<Vec<Script>>,
    connections: usize,
    duration: Duration,
) -> ClientRun {
    drive(connections, duration, |c, stop| {
        let (url, scripts) = (url.to_string(), scripts.clone());
        async move {
            let mut ws = ws_connect(&url).await;
            let mut run = ClientRun::default();
            let is_observation = |reply: &str| reply.starts_with("{\"type\":\"observation\"");
            'episodes: for script in scripts.iter().cycle().skip(c) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if !round_trip(&mut ws, &script.ws_reset).await.is_some_and(|(r, _)| is_observation(&r)) {
                    run.errors += 1;
                    break;
                }
                for (i, step) in script.ws_steps.iter().enumerate() {
                    if stop.load(Ordering::Relaxed) {
                        break 'episodes;
                    }
                    let Some((text, seconds)) =
                        round_trip(&mut ws, step).await.filter(|(r, _)| is_observation(r))
                    else {
                        run.errors += 1;
                        break 'episodes;
                    };
                    run.latencies.push(seconds);
                    if ends_episode(&text) != (i + 1 == script.ws_steps.len()) {
                        run.errors += 1;
                        break;
                    }
                }
            }
            run
        }
    })
    .await
}

/// The farm over HTTP keep-alive: each task owns a session and replays heuristic episodes.
async fn run_farm_http(
    base: &str,
    scripts: &Arc<Vec<Script>>,
    connections: usize,
    duration: Duration,
) -> ClientRun {
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().expect("client");
    drive(connections, duration, |c, stop| {
        let (base, client, scripts) = (base.to_string(), client.clone(), scripts.clone());
        async move {
            let mut run = ClientRun::default();
            // The session's id and secret (the secret comes with the reset that created it).
            let mut session: Option<(String, String)> = None;
            let post = |path: &str, body: &str, session: &Option<(String, String)>| {
                let mut req = client
                    .post(format!("{base}{path}"))
                    .header("content-type", "application/json")
                    .body(body.to_string());
                if let Some((id, secret)) = session {
                    req = req.header("x-session-id", id).header("x-session-secret", secret);
                }
                req.send()
            };
            'episodes: for script in scripts.iter().cycle().skip(c) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(r) = post("/reset", &script.http_reset, &session).await else { break };
                let header = |h: &str| r.headers().get(h).and_then(|v| v.to_str().ok()).map(str::to_string);
                session = match (header("x-session-id"), header("x-session-secret"), session.take()) {
                    (Some(id), Some(secret), _) => Some((id, secret)),
                    (Some(id), None, Some((held, secret))) if id == held => Some((id, secret)),
                    _ => None,
                };
                if session.is_none() || r.bytes().await.is_err() {
                    run.errors += 1;
                    break;
                }
                for (i, step) in script.http_steps.iter().enumerate() {
                    if stop.load(Ordering::Relaxed) {
                        break 'episodes;
                    }
                    let t0 = Instant::now();
                    let Ok(r) = post("/step", step, &session).await else { break 'episodes };
                    let ok = r.status().is_success();
                    let Ok(text) = r.text().await else { break 'episodes };
                    run.latencies.push(t0.elapsed().as_secs_f64());
                    if !ok || ends_episode(&text) != (i + 1 == script.http_steps.len()) {
                        run.errors += 1;
                        break;
                    }
                }
            }
            run
        }
    })
    .await
}

/// Creates `n` idle HTTP sessions; returns how long it took.
async fn create_sessions(base: &str, n: usize, connections: usize) -> f64 {
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().expect("client");
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, next, base) = (client.clone(), next.clone(), base.to_string());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n as u64 {
                    break;
                }
                let body = json!({"task_id": TaskId::ALL[(i % 3) as usize].as_str(), "seed": i});
                if client
                    .post(format!("{base}/reset"))
                    .json(&body)
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .is_err()
                {
                    break;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    started.elapsed().as_secs_f64()
}

async fn live_sessions(base: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics")).await.ok().map(|r| r.text());
    let Some(text) = text else { return f64::NAN };
    let text = text.await.unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("mlops_sessions_active{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[derive(Debug, Default, Serialize)]
pub struct Memory {
    pub rss_bytes_at: Vec<(usize, u64)>,
    pub bytes_per_idle_session: f64,
    pub new_sessions_per_s: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct Reaping {
    pub sessions: usize,
    pub reaped_per_s: f64,
    /// Step latency of an active session while the others are reaped.
    pub active_step_p99_us: f64,
    pub active_steps: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub connections: usize,
    pub duration_s: f64,
    pub pinned: bool,
    /// Episodes were reset with `compact: true`.
    pub compact: bool,
    pub reply_bytes: usize,
    pub echo_ws: Throughput,
    pub farm_ws: Throughput,
    pub farm_http: Throughput,
    pub ws_ratio_to_echo: f64,
    pub memory: Memory,
    pub reaping: Reaping,
}

pub async fn run(args: &BenchArgs) -> Report {
    let pinned = pin_self_to_core_1();
    let exe = args.server_bin.clone().unwrap_or_else(|| std::env::current_exe().expect("own path"));
    let duration = Duration::from_secs_f64(args.duration);
    // 100 episodes per task: enough variety, prepared in well under a second
    let (scripts, reply_bytes) = scripts(if cfg!(debug_assertions) { 10 } else { 100 }, args.compact);
    let scripts = Arc::new(scripts);
    let mut report = Report {
        connections: args.connections,
        duration_s: args.duration,
        pinned,
        compact: args.compact,
        reply_bytes,
        ..Default::default()
    };

    let echo = ServerProcess::spawn(&exe, &["echo-server", "--reply-bytes", &reply_bytes.to_string()]);
    let cpu0 = echo.cpu_seconds();
    let lat = run_echo(&format!("ws://{}/ws", echo.addr), args.connections, duration).await;
    report.echo_ws = summarise(lat, args.duration, echo.cpu_seconds() - cpu0);
    drop(echo);

    let max = (args.sessions + args.connections * 4 + 16).to_string();
    let farm =
        ServerProcess::spawn(&exe, &["serve", "--host", "127.0.0.1", "--port", "0", "--max-sessions", &max]);
    let base = format!("http://{}", farm.addr);
    let cpu0 = farm.cpu_seconds();
    let lat = run_farm_ws(&format!("ws://{}/ws", farm.addr), &scripts, args.connections, duration).await;
    report.farm_ws = summarise(lat, args.duration, farm.cpu_seconds() - cpu0);
    let cpu0 = farm.cpu_seconds();
    let lat = run_farm_http(&base, &scripts, args.connections, duration).await;
    report.farm_http = summarise(lat, args.duration, farm.cpu_seconds() - cpu0);
    report.ws_ratio_to_echo = report.farm_ws.messages_per_s / report.echo_ws.messages_per_s.max(1e-9);
    drop(farm);

    // Memory and churn on a fresh server.
    let farm =
        ServerProcess::spawn(&exe, &["serve", "--host", "127.0.0.1", "--port", "0", "--max-sessions", &max]);
    let base = format!("http://{}", farm.addr);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut rss = vec![(0usize, farm.rss_bytes())];
    let tenth = (args.sessions / 10).max(1);
    let first = create_sessions(&base, tenth, args.connections).await;
    rss.push((tenth, farm.rss_bytes()));
    let rest = create_sessions(&base, args.sessions - tenth, args.connections).await;
    rss.push((args.sessions, farm.rss_bytes()));
    report.memory = Memory {
        bytes_per_idle_session: (rss[2].1 as f64 - rss[0].1 as f64) / args.sessions as f64,
        new_sessions_per_s: args.sessions as f64 / (first + rest),
        rss_bytes_at: rss,
    };
    drop(farm);

    // Reaping: idle sessions expire after 2 s while one session keeps stepping.
    let reap_n = tenth;
    let farm = ServerProcess::spawn(
        &exe,
        &["serve", "--host", "127.0.0.1", "--port", "0", "--max-sessions", &max, "--idle-timeout-secs", "2"],
    );
    let base = format!("http://{}", farm.addr);
    create_sessions(&base, reap_n, args.connections).await;
    let stop = Arc::new(AtomicBool::new(false));
    let active = {
        let (url, stop) = (format!("ws://{}/ws", farm.addr), stop.clone());
        tokio::spawn(async move {
            let mut ws = ws_connect(&url).await;
            let _ = round_trip(&mut ws, &json!({"type": "reset", "data": {"seed": 1}}).to_string()).await;
            let mut lat = Vec::new();
            let check = json!({"type": "step", "data": {"action_type": "run_sanity_check", "sanity_check_type": "class_balance"}}).to_string();
            while !stop.load(Ordering::Relaxed) {
                let Some((_, seconds)) = round_trip(&mut ws, &check).await else { break };
                lat.push(seconds);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            lat
        })
    };
    // The reaping rate: the steepest fall of live sessions between samples 20 ms apart.
    let waited = Instant::now();
    let mut last = (Instant::now(), live_sessions(&base).await);
    let mut peak_rate: f64 = 0.0;
    while waited.elapsed() < Duration::from_secs(60) && last.1 > 1.0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = (Instant::now(), live_sessions(&base).await);
        peak_rate = peak_rate.max((last.1 - now.1) / (now.0 - last.0).as_secs_f64());
        last = now;
    }
    stop.store(true, Ordering::Relaxed);
    let lat = active.await.unwrap_or_default();
    let active_summary = summarise(ClientRun { latencies: lat, errors: 0 }, 1.0, Cpu::default());
    report.reaping = Reaping {
        sessions: reap_n,
        reaped_per_s: peak_rate,
        active_step_p99_us: active_summary.p99_us,
        active_steps: active_summary.messages,
    };
    drop(farm);
    report
}

impl Report {
    pub fn table(&self) -> String {
        let row = |name: &str, t: &Throughput| {
            format!(
                "{name:<14} {:>12.0} {:>9.0} {:>9.0} {:>9.0} {:>12.1} {:>12.1} {:>7}\n",
                t.messages_per_s,
                t.p50_us,
                t.p99_us,
                t.p999_us,
                t.server_cpu_us_per_message,
                t.server_system_us_per_message,
                t.errors
            )
        };
        let mut out = format!(
            "bench: {} connections, {:.0} s per phase, typical reply {} bytes{}, server on core 0 / load on core 1: {}\n",
            self.connections,
            self.duration_s,
            self.reply_bytes,
            if self.compact { " (compact episodes)" } else { "" },
            if self.pinned { "pinned" } else { "not pinned (no taskset)" }
        );
        out.push_str(&format!(
            "{:<14} {:>12} {:>9} {:>9} {:>9} {:>12} {:>12} {:>7}\n",
            "phase", "msgs/s", "p50 us", "p99 us", "p999 us", "cpu us/msg", "(in kernel)", "errors"
        ));
        out.push_str(&row("echo ws", &self.echo_ws));
        out.push_str(&row("farm ws", &self.farm_ws));
        out.push_str(&row("farm http", &self.farm_http));
        out.push_str(&format!("farm ws / echo ws: {:.1}%\n", self.ws_ratio_to_echo * 100.0));
        for (n, rss) in &self.memory.rss_bytes_at {
            out.push_str(&format!("rss with {n:>8} idle sessions: {:>8.1} MiB\n", *rss as f64 / 1048576.0));
        }
        out.push_str(&format!(
            "bytes per idle session: {:.0}; new sessions/s: {:.0}\nreaping: {} sessions at {:.0}/s; an active session's step p99 meanwhile: {:.0} us over {} steps\n",
            self.memory.bytes_per_idle_session,
            self.memory.new_sessions_per_s,
            self.reaping.sessions,
            self.reaping.reaped_per_s,
            self.reaping.active_step_p99_us,
            self.reaping.active_steps
        ));
        out
    }
}
