//! The reads the API runs. All of them are scoped to an organization: another tenant's ids simply
//! match nothing.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool, Postgres};
use uuid::Uuid;

use crate::odata::Param;
use crate::search;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, PartialEq)]
pub struct OrgRow {
    pub id: Uuid,
    pub name: String,
    pub subdomain: String,
    pub legal_name: String,
    pub parent_org_id: Option<Uuid>,
    pub auth_method: String,
    pub status: String,
    pub websites: Option<serde_json::Value>,
    pub address: Option<serde_json::Value>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub industry: Option<String>,
    pub file_id: Option<Uuid>,
    pub admin_user_id: Uuid,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, PartialEq)]
pub struct UserRow {
    pub id: Uuid,
    pub org_id: Option<Uuid>,
    pub number: i64,
    pub email: String,
    pub login: String,
    pub first_name: String,
    pub last_name: String,
    pub role: String,
    pub status: String,
    pub phone: Option<String>,
    pub designation: Option<String>,
    pub department: Option<Uuid>,
    pub location: Option<Uuid>,
    pub reports_to: Option<Uuid>,
    pub is_department_head: bool,
    pub is_expert: bool,
    pub availability: i32,
    pub bio: Option<String>,
    pub color: Option<String>,
    pub skills: serde_json::Value,
    pub default_visibility: Option<String>,
    pub security_group: Option<Uuid>,
    pub additional_teams: serde_json::Value,
    pub additional_locations: serde_json::Value,
    pub external_user_id: Option<String>,
    pub file_id: Option<Uuid>,
    pub cover_file_id: Option<Uuid>,
    pub deleted: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    pub middle_name: Option<String>,
    pub title_prefix: Option<String>,
    pub nickname: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub postal_code: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, PartialEq)]
pub struct GroupRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub number: i64,
    pub name: String,
    pub description: Option<String>,
    pub outbound_caller_ids: serde_json::Value,
    pub status: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    pub membership_type: String,
    pub parent_kind: Option<String>,
    pub parent_id: Option<Uuid>,
    pub short_name: Option<String>,
    pub tracking: Option<String>,
    pub activities: serde_json::Value,
    /// Set by a SCIM client; no other dialect shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

pub const GROUP_COLUMNS: &str = "g.id, g.org_id, g.number, g.name, g.description, g.outbound_caller_ids, g.status, g.created_by, \
     g.created_at, g.updated_by, g.updated_at, g.membership_type, g.parent_kind, g.parent_id, g.short_name, g.tracking, g.activities, g.external_id";

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, PartialEq)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub number: i64,
    pub login: String,
    pub first_name: String,
    pub last_name: String,
    pub role: String,
}

pub async fn organization(pool: &PgPool, id: Uuid) -> Result<Option<OrgRow>, sqlx::Error> {
    sqlx::query_as!(OrgRow, "SELECT * FROM organizations WHERE id = $1", id).fetch_optional(pool).await
}

/// A live (not deleted) user of `org`.
///
/// The org is compared with `IS NOT DISTINCT FROM` (the same answer as `=`, as `org` is never
/// null) so that only the primary key can serve this read. With `org_id = $2` the partial list
/// indexes `users_live_*` (org_id, …, id) WHERE NOT deleted match every condition too; a plan
/// made while the table was small and unanalyzed ties on cost, and the planner kept picking them
/// for the connection's cached generic plan, which then walked every live user of the org for
/// one row: 0.57 ms per read-your-writes read at 5,000 users (the write bench run with
/// `ROSTER_PG_SETTINGS` loading auto_explain), growing with the org.
pub async fn user(pool: &PgPool, org: Uuid, id: Uuid) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as!(UserRow, "SELECT * FROM users WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2 AND NOT deleted", id, org)
        .fetch_optional(pool)
        .await
}

pub async fn users_by_ids(pool: &PgPool, org: Uuid, ids: &[Uuid]) -> Result<Vec<UserRow>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    // `IS NOT DISTINCT FROM`: only the primary key serves this; see `user`.
    sqlx::query_as!(UserRow, "SELECT * FROM users WHERE id = ANY($1) AND org_id IS NOT DISTINCT FROM $2 AND NOT deleted", ids, org)
        .fetch_all(pool)
        .await
}

