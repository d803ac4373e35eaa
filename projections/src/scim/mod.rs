//! The SCIM dialect's reads (DESIGN §12): its filters compiled to SQL over the directory read
//! model, sorting, paging, and the stream versions behind `meta.version`.
//!
//! Client text never reaches SQL: attribute names resolve through the allow-lists below, whose
//! SQL expressions are written by us, and every literal is a bound parameter.

pub mod filter;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

pub use filter::{parse_filter, parse_path, AttrPath, CompValue, CompareOp, Filter, FilterError, PatchPath};
use filter::{CORE_GROUP_URN, CORE_USER_URN, ENTERPRISE_URN};

use crate::queries::{self, UserRow, Walk};
use crate::search;

/// How an attribute compares (RFC 7643 §2.3, `caseExact`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text {
        case_exact: bool,
    },
    Bool,
    Time,
    /// `members` / `members.value` of a group: a membership test, not a column.
    Member,
}

/// An allowed attribute: its SQL expression (trusted) and how it compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    pub sql: &'static str,
    pub kind: Kind,
    /// A trigram-indexed text that contains this attribute's value whole, when there is one: a
    /// value the attribute equals, starts with, ends with or contains lies in it too.
    pub within: Option<Within>,
    /// The uuid column `sql` is the text of, when it is one: an id compared for (in)equality
    /// with a uuid in its canonical text is compared as a uuid, which its index serves.
    pub uuid: Option<&'static str>,
    /// A btree over the folded text in the "C" collation serves this attribute's `eq`, `sw` and
    /// ranges (migration 0037 for family names, 0039 for group names), so those compare in that
    /// collation and go without the trigram narrowing.
    pub ordered: bool,
}

const CI: Kind = Kind::Text { case_exact: false };
const EXACT: Kind = Kind::Text { case_exact: true };

const fn attr(sql: &'static str, kind: Kind) -> Attr {
    Attr { sql, kind, within: None, uuid: None, ordered: false }
}

/// A uuid column, compared case-exactly as its text (`u.id::text`) but for (in)equality.
const fn id(text: &'static str, column: &'static str) -> Attr {
    Attr { sql: text, kind: EXACT, within: None, uuid: Some(column), ordered: false }
}

/// Where a trigram index finds the rows whose text contains a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Within {
    /// A trigram-indexed column of the resource's own row.
    Column(&'static str),
    /// A live user's login, first name, last name and email joined by U+001F: the text of
    /// migration 0043's `user_search`, one narrow row per live user, found by the user's id.
    UserSearch,
}

impl Within {
    /// The SQL before and after the bound `ILIKE` pattern.
    fn around(self) -> (String, &'static str) {
        match self {
            Within::Column(c) => (format!("{c} ILIKE "), " ESCAPE '\\'"),
            Within::UserSearch => ("u.id IN (SELECT s.id FROM user_search s WHERE s.search_text ILIKE ".into(), " ESCAPE '\\')"),
        }
    }
}

const fn searched(sql: &'static str, within: Within) -> Attr {
    Attr { sql, kind: CI, within: Some(within), uuid: None, ordered: false }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    User,
    Group,
}

impl Resource {
    /// The attribute `path` names, relative to `parent` inside a value filter.
    pub fn attr(self, path: &AttrPath, parent: Option<&str>) -> Option<Attr> {
        let key = match parent {
            Some(p) => format!("{}.{}", p.to_lowercase(), path.key()),
            None => path.key(),
        };
        match self {
            Resource::User => user_attr(path.urn.as_deref(), &key),
            Resource::Group => match path.urn.as_deref() {
                Some(u) if !u.eq_ignore_ascii_case(CORE_GROUP_URN) => None,
                _ => group_attr(&key),
            },
        }
    }

    fn alias(self) -> &'static str {
        match self {
            Resource::User => "u",
            Resource::Group => "g",
        }
    }

    /// The read model's table under [`Resource::alias`], as a `FROM` names it.
    fn table(self) -> &'static str {
        match self {
            Resource::User => "users u",
            Resource::Group => "groups g",
        }
    }
}

fn user_attr(urn: Option<&str>, key: &str) -> Option<Attr> {
    let enterprise = |key: &str| {
        Some(match key {
            "department" => attr("(SELECT d.name FROM departments d WHERE d.id = u.department)", CI),
            "manager" | "manager.value" => id("u.reports_to::text", "u.reports_to"),
            "manager.displayname" => attr("(SELECT b.first_name || ' ' || b.last_name FROM users b WHERE b.id = u.reports_to)", CI),
            "employeenumber" => attr("u.number::text", EXACT),
            _ => return None,
        })
    };
    let core = |key: &str| {
        Some(match key {
            "id" => id("u.id::text", "u.id"),
            "username" => searched("u.login", Within::UserSearch),
            "externalid" => attr("u.external_user_id", EXACT),
            "displayname" => attr("coalesce(u.nickname, u.first_name || ' ' || u.last_name)", CI),
            "name.givenname" => searched("u.first_name", Within::UserSearch),
            "name.familyname" => Attr { ordered: true, ..searched("u.last_name", Within::UserSearch) },
            "name.middlename" => attr("u.middle_name", CI),
            "name.honorificprefix" => attr("u.title_prefix", CI),
            "name.formatted" => attr("(u.first_name || ' ' || u.last_name)", CI),
            "title" => attr("u.designation", CI),
            "emails" | "emails.value" => searched("u.email", Within::UserSearch),
            "emails.type" => attr("'work'", CI),
            "emails.primary" => attr("true", Kind::Bool),
            "phonenumbers" | "phonenumbers.value" => attr("u.phone", CI),
            "phonenumbers.type" => attr("(CASE WHEN u.phone IS NULL THEN NULL ELSE 'work' END)", CI),
            "active" => attr("(u.status NOT IN ('BLOCKED', 'ARCHIVE'))", Kind::Bool),
            "meta.created" => attr("u.created_at", Kind::Time),
            "meta.lastmodified" => attr("u.updated_at", Kind::Time),
            _ => return None,
        })
    };
    match urn {
        None => core(key).or_else(|| enterprise(key)),
        Some(u) if u.eq_ignore_ascii_case(CORE_USER_URN) => core(key),
        Some(u) if u.eq_ignore_ascii_case(ENTERPRISE_URN) => enterprise(key),
        Some(_) => None,
    }
}

