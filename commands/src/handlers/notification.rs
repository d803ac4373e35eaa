//! Notifications (WorkDrive E41, DESIGN §11): the request, the notifier's recorded outcomes, and
//! the recipient's read mark. Every recipient must be a live user of the caller's org (anyone
//! else is a 400 naming the request's field); the notifier asks again at delivery time.

use domain::notification::{Medium, NotificationAggregate, NotificationCommand, Outcome};
use domain::{DomainError, OrgId, UserId};
use uuid::Uuid;

use super::membership::{Batch, Streams};
use crate::results::NotificationRef;
use crate::store::Plan;
use crate::{CommandContext, CommandError, Committed, Store};

/// An E41 request as the api layer parsed it; `recipients` are user ids, each with the request
/// field that named it (`emails[2]`, `receiver_user_ids[0]`).
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub title: String,
    pub description: String,
    pub medium: Medium,
    pub recipients: Vec<(UserId, String)>,
    /// The list's field, for "is required".
    pub recipients_field: String,
}

/// E41: asks the notifier to tell `recipients` (all of the caller's org).
pub async fn send(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    sender: UserId,
    new: NewNotification,
) -> Result<Committed<NotificationRef>, CommandError> {
    let id = Uuid::now_v7();
    store
        .execute(ctx, || async {
            let max = domain::notification::MAX_RECIPIENTS;
            if new.recipients.len() > max {
                return Err(DomainError::invalid(new.recipients_field.clone(), format!("must have at most {max} entries")).into());
            }
            let mut b = Batch::new(store, org, ctx.actor);
            for (user, field) in &new.recipients {
                b.user(*user, field).await?;
            }
            let mut streams = Streams::<NotificationAggregate>::new();
            streams.fresh(id);
            streams.decide(
                id,
                (
                    id,
                    NotificationCommand::Send {
                        id,
                        org_id: org,
                        sender,
                        now: ctx.now,
                        title: new.title.clone(),
                        description: new.description.clone(),
                        medium: new.medium,
                        recipients: new.recipients.iter().map(|(u, _)| *u).collect(),
                        recipients_field: new.recipients_field.clone(),
                    },
                ),
            )?;
            Ok(Plan { streams: streams.pending(org)?, ..Plan::new(NotificationRef { notification_id: id }) })
        })
        .await
}

/// Whether an outcome for (event, recipient, medium) is already recorded on stream `id`: the
/// notifier's "was this sent?" question, asked of the log itself.
pub async fn has_outcome(store: &Store, id: Uuid, event_id: Uuid, recipient: UserId, medium: Medium) -> Result<bool, CommandError> {
    let (state, _) = store.load::<NotificationAggregate>(id).await?;
    Ok(state.has_outcome(event_id, recipient, medium))
}

/// The notifier records a delivery's outcome on stream `id` (of `org`); a second outcome for the
/// same (event, recipient, medium) appends nothing.
pub async fn record_outcome(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: Uuid,
    outcome: Outcome,
) -> Result<Committed<NotificationRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut streams = Streams::<NotificationAggregate>::new();
            streams.state(store, id).await?;
            streams.decide(id, (id, NotificationCommand::Record { outcome: Box::new(outcome.clone()) }))?;
            Ok(Plan { streams: streams.pending(org)?, ..Plan::new(NotificationRef { notification_id: id }) })
        })
        .await
}

/// Roster: `user` marks notification `id` of their inbox read; one not in their inbox is "not found".
pub async fn mark_read(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    user: UserId,
    id: Uuid,
) -> Result<Committed<NotificationRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut streams = Streams::<NotificationAggregate>::new();
            let state = streams.state(store, id).await?;
            if state.org_id != Some(org) {
                return Err(DomainError::NotFound("notification").into());
            }
            streams.decide(id, (id, NotificationCommand::MarkRead { user, now: ctx.now }))?;
            Ok(Plan { streams: streams.pending(org)?, ..Plan::new(NotificationRef { notification_id: id }) })
        })
        .await
}