/// A live user of `org` by `number` (PortSIP's extension number).
pub async fn user_by_number(pool: &PgPool, org: Uuid, number: i64) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as!(UserRow, "SELECT * FROM users WHERE number = $1 AND org_id = $2 AND NOT deleted", number, org)
        .fetch_optional(pool)
        .await
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub department: Option<Uuid>,
    pub location: Option<Uuid>,
}

/// One page of an organization's live users, oldest first, and the total that match.
///
/// Only the filters given are written into the SQL: the one-statement form `($2 IS NULL OR
/// department = $2)` leaves a generic plan no index to use. The page's ids are found in the index
/// alone before any row is read (`= ANY(ARRAY(...))` keeps the planner from joining the whole
/// table against a limit it does not know), so a deep page walks index entries, not rows; and a
/// page in the back half is counted from the end (the index walked backwards), so the walk is the
/// shorter of the two. The unfiltered total is the count the projector keeps (`org_user_counts`),
/// not a count of rows.
pub async fn users_page(
    pool: &PgPool,
    org: Uuid,
    filter: &UserFilter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<UserRow>, i64), sqlx::Error> {
    let mut where_sql = String::from("org_id = $1 AND NOT deleted");
    let mut values = vec![org];
    for (column, value) in [("department", filter.department), ("location", filter.location)] {
        if let Some(value) = value {
            values.push(value);
            where_sql.push_str(&format!(" AND {column} = ${}", values.len()));
        }
    }
    let total = users_total(pool, filter, &where_sql, &values).await?;
    if walk(total, offset, limit) == Walk::Forward {
        let rows = users_window(pool, &where_sql, &values, "ASC", limit, offset).await?;
        return Ok((rows, total));
    }
    // Counted from the end, the page depends on the total: both are read in one snapshot, so a
    // user created in between cannot shift the page by one.
    let mut tx = snapshot(pool).await?;
    let total = users_total(&mut *tx, filter, &where_sql, &values).await?;
    let rows = match walk(total, offset, limit) {
        Walk::Forward => users_window(&mut *tx, &where_sql, &values, "ASC", limit, offset).await?,
        Walk::Backward { offset, limit } => users_window(&mut *tx, &where_sql, &values, "DESC", limit, offset).await?,
        Walk::Nothing => Vec::new(),
    };
    tx.commit().await?;
    Ok((rows, total))
}

/// Where a page of `limit` entries at `offset`, in a list of `total`, is read from: the nearer
/// end, so a deep page walks at most half the list's index entries (WorkDrive's users list,
/// SCIM's lists). Read from the end, the page depends on `total`, which its reader must then take
/// in the same snapshot as the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    /// From the first entry, as asked.
    Forward,
    /// In reverse order: skip `offset` entries from the last one and take `limit`.
    Backward { offset: i64, limit: i64 },
    /// The page is empty: past the end, or no room.
    Nothing,
}

/// A read-only transaction whose statements all see one snapshot: for a page read from the end
/// ([`Walk::Backward`]) and the total it was counted from.
pub(crate) async fn snapshot(pool: &PgPool) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
    pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await
}

pub(crate) fn walk(total: i64, offset: i64, limit: i64) -> Walk {
    if offset.saturating_mul(2) <= total {
        return Walk::Forward;
    }
    let remaining = total.saturating_sub(offset);
    if remaining <= 0 || limit <= 0 {
        return Walk::Nothing;
    }
    let take = limit.min(remaining);
    Walk::Backward { offset: remaining - take, limit: take }
}

