//! SSO entries and quick links (WorkDrive E73–E74), one stream per entry. An entry lives at one
//! level: the whole organization (admin level, `manage=true`), a location, a department, or one
//! user. Admin, location and department entries need an org admin; anyone may keep their own.

use serde::{Deserialize, Serialize};

use crate::event::DomainEvent;
use crate::values::bounded_text;
use crate::{DomainError, OrgId, UserId};

pub const MAX_SSO_NAME_LEN: usize = 200;
pub const MAX_URL_LEN: usize = 2048;

/// Where an entry lives, and so who sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum SsoLevel {
    /// Org-wide (`manage=true`).
    Admin,
    Location(uuid::Uuid),
    Department(uuid::Uuid),
    /// One user's own entry.
    User(UserId),
}

impl SsoLevel {
    /// The spec's resolution: `manage=true` → admin (ids ignored); else `locationId` → location;
    /// else `departmentId` → department; else the caller's own.
    pub fn resolve(manage: bool, location_id: Option<uuid::Uuid>, department_id: Option<uuid::Uuid>, caller: UserId) -> Self {
        if manage {
            SsoLevel::Admin
        } else if let Some(l) = location_id {
            SsoLevel::Location(l)
        } else if let Some(d) = department_id {
            SsoLevel::Department(d)
        } else {
            SsoLevel::User(caller)
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            SsoLevel::Admin => "admin",
            SsoLevel::Location(_) => "location",
            SsoLevel::Department(_) => "department",
            SsoLevel::User(_) => "user",
        }
    }

