//! Calendar events (WorkDrive E20–E22, Roster RSVP): create (a recurring series materialised in
//! one append), change and delete one occurrence, the following ones or the whole series, and
//! answer an invitation. Whether the caller may see an event is the API's question (it answers
//! 404 before asking here); whether they may change it is the domain's.

use chrono::{DateTime, Utc};
use domain::calendar::{
    self, occurrence_id, CalendarAggregate, CalendarEvent, Editor, EventCategory, EventCommand, EventDetails, EventPatch, NewEvent, Repeat,
    Rsvp, Scope, SeriesRef,
};
use domain::category::{CategoryAggregate, ModuleCode};
use domain::patch::Patch;
use domain::{DomainError, OrgId, UserId};
use uuid::Uuid;

use super::content::{check_audience, check_files, existing_category};
use super::membership::{Batch, Streams};
use crate::results::*;
use crate::store::Plan;
use crate::{CommandContext, CommandError, Committed, Store};

/// A new event (E20): its details (the category by name, resolved here) and first occurrence.
#[derive(Debug, Clone)]
pub struct EventInput {
    pub details: EventDetails,
    pub category: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub repeat: Option<Repeat>,
}

/// The references a write names are the org's: invitees and audience (users, groups, locations),
/// the poster and video previews (uploaded media), the category (of the EVENT module).
async fn check_references(
    b: &mut Batch<'_>,
    org: OrgId,
    d: &EventDetails,
    changed: Changed,
    category: Option<&str>,
) -> Result<Option<EventCategory>, CommandError> {
    if changed.invitees {
        for (i, u) in d.invitees.iter().enumerate() {
            b.user(*u, &format!("user_ids[{i}]")).await?;
        }
    }
    if changed.audience {
        check_audience(b, &d.audience, "permissions").await?;
    }
    if changed.poster {
        check_files(b.store, org, &d.poster_id.into_iter().collect::<Vec<_>>(), "poster_id").await?;
    }
    if changed.previews {
        check_files(b.store, org, &d.video_preview_ids, "video_preview_ids").await?;
    }
    match category.map(str::trim).filter(|c| !c.is_empty()) {
        Some(name) => {
            let id = existing_category(b.store, org, ModuleCode::Event, name, "category").await?;
            // The category's own spelling, whatever case the request used.
            let name = b.store.load::<CategoryAggregate>(id).await?.0.map_or_else(|| name.to_string(), |c| c.category);
            Ok(Some(EventCategory { id, name }))
        }
        None => Ok(None),
    }
}

/// Which referencing fields a write sets (a create sets them all).
#[derive(Debug, Clone, Copy)]
struct Changed {
    invitees: bool,
    audience: bool,
    poster: bool,
    previews: bool,
}

/// E20: a new event, or a recurring series of them (its first occurrence's id is the series'
/// `repeatId`). Answers the first occurrence.
pub async fn create_event(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    author: UserId,
    input: EventInput,
) -> Result<Committed<EventRef>, CommandError> {
    let id = Uuid::now_v7();
    let times = occurrence_times(&input)?;
    store
        .execute(ctx, || async {
            let streams = new_event_streams(store, ctx, org, author, &input, id, &times).await?;
            Ok(Plan { streams, ..Plan::new(EventRef { event_id: id }) })
        })
        .await
}

/// The occurrences of a new event, checked before any IO (the times and the series are pure).
pub(crate) fn occurrence_times(input: &EventInput) -> Result<Vec<calendar::Span>, CommandError> {
    calendar::check_times(input.start, input.end)?;
    let tz = calendar::parse_zone("time_zone", &input.details.time_zone)?;
    Ok(match input.repeat {
        Some(r) => calendar::occurrences(input.start, input.end, tz, r)?,
        None => vec![(input.start, input.end)],
    })
}

/// E20's decision, for any command that creates an event in its own append (E56's meeting in a
/// conversation): the new event `id`'s streams, its references checked.
pub(crate) async fn new_event_streams(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    author: UserId,
    input: &EventInput,
    id: Uuid,
    times: &[calendar::Span],
) -> Result<Vec<crate::store::PendingStream>, CommandError> {
    let mut b = Batch::new(store, org, ctx.actor);
    let mut details = input.details.clone().checked()?;
    let all = Changed { invitees: true, audience: true, poster: true, previews: true };
    details.category = check_references(&mut b, org, &details, all, input.category.as_deref()).await?;
    let mut events = Streams::<CalendarAggregate>::new();
    for (i, (start, end)) in times.iter().enumerate() {
        let index = i as u32;
        let series = input.repeat.map(|repeat| SeriesRef { repeat_id: id, index, count: times.len() as u32, repeat });
        let occ = occurrence_id(id, index);
        events.fresh(occ);
        let new = NewEvent { id: occ, org_id: org, created_by: author, details: details.clone(), start: *start, end: *end, series };
        events.decide(occ, EventCommand::Create(new))?;
    }
    Ok(events.pending(org)?)
}

