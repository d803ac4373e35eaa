//! The NexPort part of the `directory` projection: the org/group tree's closure, role grants,
//! subscriptions, custom profile fields and their values.

use chrono::{DateTime, Utc};
use domain::permission::RoleGrantEvent;
use domain::profile_field::ProfileFieldEvent;
use domain::subscription::SubscriptionEvent;
use eventlog::Envelope;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{search, ApplyError};

/// What a node of the org/group tree is. The closure marks the rows whose descendant is an
/// organization, so a subtree's organizations are found without walking its groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Organization,
    Group,
}

/// Adds `node` under `parent` (or as a root): itself at depth 0, then every ancestor of the parent
/// one level further away.
pub async fn add_node(conn: &mut PgConnection, node: uuid::Uuid, parent: Option<uuid::Uuid>, kind: NodeKind) -> Result<(), ApplyError> {
    add_nodes(conn, &[node], &[parent], kind).await
}

/// [`add_node`] for many nodes of one kind at once, `nodes[i]` under `parents[i]`; no parent may
/// be among the nodes (its closure rows would not be there to read yet).
pub async fn add_nodes(
    conn: &mut PgConnection,
    nodes: &[uuid::Uuid],
    parents: &[Option<uuid::Uuid>],
    kind: NodeKind,
) -> Result<(), ApplyError> {
    sqlx::query!(
        "INSERT INTO node_closure (ancestor_id, descendant_id, depth, descendant_is_org) \
         SELECT node, node, 0, $3::boolean FROM UNNEST($1::uuid[]) AS n(node) \
         UNION ALL SELECT c.ancestor_id, r.node, c.depth + 1, $3::boolean \
         FROM UNNEST($1::uuid[], $2::uuid[]) AS r(node, parent) JOIN node_closure c ON c.descendant_id = r.parent \
         ON CONFLICT DO NOTHING",
        nodes,
        parents as &[Option<uuid::Uuid>],
        kind == NodeKind::Organization,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A deleted node stops being a descendant of anything; grants on it go with it.
pub async fn remove_node(conn: &mut PgConnection, node: uuid::Uuid) -> Result<(), ApplyError> {
    sqlx::query!("DELETE FROM node_closure WHERE descendant_id = $1", node).execute(&mut *conn).await?;
    sqlx::query!("DELETE FROM role_grants WHERE node_id = $1", node).execute(conn).await?;
    Ok(())
}

pub async fn role_grant(conn: &mut PgConnection, ev: &Envelope, event: RoleGrantEvent) -> Result<(), ApplyError> {
    match event {
        RoleGrantEvent::RoleGranted { user_id, node_id, node_kind, role, granted_by } => {
            let kind = match node_kind {
                domain::permission::NodeKind::Organization => "organization",
                domain::permission::NodeKind::Group => "group",
            };
            sqlx::query!(
                "INSERT INTO role_grants (id, org_id, user_id, node_id, node_kind, role, granted_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                ev.stream_id,
                ev.org_id,
                user_id.0,
                node_id,
                kind,
                role.as_str(),
                granted_by.map(|u| u.0),
                ev.recorded_at,
            )
            .execute(conn)
            .await?;
        }
        RoleGrantEvent::RoleRevoked { .. } => {
            sqlx::query!("DELETE FROM role_grants WHERE id = $1", ev.stream_id).execute(conn).await?;
        }
    }
    Ok(())
}

pub async fn subscription(conn: &mut PgConnection, ev: &Envelope, event: SubscriptionEvent) -> Result<(), ApplyError> {
    let id = ev.stream_id;
    match event {
        SubscriptionEvent::SubscriptionCreated { org_id, user_id, status, expires_at, created_by } => {
            sqlx::query!(
                "INSERT INTO subscriptions (id, org_id, user_id, status, expires_at, created_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                id,
                org_id.0,
                user_id.0,
                status.as_str(),
                expires_at,
                created_by.map(|u| u.0),
                ev.recorded_at,
            )
            .execute(conn)
            .await?;
        }
        SubscriptionEvent::SubscriptionDisabled { .. } | SubscriptionEvent::SubscriptionEnabled { .. } => {
            let disabled = matches!(event, SubscriptionEvent::SubscriptionDisabled { .. });
            sqlx::query!("UPDATE subscriptions SET disabled = $2, updated_at = $3 WHERE id = $1", id, disabled, ev.recorded_at)
                .execute(conn)
                .await?;
        }
        SubscriptionEvent::SubscriptionStatusChanged { current, set_at, .. } => {
            sqlx::query!(
                "UPDATE subscriptions SET status = $2, status_set_at = $3, updated_at = $4 WHERE id = $1",
                id,
                current.as_str(),
                set_at,
                ev.recorded_at,
            )
            .execute(conn)
            .await?;
        }
        SubscriptionEvent::SubscriptionExpired { .. } => {
            sqlx::query!("UPDATE subscriptions SET expired = true, updated_at = $2 WHERE id = $1", id, ev.recorded_at)
                .execute(conn)
                .await?;
        }
        SubscriptionEvent::SubscriptionFieldValuesSet { values, .. } => {
            for (key, value) in values {
                match value {
                    Some(v) => {
                        let v = serde_json::to_value(&v).map_err(|e| ApplyError::Decode {
                            event_type: ev.event_type.clone(),
                            source: domain::EventCodecError(e.to_string()),
                        })?;
                        sqlx::query!(
                            "INSERT INTO subscription_field_values (subscription_id, key, value, updated_at) VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (subscription_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at",
                            id,
                            key,
                            v,
                            ev.recorded_at,
                        )
                        .execute(&mut *conn)
                        .await?;
                    }
                    None => {
                        sqlx::query!("DELETE FROM subscription_field_values WHERE subscription_id = $1 AND key = $2", id, key)
                            .execute(&mut *conn)
                            .await?;
                    }
                }
            }
        }
    }
    Ok(())
}

pub async fn profile_field(conn: &mut PgConnection, ev: &Envelope, event: ProfileFieldEvent) -> Result<(), ApplyError> {
    match event {
        ProfileFieldEvent::ProfileFieldDefined { org_id, key, name, field_type, .. } => {
            sqlx::query!(
                "INSERT INTO profile_fields (id, org_id, key, name, field_type, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                ev.stream_id,
                org_id.0,
                key,
                name,
                field_type.as_str(),
                ev.recorded_at,
            )
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

// ----- queries ----------------------------------------------------------------------------------

/// What the caller may do at one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// The node exists in the caller's tenant tree (else it is "not found" to them).
    pub visible: bool,
    /// An org admin's own subtree, or a grant of one of the asked roles on the node or an ancestor.
    pub allowed: bool,
}

/// Who asks: `admin_of` is the org whose `Administrators` the caller belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Asker {
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub admin_of: Option<Uuid>,
}

/// One indexed lookup per question, however deep the tree: the closure holds every ancestor.
pub async fn access(pool: &PgPool, who: Asker, node: Uuid, roles: &[String]) -> Result<Access, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT
             EXISTS(SELECT 1 FROM node_closure t WHERE t.descendant_id = $2 AND t.ancestor_id =
                    (SELECT ancestor_id FROM node_closure WHERE descendant_id = $1 ORDER BY depth DESC LIMIT 1)) AS "visible!",
             EXISTS(SELECT 1 FROM node_closure WHERE descendant_id = $2 AND ancestor_id = $3) AS "admin!",
             EXISTS(SELECT 1 FROM role_grants g JOIN node_closure c ON c.ancestor_id = g.node_id
                    WHERE g.user_id = $4 AND c.descendant_id = $2 AND g.role = ANY($5)) AS "granted!""#,
        who.org_id,
        node,
        who.admin_of,
        who.user_id,
        roles,
    )
    .fetch_one(pool)
    .await?;
    Ok(Access { visible: row.visible, allowed: row.visible && (row.admin || row.granted) })
}

/// Why a permission holds at a node: the grant (or admin membership), its node and the path of
/// nodes from there down to the asked node.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reason {
    pub grant_id: Option<Uuid>,
    pub role: String,
    pub granted_on: Uuid,
    pub path: Vec<Uuid>,
}