fn group_attr(key: &str) -> Option<Attr> {
    Some(match key {
        "id" => id("g.id::text", "g.id"),
        "displayname" => Attr { ordered: true, ..searched("g.name", Within::Column("g.name")) },
        "externalid" => attr("g.external_id", EXACT),
        "members" | "members.value" => attr("", Kind::Member),
        "meta.created" => attr("g.created_at", Kind::Time),
        "meta.lastmodified" => attr("g.updated_at", Kind::Time),
        _ => return None,
    })
}

/// A bound parameter of a compiled filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Bool(bool),
    Time(DateTime<Utc>),
    Uuid(Uuid),
}

/// SQL text and parameters, in order; pushed onto a [`QueryBuilder`] with [`Compiled::push`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Compiled {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Sql(String),
    Bind(Param),
}

impl Compiled {
    fn sql(&mut self, s: impl Into<String>) {
        self.pieces.push(Piece::Sql(s.into()));
    }

    fn bind(&mut self, p: Param) {
        self.pieces.push(Piece::Bind(p));
    }

    pub fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        for piece in &self.pieces {
            match piece {
                Piece::Sql(s) => {
                    qb.push(s);
                }
                Piece::Bind(Param::Text(s)) => {
                    qb.push_bind(s.clone());
                }
                Piece::Bind(Param::Bool(b)) => {
                    qb.push_bind(*b);
                }
                Piece::Bind(Param::Time(t)) => {
                    qb.push_bind(*t);
                }
                Piece::Bind(Param::Uuid(u)) => {
                    qb.push_bind(*u);
                }
            }
        }
    }

    /// The SQL with `$n` placeholders numbered from 1, for tests.
    pub fn text(&self) -> (String, Vec<Param>) {
        let (mut sql, mut params) = (String::new(), vec![]);
        for piece in &self.pieces {
            match piece {
                Piece::Sql(s) => sql.push_str(s),
                Piece::Bind(p) => {
                    params.push(p.clone());
                    sql.push_str(&format!("${}", params.len()));
                }
            }
        }
        (sql, params)
    }
}

/// Compiles `f` for `resource`; an unknown attribute, or an operator or value its type does not
/// take, is an error naming it (SCIM's `invalidFilter`).
pub fn compile(resource: Resource, f: &Filter) -> Result<Compiled, FilterError> {
    let mut out = Compiled::default();
    compile_into(resource, f, None, &mut out)?;
    Ok(out)
}

fn err(message: String) -> FilterError {
    FilterError { message }
}

fn compile_into(resource: Resource, f: &Filter, parent: Option<&AttrPath>, out: &mut Compiled) -> Result<(), FilterError> {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            out.sql("(");
            compile_into(resource, a, parent, out)?;
            out.sql(if matches!(f, Filter::And(..)) { " AND " } else { " OR " });
            compile_into(resource, b, parent, out)?;
            out.sql(")");
        }
        Filter::Not(a) => {
            // `NOT` over NULL is NULL; a missing attribute does not match, so neither does its negation's
            // operand: coalesce makes `not (title eq "x")` true for users without a title.
            out.sql("NOT coalesce((");
            compile_into(resource, a, parent, out)?;
            out.sql("), false)");
        }
        Filter::ValuePath { attr, filter } => {
            if parent.is_some() {
                return Err(err("a value filter cannot hold another value filter".into()));
            }
            if attr.sub.is_some() {
                return Err(err(format!("'{attr}' has a sub-attribute before '['")));
            }
            // Every multi-valued attribute here holds at most one value (the user's email,
            // phone), or is a membership: the inner filter is a condition on the same row.
            compile_into(resource, filter, Some(attr), out)?;
        }
        Filter::Present(path) => {
            let a = resolve(resource, path, parent)?;
            match a.kind {
                Kind::Member => out.sql("EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.status = 'active')"),
                Kind::Text { .. } => out.sql(format!("({0} IS NOT NULL AND {0} <> '')", a.sql)),
                Kind::Bool | Kind::Time => out.sql(format!("({} IS NOT NULL)", a.sql)),
            }
        }
        Filter::Compare { path, op, value } => {
            let a = resolve(resource, path, parent)?;
            compare(a, path, *op, value, out)?;
        }
    }
    Ok(())
}