/// How many live users match `where_sql`: the count the projector keeps when the filter is the
/// org alone (`org_user_counts`) or one department or location (`unit_user_counts`).
async fn users_total<'e>(db: impl PgExecutor<'e>, filter: &UserFilter, where_sql: &str, values: &[Uuid]) -> Result<i64, sqlx::Error> {
    let org = values[0];
    match (filter.department, filter.location) {
        (None, None) => return org_user_count(db, org).await,
        (Some(unit), None) | (None, Some(unit)) => {
            let n = sqlx::query_scalar!("SELECT live FROM unit_user_counts WHERE org_id = $1 AND unit_id = $2", org, unit)
                .fetch_optional(db)
                .await?;
            return Ok(n.unwrap_or(0));
        }
        (Some(_), Some(_)) => {}
    }
    let count_sql = format!("SELECT count(*) FROM users WHERE {where_sql}");
    let (n,): (i64,) = values.iter().fold(sqlx::query_as(&count_sql), |q, v| q.bind(v)).fetch_one(db).await?;
    Ok(n)
}

/// The users matching `where_sql` at `offset` in `direction` (`ASC` from the oldest, `DESC` from
/// the newest), at most `limit`, oldest first.
async fn users_window<'e>(
    db: impl PgExecutor<'e>,
    where_sql: &str,
    values: &[Uuid],
    direction: &'static str,
    limit: i64,
    offset: i64,
) -> Result<Vec<UserRow>, sqlx::Error> {
    let n = values.len() + 1;
    let page_sql = format!(
        "SELECT * FROM users WHERE id = ANY(ARRAY(SELECT id FROM users WHERE {where_sql} \
         ORDER BY created_at {direction}, id {direction} LIMIT ${n} OFFSET ${})) ORDER BY created_at, id",
        n + 1
    );
    values.iter().fold(sqlx::query_as(&page_sql), |q, v| q.bind(v)).bind(limit).bind(offset).fetch_all(db).await
}

pub async fn group(pool: &PgPool, org: Uuid, id: Uuid) -> Result<Option<GroupRow>, sqlx::Error> {
    // `IS NOT DISTINCT FROM`: only the primary key serves this, never `groups_org_created_idx`;
    // see `user`.
    sqlx::query_as!(GroupRow, "SELECT * FROM groups WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2", id, org).fetch_optional(pool).await
}

pub async fn group_by_number(pool: &PgPool, org: Uuid, number: i64) -> Result<Option<GroupRow>, sqlx::Error> {
    sqlx::query_as!(GroupRow, "SELECT * FROM groups WHERE number = $1 AND org_id = $2", number, org).fetch_optional(pool).await
}

/// How many live users `org` has: the count the projector keeps (`org_user_counts`), which
/// unfiltered lists show instead of counting a million rows per page.
pub async fn org_user_count<'e>(db: impl PgExecutor<'e>, org: Uuid) -> Result<i64, sqlx::Error> {
    Ok(sqlx::query_scalar!("SELECT live FROM org_user_counts WHERE org_id = $1", org).fetch_optional(db).await?.unwrap_or(0))
}

/// How many groups `org` has: the count the projector keeps (`org_group_counts`), which unfiltered
/// lists show instead of counting 100,000 rows per page.
pub async fn org_group_count<'e>(db: impl PgExecutor<'e>, org: Uuid) -> Result<i64, sqlx::Error> {
    Ok(sqlx::query_scalar!("SELECT live FROM org_group_counts WHERE org_id = $1", org).fetch_optional(db).await?.unwrap_or(0))
}

/// A compiled list query: a WHERE fragment with `$n` placeholders (numbered from
/// `GROUP_FILTER_FIRST_PLACEHOLDER`: `$1` is the org) and its parameters, plus an ORDER BY list
/// and a free-text search.
#[derive(Debug, Clone, Default)]
pub struct GroupListQuery {
    pub filter: Option<(String, Vec<Param>)>,
    pub order_by: String,
    pub search: Option<String>,
    pub skip: i64,
    pub top: i64,
}

/// The first placeholder a compiled group filter may use.
pub const GROUP_FILTER_FIRST_PLACEHOLDER: usize = 2;

fn bind_params<'q, O>(
    mut q: sqlx::query::QueryAs<'q, Postgres, O, sqlx::postgres::PgArguments>,
    params: &'q [Param],
) -> sqlx::query::QueryAs<'q, Postgres, O, sqlx::postgres::PgArguments> {
    for p in params {
        q = match p {
            Param::Text(s) => q.bind(s.as_str()),
            Param::Integer(i) => q.bind(*i),
            Param::Bool(b) => q.bind(*b),
        };
    }
    q
}

