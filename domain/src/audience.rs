//! Who may see a piece of WorkDrive content (DESIGN §11, "Visibility").
//!
//! Every item (post, news, event, video, photo, document, FAQ, ...) carries the seed's
//! `Permissions`, kept here as an [`Audience`]. An audience is turned into *grants*: the
//! principals that may see the item. A reader sees an item when one of the reader's principals is
//! among the item's grants. The read side stores the grants as rows and computes the reader's
//! principals in SQL at the moment it answers, so lists, counts and direct reads ask the same
//! question and a page never holds what the reader may not see.
//!
//! The rules, fixed here once:
//! - the author always sees their own items;
//! - `onlyMe` overrides everything: the author alone;
//! - otherwise the union of `public` (the whole org), `friends` (the author's followers), `team`
//!   (anyone who shares a team with the author: a team is a supervisor, the users reporting to
//!   them, and users who joined it as an additional team), the listed users, security groups and
//!   locations, and the tagged users (being tagged in an item shows it to you).
//! - No flag and no list: the author alone. An omitted `permissions` is [`Audience::public`].

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{DomainError, OrgId, UserId};

/// The longest list an audience may name (users, security groups, locations, tagged users, each).
pub const MAX_AUDIENCE_IDS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Audience {
    pub public: bool,
    pub friends: bool,
    pub team: bool,
    pub only_me: bool,
    #[serde(default)]
    pub users: Vec<UserId>,
    /// Security groups.
    #[serde(default)]
    pub groups: Vec<Uuid>,
    #[serde(default)]
    pub locations: Vec<Uuid>,
    #[serde(default)]
    pub tagged_users: Vec<UserId>,
}

impl Default for Audience {
    fn default() -> Self {
        Audience::public()
    }
}

/// One principal that may see an item. The read side keeps each as a `(kind, ref)` row; a
/// reader's own principals are computed with the same kinds (see `projections::content::audience`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grant {
    /// Every member of the organization.
    Org(OrgId),
    User(UserId),
    SecurityGroup(Uuid),
    Location(Uuid),
    /// The followers of this author.
    FollowersOf(UserId),
    /// Everyone who shares a team with this author.
    TeamOf(UserId),
}

impl Grant {
    /// The stored kind; part of the read model's schema, so never renumber.
    pub fn kind(&self) -> i16 {
        match self {
            Grant::Org(_) => 0,
            Grant::User(_) => 1,
            Grant::SecurityGroup(_) => 2,
            Grant::Location(_) => 3,
            Grant::FollowersOf(_) => 4,
            Grant::TeamOf(_) => 5,
        }
    }

    pub fn reference(&self) -> Uuid {
        match *self {
            Grant::Org(o) => o.0,
            Grant::User(u) | Grant::FollowersOf(u) | Grant::TeamOf(u) => u.0,
            Grant::SecurityGroup(id) | Grant::Location(id) => id,
        }
    }
}

impl Audience {
    /// The whole organization (what an omitted `permissions` means).
    pub fn public() -> Self {
        Audience {
            public: true,
            friends: false,
            team: false,
            only_me: false,
            users: vec![],
            groups: vec![],
            locations: vec![],
            tagged_users: vec![],
        }
    }

    /// Checks the lists' lengths and drops repeated ids (first occurrence kept), so an event
    /// carries each id once. `field` is the request field of the audience (`permissions`).
    pub fn checked(mut self, field: &str) -> Result<Self, DomainError> {
        fn dedup<T: Ord + Copy>(field: String, v: Vec<T>) -> Result<Vec<T>, DomainError> {
            if v.len() > MAX_AUDIENCE_IDS {
                return Err(DomainError::invalid(field, format!("must have at most {MAX_AUDIENCE_IDS} entries")));
            }
            let mut seen = BTreeSet::new();
            Ok(v.into_iter().filter(|x| seen.insert(*x)).collect())
        }
        self.users = dedup(format!("{field}.users"), self.users)?;
        self.groups = dedup(format!("{field}.groups"), self.groups)?;
        self.locations = dedup(format!("{field}.locations"), self.locations)?;
        self.tagged_users = dedup(format!("{field}.tagged_users"), self.tagged_users)?;
        Ok(self)
    }