fn resolve(resource: Resource, path: &AttrPath, parent: Option<&AttrPath>) -> Result<Attr, FilterError> {
    let parent_key = parent.map(AttrPath::key);
    // Inside a value filter the names are relative: a URN there names nothing.
    let urn_ok = !(parent.is_some() && path.urn.is_some());
    let found = if let Some(p) = parent {
        let joined = AttrPath { urn: p.urn.clone(), name: p.name.clone(), sub: Some(path.key()) };
        if path.sub.is_some() {
            None
        } else {
            resource.attr(&joined, None)
        }
    } else {
        resource.attr(path, None)
    };
    match found {
        Some(a) if urn_ok => Ok(a),
        _ => Err(err(match parent_key {
            Some(p) => format!("unknown attribute '{p}.{path}'"),
            None => format!("unknown attribute '{path}'"),
        })),
    }
}

fn compare(a: Attr, path: &AttrPath, op: CompareOp, value: &CompValue, out: &mut Compiled) -> Result<(), FilterError> {
    let bad_op = || err(format!("'{}' does not apply to '{path}'", op.as_str()));
    if *value == CompValue::Null {
        return match op {
            CompareOp::Eq => compile_presence(a, out, false),
            CompareOp::Ne => compile_presence(a, out, true),
            _ => Err(err(format!("'{path} {} null' compares with null; use 'pr'", op.as_str()))),
        };
    }
    match a.kind {
        Kind::Member => {
            let CompValue::Str(s) = value else { return Err(err(format!("'{path}' takes a string"))) };
            let negate = match op {
                CompareOp::Eq => "",
                CompareOp::Ne => "NOT ",
                _ => return Err(bad_op()),
            };
            out.sql(format!("{negate}EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.status = 'active' AND "));
            // A member is named by a user id's canonical text, in any case (as it always was);
            // anything else names no one.
            match Uuid::parse_str(s).ok().filter(|u| u.to_string() == s.to_lowercase()) {
                Some(user) => {
                    out.sql("m.user_id = ");
                    out.bind(Param::Uuid(user));
                }
                None => out.sql("false"),
            }
            out.sql(")");
        }
        Kind::Bool => {
            let CompValue::Bool(b) = value else { return Err(err(format!("'{path}' is a boolean: compare with true or false"))) };
            let sql = match op {
                CompareOp::Eq => format!("({} = ", a.sql),
                CompareOp::Ne => format!("({} IS DISTINCT FROM ", a.sql),
                _ => return Err(bad_op()),
            };
            out.sql(sql);
            out.bind(Param::Bool(*b));
            out.sql(")");
        }
        Kind::Time => {
            let CompValue::Str(s) = value else { return Err(err(format!("'{path}' is a dateTime: compare with a quoted timestamp"))) };
            let t = DateTime::parse_from_rfc3339(s).map_err(|_| err(format!("'{s}' is not an RFC 3339 timestamp (for '{path}')")))?;
            let sym = match op {
                CompareOp::Eq => "=",
                CompareOp::Ne => "<>",
                CompareOp::Gt => ">",
                CompareOp::Ge => ">=",
                CompareOp::Lt => "<",
                CompareOp::Le => "<=",
                _ => return Err(bad_op()),
            };
            out.sql(format!("({} {sym} ", a.sql));
            out.bind(Param::Time(t.with_timezone(&Utc)));
            out.sql(")");
        }
        Kind::Text { case_exact } => {
            let v = match value {
                CompValue::Str(s) => s.clone(),
                // Numbers compare with their text (employeeNumber eq 12).
                CompValue::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
                _ => return Err(err(format!("'{path}' is a string: compare with a quoted value"))),
            };
            // Only the canonical text of a uuid equals a uuid column's text, so for that text the
            // two comparisons agree; any other text is compared as text (and matches no id).
            let canonical = a.uuid.zip(Uuid::parse_str(&v).ok().filter(|u| u.to_string() == v));
            if let (Some((column, id)), CompareOp::Eq | CompareOp::Ne) = (canonical, op) {
                out.sql(format!("({column} {} ", if op == CompareOp::Eq { "=" } else { "IS DISTINCT FROM" }));
                out.bind(Param::Uuid(id));
                out.sql(")");
                return Ok(());
            }
            // Case-insensitive means both sides folded by the same `lower()`: the database's, whose
            // folding depends on its locale and need not be Rust's (under `C` it folds ASCII only,
            // and a value lowered in Rust would never equal a stored `É`).
            let (lhs, fold) = if case_exact { (a.sql.to_string(), ("", "")) } else { (format!("lower({})", a.sql), ("lower(", ")")) };
            let value = |out: &mut Compiled| {
                out.sql(fold.0);
                out.bind(Param::Text(v.clone()));
                out.sql(fold.1);
            };
            // Where the attribute's btree serves the comparison, it is said in that btree's
            // collation. Equality and prefixes are the same in every deterministic collation, so
            // naming one changes no answer.
            let served = a.ordered && matches!(op, CompareOp::Eq | CompareOp::Sw);
            let indexed = if served { format!("{lhs} COLLATE \"C\"") } else { lhs.clone() };
            // Otherwise a match lies in the attribute's indexed text, so that text containing the
            // value is said first, for the planner to find the few candidates by the trigram index
            // (`name.givenName sw "…"` would read every user of the org). `ILIKE` folds case as
            // `lower()` does. It narrows nothing, so the result is the comparison's alone. Not
            // beside a btree that serves: the planner cannot tell how few a prefix matches, and
            // takes the trigram index, whose common trigrams (those of a common family name) it reads
            // whole.
            let within = a.within.filter(|_| !served && matches!(op, CompareOp::Eq | CompareOp::Co | CompareOp::Sw | CompareOp::Ew));
            let within = within.filter(|_| search::uses_trigrams(&v) && !v.contains(search::USER_SEARCH_SEPARATOR));
            if let Some(text) = within {
                let (before, after) = text.around();
                out.sql(format!("({before}"));
                out.bind(Param::Text(search::contains_pattern(&v)));
                out.sql(after);
                out.sql(" AND ");
            }
            let cmp = |out: &mut Compiled, sym: &str| {
                out.sql(format!("({lhs} COLLATE \"C\" {sym} "));
                value(out);
                out.sql(")");
            };
            match op {
                // Equality is the same in every deterministic collation, and without one named
                // an expression index (0017's `lower(login)`, 0036's emails and external ids) serves it.
                CompareOp::Eq => {
                    out.sql(format!("({indexed} = "));
                    value(out);
                    out.sql(")");
                }
                CompareOp::Ne => {
                    out.sql(format!("({lhs} IS DISTINCT FROM "));
                    value(out);
                    out.sql(")");
                }
                CompareOp::Gt => cmp(out, ">"),
                CompareOp::Ge => cmp(out, ">="),
                CompareOp::Lt => cmp(out, "<"),
                CompareOp::Le => cmp(out, "<="),
                CompareOp::Co => {
                    out.sql(format!("(strpos({lhs}, "));
                    value(out);
                    out.sql(") > 0)");
                }
                CompareOp::Sw => {
                    out.sql(format!("starts_with({indexed}, "));
                    value(out);
                    out.sql(")");
                }
                CompareOp::Ew => {
                    // The folded value's length: folding may change it outside ASCII.
                    out.sql(format!("(right({lhs}, char_length("));
                    value(out);
                    out.sql(")) = ");
                    value(out);
                    out.sql(")");
                }
            }
            if within.is_some() {
                out.sql(")");
            }
        }
    }
    Ok(())
}