/// Up to this many matching rows, a filtered or searched list page is sorted from its matches
/// (`list_groups_sql`). Reading that many rows through the trigram indexes and sorting them takes
/// a few milliseconds at most.
pub const SORT_MATCHES_UP_TO: i64 = 2_000;

/// The page's statement over `groups g`: `WHERE {where_sql} ORDER BY {order} LIMIT ${limit} OFFSET
/// ${limit + 1}`, written for what the count already told.
///
/// With `total` matches at most [`SORT_MATCHES_UP_TO`], the matches are found first and sorted
/// after, behind an `OFFSET 0` fence the planner cannot see through. Without the fence it may walk
/// the org's name (or number) index in the page's order, testing each group until the page is
/// full. That is the best plan for a term most groups match, and the worst for one few match: a
/// term that happens to match a sample value of the column's statistics is estimated to match 1%
/// of the groups, and the walk for 20 of them then read 60,000 (37-47 ms at 100,000 groups in
/// `scripts/bench --scale`, against 1 ms for the terms next to it). The count is exact, so the
/// choice does not depend on that estimate.
fn list_groups_sql(where_sql: &str, order: &str, limit_placeholder: usize, total: Option<i64>) -> String {
    let page = format!("ORDER BY {order} LIMIT ${limit_placeholder} OFFSET ${}", limit_placeholder + 1);
    match total {
        Some(n) if n <= SORT_MATCHES_UP_TO => {
            format!("SELECT * FROM (SELECT {GROUP_COLUMNS} FROM groups g WHERE {where_sql} OFFSET 0) g {page}")
        }
        _ => format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE {where_sql} {page}"),
    }
}

/// Groups of `org` matching a compiled filter and search, one page, and the total that match.
///
/// The search is written into the SQL only when there is one, in the form `search::any_contains`
/// chooses for its length: so that a generic plan of either statement still fits its search.
pub async fn groups_page(pool: &PgPool, org: Uuid, q: &GroupListQuery) -> Result<(Vec<GroupRow>, i64), sqlx::Error> {
    let mut where_sql = String::from("g.org_id = $1");
    let mut params = Vec::new();
    if let Some((sql, filter_params)) = &q.filter {
        where_sql.push_str(&format!(" AND ({sql})"));
        params.extend(filter_params.iter().cloned());
    }
    if let Some(term) = &q.search {
        let placeholder = GROUP_FILTER_FIRST_PLACEHOLDER + params.len();
        where_sql.push_str(&format!(" AND {}", search::any_contains(&["g.name", "g.description"], placeholder, term)));
        params.push(Param::Text(search::contains_pattern(term)));
    }
    // Only an unfiltered list may show the kept count: a filter can have no parameter at all
    // (`description eq null` compiles to `IS NULL`).
    let matched = if q.filter.is_none() && q.search.is_none() {
        None
    } else {
        let count_sql = format!("SELECT count(*) FROM groups g WHERE {where_sql}");
        let (total,): (i64,) = bind_params(sqlx::query_as(&count_sql).bind(org), &params).fetch_one(pool).await?;
        Some(total)
    };
    let total = match matched {
        Some(n) => n,
        None => org_group_count(pool, org).await?,
    };
    let n = GROUP_FILTER_FIRST_PLACEHOLDER + params.len();
    let order = if q.order_by.is_empty() { "g.name ASC".to_string() } else { q.order_by.clone() };
    let list_sql = list_groups_sql(&where_sql, &format!("{order}, g.id ASC"), n, matched);
    let rows = bind_params(sqlx::query_as(&list_sql).bind(org), &params).bind(q.top).bind(q.skip).fetch_all(pool).await?;
    Ok((rows, total))
}

/// Live members of a group, by number.
pub async fn members(pool: &PgPool, group: Uuid) -> Result<Vec<MemberRow>, sqlx::Error> {
    sqlx::query_as!(
        MemberRow,
        "SELECT m.user_id, u.number, u.login, u.first_name, u.last_name, m.role FROM group_members m \
         JOIN users u ON u.id = m.user_id AND NOT u.deleted WHERE m.group_id = $1 AND m.status = 'active' ORDER BY u.number",
        group,
    )
    .fetch_all(pool)
    .await
}

