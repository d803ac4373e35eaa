//! Who follows whom (Roster's `POST` / `DELETE /api/users/{id}/follow`).

use domain::follow::FollowEvent;
use eventlog::Envelope;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ApplyError;

pub(super) async fn apply(conn: &mut PgConnection, ev: &Envelope, event: FollowEvent) -> Result<(), ApplyError> {
    match event {
        FollowEvent::UserFollowed { org_id, follower, followee } => {
            sqlx::query!(
                "INSERT INTO follows (follower, followee, org_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                follower.0,
                followee.0,
                org_id.0,
                ev.recorded_at,
            )
            .execute(&mut *conn)
            .await?;
        }
        FollowEvent::UserUnfollowed { follower, followee } => {
            sqlx::query!("DELETE FROM follows WHERE follower = $1 AND followee = $2", follower.0, followee.0).execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// Whether `follower` follows `followee`.
pub async fn follows(pool: &PgPool, follower: Uuid, followee: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM follows WHERE follower = $1 AND followee = $2) AS "f!""#, follower, followee)
        .fetch_one(pool)
        .await
}

/// How many follow `user`, and how many `user` follows.
pub async fn counts(pool: &PgPool, user: Uuid) -> Result<(i64, i64), sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM follows WHERE followee = $1) AS "followers!",
                  (SELECT count(*) FROM follows WHERE follower = $1) AS "following!""#,
        user
    )
    .fetch_one(pool)
    .await?;
    Ok((r.followers, r.following))
}
