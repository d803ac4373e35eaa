//! How a dialect spells the field names the domain originates. The domain names fields in
//! neutral snake_case (`domain::error::FIELD_NAMES`); each dialect lists, explicitly, how its
//! clients spell the ones they can meet, and every error answer is spelled through [`spell_error`]
//! before the dialect renders it (see [`super::dialect::respond`]).

use super::error::ApiError;

/// Neutral name → the dialect's spelling. Explicit rather than a case conversion: dialects are
/// not consistent (`loginURL`, `Content-Type`, NexPort's `login` for the user name).
pub type FieldNames = &'static [(&'static str, &'static str)];

/// `path` with each dotted segment's name spelled by `table`, index suffixes kept
/// (`data[3].reports_to` → `data[3].reportsTo`). A name not in the table is kept: it is one the
/// dialect's own parser handed in, already in the client's spelling.
pub fn spell(table: FieldNames, path: &str) -> String {
    path.split('.')
        .map(|segment| {
            let (name, index) = segment.split_at(segment.find('[').unwrap_or(segment.len()));
            let name = table.iter().find(|(neutral, _)| *neutral == name).map_or(name, |(_, spelled)| spelled);
            format!("{name}{index}")
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// `err` with the field names it carries spelled by `table`. A not-found names its subject first
/// (`reports_to not found`, `id[1]: user not found`, see `From<DomainError>`); the subject is an
/// entity kind or a field path, and only field paths are in a table.
pub fn spell_error(table: FieldNames, err: &ApiError) -> ApiError {
    match err {
        ApiError::Invalid { field, message } => ApiError::Invalid { field: spell(table, field), message: message.clone() },
        ApiError::NotFound(m) => {
            let spelled = if let Some((subject, rest)) = m.split_once(": ") {
                format!("{}: {rest}", spell(table, subject))
            } else if let Some(subject) = m.strip_suffix(" not found") {
                format!("{} not found", spell(table, subject))
            } else {
                m.clone()
            };
            ApiError::NotFound(spelled)
        }
        other => other.clone(),
    }
}

/// Test support: the neutral names of `areas` (slices of `domain::error::fields`) that `table`
/// must spell. Multi-word names are the ones whose spelling differs between conventions; a
/// single lowercase word reads the same in all of them.
#[cfg(test)]
pub fn unspelled(table: FieldNames, areas: &[&[&'static str]]) -> Vec<&'static str> {
    let mut missing: Vec<&'static str> = areas
        .iter()
        .flat_map(|area| area.iter().copied())
        .filter(|name| name.contains('_') && !table.iter().any(|(neutral, _)| neutral == name))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    missing
}

/// Test support: the entries of `table` that spell no name the domain originates (stale ones).
#[cfg(test)]
pub fn unknown(table: FieldNames) -> Vec<&'static str> {
    table.iter().map(|(neutral, _)| *neutral).filter(|n| !domain::error::FIELD_NAMES.iter().any(|area| area.contains(n))).collect()
}

/// Test support: what a dialect's table test asserts.
#[cfg(test)]
pub fn assert_covers(table: FieldNames, areas: &[&[&'static str]]) {
    assert_eq!(unspelled(table, areas), Vec::<&str>::new(), "neutral names the dialect can meet but does not spell");
    assert_eq!(unknown(table), Vec::<&str>::new(), "entries for names the domain does not originate");
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: FieldNames = &[("reports_to", "reportsTo"), ("contact_info", "contactInfo"), ("postal_code", "postalCode")];

    #[test]
    fn each_segment_is_spelled_and_indexes_are_kept() {
        assert_eq!(spell(TABLE, "reports_to"), "reportsTo");
        assert_eq!(spell(TABLE, "data[3].reports_to"), "data[3].reportsTo");
        assert_eq!(spell(TABLE, "contact_info.postal_code"), "contactInfo.postalCode");
        assert_eq!(spell(TABLE, "contact_info[0].postal_code[2]"), "contactInfo[0].postalCode[2]");
        // The dialect's own names, and keys a client chose, pass unchanged.
        assert_eq!(spell(TABLE, "custom_profile_field_values.ShirtSize"), "custom_profile_field_values.ShirtSize");
        assert_eq!(spell(TABLE, "ids[3]"), "ids[3]");
        assert_eq!(spell(TABLE, ""), "");
    }

    #[test]
    fn errors_are_spelled_where_they_carry_a_field() {
        assert_eq!(spell_error(TABLE, &ApiError::invalid("data[1].reports_to", "x")), ApiError::invalid("data[1].reportsTo", "x"));
        assert_eq!(
            spell_error(TABLE, &ApiError::NotFound("reports_to not found".into())),
            ApiError::NotFound("reportsTo not found".into())
        );
        assert_eq!(
            spell_error(TABLE, &ApiError::NotFound("data[0].reports_to: user not found".into())),
            ApiError::NotFound("data[0].reportsTo: user not found".into())
        );
        assert_eq!(spell_error(TABLE, &ApiError::NotFound("user not found".into())), ApiError::NotFound("user not found".into()));
        assert_eq!(spell_error(TABLE, &ApiError::Conflict("reports_to".into())), ApiError::Conflict("reports_to".into()));
    }
}