pub async fn member(pool: &PgPool, group: Uuid, user: Uuid) -> Result<Option<MemberRow>, sqlx::Error> {
    sqlx::query_as!(
        MemberRow,
        "SELECT m.user_id, u.number, u.login, u.first_name, u.last_name, m.role FROM group_members m \
         JOIN users u ON u.id = m.user_id AND NOT u.deleted WHERE m.group_id = $1 AND m.user_id = $2 AND m.status = 'active'",
        group,
        user,
    )
    .fetch_optional(pool)
    .await
}

/// A member record as Sunbird shows it, removed members included.
#[derive(Debug, Clone, sqlx::FromRow, PartialEq)]
pub struct MemberRecord {
    pub user_id: Uuid,
    pub number: i64,
    pub first_name: String,
    pub last_name: String,
    pub role: String,
    pub status: String,
    pub visited: bool,
    pub added_at: DateTime<Utc>,
    pub added_by: Option<Uuid>,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<Uuid>,
    pub removed_at: Option<DateTime<Utc>>,
    pub removed_by: Option<Uuid>,
}

/// Every member record of a group (active first, admins first).
pub async fn member_records(pool: &PgPool, group: Uuid) -> Result<Vec<MemberRecord>, sqlx::Error> {
    sqlx::query_as!(
        MemberRecord,
        "SELECT m.user_id, u.number, u.first_name, u.last_name, m.role, m.status, m.visited, m.added_at, m.added_by, \
         m.updated_at, m.updated_by, m.removed_at, m.removed_by FROM group_members m \
         JOIN users u ON u.id = m.user_id AND NOT u.deleted WHERE m.group_id = $1 ORDER BY m.status, m.role, u.number",
        group,
    )
    .fetch_all(pool)
    .await
}

/// A group of the user's, with the user's role and visited flag (Sunbird list).
#[derive(Debug, Clone, sqlx::FromRow, PartialEq)]
pub struct UserGroupRow {
    #[sqlx(flatten)]
    pub group: GroupRow,
    pub member_role: String,
    pub visited: bool,
}

/// The groups a user is an active member of, admin roles first.
pub async fn groups_of_user(pool: &PgPool, org: Uuid, user: Uuid) -> Result<Vec<UserGroupRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {GROUP_COLUMNS}, m.role AS member_role, m.visited FROM groups g \
         JOIN group_members m ON m.group_id = g.id AND m.user_id = $2 AND m.status = 'active' \
         WHERE g.org_id = $1 ORDER BY m.role, g.created_at, g.id"
    );
    sqlx::query_as(&sql).bind(org).bind(user).fetch_all(pool).await
}

/// How many groups a user is an active member of (Sunbird's groups-per-user limit).
pub async fn group_count_of_user(pool: &PgPool, user: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM group_members WHERE user_id = $1 AND status = 'active'"#, user)
        .fetch_one(pool)
        .await
}

/// Live users of `org` by number (Publisher ids).
pub async fn users_by_numbers(pool: &PgPool, org: Uuid, numbers: &[i64]) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as!(UserRow, "SELECT * FROM users WHERE number = ANY($1) AND org_id = $2 AND NOT deleted", numbers, org)
        .fetch_all(pool)
        .await
}

/// Live users of `org` by email, compared case-insensitively.
pub async fn users_by_emails(pool: &PgPool, org: Uuid, emails: &[String]) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as!(UserRow, "SELECT * FROM users WHERE lower(email) = ANY($1) AND org_id = $2 AND NOT deleted", emails, org)
        .fetch_all(pool)
        .await
}

/// Active members' user numbers per group (Publisher `users`), in number order.
pub async fn member_numbers(pool: &PgPool, groups: &[Uuid]) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT m.group_id, u.number FROM group_members m JOIN users u ON u.id = m.user_id AND NOT u.deleted \
         WHERE m.group_id = ANY($1) AND m.status = 'active' ORDER BY u.number",
        groups,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.group_id, r.number)).collect())
}