pub async fn reason(pool: &PgPool, who: Asker, node: Uuid, roles: &[String]) -> Result<Option<Reason>, sqlx::Error> {
    // The nearest grant explains best; an org admin's membership counts as a grant on the org.
    let found = sqlx::query!(
        r#"SELECT g.id AS "grant_id?", g.role AS "role!", g.node_id AS "node_id!", c.depth AS "depth!"
           FROM role_grants g JOIN node_closure c ON c.ancestor_id = g.node_id
           WHERE g.user_id = $1 AND c.descendant_id = $2 AND g.role = ANY($3)
           UNION ALL
           SELECT NULL, 'Administrator', c.ancestor_id, c.depth FROM node_closure c
           WHERE c.descendant_id = $2 AND c.ancestor_id = $4
           ORDER BY 4, 1 NULLS LAST LIMIT 1"#,
        who.user_id,
        node,
        roles,
        who.admin_of,
    )
    .fetch_optional(pool)
    .await?;
    let Some(found) = found else { return Ok(None) };
    let path = sqlx::query_scalar!(
        r#"SELECT c.descendant_id AS "id!" FROM node_closure c JOIN node_closure d ON d.ancestor_id = c.descendant_id
           WHERE c.ancestor_id = $1 AND d.descendant_id = $2 ORDER BY c.depth"#,
        found.node_id,
        node,
    )
    .fetch_all(pool)
    .await?;
    Ok(Some(Reason { grant_id: found.grant_id, role: found.role, granted_on: found.node_id, path }))
}

