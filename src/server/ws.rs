//! OpenEnv WebSocket `/ws`: one connection is one session (docs/PROTOCOL.md,
//! WebSocket). Exactly one reply frame per request, in order;
//! `close` gets none. Pings are answered by the protocol layer (at most one
//! pong pending), the server pings on its own schedule, and a connection's
//! memory is bounded whatever the client does: the write buffer has a cap,
//! every send (the server's own pings too) has the write deadline, a client
//! pinging faster than the policy allows is closed with 1008, and a
//! connection that cannot be written to is dropped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use super::body::parse_json;
use super::error::{ApiError, Code};
use super::listen::Phase;
use super::{App, StepData};
use crate::env::{ResetParams, ValidationError};
use crate::farm::{ClientKey, CloseReason, FarmError, SessionEntry, Transport};
use crate::metrics::Direction;

/// How long a refused connection stays open for the client's first message.
const REFUSAL_GRACE: Duration = Duration::from_secs(2);
/// tungstenite zero-fills up to this many bytes before every read (a WouldBlock
/// read too), so it stays near the size of an action: 16 KiB made zero-filling
/// 3% of the server's CPU (docs/PERFORMANCE.md). Larger messages take more reads.
pub const READ_BUFFER: usize = 4 * 1024;

pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const INTERNAL: u16 = 1011;
    pub const TRY_AGAIN_LATER: u16 = 1013;
    pub const IDLE_TIMEOUT: u16 = 4001;
    pub const MAX_LIFETIME: u16 = 4002;
}

#[derive(Serialize)]
struct Frame<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    data: T,
}

/// The text of a `{"type", "data"}` frame.
pub fn frame_text<T: Serialize>(kind: &str, data: T) -> String {
    // serde_json writes UTF-8 only
    String::from_utf8(super::reply_json(&Frame { kind, data })).unwrap_or_default()
}

fn frame<T: Serialize>(kind: &str, data: T) -> Message {
    Message::Text(frame_text(kind, data).into())
}

fn error_frame(e: &ApiError) -> Message {
    frame("error", e.frame_data())
}

pub async fn upgrade(
    State(app): State<Arc<App>>,
    Extension(client): Extension<Option<ClientKey>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        // A plain GET (no upgrade headers) gets the error shape, with the rejection's status.
        Err(rejection) => {
            let status = rejection.status();
            let mut response = ApiError::new(
                Code::BadRequest,
                format!("expected a WebSocket upgrade: {}", rejection.body_text()),
            )
            .into_response();
            *response.status_mut() = status;
            return response;
        }
    };
    let s = &app.settings;
    let limit = s.max_ws_message_bytes;
    let max_write = s.ws_max_write_buffer_bytes as usize;
    ws.read_buffer_size(READ_BUFFER)
        .max_message_size(limit)
        .max_frame_size(limit)
        // Replies are written whole by each send; the cap is what a reader that
        // never reads can make the server hold (tungstenite: max must exceed the target).
        .write_buffer_size(max_write / 2)
        .max_write_buffer_size(max_write)
        .on_upgrade(move |socket| connection(app, socket, client))
}

struct Conn {
    app: Arc<App>,
    socket: WebSocket,
    write_timeout: Duration,
}

/// What to do after handling one client message.
enum Next {
    Continue,
    Close(u16, &'static str),
}

impl Conn {
    async fn send(&mut self, msg: Message) -> Result<(), ()> {
        self.app.farm.metrics.ws_message(Direction::Out).increment(1);
        self.send_control(msg).await
    }

    /// A send with the write deadline; Err: the buffer is full, the deadline passed or the socket is gone.
    async fn send_control(&mut self, msg: Message) -> Result<(), ()> {
        match tokio::time::timeout(self.write_timeout, self.socket.send(msg)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let close = Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }));
        let _ = tokio::time::timeout(self.write_timeout, self.socket.send(close)).await;
    }

    /// Refused connection: the error frame, then close after the client's first message or 2 s.
    async fn refuse(&mut self, e: FarmError) {
        let err = ApiError::from(e.clone());
        if self.send(error_frame(&err)).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(REFUSAL_GRACE, self.socket.recv()).await;
        match e {
            FarmError::Draining => self.close(close_code::GOING_AWAY, "draining").await,
            FarmError::Internal => self.close(close_code::INTERNAL, "internal error").await,
            _ => self.close(close_code::TRY_AGAIN_LATER, "capacity").await,
        }
    }
}

