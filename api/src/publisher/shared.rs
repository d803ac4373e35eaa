//! Steps every Publisher handler shares: the caller, the format, the group, the users.

use super::*;

pub(super) async fn caller(st: &AppState, headers: &HeaderMap) -> Result<(Principal, OrgId), Failure> {
    let p = authenticate(st, bearer_header(headers)).await?;
    let org = p.org()?;
    Ok((p, org))
}

pub(super) fn negotiate(headers: &HeaderMap) -> Result<Format, Failure> {
    accept(headers)
        .ok_or_else(|| Failure::Status(StatusCode::NOT_ACCEPTABLE, "Accept must allow application/json or application/xml".into()))
}

pub(super) async fn find_group(st: &AppState, org: OrgId, raw: &str) -> Result<GroupRow, Failure> {
    let not_found = || Failure::Status(StatusCode::NOT_FOUND, format!("user group {raw} not found"));
    let number: i64 = raw.trim().parse().map_err(|_| not_found())?;
    queries::group_by_number(&st.pool, org.0, number).await?.ok_or_else(not_found)
}

/// Resolves user ids (numbers) or, when `emails_allowed`, emails; unknown or inactive users → 400
/// naming every offender.
pub(super) async fn resolve_users(st: &AppState, org: OrgId, raw: &[String], emails_allowed: bool) -> Result<Vec<UserId>, Failure> {
    let mut numbers = Vec::new();
    let mut emails = Vec::new();
    let mut bad = Vec::new();
    for r in raw {
        let r = r.trim();
        match r.parse::<i64>() {
            Ok(n) => numbers.push(n),
            Err(_) if emails_allowed && r.contains('@') => emails.push(r.to_lowercase()),
            Err(_) => bad.push(r.to_string()),
        }
    }
    let by_number = queries::users_by_numbers(&st.pool, org.0, &numbers).await?;
    let by_email = queries::users_by_emails(&st.pool, org.0, &emails).await?;
    // "Active" as Publisher means it: a user who may sign in (not archived, not blocked).
    let active = |u: &&UserRow| !matches!(u.status.as_str(), "ARCHIVE" | "BLOCKED");
    let mut out = Vec::new();
    for r in raw {
        let r = r.trim();
        let found = match r.parse::<i64>() {
            Ok(n) => by_number.iter().filter(active).find(|u| u.number == n),
            Err(_) => by_email.iter().filter(active).find(|u| u.email.eq_ignore_ascii_case(r)),
        };
        match found {
            Some(u) => out.push(UserId(u.id)),
            None if !bad.iter().any(|b| b == r) => bad.push(r.to_string()),
            None => {}
        }
    }
    if !bad.is_empty() {
        return Err(Failure::Status(StatusCode::BAD_REQUEST, format!("users: unknown or inactive users: {}", bad.join(", "))));
    }
    Ok(out)
}

pub(super) fn required_name(p: &Parsed) -> Result<String, Failure> {
    p.name.clone().filter(|n| !n.trim().is_empty()).ok_or_else(|| Failure::Status(StatusCode::BAD_REQUEST, "name: is required".into()))
}