/// Every organization where the caller holds one of `roles` (an org admin: every organization
/// of their subtree). Only organizations: users and subscriptions belong to them, and the
/// subtree's groups would make the list (and every search bound to it) as long as the groups
/// (10,001 ids for an org of 10,000 groups, 24 ms of a user search at 20,000 users). The
/// closure's organization rows are read by their own index (`descendant_is_org`, migration
/// 0034): finding them among the groups' rows cost 17-33 ms a call at 100,000 groups.
pub async fn permitted_orgs(pool: &PgPool, who: Asker, roles: &[String]) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT c.descendant_id AS "id!" FROM role_grants g JOIN node_closure c ON c.ancestor_id = g.node_id AND c.descendant_is_org
             JOIN organizations o ON o.id = c.descendant_id
           WHERE g.user_id = $1 AND g.role = ANY($2)
           UNION SELECT c.descendant_id FROM node_closure c JOIN organizations o ON o.id = c.descendant_id
           WHERE c.ancestor_id = $3 AND c.descendant_is_org"#,
        who.user_id,
        roles,
        who.admin_of,
    )
    .fetch_all(pool)
    .await
}

/// A user as NexPort shows one.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NxUser {
    pub id: Uuid,
    pub org_id: Option<Uuid>,
    pub login: String,
    pub email: String,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub title_prefix: Option<String>,
    pub nickname: Option<String>,
    pub phone: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub postal_code: Option<String>,
}

pub async fn user_by_id(pool: &PgPool, id: Uuid) -> Result<Option<NxUser>, sqlx::Error> {
    sqlx::query_as!(
        NxUser,
        "SELECT id, org_id, login, email, first_name, middle_name, last_name, title_prefix, nickname, phone, \
         address_line1, address_line2, city, state, country, postal_code FROM users WHERE id = $1 AND NOT deleted",
        id,
    )
    .fetch_optional(pool)
    .await
}