/// The close code and reason for a session that ended for `reason`.
fn ended_close(reason: Option<CloseReason>) -> (u16, &'static str) {
    match reason {
        Some(CloseReason::IdleTimeout) => (close_code::IDLE_TIMEOUT, "idle_timeout"),
        Some(CloseReason::MaxLifetime) => (close_code::MAX_LIFETIME, "max_lifetime"),
        Some(CloseReason::Panic) => (close_code::INTERNAL, "session crashed"),
        Some(CloseReason::Shutdown) => (close_code::GOING_AWAY, "draining"),
        Some(CloseReason::ClientClose) | None => (close_code::NORMAL, ""),
    }
}

async fn connection(app: Arc<App>, socket: WebSocket, client: Option<ClientKey>) {
    let _tracker = app.connections.clone();
    let metrics = app.farm.metrics.clone();
    metrics.ws_connections.increment(1.0);
    let settings = &app.settings;
    let mut conn =
        Conn { app: app.clone(), socket, write_timeout: Duration::from_secs(settings.ws_write_timeout_secs) };
    let mut phase = app.phase.clone();
    let session = async {
        match app.farm.open_session(Transport::Ws, None, client).await {
            Ok(entry) => {
                serve(&mut conn, &entry).await;
                app.farm.close(&entry, CloseReason::ClientClose);
            }
            Err(e) => conn.refuse(e).await,
        }
    };
    // The shutdown grace is over: drop the connection wherever it is.
    tokio::select! {
        _ = session => {}
        _ = super::listen::until(&mut phase, |p| p == Phase::Abort) => {}
    }
    metrics.ws_connections.decrement(1.0);
}

async fn serve(conn: &mut Conn, entry: &SessionEntry) {
    let interval = Duration::from_secs(conn.app.settings.ws_ping_interval_secs.max(1));
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    let mut last_pong = Instant::now();
    let mut ping_sent: Option<Instant> = None;
    // Client pings since the server's last ping tick (the policy's window).
    let mut client_pings: u32 = 0;
    let max_client_pings = conn.app.settings.ws_max_client_pings;
    loop {
        tokio::select! {
            biased;
            _ = entry.status.ended.notified() => {
                let (code, reason) = ended_close(entry.status.end_reason());
                conn.close(code, reason).await;
                return;
            }
            incoming = conn.socket.recv() => {
                let message = match incoming {
                    None => return,
                    Some(Ok(m)) => m,
                    Some(Err(e)) => {
                        if let Some((code, reason)) = read_error_close(e) {
                            conn.close(code, reason).await;
                        }
                        return;
                    }
                };
                // Borrow the frame's text; a binary frame counts only if it is UTF-8.
                let text: &str = match &message {
                    Message::Text(t) => t.as_str(),
                    Message::Binary(b) => match std::str::from_utf8(b) {
                        Ok(t) => t,
                        Err(_) => {
                            conn.app.farm.metrics.ws_message(Direction::In).increment(1);
                            let e = ApiError::invalid_json("binary frame is not UTF-8 JSON");
                            if conn.send(error_frame(&e)).await.is_err() { return; }
                            continue;
                        }
                    },
                    Message::Pong(_) => { last_pong = Instant::now(); ping_sent = None; continue; }
                    Message::Ping(_) => {
                        client_pings += 1;
                        if client_pings > max_client_pings {
                            conn.close(close_code::POLICY, "ping rate").await;
                            return;
                        }
                        continue;
                    }
                    Message::Close(_) => return,
                };
                conn.app.farm.metrics.ws_message(Direction::In).increment(1);
                match handle(conn, entry, text).await {
                    Ok(Next::Continue) => {}
                    Ok(Next::Close(code, reason)) => { conn.close(code, reason).await; return; }
                    // The reader stalled past the write timeout.
                    Err(()) => { conn.close(close_code::POLICY, "write timeout").await; return; }
                }
            }
            _ = ping.tick() => {
                if let Some(sent) = ping_sent && last_pong < sent {
                    // The previous ping went unanswered for a whole interval.
                    return;
                }
                client_pings = 0;
                ping_sent = Some(Instant::now());
                if conn.send_control(Message::Ping(Default::default())).await.is_err() { return; }
            }
        }
    }
}

