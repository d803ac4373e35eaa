//! `--statements N`: where a write step's Postgres time goes, per operation.
//!
//! The bench's cluster is started with pg_stat_statements (nested statements too, so the ones
//! inside `roster_append` show, and planning time, so a statement planned on every call shows).
//! The counters are reset before each measured step of (a), (c) and (f) and read after it; each
//! step gets a table of its `N` costliest statements in the step's database, divided by the
//! operations the step completed. This is how migration 0029's per-call planning was found, and
//! the slow point read that auto_explain then showed on a list index (`queries::user`). Tracking
//! adds work to every statement: compare rates only between runs made the same way.

use sqlx::PgPool;

/// The cluster settings it needs (`ROSTER_PG_SETTINGS` syntax). `shared_preload_libraries` holds
/// one library here, since a value cannot hold a comma; auto_explain still loads beside it
/// through `session_preload_libraries`.
pub(super) const PG_SETTINGS: &str =
    "shared_preload_libraries=pg_stat_statements,pg_stat_statements.track=all,pg_stat_statements.track_planning=on";

/// Statement text is cut to this many characters in the table.
const QUERY_CHARS: usize = 140;

/// Creates the extension in the database whose pool is given (its view then shows every
/// database's statements; `top` picks one).
pub(super) async fn install(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").execute(pool).await.map(|_| ())
}

/// Forgets every statement of every database.
pub(super) async fn reset(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_stat_statements_reset()").execute(pool).await.map(|_| ())
}

/// A markdown table of `database`'s `n` statements with the most planning plus execution time
/// since the last `reset`, per each of the step's `ops` completed operations. A nested statement
/// (run inside a function such as `roster_append`) is marked: its time is also part of its
/// caller's, so the column does not add up.
pub(super) async fn top(pool: &PgPool, database: &str, ops: u64, n: usize) -> Result<String, sqlx::Error> {
    let rows: Vec<(bool, i64, i64, f64, f64, i64, String)> = sqlx::query_as(
        "SELECT s.toplevel, s.calls, s.plans, s.total_plan_time, s.total_exec_time, s.rows, s.query
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
         WHERE d.datname = $1
         ORDER BY s.total_plan_time + s.total_exec_time DESC
         LIMIT $2",
    )
    .bind(database)
    .bind(n as i64)
    .fetch_all(pool)
    .await?;
    let ops = ops.max(1) as f64;
    let mut out = String::from(
        "| ms per op (plan + exec) | calls per op | plans per call | plan ms per call | exec ms per call | rows per call | statement |\n\
         |---:|---:|---:|---:|---:|---:|---|\n",
    );
    for (toplevel, calls, plans, plan_ms, exec_ms, rows, query) in rows {
        let per_call = |x: f64| if calls > 0 { x / calls as f64 } else { f64::NAN };
        let cut = super::truncate(&query.split_whitespace().collect::<Vec<_>>().join(" "), QUERY_CHARS);
        out.push_str(&format!(
            "| {:.3} | {:.2} | {:.2} | {:.3} | {:.3} | {:.1} | {}`{}` |\n",
            (plan_ms + exec_ms) / ops,
            calls as f64 / ops,
            per_call(plans as f64),
            per_call(plan_ms),
            per_call(exec_ms),
            per_call(rows as f64),
            if toplevel { "" } else { "(nested) " },
            cut.replace('|', "\\|").replace('`', "'"),
        ));
    }
    Ok(out)
}
