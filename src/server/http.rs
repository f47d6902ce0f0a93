//! Stateful HTTP: `/reset`, `/step`, `/state`, `DELETE /session`, `POST /close`.
//! A request names its session by `X-Session-Id`, then `?session_id=`, then
//! the `mlops_session` cookie, and proves it holds it with the secret the
//! session's creation returned: `X-Session-Secret`, else the
//! `mlops_session_secret` cookie. Without the secret a live session answers
//! as if it did not exist. Every session response carries the id, the step
//! count and both cookies, which live as long as the session.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::body::{BodyLimits, json_body};
use super::error::{ApiError, Code};
use super::{App, StepData, reply_response};
use crate::env::ResetParams;
use crate::env::catalogue::MAX_REQUEST_ID;
use crate::farm::{ClientKey, CloseReason, SessionEntry, SessionId, Transport};

pub const SESSION_HEADER: &str = "x-session-id";
pub const SECRET_HEADER: &str = "x-session-secret";

/// The `/reset` reply: the step reply plus the session id, and the secret when the session is new.
#[derive(serde::Serialize)]
struct ResetData<'a> {
    #[serde(flatten)]
    step: StepData<'a>,
    session_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_secret: Option<String>,
}
pub const COOKIE: &str = "mlops_session";
pub const SECRET_COOKIE: &str = "mlops_session_secret";

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The secret a request presents (header, else cookie).
fn presented_secret(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .or_else(|| cookie(headers, SECRET_COOKIE))
}

/// Whether a request presents this session's secret.
pub(crate) fn holds(entry: &SessionEntry, headers: &HeaderMap) -> bool {
    presented_secret(headers).is_some_and(|s| entry.secret.matches(s))
}

fn body_limits(app: &App) -> BodyLimits {
    BodyLimits { max_bytes: app.settings.max_body_bytes, timeout: app.settings.body_read_timeout() }
}

/// The session id a request names, as written (the first source present wins).
pub fn named_session(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    if let Some(v) = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    let from_query = uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "session_id")
            .map(|(_, v)| v.to_string())
    });
    if from_query.is_some() {
        return from_query;
    }
    cookie(headers, COOKIE).map(str::to_string)
}

/// The live session a request names (404 when none or unknown, 410 when reaped).
fn existing(app: &App, headers: &HeaderMap, uri: &Uri) -> Result<Arc<SessionEntry>, ApiError> {
    let raw = named_session(headers, uri).ok_or_else(|| {
        ApiError::new(
            Code::SessionNotFound,
            "no session named: send X-Session-Id, ?session_id= or the mlops_session cookie",
        )
    })?;
    // The same words whether the id is unknown or its secret is missing or wrong.
    let not_found = || {
        ApiError::new(
            Code::SessionNotFound,
            "no such session: a session is reached by its id together with the secret /reset returned \
             (X-Session-Secret header or the mlops_session_secret cookie)",
        )
    };
    let id = SessionId::parse(&raw).ok_or_else(not_found)?;
    let entry = app.farm.lookup(id)?;
    // Without its secret a live session is indistinguishable from none.
    if holds(&entry, headers) { Ok(entry) } else { Err(not_found()) }
}

/// Adds the session headers and cookies to a response; `step_count` is the
/// count the body reports (read once, so header and body agree under concurrency).
fn with_session(
    app: &App,
    entry: &SessionEntry,
    mut response: Response,
    step_count: u32,
    closing: bool,
) -> Response {
    let h = response.headers_mut();
    let id = entry.id.to_string();
    h.insert(SESSION_HEADER, HeaderValue::from_str(&id).expect("hex"));
    h.insert("x-step-count", HeaderValue::from(step_count));
    let max_age = if closing { 0 } else { app.farm.settings.idle_timeout_secs };
    let secure = if app.settings.cookie_secure { "; Secure" } else { "" };
    for (name, value) in [(COOKIE, id), (SECRET_COOKIE, entry.secret.to_string())] {
        let cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
        h.append(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("ASCII cookie"));
    }
    response
}

/// An error of a session: its body carries details.step_count.
fn session_error(app: &App, entry: &SessionEntry, e: ApiError) -> Response {
    let step_count = entry.status.step_count();
    let e = e.with_detail("step_count", step_count);
    with_session(app, entry, e.into_response(), step_count, false)
}

