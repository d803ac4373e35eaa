//! Calendar events (WorkDrive E19–E22, DESIGN §11 "Calendar"): events, meetings and livestreams,
//! recurring series and RSVPs.
//!
//! Each occurrence is a stream of its own (so RSVPs and one-occurrence edits never contend, and
//! lists filter occurrences in SQL). A recurring series is materialised when it is created: its
//! occurrences share a `repeat_id`, and occurrence `i` has the id [`occurrence_id`]`(repeat_id, i)`,
//! so an edit of `all` or `following` finds its siblings without any read model.
//!
//! Times: an event carries an IANA time zone; a series keeps its wall-clock time in that zone
//! across DST changes ([`occurrences`], pure).

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
pub use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audience::{Audience, Grant};
use crate::category::ModuleCode;
use crate::event::DomainEvent;
use crate::patch::Patch;
use crate::values::{bounded_text, check_instant, required_text, Email, MAX_TEXT_LEN};
use crate::{DomainError, OrgId, UserId};

pub const MAX_TITLE_LEN: usize = 500;
pub const MAX_DESCRIPTION_LEN: usize = MAX_TEXT_LEN;
pub const MAX_LINK_LEN: usize = 2048;
pub const MAX_LOCATION_LEN: usize = 1000;
pub const MAX_TAG_LEN: usize = 100;
/// The longest list an event may carry (tags, links, invitees, emails, video previews, each).
pub const MAX_LIST_LEN: usize = 100;
pub const MAX_CONVERSATION_ID_LEN: usize = 200;
/// An event's `duration` in minutes: at most a year.
pub const MAX_DURATION_MINUTES: i32 = 366 * 24 * 60;
/// The most occurrences a recurring series may have (DESIGN §11).
pub const MAX_OCCURRENCES: usize = 366;

/// Field names of the request (WorkDrive spells them this way; a patch uses the same).
pub const ENDS_FIELD: &str = "repeat.config.ends.config.date";

/// The id of occurrence `index` of series `repeat_id` (UUIDv5): the first is the series' id itself.
pub fn occurrence_id(repeat_id: Uuid, index: u32) -> Uuid {
    if index == 0 {
        return repeat_id;
    }
    Uuid::new_v5(&repeat_id, format!("roster:occurrence:{index}").as_bytes())
}

/// An IANA time zone name (`Europe/Berlin`), checked; `field` names it in an error.
pub fn parse_zone(field: &str, raw: &str) -> Result<Tz, DomainError> {
    raw.trim()
        .parse::<Tz>()
        .map_err(|_| DomainError::invalid(field, format!("'{}' is not an IANA time zone name like Europe/Berlin", raw.trim())))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    Daily,
    Weekly,
    BiWeekly,
    /// The same day of each calendar month; months without that day are skipped (RFC 5545).
    Monthly,
}

impl Frequency {
    /// The seed's spelling: seconds for the fixed ones (86400, 604800, 1209600), or `"monthly"`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, DomainError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "86400" => Ok(Frequency::Daily),
            "604800" => Ok(Frequency::Weekly),
            "1209600" => Ok(Frequency::BiWeekly),
            "monthly" => Ok(Frequency::Monthly),
            other => Err(DomainError::invalid(field, format!("'{other}' is not a frequency; known: 86400, 604800, 1209600, monthly"))),
        }
    }

    /// The seed's spelling, as [`Frequency::parse`] reads it.
    pub fn to_json(self) -> serde_json::Value {
        match self {
            Frequency::Daily => 86400.into(),
            Frequency::Weekly => 604800.into(),
            Frequency::BiWeekly => 1209600.into(),
            Frequency::Monthly => "monthly".into(),
        }
    }

    fn days(self) -> Option<i64> {
        match self {
            Frequency::Daily => Some(1),
            Frequency::Weekly => Some(7),
            Frequency::BiWeekly => Some(14),
            Frequency::Monthly => None,
        }
    }
}

/// How a series repeats: `frequency` until `ends_on`, a date including its whole day in the
/// event's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Repeat {
    pub frequency: Frequency,
    pub ends_on: NaiveDate,
}

/// Resolves a wall-clock time in `tz`: an ambiguous time (the hour repeated in autumn) is its
/// first instant; a time in the spring gap is moved forward by the gap, as RFC 5545 does.
pub fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => {
            // Gaps are at most a few hours; the offset before the gap applies.
            let before = tz.offset_from_utc_datetime(&(local - Duration::days(1)));
            let utc = local - before.fix();
            utc.and_utc()
        }
    }
}

