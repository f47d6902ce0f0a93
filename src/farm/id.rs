//! Session ids and secrets: 128 bits each, written as 32 lowercase hex digits.
//! The id is a routing key (a client or proxy may propose it); the secret,
//! drawn by the server alone, is what proves a request comes from the holder.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; 16]);

impl SessionId {
    /// A fresh, unguessable id (a session id is the only key to its session).
    pub fn mint() -> SessionId {
        let mut bytes = [0u8; 16];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut bytes);
        SessionId(bytes)
    }

    /// Parses exactly 32 lowercase hex digits.
    pub fn parse(s: &str) -> Option<SessionId> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(SessionId(bytes))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A session's secret: given to the holder once, at creation; every later
/// request presents it. Compared in constant time.
#[derive(Clone, Copy)]
pub struct SessionSecret([u8; 16]);

impl SessionSecret {
    pub fn mint() -> SessionSecret {
        let mut bytes = [0u8; 16];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut bytes);
        SessionSecret(bytes)
    }

    /// Whether `presented` (hex text) is this secret; the time taken does not depend on where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        // Parsed like an id (32 lowercase hex digits), then compared in constant time.
        let Some(SessionId(bytes)) = SessionId::parse(presented) else { return false };
        bool::from(subtle::ConstantTimeEq::ct_eq(&bytes[..], &self.0[..]))
    }
}

impl fmt::Display for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Never printed by `{:?}`: logs must not carry it.
impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret(..)")
    }
}

/// A random u64 (farm-drawn seeds, episode ids). Ids and seeds come from
/// rand's thread-local ChaCha generator, seeded from the operating system and
/// reseeded every 64 KiB: a cryptographic stream without a system call per
/// draw (four per new session took 2% of the server's CPU under churn).
pub fn random_u64() -> u64 {
    rand::Rng::next_u64(&mut rand::rng())
}

#[cfg(test)]
mod tests {
    use super::SessionId;

    #[test]
    fn ids_round_trip_and_reject_malformed_text() {
        let id = SessionId::mint();
        assert_eq!(SessionId::parse(&id.to_string()), Some(id));
        assert_ne!(SessionId::mint(), id);
        for bad in ["", "abc", &"A".repeat(32), &"g".repeat(32), &"0".repeat(33)] {
            assert_eq!(SessionId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_secret_matches_only_itself() {
        let s = super::SessionSecret::mint();
        assert!(s.matches(&s.to_string()));
        assert!(!s.matches(&super::SessionSecret::mint().to_string()));
        for bad in ["", "abc", &"0".repeat(32), &"g".repeat(32), &format!("{s}0")] {
            assert!(!s.matches(bad), "{bad}");
        }
    }
}