    /// The principals that may see an item of `author` in `org` under this audience, sorted and
    /// without repeats. Always holds the author.
    pub fn grants(&self, org: OrgId, author: UserId) -> Vec<Grant> {
        let mut g = BTreeSet::from([Grant::User(author)]);
        if !self.only_me {
            if self.public {
                g.insert(Grant::Org(org));
            }
            if self.friends {
                g.insert(Grant::FollowersOf(author));
            }
            if self.team {
                g.insert(Grant::TeamOf(author));
            }
            g.extend(self.users.iter().chain(&self.tagged_users).map(|u| Grant::User(*u)));
            g.extend(self.groups.iter().map(|id| Grant::SecurityGroup(*id)));
            g.extend(self.locations.iter().map(|id| Grant::Location(*id)));
        }
        g.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn audiences() -> impl Strategy<Value = Audience> {
        let ids = || proptest::collection::vec(1u128..6, 0..4).prop_map(|v| v.into_iter().map(id).collect::<Vec<_>>());
        (any::<[bool; 4]>(), ids(), ids(), ids(), ids()).prop_map(|(f, users, groups, locations, tagged)| Audience {
            public: f[0],
            friends: f[1],
            team: f[2],
            only_me: f[3],
            users: users.into_iter().map(UserId).collect(),
            groups,
            locations,
            tagged_users: tagged.into_iter().map(UserId).collect(),
        })
    }

    proptest! {
        #[test]
        fn the_author_always_sees_and_only_me_means_only_the_author(a in audiences()) {
            let (org, author) = (OrgId(id(100)), UserId(id(200)));
            let grants = a.grants(org, author);
            prop_assert!(grants.contains(&Grant::User(author)));
            if a.only_me {
                prop_assert_eq!(grants, vec![Grant::User(author)]);
            } else {
                prop_assert_eq!(grants.contains(&Grant::Org(org)), a.public);
                prop_assert_eq!(grants.contains(&Grant::FollowersOf(author)), a.friends);
                prop_assert_eq!(grants.contains(&Grant::TeamOf(author)), a.team);
                for u in a.users.iter().chain(&a.tagged_users) {
                    prop_assert!(grants.contains(&Grant::User(*u)));
                }
                // Nothing beyond what the audience names.
                let named = 1 + usize::from(a.public) + usize::from(a.friends) + usize::from(a.team);
                let lists: BTreeSet<_> = a.users.iter().chain(&a.tagged_users).filter(|u| **u != author).collect();
                let sets: BTreeSet<_> = a.groups.iter().collect();
                let locs: BTreeSet<_> = a.locations.iter().collect();
                prop_assert_eq!(grants.len(), named + lists.len() + sets.len() + locs.len());
            }
        }

        #[test]
        fn checked_keeps_the_first_of_each_id_in_order(a in audiences()) {
            let c = a.clone().checked("permissions").unwrap();
            let mut seen = BTreeSet::new();
            let expected: Vec<_> = a.users.iter().copied().filter(|u| seen.insert(*u)).collect();
            prop_assert_eq!(&c.users, &expected);
            prop_assert_eq!(c.grants(OrgId(id(1)), UserId(id(2))), a.grants(OrgId(id(1)), UserId(id(2))));
        }
    }

    #[test]
    fn lists_are_bounded_by_name() {
        let a = Audience { users: (0..=MAX_AUDIENCE_IDS as u128).map(|n| UserId(id(n))).collect(), ..Audience::public() };
        assert_eq!(a.checked("permissions").unwrap_err(), DomainError::invalid("permissions.users", "must have at most 1000 entries"));
    }

    #[test]
    fn an_audience_naming_nobody_is_the_author_alone() {
        let nobody = Audience { public: false, ..Audience::public() };
        assert_eq!(nobody.grants(OrgId(id(1)), UserId(id(2))), vec![Grant::User(UserId(id(2)))]);
    }
}
