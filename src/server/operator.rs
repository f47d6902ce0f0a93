//! Operator routes (need `--operator-token`; 404 when it is unset): list
//! sessions, end one, reveal an episode's ground truth.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::App;
use super::error::{ApiError, Code};
use crate::farm::{CloseReason, SessionId};

pub(crate) fn authorise(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    app.tokens.check_operator(headers).unwrap_or_else(|| Err(ApiError::new(Code::NotFound, "no such route")))
}

fn session(app: &App, raw: &str) -> Result<Arc<crate::farm::SessionEntry>, ApiError> {
    let id = SessionId::parse(raw).ok_or_else(|| ApiError::new(Code::SessionNotFound, "no such session"))?;
    Ok(app.farm.lookup(id)?)
}

pub async fn list(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorise(&app, &headers)?;
    let now = app.farm.now_ms();
    let sessions: Vec<_> = app
        .farm
        .list()
        .iter()
        .map(|e| {
            let s = &e.status;
            json!({"session_id": e.id.to_string(), "transport": s.transport.as_str(),
                   "task": s.task().map(|t| t.as_str()), "step_count": s.step_count(),
                   "episode_open": s.episode_open(),
                   "age_s": now.saturating_sub(s.created_ms) / 1000,
                   "idle_s": now.saturating_sub(s.last_activity_ms()) / 1000})
        })
        .collect();
    Ok(axum::Json(json!({"sessions": sessions, "live": app.farm.live_sessions()})).into_response())
}

pub async fn end(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authorise(&app, &headers)?;
    let entry = session(&app, &id)?;
    app.farm.close(&entry, CloseReason::ClientClose);
    Ok(axum::Json(json!({"session_id": entry.id.to_string(), "closed": true})).into_response())
}

pub async fn reveal(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authorise(&app, &headers)?;
    let entry = session(&app, &id)?;
    let truth = app.farm.reveal(&entry).await?;
    Ok(axum::Json(json!({"session_id": entry.id.to_string(), "ground_truth": truth})).into_response())
}
