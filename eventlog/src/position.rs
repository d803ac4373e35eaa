use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A place in the log: the pair `(tx, gid)` whose order is the log's order (DESIGN §3).
///
/// Rendered as one opaque 32-hex-digit string; clients only hand it back, the server compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    pub tx: i64,
    pub gid: i64,
}

impl Position {
    pub const START: Position = Position { tx: 0, gid: 0 };
    /// What `from_str` reads, as a regular expression for documents: two non-negative `i64`s in
    /// 16 hex digits each.
    pub const PATTERN: &'static str = "^[0-7][0-9a-fA-F]{15}[0-7][0-9a-fA-F]{15}$";

    pub fn new(tx: i64, gid: i64) -> Self {
        Position { tx, gid }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}{:016x}", self.tx, self.gid)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Roster position (expected the opaque 32-character string a write returned)")]
pub struct BadPosition;

impl FromStr for Position {
    type Err = BadPosition;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 32 || !s.is_ascii() {
            return Err(BadPosition);
        }
        let tx = i64::from_str_radix(&s[..16], 16).map_err(|_| BadPosition)?;
        let gid = i64::from_str_radix(&s[16..], 16).map_err(|_| BadPosition)?;
        if tx < 0 || gid < 0 {
            return Err(BadPosition);
        }
        Ok(Position { tx, gid })
    }
}

impl Serialize for Position {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Position {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_parses_in_order() {
        let a = Position::new(5, 900);
        let b = Position::new(6, 2);
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
        assert_eq!(a.to_string().parse::<Position>().unwrap(), a);
        assert!("xyz".parse::<Position>().is_err());
        assert!("ffffffffffffffff0000000000000000".parse::<Position>().is_err());
    }
}
