//! Publisher's group list sort: `sort` keys and the columns they order by, so that the only SQL
//! a client's sort can produce is written here.

/// A `sort` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSort {
    Name,
    Created,
    Updated,
    Id,
}

impl GroupSort {
    /// The key a client names (`name`, `created`, `updated`, `id`), case-insensitively.
    pub fn parse(name: &str) -> Option<GroupSort> {
        match name.to_ascii_lowercase().as_str() {
            "name" => Some(GroupSort::Name),
            "created" => Some(GroupSort::Created),
            "updated" => Some(GroupSort::Updated),
            "id" => Some(GroupSort::Id),
            _ => None,
        }
    }

    fn column(self) -> &'static str {
        match self {
            GroupSort::Name => "g.name",
            GroupSort::Created => "g.created_at",
            GroupSort::Updated => "g.updated_at",
            GroupSort::Id => "g.number",
        }
    }
}

/// The ORDER BY list of sort keys, each `(key, descending)`; empty for none.
pub fn order_by(keys: &[(GroupSort, bool)]) -> String {
    keys.iter().map(|(k, desc)| format!("{} {}", k.column(), if *desc { "DESC" } else { "ASC" })).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_their_columns() {
        assert_eq!(order_by(&[(GroupSort::Name, true), (GroupSort::Created, false)]), "g.name DESC, g.created_at ASC");
        assert_eq!(order_by(&[]), "");
        assert_eq!(GroupSort::parse("UPDATED"), Some(GroupSort::Updated));
        assert_eq!(GroupSort::parse("name;drop table groups"), None);
    }
}
