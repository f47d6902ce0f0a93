//! Public routes: health, readiness, tasks, metadata, schemas, OpenAPI, metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::App;
use super::schema;
use crate::env::catalogue::{EVAL_SEED_COUNT, TRAINING_SEED_START};
use crate::env::{ENV_VERSION, TaskId};

pub async fn health() -> Response {
    axum::Json(json!({"status": "healthy"})).into_response()
}

pub async fn ready(State(app): State<Arc<App>>) -> Response {
    if app.farm.is_ready() {
        axum::Json(json!({"status": "ready"})).into_response()
    } else {
        let status = if app.farm.is_draining() { "draining" } else { "starting" };
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"status": status}))).into_response()
    }
}

pub async fn tasks() -> Response {
    let tasks: Vec<_> = TaskId::ALL
        .iter()
        .map(|t| {
            json!({"task_id": t.as_str(), "name": t.name(), "max_steps": t.max_steps(),
                   "bug_pool": t.bug_pool().iter().map(|b| b.as_str()).collect::<Vec<_>>(), "brief": t.brief()})
        })
        .collect();
    axum::Json(json!({
        "tasks": tasks,
        "env_version": ENV_VERSION,
        "seed_policy": {
            "evaluation_seeds": format!("0 to {} of each task are the official evaluation set", EVAL_SEED_COUNT - 1),
            "training_seeds": format!("train on seeds >= {TRAINING_SEED_START} (2^32)"),
            "absent_seed": "drawn by the server uniformly from [2^32, 2^53)"
        }
    }))
    .into_response()
}

pub async fn metadata() -> Response {
    axum::Json(json!({
        "name": "mlops-debug-env",
        "description": "MLOps Pipeline Debugger: investigate a broken training run from six consistent artifacts and eight sanity checks, then submit a structured diagnosis that a deterministic grader scores.",
        "readme_content": null,
        "version": ENV_VERSION,
        "author": "mlops-debug-env contributors",
        "documentation_url": null
    }))
    .into_response()
}

pub async fn schemas() -> Response {
    axum::Json(json!({
        "action": schema::action_schema(),
        "observation": schema::observation_schema(),
        "state": schema::state_schema()
    }))
    .into_response()
}

pub async fn openapi() -> Response {
    axum::Json(schema::openapi()).into_response()
}

pub async fn metrics(State(app): State<Arc<App>>, headers: axum::http::HeaderMap) -> Response {
    if app.settings.private_metrics
        && let Err(e) = super::operator::authorise(&app, &headers)
    {
        return e.into_response();
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], app.farm.metrics.render())
        .into_response()
}
