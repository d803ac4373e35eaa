//! User Group objects as Publisher renders them.

use super::*;

#[derive(Debug, Serialize, ToSchema)]
pub struct PublisherGroupSummary {
    pub id: i64,
    pub name: String,
    pub link: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublisherGroup {
    pub id: i64,
    pub name: String,
    pub users: Vec<i64>,
    /// `dd-MM-yyyy HH:mm:ss:SSS`, UTC.
    pub createddate: String,
    pub organisationcount: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublisherGroupEnvelope {
    #[schema(value_type = Object)]
    pub group: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublisherGroupList {
    pub total: i64,
    pub currentpage: i64,
    #[schema(value_type = Vec<Object>)]
    pub groups: Vec<Value>,
}

pub(super) fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let scheme = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("http");
    format!("{scheme}://{host}")
}

/// Data for building group objects: member numbers and org counts, loaded once per answer.
pub(super) struct Extras {
    pub(super) users: HashMap<uuid::Uuid, Vec<i64>>,
    pub(super) org_counts: HashMap<uuid::Uuid, i64>,
}

pub(super) async fn extras(st: &AppState, groups: &[GroupRow], fields: &[&str]) -> Result<Extras, ApiError> {
    let ids: Vec<uuid::Uuid> = groups.iter().map(|g| g.id).collect();
    let mut users: HashMap<uuid::Uuid, Vec<i64>> = HashMap::new();
    if fields.contains(&"users") {
        for (g, n) in queries::member_numbers(&st.pool, &ids).await? {
            users.entry(g).or_default().push(n);
        }
    }
    let mut org_counts = HashMap::new();
    if fields.contains(&"organisationcount") {
        org_counts.extend(queries::member_org_counts(&st.pool, &ids).await?);
    }
    Ok(Extras { users, org_counts })
}

pub(super) fn group_object(g: &GroupRow, fields: &[&str], base: &str, x: &Extras) -> Value {
    let mut m = Map::new();
    for f in fields {
        let v: Value = match *f {
            "id" => g.number.into(),
            "name" => g.name.clone().into(),
            "link" => format!("{base}/api/2/groups/{}", g.number).into(),
            "users" => x.users.get(&g.id).cloned().unwrap_or_default().into(),
            "createddate" => g.created_at.format(DATE_FORMAT).to_string().into(),
            "modifieddate" => g.updated_at.format(DATE_FORMAT).to_string().into(),
            "organisationcount" => x.org_counts.get(&g.id).copied().unwrap_or(0).into(),
            _ => continue,
        };
        m.insert((*f).to_string(), v);
    }
    Value::Object(m)
}

pub(super) async fn one_group(
    st: &AppState,
    fmt: Format,
    status: StatusCode,
    g: &GroupRow,
    fields: &[&str],
    base: &str,
) -> Result<Response, ApiError> {
    let x = extras(st, std::slice::from_ref(g), fields).await?;
    let obj = group_object(g, fields, base, &x);
    Ok(render(fmt, status, "group", &obj, json!({ "group": obj })))
}
