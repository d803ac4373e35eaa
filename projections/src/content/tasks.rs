//! Tasks (WorkDrive E45–E50) and their reminders' schedule.
//!
//! A task is seen by its author, its assignees and the admins of its org (the seed gives tasks no
//! `Permissions`); every query asks exactly that in SQL, so E45's pages, its `meta` count and a
//! direct read agree.

use chrono::{DateTime, Utc};
use domain::task::{TaskContent, TaskEvent};
use eventlog::Envelope;
use sqlx::{FromRow, PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::audience::Reader;
use crate::ApplyError;

async fn store_content(conn: &mut PgConnection, id: Uuid, at: DateTime<Utc>, by: Uuid, t: &TaskContent) -> Result<(), ApplyError> {
    sqlx::query!(
        "UPDATE tasks SET title = $2, description = $3, task_type = $4, status = $5, content = $6, time_minutes = $7, video_id = $8,
                link = $9, document_id = $10, training_course_task_list_id = $11, notification_template_id = $12, due_days = $13,
                due_date = $14, updated_at = $15, updated_by = $16
         WHERE id = $1",
        id,
        t.title,
        t.description,
        t.task_type.as_str(),
        t.status.as_str(),
        t.content,
        t.time,
        t.video_id,
        t.link,
        t.document_id,
        t.training_course_task_list_id,
        t.notification_template_id,
        t.due_days,
        t.due_date,
        at,
        by,
    )
    .execute(&mut *conn)
    .await?;
    // The schedule follows the content; a reminder already sent stays sent.
    sqlx::query!("DELETE FROM task_reminders WHERE task_id = $1 AND NOT sent", id).execute(&mut *conn).await?;
    if let Some(due) = t.due_date {
        let indexes: Vec<i32> = t.reminders.iter().map(|r| r.index).collect();
        let kinds: Vec<String> = t.reminders.iter().map(|r| format!("{:?}", r.reminder_type).to_lowercase()).collect();
        // A reminder due before 1970 is simply due (and keeps the time inside Postgres' range).
        let at: Vec<DateTime<Utc>> = t.reminders.iter().map(|r| r.due_at(due).max(DateTime::<Utc>::UNIX_EPOCH)).collect();
        sqlx::query!(
            "INSERT INTO task_reminders (task_id, reminder_index, reminder_type, remind_at, sent)
             SELECT $1, r.i, r.k, r.at, false FROM UNNEST($2::int[], $3::text[], $4::timestamptz[]) AS r(i, k, at)
             ON CONFLICT DO NOTHING",
            id,
            &indexes,
            &kinds,
            &at,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(super) async fn apply(conn: &mut PgConnection, ev: &Envelope, event: TaskEvent) -> Result<(), ApplyError> {
    match event {
        TaskEvent::TaskCreated { id, org_id, author, created_at, task } => {
            // The row is written bare first so that create and update store content one way.
            let inserted = sqlx::query!(
                "INSERT INTO tasks (id, org_id, author, title, task_type, status, assignees, completed_by, created_at, updated_at,
                                    updated_by)
                 VALUES ($1, $2, $3, '', '', '', '{}', '{}', $4, $4, $3) ON CONFLICT (id) DO NOTHING",
                id,
                org_id.0,
                author.0,
                created_at,
            )
            .execute(&mut *conn)
            .await?;
            if inserted.rows_affected() == 1 {
                store_content(conn, id, created_at, author.0, &task).await?;
            }
        }
        TaskEvent::TaskUpdated { id, by, task } => {
            store_content(conn, id, ev.recorded_at, by.0, &task).await?;
        }
        TaskEvent::TaskAssigned { id, by, removed, assignees, .. } => {
            let assignees: Vec<Uuid> = assignees.iter().map(|u| u.0).collect();
            let removed: Vec<Uuid> = removed.iter().map(|u| u.0).collect();
            sqlx::query!(
                "UPDATE tasks SET assignees = $2,
                        completed_by = ARRAY(SELECT c FROM unnest(completed_by) c WHERE c <> ALL($3::uuid[])),
                        updated_at = $4, updated_by = $5
                 WHERE id = $1",
                id,
                &assignees,
                &removed,
                ev.recorded_at,
                by.0,
            )
            .execute(&mut *conn)
            .await?;
        }
        TaskEvent::TaskCompleted { id, user, .. } => {
            sqlx::query!(
                "UPDATE tasks SET completed_by = array_append(completed_by, $2) WHERE id = $1 AND $2 <> ALL(completed_by)",
                id,
                user.0,
            )
            .execute(&mut *conn)
            .await?;
        }
        TaskEvent::TaskReminderDue { id, reminder_index, .. } => {
            sqlx::query!("UPDATE task_reminders SET sent = true WHERE task_id = $1 AND reminder_index = $2", id, reminder_index)
                .execute(&mut *conn)
                .await?;
        }
        TaskEvent::TaskDeleted { id } => {
            sqlx::query!("WITH r AS (DELETE FROM task_reminders WHERE task_id = $1) DELETE FROM tasks WHERE id = $1", id)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

// ----- queries ------------------------------------------------------------------------------------

#[derive(Debug, Clone, FromRow)]
pub struct TaskRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub author: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub task_type: String,
    pub status: String,
    pub content: Option<String>,
    pub time_minutes: Option<i32>,
    pub video_id: Option<Uuid>,
    pub link: Option<String>,
    pub document_id: Option<Uuid>,
    pub training_course_task_list_id: Option<Uuid>,
    pub notification_template_id: Option<Uuid>,
    pub due_days: Option<i32>,
    pub due_date: Option<DateTime<Utc>>,
    pub assignees: Vec<Uuid>,
    pub completed_by: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// E45's `filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskScope {
    /// Every task the reader may see.
    #[default]
    All,
    /// `INDEPENDENT_TASKS_CREATED_BY_ME`.
    CreatedByMe,
    /// `INDEPENDENT_TASKS_ASSIGNED_TO_ME`.
    AssignedToMe,
}

#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub id: Option<Uuid>,
    pub scope: TaskScope,
    /// `Some(true)`: published only; `Some(false)`: drafts only.
    pub published: Option<bool>,
    pub newest_first: bool,
}

fn push_where(qb: &mut QueryBuilder<'_, Postgres>, reader: Reader, f: &TaskFilter) {
    // With an id, `IS NOT DISTINCT FROM` (the same answer, the org is never null) leaves the
    // primary key as the only index for the lookup, never `tasks_page_idx`; see
    // `queries::user`.
    qb.push(if f.id.is_some() { "t.org_id IS NOT DISTINCT FROM " } else { "t.org_id = " }).push_bind(reader.org);
    qb.push(" AND (").push_bind(reader.admin).push(" OR t.author = ").push_bind(reader.user);
    qb.push(" OR ").push_bind(reader.user).push(" = ANY(t.assignees))");
    if let Some(id) = f.id {
        qb.push(" AND t.id = ").push_bind(id);
    }
    match f.scope {
        TaskScope::All => {}
        TaskScope::CreatedByMe => {
            qb.push(" AND t.author = ").push_bind(reader.user);
        }
        TaskScope::AssignedToMe => {
            qb.push(" AND ").push_bind(reader.user).push(" = ANY(t.assignees)");
        }
    }
    if let Some(p) = f.published {
        qb.push(" AND t.status = ").push_bind(if p { "publish" } else { "draft" });
    }
}

/// The reader's tasks matching `f`, by creation, and how many match.
pub async fn tasks(pool: &PgPool, reader: Reader, f: &TaskFilter, offset: i64, limit: i64) -> Result<(Vec<TaskRow>, i64), sqlx::Error> {
    let mut count = QueryBuilder::new("SELECT count(*) FROM tasks t WHERE ");
    push_where(&mut count, reader, f);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    let mut q = QueryBuilder::new(
        "SELECT t.id, t.org_id, t.author, t.title, t.description, t.task_type, t.status, t.content, t.time_minutes, t.video_id,
                t.link, t.document_id, t.training_course_task_list_id, t.notification_template_id, t.due_days, t.due_date,
                t.assignees, t.completed_by, t.created_at, t.updated_at
         FROM tasks t WHERE ",
    );
    push_where(&mut q, reader, f);
    let order = if f.newest_first { "t.created_at DESC, t.id DESC" } else { "t.created_at, t.id" };
    q.push(format!(" ORDER BY {order} LIMIT ")).push_bind(limit).push(" OFFSET ").push_bind(offset);
    Ok((q.build_query_as::<TaskRow>().fetch_all(pool).await?, total))
}

/// Task `id` if the reader may see it (else `None`: another org's, or not theirs to see).
pub async fn task(pool: &PgPool, reader: Reader, id: Uuid) -> Result<Option<TaskRow>, sqlx::Error> {
    let f = TaskFilter { id: Some(id), ..Default::default() };
    Ok(tasks(pool, reader, &f, 0, 1).await?.0.pop())
}

/// Reminders due at `now` that have not gone out, of published tasks someone assigned has still
/// to complete: (task, reminder index), earliest first.
pub async fn due_reminders(pool: &PgPool, now: DateTime<Utc>, limit: i64) -> Result<Vec<(Uuid, i32)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT r.task_id, r.reminder_index FROM task_reminders r JOIN tasks t ON t.id = r.task_id
         WHERE NOT r.sent AND r.remind_at <= $1 AND t.status = 'publish'
           AND EXISTS (SELECT 1 FROM unnest(t.assignees) a WHERE a <> ALL(t.completed_by))
         ORDER BY r.remind_at, r.task_id, r.reminder_index LIMIT $2",
        now,
        limit,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.task_id, r.reminder_index)).collect())
}
