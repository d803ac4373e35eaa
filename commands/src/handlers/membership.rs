//! Department and location membership, shared by the department, location and user handlers.
//!
//! A user's `department` / `location` (user stream) is the membership; the department and
//! location streams mirror it in the same append, so every change goes through here whichever
//! endpoint asked for it. Security groups work the same way (the user's `security_group`). A head who leaves a department stops being its head, and the last head
//! cannot leave (the department's decide refuses, naming the request's field).

use std::collections::{BTreeMap, BTreeSet};

use domain::department::{DepartmentAggregate, DepartmentCommand};
use domain::location::{LocationAggregate, LocationCommand};
use domain::patch::Patch;
use domain::security_group::{SecurityGroupAggregate, SecurityGroupCommand, SecurityGroupKind};
use domain::user::{Profile, User, UserAggregate, UserCommand, UserEvent, UserPatch};
use domain::{DomainError, DomainEvent, OrgId, UserId};
use esrs::Aggregate;
use uuid::Uuid;

use super::department::Departments;
use super::location::Locations;
use super::org_unit;
use crate::store::PendingStream;
use crate::{CommandError, Store, StoreError};

/// One loaded stream: its state (with this command's events folded in), the version it was
/// loaded at, and the events this command adds.
pub(crate) struct Loaded<A: Aggregate> {
    state: A::State,
    version: i32,
    events: Vec<A::Event>,
}

/// Streams of one aggregate type that a command touches: loaded once, decided in order.
pub struct Streams<A: Aggregate> {
    loaded: BTreeMap<Uuid, Loaded<A>>,
    order: Vec<Uuid>,
}

impl<A> Streams<A>
where
    A: Aggregate<Error = DomainError>,
    A::State: Default + Clone + Send + Sync + 'static,
    A::Event: DomainEvent,
{
    pub(crate) fn new() -> Self {
        Streams { loaded: BTreeMap::new(), order: Vec::new() }
    }

    /// A stream that does not exist yet (a create).
    pub(crate) fn fresh(&mut self, id: Uuid) {
        self.loaded.insert(id, Loaded { state: A::State::default(), version: 0, events: Vec::new() });
        self.order.push(id);
    }

    pub(crate) async fn state(&mut self, store: &Store, id: Uuid) -> Result<&A::State, StoreError> {
        if let std::collections::btree_map::Entry::Vacant(slot) = self.loaded.entry(id) {
            let (state, version) = store.load::<A>(id).await?;
            slot.insert(Loaded { state, version, events: Vec::new() });
            self.order.push(id);
        }
        Ok(&self.loaded[&id].state)
    }

    /// Decides `command` on the (already loaded) stream and folds its events in.
    pub(crate) fn decide(&mut self, id: Uuid, command: A::Command) -> Result<(), DomainError> {
        let Some(s) = self.loaded.get_mut(&id) else {
            return Err(DomainError::NotFound(A::NAME));
        };
        for e in A::handle_command(&s.state, command)? {
            s.state = A::apply_event(std::mem::take(&mut s.state), e.clone());
            s.events.push(e);
        }
        Ok(())
    }

    pub(crate) fn pending(&self, org: OrgId) -> Result<Vec<PendingStream>, StoreError> {
        self.order
            .iter()
            .filter_map(|id| {
                let s = &self.loaded[id];
                (!s.events.is_empty()).then(|| PendingStream::new(*id, Some(org.0), s.version, &s.events))
            })
            .collect()
    }
}

/// Everything one membership command touches.
pub struct Batch<'a> {
    pub store: &'a Store,
    pub org: OrgId,
    pub actor: Option<UserId>,
    pub users: Streams<UserAggregate>,
    pub departments: Streams<DepartmentAggregate>,
    pub locations: Streams<LocationAggregate>,
    pub security_groups: Streams<SecurityGroupAggregate>,
}

impl<'a> Batch<'a> {
    pub(crate) fn new(store: &'a Store, org: OrgId, actor: Option<UserId>) -> Self {
        Batch {
            store,
            org,
            actor,
            users: Streams::new(),
            departments: Streams::new(),
            locations: Streams::new(),
            security_groups: Streams::new(),
        }
    }

    fn actor(&self) -> Result<UserId, DomainError> {
        self.actor.ok_or_else(|| DomainError::Forbidden("sign in first".into()))
    }

