//! Tokens (docs/PROTOCOL.md): agent routes need a token when `--api-token` or
//! `--api-token-file` sets any, as `Authorization: Bearer <token>` or Basic
//! with the token as password (what OpenEnv's websockets client sends for
//! `http://user:token@host`). Operator routes need the operator token.
//! Comparison runs in constant time; every configured token is compared, so
//! the time taken does not say which one (if any) matched.

use std::path::{Path, PathBuf};

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use subtle::ConstantTimeEq;

use super::error::{ApiError, Code};
use crate::config::ServerSettings;

/// A token file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read token file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("token file {0} holds no token")]
    Empty(PathBuf),
}

/// The tokens the server accepts, read once at start-up (no Debug: never logged).
#[derive(Clone, Default)]
pub struct Tokens {
    /// Agent tokens; empty: agent routes are open. The index keys per-client limits.
    pub(crate) api: Vec<Vec<u8>>,
    /// The operator token; None: operator routes are off.
    pub(crate) operator: Option<Vec<u8>>,
}

fn read_lines(path: &Path) -> Result<Vec<Vec<u8>>, TokenFileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| TokenFileError::Read { path: path.to_path_buf(), source })?;
    let tokens: Vec<Vec<u8>> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.as_bytes().to_vec())
        .collect();
    if tokens.is_empty() {
        return Err(TokenFileError::Empty(path.to_path_buf()));
    }
    Ok(tokens)
}

impl Tokens {
    /// The flags' tokens plus the files' (kept out of `ps` and the environment).
    pub fn load(settings: &ServerSettings) -> Result<Tokens, TokenFileError> {
        let mut api: Vec<Vec<u8>> = settings.api_token.iter().map(|t| t.as_bytes().to_vec()).collect();
        if let Some(path) = &settings.api_token_file {
            api.extend(read_lines(path)?);
        }
        let operator = match &settings.operator_token_file {
            Some(path) => read_lines(path)?.into_iter().next(),
            None => settings.operator_token.as_ref().map(|t| t.as_bytes().to_vec()),
        };
        Ok(Tokens { api, operator })
    }

    /// Checks an agent request: Ok(None) when no token is configured, else the matching token's index.
    pub(crate) fn check_api(&self, headers: &HeaderMap) -> Result<Option<usize>, ApiError> {
        if self.api.is_empty() {
            return Ok(None);
        }
        let p = presented(headers).ok_or_else(missing)?;
        let mut found = None;
        for (i, t) in self.api.iter().enumerate() {
            if equal(&p, t) && found.is_none() {
                found = Some(i);
            }
        }
        found.map(Some).ok_or_else(wrong)
    }

    /// Checks an operator request; None when operator routes are off.
    pub(crate) fn check_operator(&self, headers: &HeaderMap) -> Option<Result<(), ApiError>> {
        let token = self.operator.as_ref()?;
        Some(match presented(headers) {
            Some(p) if equal(&p, token) => Ok(()),
            Some(_) => Err(wrong()),
            None => Err(missing()),
        })
    }
}

fn wrong() -> ApiError {
    ApiError::new(Code::Unauthorized, "wrong token")
}

fn missing() -> ApiError {
    ApiError::new(Code::Unauthorized, "missing token: send Authorization: Bearer <token>")
}

fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The token a request presents, if any.
fn presented(headers: &HeaderMap) -> Option<Vec<u8>> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => Some(rest.trim().as_bytes().to_vec()),
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
            let colon = decoded.iter().position(|b| *b == b':')?;
            Some(decoded[colon + 1..].to_vec())
        }
        _ => None,
    }
}