/// Distinct organizations of each group's active members (Publisher `organisationcount`);
/// groups without members are absent.
pub async fn member_org_counts(pool: &PgPool, groups: &[Uuid]) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT m.group_id, count(DISTINCT u.org_id) AS "n!" FROM group_members m JOIN users u ON u.id = m.user_id AND NOT u.deleted
           WHERE m.group_id = ANY($1) AND m.status = 'active' GROUP BY m.group_id"#,
        groups,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.group_id, r.n)).collect())
}

/// A Publisher list: a WHERE fragment over `g` with its text/timestamp parameters, an ORDER BY
/// built only from allow-listed columns, and the page.
#[derive(Debug, Clone, Default)]
pub struct PublisherListQuery {
    pub search: Option<String>,
    pub created: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub modified: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub order_by: String,
    pub offset: i64,
    pub limit: i64,
}

/// Publisher groups of `org`, one page, and the total that match.
///
/// Only the conditions given are written into the SQL (see `users_page` for why). A search
/// matches the name, or the number when the term is all digits: no other term can be inside a
/// number, and leaving that arm out spares a scan of its index.
pub async fn publisher_groups_page(pool: &PgPool, org: Uuid, q: &PublisherListQuery) -> Result<(Vec<GroupRow>, i64), sqlx::Error> {
    let mut where_sql = String::from("g.org_id = $1");
    // Bound after the org, in this order: the search pattern, then the time bounds.
    let mut params = Vec::new();
    if let Some(term) = &q.search {
        let mut columns = vec!["g.name"];
        if !term.is_empty() && term.bytes().all(|b| b.is_ascii_digit()) {
            columns.push("g.number::text");
        }
        where_sql.push_str(&format!(" AND {}", search::any_contains(&columns, 2, term)));
        params.push(Param::Text(search::contains_pattern(term)));
    }
    let mut times = Vec::new();
    let bounds = [
        ("g.created_at >=", q.created.map(|r| r.0)),
        ("g.created_at <", q.created.map(|r| r.1)),
        ("g.updated_at >=", q.modified.map(|r| r.0)),
        ("g.updated_at <", q.modified.map(|r| r.1)),
    ];
    for (condition, value) in bounds {
        if let Some(value) = value {
            times.push(value);
            where_sql.push_str(&format!(" AND {condition} ${}", 1 + params.len() + times.len()));
        }
    }
    let matched = if params.is_empty() && times.is_empty() {
        None
    } else {
        let count_sql = format!("SELECT count(*) FROM groups g WHERE {where_sql}");
        let (total,): (i64,) =
            times.iter().fold(bind_params(sqlx::query_as(&count_sql).bind(org), &params), |q, t| q.bind(*t)).fetch_one(pool).await?;
        Some(total)
    };
    let total = match matched {
        Some(n) => n,
        None => org_group_count(pool, org).await?,
    };
    let n = 2 + params.len() + times.len();
    let order = if q.order_by.is_empty() { "g.number ASC".to_string() } else { format!("{}, g.number ASC", q.order_by) };
    let list_sql = list_groups_sql(&where_sql, &order, n, matched);
    let rows = times
        .iter()
        .fold(bind_params(sqlx::query_as(&list_sql).bind(org), &params), |q, t| q.bind(*t))
        .bind(q.limit)
        .bind(q.offset)
        .fetch_all(pool)
        .await?;
    Ok((rows, total))
}

#[derive(Debug, Clone, sqlx::FromRow, PartialEq)]
pub struct ProgressRow {
    pub user_id: Uuid,
    pub completed_count: i64,
    pub updated_at: DateTime<Utc>,
}

/// Recorded progress of `users` in one activity.
pub async fn activity_progress(pool: &PgPool, org: Uuid, activity: &str, users: &[Uuid]) -> Result<Vec<ProgressRow>, sqlx::Error> {
    sqlx::query_as!(
        ProgressRow,
        "SELECT user_id, completed_count, updated_at FROM activity_progress WHERE org_id = $1 AND activity_id = $2 AND user_id = ANY($3) ORDER BY user_id",
        org,
        activity,
        users,
    )
    .fetch_all(pool)
    .await
}