/// One occurrence's start and end.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// The occurrences (start, end) of a series whose first occurrence is `start`..`end`: each keeps
/// the first's wall-clock time in `tz`; the last starts on or before `repeat.ends_on` (local). At
/// most [`MAX_OCCURRENCES`], a 400 naming [`ENDS_FIELD`] beyond.
pub fn occurrences(start: DateTime<Utc>, end: DateTime<Utc>, tz: Tz, repeat: Repeat) -> Result<Vec<Span>, DomainError> {
    let first = start.with_timezone(&tz).naive_local();
    if repeat.ends_on < first.date() {
        return Err(DomainError::invalid(ENDS_FIELD, "must not be before the event's start date"));
    }
    let length = end - start;
    let mut out = Vec::new();
    for k in 0u32.. {
        let local = match repeat.frequency.days() {
            Some(days) => first.checked_add_signed(Duration::days(days * i64::from(k))),
            None => {
                let months = first.month0() + k;
                let year = first.year() + (months / 12) as i32;
                match NaiveDate::from_ymd_opt(year, months % 12 + 1, first.day()) {
                    Some(d) => Some(d.and_time(first.time())),
                    // This month has no such day: skipped, unless we are past the end anyway.
                    None if NaiveDate::from_ymd_opt(year, months % 12 + 1, 1).is_some_and(|d| d <= repeat.ends_on) => continue,
                    None => None,
                }
            }
        };
        let Some(local) = local.filter(|l| l.date() <= repeat.ends_on) else { break };
        if out.len() == MAX_OCCURRENCES {
            return Err(DomainError::invalid(ENDS_FIELD, format!("gives more than {MAX_OCCURRENCES} occurrences")));
        }
        let s = resolve(tz, local);
        out.push((s, s + length));
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExternalLink {
    pub title: String,
    pub url: String,
}

/// An event's category (of the EVENT module): its stream id and the name the event gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventCategory {
    pub id: Uuid,
    pub name: String,
}

/// Everything an event says about itself (E20's fields), checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventDetails {
    pub title: String,
    pub description: Option<String>,
    pub external_links: Vec<ExternalLink>,
    /// Invitees: users of the org; they always see the event.
    pub invitees: Vec<UserId>,
    pub conference_link: Option<String>,
    pub location: Option<String>,
    pub poster_id: Option<Uuid>,
    pub is_virtual: bool,
    pub tags: Vec<String>,
    pub external_user_emails: Vec<Email>,
    /// The category (of the EVENT module).
    pub category: Option<EventCategory>,
    pub is_meeting: bool,
    /// EVENT or LIVESTREAM.
    pub kind: ModuleCode,
    pub video_preview_ids: Vec<Uuid>,
    /// Minutes.
    pub duration: Option<i32>,
    pub conversation_id: Option<String>,
    /// An IANA zone name.
    pub time_zone: String,
    pub audience: Audience,
}

fn list<T>(field: &str, v: Vec<T>) -> Result<Vec<T>, DomainError> {
    if v.len() > MAX_LIST_LEN {
        return Err(DomainError::invalid(field, format!("must have at most {MAX_LIST_LEN} entries")));
    }
    Ok(v)
}

fn opt(field: &str, v: Option<String>, max: usize) -> Result<Option<String>, DomainError> {
    crate::values::opt_text(field, v, max)
}

