//! The event log as every layer reads it: the envelope, the log position, reads in log order, and
//! connecting to and migrating the database. Under `commands` (which appends), `projections` and
//! `workers` (which read).

pub mod db;
pub mod log;
pub mod position;

pub use log::Envelope;
pub use position::Position;

#[cfg(test)]
mod tests {
    /// Postgres' jsonb answers a double as its full decimal digits; the log must read back every
    /// number a client can write (scripts/fuzz found f64::MAX in a course's free-form tasks, which
    /// the default parser refused: the relay stopped on it).
    #[test]
    fn a_double_spelled_in_full_digits_reads_back() {
        let jsonb = format!("17976931348623157{}", "0".repeat(292));
        let v: serde_json::Value = serde_json::from_str(&jsonb).unwrap();
        assert_eq!(v.as_f64(), Some(f64::MAX));
    }
}