fn compile_presence(a: Attr, out: &mut Compiled, present: bool) -> Result<(), FilterError> {
    let cond = match a.kind {
        Kind::Member => "EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.status = 'active')".to_string(),
        Kind::Text { .. } => format!("({0} IS NOT NULL AND {0} <> '')", a.sql),
        Kind::Bool | Kind::Time => format!("({} IS NOT NULL)", a.sql),
    };
    out.sql(if present { cond } else { format!("NOT {cond}") });
    Ok(())
}

/// What a sort key holds, and so what a cursor carries of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKind {
    Text,
    Bool,
    Time,
}

/// `sortBy` resolved: the expression a list is ordered by, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    pub expr: String,
    pub kind: SortKind,
}

/// `sortBy`: the attribute's expression, text compared as its `caseExact` says.
pub fn sort_expr(resource: Resource, sort_by: &str) -> Result<Sort, FilterError> {
    let path = AttrPath::parse(sort_by.trim())?;
    let a = resource.attr(&path, None).ok_or_else(|| err(format!("unknown attribute '{sort_by}'")))?;
    let (expr, kind) = match a.kind {
        Kind::Text { case_exact: false } => (format!("lower({}) COLLATE \"C\"", a.sql), SortKind::Text),
        Kind::Text { case_exact: true } => (format!("{} COLLATE \"C\"", a.sql), SortKind::Text),
        Kind::Member => return Err(err(format!("cannot sort by '{sort_by}'"))),
        Kind::Bool => (a.sql.to_string(), SortKind::Bool),
        Kind::Time => (a.sql.to_string(), SortKind::Time),
    };
    Ok(Sort { expr, kind })
}

/// What a list asks for: a compiled filter, a sort (from [`sort_expr`]), paging.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<Compiled>,
    pub sort: Option<Sort>,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

/// A value of a sort key, as a cursor carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    Text(String),
    Bool(bool),
    Time(DateTime<Utc>),
}