    /// A live user of the org, named in the request by `field`.
    pub(crate) async fn user(&mut self, id: UserId, field: &str) -> Result<User, CommandError> {
        match self.users.state(self.store, id.0).await? {
            Some(u) if !u.deleted && u.org_id == Some(self.org) => Ok(u.clone()),
            _ => Err(DomainError::invalid(field, format!("no user {id} in this organization")).into()),
        }
    }

    /// Whether `id` is a live department of the org.
    pub(crate) async fn department_live(&mut self, id: Uuid) -> Result<bool, CommandError> {
        org_unit::live::<Departments>(self, id).await
    }

    pub(crate) async fn location_live(&mut self, id: Uuid) -> Result<bool, CommandError> {
        org_unit::live::<Locations>(self, id).await
    }

    /// Whether `id` is a security group of the org.
    pub(crate) async fn security_group_live(&mut self, id: Uuid) -> Result<bool, CommandError> {
        let org = self.org;
        Ok(matches!(self.security_group_facts(id).await?, Some((o, _)) if o == org))
    }

    /// A security group's organization and kind. Both are fixed when it is created, and no event
    /// deletes a group (`security_group_facts_never_change` holds that), so the store remembers
    /// them once seen: joining `Users`, which every new member does, reads no stream.
    async fn security_group_facts(&mut self, id: Uuid) -> Result<Option<(OrgId, SecurityGroupKind)>, CommandError> {
        if let Some(facts) = self.store.security_group_facts(id) {
            return Ok(Some(facts));
        }
        let facts = self.security_groups.state(self.store, id).await?.as_ref().map(|g| (g.org_id, g.kind));
        if let Some(facts) = facts {
            self.store.remember_security_group(id, facts);
        }
        Ok(facts)
    }

    /// The security group stream's side of a user changing group (leaving the previous one);
    /// returns the user's patch field. Administrators keeps its last member.
    pub(crate) async fn security_group_change(
        &mut self,
        user: &User,
        group: Patch<Uuid>,
        field: &str,
    ) -> Result<Patch<Uuid>, CommandError> {
        let target = match group {
            Patch::Keep => return Ok(Patch::Keep),
            Patch::Clear => None,
            Patch::Set(g) => Some(g),
        };
        let current = match user.security_group {
            Some(g) if self.security_group_live(g).await? => Some(g),
            _ => None,
        };
        if target == current {
            return Ok(Patch::Keep);
        }
        let actor = self.actor;
        if let Some(g) = target {
            if !self.security_group_live(g).await? {
                return Err(DomainError::invalid(field, format!("no security group {g} in this organization")).into());
            }
        }
        if let Some(old) = current {
            if self.mirrors_members(old).await? {
                self.security_groups.decide(old, SecurityGroupCommand::RemoveMember { actor, user_id: user.id, field: field.into() })?;
            }
        }
        if let Some(g) = target {
            if self.mirrors_members(g).await? {
                self.security_groups.decide(g, SecurityGroupCommand::AddMember { actor, user_id: user.id })?;
            }
        }
        Ok(target.map_or(Patch::Clear, Patch::Set))
    }

    /// Only `Administrators` keeps its members on its own stream: its last-member rule needs them
    /// in one decision. Every other group's members are just the users naming it, so joining
    /// `Users` (every new member does) never contends on one hot stream.
    async fn mirrors_members(&mut self, group: Uuid) -> Result<bool, CommandError> {
        let mirrors = matches!(self.security_group_facts(group).await?, Some((_, SecurityGroupKind::Administrators)));
        if mirrors {
            // Its members decide: the stream itself, at its version.
            self.security_groups.state(self.store, group).await?;
        }
        Ok(mirrors)
    }

    /// Moves a user of this batch into or out of a security group, on both streams.
    pub(crate) async fn set_security_group(&mut self, id: UserId, group: Patch<Uuid>, field: &str) -> Result<(), CommandError> {
        let user = self.user(id, field).await?;
        let security_group = self.security_group_change(&user, group, field).await?;
        self.update_user(id, UserPatch { security_group, ..UserPatch::default() })
    }