/// The close a read error calls for (None: the connection is simply gone).
fn read_error_close(e: axum::Error) -> Option<(u16, &'static str)> {
    match e.into_inner().downcast::<tungstenite::Error>().map(|b| *b) {
        Ok(tungstenite::Error::Utf8(_)) => Some((close_code::INVALID_PAYLOAD, "invalid UTF-8")),
        Ok(tungstenite::Error::Capacity(_)) => Some((close_code::TOO_BIG, "message too large")),
        Ok(tungstenite::Error::Protocol(_)) => Some((close_code::POLICY, "protocol error")),
        _ => None,
    }
}

fn envelope_error(field: &str, reason: &str) -> ApiError {
    ApiError::validation(&ValidationError::new(field, reason))
}

/// Rejects keys other than `allowed` in a message envelope.
fn check_keys(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    let mut keys: Vec<&String> = obj.keys().collect();
    keys.sort();
    match keys.into_iter().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(envelope_error(k, "unknown field")),
        None => Ok(()),
    }
}

async fn handle(conn: &mut Conn, entry: &SessionEntry, text: &str) -> Result<Next, ()> {
    let app = conn.app.clone();
    let reply = match dispatch(&app, entry, text).await {
        Ok(Reply::Frame(m)) => m,
        Ok(Reply::Close) => return Ok(Next::Close(close_code::NORMAL, "")),
        Err(e) => {
            let code = e.code;
            conn.send(error_frame(&e)).await?;
            return Ok(match code {
                Code::SessionCrashed => Next::Close(close_code::INTERNAL, "session crashed"),
                Code::Draining => Next::Close(close_code::GOING_AWAY, "draining"),
                // The session was reaped or crashed: close with the reason it ended.
                Code::SessionExpired => {
                    let (code, reason) = ended_close(entry.status.end_reason());
                    Next::Close(code, reason)
                }
                _ => Next::Continue,
            });
        }
    };
    conn.send(reply).await?;
    Ok(Next::Continue)
}

enum Reply {
    Frame(Message),
    Close,
}

async fn dispatch(app: &App, entry: &SessionEntry, text: &str) -> Result<Reply, ApiError> {
    let farm = &app.farm;
    let value = parse_json(text.as_bytes(), app.settings.max_json_depth)?;
    let unknown = |t: &str| ApiError::new(Code::UnknownType, format!("Unknown message type: {t}"));
    let Value::Object(mut obj) = value else { return Err(unknown("")) };
    let kind = obj.remove("type");
    match kind.as_ref().and_then(Value::as_str).unwrap_or("") {
        "reset" => {
            check_keys(&obj, &["type", "data"])?;
            let params = ResetParams::from_json(obj.get("data").unwrap_or(&Value::Null))
                .map_err(|e| ApiError::validation(&e))?;
            let observation = farm.reset(entry, params, Vec::new()).await?;
            Ok(Reply::Frame(frame(
                "observation",
                StepData { observation: &observation, reward: None, done: false },
            )))
        }
        "step" => {
            check_keys(&obj, &["type", "data"])?;
            let data = obj.remove("data").ok_or_else(|| envelope_error("data", "is required"))?;
            if matches!(data.get("type").and_then(Value::as_str), Some("list_tools" | "call_tool")) {
                return Err(envelope_error(
                    "type",
                    "MCP tool payloads are not supported on /ws; use POST /mcp",
                ));
            }
            let done = farm.step(entry, data, None).await?;
            let o = &done.outcome;
            Ok(Reply::Frame(frame(
                "observation",
                StepData { observation: &o.observation, reward: Some(o.reward), done: o.done },
            )))
        }
        "state" => {
            check_keys(&obj, &["type"])?;
            let state = farm.state(entry).await?;
            Ok(Reply::Frame(frame("state", state)))
        }
        "close" => {
            check_keys(&obj, &["type"])?;
            Ok(Reply::Close)
        }
        "mcp" => Err(ApiError::new(
            Code::UnknownType,
            "Unknown message type: mcp (MCP is served at POST /mcp, not on /ws)",
        )),
        other => Err(unknown(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_closes_with_the_reason_it_ended() {
        assert_eq!(ended_close(Some(CloseReason::IdleTimeout)), (4001, "idle_timeout"));
        assert_eq!(ended_close(Some(CloseReason::MaxLifetime)), (4002, "max_lifetime"));
        assert_eq!(ended_close(Some(CloseReason::Panic)), (1011, "session crashed"));
        assert_eq!(ended_close(Some(CloseReason::Shutdown)), (1001, "draining"));
        assert_eq!(ended_close(None), (1000, ""));
    }
}