/// A login is unique per organization; within a tenant tree the nearest org to the root wins.
pub async fn user_by_login(pool: &PgPool, tenant_org: Uuid, login: &str) -> Result<Option<NxUser>, sqlx::Error> {
    sqlx::query_as!(
        NxUser,
        "SELECT u.id, u.org_id, u.login, u.email, u.first_name, u.middle_name, u.last_name, u.title_prefix, u.nickname, u.phone, \
         u.address_line1, u.address_line2, u.city, u.state, u.country, u.postal_code \
         FROM users u JOIN node_closure c ON c.descendant_id = u.org_id \
         WHERE c.ancestor_id = (SELECT ancestor_id FROM node_closure WHERE descendant_id = $1 ORDER BY depth DESC LIMIT 1) \
           AND lower(u.login) = lower($2) AND NOT u.deleted \
         ORDER BY c.depth, u.created_at LIMIT 1",
        tenant_org,
        login,
    )
    .fetch_optional(pool)
    .await
}

/// Users of the given orgs, or subscribed to one of them, matching `term` in login, names or
/// email; sorted last name, first name, login.
///
/// A term `search::uses_trigrams` accepts is matched against the four fields joined by
/// `search::USER_SEARCH_SEPARATOR` in `user_search` (migration 0043), one narrow row per live
/// user with its own trigram index and the sort keys: a substring without the separator lies
/// inside one field, so that is the same match as field by field, and the matches are counted and
/// sorted without visiting a wide `users` row; only the page's rows are read from `users`. A shorter term, or one
/// holding the separator, matches each `users` column in turn, a scan of the org's users (see
/// `search::uses_trigrams` why no index serves such a term).
/// The page carries the total (`count(*) OVER ()`), so the matches are found once, not once to
/// count and again to page; only a page past the end, which has no row to carry it, counts apart.
/// Each statement is written out twice because sqlx checks only literal SQL.
pub async fn search_users(pool: &PgPool, orgs: &[Uuid], term: &str, limit: i64, offset: i64) -> Result<(Vec<NxUser>, i64), sqlx::Error> {
    let pattern = search::contains_pattern(term);
    let joined = search::uses_trigrams(term) && !term.contains(search::USER_SEARCH_SEPARATOR);
    let hits = if joined {
        sqlx::query_as!(
            NxUserHit,
            r#"WITH hits AS MATERIALIZED (
                 SELECT s.id, s.last_key, s.first_key, s.login_key, count(*) OVER () AS total
                 FROM user_search s WHERE s.search_text ILIKE $2
                   AND (s.org_id = ANY($1) OR EXISTS(SELECT 1 FROM subscriptions x WHERE x.user_id = s.id AND x.org_id = ANY($1)))
                 ORDER BY s.last_key, s.first_key, s.login_key, s.id LIMIT $3 OFFSET $4)
               SELECT u.id, u.org_id, u.login, u.email, u.first_name, u.middle_name, u.last_name, u.title_prefix, u.nickname, u.phone,
                 u.address_line1, u.address_line2, u.city, u.state, u.country, u.postal_code, h.total AS "total!"
               FROM hits h JOIN users u ON u.id = h.id
               ORDER BY h.last_key, h.first_key, h.login_key, h.id"#,
            orgs,
            pattern,
            limit,
            offset,
        )
        .fetch_all(pool)
        .await?
    } else {
        sqlx::query_as!(
            NxUserHit,
            r#"SELECT u.id, u.org_id, u.login, u.email, u.first_name, u.middle_name, u.last_name, u.title_prefix, u.nickname, u.phone,
                 u.address_line1, u.address_line2, u.city, u.state, u.country, u.postal_code, count(*) OVER () AS "total!"
               FROM users u WHERE NOT u.deleted
                 AND (u.org_id = ANY($1) OR EXISTS(SELECT 1 FROM subscriptions s WHERE s.user_id = u.id AND s.org_id = ANY($1)))
                 AND ((u.login || '') ILIKE $2 OR (u.first_name || '') ILIKE $2 OR (u.last_name || '') ILIKE $2 OR (u.email || '') ILIKE $2)
               ORDER BY lower(u.last_name), lower(u.first_name), lower(u.login), u.id LIMIT $3 OFFSET $4"#,
            orgs,
            pattern,
            limit,
            offset,
        )
        .fetch_all(pool)
        .await?
    };
    if let Some(total) = hits.first().map(|h| h.total) {
        return Ok((hits.into_iter().map(NxUser::from).collect(), total));
    }
    if offset == 0 {
        return Ok((Vec::new(), 0));
    }
    let total = if joined {
        sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM user_search s WHERE s.search_text ILIKE $2
                 AND (s.org_id = ANY($1) OR EXISTS(SELECT 1 FROM subscriptions x WHERE x.user_id = s.id AND x.org_id = ANY($1)))"#,
            orgs,
            pattern,
        )
        .fetch_one(pool)
        .await?
    } else {
        sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM users u WHERE NOT u.deleted
                 AND (u.org_id = ANY($1) OR EXISTS(SELECT 1 FROM subscriptions s WHERE s.user_id = u.id AND s.org_id = ANY($1)))
                 AND ((u.login || '') ILIKE $2 OR (u.first_name || '') ILIKE $2 OR (u.last_name || '') ILIKE $2 OR (u.email || '') ILIKE $2)"#,
            orgs,
            pattern,
        )
        .fetch_one(pool)
        .await?
    };
    Ok((Vec::new(), total))
}