impl EventDetails {
    /// Checks every bound (so a projector can store it) and normalizes: trimmed text, blank is
    /// none, repeated ids dropped.
    pub fn checked(mut self) -> Result<Self, DomainError> {
        self.title = required_text("title", &self.title, MAX_TITLE_LEN)?;
        self.description = opt("description", self.description, MAX_DESCRIPTION_LEN)?;
        self.conference_link = opt("conference_link", self.conference_link, MAX_LINK_LEN)?;
        self.location = opt("location", self.location, MAX_LOCATION_LEN)?;
        self.conversation_id = opt("conversation_id", self.conversation_id, MAX_CONVERSATION_ID_LEN)?;
        self.external_links = list("external_link", self.external_links)?;
        for (i, l) in self.external_links.iter_mut().enumerate() {
            l.title = bounded_text(&format!("external_link[{i}].title"), l.title.trim(), MAX_TITLE_LEN)?;
            l.url = required_text(&format!("external_link[{i}].url"), &l.url, MAX_LINK_LEN)?;
        }
        self.tags = list("tags", self.tags)?;
        for (i, t) in self.tags.iter_mut().enumerate() {
            *t = required_text(&format!("tags[{i}]"), t, MAX_TAG_LEN)?;
        }
        self.external_user_emails = list("external_user_emails", self.external_user_emails)?;
        self.invitees = dedup(list("user_ids", self.invitees)?);
        self.video_preview_ids = dedup(list("video_preview_ids", self.video_preview_ids)?);
        if let Some(d) = self.duration {
            if !(0..=MAX_DURATION_MINUTES).contains(&d) {
                return Err(DomainError::invalid("duration", format!("must be between 0 and {MAX_DURATION_MINUTES} minutes")));
            }
        }
        if !matches!(self.kind, ModuleCode::Event | ModuleCode::Livestream) {
            return Err(DomainError::invalid("type", "must be EVENT (2) or LIVESTREAM (3)"));
        }
        self.time_zone = parse_zone("time_zone", &self.time_zone)?.name().to_string();
        self.audience = self.audience.checked("permissions")?;
        Ok(self)
    }

    /// Who may see the event: its audience, and its invitees whatever the audience says.
    pub fn grants(&self, org: OrgId, author: UserId) -> Vec<Grant> {
        let mut g = self.audience.grants(org, author);
        g.extend(self.invitees.iter().map(|u| Grant::User(*u)));
        g.sort_unstable();
        g.dedup();
        g
    }

    pub fn zone(&self) -> Tz {
        self.time_zone.parse().unwrap_or(Tz::UTC)
    }
}

fn dedup<T: Ord + Copy>(v: Vec<T>) -> Vec<T> {
    let mut seen = std::collections::BTreeSet::new();
    v.into_iter().filter(|x| seen.insert(*x)).collect()
}