/// Where a cursor page (RFC 9865) starts: after the entry with these keys, in the list's order.
/// The keys are the entry's values, not its id, so an entry changed or deleted since the last
/// page moves nothing: the walk goes on from where it was.
#[derive(Debug, Clone, PartialEq)]
pub struct After {
    /// The sort key's value when the list is sorted (`Some(None)`: the entry had none).
    pub sort: Option<Option<SortValue>>,
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// A directory user with what SCIM shows beside the row: department name, stream version.
#[derive(Debug, Clone, sqlx::FromRow, PartialEq)]
pub struct ScimUser {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub department_name: Option<String>,
    pub stream_version: i32,
}

#[derive(Debug, Clone, sqlx::FromRow, PartialEq)]
pub struct ScimGroup {
    pub id: Uuid,
    pub name: String,
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub stream_version: i32,
}

const USER_SELECT: &str = "SELECT u.*, (SELECT d.name FROM departments d WHERE d.id = u.department) AS department_name, \
     coalesce((SELECT v.version FROM stream_versions v WHERE v.stream_id = u.id), 0) AS stream_version FROM users u";
const GROUP_SELECT: &str = "SELECT g.id, g.name, g.external_id, g.created_at, g.updated_at, \
     coalesce((SELECT v.version FROM stream_versions v WHERE v.stream_id = g.id), 0) AS stream_version FROM groups g";

fn scoped<'a>(resource: Resource, select: &str, org: Uuid, filter: Option<&Compiled>) -> QueryBuilder<'a, Postgres> {
    let mut qb = QueryBuilder::new(select);
    push_scope(&mut qb, resource, org, filter);
    qb
}

/// ` WHERE` the resource is the org's (and live), and matches `filter`.
fn push_scope(qb: &mut QueryBuilder<'_, Postgres>, resource: Resource, org: Uuid, filter: Option<&Compiled>) {
    let a = resource.alias();
    qb.push(format!(" WHERE {a}.org_id = ")).push_bind(org);
    if resource == Resource::User {
        qb.push(" AND NOT u.deleted");
    }
    if let Some(f) = filter {
        qb.push(" AND (");
        f.push(qb);
        qb.push(")");
    }
}

/// One page, its ids chosen before any row is read (as `queries::users_page` does): in the
/// default order the entries a deep `startIndex` skips come from the `(org_id, created_at, id)`
/// index alone, not from the rows, and `= ANY(ARRAY(...))` keeps the planner from joining the
/// whole table against a limit it does not know. `from_end` walks the order backwards, skipping
/// `q.offset` entries from the last one; the page is in the list's order either way.
fn page<'a>(resource: Resource, select: &str, org: Uuid, q: &ListQuery, from_end: bool) -> QueryBuilder<'a, Postgres> {
    let a = resource.alias();
    let mut qb = QueryBuilder::new(select);
    qb.push(format!(" WHERE {a}.id = ANY(ARRAY(SELECT {a}.id FROM {}", resource.table()));
    push_scope(&mut qb, resource, org, q.filter.as_ref());
    qb.push(order_by(resource, q, from_end)).push(" LIMIT ").push_bind(q.limit).push(" OFFSET ").push_bind(q.offset).push("))");
    qb.push(order_by(resource, q, false));
    qb
}

/// The list's order: the sort key (NULLs last), then creation and id, a total order. Backwards
/// is every key reversed, and with it where the NULLs of the sort key go.
fn order_by(resource: Resource, q: &ListQuery, backwards: bool) -> String {
    let a = resource.alias();
    let dir = if q.descending != backwards { "DESC" } else { "ASC" };
    let (nulls, then) = if backwards { ("FIRST", "DESC") } else { ("LAST", "ASC") };
    match &q.sort {
        Some(s) => format!(" ORDER BY {} {dir} NULLS {nulls}, {a}.created_at {then}, {a}.id {then}", s.expr),
        None => format!(" ORDER BY {a}.created_at {then}, {a}.id {then}"),
    }
}

fn push_sort_value(qb: &mut QueryBuilder<'_, Postgres>, v: &SortValue) {
    match v {
        SortValue::Text(t) => qb.push_bind(t.clone()),
        SortValue::Bool(b) => qb.push_bind(*b),
        SortValue::Time(t) => qb.push_bind(*t),
    };
}

/// ` AND` the entry comes after `after` in [`order_by`]'s order (forwards). Without a sort key
/// that is one row comparison, a range of the `(org_id, created_at, id)` index.
fn push_after(qb: &mut QueryBuilder<'_, Postgres>, resource: Resource, q: &ListQuery, after: &After) {
    let a = resource.alias();
    let push_tail = |qb: &mut QueryBuilder<'_, Postgres>| {
        qb.push(format!("({a}.created_at, {a}.id) > (")).push_bind(after.created_at).push(", ").push_bind(after.id).push(")");
    };
    qb.push(" AND ");
    match (&q.sort, &after.sort) {
        (Some(s), Some(Some(v))) => {
            let e = &s.expr;
            let beyond = if q.descending { "<" } else { ">" };
            qb.push(format!("({e} {beyond} "));
            push_sort_value(qb, v);
            qb.push(format!(" OR {e} IS NULL OR ({e} = "));
            push_sort_value(qb, v);
            qb.push(" AND ");
            push_tail(qb);
            qb.push("))");
        }
        // NULLs come last: after one, only the NULLs after it.
        (Some(s), Some(None)) => {
            qb.push(format!("{} IS NULL AND ", s.expr));
            push_tail(qb);
        }
        // A cursor of another order (the caller checks that it is not): by creation alone.
        _ => push_tail(qb),
    }
}

/// A sort key's value as `to_jsonb` gave it, read back as `kind`.
fn sort_value(kind: SortKind, v: serde_json::Value) -> Result<Option<SortValue>, sqlx::Error> {
    use serde_json::Value as J;
    Ok(Some(match (kind, v) {
        (_, J::Null) => return Ok(None),
        (SortKind::Text, J::String(t)) => SortValue::Text(t),
        (SortKind::Bool, J::Bool(b)) => SortValue::Bool(b),
        (SortKind::Time, J::String(t)) => SortValue::Time(
            DateTime::parse_from_rfc3339(&t).map_err(|e| sqlx::Error::Decode(format!("sort key {t}: {e}").into()))?.with_timezone(&Utc),
        ),
        (kind, v) => return Err(sqlx::Error::Decode(format!("sort key {v} is not {kind:?}").into())),
    }))
}

