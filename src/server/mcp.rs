//! MCP over `POST /mcp` (JSON-RPC 2.0): initialize, ping, tools/list,
//! tools/call on a session, and OpenEnv's session create/close. Answers are
//! HTTP 200 with a JSON-RPC body, except 401 and 413.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::body::depth_exceeds;
use super::error::ApiError;
use super::{App, StepData, auth, schema};
use crate::env::action::ACTION_TYPES;
use crate::env::{ENV_VERSION, ResetParams};
use crate::farm::{CloseReason, FarmError, SessionId, Transport};

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

pub async fn handle(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let s = &app.farm.settings;
    if let Err(e) = auth::check(&headers, s.api_token.as_deref()) {
        let mut r =
            reply(StatusCode::UNAUTHORIZED, error_body(&Value::Null, rpc_error(SERVER_ERROR, e.message)));
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    let Ok(bytes) = axum::body::to_bytes(body, s.max_body_bytes).await else {
        let e = rpc_error(INVALID_REQUEST, format!("request body larger than {} bytes", s.max_body_bytes));
        return reply(StatusCode::PAYLOAD_TOO_LARGE, error_body(&Value::Null, e));
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
    let params = match request.get("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(_) => {
            return reply(
                StatusCode::OK,
                error_body(&id, rpc_error(INVALID_PARAMS, "params must be an object")),
            );
        }
    };
    match call(&app, method, params).await {
        Ok(result) => reply(StatusCode::OK, json!({"jsonrpc": "2.0", "id": id, "result": result})),
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

fn session_param(params: &Map<String, Value>) -> Result<SessionId, RpcError> {
    let raw = params
        .get("session_id")
        .and_then(Value::as_str)
        .ok_or_else(|| rpc_error(INVALID_PARAMS, "missing session_id"))?;
    SessionId::parse(raw)
        .ok_or_else(|| rpc_error(INVALID_PARAMS, "session_id: must be 32 lowercase hex digits"))
}

async fn call(app: &App, method: &str, mut params: Map<String, Value>) -> Result<Value, RpcError> {
    let farm = &app.farm;
    match method {
        "initialize" => {
            let version = params.get("protocolVersion").and_then(Value::as_str).unwrap_or(PROTOCOL_VERSION);
            Ok(json!({"protocolVersion": version, "capabilities": {"tools": {"listChanged": false}},
                      "serverInfo": {"name": "mlops-debug-env", "version": ENV_VERSION}}))
        }
        "ping" => Ok(json!({})),
        "tools/list" => {
            let tools: Vec<Value> = ACTION_TYPES
                .iter()
                .map(|t| json!({"name": t, "description": schema::tool_description(t), "inputSchema": schema::tool_input_schema(t)}))
                .collect();
            Ok(json!({"tools": tools}))
        }
        "tools/call" => {
            let name = params.get("name").and_then(Value::as_str).unwrap_or("").to_string();
            if !ACTION_TYPES.contains(&name.as_str()) {
                return Err(rpc_error(INVALID_PARAMS, format!("unknown tool '{name}'")));
            }
            let id = session_param(&params)?;
            let mut action = match params.remove("arguments") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(a)) => a,
                Some(_) => return Err(rpc_error(INVALID_PARAMS, "arguments must be an object")),
            };
            action.insert("action_type".into(), Value::String(name));
            let outcome = match farm.lookup(id) {
                Ok(entry) => farm.step(&entry, Value::Object(action), None).await,
                Err(e) => Err(e),
            };
            Ok(match outcome {
                Ok(done) => {
                    let o = &done.outcome;
                    let data = StepData { observation: &o.observation, reward: Some(o.reward), done: o.done };
                    tool_result(serde_json::to_value(data).expect("serialises"), false)
                }
                Err(e) => tool_result(json!({"error": ApiError::from(e).body()}), true),
            })
        }
        "openenv/session/create" => {
            let reset = ResetParams::from_json(&Value::Object(params))
                .map_err(|e| rpc_error(INVALID_PARAMS, e.to_string()))?;
            let entry = farm.open_session(Transport::Mcp, None).await.map_err(|e| farm_rpc_error(app, e))?;
            let observation =
                farm.reset(&entry, reset, Vec::new()).await.map_err(|e| farm_rpc_error(app, e))?;
            Ok(json!({"session_id": entry.id.to_string(), "observation": observation}))
        }
        "openenv/session/close" => {
            let id = session_param(&params)?;
            let entry = farm.lookup(id).map_err(|e| rpc_error(INVALID_PARAMS, e.to_string()))?;
            farm.close(&entry, CloseReason::ClientClose);
            Ok(json!({"session_id": id.to_string(), "closed": true}))
        }
        other => Err(rpc_error(METHOD_NOT_FOUND, format!("Method not found: {other}"))),
    }
}