/// A user found by `search_users`, with the total that matched.
struct NxUserHit {
    id: Uuid,
    org_id: Option<Uuid>,
    login: String,
    email: String,
    first_name: String,
    middle_name: Option<String>,
    last_name: String,
    title_prefix: Option<String>,
    nickname: Option<String>,
    phone: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    state: Option<String>,
    country: Option<String>,
    postal_code: Option<String>,
    total: i64,
}

impl From<NxUserHit> for NxUser {
    fn from(h: NxUserHit) -> Self {
        NxUser {
            id: h.id,
            org_id: h.org_id,
            login: h.login,
            email: h.email,
            first_name: h.first_name,
            middle_name: h.middle_name,
            last_name: h.last_name,
            title_prefix: h.title_prefix,
            nickname: h.nickname,
            phone: h.phone,
            address_line1: h.address_line1,
            address_line2: h.address_line2,
            city: h.city,
            state: h.state,
            country: h.country,
            postal_code: h.postal_code,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NxSubscription {
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub disabled: bool,
    pub status: String,
    pub status_set_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub expired: bool,
    pub created_at: DateTime<Utc>,
}

pub async fn subscription_by_id(pool: &PgPool, id: Uuid) -> Result<Option<NxSubscription>, sqlx::Error> {
    sqlx::query_as!(
        NxSubscription,
        "SELECT id, org_id, user_id, disabled, status, status_set_at, expires_at, expired, created_at FROM subscriptions WHERE id = $1",
        id,
    )
    .fetch_optional(pool)
    .await
}

pub async fn subscription_of(pool: &PgPool, user: Uuid, org: Uuid) -> Result<Option<NxSubscription>, sqlx::Error> {
    sqlx::query_as!(
        NxSubscription,
        "SELECT id, org_id, user_id, disabled, status, status_set_at, expires_at, expired, created_at FROM subscriptions \
         WHERE user_id = $1 AND org_id = $2",
        user,
        org,
    )
    .fetch_optional(pool)
    .await
}

/// SearchSubscriptions' filters; `None` = no filter. `orgs` limits to what the caller may view.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionFilter {
    pub visible_orgs: Vec<Uuid>,
    pub user_ids: Option<Vec<Uuid>>,
    pub org_ids: Option<Vec<Uuid>>,
    pub expires_before: Option<DateTime<Utc>>,
    pub expires_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub created_after: Option<DateTime<Utc>>,
}

pub async fn search_subscriptions(
    pool: &PgPool,
    f: &SubscriptionFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<NxSubscription>, i64), sqlx::Error> {
    let total = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM subscriptions WHERE org_id = ANY($1)
             AND ($2::uuid[] IS NULL OR user_id = ANY($2)) AND ($3::uuid[] IS NULL OR org_id = ANY($3))
             AND ($4::timestamptz IS NULL OR expires_at < $4) AND ($5::timestamptz IS NULL OR expires_at > $5)
             AND ($6::timestamptz IS NULL OR created_at < $6) AND ($7::timestamptz IS NULL OR created_at > $7)"#,
        &f.visible_orgs,
        f.user_ids.as_deref(),
        f.org_ids.as_deref(),
        f.expires_before,
        f.expires_after,
        f.created_before,
        f.created_after,
    )
    .fetch_one(pool)
    .await?;
    let rows = sqlx::query_as!(
        NxSubscription,
        "SELECT id, org_id, user_id, disabled, status, status_set_at, expires_at, expired, created_at FROM subscriptions \
         WHERE org_id = ANY($1) \
           AND ($2::uuid[] IS NULL OR user_id = ANY($2)) AND ($3::uuid[] IS NULL OR org_id = ANY($3)) \
           AND ($4::timestamptz IS NULL OR expires_at < $4) AND ($5::timestamptz IS NULL OR expires_at > $5) \
           AND ($6::timestamptz IS NULL OR created_at < $6) AND ($7::timestamptz IS NULL OR created_at > $7) \
         ORDER BY created_at, id LIMIT $8 OFFSET $9",
        &f.visible_orgs,
        f.user_ids.as_deref(),
        f.org_ids.as_deref(),
        f.expires_before,
        f.expires_after,
        f.created_before,
        f.created_after,
        limit,
        offset,
    )
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

/// Subscriptions whose expiry date has come and that are not yet marked expired (the worker's scan).
pub async fn due_subscriptions(pool: &PgPool, now: DateTime<Utc>, limit: i64) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM subscriptions WHERE NOT expired AND expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2",
        now,
        limit,
    )
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NxField {
    pub id: Uuid,
    pub org_id: Uuid,
    pub key: String,
    pub name: String,
    pub field_type: String,
}

pub async fn profile_fields(pool: &PgPool, org: Uuid, field: Option<Uuid>) -> Result<Vec<NxField>, sqlx::Error> {
    sqlx::query_as!(
        NxField,
        "SELECT id, org_id, key, name, field_type FROM profile_fields WHERE org_id = $1 AND ($2::uuid IS NULL OR id = $2) ORDER BY key",
        org,
        field,
    )
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NxFieldValue {
    pub subscription_id: Uuid,
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub key: String,
    pub value: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}

/// Values of one key over the subscriptions of the given orgs, optionally of one subscription or user.
pub async fn field_values(
    pool: &PgPool,
    orgs: &[Uuid],
    key: &str,
    subscription: Option<Uuid>,
    user: Option<Uuid>,
) -> Result<Vec<NxFieldValue>, sqlx::Error> {
    sqlx::query_as!(
        NxFieldValue,
        "SELECT v.subscription_id, s.user_id, s.org_id, v.key, v.value, v.updated_at \
         FROM subscription_field_values v JOIN subscriptions s ON s.id = v.subscription_id \
         WHERE s.org_id = ANY($1) AND lower(v.key) = lower($2) \
           AND ($3::uuid IS NULL OR s.id = $3) AND ($4::uuid IS NULL OR s.user_id = $4) \
         ORDER BY s.created_at, s.id",
        orgs,
        key,
        subscription,
        user,
    )
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NxOrg {
    pub id: Uuid,
    pub name: String,
    pub short_name: String,
}

pub async fn org_by_short_name(pool: &PgPool, short_name: &str) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!("SELECT id FROM organizations WHERE lower(subdomain) = lower($1)", short_name).fetch_optional(pool).await
}

/// An org and all its descendant organizations, by name (their closure rows by their own index,
/// not among the groups': see `permitted_orgs`).
pub async fn org_subtree(pool: &PgPool, org: Uuid, limit: i64, offset: i64) -> Result<(Vec<NxOrg>, i64), sqlx::Error> {
    let total = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM organizations o JOIN node_closure c ON c.descendant_id = o.id
           WHERE c.ancestor_id = $1 AND c.descendant_is_org"#,
        org,
    )
    .fetch_one(pool)
    .await?;
    let rows = sqlx::query_as!(
        NxOrg,
        "SELECT o.id, o.name, o.subdomain AS short_name FROM organizations o JOIN node_closure c ON c.descendant_id = o.id \
         WHERE c.ancestor_id = $1 AND c.descendant_is_org ORDER BY lower(o.name), o.subdomain, o.id LIMIT $2 OFFSET $3",
        org,
        limit,
        offset,
    )
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

/// What ValidateAccessToken reports of a token, whatever its state.
#[derive(Debug, Clone)]
pub struct TokenState {
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
    pub user_locked: bool,
}

pub async fn token_state(pool: &PgPool, hash: &[u8]) -> Result<Option<TokenState>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT t.expires_at, t.revoked_at IS NOT NULL AS "revoked!",
                  (u.id IS NULL OR u.deleted OR u.status IN ('ARCHIVE', 'BLOCKED')) AS "locked!"
           FROM access_tokens t LEFT JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"#,
        hash,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| TokenState { expires_at: r.expires_at, revoked: r.revoked, user_locked: r.locked }))
}