/// One cursor page (RFC 9865): the first `q.limit` entries after `after` (from the start without
/// one; `q.offset` is not used), the total that match, and where the next page starts when
/// there is one. The page's keys are read first, one more than the page so that the last page is
/// known as such, then its rows by id. Each page stands alone: what was written between two
/// pages shows in the later one if it sorts after the cursor, and nothing is skipped or repeated.
async fn cursor_page<R>(
    pool: &PgPool,
    resource: Resource,
    select: &str,
    org: Uuid,
    q: &ListQuery,
    after: Option<&After>,
) -> Result<(Vec<R>, i64, Option<After>), sqlx::Error>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let a = resource.alias();
    let key = q.sort.as_ref().map(|s| format!("to_jsonb({})", s.expr)).unwrap_or_else(|| "NULL::jsonb".into());
    let mut keys_qb = QueryBuilder::new(format!("SELECT {a}.id, {key}, {a}.created_at FROM {}", resource.table()));
    push_scope(&mut keys_qb, resource, org, q.filter.as_ref());
    if let Some(after) = after {
        push_after(&mut keys_qb, resource, q, after);
    }
    keys_qb.push(order_by(resource, q, false)).push(" LIMIT ").push_bind(q.limit.saturating_add(1));
    let (total, mut keys) = tokio::try_join!(
        total(pool, resource, org, q.filter.as_ref()),
        keys_qb.build_query_as::<(Uuid, Option<serde_json::Value>, DateTime<Utc>)>().fetch_all(pool)
    )?;
    let more = keys.len() as i64 > q.limit;
    keys.truncate(q.limit.max(0) as usize);
    let next = match keys.last() {
        Some((id, sort, created_at)) if more => Some(After {
            sort: match &q.sort {
                Some(s) => Some(sort_value(s.kind, sort.clone().unwrap_or(serde_json::Value::Null))?),
                None => None,
            },
            created_at: *created_at,
            id: *id,
        }),
        _ => None,
    };
    if keys.is_empty() {
        return Ok((Vec::new(), total, next));
    }
    let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
    let mut qb = QueryBuilder::new(select);
    qb.push(format!(" WHERE {a}.id = ANY(")).push_bind(ids).push(")");
    qb.push(order_by(resource, q, false));
    let rows = qb.build_query_as().fetch_all(pool).await?;
    Ok((rows, total, next))
}

/// How many of the org's resources match `filter`: the count the projector keeps when there is
/// no filter, else a count of the rows.
async fn total<'e>(db: impl PgExecutor<'e>, resource: Resource, org: Uuid, filter: Option<&Compiled>) -> Result<i64, sqlx::Error> {
    match (resource, filter) {
        (Resource::User, None) => queries::org_user_count(db, org).await,
        (Resource::Group, None) => queries::org_group_count(db, org).await,
        (_, Some(f)) => {
            let select = format!("SELECT count(*) FROM {}", resource.table());
            scoped(resource, &select, org, Some(f)).build_query_scalar().fetch_one(db).await
        }
    }
}

/// One page of the org's `resource` rows (`select`) and the total that match.
///
/// A page in the back half is taken from the end ([`queries::walk`], as WorkDrive's list does), so
/// an identity provider paging through every user walks at most half the list's index entries per
/// page, never the whole of it for the last pages. Past the first page the total and the page are
/// read in one snapshot: counted from the end, the page depends on the total, and a user created
/// in between would shift it.
async fn total_and_page<R>(pool: &PgPool, resource: Resource, select: &str, org: Uuid, q: &ListQuery) -> Result<(Vec<R>, i64), sqlx::Error>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    if q.offset == 0 {
        // An identity provider's lookups and every first page: no transaction to open.
        let total = total(pool, resource, org, q.filter.as_ref()).await?;
        let rows = page(resource, select, org, q, false).build_query_as().fetch_all(pool).await?;
        return Ok((rows, total));
    }
    let mut tx = queries::snapshot(pool).await?;
    let total = total(&mut *tx, resource, org, q.filter.as_ref()).await?;
    let rows = match queries::walk(total, q.offset, q.limit) {
        Walk::Forward => page(resource, select, org, q, false).build_query_as().fetch_all(&mut *tx).await?,
        Walk::Backward { offset, limit } => {
            let from_end = ListQuery { offset, limit, ..q.clone() };
            page(resource, select, org, &from_end, true).build_query_as().fetch_all(&mut *tx).await?
        }
        Walk::Nothing => Vec::new(),
    };
    tx.commit().await?;
    Ok((rows, total))
}

/// One page of the org's live users and the total that match.
pub async fn users(pool: &PgPool, org: Uuid, q: &ListQuery) -> Result<(Vec<ScimUser>, i64), sqlx::Error> {
    total_and_page(pool, Resource::User, USER_SELECT, org, q).await
}

/// One cursor page of the org's live users, the total that match, and where the next page starts.
pub async fn users_after(
    pool: &PgPool,
    org: Uuid,
    q: &ListQuery,
    after: Option<&After>,
) -> Result<(Vec<ScimUser>, i64, Option<After>), sqlx::Error> {
    cursor_page(pool, Resource::User, USER_SELECT, org, q, after).await
}

