//! Request bodies: read with a size limit and parsed as JSON whatever the
//! Content-Type, refusing nesting deeper than the configured limit before
//! serde ever recurses.

use std::time::Duration;

use axum::body::{Body, Bytes};
use serde_json::Value;

use super::error::{ApiError, Code};

/// Whether JSON text nests deeper than `limit` (brackets outside strings).
pub fn depth_exceeds(bytes: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    for (_, b) in crate::json_scan::outside_strings(bytes) {
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Parses JSON text into a value, enforcing the depth limit.
pub fn parse_json(bytes: &[u8], max_depth: usize) -> Result<Value, ApiError> {
    if depth_exceeds(bytes, max_depth) {
        return Err(ApiError::new(Code::InvalidJson, format!("JSON nested deeper than {max_depth} levels")));
    }
    let text =
        std::str::from_utf8(bytes).map_err(|_| ApiError::invalid_json("the body is not valid UTF-8"))?;
    serde_json::from_str(text).map_err(ApiError::invalid_json)
}

/// The error of a body over the limit.
pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(Code::PayloadTooLarge, format!("request body larger than {limit} bytes"))
}

/// How the limits of a body read are set.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    pub max_bytes: usize,
    /// The whole body must arrive within this.
    pub timeout: Duration,
}

/// Reads a whole body: 413 over the limit, 400 when the framing is broken
/// (a malformed chunk size), 408 when it does not arrive in time.
pub async fn read_body(body: Body, limits: BodyLimits) -> Result<Bytes, ApiError> {
    let limit = limits.max_bytes;
    match tokio::time::timeout(limits.timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            let inner = e.into_inner();
            Err(if inner.is::<http_body_util::LengthLimitError>() {
                too_large(limit)
            } else {
                ApiError::new(Code::BadRequest, format!("malformed request body: {inner}"))
            })
        }
        Err(_) => Err(ApiError::new(
            Code::RequestTimeout,
            format!("the request body did not arrive within {} s", limits.timeout.as_secs()),
        )),
    }
}

/// Reads a request body and parses it; an empty body is `{}`.
pub async fn json_body(body: Body, limits: BodyLimits, max_depth: usize) -> Result<Value, ApiError> {
    let bytes = read_body(body, limits).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    parse_json(&bytes, max_depth)
}

#[cfg(test)]
mod tests {
    use super::depth_exceeds;

    #[test]
    fn depth_counts_brackets_outside_strings() {
        assert!(!depth_exceeds(br#"{"a": [1, {"b": "[[[[["}]}"#, 3));
        assert!(depth_exceeds(br#"[[[[1]]]]"#, 3));
        assert!(!depth_exceeds(br#"{"s": "\"[[[[[[["}"#, 1));
    }
}
