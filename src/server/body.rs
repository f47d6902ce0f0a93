//! Request bodies: read with a size limit and parsed as JSON whatever the
//! Content-Type, refusing nesting deeper than the configured limit before
//! serde ever recurses.

use axum::body::Body;
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

/// Reads a request body (at most `limit` bytes) and parses it; an empty body is `{}`.
pub async fn json_body(body: Body, limit: usize, max_depth: usize) -> Result<Value, ApiError> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(Code::PayloadTooLarge, format!("request body larger than {limit} bytes"))
    })?;
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
