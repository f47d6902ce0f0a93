//! The transport layer (axum): parses, validates envelopes, maps errors, and
//! forwards to the farm. It knows nothing of bugs or artifacts.

pub mod auth;
pub mod body;
pub mod error;
pub mod http;
pub mod mcp;
pub mod meta;
pub mod operator;
pub mod schema;
pub mod ws;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::config::Settings;
use crate::env::{Bp, Observation};
use crate::farm::Farm;
use crate::metrics::ROUTES;
use error::{ApiError, Code};

/// Shared by every handler.
pub struct App {
    pub farm: Arc<Farm>,
    /// Held by every WebSocket connection; when all are dropped, every connection has finished.
    pub connections: mpsc::Sender<()>,
}

/// The JSON of a step-sized reply, written into a buffer the size of a large
/// step reply: serde_json and axum's `Json` start at 128 bytes and regrow
/// (and copy) six times on the way to a typical 6 KB observation.
pub fn reply_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 * 1024);
    serde_json::to_writer(&mut out, value).expect("replies serialise");
    out
}

/// An HTTP JSON response of `reply_json`.
pub fn reply_response<T: Serialize>(value: &T) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], reply_json(value))
        .into_response()
}

/// `{"observation", "reward", "done"}`: the step and reset reply on every transport.
#[derive(Serialize)]
pub struct StepData<'a> {
    pub observation: &'a Observation,
    pub reward: Option<Bp>,
    pub done: bool,
}

async fn require_api_token(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    match auth::check(request.headers(), app.farm.settings.api_token.as_deref()) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// Route label of a path (a pattern, never a raw id).
fn route_label(path: &str) -> Option<&'static str> {
    if path.starts_with("/operator/") {
        return Some("/operator");
    }
    ROUTES.iter().copied().find(|r| *r == path)
}

/// Records HTTP metrics and gives axum's bare 405s the error body (keeping `Allow`).
async fn observe(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_label(request.uri().path());
    let mut response = next.run(request).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        let allow = response.headers().get(header::ALLOW).cloned();
        response = ApiError::new(Code::MethodNotAllowed, "method not allowed").into_response();
        if let Some(allow) = allow {
            response.headers_mut().insert(header::ALLOW, allow);
        }
    }
    app.farm.metrics.http_request(route, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

async fn not_found() -> ApiError {
    ApiError::new(Code::NotFound, "no such route")
}

fn cors(settings: &Settings) -> Option<tower_http::cors::CorsLayer> {
    let origins: Vec<HeaderValue> = settings
        .cors_origins
        .as_deref()?
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                header::HeaderName::from_static(http::SESSION_HEADER),
            ])
            .expose_headers([
                header::HeaderName::from_static(http::SESSION_HEADER),
                header::HeaderName::from_static("x-step-count"),
            ]),
    )
}

pub fn router(app: Arc<App>) -> Router {
    let agent = Router::new()
        .route("/reset", post(http::reset))
        .route("/step", post(http::step))
        .route("/state", get(http::state))
        .route("/session", delete(http::close))
        .route("/close", post(http::close))
        .route("/ws", get(ws::upgrade))
        .route_layer(middleware::from_fn_with_state(app.clone(), require_api_token));
    let public = Router::new()
        .route("/health", get(meta::health))
        .route("/ready", get(meta::ready))
        .route("/tasks", get(meta::tasks))
        .route("/metadata", get(meta::metadata))
        .route("/schema", get(meta::schemas))
        .route("/openapi.json", get(meta::openapi))
        .route("/metrics", get(meta::metrics))
        // MCP checks its own token: its 401 carries a JSON-RPC body.
        .route("/mcp", post(mcp::handle))
        .route("/operator/sessions", get(operator::list))
        .route("/operator/sessions/{id}", delete(operator::end))
        .route("/operator/sessions/{id}/ground_truth", get(operator::reveal));
    let mut router =
        agent.merge(public).fallback(not_found).layer(middleware::from_fn_with_state(app.clone(), observe));
    if let Some(cors) = cors(&app.farm.settings) {
        router = router.layer(cors);
    }
    router.with_state(app)
}

/// Serves until `shutdown` resolves, then drains (spec/farm.md §3): not
/// ready, new sessions refused, open episodes given the drain timeout,
/// WebSocket clients closed with 1001, in-flight requests completed.
pub async fn serve(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let farm = Farm::start(settings).await;
    let (connections, mut all_closed) = mpsc::channel::<()>(1);
    let app = Arc::new(App { farm: farm.clone(), connections });
    let drain_farm = farm.clone();
    let drain = async move {
        shutdown.await;
        tracing::info!("shutdown requested: draining");
        drain_farm.begin_drain();
        drain_farm.wait_for_open_episodes(drain_farm.settings.drain_timeout()).await;
        drain_farm.announce_shutdown();
    };
    // Request/reply traffic: a reply goes out whole at once, never held back by Nagle.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let result = axum::serve(listener, router(app.clone())).with_graceful_shutdown(drain).await;
    drop(app);
    let _ = tokio::time::timeout(Duration::from_secs(10), all_closed.recv()).await;
    farm.stop_all().await;
    tracing::info!("shut down");
    result
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