/// The orgs a user is subscribed to (NexPort's "subscription organizations").
pub async fn subscription_orgs(pool: &PgPool, user: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!("SELECT org_id FROM subscriptions WHERE user_id = $1 ORDER BY org_id", user).fetch_all(pool).await
}

/// Whether `id` is an organization or a group of the directory tree.
pub async fn node_kind(pool: &PgPool, id: Uuid) -> Result<Option<domain::permission::NodeKind>, sqlx::Error> {
    let kind = sqlx::query_scalar!(
        r#"SELECT CASE WHEN EXISTS(SELECT 1 FROM organizations WHERE id = $1) THEN 'organization'
                       WHEN EXISTS(SELECT 1 FROM groups WHERE id = $1) THEN 'group' END AS kind"#,
        id,
    )
    .fetch_one(pool)
    .await?;
    Ok(match kind.as_deref() {
        Some("organization") => Some(domain::permission::NodeKind::Organization),
        Some("group") => Some(domain::permission::NodeKind::Group),
        _ => None,
    })
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct GrantRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub node_id: Uuid,
    pub node_kind: String,
    pub role: String,
}

pub async fn grant_by_id(pool: &PgPool, id: Uuid) -> Result<Option<GrantRow>, sqlx::Error> {
    sqlx::query_as!(GrantRow, "SELECT id, org_id, user_id, node_id, node_kind, role FROM role_grants WHERE id = $1", id)
        .fetch_optional(pool)
        .await
}

