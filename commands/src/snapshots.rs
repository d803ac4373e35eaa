//! Folded states of long streams, kept in process so that loading one reads only the events
//! appended since (issue #16).
//!
//! A department's or location's stream mirrors every member who ever joined it (DESIGN §7), and
//! every user created into it loads it to decide: without this, creating a user in a department
//! of 50,000 read and folded 50,000 events, and a bulk create into twenty such departments read a
//! million. With it, a load reads the events after the snapshot's version.
//!
//! Why a snapshot can be trusted: events are never changed or removed, a stream's versions are
//! dense from 1 (each append expects the version before it, and a rolled back append leaves no
//! version behind), and folding is pure. So the state at version `v` plus the events after `v`
//! is the state now, whoever appended them. A snapshot also remembers the `gid` of its last event
//! and the load checks that this event is still the one at that version; if not (the database
//! was replaced under a running process, as a restore or a test harness reset would), the
//! snapshot is dropped and the stream is read whole.
//!
//! Bounds: only streams of at least `MIN_EVENTS` events are kept (a short stream costs one index
//! range read anyway), and the versions of all kept snapshots add up to at most `EVENT_BUDGET`.
//! A state grows by at most one member per event, so the budget bounds the memory too (a member
//! set of two million ids is about 64 MiB). Past the budget the least recently used go first.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

/// Streams shorter than this are not kept.
pub const MIN_EVENTS: i32 = 64;
/// The most events the kept snapshots may have folded, all together.
pub const EVENT_BUDGET: i64 = 2_000_000;

/// A stream's state folded through `version`, whose last event is `gid`.
#[derive(Clone)]
pub struct Snapshot {
    pub version: i32,
    pub gid: i64,
    state: Arc<dyn Any + Send + Sync>,
}

impl Snapshot {
    pub fn new<S: Any + Send + Sync>(version: i32, gid: i64, state: S) -> Self {
        Snapshot { version, gid, state: Arc::new(state) }
    }

    /// The state, when it is of type `S`.
    pub fn state<S: Any + Clone>(&self) -> Option<S> {
        self.state.downcast_ref::<S>().cloned()
    }
}

struct Entry {
    snapshot: Snapshot,
    last_used: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<(&'static str, Uuid), Entry>,
    /// The sum of the kept snapshots' versions.
    events: i64,
    clock: u64,
}

/// The snapshots of one store, keyed by stream type and id.
#[derive(Clone, Default)]
pub struct Snapshots {
    inner: Arc<Mutex<Inner>>,
}

impl Snapshots {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the map consistent (every update is one insert
        // or remove), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn get(&self, stream_type: &'static str, id: Uuid) -> Option<Snapshot> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let entry = inner.entries.get_mut(&(stream_type, id))?;
        entry.last_used = now;
        Some(entry.snapshot.clone())
    }

    /// Keeps `snapshot` for the stream unless it is too short or older than the one kept.
    pub fn put(&self, stream_type: &'static str, id: Uuid, snapshot: Snapshot) {
        if snapshot.version < MIN_EVENTS || i64::from(snapshot.version) > EVENT_BUDGET {
            return;
        }
        let mut inner = self.lock();
        let key = (stream_type, id);
        if let Some(old) = inner.entries.get(&key) {
            // A slower load of the same stream finishing after a newer one.
            if old.snapshot.version >= snapshot.version {
                return;
            }
            inner.events -= i64::from(old.snapshot.version);
        }
        inner.events += i64::from(snapshot.version);
        inner.clock += 1;
        let last_used = inner.clock;
        inner.entries.insert(key, Entry { snapshot, last_used });
        while inner.events > EVENT_BUDGET {
            let Some(oldest) = inner.entries.iter().filter(|(k, _)| **k != key).min_by_key(|(_, e)| e.last_used).map(|(k, _)| *k) else {
                break;
            };
            if let Some(gone) = inner.entries.remove(&oldest) {
                inner.events -= i64::from(gone.snapshot.version);
            }
        }
    }

    pub fn forget(&self, stream_type: &'static str, id: Uuid) {
        let mut inner = self.lock();
        if let Some(gone) = inner.entries.remove(&(stream_type, id)) {
            inner.events -= i64::from(gone.snapshot.version);
        }
    }

    /// How many events the kept snapshots have folded, all together.
    pub fn events(&self) -> i64 {
        self.lock().events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn short_streams_are_not_kept_and_a_newer_snapshot_replaces_an_older_one() {
        let s = Snapshots::default();
        s.put("department", id(1), Snapshot::new(MIN_EVENTS - 1, 7, 1u32));
        assert!(s.get("department", id(1)).is_none());
        s.put("department", id(1), Snapshot::new(MIN_EVENTS + 5, 9, 2u32));
        s.put("department", id(1), Snapshot::new(MIN_EVENTS, 8, 3u32));
        let kept = s.get("department", id(1)).unwrap();
        assert_eq!((kept.version, kept.gid, kept.state::<u32>()), (MIN_EVENTS + 5, 9, Some(2)));
        assert_eq!(kept.state::<u64>(), None, "another type's state is not handed out");
        assert!(s.get("location", id(1)).is_none(), "stream types are apart");
        assert_eq!(s.events(), i64::from(MIN_EVENTS + 5));
        s.forget("department", id(1));
        assert_eq!(s.events(), 0);
    }

    #[test]
    fn past_the_budget_the_least_recently_used_go_first() {
        let s = Snapshots::default();
        let big = (EVENT_BUDGET / 3) as i32;
        for n in 1..=3 {
            s.put("department", id(n), Snapshot::new(big, n as i64, n));
        }
        // 1 is used, so 2 is now the least recently used.
        s.get("department", id(1));
        s.put("department", id(4), Snapshot::new(big, 4, 4u128));
        assert!(s.get("department", id(2)).is_none());
        for n in [1, 3, 4] {
            assert!(s.get("department", id(n)).is_some(), "{n} is kept");
        }
        assert!(s.events() <= EVENT_BUDGET);
    }
}
