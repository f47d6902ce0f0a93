//! Tokens (spec/farm.md §4): agent routes need `--api-token` when set, as
//! `Authorization: Bearer <token>` or Basic with the token as password (what
//! OpenEnv's websockets client sends for `http://user:token@host`). Operator
//! routes need `--operator-token`. Comparison runs in constant time.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use subtle::ConstantTimeEq;

use super::error::{ApiError, Code};

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

/// Checks a token when one is configured.
pub fn check(headers: &HeaderMap, token: Option<&str>) -> Result<(), ApiError> {
    let Some(token) = token else { return Ok(()) };
    match presented(headers) {
        Some(p) if equal(&p, token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(Code::Unauthorized, "wrong token")),
        None => Err(ApiError::new(Code::Unauthorized, "missing token: send Authorization: Bearer <token>")),
    }
}