pub async fn user(pool: &PgPool, org: Uuid, id: Uuid) -> Result<Option<ScimUser>, sqlx::Error> {
    let mut qb = scoped(Resource::User, USER_SELECT, org, None);
    qb.push(" AND u.id = ").push_bind(id);
    qb.build_query_as().fetch_optional(pool).await
}

/// Live users of the org whose login is `login`, compared case-insensitively as userName is.
pub async fn user_id_by_login(pool: &PgPool, org: Uuid, login: &str) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!("SELECT id FROM users WHERE org_id = $1 AND lower(login) = lower($2) AND NOT deleted", org, login)
        .fetch_optional(pool)
        .await
}

pub async fn department_id_by_name(pool: &PgPool, org: Uuid, name: &str) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM departments WHERE org_id = $1 AND lower(name) = lower($2) ORDER BY created_at, id LIMIT 1",
        org,
        name
    )
    .fetch_optional(pool)
    .await
}

/// One page of the org's groups and the total that match.
pub async fn groups(pool: &PgPool, org: Uuid, q: &ListQuery) -> Result<(Vec<ScimGroup>, i64), sqlx::Error> {
    total_and_page(pool, Resource::Group, GROUP_SELECT, org, q).await
}

/// One cursor page of the org's groups, the total that match, and where the next page starts.
pub async fn groups_after(
    pool: &PgPool,
    org: Uuid,
    q: &ListQuery,
    after: Option<&After>,
) -> Result<(Vec<ScimGroup>, i64, Option<After>), sqlx::Error> {
    cursor_page(pool, Resource::Group, GROUP_SELECT, org, q, after).await
}

pub async fn group(pool: &PgPool, org: Uuid, id: Uuid) -> Result<Option<ScimGroup>, sqlx::Error> {
    let mut qb = scoped(Resource::Group, GROUP_SELECT, org, None);
    qb.push(" AND g.id = ").push_bind(id);
    qb.build_query_as().fetch_optional(pool).await
}

/// A group's active members: user id and display name.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMember {
    pub group_id: Uuid,
    pub user_id: Uuid,
    pub display: String,
}

/// Active members of `groups`, oldest membership first.
pub async fn group_members(pool: &PgPool, groups: &[Uuid]) -> Result<Vec<GroupMember>, sqlx::Error> {
    if groups.is_empty() {
        return Ok(vec![]);
    }
    let rows = sqlx::query!(
        r#"SELECT m.group_id, m.user_id, u.first_name || ' ' || u.last_name AS "display!"
           FROM group_members m JOIN users u ON u.id = m.user_id AND NOT u.deleted
           WHERE m.group_id = ANY($1) AND m.status = 'active' ORDER BY m.added_at, m.user_id"#,
        groups,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| GroupMember { group_id: r.group_id, user_id: r.user_id, display: r.display }).collect())
}

/// The groups (id, name) a user is an active member of, by name.
pub async fn groups_of_user(pool: &PgPool, user: Uuid) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    Ok(groups_of_users(pool, &[user]).await?.remove(&user).unwrap_or_default())
}

