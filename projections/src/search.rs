//! Substring search (`ILIKE '%term%'`) written so the trigram indexes of migration 0023 serve it
//! when they can and stay out of the plan when they cannot.

/// The shortest term the trigram indexes can narrow: a pattern with fewer characters has no whole
/// trigram, so every indexed row matches it.
pub const TRIGRAM_MIN_TERM: usize = 3;

/// What joins a user's login, names and email in `user_search.search_text` (migration 0043's
/// `user_search_text`), read by NexPort's user search and SCIM's user filters: a term holding it
/// could match across two fields there, so such a term is matched field by field instead.
pub const USER_SEARCH_SEPARATOR: char = '\u{1f}';

/// `text` with LIKE's metacharacters escaped (by `\`, LIKE's default escape), so a client
/// searching for `50%` matches the literal text.
pub fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// The `ILIKE` pattern matching `term` anywhere, its `\`, `%` and `_` taken literally.
pub fn contains_pattern(term: &str) -> String {
    format!("%{}%", like_escape(term))
}

/// Whether a search for `term` may be answered from the trigram indexes.
///
/// A shorter term must not be: Postgres soon reuses a generic plan for a prepared statement, and
/// that plan would scan the indexes whole (5 s at a million users, against 3.4 s reading the
/// table). Its SQL matches `(column || '')` instead: the same comparison, on an expression no
/// index covers, so its plan reads the table whatever the plan cache decides.
pub fn uses_trigrams(term: &str) -> bool {
    term.chars().count() >= TRIGRAM_MIN_TERM
}

/// SQL that holds when any of `columns` contains the pattern bound at `$placeholder` (see
/// `contains_pattern`), in the form `uses_trigrams` decides for `term`.
pub fn any_contains(columns: &[&str], placeholder: usize, term: &str) -> String {
    let arms: Vec<String> = columns
        .iter()
        .map(|c| {
            if uses_trigrams(term) {
                format!("{c} ILIKE ${placeholder} ESCAPE '\\'")
            } else {
                format!("({c} || '') ILIKE ${placeholder} ESCAPE '\\'")
            }
        })
        .collect();
    format!("({})", arms.join(" OR "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_terms_keep_the_indexes_out_of_the_plan() {
        assert_eq!(
            any_contains(&["g.name", "g.description"], 4, "ops"),
            "(g.name ILIKE $4 ESCAPE '\\' OR g.description ILIKE $4 ESCAPE '\\')"
        );
        assert_eq!(any_contains(&["g.name"], 2, "op"), "((g.name || '') ILIKE $2 ESCAPE '\\')");
        // Characters, not bytes: two letters of three bytes each are still a short term.
        assert!(!uses_trigrams("€€"));
    }

    #[test]
    fn the_pattern_takes_wildcards_literally() {
        assert_eq!(contains_pattern(r"50%_a\b"), r"%50\%\_a\\b%");
    }
}