/// The live occurrence `id` of `org`; another org's or a deleted one is not found.
async fn occurrence(
    events: &mut Streams<CalendarAggregate>,
    store: &Store,
    org: OrgId,
    id: Uuid,
) -> Result<Option<CalendarEvent>, CommandError> {
    Ok(events.state(store, id).await?.as_ref().filter(|e| !e.deleted && e.org_id == org).cloned())
}

/// The occurrences an edit of `scope` through `target` reaches, in series order, this one first
/// among them; occurrences deleted since are left out.
async fn reach(
    events: &mut Streams<CalendarAggregate>,
    store: &Store,
    org: OrgId,
    target: &CalendarEvent,
    id: Uuid,
    scope: Scope,
) -> Result<Vec<(Uuid, CalendarEvent)>, CommandError> {
    let ids = target.series.map_or_else(|| vec![id], |s| s.reach(scope));
    let mut out = Vec::new();
    for occ in ids {
        if let Some(e) = occurrence(events, store, org, occ).await? {
            out.push((occ, e));
        }
    }
    Ok(out)
}

/// E21: changes occurrence `id`, or with `scope` the following ones or the whole series. A change
/// of the start or the zone moves every reached occurrence by the same wall-clock difference; a
/// new start without a new end keeps the length. Answers the named occurrence.
#[allow(clippy::too_many_arguments)]
pub async fn update_event(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    by: Editor,
    id: Uuid,
    patch: EventPatch,
    category: Patch<String>,
    scope: Scope,
) -> Result<Committed<EventRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            let mut events = Streams::<CalendarAggregate>::new();
            let target = occurrence(&mut events, store, org, id).await?.ok_or(DomainError::NotFound("event"))?;
            let mut patch = patch.clone();
            let changed = Changed {
                invitees: patch.invitees.is_some(),
                audience: patch.audience.is_some(),
                poster: !patch.poster_id.is_keep(),
                previews: patch.video_preview_ids.is_some(),
            };
            let sample = patch.apply(&target.details)?;
            let named = match &category {
                Patch::Set(name) => Some(name.as_str()),
                _ => None,
            };
            patch.category = match (&category, check_references(&mut b, org, &sample, changed, named).await?) {
                (Patch::Set(_), Some(c)) => Patch::Set(c),
                (Patch::Keep, _) => Patch::Keep,
                _ => Patch::Clear,
            };
            let new_start = patch.start.unwrap_or(target.start);
            let new_end = patch.end.unwrap_or(new_start + (target.end - target.start));
            calendar::check_times(new_start, new_end)?;
            let from = (target.details.zone(), target.start);
            let to = (calendar::parse_zone("time_zone", &sample.time_zone)?, new_start);
            for (occ, e) in reach(&mut events, store, org, &target, id, scope).await? {
                let details = patch.apply(&e.details)?;
                let (start, end) = if occ == id { (new_start, new_end) } else { calendar::shifted(e.start, from, to, new_end - new_start) };
                events.decide(occ, EventCommand::Update { by, details, start, end })?;
            }
            Ok(Plan { streams: events.pending(org)?, ..Plan::new(EventRef { event_id: id }) })
        })
        .await
}

/// E22: deletes occurrence `id`, or with `scope` the following ones or the whole series.
pub async fn delete_event(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    by: Editor,
    id: Uuid,
    scope: Scope,
) -> Result<Committed<EventRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut events = Streams::<CalendarAggregate>::new();
            let target = occurrence(&mut events, store, org, id).await?.ok_or(DomainError::NotFound("event"))?;
            for (occ, _) in reach(&mut events, store, org, &target, id, scope).await? {
                events.decide(occ, EventCommand::Delete { by })?;
            }
            Ok(Plan { streams: events.pending(org)?, ..Plan::new(EventRef { event_id: id }) })
        })
        .await
}

/// Roster RSVP: `user` answers occurrence `id` (the API checked they may see it); a new answer
/// replaces the previous one.
pub async fn rsvp(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    user: UserId,
    id: Uuid,
    rsvp: Rsvp,
) -> Result<Committed<EventRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut events = Streams::<CalendarAggregate>::new();
            occurrence(&mut events, store, org, id).await?.ok_or(DomainError::NotFound("event"))?;
            events.decide(id, EventCommand::Rsvp { user, rsvp })?;
            Ok(Plan { streams: events.pending(org)?, ..Plan::new(EventRef { event_id: id }) })
        })
        .await
}
