//! Notifications (WorkDrive E41): the requests, each delivery's recorded outcome, and the in-app
//! inbox (`GET /api/notifications`, Roster). An inbox row exists only once the notifier delivered
//! to that user (`NotificationDelivered` with medium INAPP), so the inbox shows exactly who was told.

use chrono::{DateTime, Utc};
use domain::notification::{Medium, NotificationEvent};
use eventlog::Envelope;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ApplyError;

pub(super) async fn apply(conn: &mut PgConnection, ev: &Envelope, event: NotificationEvent) -> Result<(), ApplyError> {
    match event {
        NotificationEvent::NotificationRequested { id, org_id, sender, title, description, medium, recipients, requested_at } => {
            let recipients: Vec<Uuid> = recipients.iter().map(|u| u.0).collect();
            sqlx::query!(
                "INSERT INTO notifications (id, org_id, sender, title, description, medium, recipients, requested_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                id,
                org_id.0,
                sender.0,
                title,
                description,
                medium.as_str(),
                &recipients,
                requested_at,
            )
            .execute(&mut *conn)
            .await?;
        }
        NotificationEvent::NotificationDelivered { id, event_id, recipient, medium, message_id, attempts, at } => {
            sqlx::query!(
                "INSERT INTO notification_deliveries (event_id, recipient, medium, notification_id, org_id, delivered, message_id, attempts, at)
                 VALUES ($1, $2, $3, $4, $5, true, $6, $7, $8) ON CONFLICT DO NOTHING",
                event_id,
                recipient.0,
                medium.as_str(),
                id,
                ev.org_id,
                message_id,
                i64::from(attempts),
                at,
            )
            .execute(&mut *conn)
            .await?;
            if medium == Medium::Inapp {
                sqlx::query!(
                    "INSERT INTO notification_inbox (user_id, notification_id, org_id, delivered_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                    recipient.0,
                    id,
                    ev.org_id,
                    at,
                )
                .execute(&mut *conn)
                .await?;
            }
        }
        NotificationEvent::NotificationFailed { id, event_id, recipient, medium, attempts, error, at } => {
            sqlx::query!(
                "INSERT INTO notification_deliveries (event_id, recipient, medium, notification_id, org_id, delivered, attempts, error, at)
                 VALUES ($1, $2, $3, $4, $5, false, $6, $7, $8) ON CONFLICT DO NOTHING",
                event_id,
                recipient.0,
                medium.as_str(),
                id,
                ev.org_id,
                i64::from(attempts),
                error,
                at,
            )
            .execute(&mut *conn)
            .await?;
        }
        NotificationEvent::NotificationRead { id, user, at } => {
            sqlx::query!(
                "UPDATE notification_inbox SET read_at = $3 WHERE user_id = $1 AND notification_id = $2 AND read_at IS NULL",
                user.0,
                id,
                at
            )
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, PartialEq)]
pub struct InboxRow {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub sender: Uuid,
    pub delivered_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// One page of `user`'s inbox in `org`, newest first (ties by id), and how many it holds.
pub async fn inbox(
    pool: &PgPool,
    org: Uuid,
    user: Uuid,
    unread_only: bool,
    offset: i64,
    limit: i64,
) -> Result<(Vec<InboxRow>, i64), sqlx::Error> {
    let total = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM notification_inbox i JOIN notifications n ON n.id = i.notification_id
           WHERE i.user_id = $1 AND n.org_id = $2 AND (NOT $3 OR i.read_at IS NULL)"#,
        user,
        org,
        unread_only
    )
    .fetch_one(pool)
    .await?;
    let rows = sqlx::query_as!(
        InboxRow,
        "SELECT n.id, n.title, n.description, n.sender, i.delivered_at, i.read_at
         FROM notification_inbox i JOIN notifications n ON n.id = i.notification_id
         WHERE i.user_id = $1 AND n.org_id = $2 AND (NOT $3 OR i.read_at IS NULL)
         ORDER BY i.delivered_at DESC, n.id DESC LIMIT $4 OFFSET $5",
        user,
        org,
        unread_only,
        limit,
        offset,
    )
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

/// One notification of `user`'s inbox in `org`, if it is there.
pub async fn inbox_item(pool: &PgPool, org: Uuid, user: Uuid, notification: Uuid) -> Result<Option<InboxRow>, sqlx::Error> {
    sqlx::query_as!(
        InboxRow,
        "SELECT n.id, n.title, n.description, n.sender, i.delivered_at, i.read_at
         FROM notification_inbox i JOIN notifications n ON n.id = i.notification_id
         WHERE i.user_id = $1 AND n.org_id = $2 AND n.id = $3",
        user,
        org,
        notification,
    )
    .fetch_optional(pool)
    .await
}

/// A recipient as the notifier sees them at delivery time: a live user of `org`, or nobody.
#[derive(Debug, Clone, PartialEq)]
pub struct Addressee {
    pub id: Uuid,
    pub email: String,
    pub phone: Option<String>,
    pub first_name: String,
    pub last_name: String,
}

/// The audience question at delivery time (DESIGN §11): is `user` still a live member of `org`?
pub async fn addressee(pool: &PgPool, org: Uuid, user: Uuid) -> Result<Option<Addressee>, sqlx::Error> {
    sqlx::query_as!(
        Addressee,
        // `IS NOT DISTINCT FROM`: only the primary key serves this; see `queries::user`.
        "SELECT id, email, phone, first_name, last_name FROM users WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2 AND NOT deleted",
        user,
        org
    )
    .fetch_optional(pool)
    .await
}

/// The live users of `org` with these emails (case-insensitive), as (normalized email, id).
pub async fn users_by_email(pool: &PgPool, org: Uuid, emails: &[String]) -> Result<Vec<(String, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT lower(email) AS \"email!\", id FROM users WHERE org_id = $1 AND NOT deleted AND lower(email) = ANY($2)",
        org,
        emails
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.email, r.id)).collect())
}
