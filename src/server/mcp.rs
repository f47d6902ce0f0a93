//! MCP over `POST /mcp` (JSON-RPC 2.0): initialize, ping, tools/list,
//! tools/call on a session, and OpenEnv's session create/close. Answers are
//! HTTP 200 with a JSON-RPC body, except 401, 408 and 413.
//!
//! The `session_id` that `openenv/session/create` returns (also sent as the
//! `Mcp-Session-Id` header) is a capability: the session's id followed by its
//! secret, 64 hex digits. `tools/call` and `openenv/session/close` take it as
//! `params.session_id`, else from the `Mcp-Session-Id` header; anything else
//! names no session.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::body::{BodyLimits, depth_exceeds, read_body};
use super::error::{ApiError, Code};
use super::{App, StepData, client, schema};
use crate::env::action::ActionType;
use crate::env::{ENV_VERSION, ResetParams};
use crate::farm::{ClientKey, CloseReason, FarmError, SessionEntry, SessionId, Transport};

pub const SESSION_HEADER: &str = "mcp-session-id";

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const SERVER_ERROR: i64 = -32000;
/// Protocol version answered when the client proposes none.
const PROTOCOL_VERSION: &str = "2025-06-18";

struct RpcError {
    code: i64,
    message: String,
    data: Value,
}

fn rpc_error(code: i64, message: impl Into<String>) -> RpcError {
    RpcError { code, message: message.into(), data: Value::Null }
}

fn error_body(id: &Value, e: RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.message, "data": e.data}})
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub async fn handle(State(app): State<Arc<App>>, request: axum::extract::Request) -> Response {
    let s = &app.settings;
    let token = match app.tokens.check_api(request.headers()) {
        Ok(token) => token,
        Err(e) => {
            let mut r =
                reply(StatusCode::UNAUTHORIZED, error_body(&Value::Null, rpc_error(SERVER_ERROR, e.message)));
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
    };
    let client = client::identify(s, &app.tokens, token, &request);
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let limits = BodyLimits { max_bytes: s.max_body_bytes, timeout: s.body_read_timeout() };
    let bytes = match read_body(body, limits).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let status = e.code.status();
            let code = if e.code == Code::BadRequest { PARSE_ERROR } else { INVALID_REQUEST };
            return reply(status, error_body(&Value::Null, rpc_error(code, e.message)));
        }
    };
    let parsed = if depth_exceeds(&bytes, s.max_json_depth) {
        None
    } else {
        serde_json::from_slice::<Value>(&bytes).ok()
    };
    let Some(value) = parsed else {
        return reply(StatusCode::OK, error_body(&Value::Null, rpc_error(PARSE_ERROR, "Parse error")));
    };
    let Value::Object(request) = value else {
        return reply(
            StatusCode::OK,
            error_body(&Value::Null, rpc_error(INVALID_REQUEST, "Invalid request: not an object")),
        );
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let method = request.get("method").and_then(Value::as_str);
    let (Some(method), Some("2.0")) = (method, request.get("jsonrpc").and_then(Value::as_str)) else {
        let e = rpc_error(INVALID_REQUEST, "Invalid request: jsonrpc must be \"2.0\" and method a string");
        return reply(StatusCode::OK, error_body(&id, e));
    };
    if !request.contains_key("id") && method.starts_with("notifications/") {
        return StatusCode::ACCEPTED.into_response();
    }
    let mut params = match request.get("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(_) => {
            return reply(
                StatusCode::OK,
                error_body(&id, rpc_error(INVALID_PARAMS, "params must be an object")),
            );
        }
    };
    let header_capability = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()).map(str::trim);
    match call(&app, method, &mut params, header_capability, client).await {
        Ok((result, capability)) => {
            let mut r = reply(StatusCode::OK, json!({"jsonrpc": "2.0", "id": id, "result": result}));
            if let Some(c) = capability.and_then(|c| HeaderValue::from_str(&c).ok()) {
                r.headers_mut().insert(SESSION_HEADER, c);
            }
            r
        }
        Err(e) => reply(StatusCode::OK, error_body(&id, e)),
    }
}

fn farm_rpc_error(app: &App, e: FarmError) -> RpcError {
    let api = ApiError::from(e);
    RpcError {
        code: SERVER_ERROR,
        message: api.message.clone(),
        data: json!({"code": api.code.as_str(), "active_sessions": app.farm.live_sessions(),
                     "max_sessions": app.farm.settings.max_sessions}),
    }
}

