//! JSON Schemas of the actions, observation and state, built from the
//! catalogue (one source for `/schema`, MCP `tools/list` and `/openapi.json`).

use serde_json::{Value, json};

use crate::env::action::ActionType;
use crate::env::catalogue::*;

fn names<T: Copy>(all: &[T], f: impl Fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|x| f(*x)).collect()
}

fn string(max: usize) -> Value {
    json!({"type": "string", "maxLength": max})
}

/// The schema of one action field, and whether an action carrying it must set it.
fn field_schema(field: &str) -> (Value, bool) {
    match field {
        "log_filter" => (
            json!({"type": ["string", "null"], "maxLength": MAX_LOG_FILTER,
                   "description": "a keyword (case-insensitive), or epoch:N / epoch:N-M"}),
            false,
        ),
        "sanity_check_type" => {
            (json!({"type": "string", "enum": names(&CheckKind::ALL, CheckKind::as_str)}), true)
        }
        "artifact_name" => {
            (json!({"type": "string", "enum": names(&ArtifactName::ALL, ArtifactName::as_str)}), true)
        }
        "field_path" => (
            json!({"type": ["string", "null"], "maxLength": MAX_FIELD_PATH,
                   "description": "a dot path into config.yaml or a JSON artifact, or a text to find in train.log or preprocessing.py; absent: the whole artifact"}),
            false,
        ),
        "failure_category" => {
            (json!({"type": "string", "enum": names(&Category::ALL, Category::as_str)}), true)
        }
        "diagnosis" => (string(MAX_DIAGNOSIS), true),
        "proposed_fix" => (string(MAX_PROPOSED_FIX), true),
        // root_cause_file, root_cause_field
        _ => (string(MAX_ROOT_CAUSE), true),
    }
}

/// The fields of one action type (without action_type), and which are required.
fn action_fields(action_type: ActionType) -> (Value, Vec<&'static str>) {
    let mut props = serde_json::Map::new();
    let mut required = Vec::new();
    for &field in action_type.fields() {
        let (schema, must) = field_schema(field);
        props.insert(field.into(), schema);
        if must {
            required.push(field);
        }
    }
    props.insert(
        "metadata".into(),
        json!({"type": ["object", "null"], "description": "accepted and ignored"}),
    );
    (Value::Object(props), required)
}

/// An MCP tool's input schema: the action's fields.
pub fn tool_input_schema(action_type: ActionType) -> Value {
    let (props, required) = action_fields(action_type);
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

pub fn action_schema() -> Value {
    let variants: Vec<Value> = ActionType::ALL
        .into_iter()
        .map(|t| {
            let (mut props, mut required) = action_fields(t);
            props["action_type"] = json!({"const": t.as_str()});
            required.insert(0, "action_type");
            json!({"title": t.as_str(), "type": "object", "properties": props, "required": required, "additionalProperties": false})
        })
        .collect();
    json!({"title": "Action", "oneOf": variants})
}

pub fn observation_schema() -> Value {
    json!({
        "title": "Observation",
        "type": "object",
        "properties": {
            "task_id": {"type": "string", "enum": names(&TaskId::ALL, TaskId::as_str)},
            "task_description": {"type": "string", "description": "absent from step observations of an episode reset with compact: true"},
            "run_id": {"type": "string", "pattern": "^[0-9a-f]+$"},
            "run_summary": {"type": "object", "properties": {
                "model": {"type": "string"}, "dataset": {"type": "string"},
                "task_type": {"type": "string"}, "status": {"type": "string"}}},
            "available_artifacts": {"type": "array", "description": "absent from step observations of an episode reset with compact: true", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "description": {"type": "string"},
                "size_hint": {"type": "string"}, "last_modified": {"type": "string", "description": "when the artifact was uploaded for review (ISO 8601, UTC): the six are uploaded together, in listing order, after the run and its evaluation; not the time the run wrote the file"}}}},
            "artifacts_read": {"type": "array", "items": {"type": "string"}},
            "last_action_result": {"type": "object"},
            "step_count": {"type": "integer", "minimum": 0},
            "max_steps": {"type": "integer"},
            "done": {"type": "boolean"},
            "truncated": {"type": "boolean"},
            "messages": {"type": "array", "items": {"type": "string"}},
            "seed": {"type": "integer", "minimum": 0},
            "episode_id": {"type": "string"}
        },
        "required": ["task_id", "run_id", "run_summary", "artifacts_read", "last_action_result", "step_count", "max_steps", "done",
                     "truncated", "messages", "seed", "episode_id"],
        "additionalProperties": false
    })
}