/// The groups (id, name) each of `users` is an active member of, by name, in one query for a
/// whole page (a user without a group has no entry).
pub async fn groups_of_users(pool: &PgPool, users: &[Uuid]) -> Result<HashMap<Uuid, Vec<(Uuid, String)>>, sqlx::Error> {
    if users.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query!(
        "SELECT m.user_id, g.id, g.name FROM group_members m JOIN groups g ON g.id = m.group_id \
         WHERE m.user_id = ANY($1) AND m.status = 'active' ORDER BY m.user_id, g.name, g.id",
        users,
    )
    .fetch_all(pool)
    .await?;
    let mut of: HashMap<Uuid, Vec<(Uuid, String)>> = HashMap::new();
    for r in rows {
        of.entry(r.user_id).or_default().push((r.id, r.name));
    }
    Ok(of)
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER_SEARCH: &str = "u.id IN (SELECT s.id FROM user_search s WHERE s.search_text";

    fn sql(resource: Resource, f: &str) -> Result<(String, Vec<Param>), String> {
        let f = parse_filter(f).map_err(|e| e.message)?;
        compile(resource, &f).map(|c| c.text()).map_err(|e| e.message)
    }

    #[test]
    fn user_names_compare_case_insensitively_with_bound_values() {
        let (s, p) = sql(Resource::User, r#"userName eq "BJensen""#).unwrap();
        assert_eq!(s, format!("({USER_SEARCH} ILIKE $1 ESCAPE '\\') AND (lower(u.login) = lower($2)))"));
        assert_eq!(p, vec![Param::Text("%BJensen%".into()), Param::Text("BJensen".into())]);
        let (s, p) = sql(Resource::User, r#"externalId eq "AbC""#).unwrap();
        assert_eq!(s, "(u.external_user_id = $1)");
        assert_eq!(p, vec![Param::Text("AbC".into())]);
    }

    #[test]
    fn ids_in_their_canonical_text_compare_as_uuids() {
        let id = "6b1f7b4e-8d0c-4c8e-9a57-2f0c1d3e4a5b";
        let (s, p) = sql(Resource::User, &format!(r#"id eq "{id}" or manager ne "{id}""#)).unwrap();
        assert_eq!(s, "((u.id = $1) OR (u.reports_to IS DISTINCT FROM $2))");
        assert_eq!(p, vec![Param::Uuid(id.parse().unwrap()); 2]);
        // Any other text is text, compared case-exactly as before: it names no id.
        let (s, _) = sql(Resource::Group, &format!(r#"id eq "{}""#, id.to_uppercase())).unwrap();
        assert_eq!(s, "(g.id::text = $1)");
        let (s, _) = sql(Resource::Group, &format!(r#"id sw "{}""#, &id[..8])).unwrap();
        assert_eq!(s, "starts_with(g.id::text, $1)");
        let (s, p) = sql(Resource::Group, &format!(r#"members[value eq "{}"]"#, id.to_uppercase())).unwrap();
        assert!(s.ends_with("AND m.user_id = $1)"), "{s}");
        assert_eq!(p, vec![Param::Uuid(id.parse().unwrap())]);
        let (s, p) = sql(Resource::Group, r#"members[value eq "nobody"]"#).unwrap();
        assert!(s.ends_with("AND false)") && p.is_empty(), "{s}");
    }

    #[test]
    fn the_search_index_narrows_only_what_it_can() {
        // The value is found in the indexed text as a literal: LIKE's metacharacters escaped.
        let (s, p) = sql(Resource::Group, r#"displayName co "50%_off""#).unwrap();
        assert_eq!(s, "(g.name ILIKE $1 ESCAPE '\\' AND (strpos(lower(g.name), lower($2)) > 0))");
        assert_eq!(p, vec![Param::Text("%50\\%\\_off%".into()), Param::Text("50%_off".into())]);
        for (f, why) in [
            (r#"userName sw "ab""#, "a term under three characters has no trigram"),
            (r#"userName co "ab\u001fcd""#, "the separator could match across two fields"),
            (r#"userName gt "abc""#, "an ordering is not a substring"),
            (r#"title co "manager""#, "a title is not in the indexed text"),
            (r#"name.familyName sw "garcia""#, "a btree serves the prefix"),
            (r#"name.familyName eq "Garcia""#, "a btree serves equality"),
        ] {
            let (s, _) = sql(Resource::User, f).unwrap();
            assert!(!s.contains("ILIKE"), "{f}: {why}: {s}");
        }
        let (s, _) = sql(Resource::Group, r#"displayName eq "Sales""#).unwrap();
        assert!(!s.contains("ILIKE"), "a btree serves a group name's equality: {s}");
    }

    #[test]
    fn family_and_group_names_compare_in_the_collation_of_their_btree() {
        // Migration 0037's index is over `lower(last_name) COLLATE "C"`, 0039's over
        // `lower(name) COLLATE "C"`: a comparison in any other collation would not match them, and
        // the planner would read every user or group.
        let (s, _) = sql(Resource::Group, r#"displayName eq "Group Dev 4562""#).unwrap();
        assert_eq!(s, r#"(lower(g.name) COLLATE "C" = lower($1))"#);
        let (s, _) = sql(Resource::Group, r#"displayName sw "Group Dev""#).unwrap();
        assert_eq!(s, r#"starts_with(lower(g.name) COLLATE "C", lower($1))"#);
        let (s, p) = sql(Resource::User, r#"name.familyName sw "Gar""#).unwrap();
        assert_eq!(s, r#"starts_with(lower(u.last_name) COLLATE "C", lower($1))"#);
        assert_eq!(p, vec![Param::Text("Gar".into())]);
        let (s, _) = sql(Resource::User, r#"name.familyName eq "Garcia""#).unwrap();
        assert_eq!(s, r#"(lower(u.last_name) COLLATE "C" = lower($1))"#);
        let (s, _) = sql(Resource::User, r#"name.familyName ge "G""#).unwrap();
        assert_eq!(s, r#"(lower(u.last_name) COLLATE "C" >= lower($1))"#);
        // A substring is still narrowed by the trigram index, which no btree can serve.
        let (s, _) = sql(Resource::User, r#"name.familyName co "arci""#).unwrap();
        assert!(s.starts_with(&format!("({USER_SEARCH} ILIKE $1")), "{s}");
    }

    #[test]
    fn value_paths_urns_and_logic() {
        let (s, _) = sql(Resource::User, r#"emails[type eq "work" and value co "@x"] and not (active eq false)"#).unwrap();
        assert!(s.contains("'work'") && s.contains("strpos(lower(u.email)") && s.contains("NOT coalesce"), "{s}");
        sql(Resource::User, r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales""#).unwrap();
        sql(Resource::User, r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName sw "J""#).unwrap();
        sql(Resource::Group, r#"members[value eq "x"] or displayName pr"#).unwrap();
        sql(Resource::User, r#"meta.lastModified gt "2011-05-13T04:42:34Z""#).unwrap();
    }

    #[test]
    fn unknown_attributes_and_misused_operators_are_refused() {
        for bad in [
            r#"nope eq "x""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:Group:userName eq "x""#,
            r#"active gt true"#,
            r#"active eq "yes""#,
            r#"meta.created eq "yesterday""#,
            r#"userName eq true"#,
            r#"userName gt null"#,
            r#"emails[nope eq "x"]"#,
        ] {
            assert!(sql(Resource::User, bad).is_err(), "{bad}");
        }
        assert!(sql(Resource::Group, r#"userName eq "x""#).is_err());
    }
}