/// The grants on the nodes of one tenant tree, optionally of one user.
pub async fn grants_in_tree(pool: &PgPool, root: Uuid, user: Option<Uuid>) -> Result<Vec<GrantRow>, sqlx::Error> {
    sqlx::query_as!(
        GrantRow,
        "SELECT g.id, g.org_id, g.user_id, g.node_id, g.node_kind, g.role FROM role_grants g \
         JOIN node_closure c ON c.descendant_id = g.node_id AND c.ancestor_id = $1 \
         WHERE ($2::uuid IS NULL OR g.user_id = $2) ORDER BY g.created_at, g.id",
        root,
        user,
    )
    .fetch_all(pool)
    .await
}

/// An organization or group as SearchDirectory and SearchGroupsForPermission list them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DirectoryItem {
    pub id: Uuid,
    pub name: String,
    pub short_name: Option<String>,
    /// `Organization` or `Group`.
    pub kind: String,
    pub total: i64,
}

/// Orgs and groups under `base` (itself included) whose name and/or short name contain the given
/// texts (`all`: both must match; otherwise either), by name then short name.
pub async fn search_directory(
    pool: &PgPool,
    base: Uuid,
    name: Option<&str>,
    short_name: Option<&str>,
    all: bool,
    limit: i64,
    offset: i64,
) -> Result<Vec<DirectoryItem>, sqlx::Error> {
    sqlx::query_as!(
        DirectoryItem,
        r#"WITH nodes AS (
             SELECT o.id, o.name, o.subdomain AS short_name, 'Organization' AS kind
             FROM organizations o JOIN node_closure c ON c.descendant_id = o.id AND c.ancestor_id = $1 AND c.descendant_is_org
             UNION ALL
             SELECT g.id, g.name, g.short_name, 'Group'
             FROM groups g JOIN node_closure c ON c.descendant_id = g.id AND c.ancestor_id = $1)
           SELECT id AS "id!", name AS "name!", short_name, kind AS "kind!", count(*) OVER () AS "total!" FROM nodes
           WHERE CASE WHEN $4 THEN ($2::text IS NULL OR name ILIKE $2) AND ($3::text IS NULL OR short_name ILIKE $3)
                      ELSE ($2::text IS NULL AND $3::text IS NULL) OR name ILIKE $2 OR short_name ILIKE $3 END
           ORDER BY lower(name), lower(short_name) NULLS FIRST, id LIMIT $5 OFFSET $6"#,
        base,
        name.map(search::contains_pattern),
        short_name.map(search::contains_pattern),
        all,
        limit,
        offset,
    )
    .fetch_all(pool)
    .await
}

