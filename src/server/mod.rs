//! The transport layer (axum): parses, validates envelopes, maps errors, and
//! forwards to the farm. It knows nothing of bugs or artifacts.

pub mod auth;
pub mod body;
pub(crate) mod client;
pub mod error;
pub mod http;
pub(crate) mod listen;
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
use tokio::sync::{mpsc, watch};

use crate::config::{ServerSettings, Settings};
use crate::env::{Bp, Observation};
use crate::farm::Farm;
use crate::metrics::Route;
use error::{ApiError, Code};

/// Shared by every handler.
pub struct App {
    pub farm: Arc<Farm>,
    /// Held by every WebSocket connection; when all are dropped, every connection has finished.
    pub connections: mpsc::Sender<()>,
    /// The accepted tokens, read once at start-up.
    pub(crate) tokens: auth::Tokens,
    /// The server's phase: WebSocket loops drop their connection at `Abort`.
    pub(crate) phase: watch::Receiver<listen::Phase>,
    /// The transport's settings (the farm keeps its own).
    pub(crate) settings: ServerSettings,
}

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    TokenFile(#[from] auth::TokenFileError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Connections at most on the admin port: probes and scrapers, a handful at a time.
const ADMIN_CONNECTIONS: usize = 64;

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

async fn require_api_token(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    match app.tokens.check_api(request.headers()) {
        Ok(token) => {
            let client = client::identify(&app.settings, &app.tokens, token, &request);
            request.extensions_mut().insert(client);
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

/// A declared body larger than the limit is refused at once, before any
/// route, token or byte of the body: waiting for it would hold the connection.
async fn refuse_large_bodies(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let limit = app.settings.max_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        let mut response = body::too_large(limit).into_response();
        // The body is never read, so the connection cannot carry another request.
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    next.run(request).await
}

/// Records HTTP metrics and gives axum's bare 405s the error body (keeping `Allow`).
async fn observe(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = Route::of_path(request.uri().path());
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

fn cors(settings: &ServerSettings) -> Option<tower_http::cors::CorsLayer> {
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

/// `/health`, `/ready` and `/metrics` on the admin port, outside the main port's connection cap.
pub fn admin_router(app: Arc<App>) -> Router {
    Router::new()
        .route("/health", get(meta::health))
        .route("/ready", get(meta::ready))
        .route("/metrics", get(meta::metrics))
        .fallback(not_found)
        .with_state(app)
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
    let mut router = agent
        .merge(public)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), refuse_large_bodies))
        .layer(middleware::from_fn_with_state(app.clone(), observe));
    if let Some(cors) = cors(&app.settings) {
        router = router.layer(cors);
    }
    router.with_state(app)
}

/// Serves until `shutdown` resolves, then drains (docs/PROTOCOL.md, lifecycle): not
/// ready, new sessions refused, open episodes given the drain timeout,
/// WebSocket clients closed with 1001, in-flight requests given the shutdown
/// grace; whatever is still open after it is dropped.
pub async fn serve(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_with_admin(settings, listener, None, shutdown).await
}

/// `serve`, plus the admin routes on `admin` when given.
pub async fn serve_with_admin(
    settings: Settings,
    listener: TcpListener,
    admin: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let Settings { farm: farm_settings, server: settings } = settings;
    let tokens = auth::Tokens::load(&settings)?;
    let limits = listen::Limits {
        header_read_timeout: Duration::from_secs(settings.header_read_timeout_secs),
        write_timeout: Duration::from_secs(settings.write_timeout_secs),
        max_header_bytes: settings.max_header_bytes as usize,
        max_connections: settings.max_connections as usize,
    };
    let grace = settings.shutdown_grace();
    let drain_timeout = settings.drain_timeout();
    let farm = Farm::start(farm_settings).await;
    let (phase_tx, phase) = watch::channel(listen::Phase::Serving);
    let (connections, mut all_closed) = mpsc::channel::<()>(1);
    let app = Arc::new(App { farm: farm.clone(), connections, tokens, phase: phase.clone(), settings });
    let mut listeners = tokio::task::JoinSet::new();
    listeners.spawn(listen::run(listener, router(app.clone()), limits, phase.clone()));
    if let Some(admin) = admin {
        let limits = listen::Limits { max_connections: ADMIN_CONNECTIONS, ..limits };
        listeners.spawn(listen::run(admin, admin_router(app.clone()), limits, phase.clone()));
    }
    drop(app);
    shutdown.await;
    tracing::info!("shutdown requested: draining");
    farm.begin_drain();
    farm.wait_for_open_episodes(drain_timeout).await;
    farm.announce_shutdown();
    let _ = phase_tx.send(listen::Phase::Closing);
    let finished = tokio::time::timeout(grace, async {
        while listeners.join_next().await.is_some() {}
        // Every WebSocket connection holds a sender; all dropped: all closed.
        let _ = all_closed.recv().await;
    })
    .await;
    if finished.is_err() {
        let _ = phase_tx.send(listen::Phase::Abort);
        while listeners.join_next().await.is_some() {}
    }
    farm.stop_all(grace).await;
    tracing::info!("shut down");
    Ok(())
}

/// The process's shutdown signals (SIGTERM and SIGINT), installed up front so
/// a failure to install them is an error at start-up, not a signal ignored later.
pub struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    pub fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
    }

    /// Resolves on the next SIGTERM or SIGINT.
    #[cfg(unix)]
    pub async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {},
            _ = self.int.recv() => {},
        }
    }

    #[cfg(not(unix))]
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {})
    }

    #[cfg(not(unix))]
    pub async fn next(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