pub async fn reset(
    State(app): State<Arc<App>>,
    Extension(client): Extension<Option<ClientKey>>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let value = json_body(body, body_limits(&app), app.settings.max_json_depth).await?;
    let params = ResetParams::from_json(&value).map_err(|e| ApiError::validation(&e))?;
    let mut messages = Vec::new();
    let (entry, created) = match named_session(&headers, &uri) {
        None => (app.farm.open_session(Transport::Http, None, client).await?, true),
        Some(raw) => {
            let id = SessionId::parse(&raw).ok_or_else(|| {
                ApiError::new(Code::ValidationError, "session_id: must be 32 lowercase hex digits")
                    .with_detail("field", "session_id")
                    .with_detail("reason", "must be 32 lowercase hex digits")
            })?;
            match app.farm.lookup(id) {
                // The holder's own reset: it presents the secret.
                Ok(entry) if holds(&entry, &headers) => (entry, false),
                Ok(_) => return Err(app.farm.conflict().into()),
                Err(_) => {
                    let was = if app.farm.was_expired(id) { "had expired" } else { "was unknown" };
                    let entry = app.farm.open_session(Transport::Http, Some(id), client).await?;
                    messages.push(format!("session {id} {was}; a new session started under that id"));
                    (entry, true)
                }
            }
        }
    };
    match app.farm.reset(&entry, params, messages).await {
        Ok(observation) => {
            let body = ResetData {
                step: StepData { observation: &observation, reward: None, done: false },
                session_id: entry.id.to_string(),
                session_secret: created.then(|| entry.secret.to_string()),
            };
            let mut response = with_session(&app, &entry, reply_response(&body), 0, false);
            if created {
                let secret = HeaderValue::from_str(&entry.secret.to_string()).expect("hex");
                response.headers_mut().insert(SECRET_HEADER, secret);
            }
            Ok(response)
        }
        Err(e) => Ok(session_error(&app, &entry, e.into())),
    }
}

/// Splits a step body into the action and its request id: the OpenEnv shape
/// `{"action": {...}, "request_id"?, "timeout_s"?}` or the bare action.
pub fn split_step(value: Value) -> Result<(Value, Option<String>), ApiError> {
    let Value::Object(mut obj) = value else {
        return Err(ApiError::validation(&crate::env::ValidationError::new(
            "action",
            "must be a JSON object",
        )));
    };
    if !obj.contains_key("action") {
        return Ok((Value::Object(obj), None));
    }
    let bad =
        |field: &str, reason: &str| ApiError::validation(&crate::env::ValidationError::new(field, reason));
    let mut keys: Vec<String> = obj.keys().cloned().collect();
    keys.sort();
    if let Some(k) = keys.iter().find(|k| !matches!(k.as_str(), "action" | "request_id" | "timeout_s")) {
        return Err(bad(k, "unknown field"));
    }
    let request_id = match obj.remove("request_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= MAX_REQUEST_ID => Some(s),
        Some(Value::String(_)) => return Err(bad("request_id", "longer than 255 characters")),
        Some(_) => return Err(bad("request_id", "must be a string")),
    };
    match obj.get("timeout_s") {
        None | Some(Value::Null) | Some(Value::Number(_)) => {}
        Some(_) => return Err(bad("timeout_s", "must be a number")),
    }
    Ok((obj.remove("action").unwrap_or(Value::Null), request_id))
}

pub async fn step(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let entry = existing(&app, &headers, &uri)?;
    let parsed = json_body(body, body_limits(&app), app.settings.max_json_depth).await.and_then(split_step);
    let (action, request_id) = match parsed {
        Ok(v) => v,
        Err(e) => return Ok(session_error(&app, &entry, e)),
    };
    match app.farm.step(&entry, action, request_id).await {
        Ok(done) => {
            let o = &done.outcome;
            let body = StepData { observation: &o.observation, reward: Some(o.reward), done: o.done };
            let count = o.observation.step_count;
            let mut response = with_session(&app, &entry, reply_response(&body), count, false);
            if done.replayed {
                response.headers_mut().insert("x-replayed", HeaderValue::from_static("true"));
            }
            Ok(response)
        }
        Err(e) => Ok(session_error(&app, &entry, e.into())),
    }
}

pub async fn state(State(app): State<Arc<App>>, headers: HeaderMap, uri: Uri) -> Result<Response, ApiError> {
    let entry = existing(&app, &headers, &uri)?;
    match app.farm.state(&entry).await {
        Ok(state) => {
            let count = state.step_count;
            Ok(with_session(&app, &entry, axum::Json(state).into_response(), count, false))
        }
        Err(e) => Ok(session_error(&app, &entry, e.into())),
    }
}

pub async fn close(State(app): State<Arc<App>>, headers: HeaderMap, uri: Uri) -> Result<Response, ApiError> {
    let entry = existing(&app, &headers, &uri)?;
    app.farm.close(&entry, CloseReason::ClientClose);
    let body = json!({"session_id": entry.id.to_string(), "closed": true});
    let count = entry.status.step_count();
    Ok(with_session(&app, &entry, axum::Json(body).into_response(), count, true))
}