pub fn state_schema() -> Value {
    json!({
        "title": "State",
        "type": "object",
        "properties": {
            "episode_id": {"type": ["string", "null"]},
            "task_id": {"type": ["string", "null"]},
            "seed": {"type": ["integer", "null"]},
            "step_count": {"type": "integer"},
            "max_steps": {"type": ["integer", "null"]},
            "done": {"type": "boolean"},
            "truncated": {"type": "boolean"},
            "artifacts_read": {"type": "array", "items": {"type": "string"}},
            "sanity_checks_run": {"type": "array", "items": {"type": "string"}},
            "duplicate_reads": {"type": "integer"},
            "invalid_actions": {"type": "integer"},
            "total_reward": {"type": "number"},
            "score": {"type": ["number", "null"]},
            "env_version": {"type": "string"}
        }
    })
}

/// The OpenAPI document: every HTTP route, so `openenv validate --url` passes.
pub fn openapi() -> Value {
    let json_body = |schema: Value| json!({"content": {"application/json": {"schema": schema}}});
    let ok = |description: &str| json!({"200": {"description": description}});
    let session_param = json!([
        {"name": "X-Session-Id", "in": "header", "required": false, "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}},
        {"name": "session_id", "in": "query", "required": false, "schema": {"type": "string"}},
        {"name": "X-Session-Secret", "in": "header", "required": false,
         "description": "the secret the session's creation returned (or the mlops_session_secret cookie); without it a live session answers 404, and /reset of its id 409",
         "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
    ]);
    let step_response = json!({"type": "object", "properties": {
        "observation": observation_schema(), "reward": {"type": ["number", "null"]}, "done": {"type": "boolean"}}});
    let mut reset_response = step_response.clone();
    reset_response["properties"]["session_id"] = json!({"type": "string"});
    reset_response["properties"]["session_secret"] = json!({"type": "string",
        "description": "only when the reset created the session: present it on every later request"});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "MLOps Pipeline Debugger (mlops-debug-env)", "version": ENV_VERSION,
                 "description": format!("OpenEnv-compatible environment farm; env_version {ENV_VERSION}")},
        "paths": {
            "/reset": {"post": {"summary": "Start or reset a session's episode", "parameters": session_param,
                "requestBody": json_body(json!({"type": "object", "properties": {
                    "task_id": {"type": "string"}, "seed": {"type": "integer", "minimum": 0}, "episode_id": {"type": "string"},
                    "compact": {"type": "boolean", "description": "step observations leave out task_description and available_artifacts"},
                    "env_version": {"type": "string", "description": format!("pin the benchmark version (\"2\", \"2.0\" or \"{ENV_VERSION}\"); a server running another answers VALIDATION_ERROR")}}})),
                "responses": {"200": {"description": "the reset observation", "content": {"application/json": {"schema": reset_response}}}}}},
            "/step": {"post": {"summary": "Apply one action", "parameters": session_param,
                "requestBody": json_body(json!({"type": "object", "properties": {"action": action_schema(),
                    "request_id": {"type": "string"}, "timeout_s": {"type": "number"}}})),
                "responses": {"200": {"description": "the step result", "content": {"application/json": {"schema": step_response}}}}}},
            "/state": {"get": {"summary": "The session's public state", "parameters": session_param,
                "responses": {"200": {"description": "state", "content": {"application/json": {"schema": state_schema()}}}}}},
            "/session": {"delete": {"summary": "End the session", "parameters": session_param, "responses": ok("closed")}},
            "/close": {"post": {"summary": "End the session", "parameters": session_param, "responses": ok("closed")}},
            "/health": {"get": {"summary": "Liveness", "responses": ok("healthy")}},
            "/ready": {"get": {"summary": "Readiness (503 while starting or draining)", "responses": ok("ready")}},
            "/tasks": {"get": {"summary": "Tasks, env_version and seed policy", "responses": ok("tasks")}},
            "/metadata": {"get": {"summary": "OpenEnv metadata", "responses": ok("metadata")}},
            "/schema": {"get": {"summary": "JSON Schemas of action, observation and state", "responses": ok("schemas")}},
            "/metrics": {"get": {"summary": "Prometheus exposition", "responses": ok("metrics")}},
            "/mcp": {"post": {"summary": "MCP (JSON-RPC 2.0)", "responses": ok("JSON-RPC response")}}
        }
    })
}