    /// The department stream's side of a user changing department and/or head status; the user
    /// side is the returned patch fields (`department`, `is_department_head`), to be put on the
    /// user stream by the caller. `field` names what the client sent, for errors (`head_field`
    /// for a demotion that would leave no head).
    pub(crate) async fn department_change(
        &mut self,
        user: &User,
        department: Patch<Uuid>,
        head: Option<bool>,
        field: &str,
        head_field: &str,
    ) -> Result<(Patch<Uuid>, Option<bool>), CommandError> {
        if department.is_keep() && head.is_none() {
            return Ok((Patch::Keep, None));
        }
        // A department that no longer exists counts as none.
        let current = match user.department {
            Some(d) if self.department_live(d).await? => Some(d),
            _ => None,
        };
        let current_head = current.is_some() && user.is_department_head;
        let target = match &department {
            Patch::Keep => current,
            Patch::Clear => None,
            Patch::Set(d) => Some(*d),
        };
        let moving = target != current;
        let new_head = match head {
            Some(h) => h,
            None if moving => false,
            None => current_head,
        };
        if new_head && target.is_none() {
            return Err(DomainError::invalid(head_field, "a user without a department cannot head one").into());
        }
        let actor = self.actor;
        if let Some(d) = target {
            if moving && !self.department_live(d).await? {
                return Err(DomainError::invalid(field, format!("no department {d} in this organization")).into());
            }
        }
        if moving {
            if let Some(old) = current {
                self.departments.decide(old, DepartmentCommand::RemoveMember { actor, user_id: user.id, field: field.into() })?;
            }
            if let Some(d) = target {
                self.departments.decide(d, DepartmentCommand::AddMember { actor, user_id: user.id, head: new_head })?;
            }
        } else if let Some(d) = target {
            if new_head && !current_head {
                self.departments.decide(d, DepartmentCommand::AddMember { actor, user_id: user.id, head: true })?;
            } else if !new_head && current_head {
                self.departments.decide(d, DepartmentCommand::RemoveHead { actor, user_id: user.id, field: head_field.into() })?;
            }
        }
        let department = if moving { target.map_or(Patch::Clear, Patch::Set) } else { Patch::Keep };
        let head = (new_head != user.is_department_head).then_some(new_head);
        Ok((department, head))
    }

    /// The location stream's side of a user changing location; returns the user's patch field.
    pub(crate) async fn location_change(&mut self, user: &User, location: Patch<Uuid>, field: &str) -> Result<Patch<Uuid>, CommandError> {
        let target = match location {
            Patch::Keep => return Ok(Patch::Keep),
            Patch::Clear => None,
            Patch::Set(l) => Some(l),
        };
        let current = match user.location {
            Some(l) if self.location_live(l).await? => Some(l),
            _ => None,
        };
        if target == current {
            return Ok(Patch::Keep);
        }
        let actor = self.actor;
        if let Some(l) = target {
            if !self.location_live(l).await? {
                return Err(DomainError::invalid(field, format!("no location {l} in this organization")).into());
            }
        }
        if let Some(old) = current {
            self.locations.decide(old, LocationCommand::RemoveMember { actor, user_id: user.id, field: field.into() })?;
        }
        if let Some(l) = target {
            self.locations.decide(l, LocationCommand::AddMember { actor, user_id: user.id })?;
        }
        Ok(target.map_or(Patch::Clear, Patch::Set))
    }

    /// Moves a user of this batch into or out of a department (and head status), on both streams.
    pub(crate) async fn set_department(
        &mut self,
        id: UserId,
        department: Patch<Uuid>,
        head: Option<bool>,
        field: &str,
    ) -> Result<(), CommandError> {
        let user = self.user(id, field).await?;
        let (department, is_department_head) = self.department_change(&user, department, head, field, field).await?;
        self.update_user(id, UserPatch { department, is_department_head, ..UserPatch::default() })
    }

    /// Moves a user of this batch into or out of a location, on both streams.
    pub(crate) async fn set_location(&mut self, id: UserId, location: Patch<Uuid>, field: &str) -> Result<(), CommandError> {
        let user = self.user(id, field).await?;
        let location = self.location_change(&user, location, field).await?;
        self.update_user(id, UserPatch { location, ..UserPatch::default() })
    }

    fn update_user(&mut self, id: UserId, patch: UserPatch) -> Result<(), CommandError> {
        if patch.is_empty() {
            return Ok(());
        }
        let actor = self.actor()?;
        self.users.decide(id.0, UserCommand::Update { actor, patch })?;
        Ok(())
    }