/// Who a token belongs to, if it is live: not revoked, not expired, and its user may sign in.
/// `role` is `super_admin`, `org_admin` (the user is in the org's Administrators security group)
/// or `member`: a user's security group decides their rights, at their next request.
#[derive(Debug, Clone, sqlx::FromRow, PartialEq)]
pub struct Principal {
    pub token_id: Uuid,
    pub user_id: Uuid,
    pub org_id: Option<Uuid>,
    pub role: String,
    pub status: String,
    /// When the token stops working (never when `None`): a cached principal stops with it.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Whether an event may change what `principal_by_token_hash` answers for a token already in use.
/// That query reads `access_tokens` (a revocation, written with the event's append), `users` (a
/// deletion; a status, role or security group change) and `security_groups`. The API caches
/// principals until the projections apply such an event (`api::kernel::auth`), so the answer errs
/// towards yes: every user event but those known to leave principals alone, and every event of a
/// security group or an organization.
pub fn may_change_principals(stream_type: &str, event_type: &str) -> bool {
    use domain::{organization::OrganizationEvent, security_group::SecurityGroupEvent, user::UserEvent, DomainEvent};
    if stream_type == UserEvent::STREAM_TYPE {
        return !PRINCIPAL_NEUTRAL_USER_EVENTS.contains(&event_type);
    }
    // Only user events write `users` (`directory::user`); of the other streams only these two
    // reach the tables above or the users in them.
    stream_type == SecurityGroupEvent::STREAM_TYPE || stream_type == OrganizationEvent::STREAM_TYPE
}

/// User events that change no live token's principal: a new user has no token yet, a new token is
/// not cached yet, a password is not a token.
const PRINCIPAL_NEUTRAL_USER_EVENTS: &[&str] =
    &["UserCreated", "UserPasswordSet", "AccessTokenIssued", "UserOnboardingNoticeRecorded", "UserActivityProgressRecorded"];

pub async fn principal_by_token_hash(pool: &PgPool, hash: &[u8], now: DateTime<Utc>) -> Result<Option<Principal>, sqlx::Error> {
    sqlx::query_as!(
        Principal,
        r#"SELECT t.token_id, t.user_id, u.org_id,
                  CASE WHEN u.role = 'super_admin' THEN 'super_admin'
                       WHEN sg.kind = 'administrators' THEN 'org_admin'
                       ELSE 'member' END AS "role!",
                  u.status, t.expires_at
           FROM access_tokens t JOIN users u ON u.id = t.user_id
           LEFT JOIN security_groups sg ON sg.id = u.security_group AND sg.org_id = u.org_id
           WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)
             AND NOT u.deleted AND u.status NOT IN ('ARCHIVE', 'BLOCKED')"#,
        hash,
        now,
    )
    .fetch_optional(pool)
    .await
}

/// Users whose login matches (in `org` when given) and who have a password, for sign-in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoginCandidate {
    pub user_id: Uuid,
    pub org_id: Option<Uuid>,
    pub password_hash: String,
}

pub async fn login_candidates(pool: &PgPool, login: &str, org_subdomain: Option<&str>) -> Result<Vec<LoginCandidate>, sqlx::Error> {
    sqlx::query_as!(
        LoginCandidate,
        "SELECT DISTINCT u.id AS user_id, u.org_id, c.password_hash FROM unique_claims uc \
         JOIN users u ON u.id = uc.owner_id AND NOT u.deleted AND u.status NOT IN ('ARCHIVE', 'BLOCKED') \
         JOIN credentials c ON c.user_id = u.id \
         LEFT JOIN organizations o ON o.id = u.org_id \
         WHERE uc.kind IN ('login', 'email') AND uc.value = lower($1) AND ($2::text IS NULL OR o.subdomain = $2)",
        login,
        org_subdomain,
    )
    .fetch_all(pool)
    .await
}

