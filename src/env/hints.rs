//! The hint scan: finds any entry of the catalogue's hint list in a text.

use super::catalogue::{HINTS, HINTS_CASE_SENSITIVE};

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Occurrence of `needle` in `hay` with word boundaries on the sides where the needle has word characters.
fn occurs(hay: &str, needle: &str) -> bool {
    let starts_word = needle.chars().next().is_some_and(is_word);
    let ends_word = needle.chars().last().is_some_and(is_word);
    let mut from = 0;
    while let Some(pos) = hay[from..].find(needle) {
        let at = from + pos;
        let end = at + needle.len();
        let before_ok = !starts_word || hay[..at].chars().next_back().is_none_or(|c| !is_word(c));
        let after_ok = !ends_word || hay[end..].chars().next().is_none_or(|c| !is_word(c));
        if before_ok && after_ok {
            return true;
        }
        from = at + needle.chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// The first hint found in `text`, if any.
pub fn find_hint(text: &str) -> Option<&'static str> {
    if let Some(h) = HINTS_CASE_SENSITIVE.iter().find(|h| occurs(text, h)) {
        return Some(h);
    }
    let lower = text.to_lowercase();
    HINTS.iter().find(|h| occurs(&lower, h)).copied()
}

#[cfg(test)]
mod tests {
    use super::find_hint;

    #[test]
    fn hints_match_whole_words_only() {
        assert_eq!(find_hint("a BUG here"), Some("BUG"));
        assert_eq!(find_hint("DEBUG level"), None);
        assert_eq!(find_hint("leaky_relu"), None);
        assert_eq!(find_hint("verify no data leakage"), Some("leakage"));
        assert_eq!(find_hint("x = 1  # <- here"), Some("<-"));
        assert_eq!(find_hint("a bug here"), None);
        assert_eq!(find_hint("TODO: later"), Some("TODO"));
        assert_eq!(find_hint("this should be lower"), Some("should be"));
    }
}