    /// A user being created joins the department (as head when asked) and location it names, on
    /// those streams, in the same append. `field` prefixes error fields (`data[3].` in a bulk).
    pub(crate) async fn join_units(&mut self, created: &[UserEvent], field: &str) -> Result<(), CommandError> {
        let Some(mut user) = created.iter().cloned().fold(None, UserAggregate::apply_event) else { return Ok(()) };
        let (department, head) = (user.department.take(), std::mem::take(&mut user.is_department_head));
        let location = user.location.take();
        let security_group = user.security_group.take();
        let (dept_field, head_field, loc_field) =
            (format!("{field}department"), format!("{field}isDepartmentHead"), format!("{field}location"));
        self.department_change(&user, department.map_or(Patch::Keep, Patch::Set), Some(head), &dept_field, &head_field).await?;
        self.location_change(&user, location.map_or(Patch::Keep, Patch::Set), &loc_field).await?;
        self.security_group_change(&user, security_group.map_or(Patch::Keep, Patch::Set), &format!("{field}securityGroup")).await?;
        Ok(())
    }

    /// A user being deleted leaves their department and location (the last head cannot go).
    pub(crate) async fn leave_units(&mut self, user: &User, field: &str) -> Result<(), CommandError> {
        self.department_change(user, Patch::Clear, Some(false), field, field).await?;
        self.location_change(user, Patch::Clear, field).await?;
        self.security_group_change(user, Patch::Clear, field).await?;
        Ok(())
    }

    /// The org's `Users` group, when it exists: where a new member without a `securityGroup` goes.
    pub(crate) async fn default_security_group(&mut self) -> Result<Option<Uuid>, CommandError> {
        let users = domain::security_group::builtin_id(self.org, domain::security_group::SecurityGroupKind::Users);
        Ok(self.security_group_live(users).await?.then_some(users))
    }

    /// Fills `reportsTo` (and more supervisors) for a user being created, per
    /// `domain::user::default_supervisors`. Location admins are the location's members who are in
    /// the org's `Administrators` group; a department's admins are its heads.
    pub(crate) async fn default_supervisors(&mut self, profile: &mut Profile) -> Result<(), CommandError> {
        // Only location admins need the Administrators group: a user joining no location costs
        // no read of it.
        let admins_id = domain::security_group::builtin_id(self.org, domain::security_group::SecurityGroupKind::Administrators);
        let admins: BTreeSet<UserId> = if profile.location.is_none() && profile.additional_locations.is_empty() {
            BTreeSet::new()
        } else {
            match self.security_groups.state(self.store, admins_id).await? {
                Some(g) => g.members.clone(),
                None => BTreeSet::new(),
            }
        };
        let at_location = location_members_admins(self, profile.location, &admins).await?;
        let heads: Vec<UserId> = match profile.department {
            Some(d) => match self.departments.state(self.store, d).await? {
                Some(dep) if !dep.deleted && dep.org_id == Some(self.org) => dep.heads.iter().copied().collect(),
                _ => Vec::new(),
            },
            None => Vec::new(),
        };
        let mut extra = Vec::new();
        for l in profile.additional_locations.clone() {
            extra.extend(location_members_admins(self, Some(l), &admins).await?);
        }
        domain::user::default_supervisors(profile, &at_location, &heads, &extra);
        Ok(())
    }

    /// Every stream with new events: departments, locations, security groups, then users.
    pub(crate) fn pending(&self) -> Result<Vec<PendingStream>, StoreError> {
        let mut all = self.departments.pending(self.org)?;
        all.extend(self.locations.pending(self.org)?);
        all.extend(self.security_groups.pending(self.org)?);
        all.extend(self.users.pending(self.org)?);
        Ok(all)
    }
}

/// The members of a live location of the batch's org who are also in `admins`, in id order.
async fn location_members_admins(
    b: &mut Batch<'_>,
    location: Option<Uuid>,
    admins: &BTreeSet<UserId>,
) -> Result<Vec<UserId>, CommandError> {
    let Some(l) = location else { return Ok(Vec::new()) };
    let org = b.org;
    Ok(match b.locations.state(b.store, l).await? {
        Some(loc) if !loc.deleted && loc.org_id == Some(org) => loc.members.intersection(admins).copied().collect(),
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    /// The store remembers a security group's organization and kind for good
    /// (`Batch::security_group_facts`): that holds only while no event can change either or
    /// delete the group. An event added here must be checked against that cache.
    #[test]
    fn security_group_facts_never_change() {
        assert_eq!(
            domain::event::event_types::<domain::security_group::SecurityGroupEvent>(),
            ["SecurityGroupCreated", "SecurityGroupMemberAdded", "SecurityGroupMemberRemoved"]
        );
    }
}
