//! Password-guessing brake for one login (NexPort Authenticate / AuthenticateUser): the first
//! failures cost nothing, the next ones are answered slowly, and past `MAX_FAILURES` the login is
//! locked for a while — every attempt then gets 429 with `Retry-After`, the right password too, so
//! guessing gains nothing. After the lock a right password works and clears the record.
//!
//! Command-side state in Postgres (not events: a failed guess is not a directory fact), so every
//! API instance sees the same count.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Failures answered at full speed.
pub const FREE_FAILURES: i32 = 3;
/// Failures that lock the login.
pub const MAX_FAILURES: i32 = 6;
/// The slow-down of the first slowed failure; it doubles with each further one.
pub const BASE_DELAY: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub lockout: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy { lockout: Duration::from_secs(300) }
    }
}

/// The login key: trimmed and lower-cased, like the login claims.
pub fn key(login: &str) -> String {
    login.trim().to_lowercase()
}

/// `Some(seconds)` while the login is locked.
pub async fn locked_for(pool: &PgPool, login: &str, now: DateTime<Utc>) -> Result<Option<u64>, sqlx::Error> {
    let until =
        sqlx::query_scalar!("SELECT locked_until FROM login_throttle WHERE login = $1", key(login)).fetch_optional(pool).await?.flatten();
    Ok(until.filter(|u| *u > now).map(|u| ((u - now).num_milliseconds().max(0) as u64).div_ceil(1000)))
}

/// Counts a failure; answers how long to hold the answer back (zero for the first ones).
pub async fn record_failure(pool: &PgPool, login: &str, now: DateTime<Utc>, policy: ThrottlePolicy) -> Result<Duration, sqlx::Error> {
    let lock_until = now + chrono::Duration::from_std(policy.lockout).unwrap_or(chrono::Duration::seconds(300));
    let failures = sqlx::query_scalar!(
        "INSERT INTO login_throttle (login, failures, last_failure_at) VALUES ($1, 1, $2) \
         ON CONFLICT (login) DO UPDATE SET failures = login_throttle.failures + 1, last_failure_at = $2, \
           locked_until = CASE WHEN login_throttle.failures + 1 >= $3 THEN $4 ELSE login_throttle.locked_until END \
         RETURNING failures",
        key(login),
        now,
        MAX_FAILURES,
        lock_until,
    )
    .fetch_one(pool)
    .await?;
    Ok(delay_after(failures))
}

pub async fn clear(pool: &PgPool, login: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM login_throttle WHERE login = $1", key(login)).execute(pool).await?;
    Ok(())
}

/// 0 for the free failures, then 250 ms, 500 ms, 1 s, … capped at 2 s.
pub fn delay_after(failures: i32) -> Duration {
    if failures <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES - 1).clamp(0, 3) as u32;
    BASE_DELAY * 2u32.pow(doublings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_free_then_slowed_with_a_cap() {
        assert_eq!(delay_after(1), Duration::ZERO);
        assert_eq!(delay_after(FREE_FAILURES), Duration::ZERO);
        assert_eq!(delay_after(FREE_FAILURES + 1), BASE_DELAY);
        assert_eq!(delay_after(FREE_FAILURES + 2), BASE_DELAY * 2);
        assert_eq!(delay_after(100), BASE_DELAY * 8);
    }
}
