//! One error shape for every transport (docs/PROTOCOL.md, errors): a code, a message,
//! optional details; mapped to HTTP statuses here and to WS frames in ws.rs.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::env::ValidationError;
use crate::farm::FarmError;
use crate::farm::session::SessionError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    InvalidJson,
    BadRequest,
    UnknownType,
    ValidationError,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    SessionNotFound,
    SessionConflict,
    SessionExpired,
    NoEpisode,
    EpisodeDone,
    StepInProgress,
    PayloadTooLarge,
    RequestTimeout,
    DeadlineExceeded,
    CapacityReached,
    Draining,
    SessionCrashed,
    InternalError,
}

impl Code {
    /// Every code (docs/PROTOCOL.md lists each; a test checks).
    pub const ALL: [Code; 20] = [
        Code::InvalidJson,
        Code::BadRequest,
        Code::UnknownType,
        Code::ValidationError,
        Code::Unauthorized,
        Code::NotFound,
        Code::MethodNotAllowed,
        Code::SessionNotFound,
        Code::SessionConflict,
        Code::SessionExpired,
        Code::NoEpisode,
        Code::EpisodeDone,
        Code::StepInProgress,
        Code::PayloadTooLarge,
        Code::RequestTimeout,
        Code::DeadlineExceeded,
        Code::CapacityReached,
        Code::Draining,
        Code::SessionCrashed,
        Code::InternalError,
    ];

    pub fn status(self) -> StatusCode {
        match self {
            Code::InvalidJson | Code::BadRequest | Code::UnknownType => StatusCode::BAD_REQUEST,
            Code::ValidationError | Code::NoEpisode => StatusCode::UNPROCESSABLE_ENTITY,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::NotFound | Code::SessionNotFound => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::SessionExpired => StatusCode::GONE,
            Code::EpisodeDone | Code::StepInProgress | Code::SessionConflict => StatusCode::CONFLICT,
            Code::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
            Code::CapacityReached | Code::Draining => StatusCode::SERVICE_UNAVAILABLE,
            Code::SessionCrashed | Code::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidJson => "INVALID_JSON",
            Code::BadRequest => "BAD_REQUEST",
            Code::UnknownType => "UNKNOWN_TYPE",
            Code::ValidationError => "VALIDATION_ERROR",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::NotFound => "NOT_FOUND",
            Code::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Code::SessionNotFound => "SESSION_NOT_FOUND",
            Code::SessionConflict => "SESSION_CONFLICT",
            Code::SessionExpired => "SESSION_EXPIRED",
            Code::NoEpisode => "NO_EPISODE",
            Code::EpisodeDone => "EPISODE_DONE",
            Code::StepInProgress => "STEP_IN_PROGRESS",
            Code::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Code::RequestTimeout => "REQUEST_TIMEOUT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::CapacityReached => "CAPACITY_REACHED",
            Code::Draining => "DRAINING",
            Code::SessionCrashed => "SESSION_CRASHED",
            Code::InternalError => "INTERNAL_ERROR",
        }
    }
}

/// Seconds a client should wait before retrying a refused session.
pub const RETRY_AFTER_SECS: u64 = 1;

#[derive(Clone, Debug)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    pub details: Option<serde_json::Map<String, Value>>,
    /// Extra keys placed beside code and message in WS frames (OpenEnv's capacity shape).
    pub extra: Option<serde_json::Map<String, Value>>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), details: None, extra: None }
    }

    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> ApiError {
        self.details.get_or_insert_with(Default::default).insert(key.into(), value.into());
        self
    }

    pub fn validation(e: &ValidationError) -> ApiError {
        ApiError::new(Code::ValidationError, e.to_string())
            .with_detail("field", e.field.as_str())
            .with_detail("reason", e.reason.as_str())
    }

    pub fn invalid_json(reason: impl std::fmt::Display) -> ApiError {
        ApiError::new(Code::InvalidJson, format!("invalid JSON: {reason}"))
    }

    /// The `{"code", "message", "details"?}` object.
    pub fn body(&self) -> Value {
        let mut body = json!({"code": self.code.as_str(), "message": self.message});
        if let Some(d) = &self.details {
            body["details"] = Value::Object(d.clone());
        }
        body
    }

    /// The WS error frame's data: the body plus OpenEnv's extra keys.
    pub fn frame_data(&self) -> Value {
        let mut body = self.body();
        if let (Some(extra), Value::Object(map)) = (&self.extra, &mut body) {
            map.extend(extra.clone());
        }
        body
    }
}

impl From<FarmError> for ApiError {
    fn from(e: FarmError) -> ApiError {
        let message = e.to_string();
        match e {
            FarmError::CapacityReached { active, max } => {
                let mut extra = serde_json::Map::new();
                extra.insert("active_sessions".into(), active.into());
                extra.insert("max_sessions".into(), max.into());
                extra.insert("retry_after_s".into(), RETRY_AFTER_SECS.into());
                extra.insert("limit".into(), "max_sessions".into());
                let mut err = ApiError::new(Code::CapacityReached, message)
                    .with_detail("active_sessions", active)
                    .with_detail("max_sessions", max)
                    .with_detail("limit", "max_sessions");
                err.extra = Some(extra);
                err
            }
            FarmError::ClientCapReached { active, max } => {
                let mut extra = serde_json::Map::new();
                extra.insert("client_sessions".into(), active.into());
                extra.insert("max_sessions_per_client".into(), max.into());
                extra.insert("retry_after_s".into(), RETRY_AFTER_SECS.into());
                extra.insert("limit".into(), "max_sessions_per_client".into());
                let mut err = ApiError::new(Code::CapacityReached, message)
                    .with_detail("client_sessions", active)
                    .with_detail("max_sessions_per_client", max)
                    .with_detail("limit", "max_sessions_per_client");
                err.extra = Some(extra);
                err
            }
            FarmError::SessionConflict => ApiError::new(Code::SessionConflict, message),
            FarmError::Draining => ApiError::new(Code::Draining, message),
            FarmError::SessionNotFound => ApiError::new(Code::SessionNotFound, message),
            FarmError::SessionExpired => ApiError::new(Code::SessionExpired, message),
            FarmError::SessionCrashed => ApiError::new(Code::SessionCrashed, message),
            FarmError::DeadlineExceeded => ApiError::new(Code::DeadlineExceeded, message),
            FarmError::StepInProgress => ApiError::new(Code::StepInProgress, message),
            FarmError::Session(SessionError::Invalid(v)) => ApiError::validation(&v),
            FarmError::Session(SessionError::EpisodeDone) => ApiError::new(Code::EpisodeDone, message),
            FarmError::Session(SessionError::NoEpisode) => ApiError::new(Code::NoEpisode, message),
            FarmError::Internal => ApiError::new(Code::InternalError, message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let mut response = (status, axum::Json(json!({"error": self.body()}))).into_response();
        let headers = response.headers_mut();
        if matches!(self.code, Code::CapacityReached | Code::Draining) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        if self.code == Code::Unauthorized {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_failure_is_not_reported_as_draining() {
        let e = ApiError::from(FarmError::Internal);
        assert_eq!(e.code.as_str(), "INTERNAL_ERROR");
        assert_eq!(e.code.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(ApiError::from(FarmError::Draining).code.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