/// Checks an event's times: years 1–9999, end not before start.
pub fn check_times(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<(), DomainError> {
    check_instant("start_date_time", start)?;
    check_instant("end_date_time", end)?;
    if end < start {
        return Err(DomainError::invalid("end_date_time", "must not be before startDateTime"));
    }
    Ok(())
}

/// A change of an event (E21): absent fields keep their value. `Patch` fields may be cleared.
#[derive(Debug, Clone, Default)]
pub struct EventPatch {
    pub title: Option<String>,
    pub description: Patch<String>,
    pub external_links: Option<Vec<ExternalLink>>,
    pub invitees: Option<Vec<UserId>>,
    pub conference_link: Patch<String>,
    pub location: Patch<String>,
    pub poster_id: Patch<Uuid>,
    pub is_virtual: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub external_user_emails: Option<Vec<Email>>,
    pub category: Patch<EventCategory>,
    pub is_meeting: Option<bool>,
    pub kind: Option<ModuleCode>,
    pub video_preview_ids: Option<Vec<Uuid>>,
    pub duration: Patch<i32>,
    pub conversation_id: Patch<String>,
    pub time_zone: Option<String>,
    pub audience: Option<Audience>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

impl EventPatch {
    /// The details after the patch (times are the caller's: see [`shifted`]).
    pub fn apply(&self, d: &EventDetails) -> Result<EventDetails, DomainError> {
        let p = self.clone();
        let mut n = d.clone();
        replace(p.title, &mut n.title);
        p.description.apply_to(&mut n.description);
        replace(p.external_links, &mut n.external_links);
        replace(p.invitees, &mut n.invitees);
        p.conference_link.apply_to(&mut n.conference_link);
        p.location.apply_to(&mut n.location);
        p.poster_id.apply_to(&mut n.poster_id);
        replace(p.is_virtual, &mut n.is_virtual);
        replace(p.tags, &mut n.tags);
        replace(p.external_user_emails, &mut n.external_user_emails);
        p.category.apply_to(&mut n.category);
        replace(p.is_meeting, &mut n.is_meeting);
        replace(p.kind, &mut n.kind);
        replace(p.video_preview_ids, &mut n.video_preview_ids);
        p.duration.apply_to(&mut n.duration);
        p.conversation_id.apply_to(&mut n.conversation_id);
        replace(p.time_zone, &mut n.time_zone);
        replace(p.audience, &mut n.audience);
        n.checked()
    }
}

/// A present value replaces the field; an absent one keeps it.
fn replace<T>(v: Option<T>, field: &mut T) {
    if let Some(v) = v {
        *field = v;
    }
}

/// Moves an occurrence of a series edited through another one (`repeat=all|following`): the
/// named occurrence went from `(from_tz, from_start)` to `(to_tz, to_start)` with length
/// `length`; this one moves by the same wall-clock difference, so the series keeps one local time.
pub fn shifted(
    start: DateTime<Utc>,
    (from_tz, from_start): (Tz, DateTime<Utc>),
    (to_tz, to_start): (Tz, DateTime<Utc>),
    length: Duration,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let delta = to_start.with_timezone(&to_tz).naive_local() - from_start.with_timezone(&from_tz).naive_local();
    let local = start.with_timezone(&from_tz).naive_local() + delta;
    let s = resolve(to_tz, local);
    (s, s + length)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rsvp {
    Going,
    Maybe,
    Declined,
}

impl Rsvp {
    pub const ALL: [Rsvp; 3] = [Rsvp::Going, Rsvp::Maybe, Rsvp::Declined];

    pub fn parse(field: &str, raw: &str) -> Result<Self, DomainError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "going" => Ok(Rsvp::Going),
            "maybe" => Ok(Rsvp::Maybe),
            "declined" => Ok(Rsvp::Declined),
            other => Err(DomainError::invalid(field, format!("'{other}' is not one of going, maybe, declined"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Rsvp::Going => "going",
            Rsvp::Maybe => "maybe",
            Rsvp::Declined => "declined",
        }
    }
}

/// An occurrence's place in its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SeriesRef {
    pub repeat_id: Uuid,
    pub index: u32,
    /// How many occurrences the series was created with.
    pub count: u32,
    pub repeat: Repeat,
}

impl SeriesRef {
    /// The ids of the occurrences an edit of `scope` through this one reaches, this one included.
    pub fn reach(&self, scope: Scope) -> Vec<Uuid> {
        let from = match scope {
            Scope::One => return vec![occurrence_id(self.repeat_id, self.index)],
            Scope::Following => self.index,
            Scope::All => 0,
        };
        (from..self.count).map(|i| occurrence_id(self.repeat_id, i)).collect()
    }
}

/// What an edit of one occurrence of a series reaches (E21/E22 `repeat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    One,
    Following,
    All,
}

impl Scope {
    /// `repeat`: absent or blank = this occurrence only, `following` (this one included), `all`.
    pub fn parse(field: &str, raw: Option<&str>) -> Result<Self, DomainError> {
        match raw.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") => Ok(Scope::One),
            Some("following") => Ok(Scope::Following),
            Some("all") => Ok(Scope::All),
            Some(other) => Err(DomainError::invalid(field, format!("'{other}' is not one of all, following"))),
        }
    }
}

/// One occurrence (or a single event).
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarEvent {
    pub id: Uuid,
    pub org_id: OrgId,
    pub created_by: UserId,
    pub details: EventDetails,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub series: Option<SeriesRef>,
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: Uuid,
    pub org_id: OrgId,
    pub created_by: UserId,
    pub details: EventDetails,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub series: Option<SeriesRef>,
}

/// Who asks: the actor, and whether they administer the org (admins may edit any event).
#[derive(Debug, Clone, Copy)]
pub struct Editor {
    pub user: UserId,
    pub admin: bool,
}

#[derive(Debug, Clone)]
pub enum EventCommand {
    Create(NewEvent),
    /// Replaces the details and times (the handler applied the patch, with [`EventPatch::apply`]).
    Update {
        by: Editor,
        details: EventDetails,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    Delete {
        by: Editor,
    },
    /// A reader's answer (visibility is the handler's question).
    Rsvp {
        user: UserId,
        rsvp: Rsvp,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum CalendarEventEvent {
    EventScheduled {
        id: Uuid,
        org_id: OrgId,
        created_by: UserId,
        details: EventDetails,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        series: Option<SeriesRef>,
    },
    EventChanged {
        id: Uuid,
        updated_by: UserId,
        details: EventDetails,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    EventCancelled {
        id: Uuid,
        deleted_by: UserId,
    },
    EventRsvpGiven {
        id: Uuid,
        user_id: UserId,
        rsvp: Rsvp,
    },
}

impl DomainEvent for CalendarEventEvent {
    const STREAM_TYPE: &'static str = "calendar_event";

    fn event_type(&self) -> &'static str {
        match self {
            CalendarEventEvent::EventScheduled { .. } => "EventScheduled",
            CalendarEventEvent::EventChanged { .. } => "EventChanged",
            CalendarEventEvent::EventCancelled { .. } => "EventCancelled",
            CalendarEventEvent::EventRsvpGiven { .. } => "EventRsvpGiven",
        }
    }
}

pub struct CalendarAggregate;

fn may_edit(e: &CalendarEvent, by: Editor) -> Result<(), DomainError> {
    if by.admin || by.user == e.created_by {
        Ok(())
    } else {
        Err(DomainError::Forbidden("only the event's author or an organization admin may change it".into()))
    }
}

impl esrs::Aggregate for CalendarAggregate {
    const NAME: &'static str = "event";
    type State = Option<CalendarEvent>;
    type Command = EventCommand;
    type Event = CalendarEventEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        let live = state.as_ref().filter(|e| !e.deleted);
        match (command, live) {
            (EventCommand::Create(n), None) if state.is_none() => {
                check_times(n.start, n.end)?;
                let details = n.details.checked()?;
                Ok(vec![CalendarEventEvent::EventScheduled {
                    id: n.id,
                    org_id: n.org_id,
                    created_by: n.created_by,
                    details,
                    start: n.start,
                    end: n.end,
                    series: n.series,
                }])
            }
            (EventCommand::Create(_), _) => Err(DomainError::AlreadyExists("event")),
            (_, None) => Err(DomainError::NotFound("event")),
            (EventCommand::Update { by, details, start, end }, Some(e)) => {
                may_edit(e, by)?;
                check_times(start, end)?;
                let details = details.checked()?;
                if details == e.details && start == e.start && end == e.end {
                    return Ok(vec![]);
                }
                Ok(vec![CalendarEventEvent::EventChanged { id: e.id, updated_by: by.user, details, start, end }])
            }
            (EventCommand::Delete { by }, Some(e)) => {
                may_edit(e, by)?;
                Ok(vec![CalendarEventEvent::EventCancelled { id: e.id, deleted_by: by.user }])
            }
            (EventCommand::Rsvp { user, rsvp }, Some(e)) => Ok(vec![CalendarEventEvent::EventRsvpGiven { id: e.id, user_id: user, rsvp }]),
        }
    }

    fn apply_event(state: Self::State, event: Self::Event) -> Self::State {
        match event {
            CalendarEventEvent::EventScheduled { id, org_id, created_by, details, start, end, series } => {
                Some(CalendarEvent { id, org_id, created_by, details, start, end, series, deleted: false })
            }
            CalendarEventEvent::EventChanged { details, start, end, .. } => state.map(|e| CalendarEvent { details, start, end, ..e }),
            CalendarEventEvent::EventCancelled { .. } => state.map(|e| CalendarEvent { deleted: true, ..e }),
            CalendarEventEvent::EventRsvpGiven { .. } => state,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveTime, Timelike};
    use proptest::prelude::*;

    use super::*;

    fn at(tz: Tz, y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        resolve(tz, NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(h, 0, 0).unwrap())
    }

    fn local_time(tz: Tz, t: DateTime<Utc>) -> NaiveTime {
        t.with_timezone(&tz).time()
    }

    #[test]
    fn a_weekly_series_keeps_its_wall_clock_across_dst() {
        for (zone, (y, m, d)) in
            [("America/New_York", (2026, 3, 2)), ("Europe/Berlin", (2026, 10, 12)), ("Australia/Sydney", (2026, 3, 23))]
        {
            let tz: Tz = zone.parse().unwrap();
            let start = at(tz, y, m, d, 9);
            let ends_on = NaiveDate::from_ymd_opt(y, m, d).unwrap() + Duration::days(34);
            let occ = occurrences(start, start + Duration::hours(1), tz, Repeat { frequency: Frequency::Weekly, ends_on }).unwrap();
            assert_eq!(occ.len(), 5, "{zone}");
            let offsets: std::collections::BTreeSet<_> =
                occ.iter().map(|(s, _)| s.with_timezone(&tz).offset().fix().local_minus_utc()).collect();
            assert_eq!(offsets.len(), 2, "{zone}: the series crosses a DST change");
            for (s, e) in occ {
                assert_eq!(local_time(tz, s).hour(), 9, "{zone}");
                assert_eq!(e - s, Duration::hours(1));
            }
        }
    }

    #[test]
    fn a_monthly_series_on_the_31st_skips_short_months() {
        let tz = Tz::UTC;
        let start = at(tz, 2026, 1, 31, 10);
        let ends_on = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        let days: Vec<u32> = occurrences(start, start, tz, Repeat { frequency: Frequency::Monthly, ends_on })
            .unwrap()
            .iter()
            .map(|(s, _)| s.month())
            .collect();
        assert_eq!(days, vec![1, 3, 5, 7, 8, 10, 12]);
    }

    #[test]
    fn a_series_has_at_most_366_occurrences() {
        let start = at(Tz::UTC, 2026, 1, 1, 8);
        let ok = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        assert_eq!(occurrences(start, start, Tz::UTC, Repeat { frequency: Frequency::Daily, ends_on: ok }).unwrap().len(), 366);
        let err = occurrences(start, start, Tz::UTC, Repeat { frequency: Frequency::Daily, ends_on: ok.succ_opt().unwrap() }).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == ENDS_FIELD));
    }

    #[test]
    fn scopes_and_frequencies_parse_as_documented() {
        assert_eq!(Scope::parse("repeat", None).unwrap(), Scope::One);
        assert_eq!(Scope::parse("repeat", Some("ALL")).unwrap(), Scope::All);
        assert!(Scope::parse("repeat", Some("some")).is_err());
        for f in [Frequency::Daily, Frequency::Weekly, Frequency::BiWeekly, Frequency::Monthly] {
            let raw = f.to_json();
            let s = raw.as_str().map(str::to_string).unwrap_or_else(|| raw.to_string());
            assert_eq!(Frequency::parse("f", &s).unwrap(), f);
        }
        let s = SeriesRef {
            repeat_id: Uuid::from_u128(7),
            index: 2,
            count: 5,
            repeat: Repeat { frequency: Frequency::Daily, ends_on: NaiveDate::MIN },
        };
        assert_eq!(s.reach(Scope::Following).len(), 3);
        assert_eq!(s.reach(Scope::All)[0], Uuid::from_u128(7));
        assert_eq!(s.reach(Scope::One), vec![occurrence_id(Uuid::from_u128(7), 2)]);
    }

    fn zones() -> impl Strategy<Value = Tz> {
        prop::sample::select(vec![Tz::America__New_York, Tz::Europe__Berlin, Tz::Australia__Sydney, Tz::Asia__Kolkata, Tz::UTC])
    }

    proptest! {
        #[test]
        fn occurrences_keep_the_local_time_and_stay_in_the_window(
            tz in zones(),
            day in 0i64..730,
            hour in 0u32..24,
            freq in prop::sample::select(vec![Frequency::Daily, Frequency::Weekly, Frequency::BiWeekly, Frequency::Monthly]),
            span in 0i64..365,
        ) {
            let first = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + Duration::days(day);
            // 02:xx may not exist on a DST day; 03:00 and later always maps back to itself on the days that have it.
            let local = first.and_hms_opt(hour.max(4), 30, 0).unwrap();
            let start = resolve(tz, local);
            let ends_on = first + Duration::days(span);
            match occurrences(start, start + Duration::minutes(45), tz, Repeat { frequency: freq, ends_on }) {
                Ok(occ) => {
                    prop_assert!(!occ.is_empty() && occ.len() <= MAX_OCCURRENCES);
                    prop_assert_eq!(occ[0].0, start);
                    for (s, e) in &occ {
                        let l = s.with_timezone(&tz).naive_local();
                        prop_assert_eq!(l.time(), local.time());
                        prop_assert!(l.date() >= first && l.date() <= ends_on);
                        prop_assert_eq!(*e - *s, Duration::minutes(45));
                        if freq == Frequency::Monthly { prop_assert_eq!(l.day(), first.day()); }
                    }
                    if let Some(days) = freq.days() {
                        prop_assert_eq!(occ.len() as i64, span / days + 1);
                    }
                }
                Err(e) => {
                    let names_the_end = matches!(e, DomainError::Invalid { ref field, .. } if field == ENDS_FIELD);
                    prop_assert!(names_the_end);
                }
            }
        }
    }
}
