//! Scans JSON text for structure: the bytes that lie outside string literals
//! (used by the nesting-depth limit and to find a JSON object in chatty text).

/// Yields `(index, byte)` for every byte outside string literals, quotes excluded.
pub fn outside_strings(bytes: &[u8]) -> impl Iterator<Item = (usize, u8)> + '_ {
    let (mut in_string, mut escaped) = (false, false);
    bytes.iter().enumerate().filter_map(move |(i, &b)| {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            None
        } else if b == b'"' {
            in_string = true;
            None
        } else {
            Some((i, b))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::outside_strings;

    #[test]
    fn string_contents_and_escaped_quotes_are_skipped() {
        let text = br#"{"a": "[\"{"}, [1]}"#;
        let seen: String =
            outside_strings(text).map(|(_, b)| b as char).filter(|c| !c.is_whitespace()).collect();
        assert_eq!(seen, "{:},[1]}");
    }
}