fn tool_result(data: Value, is_error: bool) -> Value {
    let text = data.to_string();
    json!({"content": [{"type": "text", "text": text}], "structuredContent": data, "data": data, "isError": is_error})
}

/// A session's MCP capability: its id and its secret.
fn capability(entry: &SessionEntry) -> String {
    format!("{}{}", entry.id, entry.secret)
}

/// The session a capability names (`params.session_id`, else the header);
/// without the right secret, none.
fn session_param(
    app: &App,
    params: &Map<String, Value>,
    header: Option<&str>,
) -> Result<Result<Arc<SessionEntry>, FarmError>, RpcError> {
    let raw = params
        .get("session_id")
        .and_then(Value::as_str)
        .or(header)
        .ok_or_else(|| rpc_error(INVALID_PARAMS, "missing session_id"))?;
    let (id, secret) = raw.split_at_checked(32).unwrap_or((raw, ""));
    let id = SessionId::parse(id).ok_or_else(|| {
        rpc_error(INVALID_PARAMS, "session_id: must be the 64 hex digits openenv/session/create returned")
    })?;
    Ok(app.farm.lookup(id).and_then(|entry| {
        if entry.secret.matches(secret) { Ok(entry) } else { Err(FarmError::SessionNotFound) }
    }))
}

async fn call(
    app: &App,
    method: &str,
    params: &mut Map<String, Value>,
    header: Option<&str>,
    client: Option<ClientKey>,
) -> Result<(Value, Option<String>), RpcError> {
    let farm = &app.farm;
    match method {
        "initialize" => {
            let version = params.get("protocolVersion").and_then(Value::as_str).unwrap_or(PROTOCOL_VERSION);
            Ok((
                json!({"protocolVersion": version, "capabilities": {"tools": {"listChanged": false}},
                      "serverInfo": {"name": "mlops-debug-env", "version": ENV_VERSION}}),
                None,
            ))
        }
        "ping" => Ok((json!({}), None)),
        "tools/list" => {
            let tools: Vec<Value> = ActionType::ALL
                .into_iter()
                .map(|t| json!({"name": t.as_str(), "description": t.description(), "inputSchema": schema::tool_input_schema(t)}))
                .collect();
            Ok((json!({"tools": tools}), None))
        }
        "tools/call" => {
            let name = params.get("name").and_then(Value::as_str).unwrap_or("").to_string();
            if ActionType::parse(&name).is_none() {
                return Err(rpc_error(INVALID_PARAMS, format!("unknown tool '{name}'")));
            }
            let session = session_param(app, params, header)?;
            let mut action = match params.remove("arguments") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(a)) => a,
                Some(_) => return Err(rpc_error(INVALID_PARAMS, "arguments must be an object")),
            };
            action.insert("action_type".into(), Value::String(name));
            let outcome = match session {
                Ok(entry) => farm.step(&entry, Value::Object(action), None).await,
                Err(e) => Err(e),
            };
            Ok((
                match outcome {
                    Ok(done) => {
                        let o = &done.outcome;
                        let data =
                            StepData { observation: &o.observation, reward: Some(o.reward), done: o.done };
                        tool_result(serde_json::to_value(data).expect("serialises"), false)
                    }
                    Err(e) => tool_result(json!({"error": ApiError::from(e).body()}), true),
                },
                None,
            ))
        }
        "openenv/session/create" => {
            let reset = ResetParams::from_json(&Value::Object(std::mem::take(params)))
                .map_err(|e| rpc_error(INVALID_PARAMS, e.to_string()))?;
            let entry =
                farm.open_session(Transport::Mcp, None, client).await.map_err(|e| farm_rpc_error(app, e))?;
            let observation =
                farm.reset(&entry, reset, Vec::new()).await.map_err(|e| farm_rpc_error(app, e))?;
            let capability = capability(&entry);
            Ok((json!({"session_id": capability, "observation": observation}), Some(capability)))
        }
        "openenv/session/close" => {
            let entry =
                session_param(app, params, header)?.map_err(|e| rpc_error(INVALID_PARAMS, e.to_string()))?;
            farm.close(&entry, CloseReason::ClientClose);
            Ok((json!({"session_id": capability(&entry), "closed": true}), None))
        }
        other => Err(rpc_error(METHOD_NOT_FOUND, format!("Method not found: {other}"))),
    }
}