/// Groups under `org` where `who` holds one of `roles` (through a grant or as an org admin).
pub async fn groups_permitted(
    pool: &PgPool,
    who: Asker,
    org: Uuid,
    roles: &[String],
    limit: i64,
    offset: i64,
) -> Result<Vec<DirectoryItem>, sqlx::Error> {
    sqlx::query_as!(
        DirectoryItem,
        r#"SELECT g.id, g.name, g.short_name, 'Group' AS "kind!", count(*) OVER () AS "total!"
           FROM groups g JOIN node_closure t ON t.descendant_id = g.id AND t.ancestor_id = $1
           WHERE EXISTS(SELECT 1 FROM role_grants gr JOIN node_closure c ON c.ancestor_id = gr.node_id
                        WHERE gr.user_id = $2 AND c.descendant_id = g.id AND gr.role = ANY($3))
              OR EXISTS(SELECT 1 FROM node_closure a WHERE a.descendant_id = g.id AND a.ancestor_id = $4)
           ORDER BY lower(g.name), lower(g.short_name) NULLS FIRST, g.id LIMIT $5 OFFSET $6"#,
        org,
        who.user_id,
        roles,
        who.admin_of,
        limit,
        offset,
    )
    .fetch_all(pool)
    .await
}

/// A user as the permission queries see them: their org, and whether they administer it.
pub async fn asker_of(pool: &PgPool, user: Uuid) -> Result<Option<Asker>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT u.org_id AS "org_id!", (sg.kind = 'administrators') AS "admin!"
           FROM users u LEFT JOIN security_groups sg ON sg.id = u.security_group AND sg.org_id = u.org_id
           WHERE u.id = $1 AND NOT u.deleted AND u.org_id IS NOT NULL"#,
        user,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Asker { user_id: user, org_id: r.org_id, admin_of: r.admin.then_some(r.org_id) }))
}

pub async fn group_org(pool: &PgPool, group: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!("SELECT org_id FROM groups WHERE id = $1", group).fetch_optional(pool).await
}

/// Active memberships by id: (membership id, group, user).
pub async fn memberships_by_id(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<(Uuid, Uuid, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT membership_id AS "membership_id!", group_id, user_id FROM group_members WHERE membership_id = ANY($1) AND status = 'active'"#,
        ids,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.membership_id, r.group_id, r.user_id)).collect())
}

/// The membership ids of `user` in `groups`.
pub async fn membership_ids(pool: &PgPool, user: Uuid, groups: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT group_id, membership_id AS "membership_id!" FROM group_members WHERE user_id = $1 AND group_id = ANY($2) AND status = 'active'"#,
        user,
        groups,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.group_id, r.membership_id)).collect())
}