/// Live users of `org` who report to `boss`.
pub async fn reportees(pool: &PgPool, org: Uuid, boss: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!("SELECT id FROM users WHERE org_id = $1 AND reports_to = $2 AND NOT deleted ORDER BY created_at, id", org, boss)
        .fetch_all(pool)
        .await
}

/// The compact user of WorkDrive's supervisor listing.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, PartialEq)]
pub struct UserRefRow {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

/// Supervisors, one page, oldest first, and the total. A supervisor is a live user of `org` whom
/// a live user reports to, through `reportsTo` or an additional team. With `of`, only that user's
/// supervisors; without it, every user with at least one reportee.
pub async fn supervisors_page(
    pool: &PgPool,
    org: Uuid,
    of: Option<Uuid>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<UserRefRow>, i64), sqlx::Error> {
    let total = sqlx::query_scalar!(
        r#"WITH bosses AS (
               SELECT r.reports_to AS id FROM users r
               WHERE r.org_id = $1 AND NOT r.deleted AND r.reports_to IS NOT NULL AND ($2::uuid IS NULL OR r.id = $2)
               UNION
               SELECT t.id::uuid FROM users r CROSS JOIN LATERAL jsonb_array_elements_text(r.additional_teams) AS t(id)
               WHERE r.org_id = $1 AND NOT r.deleted AND ($2::uuid IS NULL OR r.id = $2))
           SELECT count(*) AS "n!" FROM users u JOIN bosses b ON b.id = u.id WHERE u.org_id = $1 AND NOT u.deleted"#,
        org,
        of,
    )
    .fetch_one(pool)
    .await?;
    let rows = sqlx::query_as!(
        UserRefRow,
        r#"WITH bosses AS (
               SELECT r.reports_to AS id FROM users r
               WHERE r.org_id = $1 AND NOT r.deleted AND r.reports_to IS NOT NULL AND ($2::uuid IS NULL OR r.id = $2)
               UNION
               SELECT t.id::uuid FROM users r CROSS JOIN LATERAL jsonb_array_elements_text(r.additional_teams) AS t(id)
               WHERE r.org_id = $1 AND NOT r.deleted AND ($2::uuid IS NULL OR r.id = $2))
           SELECT u.id AS "id!", u.email AS "email!", u.first_name AS "first_name!", u.last_name AS "last_name!"
           FROM users u JOIN bosses b ON b.id = u.id WHERE u.org_id = $1 AND NOT u.deleted
           ORDER BY u.created_at, u.id LIMIT $3 OFFSET $4"#,
        org,
        of,
        limit,
        offset,
    )
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_walked_from_the_nearer_end() {
        // 10 entries: pages starting at 0..=5 are the front half.
        assert_eq!(walk(10, 0, 3), Walk::Forward);
        assert_eq!(walk(10, 5, 3), Walk::Forward);
        // Entries 6..9 are the last four: skip none from the end, take them all.
        assert_eq!(walk(10, 6, 20), Walk::Backward { offset: 0, limit: 4 });
        // Entries 6..7: skip the last two from the end.
        assert_eq!(walk(10, 6, 2), Walk::Backward { offset: 2, limit: 2 });
        assert_eq!(walk(10, 10, 2), Walk::Nothing);
        assert_eq!(walk(10, 8, 0), Walk::Nothing);
        assert_eq!(walk(0, 0, 5), Walk::Forward);
    }

    #[test]
    fn user_events_change_principals_unless_known_not_to() {
        let user_events = domain::event::event_types::<domain::user::UserEvent>();
        for neutral in PRINCIPAL_NEUTRAL_USER_EVENTS {
            assert!(user_events.iter().any(|e| e == neutral), "{neutral} is no user event: {user_events:?}");
            assert!(!may_change_principals("user", neutral));
        }
        for changes in ["UserUpdated", "UserDeleted", "AccessTokenRevoked"] {
            assert!(user_events.iter().any(|e| e == changes), "{changes}");
            assert!(may_change_principals("user", changes), "{changes}");
        }
        assert!(may_change_principals("security_group", "SecurityGroupMemberAdded"));
        assert!(may_change_principals("organization", "OrganizationUpdated"));
        assert!(!may_change_principals("group", "GroupCreated"));
    }
}
