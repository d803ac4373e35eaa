//! Listing and reading user groups.

use super::*;

/// `lastweek` | `lastmonth` | `lastyear` | `YYYYMMDD,YYYYMMDD` (both whole days, UTC).
pub(super) fn date_range(field: &str, raw: &str, now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let far = now + Duration::days(1);
    match raw.trim().to_ascii_lowercase().as_str() {
        "lastweek" => return Ok((now - Duration::days(7), far)),
        "lastmonth" => return Ok((now.checked_sub_months(chrono::Months::new(1)).unwrap_or(now), far)),
        "lastyear" => return Ok((now.checked_sub_months(chrono::Months::new(12)).unwrap_or(now), far)),
        _ => {}
    }
    let bad = || ApiError::invalid(field, "must be lastweek, lastmonth, lastyear or YYYYMMDD,YYYYMMDD");
    let (a, b) = raw.split_once(',').ok_or_else(bad)?;
    let day = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y%m%d").map_err(|_| bad());
    let (from, to) = (day(a)?, day(b)?);
    if to < from {
        return Err(ApiError::invalid(field, "the range ends before it starts"));
    }
    let start = from.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc();
    let end = (to + Duration::days(1)).and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc();
    Ok((start, end))
}

/// `-name,+created`: `-` descending, `+` (or a space, an unencoded `+`) or nothing ascending.
pub(super) fn order_by(raw: &str) -> Result<String, ApiError> {
    let mut keys = Vec::new();
    for part in raw.split(',').filter(|p| !p.trim().is_empty()) {
        let t = part.trim_start();
        let (desc, name) = match t.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let name = name.trim().to_ascii_lowercase();
        let key = GroupSort::parse(&name)
            .ok_or_else(|| ApiError::invalid("sort", format!("unknown field '{name}'; use name, created, updated or id")))?;
        keys.push((key, desc));
    }
    Ok(projections::publisher::order_by(&keys))
}

pub(super) fn list_query(q: &HashMap<String, String>, now: DateTime<Utc>) -> Result<(PublisherListQuery, Vec<&'static str>), ApiError> {
    let get = |names: &[&str]| names.iter().find_map(|n| q.get(*n)).map(String::as_str).filter(|s| !s.trim().is_empty());
    let limit = crate::kernel::dialect::int_param(super::LIMIT, get(&["limit"]), DEFAULT_LIMIT)?;
    let offset = crate::kernel::dialect::int_param(super::OFFSET, get(&["offset"]), 0)?;
    let created = get(&["createddate", "createddatetime"]).map(|r| date_range("createdDate", r, now)).transpose()?;
    let modified = get(&["modifieddate", "modifieddatetime"]).map(|r| date_range("modifiedDate", r, now)).transpose()?;
    let fields: Vec<&'static str> = match get(&["fields"]) {
        None => SUMMARY_FIELDS.to_vec(),
        Some(f) if f.trim().eq_ignore_ascii_case("all") => KNOWN_FIELDS.to_vec(),
        // Unknown names are ignored (open question 3).
        Some(f) => {
            let wanted: Vec<String> = f.split(',').map(|s| s.trim().to_ascii_lowercase()).collect();
            KNOWN_FIELDS.iter().copied().filter(|k| wanted.iter().any(|w| w == k)).collect()
        }
    };
    let query = PublisherListQuery {
        search: get(&["search"]).map(|s| s.trim().to_string()),
        created,
        modified,
        order_by: get(&["sort"]).map(order_by).transpose()?.unwrap_or_default(),
        offset,
        limit,
    };
    Ok((query, fields))
}

/// List user groups: `search`, `sort`, `fields`, `limit`, `offset`, `createdDate`, `modifiedDate`.
#[utoipa::path(get, path = "/api/2/groups", tag = "Publisher",
    params(("search" = Option<String>, Query), ("sort" = Option<String>, Query, description = "e.g. `-name,+created`"),
           ("fields" = Option<String>, Query, description = "`all` or a list of id,name,link,users,createddate,modifieddate,organisationcount"),
           ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query),
           ("createdDate" = Option<String>, Query, description = "lastweek | lastmonth | lastyear | YYYYMMDD,YYYYMMDD (also createdDateTime)"),
           ("modifiedDate" = Option<String>, Query)),
    responses((status = 200, content((PublisherGroupList = "application/json"), (PublisherGroupList = "application/xml"))),
              (status = 400, content((PublisherError = "application/json"), (PublisherError = "application/xml"))),
              (status = 401, body = PublisherError), (status = 406, body = PublisherError)),
    security(("bearer" = [])))]
pub async fn list_groups(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(raw): Query<Vec<(String, String)>>,
) -> Result<Response, Failure> {
    let fmt = negotiate(&headers)?;
    let (_, org) = caller(&st, &headers).await?;
    let q: HashMap<String, String> = raw.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    if let Some(k) = q.iter().find_map(|(k, v)| (k.contains('\0') || v.contains('\0')).then(|| k.replace('\0', "\\u0000"))) {
        return Err(ApiError::invalid(k, crate::kernel::dialect::NUL_MESSAGE).into());
    }
    let (query, fields) = list_query(&q, Utc::now())?;
    let (rows, total) = if query.limit == 0 {
        let (_, total) = queries::publisher_groups_page(&st.pool, org.0, &PublisherListQuery { limit: 0, ..query.clone() }).await?;
        (vec![], total)
    } else {
        queries::publisher_groups_page(&st.pool, org.0, &query).await?
    };
    let base = base_url(&headers);
    let x = extras(&st, &rows, &fields).await?;
    let groups: Vec<Value> = rows.iter().map(|g| group_object(g, &fields, &base, &x)).collect();
    let currentpage = if query.limit == 0 { 0 } else { query.offset / query.limit };
    let json_body = json!({ "total": total, "currentpage": currentpage, "groups": groups });
    let xml = json!({ "total": total, "currentpage": currentpage, "group": groups });
    Ok(render(fmt, StatusCode::OK, "groups", &xml, json_body))
}

/// One user group: `{group: {id, name, users, createddate, organisationcount}}`.
#[utoipa::path(get, path = "/api/2/groups/{id}", tag = "Publisher", params(("id" = i64, Path)),
    responses((status = 200, content((PublisherGroupEnvelope = "application/json"), (PublisherGroupEnvelope = "application/xml"))),
              (status = 404, content((PublisherError = "application/json"), (PublisherError = "application/xml"))), (status = 401, body = PublisherError)),
    security(("bearer" = [])))]
pub async fn read_group(State(st): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, Failure> {
    let fmt = negotiate(&headers)?;
    let (_, org) = caller(&st, &headers).await?;
    let g = find_group(&st, org, &id).await?;
    Ok(one_group(&st, fmt, StatusCode::OK, &g, FULL_FIELDS, &base_url(&headers)).await?)
}
