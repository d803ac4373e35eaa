//! The task reminder worker: when a reminder of a task's enforcement template falls due (N units
//! before the task's due date, see `domain::task`), it appends `TaskReminderDue` on the task's
//! stream for the assignees who have not completed the task; the notifier delivers it to them.
//!
//! One active instance (an advisory lock, like the subscription expiry worker). It scans the read
//! model's schedule of unsent reminders; the domain decides, so a repeated, early or pointless
//! reminder (everyone done) appends nothing: each (task, reminder) is appended at most once.

use std::time::Duration;
use tracing::Instrument;

use commands::handlers::tasks::remind_task;
use commands::{CommandContext, Store};
use sqlx::PgPool;

use crate::{Shutdown, WorkerError};

/// Reminders handled per scan; the next scan follows at once while there are more.
const BATCH: i64 = 100;
const MAX_BACKOFF: Duration = Duration::from_secs(10);

pub async fn run(pool: PgPool, interval: Duration, shutdown: Shutdown) -> Result<(), WorkerError> {
    crate::supervise("task reminder worker", MAX_BACKOFF, shutdown, |sd| {
        let pool = pool.clone();
        Box::pin(async move { active(&pool, interval, sd).await })
    })
    .await
}

async fn active(pool: &PgPool, interval: Duration, shutdown: &mut Shutdown) -> Result<(), WorkerError> {
    let Some(_leader) = crate::lead(pool, "roster-task-reminders", shutdown).await? else { return Ok(()) };
    let store = Store::new(pool.clone());
    loop {
        let appended = scan(pool, &store).await?;
        // The projector marks them sent shortly; a full batch means more may be waiting.
        let pause = if appended as i64 == BATCH { Duration::from_millis(50) } else { interval };
        if !shutdown.sleep(pause).await {
            return Ok(());
        }
    }
}

/// One scan: appends every due reminder the read model lists; returns how many it looked at.
pub async fn scan(pool: &PgPool, store: &Store) -> Result<usize, WorkerError> {
    let now = chrono::Utc::now();
    let due = projections::content::tasks::due_reminders(pool, now, BATCH).await?;
    for (task, index) in &due {
        let ctx = CommandContext::system("roster", now);
        let span = tracing::info_span!("task_reminders.remind", task = %task, reminder = index);
        match remind_task(store, &ctx, *task, *index).instrument(span).await {
            Ok(c) if c.position.is_some() => tracing::info!(task = %task, reminder = index, "task reminder due"),
            Ok(_) => {}
            // A rejection (e.g. a concurrent delete) is looked at again on the next scan.
            Err(e @ commands::CommandError::Store(_)) => return Err(e.into()),
            Err(e) => tracing::warn!(task = %task, reminder = index, error = %e, "could not record task reminder"),
        }
    }
    Ok(due.len())
}
