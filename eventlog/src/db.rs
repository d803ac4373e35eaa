//! Connecting to Postgres the way every Roster process does.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// A pool whose sessions search `search_path` (the read models' schemas before `public`:
/// `projections::SEARCH_PATH`, which only the read side knows) and never sit idle inside a
/// transaction: an open transaction holds every log reader back (DESIGN §3).
///
/// A connection is not pinged before each use (`test_before_acquire`): that ping was a round trip
/// per query, as many as the queries themselves on the write path. A connection that died
/// meanwhile (a Postgres restart) fails its next query with an I/O error, which every caller
/// already treats as Postgres being away (503 with `Retry-After`, a runner's retry), and the pool
/// drops it.
///
/// Nor is a query compiled by JIT. Postgres compiles one whose estimated cost passes
/// `jit_above_cost`, and Roster's are short lookups whose estimates overshoot where a row count is
/// guessed: `content_reader_grants` expects ~100 teams (jsonb_array_elements' default) where a
/// reader has two or three, so a call compiled for 30–500 ms what then ran in 2–10 ms, twice per
/// feed page (at 200,000 and at 1,000,000 users in one org, EXPLAIN ANALYZE; at 50,000 users the
/// write benchmark's feed step answered in about a second at 32 clients). Compiled expressions
/// pay off in long analytic scans, and Roster asks for lookups and bounded batches.
pub async fn connect(url: &str, max_connections: u32, search_path: &str) -> Result<PgPool, sqlx::Error> {
    let opts = PgConnectOptions::from_str(url)?.options([
        ("search_path", search_path),
        ("idle_in_transaction_session_timeout", "15s"),
        ("jit", "off"),
    ]);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .connect_with(opts)
        .await
}

/// Migrates on a session of its own whose search_path is only `public`: the migrator's bookkeeping
/// table must never land in (and be swapped away with) a read-model schema.
pub async fn migrate(url: &str) -> Result<(), sqlx::migrate::MigrateError> {
    use sqlx::Connection;
    let opts = PgConnectOptions::from_str(url)?.options([("search_path", "public")]);
    let mut conn = sqlx::PgConnection::connect_with(&opts).await?;
    MIGRATOR.run(&mut conn).await?;
    conn.close().await?;
    Ok(())
}