    /// Whether only an org admin may create entries at this level.
    pub fn needs_admin(&self) -> bool {
        !matches!(self, SsoLevel::User(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SsoType {
    QuickLink,
    Sso,
}

impl SsoType {
    pub fn parse(field: &str, raw: Option<&str>) -> Result<Self, DomainError> {
        let raw =
            raw.map(str::trim).filter(|s| !s.is_empty()).ok_or_else(|| DomainError::invalid(field, "is required: QUICK_LINK or SSO"))?;
        if raw.eq_ignore_ascii_case("QUICK_LINK") {
            Ok(SsoType::QuickLink)
        } else if raw.eq_ignore_ascii_case("SSO") {
            Ok(SsoType::Sso)
        } else {
            Err(DomainError::invalid(field, format!("must be QUICK_LINK or SSO, got '{raw}'")))
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            SsoType::QuickLink => "QUICK_LINK",
            SsoType::Sso => "SSO",
        }
    }
}

/// An absolute http(s) URL with a host, no whitespace, at most `MAX_URL_LEN` characters.
pub fn parse_url(field: &str, raw: &str) -> Result<String, DomainError> {
    let s = raw.trim();
    if s.chars().count() > MAX_URL_LEN {
        return Err(DomainError::invalid(field, format!("must be at most {MAX_URL_LEN} characters")));
    }
    let bad = || DomainError::invalid(field, format!("must be an absolute http(s) URL like https://example.com/path, got '{s}'"));
    let lower = s.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &s[8..]
    } else if lower.starts_with("http://") {
        &s[7..]
    } else {
        return Err(bad());
    };
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = if let Some(r) = host_port.strip_prefix('[') {
        let (h, after) = r.split_once(']').ok_or_else(bad)?;
        if !after.is_empty() && !after.starts_with(':') {
            return Err(bad());
        }
        (h, after.strip_prefix(':'))
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.is_empty() || host.starts_with('.') || port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return Err(bad());
    }
    Ok(s.to_string())
}

/// What a client sent, before validation. Empty strings count as absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SsoInput {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub authorization_uri: Option<String>,
    pub token_uri: Option<String>,
    pub refresh_uri: Option<String>,
    pub login_url: Option<String>,
    pub link: Option<String>,
    pub order: Option<i64>,
    pub file_id: Option<uuid::Uuid>,
}

#[derive(Debug, Clone)]
pub enum SsoCommand {
    Create { id: uuid::Uuid, org_id: OrgId, level: SsoLevel, input: SsoInput, created_by: UserId, by_admin: bool },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum SsoEvent {
    SsoCreated {
        id: uuid::Uuid,
        org_id: OrgId,
        level: SsoLevel,
        /// `QUICK_LINK` or `SSO` (WorkDrive's `type`). Schema rev 1 called it `sso_type`.
        kind: SsoType,
        name: Option<String>,
        authorization_uri: Option<String>,
        token_uri: Option<String>,
        refresh_uri: Option<String>,
        login_url: Option<String>,
        link: Option<String>,
        order: i32,
        file_id: Option<uuid::Uuid>,
        created_by: UserId,
    },
}

impl DomainEvent for SsoEvent {
    const STREAM_TYPE: &'static str = "sso";

    /// Rev 2: `SsoCreated.sso_type` became `kind`, the name the domain and the read model use.
    const SCHEMA_REV: i16 = 2;

    fn event_type(&self) -> &'static str {
        match self {
            SsoEvent::SsoCreated { .. } => "SsoCreated",
        }
    }

    fn upcast(event_type: &str, schema_rev: i16, mut payload: serde_json::Value) -> serde_json::Value {
        if schema_rev < 2 && event_type == "SsoCreated" {
            if let Some(map) = payload.as_object_mut() {
                if let Some(kind) = map.remove("sso_type") {
                    map.insert("kind".into(), kind);
                }
            }
        }
        payload
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sso {
    pub id: uuid::Uuid,
    pub org_id: OrgId,
    pub level: SsoLevel,
}

pub struct SsoAggregate;

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn url(field: &str, v: &Option<String>, required: bool) -> Result<Option<String>, DomainError> {
    match present(v) {
        Some(s) => parse_url(field, s).map(Some),
        None if required => Err(DomainError::invalid(field, "is required")),
        None => Ok(None),
    }
}

impl esrs::Aggregate for SsoAggregate {
    const NAME: &'static str = "sso";
    type State = Option<Sso>;
    type Command = SsoCommand;
    type Event = SsoEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        match command {
            SsoCommand::Create { id, org_id, level, input, created_by, by_admin } => {
                if state.is_some() {
                    return Err(DomainError::AlreadyExists("sso"));
                }
                if level.needs_admin() && !by_admin {
                    return Err(DomainError::Forbidden(format!(
                        "only an organization admin may create {}-level SSO entries",
                        level.as_str()
                    )));
                }
                let sso_type = SsoType::parse("type", input.kind.as_deref())?;
                let quick = sso_type == SsoType::QuickLink;
                let name = present(&input.name).map(|n| bounded_text("name", n, MAX_SSO_NAME_LEN)).transpose()?;
                let link = url("link", &input.link, quick)?;
                let authorization_uri = url("authorization_uri", &input.authorization_uri, !quick)?;
                let token_uri = url("token_uri", &input.token_uri, !quick)?;
                let refresh_uri = url("refresh_uri", &input.refresh_uri, !quick)?;
                let login_url = url("login_url", &input.login_url, !quick)?;
                let order = match input.order {
                    None => 0,
                    Some(n) => i32::try_from(n)
                        .ok()
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| DomainError::invalid("order", format!("must be between 0 and {}, got {n}", i32::MAX)))?,
                };
                Ok(vec![SsoEvent::SsoCreated {
                    id,
                    org_id,
                    level,
                    kind: sso_type,
                    name,
                    authorization_uri,
                    token_uri,
                    refresh_uri,
                    login_url,
                    link,
                    order,
                    file_id: input.file_id,
                    created_by,
                }])
            }
        }
    }

    fn apply_event(_state: Self::State, event: Self::Event) -> Self::State {
        match event {
            SsoEvent::SsoCreated { id, org_id, level, .. } => Some(Sso { id, org_id, level }),
        }
    }
}

#[cfg(test)]
mod tests {
    use esrs::Aggregate;

    use super::*;

    fn caller() -> UserId {
        UserId(uuid::Uuid::from_u128(7))
    }

    fn create(level: SsoLevel, input: SsoInput, by_admin: bool) -> Result<Vec<SsoEvent>, DomainError> {
        SsoAggregate::handle_command(
            &None,
            SsoCommand::Create {
                id: uuid::Uuid::from_u128(1),
                org_id: OrgId(uuid::Uuid::from_u128(2)),
                level,
                input,
                created_by: caller(),
                by_admin,
            },
        )
    }

    fn quick(link: &str) -> SsoInput {
        SsoInput { kind: Some("QUICK_LINK".into()), name: Some("Wiki".into()), link: Some(link.into()), ..SsoInput::default() }
    }

    fn sso() -> SsoInput {
        SsoInput {
            kind: Some("SSO".into()),
            name: Some("Okta".into()),
            authorization_uri: Some("https://idp.example.com/authorize".into()),
            token_uri: Some("https://idp.example.com/token".into()),
            refresh_uri: Some("https://idp.example.com/refresh".into()),
            login_url: Some("https://app.example.com/login".into()),
            ..SsoInput::default()
        }
    }

    fn field(err: DomainError) -> String {
        match err {
            DomainError::Invalid { field, .. } => field,
            other => panic!("not a field error: {other:?}"),
        }
    }

    #[test]
    fn level_resolution_follows_the_spec() {
        let (l, d) = (Some(uuid::Uuid::from_u128(10)), Some(uuid::Uuid::from_u128(20)));
        assert_eq!(SsoLevel::resolve(true, l, d, caller()), SsoLevel::Admin);
        assert_eq!(SsoLevel::resolve(false, l, d, caller()), SsoLevel::Location(l.unwrap()));
        assert_eq!(SsoLevel::resolve(false, None, d, caller()), SsoLevel::Department(d.unwrap()));
        assert_eq!(SsoLevel::resolve(false, None, None, caller()), SsoLevel::User(caller()));
    }

    #[test]
    fn each_type_requires_its_fields_naming_them() {
        assert_eq!(field(create(SsoLevel::User(caller()), SsoInput::default(), false).unwrap_err()), "type");
        let bad_type = SsoInput { kind: Some("LINK".into()), ..quick("https://x.io") };
        assert_eq!(field(create(SsoLevel::User(caller()), bad_type, false).unwrap_err()), "type");
        let no_link = SsoInput { link: None, ..quick("") };
        assert_eq!(field(create(SsoLevel::User(caller()), no_link, false).unwrap_err()), "link");
        for (name, strip) in [
            ("authorization_uri", Box::new(|i: &mut SsoInput| i.authorization_uri = None) as Box<dyn Fn(&mut SsoInput)>),
            ("token_uri", Box::new(|i: &mut SsoInput| i.token_uri = Some("  ".into()))),
            ("refresh_uri", Box::new(|i: &mut SsoInput| i.refresh_uri = None)),
            ("login_url", Box::new(|i: &mut SsoInput| i.login_url = None)),
        ] {
            let mut input = sso();
            strip(&mut input);
            assert_eq!(field(create(SsoLevel::User(caller()), input, false).unwrap_err()), name);
        }
        // A quick link needs no SSO URIs, an SSO no link.
        assert!(create(SsoLevel::User(caller()), quick("https://wiki.example.com"), false).is_ok());
        assert!(create(SsoLevel::User(caller()), sso(), false).is_ok());
        // Lower-case type names are accepted and stored canonically.
        let ev = create(SsoLevel::User(caller()), SsoInput { kind: Some("quick_link".into()), ..quick("https://a.io") }, false).unwrap();
        assert!(matches!(&ev[0], SsoEvent::SsoCreated { kind: SsoType::QuickLink, .. }));
    }

    #[test]
    fn urls_order_and_name_are_validated() {
        for bad in ["wiki", "ftp://x.io", "https://", "https:// x.io", "http://:80/", "https://x.io:99999/"] {
            let err = create(SsoLevel::User(caller()), quick(bad), false).unwrap_err();
            assert_eq!(field(err), "link", "{bad}");
        }
        for good in ["https://x.io", "HTTP://localhost:8080/a?b=c#d", "https://[::1]:443/x", "https://user@host.example/"] {
            assert!(create(SsoLevel::User(caller()), quick(good), false).is_ok(), "{good}");
        }
        let bad_uri = SsoInput { token_uri: Some("not a url".into()), ..sso() };
        assert_eq!(field(create(SsoLevel::User(caller()), bad_uri, false).unwrap_err()), "token_uri");
        // An optional URL that is given must still be a URL.
        let bad_extra = SsoInput { login_url: Some("nope".into()), ..quick("https://x.io") };
        assert_eq!(field(create(SsoLevel::User(caller()), bad_extra, false).unwrap_err()), "login_url");
        let neg = SsoInput { order: Some(-1), ..quick("https://x.io") };
        assert_eq!(field(create(SsoLevel::User(caller()), neg, false).unwrap_err()), "order");
        let huge = SsoInput { order: Some(i64::from(i32::MAX) + 1), ..quick("https://x.io") };
        assert_eq!(field(create(SsoLevel::User(caller()), huge, false).unwrap_err()), "order");
        let long = SsoInput { name: Some("x".repeat(MAX_SSO_NAME_LEN + 1)), ..quick("https://x.io") };
        assert_eq!(field(create(SsoLevel::User(caller()), long, false).unwrap_err()), "name");
        let ev = create(SsoLevel::User(caller()), SsoInput { order: Some(3), ..quick(" https://x.io ") }, false).unwrap();
        assert!(matches!(&ev[0], SsoEvent::SsoCreated { order: 3, link: Some(l), .. } if l == "https://x.io"));
    }

    #[test]
    fn only_admins_create_shared_levels() {
        for level in [SsoLevel::Admin, SsoLevel::Location(uuid::Uuid::from_u128(5)), SsoLevel::Department(uuid::Uuid::from_u128(6))] {
            assert!(matches!(create(level, quick("https://x.io"), false), Err(DomainError::Forbidden(_))), "{level:?}");
            assert!(create(level, quick("https://x.io"), true).is_ok());
        }
        assert!(create(SsoLevel::User(caller()), quick("https://x.io"), false).is_ok());
    }

    #[test]
    fn events_round_trip_and_a_stream_is_created_once() {
        let ev = create(SsoLevel::Department(uuid::Uuid::from_u128(6)), sso(), true).unwrap();
        let (t, payload) = ev[0].to_parts().unwrap();
        assert_eq!(t, "SsoCreated");
        assert_eq!(payload["level"], serde_json::json!({"kind": "department", "id": uuid::Uuid::from_u128(6)}));
        assert_eq!(payload["kind"], "SSO");
        assert_eq!(SsoEvent::from_parts(t, SsoEvent::SCHEMA_REV, payload.clone()).unwrap(), ev[0]);
        // A rev-1 payload (`sso_type`) reads as the same event.
        let mut old = payload;
        let kind = old.as_object_mut().unwrap().remove("kind").unwrap();
        old["sso_type"] = kind;
        assert_eq!(SsoEvent::from_parts(t, 1, old).unwrap(), ev[0]);
        let state = ev.into_iter().fold(None, SsoAggregate::apply_event);
        let again = SsoAggregate::handle_command(
            &state,
            SsoCommand::Create {
                id: uuid::Uuid::from_u128(1),
                org_id: OrgId(uuid::Uuid::from_u128(2)),
                level: SsoLevel::Admin,
                input: sso(),
                created_by: caller(),
                by_admin: true,
            },
        );
        assert_eq!(again.unwrap_err(), DomainError::AlreadyExists("sso"));
    }
}
